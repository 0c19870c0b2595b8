"""The text result files in the original's formats, the JSON/CSV extras, and reading back.

``VariableImportanceResults_<N>vars.txt``::

    Weight: <weight expression>
    Cut: <selection expression>
    Folders:
     - <path>
    Number of Variables: <N>
    Date: YYYY-MM-DD

    Importance Calculation:
    Normalization: <float>
    Index  / Variable Name                      / Freq.  / Sum     / Mean    / RMS     / Importance
    1.     / NJets_JetSubCalc                   / 254    / 3.1415  / 0.0123  / 0.0100  / 1.230

Downstream scripts split each table line on ``/`` and use the header names, lower-cased
without dots, as sort keys. Two header lines are added only when there is something to say,
right after ``Date:``: ``Never Tested: a, b`` and ``Importance Undefined: c`` (fewer than two
differences or RMS 0; their Importance is written as 0.000).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from fourtop.errors import ResultsError, did_you_mean
from fourtop.fileio import atomic_write_text
from fourtop.importance.stability import Stability, rank_width
from fourtop.importance.stats import SORT_KEYS, ImportanceTable, VariableStats

__all__ = [
    "COLUMNS",
    "ResultRow",
    "ResultsTable",
    "order_filename",
    "read_results",
    "results_filename",
    "write_extras",
    "write_order",
    "write_results",
]

log = logging.getLogger(__name__)

#: the table's header names and column widths (the widths are cosmetic: readers split on '/')
COLUMNS: tuple[tuple[str, int], ...] = (
    ("Index", 6),
    ("Variable Name", 34),
    ("Freq.", 6),
    ("Sum", 7),
    ("Mean", 7),
    ("RMS", 11),
    ("Importance", 0),
)
NEVER_TESTED = "Never Tested"
UNDEFINED = "Importance Undefined"


def results_filename(nvars: int) -> str:
    return f"VariableImportanceResults_{nvars}vars.txt"


def order_filename(nvars: int) -> str:
    return f"VariableImportanceOrder_{nvars}vars.txt"


def _line(cells: Sequence[str]) -> str:
    parts = [c.ljust(w) if w else c for c, (_, w) in zip(cells, COLUMNS, strict=True)]
    return " / ".join(parts)


def write_results(
    path: Path,
    table: ImportanceTable,
    rows: Sequence[VariableStats],
    *,
    weight: str,
    cut: str,
    folders: Sequence[str | Path],
    today: date | None = None,
) -> Path:
    """Write ``VariableImportanceResults_<N>vars.txt`` with ``rows`` in the given order."""
    lines = [f"Weight: {weight}", f"Cut: {cut}", "Folders:"]
    lines += [f" - {f}" for f in folders]
    lines.append(f"Number of Variables: {len(table.variables)}")
    lines.append(f"Date: {(today or date.today()).isoformat()}")
    if table.never_tested:
        lines.append(f"{NEVER_TESTED}: {', '.join(table.never_tested)}")
    if table.undefined:
        lines.append(f"{UNDEFINED}: {', '.join(table.undefined)}")
    lines += ["", "Importance Calculation:", f"Normalization: {table.normalization}"]
    lines.append(_line([name for name, _ in COLUMNS]))
    for i, r in enumerate(rows, 1):
        lines.append(
            _line(
                [
                    f"{i}.",
                    r.name,
                    str(r.freq),
                    f"{r.sum:.4f}",
                    f"{r.mean:.4f}",
                    f"{r.rms:.4f}",
                    f"{r.importance:.3f}",
                ]
            )
        )
    atomic_write_text(path, "\n".join(lines) + "\n", what="results file")
    return path


def write_order(path: Path, rows: Sequence[VariableStats]) -> Path:
    """Write ``VariableImportanceOrder_<N>vars.txt``: one variable name per line."""
    atomic_write_text(path, "".join(f"{r.name}\n" for r in rows), what="order file")
    return path


def _interval(pair: tuple[float, float] | None) -> list[float] | None:
    return None if pair is None else [pair[0], pair[1]]


def write_extras(
    json_path: Path,
    csv_path: Path,
    table: ImportanceTable,
    rows: Sequence[VariableStats],
    *,
    meta: dict,
    stability: Stability | None = None,
) -> tuple[Path, Path]:
    """Write the per-variable uncertainties (SEM, bootstrap intervals) as JSON and CSV.

    With ``stability``, the JSON has its record under ``stability`` and every variable's
    ``rank_ci68_width``; the top variables also their ``predicted_rank_ci68`` (at
    ``stability.predicted_at`` seeds) and its width. The CSV has the two widths as columns.
    """
    predicted = {t.variable: t.predicted for t in (stability.rows if stability is not None else ())}
    records = []
    for i, r in enumerate(rows, 1):
        records.append(
            {
                "index": i,
                "variable": r.name,
                "freq": r.freq,
                "n_differences": r.n,
                "sum": r.sum,
                "mean": r.mean,
                "rms": r.rms,
                "sem": r.sem,
                "importance": r.importance,
                "importance_defined": r.importance_defined,
                "tested": r.tested,
                "importance_ci68": _interval(r.importance_ci68),
                "importance_ci95": _interval(r.importance_ci95),
                "importance_rank": r.importance_rank,
                "rank_ci68": _interval(r.rank_ci68),
                "rank_ci95": _interval(r.rank_ci95),
                "rank_ci68_width": rank_width(r.rank_ci68),
                "predicted_rank_ci68": _interval(predicted.get(r.name)),
                "predicted_rank_ci68_width": rank_width(predicted.get(r.name)),
            }
        )
    doc = {
        **meta,
        "normalization": table.normalization,
        "never_tested": table.never_tested,
        "importance_undefined": table.undefined,
        "counts": table.counts,
        "stability": None if stability is None else stability.to_dict(),
        "variables": records,
    }
    atomic_write_text(json_path, json.dumps(doc, indent=2) + "\n", what="JSON file")
    header = [
        "index",
        "variable",
        "freq",
        "n_differences",
        "sum",
        "mean",
        "rms",
        "sem",
        "importance",
        "importance_defined",
        "importance_ci68_low",
        "importance_ci68_high",
        "importance_ci95_low",
        "importance_ci95_high",
        "importance_rank",
        "rank_ci68_low",
        "rank_ci68_high",
        "rank_ci95_low",
        "rank_ci95_high",
        "rank_ci68_width",
        "predicted_rank_ci68_width",
    ]
    buffer = io.StringIO(newline="")
    w = csv.writer(buffer)
    w.writerow(header)
    for rec in records:
        flat = []
        for h in header:
            base, _, end = h.rpartition("_")
            if end in ("low", "high") and base in rec:
                pair = rec[base]
                flat.append("" if pair is None else pair[0 if end == "low" else 1])
            else:
                flat.append("" if rec[h] is None else rec[h])
        w.writerow(flat)
    atomic_write_text(csv_path, buffer.getvalue(), what="CSV file")
    return json_path, csv_path


# --------------------------------------------------------------------------- reading back


@dataclass
class ResultRow:
    """One table row of a results file (``Index`` is the position in the file)."""

    index: int
    name: str
    freq: int
    sum: float
    mean: float
    rms: float
    importance: float


@dataclass
class ResultsTable:
    """A results file read back: header fields and the table rows in file order."""

    path: Path
    weight: str = ""
    cut: str = ""
    folders: list[str] = field(default_factory=list)
    nvars: int | None = None
    date: str = ""
    normalization: float | None = None
    never_tested: list[str] = field(default_factory=list)
    rows: list[ResultRow] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """Variable names in file order."""
        return [r.name for r in self.rows]

    def sorted_names(self, key: str = "importance", increasing: bool = False) -> list[str]:
        """Variable names sorted by a column (descending unless ``increasing``).

        Never-tested variables stay last. ``key`` is one of ``importance, freq, sum, mean,
        rms`` (or ``index``).

        Raises:
            ResultsError: unknown key.
        """
        keys = (*SORT_KEYS, "index")
        if key not in keys:
            raise ResultsError(
                f"{self.path}: unknown sort order {key!r}: choose one of "
                f"{', '.join(SORT_KEYS)}" + did_you_mean(key, keys)
            )
        untested = set(self.never_tested)
        tested = [r for r in self.rows if r.name not in untested]
        sign = 1.0 if increasing else -1.0
        if key == "index":
            sign = -sign  # "descending" index order is the file's order
        tested.sort(key=lambda r: sign * float(getattr(r, key)))
        return [r.name for r in tested] + [r.name for r in self.rows if r.name in untested]


_HEADER_KEYS = {
    "index": "index",
    "variable name": "name",
    "freq": "freq",
    "sum": "sum",
    "mean": "mean",
    "rms": "rms",
    "importance": "importance",
}


def _number(text: str, path: Path, lineno: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ResultsError(f"{path}: line {lineno}: {column} {text!r} is not a number") from None
    if not math.isfinite(value):
        log.warning("%s: line %d: %s is %s; read as 0", path, lineno, column, text)
        return 0.0
    return value


def read_results(path: str | Path) -> ResultsTable:
    """Read a ``VariableImportanceResults_<N>vars.txt`` written by fourtop or the original.

    Non-finite numbers (the original wrote ``inf`` for an RMS of 0) are read as 0 with a
    logged warning. A folder is accepted if it holds exactly one results file.

    Raises:
        ResultsError: missing file, no table, a malformed row, or a variable listed twice.
    """
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("VariableImportanceResults_*vars.txt"))
        if len(found) != 1:
            raise ResultsError(
                f"{path}: expected one VariableImportanceResults_<N>vars.txt "
                f"in the folder, found {len(found)}"
            )
        path = found[0]
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise ResultsError(f"{path}: results file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read results file ({exc.__class__.__name__})") from exc
    table = ResultsTable(path)
    columns: list[str] | None = None
    in_folders = False
    for lineno, line in enumerate(lines, 1):
        if columns is None:
            if in_folders and line.startswith(" - "):
                table.folders.append(line[3:])
                continue
            in_folders = False
            head, sep, value = line.partition(":")
            value = value.strip()
            if "/" in line and "variable name" in line.lower():
                names = [c.strip().lower().replace(".", "") for c in line.split("/")]
                unknown = [n for n in names if n not in _HEADER_KEYS]
                if unknown:
                    raise ResultsError(f"{path}: line {lineno}: unknown column {unknown[0]!r}")
                columns = [_HEADER_KEYS[n] for n in names]
                for needed in ("name", "importance"):
                    if needed not in columns:
                        raise ResultsError(f"{path}: line {lineno}: no {needed} column")
            elif sep and head == "Weight":
                table.weight = value
            elif sep and head == "Cut":
                table.cut = value
            elif sep and head == "Folders":
                in_folders = True
            elif sep and head == "Number of Variables":
                table.nvars = int(_number(value, path, lineno, "Number of Variables"))
            elif sep and head == "Date":
                table.date = value
            elif sep and head == "Normalization":
                table.normalization = _number(value, path, lineno, "Normalization")
            elif sep and head == NEVER_TESTED:
                table.never_tested = [v.strip() for v in value.split(",") if v.strip()]
            continue
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split("/")]
        if len(cells) != len(columns):
            raise ResultsError(
                f"{path}: line {lineno}: {len(cells)} columns, "
                f"expected {len(columns)} separated by '/'"
            )
        values = dict(zip(columns, cells, strict=True))
        row = ResultRow(
            index=int(
                _number(
                    values.get("index", str(len(table.rows) + 1)).rstrip("."), path, lineno, "Index"
                )
            ),
            name=values["name"],
            freq=int(_number(values.get("freq", "0"), path, lineno, "Freq.")),
            sum=_number(values.get("sum", "0"), path, lineno, "Sum"),
            mean=_number(values.get("mean", "0"), path, lineno, "Mean"),
            rms=_number(values.get("rms", "0"), path, lineno, "RMS"),
            importance=_number(values["importance"], path, lineno, "Importance"),
        )
        if any(r.name == row.name for r in table.rows):
            raise ResultsError(f"{path}: line {lineno}: variable {row.name!r} listed twice")
        table.rows.append(row)
    if columns is None:
        raise ResultsError(f"{path}: no importance table (no 'Index / Variable Name / ...' line)")
    if not table.rows:
        raise ResultsError(f"{path}: the importance table has no rows")
    return table
