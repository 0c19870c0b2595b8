"""Do reduced-precision matrix products give the same variable importance as fp32?

The criterion of issue 13 for offering ``--precision``: on the default data, the ranking from
each reduced precision agrees with fp32's (Spearman rank correlation >= 0.95) and every
variable's mean ROC difference (seed minus the subseed without it) moves by less than its
standard error. This runs a small importance study twice or more, with the same seeds, random
seeds and initial weights: each seed family is trained in fp32 and in every other precision,
and the per-variable mean ROC differences are compared.

Seeds include each variable with probability 1/2 (the correlated-group step of ``submit`` is
left out: it does not change what is compared). Data: the default configuration's importance
split (``fourtop generate`` writes it), or synthetic Gaussian classes with ``--synthetic``.

Run: python benchmarks/bench_precision.py [--seeds 30] [--epochs 4] [--precisions bf16]
         [--device cpu|cuda|auto] [--year 2017] [--synthetic]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from fourtop.train.fit import train_members
from fourtop.train.params import NetworkParams

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import synthetic


def default_data(year: str):
    from fourtop.data.config import load_config
    from fourtop.data.ntuples import load_split
    from fourtop.splits import Split

    return load_split(load_config(), year, Split.IMPORTANCE)


def importance_differences(
    data, seeds: list[list[str]], precision: str, epochs: int, device: str
) -> tuple[dict[str, list[float]], float]:
    """Per variable, the seed-minus-subseed ROC differences over ``seeds``; and the seconds."""
    diffs: dict[str, list[float]] = {v: [] for v in data.variables}
    params = NetworkParams(epochs=epochs)
    start = time.perf_counter()
    for i, seed in enumerate(seeds):
        members = [seed] + [[v for v in seed if v != x] for x in seed]
        rocs = [
            r.roc_integral
            for r in train_members(
                data, seed, members, params, random_seed=i, device=device, precision=precision
            )
        ]
        for x, roc in zip(seed, rocs[1:], strict=True):
            diffs[x].append(rocs[0] - roc)
    return diffs, time.perf_counter() - start


def compare(
    reference: dict[str, list[float]], other: dict[str, list[float]]
) -> tuple[float, list[tuple[str, float, float, float]], int]:
    """Spearman correlation of the rankings by mean difference, the per-variable table
    (name, fp32 mean, other mean, fp32 standard error) and how many variables moved by more
    than their standard error."""
    names = [v for v in reference if len(reference[v]) >= 2]
    ref = np.array([np.mean(reference[v]) for v in names])
    oth = np.array([np.mean(other[v]) for v in names])
    sem = np.array([np.std(reference[v], ddof=1) / np.sqrt(len(reference[v])) for v in names])
    rho = float(spearmanr(ref, oth).statistic)
    rows = [
        (v, float(a), float(b), float(s)) for v, a, b, s in zip(names, ref, oth, sem, strict=True)
    ]
    outside = int((np.abs(oth - ref) > sem).sum())
    return rho, rows, outside


def run(args: argparse.Namespace, data=None) -> dict[str, dict[str, float]]:
    """The agreement study; a summary per precision (also printed)."""
    if data is None:
        data = synthetic(40, 40_000) if args.synthetic else default_data(args.year)
    rng = np.random.default_rng(args.draw_seed)
    seeds = []
    while len(seeds) < args.seeds:
        chosen = [v for v in data.variables if rng.random() < 0.5]
        if len(chosen) >= 2:
            seeds.append(chosen)
    n_events = len(data.signal) + len(data.background)
    print(
        f"\nagreement with fp32: {len(seeds)} seed families over {len(data.variables)} variables, "
        f"{n_events} events, {args.epochs} epochs, device {args.device}"
    )
    reference, t_ref = importance_differences(data, seeds, "fp32", args.epochs, args.device)
    summary = {}
    for precision in args.precisions:
        if precision == "fp32":
            continue
        try:
            other, t_other = importance_differences(
                data, seeds, precision, args.epochs, args.device
            )
        except Exception as exc:  # e.g. tf32 off CUDA: say so and go on
            print(f"  {precision}: not measured ({exc})")
            continue
        rho, rows, outside = compare(reference, other)
        ok = rho >= 0.95 and outside == 0
        summary[precision] = {"spearman": rho, "outside_sem": outside, "agrees": ok}
        print(
            f"  {precision}: Spearman {rho:.3f} (need >= 0.95); {outside} of {len(rows)} "
            f"variables moved by more than their standard error (need 0); time "
            f"{t_other:.0f} s vs fp32 {t_ref:.0f} s -> {'AGREES' if ok else 'does not agree'}"
        )
        worst = sorted(rows, key=lambda r: -abs(r[2] - r[1]) / max(r[3], 1e-12))[:5]
        print("    largest moves (variable, fp32 mean, this mean, fp32 standard error):")
        for name, a, b, s in worst:
            print(f"      {name:28s} {a:+.5f} {b:+.5f}  {s:.5f}")
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--agreement-epochs", dest="epochs", type=int, default=4)
    parser.add_argument("--year", default="2017")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--draw-seed", type=int, default=13)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--precisions", default="bf16", help="comma-separated: bf16,tf32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    args.precisions = args.precisions.split(",")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, device {args.device}")
    run(args)


if __name__ == "__main__":
    main()
