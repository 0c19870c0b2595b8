"""NetworkParams: defaults of the original network, dict round trip, validation."""

from __future__ import annotations

import pytest

from fourtop.errors import ParameterError
from fourtop.train.params import NetworkParams


def test_defaults_are_the_original_network():
    p = NetworkParams()
    assert p.layer_sizes() == [100, 100, 100]
    assert (p.regulator, p.activation, p.batch_size, p.learning_rate, p.epochs) == (
        "normalization",
        "relu",
        512,
        1e-3,
        15,
    )
    assert p.patience is None


def test_dict_round_trip_and_aliases():
    p = NetworkParams(hidden_layers=2, node_pattern="dynamic", patience=3, activation="elu")
    assert NetworkParams.from_dict(p.to_dict()) == p
    assert NetworkParams.from_dict(None) == NetworkParams()
    q = NetworkParams.from_dict({"batch_power": 9, "activation_function": "softplus"})
    assert (q.batch_size, q.activation) == (512, "softplus")


def test_dynamic_pattern_shrinks_layer_by_layer():
    p = NetworkParams(hidden_layers=4, initial_nodes=40, node_pattern="dynamic")
    assert p.layer_sizes() == [40, 30, 20, 10]
    assert NetworkParams(
        hidden_layers=5, initial_nodes=3, node_pattern="dynamic"
    ).layer_sizes() == [
        3,
        3,
        3,
        3,
        3,
    ]  # step 0: never below 1 node


@pytest.mark.parametrize(
    ("d", "message"),
    [
        (
            {"hiden_layers": 2},
            "unknown network parameter 'hiden_layers' (did you mean: hidden_layers",
        ),
        ({"regulator": "batchnorm"}, "regulator='batchnorm': expected one of none, dropout"),
        ({"activation": "Relu"}, "activation='Relu': expected one of relu, softplus, elu"),
        ({"epochs": 0}, "epochs=0: expected an integer >= 1"),
        ({"batch_size": 1.5}, "batch_size=1.5"),
        ({"learning_rate": -1}, "learning_rate=-1"),
        ({"dropout_rate": 1.0}, "dropout_rate=1.0"),
        ({"patience": True}, "patience=True"),
        ({"batch_power": 40}, "batch_power=40"),
        ({"batch_power": 9, "batch_size": 4}, "given twice"),
    ],
)
def test_bad_values_are_named(d, message):
    with pytest.raises(ParameterError) as err:
        NetworkParams.from_dict(d)
    assert message in str(err.value)


def test_not_a_mapping():
    with pytest.raises(ParameterError, match="must be a JSON object, not list"):
        NetworkParams.from_dict([1, 2])  # type: ignore[arg-type]
