"""Training one fold of the final k-fold training and writing its files.

The plan (``fourtop-final.json`` in the final folder, :class:`FinalPlan`) says what every
fold trains: the dataset key, configuration, variables, network, ``k``, the event key and
the random seed. Fold ``i`` trains on the final-training split's events whose key is not
``i`` mod ``k`` and is tested on those that are, so the model of fold ``i`` never sees the
events it will score. It writes ``model_fold<i>.pt``, ``model_fold<i>.onnx`` and, last,
``fold<i>.json`` (its metrics, ROC curve, score histograms and training history): a fold is
complete when that file exists (:func:`fold_complete`).
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fourtop import __version__
from fourtop.errors import ConfigError, ModelError, TrainingError
from fourtop.fileio import atomic_write_bytes, atomic_write_text
from fourtop.final.model import PLAN_FILE, onnx_file, torch_file
from fourtop.splits import Split

if TYPE_CHECKING:
    from fourtop.data.ntuples import SplitArrays

__all__ = [
    "HIST_BINS",
    "PLAN_FILE",
    "FinalPlan",
    "fold_complete",
    "fold_name",
    "metrics_file",
    "read_fold",
    "read_plan",
    "run_fold",
    "write_plan",
]

log = logging.getLogger(__name__)

_PLAN_FORMAT = "fourtop-final-plan"
#: bins of the stored score histograms (0 to 1)
HIST_BINS = 40


def fold_name(fold: int) -> str:
    """The job name of ``fold`` (``fold0``, ``fold1``, ...)."""
    return f"fold{fold}"


def metrics_file(fold: int) -> str:
    """The file a complete fold leaves last: its metrics."""
    return f"fold{fold}.json"


@dataclass
class FinalPlan:
    """What every fold of a final folder trains (``fourtop-final.json``)."""

    dataset: str
    config: str | None
    variables: list[str]
    network: dict[str, Any]
    k: int
    event_id: str
    random_seed: int
    fingerprint: str
    fingerprint_doc: dict[str, Any]
    source: dict[str, Any] = field(default_factory=dict)
    fourtop_version: str = __version__

    def to_json(self) -> str:
        """The plan file's text."""
        return json.dumps({"format": _PLAN_FORMAT, **asdict(self)}, indent=2) + "\n"


def write_plan(folder: Path, plan: FinalPlan) -> None:
    """Write the plan into the final folder (atomically)."""
    atomic_write_text(folder / PLAN_FILE, plan.to_json(), what="final training plan")


def read_plan(folder: Path) -> FinalPlan:
    """The plan of a final folder.

    Raises:
        ModelError: no plan (not a final folder) or an unreadable one.
    """
    path = Path(folder) / PLAN_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{folder}: not a final folder (no {PLAN_FILE})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict) or doc.pop("format", None) != _PLAN_FORMAT:
        raise ModelError(f"{path}: not a fourtop final training plan")
    try:
        plan = FinalPlan(**doc)
    except TypeError as exc:
        raise ModelError(f"{path}: not a plan this fourtop reads ({exc})") from None
    problem = _plan_problem(plan)
    if problem:
        raise ModelError(f"{path}: damaged plan ({problem}); start a new final folder")
    return plan


def _plan_problem(plan: FinalPlan) -> str | None:
    """What is wrong with a plan read from disk, or None."""
    from fourtop.errors import ParameterError
    from fourtop.train.params import NetworkParams

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not whole(plan.k) or not 2 <= plan.k <= 100:
        return f"k = {plan.k!r}"
    if not whole(plan.random_seed) or plan.random_seed < 0:
        return f"random_seed = {plan.random_seed!r}"
    if not isinstance(plan.dataset, str) or not isinstance(plan.event_id, str):
        return "dataset or event_id is not text"
    variables = plan.variables
    if not isinstance(variables, list) or not variables:
        return "no variables"
    if not all(isinstance(v, str) for v in variables) or len(set(variables)) != len(variables):
        return "variables are not distinct names"
    if not isinstance(plan.network, dict) or not isinstance(plan.fingerprint_doc, dict):
        return "network or fingerprint_doc is not a table"
    if plan.config is not None and not isinstance(plan.config, str):
        return f"config = {plan.config!r}"
    try:
        plan.network = NetworkParams.from_dict(plan.network).to_dict()
    except ParameterError as exc:
        return str(exc)
    return None


def fold_complete(folder: Path, fold: int) -> bool:
    """True when ``fold``'s metrics are readable and its models are readable ONNX and
    PyTorch files (a damaged or empty file makes the fold incomplete: it trains again)."""
    from fourtop.final.model import check_model_files

    try:
        read_fold(folder, fold)
        check_model_files(Path(folder), fold)
    except ModelError:
        return False
    return True


#: what a fold's metrics file must hold (``card.py`` and ``model_card.json`` read them)
_FOLD_KEYS = {
    "fold": int,
    "roc_integral": float,
    "accuracy": float,
    "loss": float,
    "ks_pvalue_signal": float,
    "ks_pvalue_background": float,
    "n_train": int,
    "n_test": int,
    "epochs": int,
    "model_pt": str,
    "model_onnx": str,
    "history": dict,
    "roc_curve": dict,
    "histograms": dict,
    "standardization": dict,
}


def read_fold(folder: Path, fold: int) -> dict[str, Any]:
    """The metrics ``fold<i>.json`` of a complete fold.

    Raises:
        ModelError: missing, unreadable or incomplete.
    """
    path = Path(folder) / metrics_file(fold)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: fold {fold} has not finished") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise ModelError(f"{path}: not a fold's metrics")
    for key, kind in _FOLD_KEYS.items():
        value = doc.get(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if kind is not float:
            ok = isinstance(value, kind) and not isinstance(value, bool)
        if not ok:
            raise ModelError(f"{path}: incomplete fold metrics (no {kind.__name__} {key!r})")
    if doc["fold"] != fold:
        raise ModelError(f"{path}: the metrics of fold {doc['fold']}, not {fold}")
    return doc


def fold_random_seed(base: int, fold: int) -> int:
    """The random seed of one fold's training (every fold differs, each is reproducible)."""
    return int(np.random.SeedSequence([int(base), int(fold)]).generate_state(1)[0])


def load_plan_data(plan: FinalPlan) -> SplitArrays:
    """The final-training split's arrays with their event keys, the configuration checked
    against the plan.

    Raises:
        ModelError: the configuration changed since the plan was written.
        ConfigError, DataError: as :func:`fourtop.data.ntuples.load_split`.
    """
    from fourtop.data.config import fingerprint_difference, load_config
    from fourtop.data.ntuples import load_split

    try:
        config = load_config(plan.config)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc} (the configuration this final training uses, {PLAN_FILE})"
        ) from None
    difference = fingerprint_difference(plan.fingerprint_doc, config)
    if difference is None and config.event_id != plan.event_id:
        difference = f"event_id: {plan.event_id!r} then, {config.event_id!r} now"
    if difference is not None:
        raise ModelError(f"{config.path} changed since this final training began: {difference}")
    if config.event_id is None:
        raise ConfigError(f"{config.path}: no 'event_id'")
    return load_split(config, plan.dataset, Split.FINAL, event_keys=True)


def run_fold(
    folder: Path,
    plan: FinalPlan,
    fold: int,
    data: SplitArrays,
    *,
    device: str = "auto",
) -> dict[str, Any]:
    """Train fold ``fold``, write its models and metrics; returns the metrics.

    Raises:
        TrainingError: too few events in the fold or the rest, or the training diverged.
        OutputError: a file cannot be written.
    """
    import torch

    from fourtop.data.eventkey import fold_of
    from fourtop.train.export import ScoringNet, onnx_bytes
    from fourtop.train.fit import train_members

    assert data.signal_key is not None and data.background_key is not None
    held = (fold_of(data.signal_key, plan.k) == fold, fold_of(data.background_key, plan.k) == fold)
    for what, mask in zip(("signal", "background"), held, strict=True):
        if not mask.any() or mask.all():
            raise TrainingError(
                f"fold {fold}: {int(mask.sum())} of {mask.size} {what} events have "
                f"{plan.event_id} mod {plan.k} = {fold}: every fold needs events to test on "
                "and the others to train on (fewer folds, or another event key?)"
            )
    (result,) = train_members(
        data,
        plan.variables,
        [plan.variables],
        plan.network,
        random_seed=fold_random_seed(plan.random_seed, fold),
        device=device,
        test_events=held,
    )
    if result.error is not None:
        raise TrainingError(f"fold {fold}: {result.error}")
    assert result.standardization is not None
    net = ScoringNet(
        result.state_dict,
        plan.network,
        result.standardization["mean"],
        result.standardization["std"],
    )
    metrics = _metrics(net, data, plan, held)
    metrics.update(
        fold=fold,
        roc_integral=result.roc_integral,
        epochs=result.epochs_trained,
        n_train=result.n_train,
        n_test=result.n_test,
        history=result.history,
        device=result.device,
        standardization=result.standardization,
        model_pt=torch_file(fold),
        model_onnx=onnx_file(fold),
    )
    payload = {
        "state_dict": result.state_dict,
        "network": dict(plan.network),
        "standardization": result.standardization,
        "variables": list(plan.variables),
        "fold": fold,
        "k": plan.k,
        "event_id": plan.event_id,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    folder = Path(folder)
    atomic_write_bytes(folder / torch_file(fold), buffer.getvalue(), what="fold model")
    meta = {"fold": str(fold), "k": str(plan.k), "event_id": plan.event_id}
    atomic_write_bytes(
        folder / onnx_file(fold), onnx_bytes(net, plan.variables, meta), what="ONNX model"
    )
    atomic_write_text(
        folder / metrics_file(fold), json.dumps(metrics, indent=1) + "\n", what="fold metrics"
    )
    return metrics


def _metrics(
    net: Any, data: SplitArrays, plan: FinalPlan, held: tuple[np.ndarray, np.ndarray]
) -> dict[str, Any]:
    """Test accuracy and loss, the ROC curve, and the score histograms of the training and
    test events of each class with their Kolmogorov-Smirnov p-values."""
    from fourtop.train.metrics import balanced_weights, ks_test, roc_curve

    columns = data.columns(plan.variables)
    scores = {
        "signal": net.score(data.signal[:, columns]),
        "background": net.score(data.background[:, columns]),
    }
    weights = {"signal": data.signal_weight, "background": data.background_weight}
    masks = {"signal": held[0], "background": held[1]}
    edges = np.linspace(0.0, 1.0, HIST_BINS + 1)
    hists: dict[str, list[float]] = {}
    ks: dict[str, float] = {}
    for what in ("signal", "background"):
        s, w, m = scores[what], weights[what].astype(np.float64), masks[what]
        for part, sel in (("train", ~m), ("test", m)):
            counts, _ = np.histogram(s[sel], bins=edges, weights=w[sel])
            hists[f"{what}_{part}"] = counts.tolist()
        ks[what] = ks_test(s[~m], w[~m], s[m], w[m])[1]
    # test events, classes balanced on |w| (as in training): accuracy and loss
    p = np.concatenate([scores["signal"][held[0]], scores["background"][held[1]]])
    y = np.concatenate([np.ones(int(held[0].sum())), np.zeros(int(held[1].sum()))])
    signed = np.concatenate([data.signal_weight[held[0]], data.background_weight[held[1]]])
    w = balanced_weights(signed, y)
    p64 = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    loss = float(-(w * (y * np.log(p64) + (1 - y) * np.log(1 - p64))).sum())
    accuracy = float((w * ((p >= 0.5) == (y == 1))).sum())
    eff, rej = roc_curve(p, y, signed)
    return {
        "accuracy": accuracy,
        "loss": loss,
        "ks_pvalue_signal": ks["signal"],
        "ks_pvalue_background": ks["background"],
        "roc_curve": {"signal_efficiency": eff.tolist(), "background_rejection": rej.tolist()},
        "histograms": {"edges": edges.tolist(), **hists},
    }
