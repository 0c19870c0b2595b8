"""Progress on the command line: spinners where a person watches, plain lines elsewhere."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fourtop.cli._console import console, quiet
from fourtop.env import CI_ENV

if TYPE_CHECKING:
    from fourtop.backends.base import ProgressCallback

__all__ = [
    "PlainProgress",
    "spinner",
    "step",
    "training_progress",
    "use_terminal_progress",
]


def use_terminal_progress() -> bool:
    """Progress bars only where a person is watching (stderr is a terminal, not CI, no
    ``--quiet``)."""
    return sys.stderr.isatty() and not os.environ.get(CI_ENV) and not quiet()


def spinner(text: str) -> contextlib.AbstractContextManager[object]:
    """A spinner showing ``text`` where a person watches; nothing in logs and CI."""
    return console.status(text) if use_terminal_progress() else contextlib.nullcontext()


def step(text: str) -> contextlib.AbstractContextManager[object]:
    """A spinner where a person watches; in logs and CI one plain line when the step starts."""
    if use_terminal_progress():
        return console.status(text)
    console.print(f"{text} ...", markup=False, highlight=False, soft_wrap=True)
    return contextlib.nullcontext()


class PlainProgress:
    """Progress as plain lines for logs, CI and pipes (where a bar would print nothing).

    A line goes out at the first update, then whenever ``every`` seconds have passed or
    another ``step`` of the total is done, and at the end: done, failed, rate, time left.
    """

    def __init__(
        self,
        total: int,
        label: str = "training",
        *,
        unit: str = "jobs",
        every: float = 30.0,
        step: float = 0.05,
        clock: object = time.monotonic,
        counts: bool = True,
    ) -> None:
        self.total, self.label, self.unit = total, label, unit
        self.counts = counts  # False: units that cannot fail (events): no done/failed part
        self.every, self.step = every, step
        self._clock = clock
        self.start = clock()  # type: ignore[operator]
        self.done = self.failed = 0
        self._last_time: float | None = None
        self._last_fraction = 0.0

    def update(self, done: int = 0, failed: int = 0) -> None:
        """Count ``done`` and ``failed`` more; print a line when one is due."""
        self.done += done
        self.failed += failed
        now = self._clock()  # type: ignore[operator]
        finished = self.done + self.failed
        fraction = finished / self.total if self.total else 1.0
        due = (
            self._last_time is None
            or now - self._last_time >= self.every
            or fraction - self._last_fraction >= self.step
            or finished >= self.total
        )
        if due:
            self._last_time, self._last_fraction = now, fraction
            console.print(self.line(now), markup=False, highlight=False, soft_wrap=True)

    def line(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        finished = self.done + self.failed
        rate = finished / elapsed
        text = (
            f"{self.label}: {finished}/{self.total} {self.unit} "
            f"({100.0 * finished / max(self.total, 1):.0f}%), "
            + (f"{self.done} done, {self.failed} failed, " if self.counts else "")
            + f"{rate:.2f} {self.unit}/s, {_duration(elapsed)} elapsed"
        )
        left = self.total - finished
        if left > 0 and rate > 0:
            text += f", about {_duration(left / rate)} left"
        return text


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@contextmanager
def training_progress(
    total: int, label: str = "training", unit: str = "jobs", *, counts: bool = True
) -> Iterator[ProgressCallback]:
    """A live bar on a terminal; plain lines at a steady pace in logs, CI and pipes.

    Yields the callback a backend calls with the names done and failed as units finish.
    ``label`` and ``unit`` name what is counted (``scoring``, ``files``); ``counts=False``
    leaves out the done and failed counts (steps that cannot fail one by one).
    """
    if not use_terminal_progress():
        plain = PlainProgress(total, label, unit=unit, counts=counts)

        def plain_progress(done: Sequence[str], failed: Sequence[str]) -> None:
            plain.update(len(done), len(failed))

        yield plain_progress
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    counts = {"done": 0, "failed": 0}
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[done]} ok, {task.fields[failed]} failed" if counts else ""),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(unit, total=total, done=0, failed=0, rate="")

        def progress(done: Sequence[str], failed: Sequence[str]) -> None:
            counts["done"] += len(done)
            counts["failed"] += len(failed)
            elapsed = bar.tasks[0].elapsed or 1e-9
            finished = counts["done"] + counts["failed"]
            bar.update(
                task,
                advance=len(done) + len(failed),
                done=counts["done"],
                failed=counts["failed"],
                rate=f"{finished / elapsed:.2f} {unit}/s",
            )

        yield progress
