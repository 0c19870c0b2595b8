"""Which variables the optimization trains on: ``-o``, ``--sort-increasing`` and ``-n``.

``-o`` is a column of the dataset folder's ``VariableImportanceResults_<N>vars.txt``
(``importance``, ``freq``, ``sum``, ``mean``, ``rms``; descending unless ``--sort-increasing``)
or the path of a file of variable names, taken as already sorted. ``-n`` keeps the first ``N``
sorted variables, or the positions ``A-B`` (1-based, both included).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fourtop.errors import ParameterError, ResultsError, did_you_mean
from fourtop.variables import check_known, read_varlist

__all__ = [
    "SORT_COLUMNS",
    "Selection",
    "find_results_file",
    "parse_count",
    "select_variables",
]

log = logging.getLogger(__name__)

SORT_COLUMNS = ("importance", "freq", "sum", "mean", "rms")
_RESULTS_RE = re.compile(r"VariableImportanceResults_(\d+)vars\.txt")


@dataclass(frozen=True)
class Selection:
    """The chosen variables and where their order came from.

    Attributes:
        variables: the variables, in sorted order.
        source: the results file or the ``-o`` file.
        order: how they were sorted, e.g. ``importance (descending)`` or ``file order``.
        positions: the 1-based positions kept, inclusive.
    """

    variables: list[str]
    source: Path
    order: str
    positions: tuple[int, int]


def find_results_file(folder: Path) -> Path:
    """The results file in ``folder``; with several, the one over the most variables.

    Raises:
        ResultsError: the folder does not exist or holds no results file.
    """
    if not folder.is_dir():
        raise ResultsError(f"{folder}: dataset folder not found")
    found = [
        (int(m.group(1)), p)
        for p in folder.iterdir()
        if (m := _RESULTS_RE.fullmatch(p.name)) and p.is_file()
    ]
    if not found:
        raise ResultsError(
            f"{folder}: no VariableImportanceResults_<N>vars.txt (run 'fourtop calculate "
            f"-f {folder}' first, or give -o a file of variable names)"
        )
    found.sort()
    if len(found) > 1:
        log.warning(
            "%s: %d results files; using %s (the most variables)",
            folder,
            len(found),
            found[-1][1].name,
        )
    return found[-1][1]


def parse_count(spec: str | None, total: int, source: Path) -> tuple[int, int]:
    """``-n``: ``"N"`` (the first N) or ``"A-B"`` (positions A to B, 1-based, inclusive).

    Returns:
        ``(first, last)`` positions, 1-based and inclusive.

    Raises:
        ParameterError: not a count or range, an empty range, or past the ``total`` variables.
    """
    if spec is None:
        return 1, total
    text = str(spec).strip()
    if m := re.fullmatch(r"(\d+)", text):
        first, last = 1, int(m.group(1))
        if last < 1:
            raise ParameterError(f"-n {spec}: expected at least 1 variable")
    elif m := re.fullmatch(r"(\d+)\s*-\s*(\d+)", text):
        first, last = int(m.group(1)), int(m.group(2))
        if first < 1:
            raise ParameterError(f"-n {spec}: positions start at 1")
        if first > last:
            raise ParameterError(f"-n {spec}: empty range ({first} is after {last})")
    else:
        raise ParameterError(
            f"-n {spec!r}: expected a number of variables (e.g. 10) or a range of positions "
            "(e.g. 5-20)"
        )
    if last > total:
        raise ParameterError(f"-n {spec}: {source} has only {total} variables")
    return first, last


def select_variables(
    folder: str | Path,
    order: str = "importance",
    *,
    increasing: bool = False,
    count: str | None = None,
    known: Sequence[str] | None = None,
) -> Selection:
    """Sort the variables as ``-o`` says and keep those ``-n`` says.

    Args:
        folder: the dataset folder (holds the results file).
        order: a column name or a path to a file of variable names.
        increasing: sort the column in increasing order (ignored for a file).
        count: the ``-n`` value, None for all.
        known: the variables the data has; a kept name outside it is an error.

    Raises:
        ResultsError: no or a malformed results file.
        VariableError: the ``-o`` file is unreadable or names an unknown variable.
        ParameterError: ``-o`` is neither a column nor a file, or a bad ``-n``.
    """
    folder = Path(folder)
    if order in SORT_COLUMNS:
        from fourtop.importance.results import read_results

        source = find_results_file(folder)
        table = read_results(source)
        names = table.sorted_names(order, increasing=increasing)
        how = f"{order} ({'increasing' if increasing else 'descending'})"
    elif Path(order).is_file():
        source = Path(order)
        names = read_varlist(source)
        how = "file order"
        if increasing:
            log.warning("--sort-increasing is ignored with a file of variable names (%s)", order)
    else:
        raise ParameterError(
            f"-o {order!r}: neither a column ({', '.join(SORT_COLUMNS)}) nor an existing file"
            + did_you_mean(order, SORT_COLUMNS)
        )
    first, last = parse_count(count, len(names), source)
    if known is not None:  # only the kept variables must be in the data
        check_known(names[first - 1 : last], known, source, first=first)
    return Selection(names[first - 1 : last], source, how, (first, last))
