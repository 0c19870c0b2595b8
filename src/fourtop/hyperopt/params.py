"""The optimization's parameters: the original ``PARAMETERS`` dict, its defaults and checks.

The keys and defaults are those of the original ``hyperopt.py`` manual. Keys listed in
``static`` are fixed; every other key is a hyperparameter whose value is its search space:
``[low, high]`` for the integer ranges (``hidden_layers``, ``initial_nodes``, ``batch_power``),
``[low, high]`` searched log-uniformly for ``learning_rate``, and a list of choices for
``node_pattern``, ``regulator`` and ``activation_function``. A hyperparameter named in
``static`` takes one value instead of a space, which fixes it.

Example:
    >>> p = resolve_parameters({"n_calls": 12, "n_starts": 6}, num_vars=10, tag="t")
    >>> p.n_calls, p.space["initial_nodes"], p.log_file
    (12, IntRange(low=10, high=100), 'optimize_log_t.txt')
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fourtop.errors import ParameterError, did_you_mean
from fourtop.naming import hour_tag
from fourtop.plotting import FORMATS, check_formats
from fourtop.train.params import ACTIVATIONS, NODE_PATTERNS, REGULATORS

__all__ = [
    "FIXED_KEYS",
    "HYPERPARAMETERS",
    "Choice",
    "HyperoptParameters",
    "IntRange",
    "LogRange",
    "default_parameters",
    "load_parameters",
    "resolve_parameters",
]

#: keys that are never searched (the manual's default ``static`` list)
FIXED_KEYS = (
    "static",
    "epochs",
    "patience",
    "model_name",
    "tag",
    "log_file",
    "n_calls",
    "n_starts",
)


@dataclass(frozen=True)
class IntRange:
    """Integers ``low..high``, both included."""

    low: int
    high: int


@dataclass(frozen=True)
class LogRange:
    """Floats in ``[low, high]``, searched log-uniformly."""

    low: float
    high: float


@dataclass(frozen=True)
class Choice:
    """One of ``options``."""

    options: tuple[str, ...]


Dimension = IntRange | LogRange | Choice

#: hyperparameter -> (kind, smallest allowed value or the allowed choices)
HYPERPARAMETERS: dict[str, tuple[str, Any]] = {
    "hidden_layers": ("int", 1),
    "initial_nodes": ("int", 1),
    "node_pattern": ("choice", NODE_PATTERNS),
    "batch_power": ("int", 1),  # 2**0: one event per batch, which batch normalization refuses
    "learning_rate": ("log", 0.0),
    "regulator": ("choice", REGULATORS),
    "activation_function": ("choice", ACTIVATIONS),
}

#: largest values of the integer hyperparameters (past them a typo, not a network)
_MAXIMA = {"batch_power": 24, "hidden_layers": 100, "initial_nodes": 100_000}


def default_parameters(num_vars: int, tag: str | None = None) -> dict[str, Any]:
    """The manual's defaults for ``num_vars`` input variables (a fresh dict).

    ``model_name`` and ``log_file`` follow ``tag``; the model file replaces the original's
    TMVA ``dummy_opt_model.h5`` and holds the best network's weights.
    """
    tag = tag or hour_tag()
    return {
        "static": list(FIXED_KEYS),
        "epochs": 15,
        "patience": 5,
        "model_name": f"best_model_{tag}.pt",
        "tag": tag,
        "log_file": f"optimize_log_{tag}.txt",
        "n_calls": 50,
        "n_starts": 30,
        "hidden_layers": [1, 3],
        "initial_nodes": [num_vars, 10 * num_vars],
        "node_pattern": list(NODE_PATTERNS),
        "batch_power": [8, 11],
        "learning_rate": [1.0e-5, 1.0e-2],
        "regulator": list(REGULATORS),
        "activation_function": list(ACTIVATIONS),
    }


@dataclass(frozen=True)
class HyperoptParameters:
    """Checked parameters: the fixed settings, the search space and the fixed hyperparameters.

    Attributes:
        values: every key with its checked value, as written to ``parameters_<tag>.json``.
        space: the searched hyperparameters and their dimensions, in the manual's order.
        fixed: hyperparameters named in ``static``, with their single value.
        plot_formats: the formats of the history plot (``--plot-format``; not a parameter of
            the search, so not in ``values``: a resumed run may choose others).
    """

    values: Mapping[str, Any]
    space: Mapping[str, Dimension]
    fixed: Mapping[str, Any]
    plot_formats: tuple[str, ...] = FORMATS

    @property
    def tag(self) -> str:
        return str(self.values["tag"])

    @property
    def n_calls(self) -> int:
        return int(self.values["n_calls"])

    @property
    def n_starts(self) -> int:
        return int(self.values["n_starts"])

    @property
    def epochs(self) -> int:
        return int(self.values["epochs"])

    @property
    def patience(self) -> int | None:
        value = self.values["patience"]
        return None if value is None else int(value)

    @property
    def model_name(self) -> str:
        return str(self.values["model_name"])

    @property
    def log_file(self) -> str:
        return str(self.values["log_file"])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy; feeding it back with ``-p`` gives the same parameters."""
        return json.loads(json.dumps(dict(self.values)))

    def network(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """Network parameters (``NetworkParams.from_dict`` keys) for one point of the space."""
        hp = {**self.fixed, **point}
        return {
            "hidden_layers": int(hp["hidden_layers"]),
            "initial_nodes": int(hp["initial_nodes"]),
            "node_pattern": str(hp["node_pattern"]),
            "batch_size": 2 ** int(hp["batch_power"]),
            "learning_rate": float(hp["learning_rate"]),
            "regulator": str(hp["regulator"]),
            "activation": str(hp["activation_function"]),
            "epochs": self.epochs,
            "patience": self.patience,
        }

    def search_signature(self) -> dict[str, Any]:
        """What must not change when a study is resumed: space, fixed values, epochs, patience."""
        keep = ("epochs", "patience", *HYPERPARAMETERS)
        return {k: self.to_dict()[k] for k in keep}


def load_parameters(
    path: str | Path | None,
    num_vars: int,
    *,
    tag: str | None = None,
    plot_formats: Sequence[str] = FORMATS,
) -> HyperoptParameters:
    """Read a ``-p`` JSON file (None: no file) over the defaults and check everything.

    Args:
        path: the JSON file updating the defaults, or None.
        num_vars: number of input variables (sets the default ``initial_nodes`` range).
        tag: overrides the ``tag`` key (e.g. from ``--tag``).
        plot_formats: the formats of the history plot (e.g. from ``--plot-format``).

    Raises:
        ParameterError: the file is missing or not a JSON object, a key is unknown, has the
            wrong type or an empty range, or a plot format is unknown.
    """
    user: dict[str, Any] = {}
    source = "parameters"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise ParameterError(f"{path}: parameters file not found") from None
        except IsADirectoryError:
            raise ParameterError(f"{path}: is a folder, expected a JSON file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ParameterError(f"{path}: cannot read ({exc.__class__.__name__})") from exc
        try:
            user = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParameterError(
                f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
        if not isinstance(user, dict):
            raise ParameterError(f"{path}: expected a JSON object of parameters")
    if tag is not None:
        _check_tag(tag, "--tag")  # the value came from the command line, not the file
        user["tag"] = tag
    return resolve_parameters(user, num_vars, source=source, plot_formats=plot_formats)


def resolve_parameters(
    user: Mapping[str, Any],
    num_vars: int,
    *,
    tag: str | None = None,
    source: str = "parameters",
    plot_formats: Sequence[str] = FORMATS,
) -> HyperoptParameters:
    """Merge ``user`` over :func:`default_parameters` and check the result; ``plot_formats``:
    the formats of the history plot (:data:`fourtop.plotting.SUPPORTED`).

    Raises:
        ParameterError: ``"<source>: <key>: <problem>"`` for the first bad key, or an
            unknown plot format.
    """
    formats = check_formats(plot_formats)
    tag = tag if tag is not None else user.get("tag")
    if tag is not None:
        _check_tag(tag, source)
    defaults = default_parameters(num_vars, tag)
    for key in user:
        if key not in defaults:
            raise ParameterError(
                f"{source}: unknown parameter {key!r}" + did_you_mean(str(key), defaults)
            )
    values = {**defaults, **user}
    if tag is not None:
        values["tag"] = tag

    def fail(key: str, problem: str) -> ParameterError:
        return ParameterError(f"{source}: {key}: {problem} (got {json.dumps(values[key])})")

    static = values["static"]
    if not isinstance(static, list) or not all(isinstance(s, str) for s in static):
        raise fail("static", "expected a list of parameter names")
    for name in static:
        if name not in defaults:
            raise fail("static", f"unknown parameter {name!r}" + did_you_mean(name, defaults))
    for name in FIXED_KEYS:
        if name not in static:
            raise fail("static", f"{name!r} cannot be optimized and must stay in the list")

    for key in ("epochs", "n_calls", "n_starts"):
        _check_int(values[key], 1, fail, key)
    if values["patience"] is not None:
        _check_int(values["patience"], 1, fail, "patience")
    for key in ("model_name", "log_file"):
        if not isinstance(values[key], str) or not values[key].strip():
            raise fail(key, "expected a file name")
    if values["n_starts"] > values["n_calls"]:
        raise fail("n_starts", f"more random starts than n_calls ({values['n_calls']})")

    space: dict[str, Dimension] = {}
    fixed: dict[str, Any] = {}
    for key, (kind, limit) in HYPERPARAMETERS.items():
        value = values[key]
        if key in static:
            fixed[key] = _check_single(value, kind, limit, fail, key)
        else:
            space[key] = _check_dimension(value, kind, limit, fail, key)
    return HyperoptParameters(values=values, space=space, fixed=fixed, plot_formats=formats)


def _check_tag(tag: Any, source: str) -> None:
    if (
        not isinstance(tag, str)
        or not tag.strip()
        or any(c in tag for c in "/\\")
        or any(not c.isprintable() for c in tag)
        or tag in (".", "..")
    ):
        where = source if source == "--tag" else f"{source}: tag"
        raise ParameterError(
            f"{where}: expected a non-empty name without '/' or control characters "
            f"(got {json.dumps(tag)})"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(value: Any, low: int, fail: Any, key: str) -> int:
    if not _is_int(value) or value < low:
        raise fail(key, f"expected an integer >= {low}")
    if key in _MAXIMA and value > _MAXIMA[key]:
        raise fail(key, f"expected an integer <= {_MAXIMA[key]}")
    return int(value)


def _check_single(value: Any, kind: str, limit: Any, fail: Any, key: str) -> Any:
    """A hyperparameter fixed by ``static``: one value of its kind."""
    if kind == "int":
        if isinstance(value, list):
            raise fail(key, "listed in 'static', so give one integer, not a range")
        return _check_int(value, limit, fail, key)
    if kind == "log":
        if not _is_number(value) or value <= 0:
            raise fail(key, "listed in 'static', so give one number > 0")
        return float(value)
    if value not in limit:
        raise fail(key, f"listed in 'static', so give one of {', '.join(limit)}")
    return value


def _check_dimension(value: Any, kind: str, limit: Any, fail: Any, key: str) -> Dimension:
    """A searched hyperparameter: ``[low, high]`` or a non-empty list of choices."""
    if kind == "choice":
        if not isinstance(value, list) or not value:
            raise fail(key, f"expected a non-empty list of choices from {', '.join(limit)}")
        for option in value:
            if option not in limit:
                raise fail(
                    key,
                    f"unknown choice {json.dumps(option)}, expected {', '.join(limit)}"
                    + did_you_mean(str(option), limit),
                )
        if len(set(value)) != len(value):
            raise fail(key, "a choice is listed twice")
        return Choice(tuple(value))
    if not isinstance(value, list) or len(value) != 2:
        hint = "" if isinstance(value, list) else "; to fix it, also list it in 'static'"
        raise fail(key, f"expected a range [low, high]{hint}")
    low, high = value
    if kind == "int":
        low, high = (_check_int(v, limit, fail, key) for v in value)
    elif not (_is_number(low) and _is_number(high)) or low <= 0 or high <= 0:
        raise fail(key, "expected a range [low, high] of numbers > 0")
    if low > high:
        raise fail(key, "empty range: low is larger than high")
    return IntRange(low, high) if kind == "int" else LogRange(float(low), float(high))
