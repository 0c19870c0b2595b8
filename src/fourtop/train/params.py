"""Network hyperparameters: one frozen dataclass whose defaults are the original network.

The original importance jobs trained ``Dense(100, relu) -> 2 x [BatchNorm, Dense(100, relu)] ->
output`` with Adam (learning rate 1e-3) for 15 epochs in batches of 512. Those are the defaults
here; the hyperparameter optimization varies the same names as the original ``hyperopt.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fourtop.errors import ParameterError, did_you_mean

__all__ = ["ACTIVATIONS", "NODE_PATTERNS", "REGULATORS", "NetworkParams", "read_params"]

NODE_PATTERNS = ("static", "dynamic")
REGULATORS = ("none", "dropout", "normalization", "both")
ACTIVATIONS = ("relu", "softplus", "elu")

#: the largest values a network parameter may take (far beyond any sensible network)
_LARGEST = {
    "hidden_layers": 1_000,
    "initial_nodes": 100_000,
    "batch_size": 2**24,
    "epochs": 100_000,
    "patience": 100_000,
}
#: the most weights between hidden layers (4e8 bytes in float32, x4 with Adam's state)
_MAX_WEIGHTS = 10**8

#: names the original hyperopt.py used, accepted by ``from_dict``
_ALIASES = {"activation_function": "activation"}


@dataclass(frozen=True)
class NetworkParams:
    """How one network is built and trained.

    Attributes:
        hidden_layers: number of hidden Dense layers (>= 1).
        initial_nodes: width of the first hidden layer.
        node_pattern: ``static`` (every hidden layer has ``initial_nodes``) or ``dynamic``
            (the width shrinks linearly layer by layer, see :meth:`layer_sizes`).
        batch_size: events per minibatch.
        learning_rate: Adam's learning rate.
        regulator: what sits between hidden layers: ``none``, ``dropout``, ``normalization``
            (batch normalization) or ``both`` (batch normalization then dropout).
        activation: ``relu``, ``softplus`` or ``elu``.
        epochs: maximum number of passes over the training events.
        patience: early stopping: stop after this many epochs without a lower validation loss
            and keep the best epoch's weights; None trains all ``epochs`` (the original jobs).
        dropout_rate: fraction of units dropped by a dropout regulator.
    """

    hidden_layers: int = 3
    initial_nodes: int = 100
    node_pattern: str = "static"
    batch_size: int = 512
    learning_rate: float = 1e-3
    regulator: str = "normalization"
    activation: str = "relu"
    epochs: int = 15
    patience: int | None = None
    dropout_rate: float = 0.5

    def __post_init__(self) -> None:
        def positive_int(name: str, value: Any) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(
                    f"network parameter {name}={value!r}: expected an integer >= 1"
                )

        for name in ("hidden_layers", "initial_nodes", "batch_size", "epochs"):
            positive_int(name, getattr(self, name))
        if self.patience is not None:
            positive_int("patience", self.patience)
        for name, largest in _LARGEST.items():  # a typo must not become a hang or an OOM kill
            value = getattr(self, name)
            if value is not None and value > largest:
                raise ParameterError(f"network parameter {name}={value}: at most {largest}")
        for name, choices in (
            ("node_pattern", NODE_PATTERNS),
            ("regulator", REGULATORS),
            ("activation", ACTIVATIONS),
        ):
            value = getattr(self, name)
            if value not in choices:
                raise ParameterError(
                    f"network parameter {name}={value!r}: expected one of {', '.join(choices)}"
                    + did_you_mean(str(value), choices)
                )
        if self.batch_size < 2 and self.regulator in ("normalization", "both"):
            raise ParameterError(
                f"network parameter batch_size={self.batch_size}: batch normalization "
                f"(regulator={self.regulator!r}) needs at least 2 events per batch"
            )
        sizes = self.layer_sizes()
        weights = sum(a * b for a, b in itertools.pairwise(sizes))
        if weights > _MAX_WEIGHTS:
            raise ParameterError(
                f"network parameters hidden_layers={self.hidden_layers}, initial_nodes="
                f"{self.initial_nodes}: {weights:.3g} weights between hidden layers, at most "
                f"{_MAX_WEIGHTS:.0e} (a network this big does not fit in memory)"
            )
        lr = self.learning_rate
        if (
            isinstance(lr, bool)
            or not isinstance(lr, int | float)
            or not (math.isfinite(lr) and lr > 0)
        ):
            raise ParameterError(f"network parameter learning_rate={lr!r}: expected a number > 0")
        rate = self.dropout_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
            raise ParameterError(
                f"network parameter dropout_rate={rate!r}: expected a number in [0, 1)"
            )

    def layer_sizes(self) -> list[int]:
        """Widths of the hidden layers.

        ``static``: ``initial_nodes`` in every layer. ``dynamic``: layer ``i`` (from 0) has
        ``initial_nodes - i * (initial_nodes // hidden_layers)`` nodes (at least 1), so the
        network narrows linearly towards the output, as the original ``hyperopt.py`` built it.

        Example:
            >>> p = NetworkParams(hidden_layers=3, initial_nodes=90, node_pattern="dynamic")
            >>> p.layer_sizes()
            [90, 60, 30]
        """
        if self.node_pattern == "static":
            return [self.initial_nodes] * self.hidden_layers
        step = self.initial_nodes // self.hidden_layers
        return [max(1, self.initial_nodes - i * step) for i in range(self.hidden_layers)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field (round-trips through :meth:`from_dict`)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> NetworkParams:
        """Build from a dict; missing keys keep their defaults.

        Also accepts the original ``hyperopt.py`` spellings ``activation_function`` and
        ``batch_power`` (batch size ``2 ** batch_power``).

        Raises:
            ParameterError: an unknown key (with a "did you mean" hint) or a bad value.
        """
        if d is None:
            return cls()
        if not isinstance(d, Mapping):
            raise ParameterError(
                f"network parameters must be a JSON object, not {type(d).__name__}"
            )
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            name = _ALIASES.get(key, key)
            if name == "batch_power":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 24:
                    raise ParameterError(
                        f"network parameter batch_power={value!r}: expected an integer 0..24"
                    )
                name, value = "batch_size", 2**value
            if name not in fields:
                raise ParameterError(
                    f"unknown network parameter {key!r}"
                    + did_you_mean(str(key), sorted(fields | set(_ALIASES) | {"batch_power"}))
                )
            if name in kwargs:
                raise ParameterError(f"network parameter {name!r} given twice (as {key!r})")
            kwargs[name] = value
        return cls(**kwargs)


#: the largest parameters file read (a JSON object of a dozen keys is a few hundred bytes)
_PARAMS_MAX = 1 << 20


def read_params(text: str | None, option: str = "--params") -> dict[str, Any] | None:
    """The value of a ``--params`` option: an inline JSON object or the path of a JSON file.

    Text starting with ``{`` is JSON; anything else is a file name. ``submit`` and ``run-job``
    both read their option through here, so both accept both forms. The keys are not
    checked here (see :meth:`NetworkParams.from_dict`).

    Raises:
        ParameterError: the file cannot be read, the text is not JSON, or not a JSON object.

    Example:
        >>> read_params('{"epochs": 1}')
        {'epochs': 1}
    """
    if text is None:
        return None
    source = option
    if not text.strip():
        raise ParameterError(f"{option}: empty (give a JSON file or an inline JSON object)")
    if not text.lstrip().startswith(("{", "[", '"')):
        path = Path(text)
        try:
            with open(path, "rb") as fh:  # at most a little more than any parameters file
                raw = fh.read(_PARAMS_MAX + 1)
            if len(raw) > _PARAMS_MAX:
                raise ParameterError(
                    f"{path}: not a parameters file (more than {_PARAMS_MAX // 1024} kB)"
                )
            text = raw.decode("utf-8")
        except FileNotFoundError:
            raise ParameterError(
                f"{path}: parameters file not found ({option} takes a JSON file or an "
                "inline JSON object such as '{\"epochs\": 5}')"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ParameterError(f"{path}: cannot read the parameters file ({reason})") from None
        source = str(path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(value, dict):
        raise ParameterError(f"{source}: expected a JSON object of network parameters")
    return value
