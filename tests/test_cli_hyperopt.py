"""``fourtop hyperopt`` end to end with the real trainer on tiny arrays, resuming, bad inputs."""

from __future__ import annotations

import json
import re

import pytest

from fourtop.cli import main
from test_hyperopt_selection import ROWS, write_results
from train_data import make_arrays

NAMES = [r[0] for r in ROWS]


@pytest.fixture
def data_calls(monkeypatch):
    """Split 1 replaced by tiny synthetic arrays over the results file's variables."""
    calls = []

    def fake_load(config_path, year):
        calls.append((config_path, year))
        return None, make_arrays(names=NAMES, n_events=300, seed=1)

    monkeypatch.setattr("fourtop.hyperopt.objective.load_optimization_data", fake_load)
    return calls


#: a search of three one-epoch trainings on small networks (other test modules use it too)
TINY_SEARCH = {
    "n_calls": 3,
    "n_starts": 2,
    "epochs": 1,
    "patience": 1,
    "initial_nodes": [2, 8],
    "batch_power": [5, 6],
}


def tiny_parameters(folder, **kw):
    path = folder / "p.json"
    doc = {"tag": "e2e", **TINY_SEARCH, **kw}
    path.write_text(json.dumps(doc))
    return path


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_end_to_end_produces_every_file(tmp_path, capsys, data_calls):
    write_results(tmp_path)
    p = tiny_parameters(tmp_path)
    rc = main(
        [
            "hyperopt",
            "-n",
            "2-3",
            "-y",
            "2018",
            "-p",
            str(p),
            "--device",
            "cpu",
            "--baseline",
            str(tmp_path),
        ]
    )
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert data_calls == [(None, "2018")]
    progress = [ln for ln in cap.err.splitlines() if re.match(r"\[\d/3\]", ln)]
    assert [ln[:5] for ln in progress] == ["[1/3]", "[2/3]", "[3/3]"]
    assert all("ROC 0." in ln and "best 0." in ln for ln in progress)
    assert "Variables 2-3 by importance (descending)" in cap.err
    assert "AK4HT, MT_lepMet" in cap.err and "Original default network: ROC-integral" in cap.err
    assert "Best ROC-integral 0." in cap.out and "original default network 0." in cap.out
    for name in (
        "parameters_e2e.json",
        "optimize_log_e2e.txt",
        "optimized_parameters_e2e.txt",
        "optimized_parameters_e2e.json",
        "best_model_e2e.pt",
        "optimize_history_e2e.png",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
        assert str(tmp_path / name) in cap.out
    doc = json.loads((tmp_path / "optimized_parameters_e2e.json").read_text())
    assert doc["variables"] == ["AK4HT", "MT_lepMet"] and doc["year"] == "2018"
    assert 0.5 < doc["roc_integral"] <= 1 and "baseline_roc_integral" in doc
    import torch

    from fourtop.train.params import NetworkParams

    model = torch.load(tmp_path / "best_model_e2e.pt", weights_only=False)
    assert model["variables"] == ["AK4HT", "MT_lepMet"]
    assert model["roc_integral"] == doc["roc_integral"]
    assert NetworkParams.from_dict(model["network"]).to_dict() == model["network"]
    assert model["network"]["initial_nodes"] == doc["network"]["initial_nodes"]
    assert model["state_dict"]


def test_interrupted_run_resumes_with_the_count(tmp_path, capsys, data_calls, monkeypatch):
    write_results(tmp_path)
    p = tiny_parameters(tmp_path)
    import fourtop.hyperopt.objective as objective_module

    real = objective_module.training_objective
    trained = []

    def interrupting(data, **kw):
        inner = real(data, **kw)

        def objective(network, variables):
            if len(trained) == 1:
                trained.append("interrupted")
                raise KeyboardInterrupt
            trained.append(network)
            return inner(network, variables)

        return objective

    monkeypatch.setattr(objective_module, "training_objective", interrupting)
    assert main(["hyperopt", "-n", "2", "-p", str(p), "--device", "cpu", str(tmp_path)]) == 130
    assert "interrupted" in capsys.readouterr().err
    monkeypatch.setattr(objective_module, "training_objective", real)
    rc = main(
        [
            "hyperopt",
            "-n",
            "2",
            "--tag",
            "e2e",
            "-p",
            str(tmp_path / "parameters_e2e.json"),
            "--device",
            "cpu",
            str(tmp_path),
        ]
    )
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    progress = [ln[:5] for ln in cap.err.splitlines() if re.match(r"\[\d/3\]", ln)]
    assert progress == ["[2/3]", "[3/3]"]
    assert "resumed after 1 trainings" in cap.err
    rows = [
        ln
        for ln in (tmp_path / "optimize_log_e2e.txt").read_text().splitlines()
        if re.match(r"\d+\. / ", ln)
    ]
    assert len(rows) == 3


@pytest.mark.parametrize(
    ("args", "params", "message"),
    [
        ([], {"hiden_layers": [1, 2]}, "unknown parameter 'hiden_layers' (did you mean: "),
        ([], {"epochs": "5"}, 'epochs: expected an integer >= 1 (got "5")'),
        ([], {"learning_rate": [0.01, 0.001]}, "learning_rate: empty range"),
        ([], {"initial_nodes": [8, 2]}, "initial_nodes: empty range"),
        (["-n", "3-1"], {}, "-n 3-1: empty range (3 is after 1)"),
        (["-n", "9"], {}, "VariableImportanceResults_4vars.txt has only 4 variables"),
        (["-o", "importnce"], {}, "-o 'importnce': neither a column"),
        (["-y", "2019"], {}, "no dataset '2019'"),
    ],
)
def test_bad_inputs(tmp_path, capsys, data_calls, args, params, message):
    write_results(tmp_path)
    p = tiny_parameters(tmp_path, **params)
    before = snapshot(tmp_path)
    rc = main(["hyperopt", *args, "-p", str(p), str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err[-1].startswith("fourtop hyperopt: error: ") and message in err[-1]
    assert data_calls == []  # refused before loading data or training
    assert snapshot(tmp_path) == before


def test_missing_results_file(tmp_path, capsys, data_calls):
    rc = main(["hyperopt", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and "no VariableImportanceResults_<N>vars.txt" in err
    assert main(["hyperopt", str(tmp_path / "missing")]) == 1
    assert "missing: dataset folder not found" in capsys.readouterr().err
    assert data_calls == [] and list(tmp_path.iterdir()) == []


def test_unknown_variable_in_order_file(tmp_path, capsys, data_calls):
    order = tmp_path / "order.txt"
    order.write_text("AK4HT\nNJets\n")
    rc = main(["hyperopt", "-o", str(order), str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"{order}: variable 2 'NJets' is not in the dataset configuration" in err
    assert "(did you mean: NJets" in err and data_calls == []
