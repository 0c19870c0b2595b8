"""The progress display of jobs run by a backend that waits for them (the local pool)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fourtop.cli._common import PlainProgress, console, use_terminal_progress

if TYPE_CHECKING:
    from fourtop.backends.base import ProgressCallback


@contextmanager
def training_progress(total: int) -> Iterator[ProgressCallback]:
    """A live bar on a terminal; plain lines at a steady pace in logs, CI and pipes.

    Yields the callback a backend calls with the names done and failed as units finish.
    """
    if not use_terminal_progress():
        plain = PlainProgress(total, "training")

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
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[done]} ok, {task.fields[failed]} failed"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("jobs", total=total, done=0, failed=0, rate="")

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
                rate=f"{finished / elapsed:.2f} jobs/s",
            )

        yield progress
