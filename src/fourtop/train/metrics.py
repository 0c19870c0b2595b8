"""The job's figure of merit: the event-weighted ROC integral (area under the ROC curve)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from fourtop.errors import TrainingError

__all__ = ["roc_integral"]


def roc_integral(scores: ArrayLike, labels: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Event-weighted area under the ROC curve.

    The probability that a signal event scores above a background event, each pair counted with
    the product of the two events' weights, ties counting one half:
    ``sum_{s, b} w_s w_b ([x_s > x_b] + [x_s = x_b] / 2) / (W_s W_b)``. This is TMVA's ROC
    integral (the area under background rejection versus signal efficiency). Weights are used with
    their sign, as TMVA does, so negative-weight events subtract; with many of them the value can
    in principle leave [0, 1].

    Args:
        scores: classifier outputs, larger = more signal-like.
        labels: 1 for signal, 0 for background.
        weights: event weights (None = all 1).

    Raises:
        TrainingError: shapes differ, scores or weights are not finite, or a class has a
            non-positive total weight.

    Example:
        >>> roc_integral([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0])
        0.75
    """
    x = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (x.shape == y.shape == w.shape):
        raise TrainingError(
            f"roc_integral: scores, labels and weights differ in length "
            f"({x.size}, {y.size}, {w.size})"
        )
    if not np.all(np.isfinite(x)):
        raise TrainingError("roc_integral: scores contain NaN or infinity (training diverged?)")
    if not np.all(np.isfinite(w)):
        raise TrainingError("roc_integral: weights contain NaN or infinity")
    ws = np.where(y, w, 0.0)
    wb = np.where(y, 0.0, w)
    total_s, total_b = ws.sum(), wb.sum()
    if not (total_s > 0 and total_b > 0):
        raise TrainingError(
            f"roc_integral: total signal weight {total_s:g} and background weight {total_b:g} "
            "must both be positive"
        )
    # group equal scores; for each distinct score, the background weight strictly below it
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    sig_at = np.add.reduceat(ws[order], starts)
    bkg_at = np.add.reduceat(wb[order], starts)
    bkg_below = np.cumsum(bkg_at) - bkg_at
    area = np.sum(sig_at * (bkg_below + 0.5 * bkg_at))
    return float(area / (total_s * total_b))
