"""Weighted linear correlations of the input variables (for ``submit -c``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fourtop.errors import DataError

if TYPE_CHECKING:
    from fourtop.data.ntuples import SplitArrays

__all__ = ["correlation_matrix"]


def correlation_matrix(arrays: SplitArrays, names: list[str]) -> np.ndarray:
    """Weighted Pearson correlation matrix of ``names`` on the signal sample.

    The event weights are used as they are, negative ones included (they subtract, as in
    a weighted histogram); weights that sum to zero or less (which
    :func:`~fourtop.data.ntuples.load_split` refuses) are replaced by their absolute values,
    and by 1 if those are all zero. A variable that is constant, or has values that are not
    finite, has correlation 0 with the others and 1 with itself.

    Args:
        arrays: selected events (see :func:`fourtop.data.ntuples.load_split`).
        names: variables, in the order of the result's rows and columns.

    Returns:
        ``(len(names), len(names))`` float64 matrix.

    Raises:
        VariableError: a name is not in the arrays.
        DataError: the signal weights are not finite.
    """
    x = arrays.signal[:, arrays.columns(names)].astype(np.float64)
    w = arrays.signal_weight.astype(np.float64)
    if not np.isfinite(w).all():
        raise DataError("correlation matrix: the signal weights are not finite (NaN or infinite)")
    total = w.sum()
    if not total > 0:
        w = np.abs(w)
        total = w.sum()
    if not total > 0:
        w, total = np.ones_like(w), float(len(w))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mean = (w[:, None] * x).sum(axis=0) / total
        d = x - mean
        cov = (d * w[:, None]).T @ d / total
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        corr = cov / np.outer(sd, sd)
    corr[~np.isfinite(corr)] = 0.0
    corr = np.clip(corr, -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    return corr
