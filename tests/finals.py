"""Final folders without training: what ``fourtop final`` writes, with random weights.

:func:`make_final` fabricates a valid final folder (``model_card.json``, and per fold
``model_fold<i>.pt`` and ``model_fold<i>.onnx``) for a :class:`~fourtop.data.config.DatasetConfig`,
in milliseconds: each fold's network is a freshly initialised
:class:`~fourtop.train.model.FamilyNet` (a different random seed per fold, so the folds score
differently and a test can tell which fold scored an event), exported as
:class:`~fourtop.train.export.ScoringNet` and as its ONNX graph, in the layout the card's format
(version 1) fixes. :func:`fold_scores` scores events with one fold's network in PyTorch, for
tests that check that every event got its own fold's score.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fourtop import __version__
from fourtop.data.config import DatasetConfig
from fourtop.final.model import CARD_FILE, CARD_FORMAT, onnx_file, torch_file
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


def fold_scores(folder: Path, fold: int, x: np.ndarray) -> np.ndarray:
    """The scores of fold ``fold``'s network (PyTorch) for raw inputs ``x`` (float32 [N, n])."""
    from fourtop.final.model import load_torch_model

    return load_torch_model(Path(folder) / torch_file(fold)).score(x)
