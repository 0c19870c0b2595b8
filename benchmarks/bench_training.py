"""Seed families versus one network at a time: throughput, FLOP/s against the bmm rate, noise.

Workload (issue 13's): the original 3x100 network with batch normalization, batch 512, a
40-variable seed and its 40 subseeds (41 networks), 100k synthetic Gaussian events (half
signal, half background), 2 epochs, fp32.

Measures, in one run on this machine:
  1. networks trained per second: the batched family vs the same jobs trained one by one
     (same random seed and initial weights: their ROC integrals should agree), and with the
     measured cost of starting one process per network;
  2. the FLOP/s of the matrix products both paths perform (training, and training plus the
     evaluation of the test half), against ``torch.bmm`` at the family's own hidden-layer
     shape ``[41, 512, 100] x [41, 100, 100]`` measured in the same run: the family's share of
     that rate (goal >= 60 %) and the family over one network alone (goal >= 5x);
  3. the spread (std over random seeds) of seed-minus-subseed ROC differences with shared
     (family) versus independent initialisation and minibatch order.

``--baseline-src DIR`` runs parts 1-2 a second time, in a subprocess, with the fourtop
package found in DIR (e.g. a ``git worktree`` of an older commit's ``src``): before/after
figures from one run. ``--clock cpu`` times with the process's CPU time instead of the wall
clock (on a shared machine, with ``--threads 1``: idle OpenMP threads spin, and that would
count; the bmm reference is timed the same way). ``--profile`` prints
where a family's epoch spends its time (torch.profiler, top operators).

Run: python benchmarks/bench_training.py [--threads 2] [--epochs 2] [--singles 10]
         [--baseline-src /tmp/before/src] [--clock wall|cpu] [--profile] [--skip-spread]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
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


def forward_flops(n_inputs: int, params: NetworkParams, events: int) -> float:
    """Matmul FLOPs of evaluating one network on ``events`` events."""
    sizes = [n_inputs, *params.layer_sizes(), 1]
    return events * sum(2 * a * b for a, b in itertools.pairwise(sizes))


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


def reference_gflops(members: int, width: int, batch: int, clock) -> tuple[float, float]:
    """GFLOP/s of a plain 2048^2 matmul and of ``bmm`` at the family's hidden-layer shape."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    start = clock()
    for _ in range(5):
        a @ b
    plain = 5 * 2 * 2048**3 / (clock() - start) / 1e9
    x, w = torch.randn(members, batch, width), torch.randn(members, width, width)
    torch.bmm(x, w)
    start = clock()
    for _ in range(40):
        torch.bmm(x, w)
    shaped = 40 * 2 * members * batch * width * width / (clock() - start) / 1e9
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


def measure(args: argparse.Namespace) -> dict[str, float]:
    """Parts 1 and 2 with the fourtop this process imports; the figures as a dict."""
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    params = NetworkParams(epochs=args.epochs)
    data = synthetic(args.vars, args.events)
    seed = data.variables
    members = family_members(seed)

    # warm up both paths (thread pools, allocator, kernels) before timing
    warm = NetworkParams(epochs=1)
    small = synthetic(args.vars, 4000, seed=9)
    train_members(small, seed, members, warm, device=args.device)
    train_network(small, members[1], warm, init_variables=seed, device=args.device)
    _, bmm_before = reference_gflops(len(members), params.initial_nodes, params.batch_size, clock)

    start = clock()
    family = train_members(data, seed, members, params, random_seed=1, device=args.device)
    t_family = clock() - start
    singles = members[: args.singles]
    start = clock()
    alone = [
        train_network(data, m, params, random_seed=1, init_variables=seed, device=args.device)
        for m in singles
    ]
    t_single = (clock() - start) / len(singles)
    plain, bmm_after = reference_gflops(
        len(members), params.initial_nodes, params.batch_size, clock
    )
    diff = max(abs(f.roc_integral - a.roc_integral) for f, a in zip(family, alone, strict=False))
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "arrays.npz"
        np.savez(npz, signal=data.signal, background=data.background)
        t_process = process_overhead(npz)
    n_train, n_test = family[0].n_train, family[0].n_test
    train = matmul_flops(args.vars, params, n_train * args.epochs)
    total = train + forward_flops(args.vars, params, n_test)
    return {
        "family_per_s": len(members) / t_family,
        "single_per_s": 1 / t_single,
        "t_family": t_family,
        "t_single": t_single,
        "family_gflops": train * len(members) / t_family / 1e9,
        "single_gflops": train / t_single / 1e9,
        "family_gflops_with_eval": total * len(members) / t_family / 1e9,
        "bmm_gflops": (bmm_before + bmm_after) / 2,
        "bmm_spread": abs(bmm_before - bmm_after),
        "matmul_gflops": plain,
        "max_roc_diff": diff,
        "t_process": t_process,
        "members": len(members),
        "singles": len(singles),
    }


def report(r: dict[str, float], label: str) -> None:
    print(f"\n[{label}]")
    print("1. networks trained per second")
    print(
        f"   family (one batched model): {r['family_per_s']:6.2f} /s  ({r['t_family']:.1f} s "
        f"for {r['members']:.0f})"
    )
    print(
        f"   one by one, in one process: {r['single_per_s']:6.2f} /s  ({r['t_single']:.2f} s "
        f"each, {r['singles']:.0f} timed)   family / alone "
        f"{r['family_per_s'] / r['single_per_s']:.2f}x  (goal >= 5x)"
    )
    per_process = 1 / (r["t_single"] + r["t_process"])
    print(
        f"   one network per process (start + import + read {r['t_process']:.2f} s each): "
        f"{per_process:.2f} /s   family / that {r['family_per_s'] / per_process:.2f}x"
    )
    print(
        f"   max |ROC(family) - ROC(alone)| over {r['singles']:.0f} jobs: {r['max_roc_diff']:.1e}"
    )
    print("2. matmul FLOP/s")
    print(
        f"   family {r['family_gflops']:6.1f} GFLOP/s training ({r['family_gflops_with_eval']:.1f} "
        f"with the test half's evaluation)   one network alone {r['single_gflops']:6.1f} GFLOP/s"
    )
    print(
        f"   torch.bmm at the family's shape: {r['bmm_gflops']:6.1f} GFLOP/s (+-"
        f"{r['bmm_spread'] / 2:.1f} before/after the trainings); plain 2048^2 matmul "
        f"{r['matmul_gflops']:.1f}"
    )
    print(
        f"   family / bmm rate: {r['family_gflops'] / r['bmm_gflops']:.0%} training, "
        f"{r['family_gflops_with_eval'] / r['bmm_gflops']:.0%} with evaluation  (goal >= 60 %)"
    )


def profile(args: argparse.Namespace) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    data = synthetic(args.vars, 20_000)
    members = family_members(data.variables)
    train_members(data, data.variables, members, NetworkParams(epochs=1))
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        train_members(data, data.variables, members, NetworkParams(epochs=1))
    print("\nwhere a family's epoch goes (20k events, torch.profiler, self CPU time):")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--vars", type=int, default=40)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--singles", type=int, default=10, help="one-by-one jobs to time")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--baseline-src", help="a fourtop src folder to measure too (before)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spread-vars", type=int, default=10)
    parser.add_argument("--spread-events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-spread", action="store_true")
    args = parser.parse_args()
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu needs --threads 1 (idle OpenMP threads spin, which counts)")
    torch.set_num_threads(args.threads)
    if args.json:  # the baseline's subprocess
        print(json.dumps(measure(args)))
        return
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), device {args.device}, "
        f"{args.clock} clock; {args.vars + 1} networks ({args.vars}-variable seed + subseeds), "
        f"{args.events} synthetic Gaussian events, {args.epochs} epochs, batch 512"
    )
    results = {"this tree": measure(args)}
    if args.baseline_src:
        cmd = [sys.executable, __file__, "--json", *sys.argv[1:]]
        env = {**os.environ, "PYTHONPATH": args.baseline_src}
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        results[f"baseline {args.baseline_src}"] = json.loads(out.splitlines()[-1])
    for label, r in results.items():
        report(r, label)
    if args.baseline_src:
        now, before = results.values()
        print(
            f"\nafter / before: family {now['family_per_s'] / before['family_per_s']:.2f}x, "
            f"one alone {now['single_per_s'] / before['single_per_s']:.2f}x"
        )
    if args.profile:
        profile(args)
    if not args.skip_spread:
        spread(args)


if __name__ == "__main__":
    main()
