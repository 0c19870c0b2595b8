"""How a job's cost grows with the events and the variables: the scaling table.

For events 1x, 10x and 100x the default data's importance split (22,755 selected events:
5,049 signal, 17,706 background; synthetic Gaussian classes of that size) and 76 or 150
variables (the extra ones synthetic columns), measures in one run:
  - cache build: writing the arrays file (``write_cache_file``) and its size;
  - cache load: opening it (``read_cache_file``: memory-mapped, nothing read yet);
  - one seed family per worker process (a seed of half the variables and its subseeds), one
    epoch: its wall time, the time per family epoch per (event x member) relative to the
    smallest case (flat = linear in events x members), and the worker's peak resident memory
    (RSS, which counts the mapped cache pages it touched) and peak proportional share (PSS,
    shared pages divided among the processes mapping them).

Each family trains in a fresh process (``fourtop.jobs.memory.MemoryWatch`` around the job),
so its memory is its own. The machine is not idle-checked: run it on a quiet machine.

Run: python benchmarks/bench_scaling.py [--sizes 1,10,100] [--vars 76,150] [--threads 2]
         [--epochs 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_SIGNAL, DEFAULT_BACKGROUND = 5_049, 17_706

WORKER = """
import json, sys, time
import torch
from fourtop.data.ntuples import read_cache_file
from fourtop.jobs.memory import MemoryWatch
from fourtop.train.fit import train_members
from fourtop.train.params import NetworkParams
path, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
with MemoryWatch() as watch:
    start = time.perf_counter()
    data = read_cache_file(path)
    loaded = time.perf_counter() - start
    seed = data.variables[: len(data.variables) // 2]
    members = [seed] + [[v for v in seed if v != x] for x in seed]
    start = time.perf_counter()
    results = train_members(data, seed, members, NetworkParams(epochs=epochs), random_seed=1)
    trained = time.perf_counter() - start
assert not any(r.error for r in results), [r.error for r in results if r.error]
print(json.dumps({"load": loaded, "train": trained, "members": len(members),
                  "rss": watch.peak_rss(), "pss": watch.peak_pss()}))
"""


def arrays(n_vars: int, scale: int, seed: int = 0):
    from fourtop.data.ntuples import SplitArrays

    rng = np.random.default_rng(seed)
    names = [f"var{i:03d}" for i in range(n_vars)]
    shift = np.linspace(0.4, 0.0, n_vars, dtype=np.float32)

    def sample(n: int, mean) -> tuple[np.ndarray, np.ndarray]:
        x = np.empty((n, n_vars), dtype=np.float32)
        for start in range(0, n, 1 << 18):  # float32 in chunks: no float64 copy of it all
            rows = min(1 << 18, n - start)
            x[start : start + rows] = rng.standard_normal((rows, n_vars), dtype=np.float32)
            x[start : start + rows] += mean
        return x, rng.uniform(0.5, 1.5, n).astype(np.float32)

    sig, sig_w = sample(DEFAULT_SIGNAL * scale, shift)
    bkg, bkg_w = sample(DEFAULT_BACKGROUND * scale, 0.0)
    return SplitArrays(names, sig, sig_w, bkg, bkg_w)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100", help="event multiples of the default")
    parser.add_argument("--vars", default="76,150")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--keep", help="write the arrays files here (default: a temporary folder)")
    args = parser.parse_args()
    from fourtop.data.ntuples import write_cache_file

    sizes = [int(s) for s in args.sizes.split(",")]
    n_vars = [int(v) for v in args.vars.split(",")]
    print(
        f"{args.threads} thread(s), {args.epochs} epoch(s); default = "
        f"{DEFAULT_SIGNAL + DEFAULT_BACKGROUND:,} events; a family = a seed of half the "
        "variables and its subseeds, in its own worker process"
    )
    header = (
        f"{'events':>10} {'vars':>4} {'members':>7} {'cache MB':>8} {'build s':>7} "
        f"{'load ms':>7} {'family epoch s':>14} {'per ev x mem':>12} {'peak RSS MB':>11} "
        f"{'peak PSS MB':>11}"
    )
    print(header)
    baseline = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for v in n_vars:
            for scale in sizes:
                data = arrays(v, scale)
                events = len(data.signal) + len(data.background)
                path = folder / f"arrays_{v}vars_{scale}x.cache"
                start = time.perf_counter()
                write_cache_file(path, data)
                build = time.perf_counter() - start
                del data
                out = subprocess.run(
                    [sys.executable, "-c", WORKER, str(path), str(args.epochs), str(args.threads)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                r = json.loads(out.splitlines()[-1])
                per_epoch = r["train"] / args.epochs
                cost = per_epoch / (events * r["members"])
                baseline = baseline or cost
                pss = f"{r['pss'] / 2**20:11.0f}" if r["pss"] else f"{'-':>11}"
                print(
                    f"{events:>10,} {v:>4} {r['members']:>7} {path.stat().st_size / 2**20:8.0f} "
                    f"{build:7.2f} {r['load'] * 1e3:7.1f} {per_epoch:14.1f} "
                    f"{cost / baseline:11.2f}x {r['rss'] / 2**20:11.0f} {pss}"
                )
                if not args.keep:
                    path.unlink()


if __name__ == "__main__":
    main()
