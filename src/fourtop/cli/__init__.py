"""The ``fourtop`` command line: one module per command.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Modules import heavy libraries (torch, uproot, matplotlib)
inside ``run`` so that ``fourtop --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fourtop`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args) or 0)
    except FourtopError as err:
        print(f"fourtop {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fourtop {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
