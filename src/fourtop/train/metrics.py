"""The job's figure of merit: the event-weighted ROC integral (area under the ROC curve)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from fourtop.errors import TrainingError

__all__ = ["balanced_weights", "ks_test", "roc_curve", "roc_integral"]


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


def roc_curve(
    scores: ArrayLike, labels: ArrayLike, weights: ArrayLike | None = None, points: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """Signal efficiency and background rejection (``1 - efficiency``) at ``points`` score
    thresholds (quantiles of the scores), weighted as :func:`roc_integral`.

    Example:
        >>> eff, rej = roc_curve([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0], points=3)
        >>> eff.tolist(), rej.tolist()
        ([1.0, 0.5, 0.0], [0.0, 0.5, 1.0])
    """
    x = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    cuts = np.quantile(x, np.linspace(0.0, 1.0, points)) if len(x) else np.zeros(points)
    cuts[0], cuts[-1] = -np.inf, np.inf
    order = np.argsort(x, kind="stable")
    xs, ws, ys = x[order], w[order], y[order]
    # weight at or above each cut, per class
    above_s = np.r_[np.cumsum(np.where(ys, ws, 0.0)[::-1])[::-1], 0.0]
    above_b = np.r_[np.cumsum(np.where(ys, 0.0, ws)[::-1])[::-1], 0.0]
    idx = np.searchsorted(xs, cuts, side="left")
    eff = above_s[idx] / above_s[0] if above_s[0] else np.zeros(points)
    rej = 1.0 - (above_b[idx] / above_b[0] if above_b[0] else np.zeros(points))
    return eff, rej


def ks_test(
    a: ArrayLike, a_weights: ArrayLike, b: ArrayLike, b_weights: ArrayLike
) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test of weighted samples: ``(D, p-value)``.

    ``D`` is the largest distance between the two weighted cumulative distributions (weights
    taken as ``|w|``); the p-value is Kolmogorov's asymptotic one for the effective sample
    sizes ``(sum w)^2 / sum w^2`` (Kish), which reduces to the usual test for unit weights.
    The overtraining check compares a class's training and test scores this way, as TMVA
    does with its score histograms.

    Example:
        >>> d, p = ks_test([0.1, 0.2, 0.3], [1, 1, 1], [0.1, 0.2, 0.3], [2, 2, 2])
        >>> d, p
        (0.0, 1.0)
    """
    from scipy.special import kolmogorov

    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    wa = np.abs(np.asarray(a_weights, dtype=np.float64))
    wb = np.abs(np.asarray(b_weights, dtype=np.float64))
    if not (wa.sum() > 0 and wb.sum() > 0):
        return float("nan"), float("nan")
    grid = np.sort(np.concatenate([xa, xb]))

    def cdf(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        cum = np.r_[0.0, np.cumsum(w[order])] / w.sum()
        return cum[np.searchsorted(x[order], grid, side="right")]

    d = float(np.max(np.abs(cdf(xa, wa) - cdf(xb, wb))))
    n_a = wa.sum() ** 2 / (wa**2).sum()
    n_b = wb.sum() ** 2 / (wb**2).sum()
    n_eff = n_a * n_b / (n_a + n_b)
    return d, float(kolmogorov(np.sqrt(n_eff) * d)) if d > 0 else 1.0


def balanced_weights(weights: ArrayLike, labels: ArrayLike) -> np.ndarray:
    """|w| with each class scaled to a total of 1/2 (the classes weighted equally, as in
    training), float64; a class whose |w| sums to zero keeps zeros.

    Example:
        >>> balanced_weights([1.0, -3.0, 2.0], [1, 1, 0]).tolist()
        [0.125, 0.375, 0.5]
    """
    w = np.abs(np.asarray(weights, dtype=np.float64))
    y = np.asarray(labels).astype(bool)
    out = np.zeros_like(w)
    for cls in (True, False):
        total = w[y == cls].sum()
        if total > 0:
            out[y == cls] = w[y == cls] / (2 * total)
    return out
