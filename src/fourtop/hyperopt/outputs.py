"""The files an optimization leaves in the dataset folder, written atomically.

``parameters_<tag>.json`` (the parameters used), the log file (one row per training),
``optimized_parameters_<tag>.txt`` / ``.json`` (the best point), the best model's weights
(``model_name``), ``optimize_history_<tag>.png`` and ``.pdf`` (best ROC integral against the
training number, drawn at the end of a run, in the formats of
:attr:`~fourtop.hyperopt.params.HyperoptParameters.plot_formats`), and the study itself
(``hyperopt_<tag>.journal``, Optuna's journal storage).
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fourtop import fileio
from fourtop.errors import OutputError
from fourtop.plotting import save_figure

if TYPE_CHECKING:
    from fourtop.hyperopt.params import HyperoptParameters
    from fourtop.hyperopt.search import TrialRecord

__all__ = [
    "HyperoptFiles",
    "atomic_write_text",
    "check_writable",
    "plot_history",
    "save_model",
    "write_log",
    "write_optimized",
    "write_parameters",
]

_SEP = " / "
#: the history plot's name, less the tag and the format's extension
PLOT_STEM = "optimize_history_"
_RESULTS = re.compile(r"VariableImportanceResults_\d+vars\.txt")


@dataclass(frozen=True)
class HyperoptFiles:
    """Where one tag's files live (relative ``model_name``/``log_file`` are in the folder);
    ``plots``: the history plot in each of the parameters' plot formats."""

    folder: Path
    parameters: Path
    log: Path
    optimized_txt: Path
    optimized_json: Path
    model: Path
    plots: tuple[Path, ...]
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
            plots=tuple(folder / f"{PLOT_STEM}{tag}.{ext}" for ext in params.plot_formats),
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
            *self.plots,
        ]


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all at once (:func:`fourtop.fileio.atomic_write_text`).

    Raises:
        OutputError: the file cannot be written (the message says why: no space left...).
    """
    fileio.atomic_write_text(path, text)


def check_writable(files: HyperoptFiles) -> None:
    """Fail now, before data is read or a study created, if the run's files cannot be written.

    Creates nothing (a probe file is made and removed in each folder the files go to).

    Raises:
        OutputError: a folder is missing, not a folder, read-only or otherwise unwritable,
            an output name is a folder or too long, or two outputs share one name.
    """
    paths = [*files.outputs(), files.journal, files.lock]
    seen: dict[Path, Path] = {}
    for path in paths:
        try:
            name_max = os.pathconf(path.parent, "PC_NAME_MAX")
        except (OSError, ValueError):
            name_max = 255
        if len(fileio.temporary_name(path).name) > name_max:
            raise OutputError(f"cannot write {path}: file name too long (shorten the tag)")
        key = Path(os.path.abspath(path))
        if key in seen:
            raise OutputError(
                f"{path}: model_name or log_file names the same file as another output; "
                "choose another name"
            )
        seen[key] = path
        if path.is_dir():
            raise OutputError(f"{path}: is a folder, expected a file name for this output")
        if _RESULTS.fullmatch(path.name):
            raise OutputError(f"{path}: is the importance results file; choose another name")
    for path in paths:
        folder = path.parent
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "no such folder"
            raise OutputError(f"cannot write {path}: {folder}: {what}")
        probe = fileio.temporary_name(path)  # as long as the temporary names used later
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise OutputError(f"cannot write {path}: file name too long") from None
            reason = fileio.describe_os_error(exc, folder)
            if exc.errno == errno.ENOENT:  # /proc and the like: a folder that takes no files
                reason = f"{folder}: does not accept new files"
            raise OutputError(f"cannot write in {folder}: {reason}") from None
        os.close(fd)
        os.unlink(probe)


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
    """``torch.save`` the best model's payload atomically.

    Raises:
        OutputError: the file cannot be written (no space left, read-only folder).
    """
    import torch

    with fileio.atomic_output(path, what="model file") as tmp:
        torch.save(dict(payload), tmp)


def plot_history(files: HyperoptFiles, params: HyperoptParameters, records: Sequence[TrialRecord]):
    """Each training's ROC integral and the best so far against the training number, in each
    of the parameters' plot formats; the plot of an earlier run of the tag in another format
    is removed (it would show fewer trainings)."""
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
        except BaseException:
            plt.close(fig)
            raise
        save_figure(
            fig,
            files.folder,
            f"{PLOT_STEM}{params.tag}",
            params.plot_formats,
            dpi=100,
            replace_others=True,
        )
