"""The command line's two rich consoles: messages for the user on stderr, results on stdout."""

from __future__ import annotations

import sys

from rich.console import Console

__all__ = ["console", "out", "say"]

#: Width when writing to a file or a pipe (rich's 80 columns would squeeze the tables).
_PIPE_WIDTH = 120

#: Messages for the user go to stderr, results to stdout.
console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else _PIPE_WIDTH)
out = Console(highlight=False, width=None if sys.stdout.isatty() else _PIPE_WIDTH)


def say(message: str) -> None:
    """A message for the user on stderr: plain text (paths may hold brackets), never wrapped."""
    console.print(message, markup=False, soft_wrap=True)
