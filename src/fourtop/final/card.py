"""What a finished final training leaves besides its models: the model card, the summary and
the plots.

Written once every fold is complete, from the plan and the folds' metrics files. The card
(``model_card.json``) is written last: a final folder with a card is complete, and that is
what ``fourtop apply`` reads (:func:`fourtop.final.model.load_final_model`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from fourtop import __version__
from fourtop.fileio import atomic_write_text
from fourtop.final.fold import FinalPlan, read_fold
from fourtop.final.model import CARD_FILE, CARD_FORMAT, CARD_VERSION
from fourtop.plotting import FORMATS, check_formats, save_figure

__all__ = ["FOLD_RULE", "PLOTS", "SUMMARY_FILE", "build_card", "write_outputs"]

#: the summary's file name
SUMMARY_FILE = "final_summary.txt"
#: the plots (each as PNG and PDF, or in the formats asked for)
PLOTS = ("roc_folds", "overtraining", "training_history")
#: the fold rule, in words, for the card
FOLD_RULE = (
    "fold = event_id mod k (0 to k-1); the model of fold i was trained on the events of the "
    "other folds and scores the events of fold i"
)
_METRICS = ("roc_integral", "accuracy", "loss")


def build_card(plan: FinalPlan, folds: list[dict[str, Any]]) -> dict[str, Any]:
    """The model card of a complete training (see docs/final.md)."""
    summary = {name: [float(f[name]) for f in folds] for name in (*_METRICS, "ks_pvalue_signal")}
    summary["ks_pvalue_background"] = [float(f["ks_pvalue_background"]) for f in folds]
    return {
        "format": CARD_FORMAT,
        "format_version": CARD_VERSION,
        "fourtop_version": __version__,
        "created": datetime.now().isoformat(timespec="seconds"),
        "dataset": plan.dataset,
        "config": {
            "path": plan.config,
            "fingerprint": plan.fingerprint,
            "fingerprint_doc": plan.fingerprint_doc,
        },
        "variables": list(plan.variables),
        "inputs": {
            "name": "x",
            "type": "float32",
            "shape": ["N", len(plan.variables)],
            "meaning": "the raw variables in 'variables' order; standardization is in the model",
        },
        "output": {"name": "score", "type": "float32", "shape": ["N"], "meaning": "P(signal)"},
        "standardization": [_standardization(f) for f in folds],
        "network": dict(plan.network),
        "k": plan.k,
        "event_id": plan.event_id,
        "fold_rule": FOLD_RULE,
        "random_seed": plan.random_seed,
        "source": plan.source,
        "folds": [
            {
                key: f[key]
                for key in (
                    "fold",
                    "model_pt",
                    "model_onnx",
                    *_METRICS,
                    "ks_pvalue_signal",
                    "ks_pvalue_background",
                    "n_train",
                    "n_test",
                    "epochs",
                )
            }
            for f in folds
        ],
        "mean": {name: _mean(values) for name, values in summary.items()},
        "std": {name: _std(values) for name, values in summary.items()},
    }


def _standardization(fold: dict[str, Any]) -> dict[str, Any]:
    return {"fold": fold["fold"], **fold.get("standardization", {})}


def _pvalues(values: list[float]) -> str:
    """The KS p-values of the folds for the plot: each fold's up to 6 folds, else their range.

    Example:
        >>> _pvalues([0.35, 0.07]), _pvalues([0.5] * 9 + [0.01])
        ('0.35 0.07', 'min 0.01, median 0.50 (10 folds)')
    """
    if len(values) <= 6:
        return " ".join(f"{v:.2f}" for v in values)
    return f"min {min(values):.2f}, median {float(np.median(values)):.2f} ({len(values)} folds)"


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _std(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def write_outputs(
    folder: Path,
    plan: FinalPlan,
    *,
    card: dict[str, Any] | None = None,
    only_missing: bool = False,
    formats: Sequence[str] = FORMATS,
) -> dict[str, Any]:
    """Write the plots (in each of ``formats``), ``final_summary.txt`` and, last,
    ``model_card.json``; returns the card.

    With ``card`` (a folder finished before) the card is kept and the summary and plots are
    written from it; ``only_missing`` writes only those that are not there (a plot in a format
    it lacks; the plots it has show the same folds, so they stay). Otherwise every plot is
    drawn anew and its files in the other formats are removed (they would show the folds
    trained before).

    Raises:
        ModelError: a fold has not finished.
        ParameterError: an unknown plot format.
        OutputError: a file cannot be written.
    """
    formats = check_formats(formats)
    folds = [read_fold(folder, i) for i in range(plan.k)]
    new_card = card is None
    card = card if card is not None else build_card(plan, folds)
    if only_missing:
        which = {
            stem: [ext for ext in formats if not (folder / f"{stem}.{ext}").is_file()]
            for stem in PLOTS
        }
    else:
        which = {stem: list(formats) for stem in PLOTS}
    _plots(folder, folds, {stem: exts for stem, exts in which.items() if exts}, not only_missing)
    if not (only_missing and (folder / SUMMARY_FILE).is_file()):
        atomic_write_text(folder / SUMMARY_FILE, summary_text(card), what="summary")
    if new_card:
        text = json.dumps(card, indent=2) + "\n"
        atomic_write_text(folder / CARD_FILE, text, what="model card")
    return card


def complete_card(card: dict[str, Any]) -> bool:
    """True when a card has every entry ``fourtop final`` shows (a card it wrote)."""
    keys = (*_METRICS, "ks_pvalue_signal", "ks_pvalue_background", "n_train", "n_test", "epochs")
    try:
        numbers = [card["mean"][m] for m in _METRICS] + [card["std"][m] for m in _METRICS]
        numbers += [f[key] for f in card["folds"] for key in keys]
        texts = [card["created"], card["fourtop_version"], card["fold_rule"]]
        texts += [card["source"].get("description", ""), card["config"].get("path") or ""]
        network = card["network"]
        texts += [network[n] for n in ("node_pattern", "activation", "regulator")]
        numbers += [network[n] for n in ("hidden_layers", "initial_nodes", "batch_size")]
        numbers += [network["learning_rate"], network["epochs"], card["random_seed"]]
    except (KeyError, TypeError, AttributeError):
        return False
    return all(isinstance(x, int | float) and not isinstance(x, bool) for x in numbers) and all(
        isinstance(t, str) for t in texts
    )


def summary_text(card: dict[str, Any]) -> str:
    """``final_summary.txt``: the training, each fold, the mean and spread."""
    net = card["network"]
    lines = [
        "fourtop final training",
        f"Date: {card['created']}    fourtop {card['fourtop_version']}",
        f"Dataset: {card['dataset']}    configuration fingerprint {card['config']['fingerprint']}"
        f" ({card['config']['path'] or 'the default configuration'})",
        f"Source: {card['source'].get('description', '-')}",
        f"Folds: k = {card['k']}, {card['fold_rule']} (event_id = {card['event_id']})",
        f"Network: {net['hidden_layers']} layers of {net['initial_nodes']} nodes "
        f"({net['node_pattern']}), {net['activation']}, regulator {net['regulator']}, "
        f"batch {net['batch_size']}, learning rate {net['learning_rate']:g}, "
        f"epochs {net['epochs']}, patience {net['patience']}",
        f"Random seed: {card['random_seed']}",
        "",
        f"Variables ({len(card['variables'])}, the models' input order):",
        *(f"  {i}. {v}" for i, v in enumerate(card["variables"], 1)),
        "",
        "fold  ROC-integral  accuracy    loss  KS p(sig)  KS p(bkg)  train   test  epochs",
    ]
    for f in card["folds"]:
        lines.append(
            f"{f['fold']:>4}  {f['roc_integral']:12.5f}  {f['accuracy']:8.4f}  {f['loss']:6.4f}"
            f"  {f['ks_pvalue_signal']:9.3f}  {f['ks_pvalue_background']:9.3f}"
            f"  {f['n_train']:5d}  {f['n_test']:5d}  {f['epochs']:6d}"
        )
    mean, std = card["mean"], card["std"]
    lines += [
        f"mean  {mean['roc_integral']:12.5f}  {mean['accuracy']:8.4f}  {mean['loss']:6.4f}",
        f" +-   {std['roc_integral']:12.5f}  {std['accuracy']:8.4f}  {std['loss']:6.4f}",
        "",
        f"ROC-integral: {mean['roc_integral']:.5f} +- {std['roc_integral']:.5f} (mean +- std "
        "of the folds' test events)",
        "Overtraining check: a small KS p-value (< 0.01) means a class's training and test "
        "scores differ.",
        "Models: " + ", ".join(f["model_onnx"] for f in card["folds"]) + " (ONNX), and .pt",
    ]
    return "\n".join(lines) + "\n"


def _plots(
    folder: Path, folds: list[dict[str, Any]], which: dict[str, list[str]], replace: bool
) -> None:
    """Draw the plots of ``which`` (stem -> the formats to write); ``replace``: remove their
    files in the other formats."""
    if not which:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    with plt.style.context(mplhep.style.CMS):
        fig, ax = plt.subplots(figsize=(8, 7))
        for f in folds:
            curve = f["roc_curve"]
            ax.plot(
                curve["signal_efficiency"],
                curve["background_rejection"],
                label=f"fold {f['fold']} (ROC-integral {f['roc_integral']:.4f})",
            )
        ax.set_xlabel("Signal efficiency")
        ax.set_ylabel("Background rejection")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.legend(loc="lower left", fontsize="small")
        _save(fig, folder, "roc_folds", which, replace)

        edges = np.asarray(folds[0]["histograms"]["edges"])
        fig, ax = plt.subplots(figsize=(8, 7))
        for what, colour in (("signal", "tab:blue"), ("background", "tab:red")):
            for part, style in (("train", "fill"), ("test", "errorbar")):
                counts = np.sum([f["histograms"][f"{what}_{part}"] for f in folds], axis=0)
                total = counts.sum() * np.diff(edges)
                density = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
                label = f"{what} ({part})"
                mplhep.histplot(
                    density,
                    edges,
                    ax=ax,
                    histtype=style,
                    color=colour,
                    alpha=0.35 if style == "fill" else 1.0,
                    label=label,
                    yerr=False,
                )
        ax.set_xlabel("DNN score (signal probability)")
        ax.set_ylabel("Normalized (weighted)")
        ax.set_xlim(0, 1)
        ax.set_ylim(top=ax.get_ylim()[1] * 1.5)  # room for the legend
        ax.legend(fontsize="x-small", loc="upper center")
        pvalues = [
            f"{w} {_pvalues([f[f'ks_pvalue_{w}'] for f in folds])}"
            for w in ("signal", "background")
        ]
        ax.set_title(
            "KS p-value, test vs train, by fold:\n" + "; ".join(pvalues), fontsize="x-small"
        )
        _save(fig, folder, "overtraining", which, replace)

        fig, ax = plt.subplots(figsize=(8, 7))
        for f in folds:
            history = f["history"]
            epochs = np.arange(1, len(history["loss"]) + 1)
            (line,) = ax.plot(epochs, history["loss"], label=f"fold {f['fold']} training")
            if history.get("val_loss"):
                ax.plot(
                    epochs,
                    history["val_loss"],
                    "--",
                    color=line.get_color(),
                    label=f"fold {f['fold']} validation",
                )
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Weighted binary cross-entropy")
        ax.legend(fontsize="x-small")
        _save(fig, folder, "training_history", which, replace)


def _save(fig: Any, folder: Path, stem: str, which: dict[str, list[str]], replace: bool) -> None:
    if stem in which:
        save_figure(fig, folder, stem, which[stem], replace_others=replace)
    else:
        import matplotlib.pyplot as plt

        plt.close(fig)
