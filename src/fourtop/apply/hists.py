"""Score histograms per sample: one ROOT file of TH1Ds for a statistical tool, one stacked plot.

For every sample of a run (a signal or background file name less ``_split<N>``, or an extra
sample's name), the score of the events that pass the configuration's selection, weighted
by its weight, in :data:`BINS` bins over [0, 1] (a score of exactly 1 goes into the last bin).
The score is read back from the outputs and the selection and weight from the inputs, in
chunks. A signal or background sample with files in several splits is the *mean* of its
splits' histograms: each split of a sample is weighted to the whole luminosity on its own
(as ``fourtop generate``'s are), so the mean is the sample's prediction with the statistics
of every split (a file that serves all splits counts once).

Files (in ``<output>/hists``): ``<branch>_hists.root`` with one TH1D per sample, named after
the sample (a datacard maps it with ``shapes * * <file> $PROCESS``), and ``<branch>_stack.png``
and ``.pdf`` (or the formats asked for; one of an earlier run in another format is removed):
the backgrounds stacked, each signal overlaid as a line scaled to the total background, a
sample named ``data...`` as points, no ratio panel. Other extra samples (systematic
variations) are in the ROOT file only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fourtop.apply.plan import ApplyPlan, InputFile
from fourtop.data.formula import Formula
from fourtop.data.ntuples import check_root_file, open_tree
from fourtop.errors import ConfigError, DataError, did_you_mean
from fourtop.fileio import atomic_output
from fourtop.plotting import FORMATS, save_figure

__all__ = ["BINS", "HISTS_DIR", "SampleHist", "file_hist", "make_hists", "sample_hists"]

log = logging.getLogger(__name__)

#: bins over [0, 1]
BINS = 40
#: the subfolder of the output folder the histograms go to
HISTS_DIR = "hists"
_STEP = 200_000


@dataclass
class SampleHist:
    """A sample's weighted score histogram.

    ``sumw``/``sumw2``: ``BINS + 2`` values (underflow, the bins, overflow, as ROOT keeps
    them); ``stats``: the in-range sums of w, w², w·x and w·x² (ROOT's ``fTsumw...``);
    ``entries``: the selected events read (every file once).
    """

    name: str
    kind: str
    sumw: np.ndarray = field(default_factory=lambda: np.zeros(BINS + 2))
    sumw2: np.ndarray = field(default_factory=lambda: np.zeros(BINS + 2))
    stats: np.ndarray = field(default_factory=lambda: np.zeros(4))
    entries: int = 0

    @property
    def total(self) -> float:
        """The weighted events in range."""
        return float(self.sumw[1:-1].sum())


def edges() -> np.ndarray:
    """The bin edges: :data:`BINS` bins over [0, 1]."""
    return np.linspace(0.0, 1.0, BINS + 1)


def file_hist(plan: ApplyPlan, item: InputFile, selection: str, weight: str) -> SampleHist:
    """The histogram of one input file (its output's score, its selection and weight).

    Raises:
        DataError: the input or output cannot be read, or lacks a branch.
        ExpressionError: the selection or weight reads a branch the input does not have.
    """
    import uproot

    src, out = Path(item.input), plan.output_path(item)
    sel, wgt = Formula(selection, "selection"), Formula(weight, "weight")
    result = SampleHist(item.sample, item.kind)
    bins = edges()
    check_root_file(src)
    check_root_file(out)
    try:
        fin, fout = uproot.open(src), uproot.open(out)
    except Exception as exc:
        raise DataError(f"{src}: cannot open as a ROOT file ({exc.__class__.__name__})") from None
    with fin, fout:
        tree: Any = open_tree(fin, src, plan.tree)
        scores: Any = open_tree(fout, out, plan.tree)
        names = list(scores.keys())
        if plan.branch not in names:
            raise DataError(f"{out}: no branch {plan.branch!r}{did_you_mean(plan.branch, names)}")
        available = list(tree.keys())
        sel.check_branches(available, str(src))
        wgt.check_branches(available, str(src))
        needed = list(dict.fromkeys([*sel.branches, *wgt.branches]))
        jagged = sel.indexed | wgt.indexed
        n = int(tree.num_entries)
        if int(scores.num_entries) != n:
            raise DataError(
                f"{out}: {scores.num_entries} entries for the {n} of {src}; run apply again"
            )
        try:
            for start in range(0, n, _STEP):
                stop = min(n, start + _STEP)
                chunk = tree.arrays(needed, entry_start=start, entry_stop=stop, library="ak")
                data = {b: chunk[b] if b in jagged else chunk[b].to_numpy() for b in needed}
                s, ok_s = sel.evaluate(data, stop - start)
                w, ok_w = wgt.evaluate(data, stop - start)
                x = scores[plan.branch].array(entry_start=start, entry_stop=stop, library="np")
                keep = ok_s & (s != 0) & ok_w & np.isfinite(x) & np.isfinite(w)
                _fill(result, x[keep].astype(np.float64), w[keep], bins)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(
                f"{src}: cannot read tree {plan.tree!r} ({exc.__class__.__name__})"
            ) from None
    return result


def _fill(h: SampleHist, x: np.ndarray, w: np.ndarray, bins: np.ndarray) -> None:
    index = np.searchsorted(bins, x, side="right")
    index[x == bins[-1]] = len(bins) - 1  # a score of exactly 1: the last bin, not overflow
    h.sumw += np.bincount(index, weights=w, minlength=len(bins) + 1)
    h.sumw2 += np.bincount(index, weights=w * w, minlength=len(bins) + 1)
    inside = (index > 0) & (index < len(bins))
    xi, wi = x[inside], w[inside]
    h.stats += [wi.sum(), (wi * wi).sum(), (wi * xi).sum(), (wi * xi * xi).sum()]
    h.entries += len(x)


def sample_hists(
    plan: ApplyPlan,
    selection: str,
    weight: str,
    files: Sequence[InputFile] | None = None,
    sample_weights: Mapping[str, str] | None = None,
) -> list[SampleHist]:
    """The histogram of every sample of ``plan`` (signal, background, then extra samples).

    ``sample_weights``: the extra samples with a weight of their own (data: ``"1"``).

    Raises:
        ConfigError: two samples of different kinds with one name.
        DataError, ExpressionError: as :func:`file_hist`.
    """
    items = list(plan.files if files is None else files)
    kinds: dict[str, str] = {}
    for item in items:
        if kinds.setdefault(item.sample, item.kind) != item.kind:
            raise ConfigError(
                f"{plan.config}: the sample name {item.sample!r} is both {kinds[item.sample]} "
                f"and {item.kind}: rename the files or the extra sample"
            )
    out = []
    for name, kind in kinds.items():
        members = [i for i in items if i.sample == name]
        own = (sample_weights or {}).get(name) if kind == "extra" else None
        parts = [file_hist(plan, i, selection, own or weight) for i in members]
        total = SampleHist(name, kind, entries=sum(p.entries for p in parts))
        splits = sorted({s for i in members for s in i.splits})
        if kind == "extra" or not splits:
            for p in parts:
                total.sumw += p.sumw
                total.sumw2 += p.sumw2
                total.stats += p.stats
        else:  # the mean of the splits' histograms
            for i, p in zip(members, parts, strict=True):
                share = len(i.splits) / len(splits)
                total.sumw += p.sumw * share
                total.sumw2 += p.sumw2 * share**2
                total.stats += p.stats * share
        out.append(total)
    return out


def _th1d(h: SampleHist, branch: str) -> Any:
    import uproot.writing.identify as identify

    bins = edges()
    axis = identify.to_TAxis("xaxis", branch, BINS, float(bins[0]), float(bins[-1]))
    return identify.to_TH1x(
        fName=h.name,
        fTitle=f"{h.name} ({h.kind})",
        data=h.sumw.astype(np.float64),
        fEntries=float(h.entries),
        fTsumw=float(h.stats[0]),
        fTsumw2=float(h.stats[1]),
        fTsumwx=float(h.stats[2]),
        fTsumwx2=float(h.stats[3]),
        fSumw2=h.sumw2.astype(np.float64),
        fXaxis=axis,
        fYaxis=identify.to_TAxis("yaxis", "events", 1, 0.0, 1.0),
    )


def write_root(path: Path, hists: Sequence[SampleHist], branch: str) -> Path:
    """One TH1D per sample, named after it, written atomically."""
    import uproot

    with atomic_output(path, what="histogram file") as tmp, uproot.recreate(tmp) as f:
        for h in hists:
            f[h.name] = _th1d(h, branch)
    return path


def plot_stack(
    folder: Path,
    stem: str,
    hists: Sequence[SampleHist],
    branch: str,
    label: str,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Backgrounds stacked, signals overlaid (scaled to the background), ``data*`` as points;
    written as ``folder/stem.<format>`` for each of ``formats`` (the files of this plot in
    other formats are removed); returns the files."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.CMS)
    bins = edges()
    fig, ax = plt.subplots(figsize=(16, 8))
    try:
        background = sorted((h for h in hists if h.kind == "background"), key=lambda h: h.total)
        if background:
            colors = plt.get_cmap("tab20")(np.linspace(0, 1, 20))[: len(background)]
            mplhep.histplot(
                [h.sumw[1:-1] for h in background],
                bins,
                stack=True,
                histtype="fill",
                label=[h.name for h in background],
                color=list(colors) if len(background) > 8 else None,
                ax=ax,
            )
        total = sum(h.total for h in background)
        styles = ("-", "--", ":", "-.")
        for i, h in enumerate(h for h in hists if h.kind == "signal"):
            scale = total / h.total if total > 0 and h.total > 0 else 1.0
            mplhep.histplot(
                h.sumw[1:-1] * scale,
                bins,
                histtype="step",
                linewidth=2.5,
                color="black",
                linestyle=styles[i % len(styles)],
                label=f"{h.name} (x{scale:.3g})",
                ax=ax,
            )
        for h in (h for h in hists if h.kind == "extra" and h.name.lower().startswith("data")):
            mplhep.histplot(
                h.sumw[1:-1],
                bins,
                yerr=np.sqrt(np.abs(h.sumw2[1:-1])),
                histtype="errorbar",
                color="black",
                label=h.name,
                ax=ax,
            )
        ax.set_xlabel(branch)
        ax.set_ylabel(f"events / {1 / BINS:g}")
        ax.set_xlim(0, 1)
        if ax.get_legend_handles_labels()[0]:  # (only systematic variations: nothing drawn)
            ax.legend(fontsize="xx-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        mplhep.cms.label(data=False, ax=ax, rlabel=label, loc=0)
    except BaseException:
        plt.close(fig)
        raise
    return save_figure(fig, folder, stem, formats, dpi=100, replace_others=True)


def make_hists(
    plan: ApplyPlan,
    selection: str,
    weight: str,
    sample_weights: Mapping[str, str] | None = None,
    formats: Sequence[str] = FORMATS,
) -> tuple[list[SampleHist], list[Path]]:
    """Histograms of every sample of ``plan``, written as ROOT file and plot (in each of
    ``formats``); returns them and the files written (the ROOT file first).

    Raises:
        ConfigError, DataError, ExpressionError: as :func:`sample_hists`.
        OutputError: a file cannot be written.
    """
    from fourtop.errors import OutputError
    from fourtop.fileio import describe_os_error

    hists = sample_hists(plan, selection, weight, sample_weights=sample_weights)
    folder = Path(plan.output_dir) / HISTS_DIR
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {describe_os_error(exc, folder)}") from None
    root = write_root(folder / f"{plan.branch}_hists.root", hists, plan.branch)
    plots = plot_stack(folder, f"{plan.branch}_stack", hists, plan.branch, plan.key, formats)
    return hists, [root, *plots]
