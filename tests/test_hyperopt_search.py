"""The search with a fake objective: files, counting, resuming, failures and refusals."""

from __future__ import annotations

import json
import math

import pytest

from fourtop.errors import ParameterError, TrainingError
from fourtop.hyperopt import TrialOutcome, objective_value, resolve_parameters, run_hyperopt

VARS = ["a", "b", "c"]


def fake_objective(calls):
    """A smooth function of the learning rate and depth; records every network it gets."""

    def objective(network, variables):
        calls.append((network, variables))
        x = math.log10(network["learning_rate"])
        roc = 0.9 - 0.01 * (x + 3) ** 2 - 0.002 * network["hidden_layers"]
        return TrialOutcome(roc, model={"state_dict": {"w": len(calls)}}, epochs=1)

    return objective


def params(**kw):
    return resolve_parameters({"n_calls": 4, "n_starts": 2, "tag": "t", **kw}, num_vars=3)


def test_every_file_and_the_best(tmp_path):
    calls: list = []
    lines = []
    result = run_hyperopt(
        tmp_path, VARS, params(), fake_objective(calls), on_trial=lambda r, p: lines.append(r)
    )
    assert len(calls) == 4 and all(v == VARS for _, v in calls)
    assert [r.call for r in lines] == [1, 2, 3, 4]
    best = max(lines, key=lambda r: r.roc_integral)
    assert result.best.roc_integral == best.roc_integral == lines[-1].best_roc
    assert result.best.objective == pytest.approx(objective_value(best.roc_integral))
    for name in (
        "parameters_t.json",
        "optimize_log_t.txt",
        "optimized_parameters_t.txt",
        "optimized_parameters_t.json",
        "best_model_t.pt",
        "optimize_history_t.png",
        "hyperopt_t.journal",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    assert not (tmp_path / ".hyperopt_t.lock").exists()
    rows = [
        ln for ln in (tmp_path / "optimize_log_t.txt").read_text().splitlines() if ln[:1].isdigit()
    ]
    assert len(rows) == 4 and rows[0].startswith("1. / ")
    doc = json.loads((tmp_path / "optimized_parameters_t.json").read_text())
    assert doc["roc_integral"] == best.roc_integral and doc["variables"] == VARS
    assert doc["hyperparameters"] == best.hyperparameters
    assert doc["network"]["batch_size"] == 2 ** best.hyperparameters["batch_power"]
    import torch

    model = torch.load(tmp_path / "best_model_t.pt", weights_only=False)
    assert model["roc_integral"] == best.roc_integral
    assert model["state_dict"] == {"w": best.call}
    assert json.loads((tmp_path / "parameters_t.json").read_text())["n_calls"] == 4
    txt = (tmp_path / "optimized_parameters_t.txt").read_text()
    assert f"Best ROC-integral: {best.roc_integral:.6f}" in txt


def test_searched_points_stay_in_the_space(tmp_path):
    calls: list = []
    p = params(
        n_calls=6,
        n_starts=2,
        hidden_layers=[2, 2],
        regulator=["both", "none"],
        learning_rate=[1e-4, 1e-3],
    )
    run_hyperopt(tmp_path, VARS, p, fake_objective(calls))
    for network, _ in calls:
        assert network["hidden_layers"] == 2 and network["regulator"] in ("both", "none")
        assert 1e-4 <= network["learning_rate"] <= 1e-3
        assert 3 <= network["initial_nodes"] <= 30 and network["epochs"] == 15


def test_interrupted_run_resumes_and_keeps_the_total(tmp_path):
    calls: list = []
    inner = fake_objective(calls)

    def interrupted(network, variables):
        if len(calls) == 2:
            raise KeyboardInterrupt
        return inner(network, variables)

    with pytest.raises(KeyboardInterrupt):
        run_hyperopt(tmp_path, VARS, params(), interrupted)
    assert len(calls) == 2
    log_rows = [
        ln for ln in (tmp_path / "optimize_log_t.txt").read_text().splitlines() if ln[:1].isdigit()
    ]
    assert len(log_rows) == 2

    lines = []
    result = run_hyperopt(
        tmp_path, VARS, params(), fake_objective(calls), on_trial=lambda r, p: lines.append(r)
    )
    assert [r.call for r in lines] == [3, 4]
    assert result.resumed_from == 2 and len(result.records) == 4 and len(calls) == 4
    assert result.records[0].roc_integral is not None

    # A finished study run again trains nothing; a larger n_calls extends it.
    again = run_hyperopt(tmp_path, VARS, params(), fake_objective(calls))
    assert len(calls) == 4 and len(again.records) == 4
    more = run_hyperopt(tmp_path, VARS, params(n_calls=5), fake_objective(calls))
    assert len(calls) == 5 and [r.call for r in more.records] == [1, 2, 3, 4, 5]


def test_resume_with_other_settings_is_refused(tmp_path):
    calls: list = []
    run_hyperopt(tmp_path, VARS, params(n_calls=2), fake_objective(calls), context={"year": "2017"})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(
        ParameterError,
        match=r"tag 't' was started with another variable list \(3 variables then, 2 now\)",
    ):
        run_hyperopt(tmp_path, ["a", "b"], params(n_calls=3), fake_objective(calls))
    with pytest.raises(ParameterError, match=r"another search space \(differs in: learning_rate\)"):
        run_hyperopt(
            tmp_path, VARS, params(n_calls=3, learning_rate=[1e-3, 1e-2]), fake_objective(calls)
        )
    with pytest.raises(ParameterError, match=r"another year \('2017' then, '2018' now\)"):
        run_hyperopt(
            tmp_path, VARS, params(n_calls=3), fake_objective(calls), context={"year": "2018"}
        )
    assert len(calls) == 2
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_failed_trainings_are_logged_and_counted(tmp_path):
    calls: list = []
    inner = fake_objective(calls)

    def sometimes(network, variables):
        if len(calls) == 1:
            calls.append(None)
            raise TrainingError("training diverged: the training loss is not finite")
        return inner(network, variables)

    result = run_hyperopt(tmp_path, VARS, params(), sometimes)
    assert len(result.records) == 4
    failed = result.records[1]
    assert failed.roc_integral is None and "diverged" in failed.error
    assert "failed" in (tmp_path / "optimize_log_t.txt").read_text()


def test_all_failed_is_an_error(tmp_path):
    def never(network, variables):
        raise TrainingError("training diverged")

    with pytest.raises(TrainingError, match=r"all 2 trainings failed; see .*optimize_log_t.txt"):
        run_hyperopt(tmp_path, VARS, params(n_calls=2, n_starts=1), never)


def test_plain_float_objective_and_a_perfect_roc(tmp_path):
    result = run_hyperopt(tmp_path, VARS, params(n_calls=2, n_starts=1), lambda n, v: 1.0)
    assert result.best.roc_integral == 1.0 and math.isfinite(result.best.objective)
    assert not (tmp_path / "best_model_t.pt").exists()


def test_a_second_run_on_the_same_tag_is_refused(tmp_path):
    from filelock import FileLock

    with (
        FileLock(str(tmp_path / ".hyperopt_t.lock")),
        pytest.raises(ParameterError, match="another fourtop hyperopt run is using tag 't'"),
    ):
        run_hyperopt(tmp_path, VARS, params(), lambda n, v: 0.5)
