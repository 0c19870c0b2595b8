"""Bayesian hyperparameter optimization on the top variables (``fourtop hyperopt``).

- :mod:`~fourtop.hyperopt.params`: the manual's parameters, their defaults and checks.
- :mod:`~fourtop.hyperopt.selection`: which variables (from the importance results or a file).
- :mod:`~fourtop.hyperopt.search`: the Gaussian-process search with Optuna, resumable.
- :mod:`~fourtop.hyperopt.objective`: one training of the project's network as the objective.
- :mod:`~fourtop.hyperopt.outputs`: the files written in the dataset folder.
"""

from __future__ import annotations

from fourtop.hyperopt.params import HyperoptParameters, load_parameters, resolve_parameters
from fourtop.hyperopt.search import (
    HyperoptResult,
    TrialOutcome,
    TrialRecord,
    objective_value,
    run_hyperopt,
)

__all__ = [
    "HyperoptParameters",
    "HyperoptResult",
    "TrialOutcome",
    "TrialRecord",
    "load_parameters",
    "objective_value",
    "resolve_parameters",
    "run_hyperopt",
]
