"""Pieces every command shares: common options, prompts, default folders, the console."""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from pathlib import Path

from rich.console import Console

from fourtop.env import CI_ENV, CONFIG_ENV

#: Width when writing to a file or a pipe (rich's 80 columns would squeeze the tables).
_PIPE_WIDTH = 120

#: Messages for the user go to stderr, results to stdout.
console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else _PIPE_WIDTH)
out = Console(highlight=False, width=None if sys.stdout.isatty() else _PIPE_WIDTH)


def add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="verbose mode: show the library's output"
    )


def add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes", action="store_true", help="answer yes to every prompt (for unattended runs)"
    )


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=nonempty,
        metavar="TOML",
        default=None,
        help=f"dataset configuration file (default: ${CONFIG_ENV}, else the packaged default)",
    )


#: random seeds are 32-bit unsigned integers everywhere (numpy, torch and Optuna all take them)
RANDOM_SEED_MAX = 2**32 - 1


def random_seed(text: str) -> int:
    """argparse type of every ``--random-seed``: a whole number in [0, 2**32 - 1]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= RANDOM_SEED_MAX:
        raise argparse.ArgumentTypeError(f"{value} is outside 0 to {RANDOM_SEED_MAX}")
    return value


def nonempty(text: str) -> str:
    """argparse type of file, folder and key arguments: an empty string is refused (it would
    otherwise mean the working directory, or silently the default)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the value is empty (a file, folder or key name)")
    return text


def positive_int(text: str) -> int:
    """argparse type of counts that must be at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be at least 1")
    return value


#: the most seeds one ``-n`` may ask for: 100,000 seeds over 76 variables are ~4 million jobs
MAX_SEEDS = 100_000


def seed_count(text: str) -> int:
    """argparse type of ``-n`` (seeds to draw): a whole number from 1 to :data:`MAX_SEEDS`."""
    value = positive_int(text)
    if value > MAX_SEEDS:
        raise argparse.ArgumentTypeError(
            f"{value}: at most {MAX_SEEDS} seeds per submission (that is millions of jobs); "
            "add more with further submissions into the folder"
        )
    return value


def add_year(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument(
        "-y",
        "--year",
        type=nonempty,
        default="2017",
        help="dataset key in the configuration, e.g. 2017 or 2018 (default 2017)",
    )


def confirm(question: str, *, yes: bool, default: bool = False) -> bool:
    """Ask a yes/no question on the terminal.

    With ``yes`` the answer is yes. Without a terminal on stdin the question is
    not asked: ``default`` (the safe answer) is taken and said, so batch runs
    never hang.
    """
    if yes:
        return True
    if not sys.stdin or not sys.stdin.isatty():
        answer = "yes" if default else "no"
        console.print(
            f"{question} [no terminal: answering '{answer}'; pass --yes to override]",
            markup=False,  # the brackets are text, not rich markup
            soft_wrap=True,
        )
        return default
    suffix = " [Y/n] " if default else " [y/N] "
    try:
        reply = input(question + suffix).strip().lower()
    except EOFError:
        return default
    if not reply:
        return default
    return reply in ("y", "yes")


def default_folders(include_specs: bool = True) -> list[Path]:
    """``condor_log*`` entries of the working directory: folders, and ``.jtd`` files."""
    found = []
    for name in sorted(glob.glob("condor_log*")):
        path = Path(name)
        if path.is_dir() or (include_specs and path.suffix == ".jtd" and path.is_file()):
            found.append(path)
    return found


def use_terminal_progress() -> bool:
    """Progress bars only where a person is watching (stderr is a terminal, not CI)."""
    return sys.stderr.isatty() and not os.environ.get(CI_ENV)


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
    ) -> None:
        self.total, self.label, self.unit = total, label, unit
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
            f"({100.0 * finished / max(self.total, 1):.0f}%), {self.done} done, "
            f"{self.failed} failed, {rate:.2f} {self.unit}/s, {_duration(elapsed)} elapsed"
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
