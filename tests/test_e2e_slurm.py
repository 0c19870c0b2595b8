"""The whole pipeline through a live one-node SLURM cluster (``.ci/slurm-start.sh``):
``submit --backend slurm`` with real trainings, then ``folders`` and ``calculate``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fourtop.cli import main
from fourtop.jobtracker import JobFolder
from standins import live_slurm_up

VARS = ["AK4HTpMETpLepPt", "NJets_JetSubCalc", "minMleppBjet", "centrality"]


@pytest.mark.slurm
def test_submit_to_slurm_then_folders_and_calculate(tmp_path, monkeypatch, capsys):
    if not live_slurm_up():
        pytest.skip("no SLURM cluster up (run .ci/slurm-start.sh)")
    from fourtop.data.generate import generate_samples

    samples = tmp_path / "samples"
    generate_samples(samples, 3000, seed=5, keys=("2017",))
    monkeypatch.setenv("FOURTOP_DATA", str(samples))  # sbatch exports the environment
    monkeypatch.chdir(tmp_path)
    Path("vars.txt").write_text("\n".join(VARS) + "\n")

    argv = ["submit", "--backend", "slurm", "-y", "2017", "-l", "vars.txt", "-n", "3"]
    argv += ["--epochs", "1", "-p", "2", "--random-seed", "9", "--yes", "condor_log_slurm"]
    assert main(argv) == 0
    folder = JobFolder("condor_log_slurm")
    total = len(folder)
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        capsys.readouterr()
        assert main(["folders", "condor_log_slurm"]) == 0
        folder = JobFolder("condor_log_slurm")
        stats = folder.get_stats()
        if stats["finished_jobs"] == total:
            break
        time.sleep(3)
    else:
        pytest.fail(f"SLURM jobs did not finish: {folder.get_stats()}")
    assert stats["failed_jobs"] == 0 and stats["unstarted_jobs"] == 0
    assert len(folder.result_jobs) == total
    capsys.readouterr()
    assert main(["folders", "-v", "condor_log_slurm"]) == 0
    assert str(total) in capsys.readouterr().out

    assert main(["calculate", "--yes", "-f", "dataset_slurm", "condor_log_slurm"]) == 0
    table = Path("dataset_slurm", "VariableImportanceResults_4vars.txt").read_text()
    for name in VARS:
        assert name in table
