"""Plots of a ranking: importance with bootstrap intervals, and ROC-difference histograms.

matplotlib (Agg backend, no display needed) with mplhep's CMS style; each plot in the formats
asked for (:func:`fourtop.plotting.save_figure`; PNG and PDF by default).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fourtop.importance.rootfile import common_edges
from fourtop.importance.stats import VariableStats
from fourtop.plotting import FORMATS, save_figure

__all__ = ["plot_differences", "plot_ranking"]

log = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.CMS)
    return plt, mplhep


def _save(fig, folder: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    """Save ``folder/stem.<format>`` for each format atomically (100 dpi PNG); close it."""
    return save_figure(fig, folder, stem, formats, dpi=100)


def _label(ax, mplhep, text: str) -> None:
    mplhep.cms.label(data=False, ax=ax, rlabel=text, loc=0)


def plot_ranking(
    folder: Path,
    stem: str,
    rows: Sequence[VariableStats],
    *,
    title: str = "",
    top: int | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Horizontal ranking: importance per tested variable with 68 % and 95 % intervals.

    ``rows`` are drawn top to bottom in the order given (never-tested rows are skipped);
    ``top`` limits the number of variables drawn. Written as ``folder/stem.<format>`` for
    each of ``formats``; returns the files.
    """
    plt, mplhep = _pyplot()
    shown = [r for r in rows if r.tested][: top or None]
    n = len(shown)
    fig, ax = plt.subplots(figsize=(12, max(5.0, 1.5 + 0.32 * n)))
    y = np.arange(n)[::-1]
    imp = np.array([r.importance for r in shown])
    for attr, color, lw, lab in (
        ("importance_ci95", "#f5a623", 6, "95% bootstrap"),
        ("importance_ci68", "#3f90da", 6, "68% bootstrap"),
    ):
        lo = np.array([(getattr(r, attr) or (r.importance, r.importance))[0] for r in shown])
        hi = np.array([(getattr(r, attr) or (r.importance, r.importance))[1] for r in shown])
        ax.hlines(y, lo, hi, color=color, lw=lw, label=lab, alpha=0.8)
    defined = np.array([r.importance_defined for r in shown], dtype=bool)
    ax.plot(imp[defined], y[defined], "o", color="black", ms=5, label="importance")
    if (~defined).any():
        ax.plot(
            imp[~defined],
            y[~defined],
            "x",
            color="red",
            ms=7,
            label="undefined (<2 differences or RMS 0)",
        )
    ax.axvline(0.0, color="grey", lw=1, ls="--")
    ax.set_yticks(y, [r.name for r in shown], fontsize=max(8, 16 - n // 8))
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("Importance = mean / RMS of ROC(seed) - ROC(subseed)", fontsize=18)
    ax.legend(loc="lower right", fontsize=12)
    _label(ax, mplhep, title)
    fig.tight_layout()
    return _save(fig, folder, stem, formats)


def plot_differences(
    folder: Path,
    stem: str,
    rows: Sequence[VariableStats],
    *,
    leading: int = 6,
    title: str = "",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Histograms of ROC(seed) - ROC(subseed) of the ``leading`` first tested rows, as
    ``folder/stem.<format>`` for each of ``formats``; returns the files."""
    plt, mplhep = _pyplot()
    shown = [r for r in rows if r.tested][:leading]
    edges = common_edges(shown, bins=50, symmetric=False)
    fig, ax = plt.subplots(figsize=(12, 9))
    for r in shown:
        counts, _ = np.histogram(r.differences, bins=edges)
        mplhep.histplot(counts, edges, ax=ax, lw=2, label=f"{r.name} (n={r.n}, mean={r.mean:.4f})")
    ax.axvline(0.0, color="grey", lw=1, ls="--")
    ax.set_xlabel("ROC(seed) - ROC(subseed)")
    ax.set_ylabel("Subseeds")
    ax.legend(fontsize=12, loc="upper right")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
    _label(ax, mplhep, title)
    fig.tight_layout()
    return _save(fig, folder, stem, formats)
