"""Seed families versus one network per process: throughput, FLOP/s, and difference noise.

Workload: a 40-variable seed and its 40 subseeds (41 networks, the default architecture),
100k events (synthetic Gaussian classes, half signal, half background), a few epochs.

Measures, in one run on this machine:
  1. networks trained per second: the batched family vs the same 41 jobs trained one by one
     (same random seed, so the ROC integrals should agree), and with the measured cost of
     starting one process per network (python + torch import + reading the arrays);
  2. matmul FLOP/s reached by both paths vs a plain torch matrix multiply;
  3. the spread (std over random seeds) of seed-minus-subseed ROC differences with shared
     (family) versus independent initialisation and minibatch order.

Run: python benchmarks/bench_training.py [--threads 2] [--epochs 2] [--singles 41]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fourtop.train.fit import train_members, train_network
from fourtop.train.params import NetworkParams

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from train_data import SplitArrays


def synthetic(n_vars: int, n_events: int, seed: int = 0) -> SplitArrays:
    """Correlated Gaussian classes; the first variables separate most; 5% negative weights."""
    rng = np.random.default_rng(seed)
    names = [f"var{i:02d}" for i in range(n_vars)]
    mix = rng.normal(scale=0.3, size=(n_vars, n_vars)) + np.eye(n_vars)
    shift = np.linspace(0.5, 0.0, n_vars)
    half = n_events // 2

    def sample(mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = (rng.normal(size=(half, n_vars)) @ mix + mean).astype(np.float32)
        w = rng.uniform(0.5, 1.5, half) * np.where(rng.random(half) < 0.05, -1, 1)
        return x, w.astype(np.float32)

    sig, sig_w = sample(shift)
    bkg, bkg_w = sample(np.zeros(n_vars))
    return SplitArrays(names, sig, sig_w, bkg, bkg_w)


def family_members(seed: list[str]) -> list[list[str]]:
    return [seed] + [[v for v in seed if v != x] for x in seed]


def matmul_flops(n_inputs: int, params: NetworkParams, events: int) -> float:
    """Matmul FLOPs of forward + backward for one network over ``events`` training events."""
    sizes = [n_inputs, *params.layer_sizes(), 1]
    layers = list(itertools.pairwise(sizes))
    forward = sum(2 * a * b for a, b in layers)
    weight_grads = forward
    input_grads = sum(2 * a * b for a, b in layers[1:])  # none for the data
    return events * (forward + weight_grads + input_grads)


def process_overhead(arrays: Path, repeats: int = 3) -> float:
    """Seconds to start python, import torch and fourtop.train, and read the arrays."""
    code = (
        "import numpy as np, torch, fourtop.train.fit\n"
        f"d = np.load({str(arrays)!r}); [d[k].sum() for k in d.files]\n"
    )
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def reference_gflops(members: int, width: int, batch: int) -> tuple[float, float]:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    start = time.perf_counter()
    for _ in range(5):
        a @ b
    plain = 5 * 2 * 2048**3 / (time.perf_counter() - start) / 1e9
    x, w = torch.randn(members, batch, width), torch.randn(members, width, width)
    torch.bmm(x, w)
    start = time.perf_counter()
    for _ in range(20):
        torch.bmm(x, w)
    shaped = 20 * 2 * members * batch * width * width / (time.perf_counter() - start) / 1e9
    return plain, shaped


def spread(args: argparse.Namespace) -> None:
    data = synthetic(args.spread_vars, args.spread_events, seed=1)
    seed = data.variables
    members = family_members(seed)
    params = NetworkParams(epochs=args.epochs)
    shared, independent = [], []
    for r in range(args.repeats):
        rocs = [t.roc_integral for t in train_members(data, seed, members, params, random_seed=r)]
        shared.append([rocs[0] - x for x in rocs[1:]])
        rocs = [
            train_network(data, m, params, random_seed=1000 * r + i).roc_integral
            for i, m in enumerate(members)
        ]
        independent.append([rocs[0] - x for x in rocs[1:]])
    s_std = np.std(shared, axis=0, ddof=1).mean()
    i_std = np.std(independent, axis=0, ddof=1).mean()
    print(
        f"\n3. seed-minus-subseed ROC differences ({args.spread_vars}-variable seed, "
        f"{args.spread_events} events, {args.epochs} epochs, {args.repeats} random seeds):"
    )
    print(
        f"   std over random seeds, mean over variables: shared init {s_std:.5f}, "
        f"independent {i_std:.5f}  (independent / shared = {i_std / s_std:.1f}x)"
    )
    print(
        f"   mean difference: shared {np.mean(shared):+.5f}, independent "
        f"{np.mean(independent):+.5f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--vars", type=int, default=40)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--singles", type=int, default=41, help="one-by-one jobs to time")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--spread-vars", type=int, default=10)
    parser.add_argument("--spread-events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-spread", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = NetworkParams(epochs=args.epochs)
    data = synthetic(args.vars, args.events)
    seed = data.variables
    members = family_members(seed)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), device {args.device}; "
        f"{len(members)} networks ({args.vars}-variable seed + subseeds), {args.events} "
        f"synthetic Gaussian events, {args.epochs} epochs, batch {params.batch_size}"
    )

    # warm up both paths (thread pools, allocator, kernels) before timing
    warm = NetworkParams(epochs=1)
    small = synthetic(args.vars, 4000, seed=9)
    train_members(small, seed, members, warm, device=args.device)
    train_network(small, members[1], warm, init_variables=seed, device=args.device)

    start = time.perf_counter()
    family = train_members(data, seed, members, params, random_seed=1, device=args.device)
    t_family = time.perf_counter() - start

    singles = members[: args.singles]
    start = time.perf_counter()
    alone = [
        train_network(data, m, params, random_seed=1, init_variables=seed, device=args.device)
        for m in singles
    ]
    t_single = (time.perf_counter() - start) / len(singles)
    diff = max(abs(f.roc_integral - a.roc_integral) for f, a in zip(family, alone, strict=False))

    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "arrays.npz"
        np.savez(
            npz,
            signal=data.signal,
            background=data.background,
            signal_weight=data.signal_weight,
            background_weight=data.background_weight,
        )
        t_proc = process_overhead(npz)

    rate_family = len(members) / t_family
    rate_single = 1 / t_single
    rate_family_proc = len(members) / (t_family + t_proc)
    rate_single_proc = 1 / (t_single + t_proc)
    print("\n1. networks trained per second")
    print(
        f"   family (one batched model): {rate_family:6.2f} /s  ({t_family:.1f} s for "
        f"{len(members)})"
    )
    print(
        f"   one by one, in one process: {rate_single:6.2f} /s  ({t_single:.2f} s each, "
        f"{len(singles)} timed)   ratio {rate_family / rate_single:.2f}x"
    )
    print(f"   per-process start + import + data read: {t_proc:.2f} s")
    print(
        f"   one network per process:    {rate_single_proc:6.2f} /s   family per process "
        f"{rate_family_proc:.2f} /s   ratio {rate_family_proc / rate_single_proc:.2f}x"
    )
    print(f"   max |ROC(family) - ROC(alone)| over {len(singles)} jobs: {diff:.2e}")

    n_train = family[0].n_train
    flops = matmul_flops(args.vars, params, n_train * args.epochs)
    plain, shaped = reference_gflops(len(members), params.initial_nodes, params.batch_size)
    print("\n2. matmul FLOP/s (forward + backward of training; evaluation not counted)")
    print(
        f"   family {flops * len(members) / t_family / 1e9:6.1f} GFLOP/s   one by one "
        f"{flops / t_single / 1e9:6.1f} GFLOP/s"
    )
    print(
        f"   plain torch matmul 2048x2048: {plain:6.1f} GFLOP/s;  bmm of the family's hidden "
        f"layer shape [{len(members)}, {params.batch_size}, {params.initial_nodes}]: "
        f"{shaped:6.1f} GFLOP/s"
    )
    if not args.skip_spread:
        spread(args)


if __name__ == "__main__":
    main()
