"""Seed families on a GPU: networks/s in fp32 and reduced precisions, and a full run's wall time.

Prepared to run in one go on a lent GPU machine (a few minutes); it also runs on the CPU
(smaller default workload), so it is exercised without one.

Measures, for a 40-variable seed and its 40 subseeds (41 networks, the original 3x100 network
with batch normalization, batch 512) on ``--events`` synthetic events (default 1M on CUDA,
100k on the CPU), for each precision (fp32, bf16, and tf32 on CUDA):
  - networks/s and seconds per family epoch;
  - the projected wall time of a 500-seed x 76-variable importance run on this one device:
    500 families of 1 + 38 members on average (each variable in a seed with probability 1/2),
    ``--project-epochs`` epochs each (default 15, the original network's), at the measured
    time per member-epoch, scaled linearly to the projected events (goal: under an hour);
  - with ``--agreement-seeds K`` (default 20 on CUDA, 0 on the CPU), the agreement of each
    reduced precision with fp32 on the default data (``bench_precision.py``): the criterion
    for offering ``--precision`` in the commands.

Run: python benchmarks/bench_gpu.py [--device auto|cuda|cpu] [--events N] [--epochs 1]
         [--precisions fp32,bf16,tf32] [--project-events N] [--agreement-seeds K]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

from fourtop.train.device import resolve_device
from fourtop.train.fit import train_members
from fourtop.train.params import NetworkParams

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_precision
from bench_training import family_members, synthetic

RUN_SEEDS, RUN_VARIABLES = 500, 76


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{props.name}, {props.total_memory / 2**30:.0f} GiB"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s)"


def time_family(data, members, params, precision: str, device: str) -> float:
    """Seconds to train the family (results come back to the CPU, so the device is done)."""
    start = time.perf_counter()
    results = train_members(
        data, data.variables, members, params, random_seed=1, device=device, precision=precision
    )
    elapsed = time.perf_counter() - start
    failed = [r.error for r in results if r.error]
    if failed:
        raise RuntimeError(f"{len(failed)} member(s) failed: {failed[0]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--events", type=int, help="default 1M on CUDA, 100k on the CPU")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--vars", type=int, default=40)
    parser.add_argument("--precisions", default="fp32,bf16,tf32")
    parser.add_argument("--project-epochs", type=int, default=15)
    parser.add_argument("--project-events", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--agreement-seeds", type=int, help="default 20 on CUDA, 0 on the CPU")
    bench_precision.add_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    events = args.events or (1_000_000 if cuda else 100_000)
    precisions = [p for p in args.precisions.split(",") if p]
    print(f"torch {torch.__version__}; device {device} ({describe(device)})")

    data = synthetic(args.vars, events)
    members = family_members(data.variables)
    params = NetworkParams(epochs=args.epochs)
    warm = synthetic(args.vars, 8192, seed=9)
    rates: dict[str, float] = {}
    print(
        f"\n{len(members)}-member family, {events} events ({events // 2} training), "
        f"{args.epochs} epoch(s), batch {params.batch_size}:"
    )
    for precision in precisions:
        if precision == "tf32" and not cuda:
            print("  tf32: CUDA only, skipped")
            continue
        time_family(warm, members, NetworkParams(epochs=1), precision, str(device))
        elapsed = time_family(data, members, params, precision, str(device))
        per_epoch = elapsed / args.epochs
        rates[precision] = len(members) * args.epochs / elapsed  # member-epochs per second
        print(
            f"  {precision}: {len(members) / elapsed:7.2f} networks/s, {per_epoch:6.2f} s per "
            f"family epoch"
            + (f"  ({rates[precision] / rates['fp32']:.2f}x fp32)" if "fp32" in rates else "")
        )

    networks = RUN_SEEDS * (1 + RUN_VARIABLES / 2)
    scale = args.project_events / events
    print(
        f"\nprojected {RUN_SEEDS}-seed x {RUN_VARIABLES}-variable run on this one device: "
        f"~{networks:,.0f} networks x {args.project_epochs} epochs on {args.project_events:,} "
        "events (time per member-epoch measured above, scaled linearly in events):"
    )
    for precision, rate in rates.items():
        hours = networks * args.project_epochs * scale / rate / 3600
        verdict = "under an hour" if hours < 1 else "over an hour"
        print(f"  {precision}: {hours:7.2f} h  ({verdict})")

    seeds = args.agreement_seeds if args.agreement_seeds is not None else (20 if cuda else 0)
    reduced = [p for p in rates if p != "fp32"]
    if seeds > 0 and reduced:
        args.seeds = seeds
        args.device = str(device)
        args.precisions = reduced
        bench_precision.run(args)


if __name__ == "__main__":
    main()
