"""Placeholder: being written (see docs/architecture.md)."""

from __future__ import annotations

import argparse

HELP = "(not yet available)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise SystemExit("fourtop: this command is not available yet")
