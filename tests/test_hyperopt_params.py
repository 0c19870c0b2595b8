"""The optimization's parameters: the manual's defaults, -p updates and every refusal."""

from __future__ import annotations

import json

import pytest

from fourtop.errors import ParameterError
from fourtop.hyperopt.params import (
    FIXED_KEYS,
    Choice,
    IntRange,
    LogRange,
    load_parameters,
    resolve_parameters,
)


def test_defaults_are_the_manuals():
    p = resolve_parameters({}, num_vars=10, tag="14.Jul.2020_09")
    v = p.values
    assert list(v["static"]) == list(FIXED_KEYS)
    assert (v["epochs"], v["patience"], v["n_calls"], v["n_starts"]) == (15, 5, 50, 30)
    assert v["log_file"] == "optimize_log_14.Jul.2020_09.txt"
    assert v["model_name"] == "best_model_14.Jul.2020_09.pt"
    assert p.space == {
        "hidden_layers": IntRange(1, 3),
        "initial_nodes": IntRange(10, 100),
        "node_pattern": Choice(("static", "dynamic")),
        "batch_power": IntRange(8, 11),
        "learning_rate": LogRange(1e-5, 1e-2),
        "regulator": Choice(("none", "dropout", "normalization", "both")),
        "activation_function": Choice(("relu", "softplus", "elu")),
    }
    assert p.fixed == {}


def test_default_tag_is_the_hour_tag():
    p = resolve_parameters({}, num_vars=3)
    assert p.tag.count(".") == 2 and "_" in p.tag
    assert p.log_file == f"optimize_log_{p.tag}.txt"


def test_json_file_updates_and_round_trips(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"n_calls": 12, "n_starts": 6, "learning_rate": [1e-4, 1e-3]}))
    p = load_parameters(path, num_vars=4, tag="mine")
    assert (p.n_calls, p.n_starts, p.tag) == (12, 6, "mine")
    assert p.space["learning_rate"] == LogRange(1e-4, 1e-3)
    assert p.model_name == "best_model_mine.pt"
    again = tmp_path / "again.json"
    again.write_text(json.dumps(p.to_dict()))
    assert load_parameters(again, num_vars=4).values == p.values


def test_static_hyperparameter_is_fixed():
    p = resolve_parameters(
        {
            "static": [*FIXED_KEYS, "regulator", "batch_power"],
            "regulator": "dropout",
            "batch_power": 9,
        },
        num_vars=5,
        tag="t",
    )
    assert "regulator" not in p.space and p.fixed == {"regulator": "dropout", "batch_power": 9}
    net = p.network(
        {
            "hidden_layers": 2,
            "initial_nodes": 7,
            "node_pattern": "static",
            "learning_rate": 1e-3,
            "activation_function": "elu",
        }
    )
    assert net["regulator"] == "dropout" and net["batch_size"] == 512
    assert net["activation"] == "elu" and net["epochs"] == 15 and net["patience"] == 5


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"hiden_layers": [1, 2]}, "unknown parameter 'hiden_layers' (did you mean: hidden_layers"),
        ({"epochs": "15"}, 'epochs: expected an integer >= 1 (got "15")'),
        ({"epochs": 2.5}, "epochs: expected an integer >= 1 (got 2.5)"),
        ({"n_calls": True}, "n_calls: expected an integer >= 1 (got true)"),
        ({"patience": 0}, "patience: expected an integer >= 1 (got 0)"),
        ({"hidden_layers": [3, 1]}, "hidden_layers: empty range: low is larger than high"),
        ({"learning_rate": [1e-2, 1e-5]}, "learning_rate: empty range"),
        (
            {"learning_rate": [0, 1e-2]},
            "learning_rate: expected a range [low, high] of numbers > 0",
        ),
        ({"initial_nodes": 50}, "initial_nodes: expected a range [low, high]; to fix it"),
        ({"batch_power": [8, 11, 12]}, "batch_power: expected a range [low, high] (got"),
        ({"batch_power": [8, 30]}, "batch_power: expected an integer <= 24"),
        ({"regulator": []}, "regulator: expected a non-empty list of choices"),
        ({"activation_function": ["relu", "tanh"]}, 'unknown choice "tanh"'),
        ({"node_pattern": ["static", "static"]}, "node_pattern: a choice is listed twice"),
        ({"n_calls": 10}, "n_starts: more random starts than n_calls (10)"),
        ({"static": ["epochs"]}, "static: 'static' cannot be optimized"),
        ({"static": [*FIXED_KEYS, "nodes"]}, "static: unknown parameter 'nodes'"),
        (
            {"static": [*FIXED_KEYS, "regulator"], "regulator": ["both"]},
            "regulator: listed in 'static', so give one of",
        ),
        ({"tag": "a/b"}, "tag: expected a non-empty name without '/'"),
        ({"model_name": ""}, "model_name: expected a file name"),
    ],
)
def test_bad_parameters_are_one_line_errors(tmp_path, user, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(user))
    with pytest.raises(ParameterError) as err:
        load_parameters(path, num_vars=5)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_unreadable_files(tmp_path):
    with pytest.raises(ParameterError, match="parameters file not found"):
        load_parameters(tmp_path / "missing.json", num_vars=3)
    bad = tmp_path / "bad.json"
    bad.write_text('{"n_calls": 3,}')
    with pytest.raises(ParameterError, match=r"not valid JSON \(line 1"):
        load_parameters(bad, num_vars=3)
    bad.write_text("[1, 2]")
    with pytest.raises(ParameterError, match="expected a JSON object"):
        load_parameters(bad, num_vars=3)
