"""The ranking ``fourtop calculate`` shows after writing its files, as rows of text.

:func:`ranking` turns a :class:`~fourtop.importance.calculation.CalculationOutput` into a
:class:`Ranking`: the title, the columns, one row of cells per tested variable shown, how many
more were tested, the never-tested and undefined variables, what was skipped and the files
written. The command renders it; the numbers are formatted here, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fourtop.importance.calculation import CalculationOutput
    from fourtop.importance.stability import Stability
    from fourtop.importance.stats import VariableStats

__all__ = [
    "COLUMNS",
    "STABILITY_COLUMNS",
    "Ranking",
    "StabilityView",
    "interval",
    "ranking",
    "ranking_rows",
    "skipped",
    "stability_verdict",
    "stability_view",
]

#: the ranking's columns and their alignment
COLUMNS: tuple[tuple[str, str], ...] = (
    ("#", "right"),
    ("variable", "left"),
    ("freq", "right"),
    ("n", "right"),
    ("mean ± sem", "right"),
    ("importance", "right"),
    ("68% interval", "right"),
    ("rank 68%", "right"),
)

#: the counts of :attr:`ImportanceTable.counts` that mean something was left out, and their words
_SKIPPED = (
    ("duplicates", "duplicated jobs counted once"),
    ("no_result", "jobs without a result"),
    ("orphan_subseeds", "subseed results whose seed has none"),
    ("bad_roc", "of them with a ROC integral outside [0, 1] (counted as failed)"),
)


@dataclass(frozen=True)
class Ranking:
    """What the command shows of a calculation (plain text, no markup).

    Attributes:
        title: sort key, direction, number of seeds and of differences.
        rows: the cells of each tested variable shown (:data:`COLUMNS`), best first.
        more: tested variables beyond ``rows`` (they are in the results file).
        never_tested: variables no difference was found for.
        undefined: tested variables whose importance is set to 0.
        skipped: what was left out, e.g. ``"3 duplicated jobs counted once"``.
        files: the files written.
    """

    title: str
    rows: list[list[str]]
    more: int
    never_tested: list[str]
    undefined: list[str]
    skipped: list[str]
    files: list[Path]


def interval(pair: tuple[float, float] | None, fmt: str) -> str:
    """``"[low, high]"`` with both ends in ``fmt``; empty for no interval.

    Example:
        >>> interval((0.5, 1.25), ".2f"), interval(None, ".2f")
        ('[0.50, 1.25]', '')
    """
    return "" if pair is None else f"[{pair[0]:{fmt}}, {pair[1]:{fmt}}]"


def ranking_rows(rows: Sequence[VariableStats], top: int) -> list[list[str]]:
    """The cells of the first ``top`` tested ``rows`` (stopping at the first untested one)."""
    cells = []
    for i, r in enumerate(rows[:top], 1):
        if not r.tested:
            break
        sem = f" ± {r.sem:.4f}" if r.sem is not None else ""
        imp = f"{r.importance:.3f}" + ("" if r.importance_defined else " (undefined)")
        rank = "" if r.rank_ci68 is None else f"{r.rank_ci68[0]:.0f}-{r.rank_ci68[1]:.0f}"
        cells.append(
            [
                str(i),
                r.name,
                str(r.freq),
                str(r.n),
                f"{r.mean:.4f}{sem}",
                imp,
                interval(r.importance_ci68, ".2f"),
                rank,
            ]
        )
    return cells


def skipped(counts: Mapping[str, int]) -> list[str]:
    """What the statistics left out, one phrase per nonzero count."""
    return [f"{counts[k]} {label}" for k, label in _SKIPPED if counts.get(k)]


def ranking(
    result: CalculationOutput, *, sort_key: str, increasing: bool = False, top: int = 20
) -> Ranking:
    """The ranking of ``result`` sorted by ``sort_key``, its first ``top`` variables as rows."""
    table = result.table
    counts = table.counts
    direction = "increasing" if increasing else "decreasing"
    tested = sum(1 for r in result.rows if r.tested)
    return Ranking(
        title=f"Variable importance, by {sort_key} ({direction}): "
        f"{counts['families']} seeds, {counts['differences']} differences",
        rows=ranking_rows(result.rows, top),
        more=max(tested - top, 0),
        never_tested=list(table.never_tested),
        undefined=list(table.undefined),
        skipped=skipped(counts),
        files=list(result.files.values()),
    )


# --------------------------------------------------------------------------- stability

#: the stability table's columns and their alignment
STABILITY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("#", "right"),
    ("variable", "left"),
    ("rank 68%", "right"),
    ("width", "right"),
    ("predicted", "right"),
)


@dataclass(frozen=True)
class StabilityView:
    """What the command shows of a :class:`~fourtop.importance.stability.Stability`.

    Attributes:
        title: which variables, which interval, the target.
        rows: the cells of each top variable (:data:`STABILITY_COLUMNS`); the last column is
            the interval predicted at ``predicted_at`` seeds (empty without a prediction).
        predicted_at: the seeds the predicted intervals are for (None: no prediction).
        verdict: whether the target is met, and the estimated seeds (one or two sentences).
    """

    title: str
    rows: list[list[str]]
    predicted_at: int | None
    verdict: str


def _ranks(pair: tuple[float, float] | None) -> str:
    return "" if pair is None else f"{round(pair[0])}-{round(pair[1])}"


def stability_verdict(stability: Stability) -> str:
    """One or two sentences: whether the top is stable, and the seeds estimated to make it so.

    Example:
        >>> from fourtop.importance.stability import Stability
        >>> stability_verdict(Stability("too_few_families", 2.0, 10, 4, ()))
        'Only 4 seeds with results: at least 10 are needed to judge the stability or estimate the seeds needed.'
    """  # noqa: E501
    from fourtop.importance.stability import MIN_FAMILIES, MIN_REPLICATES

    s = stability
    k, w, n = s.top, f"{s.target_width:g}", s.seeds
    if s.status == "no_variables":
        return "No variable was tested: there is no ranking to judge."
    if s.status == "no_bootstrap":
        return (
            "No rank intervals (--bootstrap 0): the stability and the estimate of the seeds "
            "needed need the bootstrap."
        )
    if s.status == "too_few_families":
        return (
            f"Only {n} seeds with results: at least {MIN_FAMILIES} are needed to judge the "
            "stability or estimate the seeds needed."
        )
    if s.status == "too_few_replicates":
        return (
            f"Only {s.replicates} bootstrap replicates (--bootstrap): at least "
            f"{MIN_REPLICATES} are needed to judge the stability or estimate the seeds needed."
        )
    if s.status == "stable":
        return (
            f"Stable: every top-{k} rank interval is at most {w} wide with {n} seeds "
            "(0 more needed)."
        )
    wide = sum(1 for r in s.rows if (r.width or 0) > s.target_width)
    now = (
        f"Not yet stable: {wide} of the top {k} have rank intervals wider than {w} "
        f"(widest {s.widest}) with {n} seeds."
    )
    if s.status == "beyond_limit" and s.predicted_at is None:
        return f"{now} The limit of {s.limit} seeds is reached: no estimate beyond it."
    if s.status == "beyond_limit":
        widest = max((r.predicted_width or 0) for r in s.rows)
        return (
            f"{now} Even {s.predicted_at} seeds (the search limit) are estimated to leave an "
            f"interval {widest} wide (near-tied variables); a larger --target-width is "
            "reached sooner."
        )
    return (
        f"{now} Estimated: about {s.seeds_needed} seeds in all ({s.more_seeds} more) make "
        f"each at most {w} wide."
    )


def stability_view(stability: Stability) -> StabilityView:
    """The stability section of ``fourtop calculate``'s report."""
    s = stability
    title = (
        f"Stability of the top {s.top}: 68% rank intervals, stable when at most "
        f"{s.target_width:g} wide"
    )
    rows = [
        [
            str(r.rank),
            r.variable,
            _ranks(r.interval),
            "" if r.width is None else str(r.width),
            _ranks(r.predicted),
        ]
        for r in s.rows
        if r.interval is not None  # --bootstrap 0: nothing to show but the verdict
    ]
    return StabilityView(title, rows, s.predicted_at, stability_verdict(s))
