"""Speed of the importance statistics on a realistic campaign (500 seeds over 76 variables).

Baseline, measured in the same run: the original calculate.py's algorithm, which for every seed
scans the folder's jobs for its subseeds (``subseed_jobs``), i.e. seeds x jobs comparisons.

    python benchmarks/bench_importance.py [--seeds 500]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

import numpy as np

from fourtop.importance import JobResult, bootstrap, calculate, compute_importance
from fourtop.variables import default_variables


def campaign(n_seeds: int) -> list[JobResult]:
    rng = random.Random(1)
    names = tuple(default_variables())
    jobs = []
    for s in range(n_seeds):
        bits = "".join(rng.choice("01") for _ in names)
        roc = 0.8 + rng.gauss(0, 0.01)
        jobs.append(JobResult(f"S{s}", "f", names, bits, None, roc))
        for i, b in enumerate(bits):
            if b == "1":
                sub = bits[:i] + "0" + bits[i + 1 :]
                jobs.append(
                    JobResult(
                        f"S{s}_{i}", "f", names, bits, sub, roc - 1e-4 * i - rng.gauss(0, 0.003)
                    )
                )
    return jobs


def original(jobs: list[JobResult]) -> dict[str, float]:
    """The original's loops: subseeds found by scanning every job for each seed."""
    diffs: dict[str, list[float]] = {}
    seeds = [j for j in jobs if j.subseed_bits is None and j.roc is not None]
    for seed in seeds:
        subs = [j for j in jobs if j.subseed_bits is not None and j.seed_bits == seed.seed_bits]
        for sub in subs:
            if sub.roc is None:
                continue
            for v, a, b in zip(seed.variables, seed.seed_bits, sub.subseed_bits, strict=True):
                if a == "1" and b == "0":
                    diffs.setdefault(v, []).append(seed.roc - sub.roc)
    return {v: float(np.mean(d) / np.std(d)) for v, d in diffs.items()}


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    value = fn(*args, **kw)
    return value, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=500)
    args = parser.parse_args()
    jobs = campaign(args.seeds)
    print(f"{args.seeds} seeds, {len(jobs)} jobs, 76 variables")
    base, t_base = timed(original, jobs)
    table, t_stats = timed(compute_importance, jobs)
    for v, imp in base.items():
        assert abs(table.rows[v].importance - imp) < 1e-9, v
    _, t_boot = timed(bootstrap, table, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        _, t_all = timed(calculate, jobs, tmp)
        _, t_noplot = timed(calculate, jobs, tmp, plots=False)
    print(f"baseline (original loops)         {t_base:8.3f} s")
    ratio = t_base / t_stats
    print(f"compute_importance                {t_stats:8.3f} s  (baseline / this: {ratio:.1f})")
    print(f"bootstrap, 1000 replicates        {t_boot:8.3f} s")
    print(f"calculate, all files, no plots    {t_noplot:8.3f} s")
    print(f"calculate, all files and plots    {t_all:8.3f} s")


if __name__ == "__main__":
    main()
