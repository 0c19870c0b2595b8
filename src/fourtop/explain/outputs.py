"""What ``fourtop explain`` writes, and how: a folder made aside and renamed into place.

The output folder holds ``explain.json`` (everything), ``explain.csv`` (one row per
variable), ``attributions.npz`` (the per-event values) and the plots (PNG and PDF, or the
formats asked for):
``ranking`` (the ranks of every method side by side), ``importance`` (each method's values),
and with attributions ``beeswarm`` and ``dependence``.

:func:`replace_folder` writes the new folder as ``.<name>.partial-<pid>`` beside the output
and renames it into place at the end, the old one moved aside first and removed last: a run
killed at any moment leaves the previous output or the new one, never a mixture. A run that
finds the leftovers of a killed one (under the lock) removes a partial folder and puts back an
old output that was moved aside but not replaced.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from fourtop.errors import OutputError
from fourtop.fileio import atomic_output, atomic_write_text, describe_os_error, json_text
from fourtop.plotting import FORMATS, SUPPORTED, save_figure

__all__ = [
    "CSV_FILE",
    "JSON_FILE",
    "NPZ_FILE",
    "PLOTS",
    "check_output",
    "recover",
    "replace_folder",
    "write_csv",
    "write_json",
    "write_npz",
    "write_plots",
]

JSON_FILE = "explain.json"
CSV_FILE = "explain.csv"
NPZ_FILE = "attributions.npz"
#: the plots (PNG and PDF each by default); the last two only with an attribution method
PLOTS = ("ranking", "importance", "beeswarm", "dependence")
#: every name an output folder holds, in any plot format (a folder holding others is not
#: replaced)
_OURS = frozenset(
    [JSON_FILE, CSV_FILE, NPZ_FILE, *(f"{stem}.{ext}" for stem in PLOTS for ext in SUPPORTED)]
)
#: variables shown in the importance and beeswarm plots
TOP = 20
#: events drawn per variable in the beeswarm
BEESWARM_EVENTS = 1500
_PARTIAL = ".partial-"
_OLD = ".old-"


def _aside(output: Path, tag: str) -> str:
    return f".{output.name}{tag}"


def _ours(path: Path, output: Path, tag: str) -> bool:
    """``path`` is exactly ``.<output>`` + ``tag`` + a process number (not the leftover of
    another output whose name starts alike)."""
    return re.fullmatch(re.escape(_aside(output, tag)) + r"\d+", path.name) is not None


def _remove(path: Path) -> None:
    """Remove a folder, file or link, whatever it is; a failure is left for the next run."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(OSError):
            path.unlink()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(output: Path, final: Path, *, default: Path, keep: Sequence[Path]) -> None:
    """Refuse an output folder whose replacement would lose something: the final folder, a
    folder holding it or the results (``keep``), a place inside the final folder other than
    its ``explain`` folder, a file or link, or a folder with other content than an explain
    output.

    Raises:
        ParameterError: the output is one of those.
    """
    from fourtop.errors import ParameterError

    if len(os.fsencode(_aside(output, _PARTIAL) + "4194304")) > 255:
        raise ParameterError(f"-f {output}: the name is too long (its work folder's would be)")
    try:
        where = output.parent.resolve() / output.name
        protected = [(final.resolve(), "the final folder")]
        protected += [(k.resolve(), "the results") for k in keep]
        default = default.parent.resolve() / default.name
        link = output.is_symlink()
        exists = output.exists()
        folder = output.is_dir()
        foreign = sorted(p.name for p in output.iterdir() if p.name not in _OURS) if folder else []
    except (OSError, RuntimeError) as exc:  # a name or path too long, a loop of links
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ParameterError(f"-f {output}: unusable path ({why})") from None
    for precious, what in protected:
        if _inside(precious, where):
            raise ParameterError(f"-f {output}: would replace {what} ({precious})")
    if _inside(where, protected[0][0]) and where != default:
        raise ParameterError(
            f"-f {output}: inside the final folder; only its {default.name}/ folder is written "
            "there (leave -f out, or name a folder outside)"
        )
    if link or (exists and not folder):
        raise ParameterError(f"-f {output}: not a folder (a file or a link); name a folder")
    if foreign:
        raise ParameterError(
            f"-f {output}: holds {foreign[0]!r}"
            + (f" and {len(foreign) - 1} more" if len(foreign) > 1 else "")
            + ", which fourtop explain does not write: name a new folder"
        )


def recover(output: Path) -> list[str]:
    """Tidy what a killed run left beside ``output`` (call under the output's lock).

    Returns:
        What was done, for the user.
    """
    notes = []
    parent = output.parent
    if not parent.is_dir():
        return notes
    for leftover in sorted(parent.glob(glob.escape(_aside(output, _OLD)) + "*")):
        if not _ours(leftover, output, _OLD):
            continue
        if not output.exists() and not output.is_symlink():
            os.replace(leftover, output)
            notes.append(f"{output}: put back (a killed run had moved it aside)")
        else:
            _remove(leftover)
    for leftover in sorted(parent.glob(glob.escape(_aside(output, _PARTIAL)) + "*")):
        if _ours(leftover, output, _PARTIAL):
            _remove(leftover)
            notes.append(f"{leftover}: removed (left by a killed run)")
    return notes


@contextmanager
def replace_folder(output: Path) -> Iterator[Path]:
    """Yield a new empty folder beside ``output`` to write into; on success it replaces
    ``output`` (see the module documentation), on any error it is removed.

    Raises:
        OutputError: the folder cannot be made or renamed.
    """
    partial = output.parent / (_aside(output, _PARTIAL) + str(os.getpid()))
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
    except OSError as exc:
        raise OutputError(
            f"cannot make the output folder {describe_os_error(exc, partial)}"
        ) from None
    try:
        yield partial
        old = output.parent / (_aside(output, _OLD) + str(os.getpid()))
        try:
            moved = False
            if output.exists() or output.is_symlink():
                os.replace(output, old)
                moved = True
            os.replace(partial, output)
        except OSError as exc:
            if moved and not output.exists():
                os.replace(old, output)
            raise OutputError(f"cannot replace {describe_os_error(exc, output)}") from None
        if moved:
            _remove(old)
    finally:
        _remove(partial)


def write_json(folder: Path, doc: dict[str, Any]) -> None:
    """``explain.json``; undefined numbers (a rank correlation of a constant) are null."""
    atomic_write_text(folder / JSON_FILE, json_text(doc, indent=1), what="JSON file")


def write_csv(folder: Path, doc: dict[str, Any]) -> None:
    """One row per variable: each method's value, uncertainty and rank, then the retraining's
    importance and rank, and the variable's separation alone."""
    methods = list(doc["methods"])
    header = ["variable", "index"]
    for m in methods:
        header += [f"{m}", f"{m}_uncertainty", f"{m}_rank"]
    compared = doc.get("comparison") is not None
    header += ["retraining_importance", "retraining_rank"] if compared else []
    header += ["separation"]
    buffer = io.StringIO(newline="")
    w = csv.writer(buffer)
    w.writerow(header)
    for rec in doc["variables"]:
        row: list[Any] = [rec["variable"], rec["index"]]
        for m in methods:
            e = rec[m]
            row += [e["value"], e["uncertainty"], e["rank"]]
        if compared:
            row += [rec["retraining"]["importance"], rec["retraining"]["rank"]]
        row.append(rec["separation"])
        w.writerow(row)
    atomic_write_text(folder / CSV_FILE, buffer.getvalue(), what="CSV file")


def write_npz(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """The per-event values: ``variables``, ``x`` (raw), ``label``, ``weight``, ``fold``,
    ``key`` and one ``[N, n_vars]`` array per attribution method."""
    with atomic_output(folder / NPZ_FILE, what="attributions file") as tmp, open(tmp, "xb") as fh:
        np.savez_compressed(fh, **arrays)


def write_plots(
    folder: Path,
    doc: dict[str, Any],
    arrays: dict[str, np.ndarray],
    formats: Sequence[str] = FORMATS,
) -> list[str]:
    """Write the plots of ``doc`` (and the per-event ``arrays``) in each of ``formats``;
    returns the stems written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    written = []
    with plt.style.context(mplhep.style.CMS):
        for stem, draw in (
            ("ranking", _ranking),
            ("importance", _importance),
            ("beeswarm", _beeswarm),
            ("dependence", _dependence),
        ):
            fig = draw(doc, arrays)
            if fig is None:
                continue
            save_figure(fig, folder, stem, formats)
            written.append(stem)
    return written


_LABELS = {
    "retraining": "retraining\n(calculate)",
    "permutation": "permutation",
    "shap": "SHAP",
    "ig": "integrated\ngradients",
    "lrp": "LRP",
}


def _columns(doc: dict[str, Any]) -> list[str]:
    comparison = doc.get("comparison")
    return (["retraining"] if comparison else []) + list(doc["methods"])


def _rank(rec: dict[str, Any], column: str) -> int:
    return int(rec["retraining"]["rank"] if column == "retraining" else rec[column]["rank"])


def _ranking(doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """A bump chart: one column per answer, a line per variable through its ranks."""
    import matplotlib.pyplot as plt

    columns = _columns(doc)
    records = doc["variables"]
    n = len(records)
    shown = sorted(records, key=lambda r: _rank(r, columns[0]))[: min(n, 30)]
    fig, ax = plt.subplots(figsize=(3 + 2.2 * len(columns), 2 + 0.28 * max(n, 10)))
    cmap = plt.get_cmap("viridis")
    for i, rec in enumerate(shown):
        ys = [_rank(rec, c) for c in columns]
        colour = cmap(i / max(len(shown) - 1, 1))
        ax.plot(range(len(columns)), ys, "-o", color=colour, lw=1.2, ms=4)
        ax.text(-0.08, ys[0], rec["variable"], ha="right", va="center", fontsize=7)
        ax.text(
            len(columns) - 1 + 0.08, ys[-1], rec["variable"], ha="left", va="center", fontsize=7
        )
    ax.set_xticks(range(len(columns)), [_LABELS[c] for c in columns], fontsize=10)
    ax.set_xlim(-1.6, len(columns) + 0.6)
    ax.set_ylim(n + 0.5, 0.5)
    ax.set_ylabel("Rank (1 = most important)", fontsize=12)
    title = f"Top {len(shown)} by {_LABELS[columns[0]].splitlines()[0]}"
    spearman = (doc.get("comparison") or {}).get("spearman") or {}
    if spearman:
        rhos = ", ".join(f"{m} {v['rho']:.2f}" for m, v in spearman.items() if v["rho"] == v["rho"])
        title += f"\nSpearman with retraining: {rhos}"
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=9)
    return fig


def _importance(doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """Each method's value (scaled to its largest) for the top variables, with uncertainties."""
    import matplotlib.pyplot as plt

    methods = list(doc["methods"])
    records = sorted(doc["variables"], key=lambda r: r[methods[0]]["rank"])[:TOP]
    fig, ax = plt.subplots(figsize=(9, 2 + 0.45 * len(records)))
    height = 0.8 / len(methods)
    y = np.arange(len(records))
    for i, m in enumerate(methods):
        top = max(abs(r[m]["value"]) for r in doc["variables"]) or 1.0
        values = np.array([r[m]["value"] for r in records]) / top
        errors = np.array([r[m]["uncertainty"] for r in records]) / top
        ax.barh(
            y + (i - (len(methods) - 1) / 2) * height,
            values,
            height,
            xerr=errors,
            label=_LABELS[m].replace("\n", " "),
            error_kw={"lw": 0.8},
        )
    ax.set_yticks(y, [r["variable"] for r in records], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Importance / largest of the method", fontsize=12)
    ax.legend(fontsize="x-small", loc="lower right")
    return fig


#: the axis label of each attribution method's values
_VALUE_LABELS = {"shap": "SHAP value", "ig": "integrated gradient", "lrp": "LRP relevance"}


def _attribution_source(arrays: dict[str, np.ndarray]) -> str | None:
    """The attribution method the beeswarm and dependence plots show (SHAP first)."""
    return next((m for m in _VALUE_LABELS if m in arrays), None)


def _beeswarm(doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """Per variable (top by mean |attribution|) each event's attribution, coloured by the
    variable's value (its percentile among the events)."""
    import matplotlib.pyplot as plt

    method = _attribution_source(arrays)
    if method is None:
        return None
    values, x = arrays[method], arrays["x"]
    names = [str(v) for v in arrays["variables"]]
    order = [
        names.index(r["variable"])
        for r in sorted(doc["variables"], key=lambda r: r[method]["rank"])
    ]
    order = order[:TOP]
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(9, 2 + 0.45 * len(order)))
    for row, j in enumerate(order):
        take = np.arange(len(values))
        if len(take) > BEESWARM_EVENTS:
            take = np.sort(rng.choice(len(take), BEESWARM_EVENTS, replace=False))
        a = values[take, j]
        pct = np.argsort(np.argsort(x[take, j], kind="stable"), kind="stable") / max(len(a) - 1, 1)
        jitter = rng.uniform(-0.3, 0.3, len(a))
        points = ax.scatter(a, row + jitter, c=pct, cmap="coolwarm", s=3, alpha=0.6, vmin=0, vmax=1)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(order)), [names[j] for j in order], fontsize=8)
    ax.set_ylim(len(order) - 0.5, -0.5)
    label = _VALUE_LABELS[method]
    ax.set_xlabel(f"{label} (contribution to the logit)", fontsize=12)
    bar = fig.colorbar(points, ax=ax, pad=0.01)
    bar.set_label("variable value (percentile)", fontsize=10)
    bar.ax.tick_params(labelsize=9)
    return fig


def _dependence(doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """The attribution against the variable's value, for the four top variables."""
    import matplotlib.pyplot as plt

    method = _attribution_source(arrays)
    if method is None:
        return None
    names = [str(v) for v in arrays["variables"]]
    top = [r["variable"] for r in sorted(doc["variables"], key=lambda r: r[method]["rank"])][:4]
    fig, axes = plt.subplots(2, 2, figsize=(12, 10), squeeze=False)
    label = _VALUE_LABELS[method]
    signal = arrays["label"].astype(bool)
    for ax, name in zip(axes.ravel(), top, strict=False):
        j = names.index(name)
        for sel, colour, what in (
            (~signal, "tab:red", "background"),
            (signal, "tab:blue", "signal"),
        ):
            ax.scatter(
                arrays["x"][sel, j], arrays[method][sel, j], s=3, alpha=0.4, c=colour, label=what
            )
        ax.set_xlabel(name, fontsize=10)
        ax.set_ylabel(label, fontsize=10)
        ax.tick_params(labelsize=8)
    axes[0, 0].legend(fontsize="x-small", markerscale=3)
    for ax in axes.ravel()[len(top) :]:
        ax.set_visible(False)
    return fig
