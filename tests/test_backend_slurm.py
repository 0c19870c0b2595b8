"""The SLURM backend: sbatch command lines, retries, the array-task wrapper, queue state,
and (marked ``slurm``) a live submission to the one-node cluster of ``.ci/slurm-start.sh``."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fourtop.backends import RunSettings, WorkUnit, get_backend
from fourtop.backends.slurm import sbatch_arguments, sync_queue_state, task_main
from fourtop.errors import BackendError
from fourtop.jobs import eventlog
from fourtop.jobtracker import Job, JobFolder, Seed, job_name

VARS = ["alpha", "beta", "gamma"]

# Stands in for `fourtop run-job --job-dir DIR NAME...` (which trains networks): writes
# each job's files the way the contract says, with a ROC integral from the name.
FAKE_RUN_JOB = """#!{python}
import sys
from pathlib import Path
from fourtop.jobs import eventlog
args = sys.argv[1:]
job_dir = Path(args[args.index("--job-dir") + 1])
names = args[args.index("--job-dir") + 2:]
for proc, name in enumerate(names):
    eventlog.log_executing(job_dir / f"{{name}}.log", cluster=1, proc=proc)
    if "FAIL" in str(job_dir / name) or name.endswith("_Subseed_2"):
        (job_dir / f"{{name}}.err").write_text("boom\\n")
        (job_dir / f"{{name}}.out").write_text("")
        eventlog.log_terminated(job_dir / f"{{name}}.log", 1, cluster=1, proc=proc)
        continue
    (job_dir / f"{{name}}.out").write_text(f"ROC-integral: 0.{{len(name)}}\\n")
    (job_dir / f"{{name}}.err").write_text("")
    eventlog.log_terminated(job_dir / f"{{name}}.log", 0, cluster=1, proc=proc)
"""


def _fake_fourtop(tmp_path: Path, body: str = FAKE_RUN_JOB) -> Path:
    exe = tmp_path / "fake-fourtop"
    exe.write_text(body.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


def _folder(path: Path, seeds: list[str]) -> tuple[JobFolder, list[WorkUnit]]:
    folder = JobFolder.create(str(path))
    jobs, units = [], []
    for bits in seeds:
        seed = Seed(VARS, int(bits, 2))
        members = [Job(folder.path, job_name(len(VARS), seed, None), seed, None)]
        members += [
            Job(folder.path, job_name(len(VARS), seed, s), seed, s) for s in seed.subseeds()
        ]
        jobs += members
        units.append(WorkUnit(tuple(j.name for j in members)))
    folder.add_jobs(jobs)
    folder.save()
    return folder, units


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


def test_sbatch_arguments_reject_bad_options(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="not an sbatch option name"):
        sbatch_arguments(_settings(**{"x;rm": "1"}), tmp_path, 1, tmp_path / "a.sh")
    with pytest.raises(BackendError, match="throttle"):
        sbatch_arguments(_settings(throttle="many"), tmp_path, 1, tmp_path / "a.sh")


def _fake_sbatch(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / "sbatch"
    exe.write_text(script)
    exe.chmod(0o755)


def test_failed_sbatch_is_retried_then_reported(tmp_path: Path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    counter = tmp_path / "calls"
    _fake_sbatch(bin_dir, f"#!/bin/sh\necho x >> {counter}\necho 'Socket timed out' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    folder, units = _folder(tmp_path / "jobs", ["110"])
    report = get_backend("slurm").submit(folder, units, _settings(retries=3, retry_delay=0))
    assert counter.read_text().count("x") == 3
    assert report.submitted == []
    assert {n for n, _ in report.failed} == set(units[0].names)
    assert "Socket timed out" in report.failed[0][1]
    folder.check()
    assert all(j.state == "failed" for j in folder.jobs)  # resubmittable, not "queued"


def test_sbatch_success_records_job_and_queued_state(tmp_path: Path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    _fake_sbatch(bin_dir, "#!/bin/sh\necho '4242;cluster'\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    folder, units = _folder(tmp_path / "jobs", ["110", "011"])
    report = get_backend("slurm").submit(folder, units, _settings())
    assert len(report.submitted) == 6 and not report.failed
    jobs_tsv = (Path(folder.path) / "slurm" / "jobs.tsv").read_text()
    assert jobs_tsv.startswith("4242\tunits-")
    spec = json.loads((Path(folder.path) / "slurm" / jobs_tsv.split("\t")[1].strip()).read_text())
    assert spec["units"] == [list(u.names) for u in units]
    folder.check()
    assert {j.state for j in folder.jobs} == {"queued"}


def test_task_wrapper_closes_logs_when_run_job_crashes(tmp_path: Path) -> None:
    exe = _fake_fourtop(tmp_path, "#!/bin/sh\nexit 3\n")
    folder, units = _folder(tmp_path / "jobs", ["110"])
    names = list(units[0].names)
    for name in names:
        eventlog.log_submitted(Path(folder.path, f"{name}.log"), cluster=0)
    units_file = tmp_path / "units.json"
    units_file.write_text(
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


def test_vanished_task_is_closed_by_queue_sync(tmp_path: Path, monkeypatch) -> None:
    folder, units = _folder(tmp_path / "jobs", ["110"])
    slurm_dir = Path(folder.path) / "slurm"
    slurm_dir.mkdir()
    (slurm_dir / "units-x.json").write_text(json.dumps({"units": [list(units[0].names)]}))
    (slurm_dir / "jobs.tsv").write_text("77\tunits-x.json\n")
    for name in units[0].names:
        eventlog.log_submitted(Path(folder.path, f"{name}.log"), cluster=0)
    monkeypatch.setattr("fourtop.backends.slurm._queued_tasks", lambda: {"77_0"})
    assert sync_queue_state(folder.path) == 0  # still queued: left alone
    monkeypatch.setattr("fourtop.backends.slurm._queued_tasks", lambda: set())
    assert sync_queue_state(folder.path) == 3
    assert sync_queue_state(folder.path) == 0  # idempotent
    folder.check()
    assert all(j.state == "failed" and "77_0" in j.reason for j in folder.jobs)


def test_queue_sync_leaves_a_resubmitted_job_to_its_latest_array(tmp_path: Path, monkeypatch):
    # job 77 ran the family and left the queue; 'submit -r' put its names in array 78,
    # still pending: the sync must not close them because of the old array
    folder, units = _folder(tmp_path / "jobs", ["110"])
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


def _cluster_up() -> bool:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, check=False)
    return out.returncode == 0 and any(
        s.strip().startswith(("idle", "mixed", "allocated")) for s in out.stdout.splitlines()
    )


@pytest.mark.slurm
def test_live_slurm_array_runs_families_and_singles(tmp_path: Path) -> None:
    if not _cluster_up():
        pytest.skip("no SLURM cluster up (run .ci/slurm-start.sh)")
    exe = _fake_fourtop(tmp_path)
    folder, units = _folder(tmp_path / "live jobs", ["110", "111"])
    units.append(WorkUnit((units[0].names[1],)))  # a single-job unit as well
    units[0] = WorkUnit(units[0].names[:1] + units[0].names[2:])
    settings = _settings(executable=str(exe), throttle=2)
    report = get_backend("slurm").submit(folder, units, settings)
    assert not report.failed and len(report.submitted) == 7
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        folder.check()
        if all(j.state in ("finished", "failed") for j in folder.jobs):
            break
        sync_queue_state(folder.path)
        time.sleep(2)
    folder.check()
    states = {j.name: j.state for j in folder.jobs}
    failing = {n for n in states if n.endswith("_Subseed_2")}
    assert failing and all(states[n] == "failed" for n in failing)
    assert all(s == "finished" for n, s in states.items() if n not in failing), states
    stats = folder.get_stats()
    assert stats["jobs"] == 7 and stats["failed_jobs"] == len(failing)
    assert stats["finished_jobs"] == 7 and stats["unstarted_jobs"] == 0
    assert list((Path(folder.path) / "slurm").glob("*_0.txt"))
