"""The files an optimization leaves in the dataset folder, written atomically.

``parameters_<tag>.json`` (the parameters used), the log file (one row per training),
``optimized_parameters_<tag>.txt`` / ``.json`` (the best point), the best model's weights
(``model_name``), ``optimize_history_<tag>.png`` (best ROC integral against the training
number), and the study itself (``hyperopt_<tag>.journal``, Optuna's journal storage).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fourtop.hyperopt.params import HyperoptParameters
    from fourtop.hyperopt.search import TrialRecord

__all__ = [
    "HyperoptFiles",
    "atomic_write_text",
    "plot_history",
    "save_model",
    "write_log",
    "write_optimized",
    "write_parameters",
]

_SEP = " / "


@dataclass(frozen=True)
class HyperoptFiles:
    """Where one tag's files live (relative ``model_name``/``log_file`` are in the folder)."""

    folder: Path
    parameters: Path
    log: Path
    optimized_txt: Path
    optimized_json: Path
    model: Path
    plot: Path
    journal: Path
    lock: Path

    @classmethod
    def for_tag(cls, folder: Path, params: HyperoptParameters) -> HyperoptFiles:
        tag = params.tag
        return cls(
            folder=folder,
            parameters=folder / f"parameters_{tag}.json",
            log=folder / params.log_file,
            optimized_txt=folder / f"optimized_parameters_{tag}.txt",
            optimized_json=folder / f"optimized_parameters_{tag}.json",
            model=folder / params.model_name,
            plot=folder / f"optimize_history_{tag}.png",
            journal=folder / f"hyperopt_{tag}.journal",
            lock=folder / f".hyperopt_{tag}.lock",
        )

    def outputs(self) -> list[Path]:
        """The result files (not the study or its lock)."""
        return [
            self.parameters,
            self.log,
            self.optimized_txt,
            self.optimized_json,
            self.model,
            self.plot,
        ]


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _temporary(path: Path) -> Path:
    """A hidden sibling of ``path`` for this process (created with the umask's permissions)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_parameters(files: HyperoptFiles, params: HyperoptParameters) -> None:
    """``parameters_<tag>.json``: usable again with ``-p`` (same tag: resumes the study)."""
    atomic_write_text(files.parameters, json.dumps(params.to_dict(), indent=2) + "\n")


_LOG_COLUMNS = (
    "Call",
    "hidden_layers",
    "initial_nodes",
    "node_pattern",
    "batch_power",
    "learning_rate",
    "regulator",
    "activation_function",
    "Epochs",
    "ROC-integral",
    "log(1-ROC)",
    "Best ROC",
    "Seconds",
)


def write_log(
    files: HyperoptFiles,
    params: HyperoptParameters,
    variables: Sequence[str],
    records: Sequence[TrialRecord],
) -> None:
    """The log file: a header, then one ``/``-separated row per training, in order."""
    lines = [
        f"fourtop hyperopt log, tag {params.tag}",
        f"Variables ({len(variables)}): {', '.join(variables)}",
        f"Trainings: {len(records)} of {params.n_calls} ({params.n_starts} random starts)",
        "",
        _SEP.join(_LOG_COLUMNS),
    ]
    for r in records:
        hp = r.hyperparameters
        cells = [
            f"{r.call}.",
            *(_fmt(hp.get(k)) for k in _LOG_COLUMNS[1:8]),
            "-" if r.epochs is None else str(r.epochs),
            "failed" if r.roc_integral is None else f"{r.roc_integral:.6f}",
            "-" if r.objective is None else f"{r.objective:.4f}",
            "-" if r.best_roc is None else f"{r.best_roc:.6f}",
            f"{r.seconds:.1f}",
        ]
        if r.error:
            cells.append(r.error)
        lines.append(_SEP.join(cells))
    atomic_write_text(files.log, "\n".join(lines) + "\n")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3e}"
    return "-" if value is None else str(value)


def write_optimized(
    files: HyperoptFiles,
    params: HyperoptParameters,
    variables: Sequence[str],
    best: TrialRecord,
    n_done: int,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """``optimized_parameters_<tag>.txt`` (for people) and ``.json`` (for scripts)."""
    network = params.network(best.hyperparameters)
    hyper = {**params.fixed, **best.hyperparameters}
    doc = {
        "tag": params.tag,
        "date": datetime.now().isoformat(timespec="seconds"),
        "roc_integral": best.roc_integral,
        "objective": best.objective,
        "best_call": best.call,
        "trainings": n_done,
        "n_calls": params.n_calls,
        "hyperparameters": hyper,
        "network": network,
        "variables": list(variables),
        "model_file": files.model.name,
        **(extra or {}),
    }
    atomic_write_text(files.optimized_json, json.dumps(doc, indent=2) + "\n")
    width = max(len(k) for k in hyper)
    lines = [
        f"Optimized hyperparameters, tag {params.tag}",
        f"Date: {doc['date']}",
        *(f"{_EXTRA_LABELS.get(k, k)}: {v}" for k, v in (extra or {}).items()),
        f"Trainings: {n_done} of {params.n_calls}",
        f"Best training: {best.call}",
        f"Best ROC-integral: {best.roc_integral:.6f}",
        f"Objective log(1-ROC): {best.objective:.4f}",
        f"Model weights: {files.model.name}",
        "",
        "Hyperparameters:",
        *(
            f"  {k.ljust(width)}  {_fmt(v) if k == 'learning_rate' else v}"
            for k, v in hyper.items()
        ),
        f"  {'batch_size'.ljust(width)}  {network['batch_size']}",
        "",
        f"Variables ({len(variables)}):",
        *(f"  {i}. {v}" for i, v in enumerate(variables, 1)),
    ]
    atomic_write_text(files.optimized_txt, "\n".join(lines) + "\n")


_EXTRA_LABELS = {
    "year": "Dataset",
    "config": "Configuration fingerprint",
    "baseline_roc_integral": "Original default network ROC-integral",
}


def save_model(path: Path, payload: Mapping[str, Any]) -> None:
    """``torch.save`` the best model's payload atomically."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        torch.save(dict(payload), tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def plot_history(files: HyperoptFiles, params: HyperoptParameters, records: Sequence[TrialRecord]):
    """PNG of each training's ROC integral and the best so far against the training number."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    done = [r for r in records if r.roc_integral is not None]
    with plt.style.context(mplhep.style.CMS):
        fig, ax = plt.subplots(figsize=(10, 7))
        try:
            ax.plot(
                [r.call for r in done],
                [r.roc_integral for r in done],
                "o",
                color="tab:gray",
                alpha=0.6,
                label="training",
            )
            best = [r for r in records if r.best_roc is not None]
            ax.step(
                [r.call for r in best],
                [r.best_roc for r in best],
                where="post",
                color="tab:red",
                label="best so far",
            )
            ax.axvline(
                params.n_starts + 0.5, color="tab:blue", ls="--", label="end of random starts"
            )
            ax.set_xlabel("Training")
            ax.set_ylabel("ROC integral")
            ax.set_xlim(0.5, max(params.n_calls, len(records)) + 0.5)
            ax.legend(loc="lower right")
            mplhep.cms.text("Simulation", ax=ax, loc=0)
            ax.set_title(f"Hyperparameter optimization {params.tag}", fontsize=16, loc="right")
            fig.tight_layout()
            tmp = _temporary(files.plot)
            fig.savefig(tmp, dpi=100, format="png")
            os.replace(tmp, files.plot)
        finally:
            plt.close(fig)
