"""Build job folders with known ROC integrals through the real job-tracker API."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from fourtop.jobs import eventlog
from fourtop.jobtracker import Job, JobFolder, Seed, job_name

#: a ROC value, FAILED (terminated without a result) or UNSTARTED (no files at all)
FAILED = "failed"
UNSTARTED = "unstarted"


def _write_files(folder: Path, name: str, roc: float | str, cluster: int) -> None:
    (folder / f"{name}.job").write_text(f"# job {name}\n")
    if roc == UNSTARTED:
        return
    log = folder / f"{name}.log"
    eventlog.log_submitted(log, cluster=cluster)
    eventlog.log_executing(log, cluster=cluster)
    if roc == FAILED:
        (folder / f"{name}.out").write_text("Traceback: training diverged\n")
        eventlog.log_terminated(log, 1, cluster=cluster)
    else:
        (folder / f"{name}.out").write_text(f"epoch 1\nROC-integral: {roc!r}\n")
        eventlog.log_terminated(log, 0, cluster=cluster)


def make_folder(
    path: Path,
    variables: Sequence[str],
    families: dict[str, tuple[float | str, dict[str, float | str]]],
    *,
    compact: bool = False,
) -> Path:
    """Create a job folder: ``{seed bits: (seed ROC, {dropped variable: subseed ROC})}``.

    Returns the folder, or its ``.jtd`` file when ``compact``.
    """
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        folder = JobFolder.create(path.name)
    finally:
        os.chdir(cwd)
    jobs = []
    cluster = 100
    for bits, (seed_roc, subs) in families.items():
        seed = Seed.from_binary(bits, variables)
        name = job_name(len(variables), seed, None)
        jobs.append(Job(folder.path, name, seed, None))
        cluster += 1
        _write_files(path, name, seed_roc, cluster)
        for var, sub_roc in subs.items():
            sub = seed.copy()
            sub.exclude(var)
            sname = job_name(len(variables), seed, sub)
            jobs.append(Job(folder.path, sname, seed, sub))
            cluster += 1
            _write_files(path, sname, sub_roc, cluster)
    folder.add_jobs(jobs)
    folder.save()
    folder.check()
    if compact:
        folder.compact_folder()
        return path.with_name(path.name + ".jtd")
    return path


def make_unimported_folder(
    path: Path, variables: Sequence[str], families: dict[str, tuple[float, dict[str, float]]]
) -> Path:
    """A folder as the original tool left it: job files, no spec."""
    path.mkdir()
    cluster = 500
    for bits, (seed_roc, subs) in families.items():
        seed = Seed.from_binary(bits, variables)
        cluster += 1
        _write_files(path, job_name(len(variables), seed, None), seed_roc, cluster)
        for var, sub_roc in subs.items():
            sub = seed.copy()
            sub.exclude(var)
            cluster += 1
            _write_files(path, job_name(len(variables), seed, sub), sub_roc, cluster)
    return path
