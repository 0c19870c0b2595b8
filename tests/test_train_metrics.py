"""The weighted ROC integral against a brute-force pairwise computation."""

from __future__ import annotations

import numpy as np
import pytest

from fourtop.errors import TrainingError
from fourtop.train.metrics import roc_integral


def brute_force_auc(scores, labels, weights) -> float:
    """sum over (signal, background) pairs of w_s w_b ([x_s > x_b] + [x_s == x_b] / 2)."""
    num = 0.0
    for xs, ys, ws in zip(scores, labels, weights, strict=True):
        if not ys:
            continue
        for xb, yb, wb in zip(scores, labels, weights, strict=True):
            if yb:
                continue
            num += ws * wb * (1.0 if xs > xb else 0.5 if xs == xb else 0.0)
    w = np.asarray(weights)
    y = np.asarray(labels).astype(bool)
    return num / (w[y].sum() * w[~y].sum())


@pytest.mark.parametrize("seed", range(5))
def test_matches_pairwise_computation_with_ties_and_negative_weights(seed):
    rng = np.random.default_rng(seed)
    n = 60
    scores = rng.integers(0, 12, n) / 4.0  # many ties
    labels = rng.integers(0, 2, n)
    weights = rng.uniform(0.2, 2.0, n) * np.where(rng.random(n) < 0.15, -1, 1)
    assert roc_integral(scores, labels, weights) == pytest.approx(
        brute_force_auc(scores, labels, weights), rel=1e-12
    )


def test_unweighted_special_cases():
    assert roc_integral([3, 2, 1, 0], [1, 1, 0, 0]) == 1.0
    assert roc_integral([3, 2, 1, 0], [0, 0, 1, 1]) == 0.0
    assert roc_integral([1, 1, 1, 1], [1, 0, 1, 0]) == 0.5


def test_weights_matter():
    scores, labels = [0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0]
    assert roc_integral(scores, labels) == 0.75
    # the misordered signal event weighs 3: 2 of 4 pairs... weighted (1*2 + 3*1) / (4*2)
    assert roc_integral(scores, labels, [1, 1, 3, 1]) == pytest.approx((1 * 2 + 3 * 1) / 8)


def test_bad_inputs():
    with pytest.raises(TrainingError, match="differ in length"):
        roc_integral([1, 2], [1, 0, 1])
    with pytest.raises(TrainingError, match="NaN"):
        roc_integral([np.nan, 1], [1, 0])
    with pytest.raises(TrainingError, match="signal weight 0 "):
        roc_integral([1, 2], [0, 0])


def test_weights_must_be_finite():
    with pytest.raises(TrainingError, match="weights contain NaN or infinity"):
        roc_integral([1, 2], [1, 0], [np.inf, 1])
