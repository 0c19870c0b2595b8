"""A final folder read back: the model card and the fold models that score events.

``fourtop final`` writes ``model_card.json`` and per fold ``model_fold<i>.pt`` and
``model_fold<i>.onnx``. :func:`load_final_model` reads the card and checks that every fold's
files are there; :meth:`FinalModel.scorer` gives a :class:`Scorer` that scores raw variables
with the model of each event's fold (``key mod k``), through ONNX Runtime (the model a C++
analysis runs) or PyTorch.

Example (a folder made by ``fourtop final``)::

    model = load_final_model("final_28.Nov.2026")
    model.check_config(load_config())          # refuses another configuration
    scores = model.scorer("onnx").score(x, keys)   # x: float32 [N, len(model.variables)]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from fourtop.data.config import fingerprint_difference
from fourtop.data.eventkey import fold_of
from fourtop.env import OMP_THREADS_ENV
from fourtop.errors import ModelError

if TYPE_CHECKING:
    import onnx

    from fourtop.data.config import DatasetConfig

__all__ = [
    "CARD_FILE",
    "CARD_FORMAT",
    "ENGINES",
    "FinalModel",
    "Scorer",
    "check_model_files",
    "load_final_model",
    "onnx_file",
    "torch_file",
]

#: the model card's file name in a final folder
CARD_FILE = "model_card.json"
#: the plan's file name in a final folder (written first; see :mod:`fourtop.final.fold`)
PLAN_FILE = "fourtop-final.json"
#: the card's ``format`` value and version
CARD_FORMAT = "fourtop-final-model"
CARD_VERSION = 1
#: how a model scores: ``onnx`` (ONNX Runtime) or ``torch``
ENGINES = ("onnx", "torch")


def torch_file(fold: int) -> str:
    """The PyTorch model file of ``fold``."""
    return f"model_fold{fold}.pt"


def onnx_file(fold: int) -> str:
    """The ONNX model file of ``fold``."""
    return f"model_fold{fold}.onnx"


class Scorer(Protocol):
    """Scores raw variables: float32 ``x`` ``[N, n_vars]`` (the card's order) and int64 event
    ``keys`` ``[N]`` -> float32 signal probabilities ``[N]``, each event by its fold's model."""

    def score(self, x: np.ndarray, keys: np.ndarray) -> np.ndarray: ...


@dataclass
class FinalModel:
    """A final folder's model card, read back (see :func:`load_final_model`)."""

    folder: Path
    card: dict[str, Any]

    @property
    def variables(self) -> list[str]:
        """The input variables, in the models' input order."""
        return list(self.card["variables"])

    @property
    def k(self) -> int:
        """The number of folds."""
        return int(self.card["k"])

    @property
    def event_id(self) -> str:
        """The event key expression (``fold = key mod k``)."""
        return str(self.card["event_id"])

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the configuration the models were trained with."""
        return str(self.card["config"]["fingerprint"])

    @property
    def dataset(self) -> str:
        """The dataset key the models were trained on."""
        return str(self.card["dataset"])

    def check_config(self, config: DatasetConfig) -> None:
        """Refuse a configuration other than the training's (its variables, selection,
        weight, tree or event key differ), saying what differs.

        Raises:
            ModelError: the configurations differ.
        """
        saved = self.card["config"].get("fingerprint_doc") or {}
        difference = fingerprint_difference(saved, config)
        if difference is None and config.event_id != self.event_id:
            difference = f"event_id: {self.event_id!r} then, {config.event_id!r} now"
        if difference is not None:
            if config.fingerprint() == self.fingerprint:
                raise ModelError(
                    f"{self.folder}: trained with another event key ({config.path}): {difference}"
                )
            raise ModelError(
                f"{self.folder}: trained with another configuration (fingerprint "
                f"{self.fingerprint}, {config.path} has {config.fingerprint()}): {difference}"
            )
        missing = [v for v in self.variables if v not in config.variable_names()]
        if missing:
            raise ModelError(f"{config.path}: no variable {missing[0]!r} the model needs")

    def verify(self) -> None:
        """Every fold's models must be readable, and the ONNX model's input as wide as the
        card's variables.

        Raises:
            ModelError: a damaged model file, or a card that does not fit the models.
        """
        for fold in range(self.k):
            graph = check_model_files(self.folder, fold).graph
            path = self.folder / onnx_file(fold)
            dims = graph.input[0].type.tensor_type.shape.dim if graph.input else []
            width = dims[1].dim_value if len(dims) == 2 else None
            if width != len(self.variables):
                raise ModelError(
                    f"{path}: the model takes {width} inputs, the card lists "
                    f"{len(self.variables)} variables: the card does not belong to these models"
                )

    def torch_net(self, fold: int) -> Any:
        """Fold ``fold``'s :class:`~fourtop.train.export.ScoringNet`, checked against the card:
        the file must be that fold's model of these ``k`` folds, over the card's variables (a
        model file copied from another fold would score events it trained on).

        Raises:
            ModelError: an unreadable file, or one that does not belong to this card.
        """
        path = self.folder / torch_file(fold)
        net, payload = _load_payload(path)
        if net.n_inputs != len(self.variables):
            raise ModelError(
                f"{path}: the model takes {net.n_inputs} inputs, the card lists "
                f"{len(self.variables)} variables: the file does not belong to this folder"
            )
        expected: list[tuple[str, Any]] = [
            ("fold", fold),
            ("k", self.k),
            ("variables", self.variables),
            ("event_id", self.event_id),
        ]
        saved = self.card.get("standardization")
        if isinstance(saved, list) and fold < len(saved) and isinstance(saved[fold], dict):
            scaling = {n: saved[fold].get(n) for n in ("mean", "std")}
            if all(isinstance(v, list) for v in scaling.values()):
                expected.append(("standardization", scaling))
        for key, want in expected:
            have = payload.get(key)
            if key == "standardization" and isinstance(have, dict):
                have = {n: have.get(n) for n in ("mean", "std")}
            if (have is not None or key == "fold") and have != want:
                raise ModelError(
                    f"{path}: the model of {key} {_short(have)}, not {_short(want)}: the file "
                    "does not belong here (run 'fourtop final' into a new folder)"
                )
        return net

    def scorer(self, engine: str = "onnx") -> Scorer:
        """A scorer over every fold's model (``onnx``: ONNX Runtime; ``torch``: PyTorch).

        Raises:
            ModelError: an unknown engine, or a model file that cannot be read.
        """
        if engine == "onnx":
            return _OnnxScorer(self)
        if engine == "torch":
            return _TorchScorer(self)
        raise ModelError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")


def _short(value: Any) -> str:
    """A value for a message: lists and tables shortened."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_final_model(folder: str | Path) -> FinalModel:
    """Read a final folder's model card and check its fold models are there.

    Raises:
        ModelError: no such folder, no card (the training did not finish), an unreadable or
            foreign card, or a fold's model file missing.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ModelError(f"{folder}: a file, not a final folder (made by 'fourtop final')")
    if not folder.is_dir():
        raise ModelError(f"{folder}: final folder not found (made by 'fourtop final')")
    path = folder / CARD_FILE
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if not (folder / PLAN_FILE).is_file():
            raise ModelError(
                f"{folder}: not a final folder (no {CARD_FILE}; 'fourtop final' makes one)"
            ) from None
        raise ModelError(
            f"{folder}: no {CARD_FILE}: its training has not finished (run 'fourtop final "
            f"-f {folder}' to finish it)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable model card ({exc.__class__.__name__})") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ModelError(f"{path}: not a fourtop model card")
    version = card.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelError(f"{path}: damaged model card (format_version = {version!r})")
    if version > CARD_VERSION:
        raise ModelError(
            f"{path}: made by a newer fourtop (card version {version}); upgrade fourtop to use it"
        )
    problem = _card_problem(card)
    if problem:
        raise ModelError(
            f"{path}: damaged model card ({problem}); run 'fourtop final -f "
            f"{folder}' to write it again"
        )
    for fold in range(card["k"]):
        for name in (torch_file(fold), onnx_file(fold)):
            if not (folder / name).is_file():
                raise ModelError(f"{folder / name}: fold {fold}'s model is missing")
    return FinalModel(folder, card)


def _card_problem(card: dict[str, Any]) -> str | None:
    """What a card lacks that scoring needs, or None."""
    k, variables, config = card.get("k"), card.get("variables"), card.get("config")
    if not isinstance(k, int) or isinstance(k, bool) or not 2 <= k <= 100:
        return f"k = {k!r}"
    if not isinstance(variables, list) or not variables:
        return "no variables"
    if not all(isinstance(v, str) for v in variables) or len(set(variables)) != len(variables):
        return "variables are not distinct names"
    if not isinstance(card.get("event_id"), str) or not isinstance(card.get("dataset"), str):
        return "no event_id or dataset"
    if not isinstance(config, dict) or not isinstance(config.get("fingerprint"), str):
        return "no configuration fingerprint"
    if not isinstance(config.get("fingerprint_doc", {}), dict):
        return "fingerprint_doc is not a table"
    folds = card.get("folds")
    if not isinstance(folds, list) or len(folds) != k:
        return f"not {k} folds"
    for i, fold in enumerate(folds):
        if not isinstance(fold, dict) or fold.get("fold") != i:
            return f"fold entry {i}"
    return None


def check_model_files(folder: Path, fold: int) -> onnx.ModelProto:
    """``fold``'s ONNX and PyTorch models must be readable (not only present).

    Returns:
        the ONNX model, as read.

    Raises:
        ModelError: a file is missing, empty or not a model.
    """
    import onnx

    path = folder / onnx_file(fold)
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except FileNotFoundError:
        raise ModelError(f"{path}: fold {fold}'s model is missing") from None
    except Exception as exc:  # onnx raises its own types (DecodeError, ValidationError)
        raise ModelError(f"{path}: not a readable ONNX model ({exc.__class__.__name__})") from None
    load_torch_model(folder / torch_file(fold))
    return model


def _by_fold(model: FinalModel, x: np.ndarray, keys: np.ndarray, score_fold: Any) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != len(model.variables):
        raise ModelError(
            f"{model.folder}: expected {len(model.variables)} input columns, got shape {x.shape}"
        )
    keys = np.asarray(keys)
    if keys.shape != (len(x),):
        raise ModelError(f"{len(keys)} event keys for {len(x)} events")
    folds = fold_of(keys, model.k)
    out = np.empty(len(x), dtype=np.float32)
    for fold in range(model.k):
        rows = np.flatnonzero(folds == fold)
        if len(rows):
            out[rows] = score_fold(fold, x[rows])
    return out


class _OnnxScorer:
    def __init__(self, model: FinalModel) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError(
                "ONNX Runtime is not installed (pip install onnxruntime), or use the torch engine"
            ) from None
        self.model = model
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # as many threads as this process's share of the cores (a local worker's
        # OMP_NUM_THREADS), not every core once per worker
        threads = os.environ.get(OMP_THREADS_ENV, "")
        options.intra_op_num_threads = int(threads) if threads.isdigit() else 0
        options.inter_op_num_threads = 1
        self.sessions = []
        for fold in range(model.k):
            path = model.folder / onnx_file(fold)
            try:
                self.sessions.append(
                    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                )
            except Exception as exc:  # onnxruntime raises its own types for a bad file
                raise ModelError(
                    f"{path}: not a readable ONNX model ({exc.__class__.__name__})"
                ) from None
        self.input = self.sessions[0].get_inputs()[0].name

    def score(self, x: np.ndarray, keys: np.ndarray) -> np.ndarray:
        return _by_fold(
            self.model,
            x,
            keys,
            lambda fold, rows: self.sessions[fold].run(None, {self.input: rows})[0],
        )


class _TorchScorer:
    def __init__(self, model: FinalModel) -> None:
        self.model = model
        self.nets = [model.torch_net(f) for f in range(model.k)]

    def score(self, x: np.ndarray, keys: np.ndarray) -> np.ndarray:
        return _by_fold(self.model, x, keys, lambda fold, rows: self.nets[fold].score(rows))


def load_torch_model(path: Path) -> Any:
    """A fold's :class:`~fourtop.train.export.ScoringNet` from its ``.pt`` file.

    Raises:
        ModelError: the file is missing or not a fourtop fold model.
    """
    return _load_payload(path)[0]


def _load_payload(path: Path) -> tuple[Any, dict[str, Any]]:
    import torch

    from fourtop.train.export import ScoringNet

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        net = ScoringNet(
            payload["state_dict"],
            payload["network"],
            payload["standardization"]["mean"],
            payload["standardization"]["std"],
        )
    except FileNotFoundError:
        raise ModelError(f"{path}: fold model not found") from None
    except Exception as exc:  # torch.load raises many types for a bad file
        raise ModelError(f"{path}: not a fourtop fold model ({exc.__class__.__name__})") from None
    return net, payload
