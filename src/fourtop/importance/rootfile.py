"""``ROC_hists_<N>vars.root``: one histogram of seed-minus-subseed ROC differences per variable.

Written with uproot (no ROOT needed); ROOT and uproot read it back. Every histogram has
the same binning (``BINS`` bins over the range of all differences, padded, symmetric about
zero when the differences straddle it) so they can be overlaid; a never-tested variable
gets an empty histogram. Histograms are named after the variable (a ``/`` in a name becomes
``_``) and titled with the variable name; the axes read ``ROC(seed) - ROC(subseed)`` and
``subseeds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fourtop.fileio import atomic_output
from fourtop.importance.stats import VariableStats

__all__ = ["BINS", "common_edges", "roc_hists_filename", "write_roc_hists"]

#: number of bins of every histogram
BINS = 50


def roc_hists_filename(nvars: int) -> str:
    return f"ROC_hists_{nvars}vars.root"


def common_edges(
    rows: Sequence[VariableStats], bins: int = BINS, symmetric: bool = True
) -> np.ndarray:
    """Bin edges covering every difference of every row (never an empty range).

    ``symmetric`` centres a range that spans zero on zero (the ROOT histograms); plots
    use the data's own range for finer bins.
    """
    values = [r.differences for r in rows if r.differences.size]
    if not values:
        return np.linspace(-0.01, 0.01, bins + 1)
    allv = np.concatenate(values)
    lo, hi = float(allv.min()), float(allv.max())
    if symmetric and lo < 0 < hi:
        lo, hi = -max(-lo, hi), max(-lo, hi)
    pad = max(0.05 * (hi - lo), 1e-4)
    return np.linspace(lo - pad, hi + pad, bins + 1)


def _th1d(name: str, title: str, values: np.ndarray, edges: np.ndarray):
    import uproot.writing.identify as identify

    counts, _ = np.histogram(values, bins=edges)
    data = np.zeros(len(edges) + 1, dtype=np.float64)  # underflow, bins, overflow
    data[1:-1] = counts
    data[0] = np.count_nonzero(values < edges[0])
    data[-1] = np.count_nonzero(values >= edges[-1])
    axis = identify.to_TAxis(
        "xaxis", "ROC(seed) - ROC(subseed)", len(edges) - 1, float(edges[0]), float(edges[-1])
    )
    n = float(values.size)
    return identify.to_TH1x(
        fName=name,
        fTitle=title,
        data=data,
        fEntries=n,
        fTsumw=n,
        fTsumw2=n,
        fTsumwx=float(values.sum()),
        fTsumwx2=float((values**2).sum()),
        fSumw2=data.copy(),
        fXaxis=axis,
        fYaxis=identify.to_TAxis("yaxis", "subseeds", 1, 0.0, 1.0),
    )


def write_roc_hists(path: Path, rows: Sequence[VariableStats], bins: int = BINS) -> Path:
    """Write one TH1D of ROC differences per row (in the order given) to ``path``.

    Written under a temporary name unique to this process and renamed into place
    (:func:`fourtop.fileio.atomic_output`), so concurrent writers never share a file.
    """
    import uproot

    edges = common_edges(rows, bins)
    with atomic_output(path, what="ROOT file") as tmp, uproot.recreate(tmp) as f:
        for r in rows:
            key = r.name.replace("/", "_")
            f[key] = _th1d(key, r.name, r.differences, edges)
    return path
