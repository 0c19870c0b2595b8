"""``fourtop run-job``: output, job files, and one-line errors with exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fourtop.cli import main
from fourtop.jobs import eventlog
from train_data import arrays_file

VARS = [f"var{i}" for i in range(6)]
PARAMS = json.dumps({"hidden_layers": 2, "initial_nodes": 8, "batch_size": 64, "epochs": 1})
SEED_JOB = "Keras_6vars_Seed_52"  # 110100: var0, var1, var3
FAMILY = [
    SEED_JOB,
    "Keras_6vars_Seed_52_Subseed_20",
    "Keras_6vars_Seed_52_Subseed_36",
    "Keras_6vars_Seed_52_Subseed_48",
]


def run_job(varlist: str, *args: str) -> int:
    """``fourtop run-job`` over the fixture's variable list and events file."""
    return main(["run-job", "-l", varlist, "--arrays", arrays_of(varlist), *args])


def arrays_of(varlist: str) -> str:
    """The events file written beside the variable list (``run-job --arrays``)."""
    return str(Path(varlist).with_name("six.npz"))


@pytest.fixture
def varlist(tmp_path):
    arrays_file(tmp_path / "six.npz", n_vars=6, n_events=150, seed=3)
    path = tmp_path / "6vars.txt"
    path.write_text("\n".join(VARS) + "\n")
    return str(path)


def test_one_job_prints_its_roc_integral(varlist, capsys):
    assert run_job(varlist, "--params", PARAMS, "--random-seed", "3", SEED_JOB) == 0
    out = capsys.readouterr().out
    assert out.startswith("ROC-integral: ")
    value = float(out.split(":")[1])
    assert 0 <= value <= 1
    assert run_job(varlist, "--params", PARAMS, "--random-seed", "3", SEED_JOB) == 0
    assert float(capsys.readouterr().out.split(":")[1]) == value  # reproducible


def test_family_with_job_dir(varlist, tmp_path, capsys):
    params_file = tmp_path / "params.json"
    params_file.write_text(PARAMS)
    job_dir = tmp_path / "condor_log_1.Jan.2026"
    job_dir.mkdir()
    assert (
        run_job(
            varlist,
            "--params",
            str(params_file),
            "--job-dir",
            str(job_dir),
            "--device",
            "cpu",
            *FAMILY,
        )
        == 0
    )
    for name in FAMILY:
        status = eventlog.job_status(job_dir / f"{name}.log", job_dir / f"{name}.out")
        assert status.state == "finished"
    assert capsys.readouterr().out == ""


def test_failed_job_in_job_dir_exits_3(varlist, tmp_path, capsys):
    bad = "Keras_6vars_Seed_52_Subseed_53"  # not the seed with one variable switched off
    assert run_job(varlist, "--params", PARAMS, "--job-dir", str(tmp_path), SEED_JOB, bad) == 3
    err = capsys.readouterr().err
    assert f"fourtop run-job: failed: {bad}: " in err and "1 of 2 jobs failed" in err
    assert (
        eventlog.job_status(tmp_path / f"{SEED_JOB}.log", tmp_path / f"{SEED_JOB}.out").state
        == "finished"
    )
    assert (tmp_path / f"{bad}.err").read_text().strip()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Keras_6vars_Seed_0"], "Keras_6vars_Seed_0: the job includes no variable"),
        (["Keras_6vars_Seed_x"], "error: Keras_6vars_Seed_x: not a job name (expected"),
        ([SEED_JOB, FAMILY[1]], "2 job names given: several jobs need --job-dir"),
        (["--params", "{bad", SEED_JOB], "--params: not valid JSON"),
        (["--params", "not-there", SEED_JOB], "not-there: parameters file not found"),
        (
            ["--params", '{"epoch": 2}', SEED_JOB],
            "unknown network parameter 'epoch' (did you mean: epochs",
        ),
        (["--params", '{"regulator": "l2"}', SEED_JOB], "regulator='l2': expected one of"),
        (["--arrays", "missing.npz", SEED_JOB], "missing.npz: arrays file not found"),
        (["--job-dir", "no_such_dir", SEED_JOB], "no_such_dir: job folder does not exist"),
    ],
)
def test_errors_are_one_line_with_exit_1(varlist, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert run_job(varlist, *args) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("fourtop run-job: error: ")
    assert message in captured.err and captured.err.count("\n") == 1
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["6vars.txt", "six.npz"]  # no more


def test_params_file_must_hold_an_object(varlist, tmp_path, capsys):
    path = tmp_path / "p.json"
    path.write_text("[1, 2]")
    assert run_job(varlist, "--params", str(path), SEED_JOB) == 1
    assert f"{path}: expected a JSON object of network parameters" in capsys.readouterr().err


def test_bad_varlist(tmp_path, capsys):
    assert main(["run-job", "-l", str(tmp_path / "none.txt"), SEED_JOB]) == 1
    assert "none.txt: variable list not found" in capsys.readouterr().err


def test_real_data_and_bad_year(tmp_path_factory, monkeypatch, capsys):
    from fourtop.data.generate import generate_samples

    samples = tmp_path_factory.mktemp("samples")
    generate_samples(samples, 500, seed=6, keys=("2017",))
    monkeypatch.setenv("FOURTOP_DATA", str(samples))
    name = "Keras_76vars_Seed_" + str(int("1" * 5 + "0" * 71, 2))
    assert main(["run-job", "-y", "2017", "--params", PARAMS, name]) == 0
    assert capsys.readouterr().out.startswith("ROC-integral: ")
    assert main(["run-job", "-y", "2019", "--params", PARAMS, name]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"fourtop run-job: error: {name}: ") and "2019" in err
