"""Pieces every command shares: common options, prompts, default folders, the console."""

from __future__ import annotations

import argparse
import glob
import os
import sys
from pathlib import Path

from rich.console import Console

#: Width when writing to a file or a pipe (rich's 80 columns would squeeze the tables).
_PIPE_WIDTH = 120

#: Messages for the user go to stderr, results to stdout.
console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else _PIPE_WIDTH)
out = Console(highlight=False, width=None if sys.stdout.isatty() else _PIPE_WIDTH)

CONFIG_ENV = "FOURTOP_CONFIG"


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
        metavar="TOML",
        default=None,
        help=f"dataset configuration file (default: ${CONFIG_ENV}, else the packaged default)",
    )


def add_year(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument(
        "-y",
        "--year",
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
    return sys.stderr.isatty() and not os.environ.get("CI")
