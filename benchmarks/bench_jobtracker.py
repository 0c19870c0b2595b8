"""Import and ``get_stats`` of a generated 20,000-job folder (500 seeds over 76 variables).

Run: ``python benchmarks/bench_jobtracker.py [--seeds 500] [--keep DIR]``

Prints the time of ``import_folder``, of opening the folder (reading the spec), of
``get_stats`` on cached states, of ``check()`` with no file changed, and the baseline
in the same run: the original's way, ``check_finished()`` on every job (re-reading
each job's ``.log`` and ``.out``) before counting.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from fourtop.jobs.eventlog import log_executing, log_submitted, log_terminated
from fourtop.jobtracker import JobFolder, Seed, job_name
from fourtop.variables import default_variables

T = TypeVar("T")


def _log_templates(tmp: Path) -> dict[str, bytes]:
    """Event logs written once by the real writers (which fsync), then copied per job."""
    logs = {}
    for kind in ("running", "ok", "failed"):
        log = tmp / f"{kind}.log"
        log_submitted(log, cluster=1234, proc=0)
        log_executing(log, cluster=1234, proc=0)
        if kind != "running":
            log_terminated(log, 0 if kind == "ok" else 1, cluster=1234, proc=0)
        logs[kind] = log.read_bytes()
    return logs


def generate(folder: Path, n_seeds: int, rng: random.Random) -> int:
    """Write an original-layout folder: .job for every job, .log/.out for most."""
    variables = default_variables()
    folder.mkdir(parents=True)
    logs = _log_templates(folder.parent)
    n = 0
    for _ in range(n_seeds):
        seed = Seed.random(variables, rng)
        for sub in [None, *seed.subseeds()]:
            name = job_name(76, seed, sub)
            base = folder / name
            base.with_suffix(".job").write_text(f"arguments = {name}\nqueue 1\n")
            n += 1
            fate = rng.random()
            if fate < 0.05:
                continue  # unstarted
            log = base.with_suffix(".log")
            if fate < 0.10:
                log.write_bytes(logs["running"])
                continue
            log.write_bytes(logs["ok" if fate > 0.15 else "failed"])
            out = "Epoch 15/15\n" + (
                f"ROC-integral: {rng.uniform(0.6, 0.9)}\n" if fate > 0.15 else "Traceback: ...\n"
            )
            base.with_suffix(".out").write_text(out)
    return n


def timed(label: str, fn: Callable[[], T], repeat: int = 1) -> T:
    best = float("inf")
    result: T
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<58} {best * 1000:10.1f} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--keep", type=Path, default=None, help="generate here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_jobtracker_"))
    folder = root / "condor_log_bench"
    try:
        start = time.perf_counter()
        n = generate(folder, args.seeds, random.Random(1))
        print(
            f"generated {n} jobs ({args.seeds} seeds over 76 variables) in "
            f"{time.perf_counter() - start:.1f} s"
        )

        timed(
            "import_folder (scandir once, parse every .log/.out)",
            lambda: JobFolder(folder, load=False).import_folder(default_variables()),
        )
        jf = timed("JobFolder(path): read the spec", lambda: JobFolder(folder), repeat=3)
        stats = timed("get_stats() on cached states", jf.get_stats, repeat=5)
        timed("check() with no file changed (one scandir + stats)", jf.check, repeat=3)

        def baseline() -> dict[str, object]:
            for job in jf.jobs:  # the original: re-read every job's files
                job.check_finished()
            return jf.get_stats()

        base_stats = timed("baseline: check_finished() on every job, then get_stats", baseline)
        assert base_stats == stats
        print(
            f"jobs={stats['jobs']} finished={stats['finished_jobs']} "
            f"failed={stats['failed_jobs']} unstarted={stats['unstarted_jobs']} "
            f"seeds={stats['seeds']}"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
