"""``fourtop run-job`` (what a batch node runs): bad inputs and faults -> one line, exit code,
nothing changed on disk. The events come from a stand-in loader (no ntuples needed)."""

from __future__ import annotations

import pytest

from faults import Case, check_case, fill, small_disk
from fourtop.cli import main
from train_data import arrays_file

VARS = [f"var{i}" for i in range(6)]
SEED_JOB = "Keras_6vars_Seed_52"  # 110100: var0, var1, var3
SUB_JOB = "Keras_6vars_Seed_52_Subseed_20"
PARAMS = '{"hidden_layers": 1, "initial_nodes": 4, "batch_size": 64, "epochs": 1}'
RJ = ["run-job", "-l", "6vars.txt", "--arrays", "six.npz"]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    arrays_file(tmp_path / "six.npz", n_vars=6, n_events=150, seed=3)
    (tmp_path / "6vars.txt").write_text("\n".join(VARS) + "\n")
    (tmp_path / "jobs").mkdir()
    return tmp_path


def _params_list(root):
    (root / "p.json").write_text("[1]")


def _dup(root):
    (root / "dup.txt").write_text("a\na\n")


CASES = [
    Case("no-variable", [*RJ, "Keras_6vars_Seed_0"], r"Keras_6vars_Seed_0: the job includes no variable", new=False),
    Case("not-a-name", [*RJ, "Keras_6vars_Seed_x"], r"Keras_6vars_Seed_x: not a job name", new=False),
    Case("wrong-nvars", [*RJ, "Keras_7vars_Seed_3"], r"job is for 7 variables but the variable list has 6", new=False),
    Case("seed-too-big", [*RJ, "Keras_6vars_Seed_64"], r"does not fit 6 variables", new=False),
    Case("bad-subseed", [*RJ, "--job-dir", "jobs", SEED_JOB, "Keras_6vars_Seed_52_Subseed_3"], r"1 of 2 jobs failed: .*subseed 3 is not seed 52", code=3, may_change=["jobs/*"], new=False),
    Case("names-without-dir", [*RJ, SEED_JOB, SUB_JOB], r"2 job names given: several jobs need --job-dir", new=False),
    Case("params-bad-json", [*RJ, "--params", "{bad", SEED_JOB], r"--params: not valid JSON", new=False),
    Case("params-missing", [*RJ, "--params", "not-there", SEED_JOB], r"not-there: parameters file not found", new=False),
    Case("params-list", [*RJ, "--params", "p.json", SEED_JOB], r"p.json: expected a JSON object", setup=_params_list, new=False),
    Case("params-unknown", [*RJ, "--params", '{"epoch": 2}', SEED_JOB], r"unknown network parameter 'epoch' \(did you mean: epochs", new=False),
    Case("params-bad-value", [*RJ, "--params", '{"regulator": "l2"}', SEED_JOB], r"regulator='l2': expected one of", new=False),
    Case("params-zero-epochs", [*RJ, "--params", '{"epochs": 0}', SEED_JOB], r"epochs", new=False),
    Case("arrays-missing", [*RJ, "--arrays", "missing.npz", SEED_JOB], r"missing.npz: arrays file not found", new=False),
    Case("seed-negative", [*RJ, "--random-seed", "-4", SEED_JOB], r"-4 is outside 0 to 4294967295", 2, new=False),
    Case("seed-2**32", [*RJ, "--random-seed", "4294967296", SEED_JOB], r"outside 0 to 4294967295", 2),
    Case("job-dir-missing", [*RJ, "--job-dir", "no_such_dir", SEED_JOB], r"no_such_dir: job folder does not exist", new=False),
    Case("varlist-missing", ["run-job", "-l", "none.txt", SEED_JOB], r"none.txt: variable list not found", new=False),
    Case("varlist-dup", ["run-job", "-l", "dup.txt", SEED_JOB], r"listed twice", setup=_dup, new=False),
    Case("device", [*RJ, "--device", "tpu", SEED_JOB], r"invalid choice: 'tpu'", 2, new=False),
    Case("leading-zero", [*RJ, "Keras_6vars_Seed_052"], r"Keras_6vars_Seed_052: not a job name"),
    Case("fullwidth-digit", [*RJ, "Keras_6vars_Seed_\uff15"], r"not a job name"),
    Case("job-dir-is-file", [*RJ, "--job-dir", "6vars.txt", SEED_JOB], r"6vars.txt: is not a folder"),
    Case("params-inline-list", [*RJ, "--params", "[1]", SEED_JOB], r"--params: expected a JSON object"),
    Case("params-empty", [*RJ, "--params", "", SEED_JOB], r"argument --params: the value is empty", 2),
    Case("config-empty", [*RJ, "--config", "", SEED_JOB], r"argument --config: the value is empty", 2),
    Case("batch-size-one", [*RJ, "--params", '{"batch_size": 1}', SEED_JOB], r"batch_size=1: batch normalization"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
def test_run_job_fault(case, workdir, capsys, monkeypatch):
    check_case(case, workdir, capsys, monkeypatch)


def test_a_full_disk_in_the_job_folder_is_said_and_fails_the_job(workdir, capsys, monkeypatch):
    monkeypatch.chdir(workdir)
    with small_disk(workdir / "disk", "64k") as disk:
        jobs = disk / "jobs"
        jobs.mkdir()
        fill(disk)
        code = main([*RJ, "--params", PARAMS, "--job-dir", str(jobs), SEED_JOB, SUB_JOB])
        err = capsys.readouterr().err
        assert code == 1 and "Traceback" not in err
        assert "no space left on device" in err.splitlines()[-1]
        assert not [p for p in jobs.iterdir() if p.name.endswith(".tmp")]  # nothing half-written
