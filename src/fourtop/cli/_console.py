"""The command line's consoles: messages for the user on stderr, results on stdout.

:func:`configure` applies the options every command has (``-q/--quiet``, ``--no-color``)
before a command runs:

- ``--quiet`` silences :data:`console` (notes, steps, progress); :func:`alert` (warnings,
  failures) and the error line still reach stderr, and results still go to stdout.
- ``--no-color`` (or a non-empty ``NO_COLOR`` environment variable, https://no-color.org)
  leaves colour codes out; pipes and files never get any.
- On a terminal the tables take its width; in a pipe or file ``COLUMNS`` if set, else
  :data:`PIPE_WIDTH`, so a table is never squeezed for lack of a terminal.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys

from rich.console import Console

__all__ = [
    "PIPE_WIDTH",
    "ReaderGone",
    "StdoutError",
    "alert",
    "configure",
    "console",
    "drop_stream",
    "out",
    "quiet",
    "say",
    "stdout_problem",
    "usable_streams",
    "write_stdout",
]

#: Width when writing to a file or a pipe (rich's 80 columns would squeeze the tables).
PIPE_WIDTH = 120


def _width(stream: object) -> int | None:
    """None (rich asks the terminal) on a terminal; else ``COLUMNS`` or :data:`PIPE_WIDTH`."""
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) >= 20 else PIPE_WIDTH


class ReaderGone(Exception):
    """The reader of stdout or stderr went away (``| head``): the command stops quietly."""


class StdoutError(Exception):
    """Results cannot be written to stdout (a full disk, a closed or broken stream); the
    message says why. The command stops with one error line (exit 1)."""


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Stop writing (further output goes to the null device) and stop the command; rich's
        own reaction is ``SystemExit(1)``, an error code with no message."""
        self.quiet = True
        drop_stream(self.file)
        raise ReaderGone()

    def _check_buffer(self) -> None:
        try:
            super()._check_buffer()
        except (ReaderGone, BrokenPipeError):
            raise
        except OSError as exc:
            if self.stderr:  # a note that cannot be shown must not stop the work
                self.quiet = True
                drop_stream(sys.stderr)
                return
            raise StdoutError(stdout_problem(exc)) from None


def stdout_problem(exc: OSError) -> str:
    """The one-line message for results that cannot be written to stdout."""
    from fourtop.fileio import describe_os_error

    return f"cannot write the results to stdout: {describe_os_error(exc)}"


def write_stdout(text: str) -> None:
    """Write ``text`` to stdout and flush it. A reader that left raises BrokenPipeError (the
    command ends quietly); any other failure (a full disk) raises :class:`StdoutError`."""
    try:
        if text:
            sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise StdoutError(stdout_problem(exc)) from None


def usable_streams() -> None:
    """Make stdout and stderr fit for a command, before it runs.

    - A closed stream (``>&-``) becomes the null device: what would go there is dropped, as
      asked, and the command still runs.
    - An unbuffered stdout (``PYTHONUNBUFFERED``, ``python -u``) gets a buffer: unbuffered, a
      write the device takes only part of (a disk that fills up) would be cut short silently.
    - An encoding that lacks a character (``±`` under ``LANG=C`` or ``PYTHONIOENCODING=ascii``)
      gets a replacement, not a crash after the work is done.
    """
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115 (open for the run)
    stream = sys.stdout
    raw = getattr(stream, "buffer", None)
    # only the process's own stdout: a caller's replacement (a test's capture) is left alone
    if stream is sys.__stdout__ and isinstance(raw, io.RawIOBase):
        sys.stdout = io.TextIOWrapper(
            io.BufferedWriter(raw),
            encoding=stream.encoding,
            errors=stream.errors,
            line_buffering=stream.isatty(),
        )
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a closed or odd stream
                reconfigure(errors="replace")


def drop_stream(stream: object) -> None:
    """Point a stream that cannot be written (a full disk) at the null device, so that what is
    still buffered is not written again, and failed again, when Python exits."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # type: ignore[attr-defined]


def _console(*, stderr: bool) -> Console:
    return _Console(
        stderr=stderr, highlight=False, width=_width(sys.stderr if stderr else sys.stdout)
    )


#: Messages for the user (stderr); silenced by ``--quiet``.
console = _console(stderr=True)
#: Results (stdout): tables, JSON, result lines.
out = _console(stderr=False)
#: Warnings and failures (stderr); never silenced.
_alerts = _console(stderr=True)


def configure(*, quiet: bool = False, color: bool = True) -> None:
    """Apply ``--quiet`` and ``--no-color`` to the consoles (``NO_COLOR`` rich reads itself)."""
    console.quiet = quiet
    for c in (console, out, _alerts):
        c.no_color = not color or os.environ.get("NO_COLOR", "") != ""


def quiet() -> bool:
    """Whether ``--quiet`` is on (no notes, no progress)."""
    return console.quiet


def say(message: str) -> None:
    """A message for the user on stderr: plain text (paths may hold brackets), never wrapped.
    ``--quiet`` silences it."""
    console.print(message, markup=False, soft_wrap=True)


def alert(message: str) -> None:
    """A warning or a failure on stderr, shown even with ``--quiet``."""
    _alerts.print(message, markup=False, soft_wrap=True)
