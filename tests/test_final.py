"""``fourtop final``: fold assignment, the portable models, the card, resuming, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import uproot

from fourtop.cli import main
from fourtop.data.ntuples import SplitArrays
from fourtop.errors import ModelError, TrainingError
from fourtop.final.fold import FinalPlan, run_fold
from fourtop.final.model import CARD_FILE, load_final_model
from fourtop.train.metrics import roc_integral
from fourtop.train.params import NetworkParams
from test_hyperopt_selection import write_results

#: variables of the tiny final trainings (all in the default configuration)
VARS = ["AK4HT", "NJets_JetSubCalc", "thirdcsvb_bb", "HT_2m", "MT_lepMet"]
NETWORK = {
    "hidden_layers": 2,
    "initial_nodes": 16,
    "node_pattern": "static",
    "batch_size": 256,
    "learning_rate": 0.003,
    "regulator": "normalization",
    "activation": "relu",
    "epochs": 2,
    "patience": None,
}


def optimized(folder: Path, variables=VARS, roc=0.8, tag="t1", network=None) -> Path:
    """A hyperopt result file as ``fourtop hyperopt`` writes it (the keys final reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"optimized_parameters_{tag}.json"
    doc = {"tag": tag, "roc_integral": roc, "network": network or NETWORK, "variables": variables}
    path.write_text(json.dumps(doc))
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- fold assignment


def _memorizing_plan(k: int) -> FinalPlan:
    network = NetworkParams.from_dict(
        {
            "hidden_layers": 3,
            "initial_nodes": 128,
            "batch_size": 32,
            "learning_rate": 0.003,
            "regulator": "none",
            "epochs": 50,
        }
    ).to_dict()
    return FinalPlan("2017", None, list("abcd"), network, k, "evt", 1, "fp", {"format": 1})


def test_no_event_is_scored_by_a_model_that_trained_on_it(tmp_path):
    """Labels independent of the inputs: a network can only memorize its training events.

    Scored by its own fold's model (which never saw it) an event looks like chance; scored
    by another fold's model (which trained on it) it is recognised. So the first shows that
    no model scored events it trained on, and the second that the test could fail.
    """
    rng = np.random.default_rng(0)
    n, k = 300, 3
    sig = rng.normal(size=(n, 4)).astype(np.float32)
    bkg = rng.normal(size=(n, 4)).astype(np.float32)
    ones = np.ones(n, np.float32)
    keys_s, keys_b = np.arange(n) * 7, np.arange(n) * 7 + 3
    data = SplitArrays(list("abcd"), sig, ones, bkg, ones, keys_s, keys_b)
    plan = _memorizing_plan(k)
    folds = [run_fold(tmp_path, plan, fold, data, device="cpu") for fold in range(k)]
    for f in folds:  # the overtraining check sees the memorization
        assert f["ks_pvalue_signal"] < 1e-3 and f["ks_pvalue_background"] < 1e-3
        assert f["n_test"] == sum(int(((keys % k) == f["fold"]).sum()) for keys in (keys_s, keys_b))
    card = {
        "format": "fourtop-final-model",
        "format_version": 1,
        "k": k,
        "variables": list("abcd"),
        "event_id": "evt",
        "dataset": "2017",
        "config": {"fingerprint": "fp"},
        "folds": [{"fold": i} for i in range(k)],
    }
    (tmp_path / CARD_FILE).write_text(json.dumps(card))
    model = load_final_model(tmp_path)
    x, y = np.concatenate([sig, bkg]), np.r_[np.ones(n), np.zeros(n)]
    keys = np.concatenate([keys_s, keys_b])
    for engine in ("torch", "onnx"):
        scorer = model.scorer(engine)
        own = roc_integral(scorer.score(x, keys), y)
        seen = roc_integral(scorer.score(x, keys + 1), y)  # the next fold's model saw them
        assert abs(own - 0.5) < 0.1, own
        assert seen > 0.85, seen


def test_a_fold_without_events_is_refused(tmp_path):
    n = 50
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    ones = np.ones(n, np.float32)
    data = SplitArrays(list("abcd"), x, ones, x + 1, ones, np.zeros(n, int), np.zeros(n, int))
    with pytest.raises(TrainingError, match=r"fold 1: 0 of 50 signal events have evt mod 3 = 1"):
        run_fold(tmp_path, _memorizing_plan(3), 1, data)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- the command end to end


@pytest.fixture(scope="module")
def trained(tiny_samples, tmp_path_factory):
    """A final folder made by ``fourtop final`` on the tiny samples (3 folds, 2 epochs)."""
    work = tmp_path_factory.mktemp("final")
    optimized(work / "dataset_a", roc=0.7, tag="worse")
    optimized(work / "dataset_b", roc=0.8, tag="best")
    mp = pytest.MonkeyPatch()
    mp.setenv("FOURTOP_DATA", str(tiny_samples))
    mp.setenv("FOURTOP_CACHE", str(work / "cache"))
    mp.chdir(work)
    try:
        rc = main(["final", "-k", "3", "--random-seed", "5", "-f", "fin", "-p", "1"])
    finally:
        mp.undo()
    assert rc == 0
    return work / "fin"


def test_final_writes_models_card_summary_and_plots(trained):
    names = {p.name for p in trained.iterdir()}
    for fold in range(3):
        assert {f"model_fold{fold}.pt", f"model_fold{fold}.onnx", f"fold{fold}.json"} <= names
    for stem in ("roc_folds", "overtraining", "training_history"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= names
    card = json.loads((trained / CARD_FILE).read_text())
    assert card["variables"] == VARS and card["k"] == 3 and card["event_id"] == "event_CommonCalc"
    assert card["source"]["description"].startswith("hyperopt tag best")
    assert card["network"]["initial_nodes"] == 16 and card["random_seed"] == 5
    assert len(card["standardization"]) == 3 and len(card["standardization"][0]["mean"]) == 5
    rocs = [f["roc_integral"] for f in card["folds"]]
    assert card["mean"]["roc_integral"] == pytest.approx(np.mean(rocs))
    assert card["std"]["roc_integral"] == pytest.approx(np.std(rocs, ddof=1))
    assert all(0 < r <= 1 for r in rocs)  # (a few hundred events: not a good classifier)
    assert (
        sum(f["n_test"] for f in card["folds"])
        == card["folds"][0]["n_train"] + card["folds"][0]["n_test"]
    )  # every event is in exactly one test fold
    summary = (trained / "final_summary.txt").read_text()
    assert "ROC-integral:" in summary and "KS p(sig)" in summary and "5. MT_lepMet" in summary
    for fold in range(3):
        out = (trained / "jobs" / f"fold{fold}.out").read_text()
        assert f"ROC-integral: {card['folds'][fold]['roc_integral']!r}" in out


def test_onnx_runtime_and_pytorch_agree_on_10k_events(trained, tiny_samples, monkeypatch):
    from fourtop.data.config import load_config
    from fourtop.data.ntuples import load_split

    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    data = load_split(load_config(), "2017", 2, event_keys=True)
    x = np.concatenate([data.signal, data.background])[:, data.columns(VARS)]
    rng = np.random.default_rng(2)
    x = x[rng.integers(0, len(x), 10_000)] * rng.uniform(0.9, 1.1, (10_000, len(VARS)))
    x = x.astype(np.float32)
    model = load_final_model(trained)
    onnx, torch_ = model.scorer("onnx"), model.scorer("torch")
    for fold in range(model.k):
        keys = np.full(len(x), fold)
        a, b = onnx.score(x, keys), torch_.score(x, keys)
        assert a.dtype == np.float32 and a.shape == (10_000,)
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
        assert np.std(a) > 0.05  # a real classifier, not a constant


def test_rerun_of_a_complete_folder_trains_nothing(trained, tiny_samples, monkeypatch, capsys):
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    models = {p.name: p.read_bytes() for p in trained.glob("model_fold*")}
    assert main(["final", "-f", str(trained)]) == 0
    assert {p.name: p.read_bytes() for p in trained.glob("model_fold*")} == models
    assert "3 folds trained" in capsys.readouterr().err


def test_a_lost_fold_is_trained_again_alone(trained, tiny_samples, monkeypatch, tmp_path):
    import shutil

    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    folder = tmp_path / "copy"
    shutil.copytree(trained, folder)
    (folder / CARD_FILE).unlink()
    (folder / "fold1.json").unlink()  # as a killed fold leaves it: no metrics, no card
    (folder / "model_fold1.onnx").unlink()
    kept = {n: (folder / n).read_bytes() for n in ("model_fold0.pt", "model_fold2.pt")}
    with pytest.raises(ModelError, match=r"no model_card\.json"):
        load_final_model(folder)
    assert main(["final", "-f", str(folder)]) == 0
    assert {n: (folder / n).read_bytes() for n in kept} == kept
    assert load_final_model(folder).k == 3


# ---------------------------------------------------------------- bad inputs


def _config_without_event_id(tiny_samples: Path, tmp_path: Path) -> Path:
    from fourtop.data.config import default_config_path

    text = default_config_path().read_text().replace('event_id = "event_CommonCalc"', "")
    path = tmp_path / "noid.toml"
    path.write_text(f'base_dir = "{tiny_samples}"\n' + text)  # top-level keys come first
    return path


@pytest.mark.parametrize(
    ("args", "setup", "message"),
    [
        ([], "none", "no optimized_parameters_*.json in"),
        (["dataset_x", "-y", "2019"], "opt", "no dataset '2019'"),
        (["dataset_x"], "badvar", "variable 'NoSuchVar' is not in"),
        (["dataset_x"], "badjson", "optimized_parameters_t1.json: unreadable"),
        (["dataset_x", "--params", '{"activation": "tanh"}'], "opt", "activation"),
        (["dataset_x", "-n", "9"], "results", "has only 4 variables"),
        (["dataset_x", "dataset_y", "-n", "2"], "results2", "-n 2: give one dataset folder"),
        (["nowhere"], None, "nowhere: dataset folder not found"),
        (["dataset_x", "-f", "busy"], "busy", "busy: exists and is not a final folder"),
        (["dataset_x", "--config", "noid.toml"], "noid", "no 'event_id': k-fold training needs"),
        (["dataset_x", "--backend", "condr"], "opt", "condr"),
        (["dataset_x", "--config", "noid.toml"], "wrongid", "unknown branch 'event_Common' in"),
    ],
)
def test_bad_inputs_are_one_line_errors(
    args, setup, message, tiny_samples, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    if setup in ("opt", "busy", "noid", "wrongid"):
        optimized(tmp_path / "dataset_x")
    if setup == "none":
        (tmp_path / "dataset_x").mkdir()
    if setup == "badvar":
        optimized(tmp_path / "dataset_x", variables=["AK4HT", "NoSuchVar"])
    if setup == "badjson":
        optimized(tmp_path / "dataset_x").write_text("{not json")
    if setup in ("results", "results2"):
        (tmp_path / "dataset_x").mkdir()
        write_results(tmp_path / "dataset_x")
    if setup == "results2":
        (tmp_path / "dataset_y").mkdir()
    if setup == "busy":
        (tmp_path / "busy").mkdir()
        (tmp_path / "busy" / "mine.txt").write_text("keep")
    if setup == "noid":
        _config_without_event_id(tiny_samples, tmp_path)
    if setup == "wrongid":
        path = _config_without_event_id(tiny_samples, tmp_path)
        path.write_text('event_id = "event_Common"\n' + path.read_text())
    before = snapshot(tmp_path)
    assert main(["final", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("fourtop final: error:") and "\n" not in err, err
    assert message in err, err
    assert snapshot(tmp_path) == before  # nothing made, nothing lost
    assert not list(tmp_path.glob("final_*"))


@pytest.mark.parametrize("k", ["0", "1", "101", "abc"])
def test_a_bad_number_of_folds_is_a_usage_error(k, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(["final", "-k", k])
    assert stop.value.code == 2
    assert "argument -k/--folds:" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_options_that_differ_from_the_folder_are_refused(trained, capsys):
    before = snapshot(trained)
    assert main(["final", "-f", str(trained), "-k", "4"]) == 1
    assert "-k 4 differs from its training (-k 3)" in capsys.readouterr().err
    assert main(["final", "-f", str(trained), "-n", "3"]) == 1
    assert "its variables and network are chosen" in capsys.readouterr().err
    assert snapshot(trained) == before


def test_transfer_without_shared_storage_is_refused(tmp_path, monkeypatch, capsys, tiny_samples):
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    optimized(tmp_path / "dataset_x")
    monkeypatch.setattr("fourtop.backends.condor.CondorBackend.check", lambda self, s: None)
    rc = main(["final", "dataset_x", "--backend", "condor", "--option", "transfer=yes"])
    assert rc == 1
    assert "needs storage the nodes share" in capsys.readouterr().err


def test_final_fold_command_refuses_a_folder_without_plan(tmp_path, capsys):
    assert main(["final-fold", "--folder", str(tmp_path), "fold0"]) == 1
    assert "not a final folder (no fourtop-final.json)" in capsys.readouterr().err


def test_final_fold_prints_the_roc_integral_of_one_fold(
    trained, tmp_path, capsys, tiny_samples, monkeypatch
):
    import shutil

    folder = tmp_path / "f"
    shutil.copytree(trained, folder)
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    assert main(["final-fold", "--folder", str(folder), "fold2"]) == 0
    line = capsys.readouterr().out.strip()
    metrics = json.loads((folder / "fold2.json").read_text())
    assert line == f"ROC-integral: {metrics['roc_integral']!r}"
    assert main(["final-fold", "--folder", str(folder), "fold7"]) == 1
    assert "the plan has folds 0 to 2" in capsys.readouterr().err


# ---------------------------------------------------------------- batch systems


def test_folds_go_to_htcondor_as_final_fold_jobs(schedd, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    optimized(tmp_path / "dataset_x")
    assert main(["final", "dataset_x", "--backend", "condor", "-k", "3", "-f", "fin"]) == 0
    (call,) = [c for c in schedd.calls if c[0] == "submit"]
    description, rows = call[1], call[2]
    assert "final-fold --folder" in description and str(tmp_path / "fin") in description
    assert [r["FtArgs"] for r in rows] == ["fold0", "fold1", "fold2"]
    assert "submitted 3 fold(s) to condor" in capsys.readouterr().err
    assert not (tmp_path / "fin" / CARD_FILE).exists()
    # the jobs are queued: running again neither submits them twice nor writes a card
    assert main(["final", "-f", "fin", "--backend", "condor"]) == 0
    assert len([c for c in schedd.calls if c[0] == "submit"]) == 1
    assert "3 fold(s) still queued or running" in capsys.readouterr().err


@pytest.mark.slurm
def test_final_on_a_live_slurm_cluster(tmp_path, monkeypatch, capsys):
    import time

    from standins import live_slurm_up

    if not live_slurm_up():
        pytest.skip("no SLURM cluster up (run .ci/slurm-start.sh)")
    from fourtop.data.generate import generate_samples

    samples = tmp_path / "samples"
    generate_samples(samples, 3000, seed=5, keys=("2017",))
    monkeypatch.setenv("FOURTOP_DATA", str(samples))  # sbatch exports the environment
    monkeypatch.chdir(tmp_path)
    optimized(tmp_path / "dataset_x")
    argv = ["final", "dataset_x", "--backend", "slurm", "-k", "2", "-f", "fin"]
    assert main([*argv, "--random-seed", "4"]) == 0
    deadline = time.monotonic() + 420
    while not (tmp_path / "fin" / CARD_FILE).exists():
        if time.monotonic() > deadline:
            pytest.fail("the SLURM folds did not finish")
        time.sleep(3)
        assert main(["final", "-f", "fin", "--backend", "slurm"]) == 0
    model = load_final_model(tmp_path / "fin")
    assert model.k == 2 and len(model.card["folds"]) == 2
    # and its score written into every ntuple of the key, one SLURM job per file
    apply_argv = ["apply", "fin", "--backend", "slurm", "-o", "scored", "--hists"]
    assert main(apply_argv) == 0
    while not (tmp_path / "scored" / "hists").is_dir():
        if time.monotonic() > deadline + 300:
            pytest.fail("the SLURM apply jobs did not finish")
        time.sleep(3)
        assert main(apply_argv) == 0
    scored = sorted((tmp_path / "scored").glob("*.root"))
    # signal and every background process of three splits
    assert [p.name for p in scored] == sorted(p.name for p in samples.glob("*.root"))
    for out in scored:
        with uproot.open(out) as f, uproot.open(samples / out.name) as g:
            assert f["ljmet"].num_entries == g["ljmet"].num_entries > 0


def test_missing_final_split_ntuples_are_refused_before_anything_is_made(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("FOURTOP_DATA", str(tmp_path / "nothing-here"))
    monkeypatch.chdir(tmp_path)
    optimized(tmp_path / "dataset_x")
    assert main(["final", "dataset_x"]) == 1
    err = capsys.readouterr().err
    assert "ntuple not found (dataset 2017, final split)" in err
    assert not list(tmp_path.glob("final_*"))


# ---------------------------------------------------------------- damaged folders, races


def _copy(trained: Path, tmp_path: Path) -> Path:
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(trained, folder)
    return folder


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: (f / "model_fold1.onnx").write_bytes(b""),
        lambda f: (f / "model_fold1.pt").write_bytes(b"junk"),
        lambda f: (f / "fold1.json").write_text("{}"),
        lambda f: (f / "fold1.json").write_text(""),
        lambda f: (f / CARD_FILE).write_text('{"format": "fourtop-final-model"}'),
        lambda f: (f / CARD_FILE).write_text('{"format":"fourtop-final-model","format_version":0}'),
        lambda f: (f / "final_summary.txt").unlink(),
        lambda f: (f / "roc_folds.pdf").unlink(),
    ],
)
def test_a_damaged_folder_is_repaired_by_a_rerun(
    damage, trained, tiny_samples, tmp_path, monkeypatch
):
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    folder = _copy(trained, tmp_path)
    before = {n: (folder / n).read_bytes() for n in ("model_fold0.pt", "model_fold2.pt")}
    damage(folder)
    assert main(["final", "-f", str(folder)]) == 0
    assert {n: (folder / n).read_bytes() for n in before} == before  # the others kept
    model = load_final_model(folder)
    model.scorer("onnx")  # every model readable again
    assert (folder / "final_summary.txt").is_file() and (folder / "roc_folds.pdf").is_file()
    from fourtop.final.fold import read_fold

    assert read_fold(folder, 1)["fold"] == 1


@pytest.mark.parametrize(
    ("plan_change", "message"),
    [
        ({"k": "abc"}, "damaged plan (k = 'abc')"),
        ({"k": 0}, "damaged plan (k = 0)"),
        ({"network": {"hidden_layers": 0}}, "damaged plan (network parameter hidden_layers"),
        ({"variables": ["a", "a"]}, "damaged plan (variables are not distinct names)"),
    ],
)
def test_a_damaged_plan_is_a_one_line_error(plan_change, message, trained, tmp_path, capsys):
    folder = _copy(trained, tmp_path)
    plan = json.loads((folder / "fourtop-final.json").read_text())
    (folder / "fourtop-final.json").write_text(json.dumps({**plan, **plan_change}))
    before = snapshot(folder)
    assert main(["final", "-f", str(folder)]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert snapshot(folder) == before


def test_a_second_run_on_the_same_new_folder_writes_nothing(
    tmp_path, monkeypatch, capsys, tiny_samples
):
    """Two runs start on one new -f folder: the one that gets the lock second finds a plan
    there and stops, leaving the other's plan as it was."""
    import fourtop.final.workflow as workflow

    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    optimized(tmp_path / "dataset_x")
    real = workflow._make_folder

    def other_run_first(folder):
        real(folder)
        (folder / "fourtop-final.json").write_text("the other run's plan")

    monkeypatch.setattr(workflow, "_make_folder", other_run_first)
    assert main(["final", "dataset_x", "-f", "fin"]) == 1
    assert "another fourtop final made this folder meanwhile" in capsys.readouterr().err
    assert (tmp_path / "fin" / "fourtop-final.json").read_text() == "the other run's plan"


def test_a_second_training_the_same_day_gets_a_new_folder(
    trained, tmp_path, monkeypatch, capsys, tiny_samples
):
    from fourtop.naming import date_tag

    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    optimized(tmp_path / "dataset_x")
    (tmp_path / f"final_{date_tag()}").mkdir()
    (tmp_path / f"final_{date_tag()}" / "other.txt").write_text("x")
    assert main(["final", "-k", "2", "--epochs", "1"]) == 0
    assert (tmp_path / f"final_{date_tag()}_2" / CARD_FILE).is_file()


@pytest.mark.parametrize(
    ("event_id", "message"),
    [
        ("AK4HT * 0.5", "is not a whole number below 2**53 for entry 0"),
        ("1", "puts the first"),
        ("event_CommonCalc * 2", "puts the first"),  # k = 2: every key even
        ("theJetPt_JetSubCalc_PtOrdered", "is a variable-length array"),
    ],
)
def test_an_unusable_event_key_is_refused_before_anything_is_made(
    event_id, message, tiny_samples, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    optimized(tmp_path / "dataset_x")
    path = _config_without_event_id(tiny_samples, tmp_path)
    path.write_text(f'event_id = "{event_id}"\n' + path.read_text())
    before = snapshot(tmp_path)
    assert main(["final", "dataset_x", "-k", "2", "--config", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "np.float64" not in err, err
    assert snapshot(tmp_path) == before


def test_duplicated_variables_in_a_hyperopt_result_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    optimized(tmp_path / "dataset_x", variables=["AK4HT", "AK4HT", "HT_2m"])
    assert main(["final", "dataset_x"]) == 1
    assert "variable 'AK4HT' is listed twice" in capsys.readouterr().err


def test_a_full_disk_while_plotting_is_a_one_line_error(
    trained, tmp_path, monkeypatch, capsys, tiny_samples
):
    import errno
    import zlib

    from matplotlib.figure import Figure

    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    folder = _copy(trained, tmp_path)
    (folder / CARD_FILE).unlink()
    (folder / "roc_folds.pdf").unlink()

    def full(self, *args, **kwargs):
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise zlib.error("Error -2 while flushing") from None

    monkeypatch.setattr(Figure, "savefig", full)
    assert main(["final", "-f", str(folder)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("fourtop final: error: cannot write the plot")
    assert err.endswith("no space left on device")
    assert not (folder / CARD_FILE).exists()
    assert not [p for p in folder.iterdir() if ".tmp" in p.name]


def test_final_fold_with_an_unusable_job_folder_is_a_one_line_error(trained, capsys):
    assert main(["final-fold", "--folder", str(trained), "--job-dir", "/proc/x", "fold1"]) == 1
    assert "--job-dir /proc/x: no such folder" in capsys.readouterr().err
    assert main(["final-fold", "--folder", str(trained), "--job-dir", ".", "fold1", "fold1"]) == 1
    assert "fold fold1 is named twice" in capsys.readouterr().err
    assert main(["final-fold", "--folder", str(trained), "fold01"]) == 1
    assert "'fold01': not a fold job" in capsys.readouterr().err


def test_huge_networks_are_refused_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    optimized(tmp_path / "dataset_x")
    assert main(["final", "dataset_x", "--params", '{"hidden_layers": 1000000}']) == 1
    assert "hidden_layers=1000000: at most 1000" in capsys.readouterr().err
    assert main(["final", "dataset_x", "--params", '{"initial_nodes": 50000}']) == 1
    assert "does not fit in memory" in capsys.readouterr().err
