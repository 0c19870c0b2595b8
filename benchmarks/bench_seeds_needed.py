"""Checks the estimate of the seeds needed on a finished job folder (issue 13).

The estimate of ``fourtop calculate`` (``fourtop.importance.stability``) predicts, from the
seeds there are, the 68 % rank intervals more seeds would give. This script takes the first
``n`` seed families of a finished folder (in the folder's order, which is the draw order),
predicts from them the top-10 rank intervals at the folder's full number of seeds, and
compares them with the intervals the full folder gives:

    python benchmarks/bench_seeds_needed.py FOLDER N [--target-width 2] [--top 10]

It reads the folder as ``fourtop calculate`` does (an uncompacted folder's job states are
refreshed; nothing else is written) and prints the comparison table and the seeds each
sample says are needed.
"""

from __future__ import annotations

import argparse
import sys
import time

from fourtop.importance import collect_results, compute_importance, open_folders
from fourtop.importance.stability import (
    estimate_stability,
    predict_rank_intervals,
    rank_width,
)
from fourtop.importance.stats import bootstrap


def _ranks(pair) -> str:
    return "-" if pair is None else f"{round(pair[0])}-{round(pair[1])}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="a finished job folder or .jtd file")
    parser.add_argument("n", type=int, help="seed families to predict from (the first n)")
    parser.add_argument("--target-width", type=float, default=2.0)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)

    results = collect_results(open_folders([args.folder]))
    full = compute_importance(results)
    total = len(full.families)
    if not 1 <= args.n < total:
        print(f"n must be 1 to {total - 1} (the folder has {total} seed families)")
        return 2
    first = {fam.seed.family_key for fam in full.families[: args.n]}
    part = compute_importance([j for j in results if j.family_key in first])
    bootstrap(full)
    bootstrap(part)

    start = time.perf_counter()
    from_part = estimate_stability(part, target_width=args.target_width, top=args.top)
    seconds = time.perf_counter() - start
    from_full = estimate_stability(full, target_width=args.target_width, top=args.top)
    top_part = [r.variable for r in from_part.rows]
    predicted = predict_rank_intervals(part, total, top_part)

    print(f"{args.folder}: {total} seed families; prediction from the first {args.n}")
    print(
        f"{'#':>3}  {'variable':32s} {'at ' + str(args.n):>8s} {'predicted at ' + str(total):>18s}"
        f" {'actual at ' + str(total):>14s} {'rank at ' + str(total):>11s}"
    )
    widths_pred, widths_act = [], []
    for i, v in enumerate(top_part, 1):
        now = part.rows[v].rank_ci68
        pred = predicted[v]
        act = full.rows[v].rank_ci68
        widths_pred.append(rank_width(pred))
        widths_act.append(rank_width(act))
        print(
            f"{i:>3}  {v:32s} {_ranks(now):>5s} ({rank_width(now)})"
            f" {_ranks(pred):>14s} ({rank_width(pred)}) {_ranks(act):>10s} ({rank_width(act)})"
            f" {full.rows[v].importance_rank:>11d}"
        )
    actual_top = [r.width or 0 for r in from_full.rows]
    overlap = len(set(top_part) & {r.variable for r in from_full.rows})
    print(
        f"widest of these {len(top_part)}: predicted {max(widths_pred)}, actual "
        f"{max(widths_act)}; mean predicted {sum(widths_pred) / len(widths_pred):.1f}, "
        f"actual {sum(widths_act) / len(widths_act):.1f}"
    )
    print(
        f"the top {len(actual_top)} of all {total} seeds: widest {max(actual_top)}, "
        f"mean {sum(actual_top) / len(actual_top):.1f}; "
        f"the two top-{args.top} sets share {overlap}"
    )
    for label, s in ((f"first {args.n}", from_part), (f"{total}", from_full)):
        more = "" if s.more_seeds is None else f" ({s.more_seeds} more)"
        print(
            f"seeds needed for width <= {args.target_width:g}, from the {label}: "
            f"{s.seeds_needed}{more} [{s.status}]"
        )
    print(f"estimate from the first {args.n}: {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
