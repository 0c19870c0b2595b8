"""Final folders without training: what ``fourtop final`` writes, with random weights.

:func:`make_final` fabricates a valid final folder (``model_card.json``, and per fold
``model_fold<i>.pt`` and ``model_fold<i>.onnx``) for a :class:`~fourtop.data.config.DatasetConfig`,
in milliseconds: each fold's network is a freshly initialised
:class:`~fourtop.train.model.FamilyNet` (a different random seed per fold, so the folds score
differently and a test can tell which fold scored an event), exported as
:class:`~fourtop.train.export.ScoringNet` and as its ONNX graph, in the layout the card's format
(version 1) fixes. :func:`fold_scores` scores events with one fold's network in PyTorch, for
tests that check that every event got its own fold's score.

For ``fourtop apply``'s tests: :func:`write_config` writes a small dataset configuration over
the synthetic samples (a few files, extra samples), and :class:`InlineBackend` (registered as
``inline`` by :func:`inline_backend`) runs the jobs one after the other in the test's own
process, as the local pool would in its workers, without starting processes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fourtop import __version__
from fourtop.backends import BACKENDS, BackendEntry, register_backend
from fourtop.backends.base import Backend, Capabilities, SubmitReport
from fourtop.data.config import DatasetConfig, default_config_path, load_config
from fourtop.final.model import CARD_FILE, CARD_FORMAT, onnx_file, torch_file
from fourtop.jobs import eventlog
from fourtop.jobs.tasks import get_task_kind
from fourtop.train.export import ScoringNet, onnx_bytes
from fourtop.train.model import FamilyNet
from fourtop.train.params import NetworkParams

#: a small network: the tests score thousands of events, not millions
SMALL = NetworkParams(hidden_layers=2, initial_nodes=16)


def make_final(
    folder: Path,
    config: DatasetConfig,
    *,
    variables: Sequence[str] | None = None,
    k: int = 3,
    dataset: str = "2017",
    seed: int = 0,
    params: NetworkParams = SMALL,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Path:
    """Write a final folder for ``config`` (its first four variables unless ``variables``).

    ``mean``/``std``: the input standardization (default 0 and 1; pass the data's own to get
    scores spread over [0, 1]). Returns ``folder``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = list(variables) if variables is not None else config.variable_names()[:4]
    n = len(names)
    mean = [0.0] * n if mean is None else [float(m) for m in mean]
    std = [1.0] * n if std is None else [float(s) for s in std]
    folds = []
    for fold in range(k):
        net = FamilyNet(
            torch.ones(1, n), params, generator=torch.Generator().manual_seed(1000 * seed + fold)
        )
        state = net.member_state(0)
        torch.save(
            {
                "state_dict": state,
                "network": params.to_dict(),
                "standardization": {"mean": mean, "std": std},
                "variables": names,
                "fold": fold,
                "k": k,
            },
            folder / torch_file(fold),
        )
        scoring = ScoringNet(state, params, mean, std)
        (folder / onnx_file(fold)).write_bytes(onnx_bytes(scoring, names))
        folds.append(
            {
                "fold": fold,
                "model_pt": torch_file(fold),
                "model_onnx": onnx_file(fold),
                "roc_integral": 0.5,
                "accuracy": 0.5,
                "loss": 0.69,
                "n_train": 100,
                "n_test": 50,
                "epochs": 1,
            }
        )
    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "format_version": 1,
        "fourtop_version": __version__,
        "created": datetime.now(UTC).isoformat(),
        "dataset": dataset,
        "config": {
            "path": str(config.path),
            "fingerprint": config.fingerprint(),
            "fingerprint_doc": config.fingerprint_doc(),
        },
        "variables": names,
        "network": params.to_dict(),
        "k": k,
        "event_id": config.event_id,
        "fold_rule": f"fold = ({config.event_id}) mod {k}",
        "random_seed": seed,
        "folds": folds,
        "mean": dict(zip(names, mean, strict=True)),
        "std": dict(zip(names, std, strict=True)),
    }
    (folder / CARD_FILE).write_text(json.dumps(card, indent=1))
    return folder


def standardization(config: DatasetConfig, variables: Sequence[str] | None = None):
    """``(mean, std)`` of the variables (default: the first four) in the first signal file of
    dataset 2017, split 0: pass them to :func:`make_final` for scores spread over [0, 1]."""
    import uproot

    names = list(variables) if variables is not None else config.variable_names()[:4]
    with uproot.open(config.files("2017", 0).signal[0]) as f:
        x = np.column_stack([f[config.tree][n].array(library="np") for n in names])
    return x.mean(axis=0).tolist(), (x.std(axis=0) + 1e-6).tolist()


def fold_scores(folder: Path, fold: int, x: np.ndarray) -> np.ndarray:
    """The scores of fold ``fold``'s network (PyTorch) for raw inputs ``x`` (float32 [N, n])."""
    from fourtop.final.model import load_torch_model

    return load_torch_model(Path(folder) / torch_file(fold)).score(x)


# ------------------------------------------------------------------ apply: configurations

SIGNAL = "TTTT_TuneCP5_PSweights_13TeV-amcatnlo-pythia8_split{split}.root"
BACKGROUND = "TTTo2L2Nu_TuneCP5_PSweights_13TeV-powheg-pythia8_ttbb_split{split}.root"


def write_config(
    path: Path,
    samples: Path,
    *,
    signal: Sequence[str] = (SIGNAL,),
    background: Sequence[str] = (BACKGROUND,),
    extra: Mapping[str, Sequence[str] | Mapping[str, object]] | None = None,
    variables: Sequence[str] | None = None,
    event_id: str | None = "event_CommonCalc",
    selection: str | None = None,
) -> DatasetConfig:
    """A configuration of dataset ``2017`` over ``samples`` (the synthetic files), with the
    default tree, weight and selection, four variables and ``extra`` samples; returns it
    loaded."""
    default = load_config(default_config_path())
    names = list(variables) if variables is not None else default.variable_names()[:4]
    lines = [
        f"tree = {json.dumps(default.tree)}",
        f"weight = {json.dumps(default.weight)}",
        f"selection = {json.dumps(selection or default.selection)}",
        f"base_dir = {json.dumps(str(samples))}",
        f"variables = {json.dumps(names)}",
    ]
    if event_id is not None:
        lines.append(f"event_id = {json.dumps(event_id)}")
    lines += [
        "[datasets.2017]",
        f"signal = {json.dumps(list(signal))}",
        f"background = {json.dumps(list(background))}",
    ]
    if extra:
        lines.append("[datasets.2017.extra]")
        for name, files in extra.items():
            if isinstance(files, Mapping):  # {files = [...], weight = "..."}
                inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in files.items())
                lines.append(f"{name} = {{{inner}}}")
            else:
                lines.append(f"{name} = {json.dumps(list(files))}")
    Path(path).write_text("\n".join(lines) + "\n")
    return load_config(path)


# ------------------------------------------------------------------ apply: an in-process backend


class InlineBackend(Backend):
    """Runs each unit in this process through its task kind's ``run``, one after the other
    (the local pool's workers do the same in other processes)."""

    name = "inline"
    capabilities = Capabilities(waits=True, runs_here=True)

    def submit(self, folder, units, settings, progress=None) -> SubmitReport:
        job_dir = Path(folder.path)
        kind = get_task_kind(settings.task)
        for proc, name in enumerate(n for u in units for n in u.names):
            eventlog.log_submitted(job_dir / f"{name}.log", cluster=1, proc=proc)
        report = SubmitReport(finished=True)
        for unit in units:
            results = kind.run(unit.names, job_dir, settings)
            done = [n for n in unit.names if isinstance(results.get(n), float)]
            failed = [(n, str(results.get(n))) for n in unit.names if n not in done]
            report.submitted += done
            report.failed += failed
            if progress is not None:
                progress(done, [n for n, _ in failed])
        return report

    def sync(self, folder) -> int:
        return 0

    def cancel(self, folder, names: Collection[str] | None = None) -> int:
        return 0


@contextmanager
def inline_backend() -> Iterator[str]:
    """Register :class:`InlineBackend` as ``inline`` for the ``with`` block; yields its name."""
    old = BACKENDS.get("inline")
    register_backend("inline", BackendEntry(f"{__name__}:InlineBackend"))
    try:
        yield "inline"
    finally:
        if old is None:
            BACKENDS.pop("inline", None)
        else:
            BACKENDS["inline"] = old
