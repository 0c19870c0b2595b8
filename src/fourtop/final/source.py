"""Where the final training's variables and hyperparameters come from.

Either ``hyperopt``'s ``optimized_parameters_<tag>.json`` in the dataset folders (the best
ROC integral when several are found, with a note saying which), or, with ``-n N``, the top
``N`` variables of a ``calculate`` results file (``VariableImportanceResults_<N>vars.txt``)
and the network of ``--params`` (default: the original network).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fourtop.errors import ParameterError, ResultsError
from fourtop.train.params import NetworkParams

__all__ = ["FinalSource", "find_source", "optimized_files"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinalSource:
    """The variables (input order) and network of the final training, and their origin.

    Attributes:
        variables: the input variables.
        network: the hyperparameters (``NetworkParams.to_dict()``).
        origin: the file the variables came from.
        description: one line for people (``hyperopt tag X, ROC-integral 0.83``).
        roc_integral: the ROC integral the optimization measured, when known.
    """

    variables: list[str]
    network: dict[str, Any]
    origin: Path
    description: str
    roc_integral: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """For the model card."""
        return {
            "origin": str(self.origin),
            "description": self.description,
            "optimization_roc_integral": self.roc_integral,
        }


def optimized_files(folders: Sequence[Path]) -> list[Path]:
    """The ``optimized_parameters_*.json`` files of ``folders`` (missing folders skipped)."""
    found: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            found += sorted(folder.glob("optimized_parameters_*.json"))
    return found


def find_source(
    folders: Sequence[Path],
    *,
    count: str | None = None,
    params: Mapping[str, Any] | None = None,
    epochs: int | None = None,
) -> tuple[FinalSource, list[str]]:
    """Choose the variables and network (see the module documentation).

    Args:
        folders: the dataset folders (``fourtop final DATASET ...``).
        count: ``-n``: take the top variables of a ``calculate`` results file instead.
        params: ``--params``: the network (with ``-n``), or hyperparameters that override the
            optimized ones.
        epochs: ``--epochs``: overrides the epochs of either.

    Returns:
        The source and notes for the user (which file was chosen among several).

    Raises:
        ResultsError: no folder, no optimized parameters (without ``-n``), no results file,
            or an unreadable file.
        ParameterError: bad ``-n``, ``--params`` or ``--epochs``.
    """
    if not folders:
        raise ResultsError("no dataset folder given and no dataset* folder here")
    missing = [f for f in folders if not f.is_dir()]
    if missing:
        raise ResultsError(f"{missing[0]}: dataset folder not found")
    notes: list[str] = []
    if count is not None:
        source = _from_results(folders, count, params)
    else:
        source, notes = _from_optimized(folders, params)
    network = dict(source.network)
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ParameterError(f"--epochs {epochs}: expected a whole number of at least 1")
        network["epochs"] = epochs
    network = NetworkParams.from_dict(network).to_dict()  # checked, complete
    return (
        FinalSource(
            source.variables, network, source.origin, source.description, source.roc_integral
        ),
        notes,
    )


def _from_results(
    folders: Sequence[Path], count: str, params: Mapping[str, Any] | None
) -> FinalSource:
    from fourtop.hyperopt.selection import select_variables

    if len(folders) > 1:
        raise ParameterError(
            f"-n {count}: give one dataset folder (its results file gives the variables), "
            f"not {len(folders)}"
        )
    selection = select_variables(folders[0], "importance", count=count)
    network = NetworkParams.from_dict(params).to_dict()
    what = "--params" if params else "the original network"
    first, last = selection.positions
    return FinalSource(
        list(selection.variables),
        network,
        selection.source,
        f"variables {first}-{last} by {selection.order} of {selection.source}, {what}",
    )


def _from_optimized(
    folders: Sequence[Path], params: Mapping[str, Any] | None
) -> tuple[FinalSource, list[str]]:
    files = optimized_files(folders)
    if not files:
        where = ", ".join(str(f) for f in folders)
        raise ResultsError(
            f"no optimized_parameters_*.json in {where}: run 'fourtop hyperopt' first, or "
            "give -n N to train on the top N variables of the calculate results (and "
            "--params for the network)"
        )
    candidates = [(_read_optimized(path), path) for path in files]
    best_doc, best_path = max(candidates, key=lambda c: c[0]["roc_integral"])
    notes = []
    if len(candidates) > 1:
        notes.append(
            f"{len(candidates)} optimizations found; using {best_path} (the best ROC-integral, "
            f"{best_doc['roc_integral']:.4f})"
        )
    network = dict(best_doc["network"])
    if params:
        network.update(params)
        notes.append(f"--params overrides the optimized {', '.join(sorted(params))}")
    return (
        FinalSource(
            [str(v) for v in best_doc["variables"]],
            network,
            best_path,
            f"hyperopt tag {best_doc.get('tag', '?')} ({best_path})",
            float(best_doc["roc_integral"]),
        ),
        notes,
    )


def _read_optimized(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: unreadable ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise ResultsError(f"{path}: not a hyperopt result (not a JSON object)")
    for key in ("roc_integral", "variables", "network"):
        if key not in doc:
            raise ResultsError(f"{path}: not a hyperopt result (no {key!r})")
    roc = doc["roc_integral"]
    if isinstance(roc, bool) or not isinstance(roc, int | float) or not math.isfinite(roc):
        raise ResultsError(f"{path}: roc_integral {roc!r} is not a number")
    variables, network = doc["variables"], doc["network"]
    if not isinstance(variables, list) or not variables:
        raise ResultsError(f"{path}: 'variables' must be a non-empty list of names")
    if not all(isinstance(v, str) and v for v in variables):
        raise ResultsError(f"{path}: 'variables' must be a non-empty list of names")
    twice = sorted({v for v in variables if variables.count(v) > 1})
    if twice:
        raise ResultsError(f"{path}: variable {twice[0]!r} is listed twice")
    if not isinstance(network, dict):
        raise ResultsError(f"{path}: 'network' must be a table of hyperparameters")
    try:
        NetworkParams.from_dict(network)
    except ParameterError as exc:
        raise ResultsError(f"{path}: bad network: {exc}") from None
    return {**doc, "roc_integral": float(roc)}
