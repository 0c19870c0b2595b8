# PYTHON_ARGCOMPLETE_OK  (argcomplete: this console script completes its arguments)
"""The ``fourtop`` command line: one module per command.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Modules import heavy libraries (torch, uproot, matplotlib)
inside ``run`` so that ``fourtop --help`` stays instant.

Every command also takes ``-q/--quiet`` and ``--no-color`` (:mod:`fourtop.cli._console`), and
exits with one of the codes of :class:`Exit` (docs/cli.md lists them).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from fourtop import __version__
from fourtop.cli._common import Exit, JobsFailed
from fourtop.cli._complete import add_completers, autocomplete
from fourtop.cli._console import (
    ReaderGone,
    StdoutError,
    configure,
    drop_stream,
    usable_streams,
    write_stdout,
)
from fourtop.errors import FourtopError

#: command name -> module under fourtop.cli
COMMANDS: dict[str, str] = {
    "folders": "folders",
    "submit": "submit",
    "calculate": "calculate",
    "hyperopt": "hyperopt",
    "generate": "generate",
    "run-job": "run_job",
    "demo": "demo",
    "apply": "apply",
    "apply-file": "apply_file",
    "final": "final",
    "final-fold": "final_fold",
    "explain": "explain",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fourtop",
        description="Variable importance and hyperparameter optimization for TTTT classifiers.",
    )
    parser.add_argument("--version", action="version", version=f"fourtop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no notes and no progress on stderr (warnings, failures and errors still show; "
        "results still go to stdout)",
    )
    common.add_argument(
        "--no-color",
        action="store_true",
        help="no colour in the output (also when the NO_COLOR environment variable is set)",
    )
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"fourtop.cli.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP, parents=[common])
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _parser=p)
        add_completers(p)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch system's time limit, ``condor_rm``, ``scancel``): handled as Ctrl-C,
    so temporary files are removed and jobs in flight are marked aborted."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _handle_sigterm() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fourtop`` console script; returns the exit code."""
    usable_streams()
    parser = build_parser()
    autocomplete(parser)  # answers a shell's completion request and exits; else nothing
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # said by the command's own parser: its usage, "fourtop CMD: error: ..."
            args._parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit:  # --help, --version (and usage errors): their text must arrive too
        _finish()
        raise
    _handle_sigterm()
    configure(quiet=args.quiet, color=not args.no_color)
    verbose = getattr(args, "verbose", False)
    handler = logging.StreamHandler()
    # the library's warnings read as the commands' own ("warning: ..."); -v names the module
    handler.setFormatter(
        logging.Formatter("%(levelname)s %(name)s: %(message)s") if verbose else _PlainFormatter()
    )
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])
    try:
        code = int(args._run(args) or 0)
        write_stdout("")  # a closed pipe or a full disk shows here, not at exit
        return code
    except StdoutError as err:
        drop_stream(sys.stdout)  # what is still buffered must not fail again at exit
        _error(args.command, f"error: {err}")
        return Exit.ERROR
    except JobsFailed as err:
        _error(args.command, f"error: {err}")
        return Exit.JOBS_FAILED
    except FourtopError as err:
        _error(args.command, f"error: {err}")
        return Exit.ERROR
    except Terminated as exc:
        _error(args.command, f"terminated (SIGTERM){_hint(exc)}")
        return Exit.TERMINATED
    except KeyboardInterrupt as exc:
        _error(args.command, f"interrupted{_hint(exc)}")
        return Exit.INTERRUPTED
    except ReaderGone:  # rich found the reader gone and sends the rest to the null device
        return Exit.BROKEN_PIPE
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # another pipe (a subprocess's): a bug to see, not a reader that left
        drop_stream(sys.stdout)  # the reader left (| head): no second error at exit
        return Exit.BROKEN_PIPE


class _PlainFormatter(logging.Formatter):
    """``warning: message`` (``error: ...``), as the commands print their own."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {super().format(record)}"


def _error(command: str, text: str) -> None:
    """The last line, on stderr (when stderr itself cannot be written, the exit code says it)."""
    try:
        print(f"fourtop {command}: {text}" if command else f"fourtop: {text}", file=sys.stderr,
              flush=True)  # fmt: skip
    except OSError:
        drop_stream(sys.stderr)


def _finish() -> None:
    """Before argparse's exit (``--help``, ``--version``): their text reaches stdout, or one
    line says why not and the exit code is 1."""
    try:
        write_stdout("")
    except StdoutError as err:
        drop_stream(sys.stdout)
        _error("", f"error: {err}")
        raise SystemExit(Exit.ERROR) from None
    except BrokenPipeError:
        drop_stream(sys.stdout)
        raise SystemExit(Exit.BROKEN_PIPE) from None


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no file descriptor (a test's StringIO)
        return False


def _hint(exc: BaseException) -> str:
    """What a command attached to an interruption: what was kept and how to go on."""
    return f"; {exc.args[0]}" if exc.args and isinstance(exc.args[0], str) else ""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
