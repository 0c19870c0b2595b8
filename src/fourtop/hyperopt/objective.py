"""The real objective: train the project's network on the optimization split.

Each call trains :func:`fourtop.train.fit.train_network` with one point of the search space on
split 1's training half (early stopping on a validation share of it, with ``patience``) and
returns the ROC integral on split 1's held-out half, together with what is needed to reload the
network (weights, variables, network parameters, input standardization when the trainer
provides it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fourtop.errors import TrainingError
from fourtop.hyperopt.search import Objective, TrialOutcome
from fourtop.splits import Split

if TYPE_CHECKING:
    from fourtop.data.ntuples import SplitArrays

__all__ = ["load_optimization_data", "training_objective"]

#: the sample split reserved for hyperparameter optimization (0: importance, 2: final training)


def load_optimization_data(config_path: str | None, year: str) -> tuple[Any, SplitArrays]:
    """The dataset configuration and split 1's arrays of dataset ``year``.

    Raises:
        ConfigError: the configuration is missing or has no dataset ``year``.
        DataError: an ntuple cannot be read.
    """
    from fourtop.data.config import load_config
    from fourtop.data.ntuples import load_split

    config = load_config(config_path)
    return config, load_split(config, year, Split.OPTIMIZATION)


def training_objective(
    data: SplitArrays, *, random_seed: int = 0, device: str = "auto"
) -> Objective:
    """An objective that trains one network per call with the same ``random_seed``.

    The seed fixes the train/test split, the initial weights and the minibatch order, so the
    trainings differ only by their hyperparameters.
    """
    from fourtop.train.fit import train_network
    from fourtop.train.params import NetworkParams

    def objective(network: Mapping[str, Any], variables: list[str]) -> TrialOutcome:
        params = NetworkParams.from_dict(network)
        try:
            result = train_network(data, variables, params, random_seed=random_seed, device=device)
        except MemoryError:
            raise TrainingError(_too_big(params)) from None
        except RuntimeError as exc:  # torch's CPU and CUDA allocators
            if "memory" not in str(exc).lower():
                raise
            raise TrainingError(_too_big(params)) from None
        model: dict[str, Any] = {
            "state_dict": result.state_dict,
            "variables": list(result.variables),
            "network": params.to_dict(),
            "random_seed": random_seed,
            "history": result.history,
        }
        standardization = getattr(result, "standardization", None)
        if standardization is not None:
            model["standardization"] = standardization
        return TrialOutcome(
            roc_integral=result.roc_integral, model=model, epochs=result.epochs_trained
        )

    return objective


def _too_big(params: Any) -> str:
    return (
        f"out of memory for a network of {params.hidden_layers} layers of up to "
        f"{params.initial_nodes} nodes with batches of {params.batch_size}"
    )
