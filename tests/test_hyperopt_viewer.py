"""A ``fourtop hyperopt`` study in the usual viewers: ``optuna.load_study`` and optuna-dashboard.

One real tiny run (the real trainer on tiny arrays, as in ``test_cli_hyperopt``: three trainings
of one epoch) is made once for the module. While its second training runs, the journal is opened
as a newcomer would open it (Optuna's default ``JournalFileBackend``, the dashboard's app), a
dashboard note is written, and the dashboard's journal lock is taken and held to the end: the
run must neither be disturbed nor blocked. Then the finished study is compared with fourtop's own
log and results files, through ``load_study``, the dashboard's JSON API and its command line
(parsed and served in-process: no port is opened).
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from optuna.trial import TrialState

from fourtop.cli import main
from fourtop.errors import ParameterError
from fourtop.hyperopt import TrialOutcome, objective_value, resolve_parameters, run_hyperopt
from test_cli_hyperopt import TINY_SEARCH
from test_hyperopt_selection import ROWS, write_results
from train_data import make_arrays

optuna_dashboard = pytest.importorskip("optuna_dashboard")  # a test extra of fourtop

#: the hyperparameters of the original tool's manual, in its order
MANUAL_NAMES = (
    "hidden_layers",
    "initial_nodes",
    "node_pattern",
    "batch_power",
    "learning_rate",
    "regulator",
    "activation_function",
)
TAG = "viewer"
STUDY = f"hyperopt_{TAG}"
PARAMS = {"tag": TAG, **TINY_SEARCH}
NOTE = "looked at from optuna-dashboard while training 2 ran"
NAMES = [r[0] for r in ROWS]


def fake_data(mp: pytest.MonkeyPatch) -> None:
    """Split 1 replaced by tiny synthetic arrays (as in ``test_cli_hyperopt``)."""
    mp.setattr(
        "fourtop.hyperopt.objective.load_optimization_data",
        lambda config, year: (None, make_arrays(names=NAMES, n_events=300, seed=1)),
    )


def request(app, method: str, path: str, body=None) -> tuple[str, bytes]:
    """One request to a WSGI app, in-process."""
    data = b"" if body is None else json.dumps(body).encode()
    environ: dict = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "wsgi.input": io.BytesIO(data),
        "CONTENT_LENGTH": str(len(data)),
        "CONTENT_TYPE": "application/json",
    }
    setup_testing_defaults(environ)
    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = status

    content = b"".join(app(environ, start_response))
    return answer["status"], content


def api(app, path: str) -> dict:
    status, content = request(app, "GET", path)
    assert status.startswith("200"), (path, status, content[:300])
    return json.loads(content)


def open_study(journal: Path, name: str = STUDY) -> optuna.Study:
    """The documented way: Optuna's default journal backend (and so its default lock)."""
    storage = JournalStorage(JournalFileBackend(str(journal)))
    return optuna.load_study(study_name=name, storage=storage)


def look_during_the_run(journal: Path, held: list) -> dict:
    """What a viewer sees while training 2 runs; then a note, then the dashboard's lock held."""
    before = journal.read_bytes()
    study = open_study(journal)
    seen = {"load_study": [(t.number, t.state, dict(t.params)) for t in study.trials]}
    app = optuna_dashboard.wsgi(str(journal))  # what `optuna-dashboard <journal>` serves
    [summary] = api(app, "/api/studies")["study_summaries"]
    detail = api(app, f"/api/studies/{summary['study_id']}")
    seen["dashboard"] = [
        (t["number"], t["state"], [p["name"] for p in t["params"]]) for t in detail["trials"]
    ]
    # reading wrote nothing and made no lock file
    seen["unchanged"] = journal.read_bytes() == before
    seen["lock_files"] = sorted(p.name for p in journal.parent.glob(f"{journal.name}*"))
    # a dashboard write while the run goes (under Optuna's journal lock)
    status, _ = request(
        app, "PUT", f"/api/studies/{summary['study_id']}/note", {"version": 1, "body": NOTE}
    )
    seen["note_status"] = status
    # the dashboard's journal lock, held until the run has ended: fourtop must not wait on it
    lock = JournalFileSymlinkLock(str(journal))
    assert lock.acquire()
    held.append(lock)
    return seen


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The tiny run: (dataset folder, journal, what the viewers saw during training 2)."""
    root = tmp_path_factory.mktemp("viewer")
    folder = root / "ds"
    folder.mkdir()
    write_results(folder)
    (root / "p.json").write_text(json.dumps(PARAMS))
    journal = folder / f"{STUDY}.journal"
    seen: dict = {}
    held: list = []

    import fourtop.hyperopt.objective as objective_module

    real = objective_module.training_objective

    def watched(data, **kw):
        inner = real(data, **kw)
        calls: list = []

        def objective(network, variables):
            calls.append(network)
            if len(calls) == 2:
                seen.update(look_during_the_run(journal, held))
            return inner(network, variables)

        return objective

    with pytest.MonkeyPatch.context() as mp:  # the conftest's isolation, for a module fixture
        mp.setenv("FOURTOP_CACHE", str(root / "cache"))
        mp.setenv("FOURTOP_DATA", str(root / "samples"))
        mp.delenv("FOURTOP_CONFIG", raising=False)
        fake_data(mp)
        mp.setattr(objective_module, "training_objective", watched)
        try:
            rc = main(
                ["hyperopt", "-n", "2", "-p", str(root / "p.json"), "--device", "cpu", str(folder)]
            )
            seen["lock_held_at_the_end"] = journal.with_name(journal.name + ".lock").is_symlink()
        finally:
            for lock in held:
                lock.release()
    assert rc == 0
    return folder, journal, seen


def log_rows(folder: Path) -> list[dict[str, str]]:
    """``optimize_log_<tag>.txt``: one dict per training, keyed by the header's columns."""
    lines = (folder / f"optimize_log_{TAG}.txt").read_text().splitlines()
    [header] = [ln for ln in lines if ln.startswith("Call / ")]
    columns = header.split(" / ")
    rows = [ln.split(" / ") for ln in lines if re.match(r"\d+\. / ", ln)]
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_load_study_sees_every_training_under_the_manual_names(finished):
    folder, journal, _ = finished
    storage = JournalStorage(JournalFileBackend(str(journal)))
    assert optuna.get_all_study_names(storage) == [STUDY]
    study = optuna.load_study(study_name=STUDY, storage=storage)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert study.metric_names == ["log(1-ROC)"]
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * PARAMS["n_calls"]
    for t in trials:
        assert list(t.params) == list(MANUAL_NAMES)
    dists = trials[0].distributions
    assert dists["hidden_layers"] == optuna.distributions.IntDistribution(1, 3)
    assert dists["initial_nodes"] == optuna.distributions.IntDistribution(2, 8)
    assert dists["batch_power"] == optuna.distributions.IntDistribution(5, 6)
    assert dists["learning_rate"] == optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True)
    assert dists["node_pattern"].choices == ("static", "dynamic")
    assert dists["regulator"].choices == ("none", "dropout", "normalization", "both")
    assert dists["activation_function"].choices == ("relu", "softplus", "elu")

    # every training as fourtop's log reports it
    rows = log_rows(folder)
    assert len(rows) == len(trials)
    for row, t in zip(rows, trials, strict=True):
        assert row["Call"] == f"{t.user_attrs['call']}."
        assert t.user_attrs["call"] == t.number + 1  # no interrupted training in this run
        for name in ("hidden_layers", "initial_nodes", "batch_power"):
            assert int(row[name]) == t.params[name]
        for name in ("node_pattern", "regulator", "activation_function"):
            assert row[name] == t.params[name]
        assert float(row["learning_rate"]) == pytest.approx(t.params["learning_rate"], rel=1e-3)
        roc = t.user_attrs["roc_integral"]
        assert float(row["ROC-integral"]) == pytest.approx(roc, abs=1e-6)
        assert t.value == objective_value(roc)
        assert float(row["log(1-ROC)"]) == pytest.approx(t.value, abs=1e-4)
        assert int(row["Epochs"]) == t.user_attrs["epochs"]
        assert float(row["Seconds"]) == pytest.approx(t.user_attrs["seconds"], abs=0.051)

    # the best one exactly as the results file reports it
    doc = json.loads((folder / f"optimized_parameters_{TAG}.json").read_text())
    best = study.best_trial
    assert best.params == doc["hyperparameters"]
    assert best.user_attrs["roc_integral"] == doc["roc_integral"]
    assert best.value == doc["objective"]
    assert best.user_attrs["call"] == doc["best_call"]
    assert study.user_attrs["variables"] == doc["variables"]
    assert study.user_attrs["year"] == doc["year"]


def test_optuna_dashboard_api_shows_the_study_under_the_manual_names(finished):
    _, journal, _ = finished
    study = open_study(journal)
    app = optuna_dashboard.wsgi(str(journal))
    [summary] = api(app, "/api/studies")["study_summaries"]
    assert summary["study_name"] == STUDY and summary["directions"] == ["minimize"]
    detail = api(app, f"/api/studies/{summary['study_id']}")
    assert detail["name"] == STUDY
    assert detail["objective_names"] == ["log(1-ROC)"]
    assert sorted(p["name"] for p in detail["union_search_space"]) == sorted(MANUAL_NAMES)
    assert {"call", "roc_integral", "epochs", "seconds"} <= {
        a["key"] for a in detail["union_user_attrs"]
    }
    assert {"variables", "search", "year", "config"} <= {a["key"] for a in detail["user_attrs"]}
    assert detail["note"]["body"] == NOTE  # written from the dashboard during the run
    assert len(detail["trials"]) == PARAMS["n_calls"]
    for shown, t in zip(detail["trials"], study.trials, strict=True):
        assert shown["number"] == t.number and shown["state"] == "Complete"
        assert shown["values"] == [t.value]
        assert [p["name"] for p in shown["params"]] == list(MANUAL_NAMES)
        assert {p["name"]: p["param_external_value"] for p in shown["params"]} == {
            k: str(v) for k, v in t.params.items()
        }
    [best] = detail["best_trials"]
    assert best["number"] == study.best_trial.number
    status, page = request(app, "GET", "/dashboard")
    assert status.startswith("200") and b"<html" in page.lower()


def test_optuna_dashboard_command_line_takes_the_journal_path(finished, tmp_path, monkeypatch):
    """``optuna-dashboard <journal>`` (also ``--storage-class``), parsed and served in-process."""
    from optuna_dashboard import _cli

    _, journal, _ = finished
    served: list = []
    monkeypatch.setattr(_cli, "DEBUG", False)
    monkeypatch.setattr(_cli, "auto_select_server", lambda server: "wsgiref")
    monkeypatch.setattr(
        _cli, "run_wsgiref", lambda app, host, port, quiet: served.append((app, host, port))
    )
    for argv in (
        [str(journal)],
        ["--storage-class", "JournalFileStorage", str(journal)],
        ["--port", "8081", str(journal)],
    ):
        monkeypatch.setattr(sys, "argv", ["optuna-dashboard", *argv])
        _cli.main()
    assert [(host, port) for _, host, port in served] == [
        ("127.0.0.1", 8080),
        ("127.0.0.1", 8080),
        ("127.0.0.1", 8081),
    ]
    for app, _, _ in served:
        [summary] = api(app, "/api/studies")["study_summaries"]
        assert summary["study_name"] == STUDY
    # a mistyped path is refused, and no empty journal is left behind
    typo = tmp_path / "hyperopt_viewr.journal"
    monkeypatch.setattr(sys, "argv", ["optuna-dashboard", str(typo)])
    with pytest.raises(ValueError, match="Failed to guess storage class"):
        _cli.main()
    assert not typo.exists()


def test_a_viewer_neither_disturbs_nor_blocks_a_running_study(finished, monkeypatch):
    folder, journal, seen = finished
    params_of = list(MANUAL_NAMES)
    # training 1 finished, training 2 running with its point already in the study
    assert [(n, s) for n, s, _ in seen["load_study"]] == [
        (0, TrialState.COMPLETE),
        (1, TrialState.RUNNING),
    ]
    assert all(list(p) == params_of for _, _, p in seen["load_study"])
    assert seen["dashboard"] == [(0, "Complete", params_of), (1, "Running", params_of)]
    # reading took no lock and wrote nothing
    assert seen["unchanged"] and seen["lock_files"] == [journal.name]
    assert seen["note_status"].startswith("204")
    # the run finished although the dashboard's journal lock was held from training 2 on
    assert seen["lock_held_at_the_end"]
    assert not journal.with_name(journal.name + ".lock").exists()
    assert not (folder / f".{STUDY}.lock").exists()
    lines = journal.read_bytes().splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines)
    # a journal with the dashboard's records resumes: a finished study run again trains nothing
    fake_data(monkeypatch)
    rc = main(
        [
            "hyperopt",
            "-n",
            "2",
            "-p",
            str(folder / f"parameters_{TAG}.json"),
            "--device",
            "cpu",
            str(folder),
        ]
    )
    assert rc == 0
    assert len(open_study(journal).trials) == PARAMS["n_calls"]


@pytest.mark.parametrize(
    ("action", "message", "resumed_from"),
    [
        ("mark-failed", r"training 2 was ended from outside this run", 1),
        ("delete", r"study hyperopt_t was deleted or renamed from outside this run", 0),
    ],
    ids=["mark-failed", "delete"],
)
def test_a_dashboard_write_that_breaks_the_run_stops_it_in_one_line(
    tmp_path, action, message, resumed_from
):
    """Marking the running training failed, or deleting the study, from the dashboard: a
    one-line error; the same command then resumes (or, the study gone, starts afresh)."""
    journal = tmp_path / "hyperopt_t.journal"
    calls: list = []

    def objective(network, variables):
        calls.append(network)
        if len(calls) == 2:
            app = optuna_dashboard.wsgi(str(journal))
            [running] = [t for t in api(app, "/api/studies/0")["trials"] if t["state"] == "Running"]
            if action == "mark-failed":
                path, method, body = (
                    f"/api/trials/{running['trial_id']}/tell",
                    "POST",
                    {"state": "Fail"},
                )
            else:
                path, method, body = "/api/studies/0", "DELETE", {}
            status, _ = request(app, method, path, body)
            assert status.startswith("204")
        lr = math.log10(network["learning_rate"])
        return TrialOutcome(0.9 - 0.01 * (lr + 3) ** 2, epochs=1)

    params = resolve_parameters({"n_calls": 3, "n_starts": 2, "tag": "t"}, num_vars=3)
    with pytest.raises(ParameterError, match=message):
        run_hyperopt(tmp_path, ["a", "b", "c"], params, objective)
    result = run_hyperopt(tmp_path, ["a", "b", "c"], params, objective)
    assert result.resumed_from == resumed_from and [r.call for r in result.records] == [1, 2, 3]
    states = [t.state for t in open_study(journal, "hyperopt_t").trials]
    assert states.count(TrialState.COMPLETE) == 3
