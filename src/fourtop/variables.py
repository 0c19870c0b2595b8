"""The default list of 76 input variables and reading of user variable lists."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from fourtop.errors import VariableError, did_you_mean

__all__ = [
    "VariableInfo",
    "check_known",
    "default_variable_info",
    "default_variables",
    "read_varlist",
]


@dataclass(frozen=True)
class VariableInfo:
    """A variable's branch name, its axis label (ROOT TLatex) and its unit ('' if none)."""

    name: str
    label: str
    unit: str


@cache
def default_variable_info() -> tuple[VariableInfo, ...]:
    """The original tool's 76 variables, in the original order."""
    text = resources.files("fourtop").joinpath("resources/variables-76.tsv").read_text()
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    return tuple(VariableInfo(r["name"], r["label"], r["unit"] or "") for r in rows)


def default_variables() -> list[str]:
    """Names of the 76 default variables, in order (a fresh list each call)."""
    return [v.name for v in default_variable_info()]


def read_varlist(spec: str | Path) -> list[str]:
    """Read a variable list: ``"all"`` for the default 76, or a file of names one per line.

    Blank lines and lines starting with ``#`` are ignored.

    Raises:
        VariableError: the file is missing, empty, or names a variable twice.
    """
    if str(spec) == "all":
        return default_variables()
    path = Path(spec)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise VariableError(
            f"{path}: variable list not found (use 'all' for the default 76)"
        ) from None
    except IsADirectoryError:
        raise VariableError(f"{path}: is a folder, not a variable list") from None
    except UnicodeDecodeError:
        raise VariableError(f"{path}: variable list is not text (not UTF-8)") from None
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise VariableError(f"{path}: cannot read variable list ({reason})") from None
    names = [ln.strip() for ln in text.splitlines()]
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise VariableError(f"{path}: variable list is empty")
    seen: set[str] = set()
    for lineno, name in enumerate(names, 1):
        if any(c.isspace() for c in name):
            raise VariableError(f"{path}: line {lineno}: {name!r} is not a single variable name")
        if name in seen:
            raise VariableError(f"{path}: variable {name!r} is listed twice")
        seen.add(name)
    return names


def check_known(
    names: Sequence[str], known: Sequence[str], source: object, first: int | None = None
) -> None:
    """Raise for the first of ``names`` missing from ``known`` (the configuration's variables).

    ``first`` numbers the names from that position in the message (a slice of a ranking).

    Raises:
        VariableError: ``<source>: variable [<position>] '<name>' is not in the dataset
            configuration (did you mean: ...?)``.
    """
    pool = set(known)
    for offset, name in enumerate(names):
        if name not in pool:
            where = "" if first is None else f"{first + offset} "
            raise VariableError(
                f"{source}: variable {where}{name!r} is not in the dataset configuration"
                + did_you_mean(name, known)
            )
