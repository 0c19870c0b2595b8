"""``fourtop generate``: write the synthetic TTTT and ttbar ntuples of the default dataset."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fourtop.cli._common import add_verbose, console

HELP = "write the synthetic TTTT and ttbar ntuples (ROOT files) of the default dataset"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fourtop.data.generate import DEFAULT_EVENTS

    parser.add_argument(
        "--output",
        "-o",
        metavar="DIR",
        default=None,
        help="folder to write into (default: $FOURTOP_DATA, else ~/.local/share/fourtop/samples)",
    )
    parser.add_argument(
        "--events",
        "-n",
        type=int,
        default=DEFAULT_EVENTS,
        metavar="N",
        help=f"events generated per sample and split before the ntuple skim "
        f"(default {DEFAULT_EVENTS})",
    )
    parser.add_argument("--seed", "-s", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "-y",
        "--year",
        dest="keys",
        action="append",
        metavar="KEY",
        help="dataset key to write, 2017 or 2018; repeat for both (default: both)",
    )
    add_verbose(parser)


def run(args: argparse.Namespace) -> int:
    from fourtop.data.generate import generate_samples
    from fourtop.data.paths import default_data_dir
    from fourtop.errors import DataError

    keys = tuple(dict.fromkeys(args.keys or ["2017", "2018"]))
    for key in keys:
        if key not in ("2017", "2018"):
            raise DataError(f"unknown dataset key {key!r}: the synthetic samples are 2017 and 2018")
    out_dir = Path(args.output) if args.output else default_data_dir()
    start = time.perf_counter()
    with console.status("generating") as status:
        files = generate_samples(
            out_dir,
            events=args.events,
            seed=args.seed,
            keys=keys,
            progress=lambda name: status.update(f"writing {name}"),
        )
    console.print(
        f"wrote {len(files)} files ({args.events} events generated each, seed {args.seed}) "
        f"to {out_dir} in {time.perf_counter() - start:.1f} s"
    )
    return 0
