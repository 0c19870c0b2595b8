"""The ``fourtop`` command line: one module per command.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Modules import heavy libraries (torch, uproot, matplotlib)
inside ``run`` so that ``fourtop --help`` stays instant.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from fourtop import __version__
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
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"fourtop.cli.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch system's time limit, ``condor_rm``, ``scancel``): handled as Ctrl-C,
    so temporary files are removed and jobs in flight are marked aborted."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _handle_sigterm() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


def _tolerant_streams() -> None:
    """A terminal or pipe whose encoding lacks a character (``±`` under ``LANG=C`` or
    ``PYTHONIOENCODING=ascii``) gets a replacement, not a crash after the work is done."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a closed or odd stream
                reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fourtop`` console script; returns the exit code."""
    _tolerant_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    _handle_sigterm()
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args) or 0)
    except FourtopError as err:
        print(f"fourtop {args.command}: error: {err}", file=sys.stderr)
        return 1
    except Terminated as exc:
        print(f"fourtop {args.command}: terminated (SIGTERM){_hint(exc)}", file=sys.stderr)
        return 143
    except KeyboardInterrupt as exc:
        print(f"fourtop {args.command}: interrupted{_hint(exc)}", file=sys.stderr)
        return 130


def _hint(exc: BaseException) -> str:
    """What a command attached to an interruption: what was kept and how to go on."""
    return f"; {exc.args[0]}" if exc.args and isinstance(exc.args[0], str) else ""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
