"""The local backend's pool: results, crashed workers, progress, Ctrl-C."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from fourtop.backends import RunSettings, WorkUnit, get_backend
from fourtop.backends.local import LocalBackend, _worker_main
from fourtop.jobs.eventlog import read_log, read_roc_integral
from fourtop.jobtracker import Job, JobFolder, Seed, job_name

VARS = ["a", "b", "c"]
CRASH = "Seed_6"  # the unit of seed 110 kills its worker


def fake_worker(conn, threads):
    """Stands in for training: writes a result, or dies like a segfaulting process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        message = conn.recv()
        if message is None:
            return
        names, job_dir, _settings, _target = message
        if any(n.endswith(CRASH) for n in names):
            os.kill(os.getpid(), signal.SIGKILL)
        for name in names:
            Path(job_dir, f"{name}.out").write_text("ROC-integral: 0.75\n")
        conn.send({name: 0.75 for name in names})


class FakeLocal(LocalBackend):
    worker_main = staticmethod(fake_worker)


@pytest.fixture
def folder(tmp_path):
    jf = JobFolder.create(str(tmp_path / "jobs"))
    jobs = []
    for bits in ("110", "011", "111"):
        seed = Seed.from_binary(bits, VARS)
        jobs.append(Job(jf.path, job_name(3, seed, None), seed, None))
        for sub in seed.subseeds():
            jobs.append(Job(jf.path, job_name(3, seed, sub), seed, sub))
    jf.add_jobs(jobs)
    jf.save()
    return jf


def _units(folder):
    by_seed: dict[str, list[str]] = {}
    for job in folder.jobs:
        by_seed.setdefault(job.seed.binary, []).append(job.name)
    return [WorkUnit(tuple(names)) for names in by_seed.values()]


def test_backend_lookup_is_by_name():
    assert isinstance(get_backend("local"), LocalBackend)
    assert LocalBackend.worker_main is _worker_main


def test_a_crashing_worker_fails_its_unit_and_the_pool_goes_on(folder):
    seen: list[tuple[list[str], list[str]]] = []
    report = FakeLocal().submit(
        folder,
        _units(folder),
        RunSettings(year="2017", varlist=VARS, processes=2),
        progress=lambda done, failed: seen.append((list(done), list(failed))),
    )
    crashed = {n for n in (j.name for j in folder.jobs) if "Seed_6" in n}
    assert {name for name, _ in report.failed} == crashed
    assert all("killed by signal SIGKILL" in reason for _, reason in report.failed)
    assert report.finished and len(report.submitted) == len(folder.jobs)
    assert sum(len(d) + len(f) for d, f in seen) == len(folder.jobs)
    for job in folder.jobs:
        out = Path(folder.path, job.name + ".out")
        if job.name in crashed:
            assert read_roc_integral(out) is None
            assert "killed by signal SIGKILL" in Path(folder.path, job.name + ".err").read_text()
            assert read_log(Path(folder.path, job.name + ".log")).state == "terminated"
        else:
            assert read_roc_integral(out) == 0.75
    folder.check()
    stats = folder.get_stats()
    assert stats["failed_jobs"] == len(crashed)
    assert stats["unstarted_jobs"] == 0
