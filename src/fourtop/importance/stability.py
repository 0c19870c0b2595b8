"""How settled the top of the ranking is, and how many seeds would settle it.

The bootstrap (:func:`fourtop.importance.stats.bootstrap`) gives each variable a 68 % rank
interval. The top of the ranking is *stable* when each of its first ``top`` variables (by
observed importance, 10 by default) has a 68 % rank interval no wider than a target (2 by
default): its **width** is ``hi - lo`` with both ends rounded to whole ranks, as the ranking
shows them (``3-5`` is 2 wide), so widths are whole numbers.

How many seeds would make it so is estimated with an *m-out-of-n bootstrap*: drawing ``m``
of the ``n`` observed seed families with replacement (``m > n``) gives tables of ``m`` seeds
scattered around the present estimates as much as ``m`` seeds would scatter (the spread of a
mean over families shrinks like ``1/sqrt(m)``), so their rank intervals are the intervals
``m`` seeds can be expected to give if the variables' importances are what they seem now.
The estimate is the smallest ``m`` (doubling from ``n``, then bisection to 5 %) at which
every top variable's predicted interval is no wider than the target, searched up to a limit
(100 times the present seeds, at most 100000). Every evaluation uses the same random seed
(reruns give the same answer) and at most :data:`ESTIMATE_REPLICATES` replicates.

The estimate assumes the present importances are the true ones: variables that look tied
will look tied at every ``m`` (the estimate then says "more than the limit"), and a gap
that is larger now than it truly is makes the estimate optimistic. It is a guide to the
order of magnitude; ``fourtop submit --until-stable`` checks it with real seeds.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fourtop.errors import ResultsError
from fourtop.importance.stats import (
    CHUNK_ELEMENTS,
    ImportanceTable,
    family_sums,
    rank_by_importance,
    weighted_importance,
)

__all__ = [
    "DEFAULT_TARGET_WIDTH",
    "MIN_FAMILIES",
    "MIN_REPLICATES",
    "STABILITY_TOP",
    "Stability",
    "TopRank",
    "check_target_width",
    "estimate_stability",
    "predict_rank_intervals",
    "rank_width",
]

log = logging.getLogger(__name__)

#: variables at the top whose rank intervals must be narrow (calculate's report)
STABILITY_TOP = 10
#: widest 68 % rank interval (hi - lo) that counts as stable
DEFAULT_TARGET_WIDTH = 2.0
#: fewer seed families than this: the bootstrap says too little to judge or extrapolate
MIN_FAMILIES = 10
#: fewer bootstrap replicates than this: a 68 % interval of a handful of draws is as good as
#: a point (--bootstrap 1 gives width 0 to every variable), so too few to judge
MIN_REPLICATES = 100
#: the search for the seeds needed stops at this many times the present seeds ...
SEARCH_FACTOR = 100
#: ... and at this many seeds (``submit -n``'s maximum)
MAX_SEEDS = 100_000
#: most replicates per evaluated number of seeds (the estimate's cost does not grow with
#: ``--bootstrap``)
ESTIMATE_REPLICATES = 1000
#: the bisection stops when its bracket is this close (relative)
TOLERANCE = 0.05

#: what :attr:`Stability.status` can be
STATUSES = (
    "stable",  # every top interval is no wider than the target now
    "estimated",  # seeds_needed is the estimate
    "beyond_limit",  # not stable even at the search limit (near-ties)
    "too_few_families",  # fewer than MIN_FAMILIES seeds with results
    "no_bootstrap",  # --bootstrap 0: no intervals
    "too_few_replicates",  # fewer than MIN_REPLICATES bootstrap replicates
    "no_variables",  # no tested variable
)


def check_target_width(value: float) -> float:
    """``value`` as a target width: a finite number above 0.

    Raises:
        ResultsError: zero, negative, infinite or not a number.
    """
    try:
        width = float(value)
    except (TypeError, ValueError):
        raise ResultsError(f"--target-width {value!r}: not a number") from None
    if not math.isfinite(width) or width <= 0:
        raise ResultsError(
            f"--target-width {value}: must be a number above 0 (the widest rank interval "
            f"that counts as stable; the default is {DEFAULT_TARGET_WIDTH:g})"
        )
    return width


def rank_width(interval: tuple[float, float] | None) -> int | None:
    """The width of a rank interval: ``hi - lo`` with both ends rounded to whole ranks.

    Example:
        >>> rank_width((2.0, 4.6)), rank_width((9.024, 18.0)), rank_width(None)
        (3, 9, None)
    """
    if interval is None:
        return None
    return round(interval[1]) - round(interval[0])


@dataclass(frozen=True)
class TopRank:
    """One of the top variables: its observed rank, its 68 % rank interval now and the one
    predicted at :attr:`Stability.predicted_at` seeds (None where there is none)."""

    variable: str
    rank: int
    interval: tuple[float, float] | None
    predicted: tuple[float, float] | None = None

    @property
    def width(self) -> int | None:
        return rank_width(self.interval)

    @property
    def predicted_width(self) -> int | None:
        return rank_width(self.predicted)


@dataclass(frozen=True)
class Stability:
    """How stable the top of a ranking is, and the seeds estimated to make it stable.

    Attributes:
        status: one of :data:`STATUSES`.
        target_width: the widest 68 % rank interval that counts as stable.
        top: how many top variables were judged (fewer than asked when fewer were tested).
        seeds: the seed families with a result now.
        rows: the top variables, best first.
        seeds_needed: the estimated total seeds (``seeds`` when stable; None when there is
            no estimate).
        predicted_at: the number of seeds the rows' ``predicted`` intervals are for (the
            estimate, or the limit when it was not reached); None without a prediction.
        limit: the most seeds the search considered.
        replicates: the replicates per evaluated number of seeds.
    """

    status: str
    target_width: float
    top: int
    seeds: int
    rows: tuple[TopRank, ...]
    seeds_needed: int | None = None
    predicted_at: int | None = None
    limit: int | None = None
    replicates: int = 0

    @property
    def stable(self) -> bool:
        return self.status == "stable"

    @property
    def more_seeds(self) -> int | None:
        """Seeds to add to the present ones (0 when stable; None without an estimate)."""
        return None if self.seeds_needed is None else max(self.seeds_needed - self.seeds, 0)

    @property
    def widest(self) -> int | None:
        """The widest present interval of the top variables (None without intervals)."""
        widths = [r.width for r in self.rows if r.width is not None]
        return max(widths) if widths else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON record (``stability`` in ``VariableImportance_<N>vars.json``)."""
        return {
            "status": self.status,
            "stable": self.stable,
            "interval": "rank_ci68",
            "width": "hi - lo, ends rounded to whole ranks",
            "target_width": self.target_width,
            "top": self.top,
            "seeds": self.seeds,
            "seeds_needed": self.seeds_needed,
            "more_seeds": self.more_seeds,
            "predicted_at": self.predicted_at,
            "search_limit": self.limit,
            "replicates": self.replicates,
            "variables": [
                {
                    "variable": r.variable,
                    "importance_rank": r.rank,
                    "rank_ci68": None if r.interval is None else list(r.interval),
                    "rank_ci68_width": r.width,
                    "predicted_rank_ci68": None if r.predicted is None else list(r.predicted),
                    "predicted_rank_ci68_width": r.predicted_width,
                }
                for r in self.rows
            ],
        }


def default_limit(seeds: int) -> int:
    """The most seeds the search considers: 100 times ``seeds``, at most 100000."""
    return max(seeds, min(SEARCH_FACTOR * seeds, MAX_SEEDS))


def estimate_stability(
    table: ImportanceTable,
    *,
    target_width: float = DEFAULT_TARGET_WIDTH,
    top: int = STABILITY_TOP,
    n_boot: int = ESTIMATE_REPLICATES,
    rng_seed: int = 20200617,
    limit: int | None = None,
) -> Stability:
    """Judge the top ``top`` variables of ``table`` and estimate the seeds that make them stable.

    ``table`` must have been through :func:`~fourtop.importance.stats.bootstrap` (its rank
    intervals are the present ones; without them the status is ``no_bootstrap``).

    Args:
        table: the statistics, bootstrapped.
        target_width: the widest rank interval that counts as stable.
        top: how many top variables must be stable (all tested ones when fewer).
        n_boot: replicates per evaluated number of seeds (at most
            :data:`ESTIMATE_REPLICATES` are used).
        rng_seed: the resampling's random seed (the same for every evaluated number).
        limit: the most seeds to consider (default :func:`default_limit`).

    Raises:
        ResultsError: a target width that is not above 0, or ``top`` below 1.
    """
    target_width = check_target_width(target_width)
    if top < 1:
        raise ResultsError(f"the number of top variables must be at least 1, got {top}")
    seeds = len(table.families)
    tested = [v for v in table.variables if table.rows[v].tested]
    ranked = sorted(
        (v for v in tested if table.rows[v].importance_rank is not None),
        key=lambda v: table.rows[v].importance_rank or 0,
    )
    chosen = ranked[:top]
    base = {"target_width": target_width, "top": len(chosen), "seeds": seeds}

    def rows(predicted: np.ndarray | None = None) -> tuple[TopRank, ...]:
        return tuple(
            TopRank(
                v,
                int(table.rows[v].importance_rank or 0),
                table.rows[v].rank_ci68,
                None if predicted is None else (float(predicted[0, i]), float(predicted[1, i])),
            )
            for i, v in enumerate(chosen)
        )

    if not chosen:
        return Stability("no_variables", rows=(), **base)
    if any(table.rows[v].rank_ci68 is None for v in chosen):
        return Stability("no_bootstrap", rows=rows(), **base)
    if seeds < MIN_FAMILIES:
        return Stability("too_few_families", rows=rows(), **base)
    if n_boot < MIN_REPLICATES:  # the intervals of a few draws are too narrow to trust
        return Stability("too_few_replicates", rows=rows(), replicates=int(n_boot), **base)
    now = rows()
    if all((r.width or 0) <= target_width for r in now):
        return Stability("stable", rows=now, seeds_needed=seeds, **base)

    limit = default_limit(seeds) if limit is None else max(int(limit), seeds)
    replicates = max(1, min(int(n_boot), ESTIMATE_REPLICATES))
    cnt, s1, s2 = family_sums(table, tested)
    columns = np.array([tested.index(v) for v in chosen])
    found: dict[int, np.ndarray] = {}

    def fits(m: int) -> bool:
        found[m] = _predicted_intervals(cnt, s1, s2, m, columns, replicates, rng_seed)
        widths = np.round(found[m][1]) - np.round(found[m][0])
        return bool(np.all(widths <= target_width))

    common = {**base, "limit": limit, "replicates": replicates}
    low, high = seeds, None  # low: not stable (observed); high: stable (predicted)
    m = seeds
    while m < limit:
        m = min(2 * m, limit)
        if fits(m):
            high = m
            break
        low = m
    if high is None:
        log.info("top %d not stable at the search limit of %d seeds", len(chosen), limit)
        at = max(found) if found else None
        return Stability(
            "beyond_limit",
            rows=rows(found[at]) if at is not None else now,
            predicted_at=at,
            **common,
        )
    while high - low > max(1, math.ceil(TOLERANCE * low)):
        mid = (low + high) // 2
        if fits(mid):
            high = mid
        else:
            low = mid
    log.info("top %d estimated stable at %d seeds (%d now)", len(chosen), high, seeds)
    return Stability(
        "estimated", rows=rows(found[high]), seeds_needed=high, predicted_at=high, **common
    )


def predict_rank_intervals(
    table: ImportanceTable,
    seeds: int,
    variables: list[str],
    *,
    n_boot: int = ESTIMATE_REPLICATES,
    rng_seed: int = 20200617,
) -> dict[str, tuple[float, float]]:
    """The 68 % rank intervals of ``variables`` (tested ones) predicted at ``seeds`` seeds
    by the m-out-of-n bootstrap of :func:`estimate_stability` (for checks of the estimate).

    Raises:
        ResultsError: a variable that was not tested, or ``seeds`` below 1.
    """
    tested = [v for v in table.variables if table.rows[v].tested]
    missing = [v for v in variables if v not in tested]
    if missing:
        raise ResultsError(f"{missing[0]}: not a tested variable; no rank interval to predict")
    if seeds < 1 or not table.families:
        raise ResultsError(f"cannot predict rank intervals at {seeds} seeds")
    cnt, s1, s2 = family_sums(table, tested)
    columns = np.array([tested.index(v) for v in variables], dtype=int)
    replicates = max(1, min(int(n_boot), ESTIMATE_REPLICATES))
    found = _predicted_intervals(cnt, s1, s2, seeds, columns, replicates, rng_seed)
    return {v: (float(found[0, i]), float(found[1, i])) for i, v in enumerate(variables)}


def _predicted_intervals(
    cnt: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    m: int,
    columns: np.ndarray,
    replicates: int,
    rng_seed: int,
) -> np.ndarray:
    """The 68 % rank intervals of ``columns`` over ``replicates`` tables of ``m`` families
    drawn with replacement from the observed ones: shape ``(2, len(columns))``."""
    n_fam = cnt.shape[0]
    rng = np.random.default_rng(rng_seed)  # the same draws for every m: a smooth search
    p = np.full(n_fam, 1.0 / n_fam)
    ranks = np.empty((replicates, len(columns)), dtype=np.int32)
    chunk = max(1, CHUNK_ELEMENTS // max(n_fam, cnt.shape[1]))
    for start in range(0, replicates, chunk):
        size = min(chunk, replicates - start)
        weights = rng.multinomial(m, p, size=size).astype(np.float64)
        ranks[start : start + size] = rank_by_importance(weighted_importance(weights, cnt, s1, s2))[
            :, columns
        ]
    return np.percentile(ranks, [16, 84], axis=0)
