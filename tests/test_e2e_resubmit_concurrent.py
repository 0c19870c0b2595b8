"""Two ``fourtop submit -r`` on one folder at once: every failed job trains exactly once.

Real trainings on the tiny samples. Before the folder lock, both processes read the same
failed jobs and trained each of them twice (interleaving their logs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fourtop.cli import main
from fourtop.jobs.eventlog import EXECUTING, log_terminated, parse_events
from fourtop.jobtracker import JobFolder


def _executions(log: Path) -> int:
    return [e.code for e in parse_events(log.read_text())[0]].count(EXECUTING)


def test_two_resubmissions_at_once_train_each_failed_job_once(sample_workdir):
    argv = ["submit", "-y", "2017", "-l", "vars.txt", "--epochs", "1", "-p", "1", "--yes"]
    assert main([*argv, "-n", "2", "--random-seed", "7", "jobs"]) == 0
    folder = JobFolder("jobs")
    failed = [j.name for j in folder.jobs or []][:6]
    for name in failed:  # these jobs "crashed": no result, a terminated event with 1
        Path("jobs", f"{name}.out").write_text("Failed: node lost\n")
        log_terminated(Path("jobs", f"{name}.log"), 1, cluster=1)
    before = {name: _executions(Path("jobs", f"{name}.log")) for name in failed}

    cmd = [
        sys.executable,
        "-m",
        "fourtop.cli",
        "submit",
        "-r",
        "--include-unstarted",
        "-p",
        "1",
        "jobs",
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]

    trained = sum(
        int(m[1]) for _, err in outcomes for m in re.finditer(r"resubmitting (\d+) job", err)
    )
    assert trained == len(failed), [err for _, err in outcomes]  # not 2 x len(failed)
    for name in failed:  # and the logs, kept across attempts, show one more execution each
        log = Path("jobs", f"{name}.log")
        assert _executions(log) == before[name] + 1, f"{name} trained {_executions(log)} times"
        assert "ROC-integral:" in Path("jobs", f"{name}.out").read_text()
    assert sum(code == 0 for code, _ in outcomes) >= 1
    for code, err in outcomes:
        assert "Traceback" not in err
        if code != 0:  # the one that came second was told why, in one line
            assert code == 1
            assert "another fourtop process is working on this folder" in err.splitlines()[-1]
    folder = JobFolder("jobs")
    folder.check()
    assert len(folder.result_jobs) == len(folder)
