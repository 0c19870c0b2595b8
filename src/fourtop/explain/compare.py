"""The final network's importances beside the retraining ranking of ``calculate``.

Ranks are over the model's variables (1 = most important). Per method, Spearman's rank
correlation with the retraining importance says how far the two answers agree. The variables
whose ranks differ most get the reason the data suggests:

* **redundant** with a correlated partner (``|correlation| >= threshold``, the correlated
  groups of ``submit -c``) when the pair matters: a network retrained without one loses
  little, since the other carries the same information. The pairwise permutation says how
  the trained network uses the pair: shuffling both costs at least the two drops added (it
  can use either), or less (shuffling one alone makes events the data do not have, the two
  disagreeing, which overstates that variable's own drop).
* **informative only together** with another variable: alone it separates the classes little
  (ROC integral below :data:`WEAK_SEPARATION`), yet shuffling it costs the network a drop
  that matters, and shuffling it with the partner costs less than the two drops added, by an
  amount that matters (sub-additive): the pair carries one piece of information jointly.
* **unused**: ranked lower by the methods than by retraining (which gave it a positive
  importance), no correlated partner, and shuffling it costs this network no drop that
  matters: what retraining credits it with reaches the network through other variables (or
  the retraining rank is uncertain).
* otherwise ``none``: no pair explains it (the retraining's rank interval, when known, says
  whether its rank is uncertain).

A drop "matters" when it exceeds two standard errors over the folds and is at least
:data:`MATERIAL` of the largest single variable's drop (with few folds, the standard error
alone is a rough guide).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fourtop.explain.methods import Estimate, Shuffle

__all__ = [
    "DISAGREEMENTS",
    "WEAK_SEPARATION",
    "Disagreement",
    "disagreements",
    "ranks",
    "spearman",
]

#: the variables reported as disagreeing most
DISAGREEMENTS = 10
#: a variable alone with a ROC integral below this separates the classes little
WEAK_SEPARATION = 0.55
#: partners tried for an interaction: the variables with the largest permutation drops
INTERACTION_CANDIDATES = 5
_SIGNIFICANT = 2.0
#: a drop that matters is at least this fraction of the largest single variable's drop
MATERIAL = 0.05


def ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks of ``values``, 1 for the largest; ties keep their order.

    Example:
        >>> ranks([0.1, 0.5, 0.3]).tolist()
        [3, 1, 2]
    """
    order = np.argsort(-np.asarray(values, dtype=np.float64), kind="stable")
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.arange(1, len(order) + 1)
    return out


def spearman(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Spearman's rank correlation of ``a`` and ``b`` and its p-value (NaN when a side is
    constant or there are fewer than 3 values)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan"), float("nan")
    result = spearmanr(a, b)
    return float(result.statistic), float(result.pvalue)


@dataclass
class Disagreement:
    """A variable whose ranks differ most, and the reason the data suggests."""

    variable: str
    retraining_rank: int
    ranks: dict[str, int]
    reason: str
    text: str
    partner: str | None = None
    correlation: float | None = None
    drops: dict[str, dict[str, Any]] = field(default_factory=dict)
    separation: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "variable": self.variable,
            "retraining_rank": self.retraining_rank,
            "ranks": self.ranks,
            "mean_rank_difference": float(
                np.mean([abs(r - self.retraining_rank) for r in self.ranks.values()])
            ),
            "reason": self.reason,
            "partner": self.partner,
            "correlation": self.correlation,
            "separation": self.separation,
            "drops": self.drops,
            "text": self.text,
        }


def _difference(a: Estimate, b: Estimate, both: Estimate) -> Estimate:
    """``a + b - both`` per fold: > 0 sub-additive (shared), < 0 super-additive."""
    return Estimate(a.per_fold + b.per_fold - both.per_fold)


def _clearly_positive(e: Estimate) -> bool:
    return e.value > 0 and e.value > _SIGNIFICANT * e.uncertainty


def _matters(e: Estimate, largest: float) -> bool:
    """A drop that is clearly positive and at least :data:`MATERIAL` of the largest single
    variable's (with few folds the standard error alone is a rough guide)."""
    return _clearly_positive(e) and e.value >= MATERIAL * largest


def disagreements(
    variables: Sequence[str],
    retraining: np.ndarray,
    method_ranks: Mapping[str, np.ndarray],
    *,
    corr: np.ndarray,
    threshold: float,
    separation: np.ndarray,
    drop: Callable[[Shuffle], Estimate],
    single: Sequence[Estimate],
    rank_intervals: Mapping[str, Sequence[float]] | None = None,
    credited: np.ndarray | None = None,
    count: int = DISAGREEMENTS,
) -> list[Disagreement]:
    """The ``count`` variables whose method ranks differ most from their retraining rank
    (mean absolute difference over the methods), each with its reason (see the module
    documentation).

    Args:
        retraining: the retraining ranks of ``variables``.
        method_ranks: per method, the ranks of ``variables``.
        corr: the correlation matrix of ``variables``.
        threshold: ``|correlation|`` from which two variables are a correlated pair.
        separation: each variable's ROC integral alone (:func:`single_separation`).
        drop: the permutation drop of a shuffle.
        single: each variable's permutation drop alone.
        rank_intervals: the retraining's 68 % rank intervals by variable, when known (and
            comparable: the results rank exactly the model's variables).
        credited: per variable, whether retraining gave it a positive importance (default:
            all); only a credited variable can be "unused".
    """
    n = len(variables)
    if n < 2 or not method_ranks:
        return []
    diff = np.mean([np.abs(r - retraining) for r in method_ranks.values()], axis=0)
    order = np.argsort(-diff, kind="stable")
    by_drop = np.argsort(-np.array([s.value for s in single]), kind="stable")
    out = []
    for v in order[: min(count, n)]:
        if diff[v] == 0:
            break
        out.append(
            _reason(
                int(v),
                variables,
                int(retraining[v]),
                {m: int(r[v]) for m, r in method_ranks.items()},
                corr,
                threshold,
                separation,
                drop,
                single,
                by_drop,
                rank_intervals,
                credited is None or bool(credited[v]),
            )
        )
    return out


def _fmt(e: Estimate) -> str:
    return f"{e.value:.4f} +- {e.uncertainty:.4f}"


def _reason(
    v: int,
    variables: Sequence[str],
    retraining_rank: int,
    method_ranks: dict[str, int],
    corr: np.ndarray,
    threshold: float,
    separation: np.ndarray,
    drop: Callable[[Shuffle], Estimate],
    single: Sequence[Estimate],
    by_drop: np.ndarray,
    rank_intervals: Mapping[str, Sequence[float]] | None,
    credited: bool,
) -> Disagreement:
    name = variables[v]
    largest = max(e.value for e in single)
    others = np.abs(np.asarray(corr[v], dtype=np.float64)).copy()
    others[v] = -1.0
    p = int(np.argmax(others))
    rho = float(corr[v, p])
    base = {
        "variable": name,
        "retraining_rank": retraining_rank,
        "ranks": method_ranks,
        "separation": float(separation[v]),
    }

    def record(q: int, both: Estimate) -> dict[str, dict[str, Any]]:
        return {
            "alone": single[v].to_dict(),
            "partner_alone": single[q].to_dict(),
            "together": both.to_dict(),
        }

    if abs(rho) >= threshold:
        both = drop(((v,), (p,)))
        if not (_matters(both, largest) or _matters(single[v], largest)):
            why = (
                f"this network's separation barely depends on either (shuffling {name} "
                f"costs {_fmt(single[v])}, both together {_fmt(both)})"
            )
        elif _clearly_positive(_difference(single[v], single[p], both)):
            why = (
                f"shuffling {name} alone makes events the data do not have (the pair "
                f"disagree), so its own drop of {_fmt(single[v])} overstates what it adds: "
                f"both together cost {_fmt(both)}, {variables[p]} alone {_fmt(single[p])}"
            )
        else:
            why = (
                f"shuffling both drops the ROC integral by {_fmt(both)}, {name} alone by "
                f"{_fmt(single[v])} and {variables[p]} alone by {_fmt(single[p])}: the "
                "network can use either"
            )
        return Disagreement(
            **base,
            reason="redundant",
            partner=variables[p],
            correlation=rho,
            drops=record(p, both),
            text=(
                f"redundant with {variables[p]} (correlation {rho:+.2f}): {why}; a network "
                "retrained without one loses little"
            ),
        )
    if separation[v] < WEAK_SEPARATION and _matters(single[v], largest):
        candidates = [int(q) for q in by_drop if q != v][:INTERACTION_CANDIDATES]
        best: tuple[float, int, Estimate] | None = None
        for q in candidates:
            both = drop(((v,), (q,)))
            shared = _difference(single[v], single[q], both)
            if _matters(shared, largest) and (best is None or shared.value > best[0]):
                best = (shared.value, q, both)
        if best is not None:
            _, q, both = best
            return Disagreement(
                **base,
                reason="informative only together",
                partner=variables[q],
                correlation=float(corr[v, q]),
                drops=record(q, both),
                text=(
                    f"informative only together with {variables[q]}: alone {name} separates "
                    f"little (ROC integral {separation[v]:.3f}), yet shuffling it drops the "
                    f"network's by {_fmt(single[v])}, {variables[q]} by {_fmt(single[q])}, and "
                    f"both together only by {_fmt(both)}: they carry one piece of "
                    "information jointly"
                ),
            )
    lower = np.mean(list(method_ranks.values())) > retraining_rank
    if lower and credited and not _matters(single[v], largest):
        reason = "unused"
        text = (
            f"this network barely uses it (shuffling it costs {_fmt(single[v])}; no variable "
            f"is correlated with it above {threshold:.2f}): what retraining credits it with "
            "reaches this network through other variables, or its retraining rank is uncertain"
        )
    else:
        reason = "none"
        text = (
            f"no pair explains it (the most correlated variable, {variables[p]}, has "
            f"{rho:+.2f}, below {threshold:.2f}; shuffling it costs {_fmt(single[v])})"
        )
    interval = (rank_intervals or {}).get(name)
    if interval is not None:
        low, high = interval
        text += f"; the retraining rank's 68 % interval is {low:.0f}-{high:.0f}"
    return Disagreement(**base, reason=reason, partner=variables[p], correlation=rho, text=text)
