"""The SLURM backend: sbatch command lines, retries, the array-task wrapper and queue state
across resubmissions, through the stand-in ``sbatch``/``squeue`` of ``standins.FakeSlurm``.
What every backend promises (reports, refused submissions, resubmission, sync, cancel,
options; marked ``slurm``: a live cluster) is checked in ``test_backend_contract.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fourtop.backends import RunSettings, get_backend
from fourtop.backends.slurm import sbatch_arguments, sync_queue_state, task_main
from fourtop.errors import BackendError
from fourtop.jobs import eventlog
from jobfolders import VARS
from standins import write_fake_fourtop


def _settings(**options: object) -> RunSettings:
    return RunSettings(year="2017", varlist=list(VARS), processes=2, options=dict(options))


def test_sbatch_arguments_throttle_from_p_and_option(tmp_path: Path) -> None:
    script = tmp_path / "a.sh"
    args = sbatch_arguments(_settings(), tmp_path, 5, script)
    assert "--array=0-4%2" in args and args[-1] == str(script)
    assert f"--output={tmp_path}/slurm/%A_%a.txt" in args
    assert "--array=0-4" in sbatch_arguments(_settings(throttle=0), tmp_path, 5, script)
    args = sbatch_arguments(_settings(throttle=7, mem="4G", qos="short"), tmp_path, 3, script)
    assert "--array=0-2%7" in args and "--mem=4G" in args and "--qos=short" in args


def test_sbatch_arguments_reject_bad_values(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="throttle"):
        sbatch_arguments(_settings(throttle="many"), tmp_path, 1, tmp_path / "a.sh")
    with pytest.raises(BackendError, match="line break"):
        sbatch_arguments(_settings(qos="short\n#SBATCH --x"), tmp_path, 1, tmp_path / "a.sh")


def test_failed_sbatch_is_retried_then_reported(new_folder, slurm_tools) -> None:
    slurm_tools.refuse = True
    folder, units = new_folder(["110"])
    report = get_backend("slurm").submit(folder, units, _settings(retries=3, retry_delay=0))
    assert len(slurm_tools.sbatch_calls) == 3  # --option retries
    assert all("Socket timed out" in reason for _, reason in report.failed)
    assert "after 3 attempt(s)" in report.failed[0][1]
    assert not (Path(folder.path) / "slurm" / "jobs.tsv").exists()  # nothing to sync or cancel


def test_sbatch_success_records_the_array_and_its_units(new_folder, slurm_tools) -> None:
    folder, units = new_folder(["110", "011"])
    report = get_backend("slurm").submit(folder, units, _settings())
    assert len(report.submitted) == 6 and not report.failed
    jobs_tsv = (Path(folder.path) / "slurm" / "jobs.tsv").read_text()
    assert jobs_tsv.startswith("4242\tunits-")
    spec = json.loads((Path(folder.path) / "slurm" / jobs_tsv.split("\t")[1].strip()).read_text())
    assert spec["units"] == [list(u.names) for u in units]
    ((args),) = slurm_tools.sbatch_calls
    assert "--array=0-1%2" in args and f"--chdir={Path(folder.path)}" in args
    assert slurm_tools.queued() == ["4242_0", "4242_1"]


def test_task_wrapper_closes_logs_when_run_job_crashes(tmp_path: Path, new_folder) -> None:
    exe = write_fake_fourtop(tmp_path / "node", "#!/bin/sh\nexit 3\n")
    folder, units = new_folder(["110"])
    names = list(units[0].names)
    for name in names:
        eventlog.log_submitted(Path(folder.path, f"{name}.log"), cluster=0)
    units_file = tmp_path / "units.json"
    units_file.write_text(  # a units file of before 0.2: no "unit_arguments"
        json.dumps(
            {
                "command": [str(exe)],
                "arguments": ["run-job"],
                "job_dir": folder.path,
                "units": [names],
            }
        )
    )
    assert task_main(str(units_file), 0) == 1
    folder.check()
    assert {j.state for j in folder.jobs} == {"failed"}
    assert "run-job exited with code 3" in Path(folder.path, f"{names[0]}.err").read_text()


def test_queue_sync_leaves_a_resubmitted_job_to_its_latest_array(new_folder, monkeypatch):
    # job 77 ran the family and left the queue; 'submit -r' put its names in array 78,
    # still pending: the sync must not close them because of the old array
    folder, units = new_folder(["110"])
    slurm_dir = Path(folder.path) / "slurm"
    slurm_dir.mkdir()
    names = list(units[0].names)
    for units_name in ("units-a.json", "units-b.json"):
        (slurm_dir / units_name).write_text(json.dumps({"units": [names]}))
    (slurm_dir / "jobs.tsv").write_text("77\tunits-a.json\n78\tunits-b.json\n")
    for name in names:
        eventlog.log_submitted(Path(folder.path, f"{name}.log"), cluster=0)
    monkeypatch.setattr("fourtop.backends.slurm._queued_tasks", lambda: {"78_0"})
    assert sync_queue_state(folder.path) == 0
    folder.check()
    assert not folder.get_resubmit_list()  # still waiting in array 78, not failed
    monkeypatch.setattr("fourtop.backends.slurm._queued_tasks", lambda: set())
    assert sync_queue_state(folder.path) == len(names)  # the latest array vanished: closed
    folder.check()
    assert all("78_0" in j.reason for j in folder.jobs)
