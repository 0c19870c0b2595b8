"""Pieces every command shares: common options, argument types, prompts, default folders.

The consoles (:mod:`fourtop.cli._console`) and progress displays
(:mod:`fourtop.cli._progress`) live in their own modules and are importable from here too.
"""

from __future__ import annotations

import argparse
import glob
import sys
from collections.abc import Callable, Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any

from fourtop.cli._console import alert, console, out
from fourtop.cli._progress import PlainProgress, use_terminal_progress
from fourtop.env import CONFIG_ENV
from fourtop.errors import FourtopError, ParameterError
from fourtop.jobs.settings import RANDOM_SEED_MAX  # random seeds: 0 to 2**32 - 1
from fourtop.plotting import FORMATS, SUPPORTED, parse_formats

__all__ = [
    "JSON_LAYOUT",
    "MAX_SEEDS",
    "RANDOM_SEED_MAX",
    "Exit",
    "JobsFailed",
    "PlainProgress",
    "add_config",
    "add_json",
    "add_plot_format",
    "add_verbose",
    "add_year",
    "add_yes",
    "at_least",
    "confirm",
    "console",
    "default_folders",
    "nonempty",
    "out",
    "positive_int",
    "print_json",
    "random_seed",
    "seed_count",
    "use_terminal_progress",
]


class Exit(IntEnum):
    """The exit codes of every command (docs/cli.md)."""

    #: done: everything asked for was done
    OK = 0
    #: an error: nothing, or only part, was done; one line on stderr says why
    ERROR = 1
    #: a usage error: unknown option, a value of the wrong kind (argparse)
    USAGE = 2
    #: the command ran to its end, but some of its jobs (trainings, folds, files) failed;
    #: their results are missing and a resubmission or a re-run retries them
    JOBS_FAILED = 3
    #: interrupted (Ctrl-C)
    INTERRUPTED = 130
    #: stdout was closed early (``| head``): stopped without a message, as ``cat`` would
    BROKEN_PIPE = 141
    #: terminated (SIGTERM: a batch system's time limit, ``condor_rm``, ``scancel``)
    TERMINATED = 143


class JobsFailed(FourtopError):
    """The command ran to its end but some of its jobs (trainings, folds, files) failed: the
    message says how many and why; the command exits with ``Exit.JOBS_FAILED`` (3)."""


def add_json(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help=f"write JSON on stdout instead of tables: {what} (keys: docs/cli.md)",
    )


#: the version of the JSON documents' layout (``schema`` key); raised when a key changes meaning
#: or goes away (new keys do not raise it)
JSON_LAYOUT = 1


def print_json(kind: str, body: dict[str, Any]) -> None:
    """Write ``--json``'s document on stdout: ``schema`` (``fourtop-<kind>/<layout>``) and
    ``fourtop_version`` first, then ``body``; strict JSON (NaN and infinities as null; the
    schemas are ``fourtop/schemas/<kind>.schema.json``)."""
    from fourtop import __version__
    from fourtop.cli._console import write_stdout
    from fourtop.fileio import json_text

    doc = {"schema": f"fourtop-{kind}/{JSON_LAYOUT}", "fourtop_version": __version__, **body}
    write_stdout(json_text(doc))


def plot_formats(text: str) -> tuple[str, ...]:
    """argparse type of ``--plot-format``: a bad value is a usage error (exit 2)."""
    try:
        return parse_formats(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--plot-format ")) from None


def add_plot_format(parser: argparse.ArgumentParser, what: str = "the plots") -> None:
    """``--plot-format LIST`` (the formats ``what`` is written in), for every command that
    draws plots."""
    parser.add_argument(
        "--plot-format",
        type=plot_formats,
        default=FORMATS,
        metavar="LIST",
        help=f"file formats of {what}: one or a comma-separated list of "
        f"{', '.join(SUPPORTED)} (default {','.join(FORMATS)})",
    )


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


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value}: must be at least {minimum}")
        return value

    return parse


#: argparse type of counts that must be at least 1
positive_int = at_least(1)


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
        # shown even with --quiet: what was asked for may not be done
        alert(f"{question} [no terminal: answering '{answer}'; pass --yes to override]")
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


def backend_options(pairs: Sequence[str]) -> dict[str, str]:
    """``--option KEY=VALUE`` (repeated) as a dict.

    Raises:
        ParameterError: an item without ``=`` or with an empty key.
    """
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--option {pair!r}: expected KEY=VALUE")
        options[key.strip()] = value
    return options
