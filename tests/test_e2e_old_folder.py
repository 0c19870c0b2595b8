"""Folders made by fourtop 0.1 (commit 1eb3d7e, before the job engine became ``fourtop.jobs``)
still read, rank and resubmit: ``tests/data/folders_0.1`` holds a job folder with one failed
subseed job and a compacted spec with one failed seed job, written by that version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fourtop.cli import main
from fourtop.jobtracker import JobFolder

DATA = Path(__file__).parent / "data" / "folders_0.1"
VARS = ["AK4HTpMETpLepPt", "NJets_JetSubCalc", "minMleppBjet", "centrality"]


@pytest.fixture
def old(sample_workdir: Path) -> Path:
    for entry in DATA.iterdir():
        target = sample_workdir / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target)
        else:
            shutil.copy2(entry, target)
    return sample_workdir


def test_old_folders_show_their_jobs_and_rank(old: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["folders", "condor_log_old", "condor_log_b.jtd"]) == 0
    shown = capsys.readouterr().out
    assert "1 (9.1%)" in shown and "1 (16.7%)" in shown  # one failed job in each
    folder = JobFolder("condor_log_old")
    assert folder.variables == VARS and len(folder.jobs) == 11
    assert [j.name for j in folder.get_resubmit_list()] == ["Keras_4vars_Seed_13_Subseed_5"]
    assert main(["calculate", "-f", "ranked", "condor_log_old", "condor_log_b.jtd"]) == 0
    order = (old / "ranked" / "VariableImportanceOrder_4vars.txt").read_text().split()
    assert sorted(order) == sorted(VARS)


@pytest.mark.slow
def test_old_folders_resubmit_with_their_own_settings(old: Path) -> None:
    assert main(["submit", "-r", "--yes", "condor_log_old", "condor_log_b.jtd"]) == 0
    folder = JobFolder("condor_log_old")
    folder.check()
    assert folder.get_stats().failed_jobs == 0 and len(folder.result_jobs) == 11
    extracted = JobFolder("condor_log_b")  # the compacted spec's failed job, moved back
    extracted.check()
    assert [j.name for j in extracted.result_jobs] == ["Keras_4vars_Seed_6"]
    assert "Random seed" in (old / "condor_log_b" / "Keras_4vars_Seed_6.out").read_text()


def test_slurm_units_file_of_0_1_still_runs(tmp_path: Path) -> None:
    """An array task queued by fourtop 0.1 runs after an upgrade: its units file has no
    ``unit_arguments`` and the task still runs ``run-job --job-dir FOLDER NAME...``."""
    import json
    import sys

    from fourtop.backends.slurm import task_main

    seen = tmp_path / "argv.json"
    exe = tmp_path / "fake-fourtop"
    exe.write_text(
        f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(seen)!r}, 'w'))\n"
    )
    exe.chmod(0o755)
    names = ["Keras_4vars_Seed_6", "Keras_4vars_Seed_6_Subseed_2"]
    units = tmp_path / "units.json"
    units.write_text(
        json.dumps(
            {
                "command": [str(exe)],
                "arguments": ["run-job", "-y", "2017", "-l", "vars.txt"],
                "job_dir": str(tmp_path),
                "units": [names],
            }
        )
    )
    task_main(str(units), 0)
    assert json.loads(seen.read_text()) == [
        "run-job", "-y", "2017", "-l", "vars.txt", "--job-dir", str(tmp_path), *names
    ]  # fmt: skip
    for name in names:  # the fake wrote nothing: the wrapper closed the jobs as failed
        assert "before finishing this job" in (tmp_path / f"{name}.err").read_text()
