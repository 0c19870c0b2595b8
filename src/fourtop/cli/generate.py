"""``fourtop generate``: write the synthetic TTTT and ttbar ntuples of the default dataset."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

from fourtop.cli._common import (
    RANDOM_SEED_MAX,
    PlainProgress,
    add_verbose,
    console,
    positive_int,
    random_seed,
    use_terminal_progress,
)

HELP = "write the synthetic TTTT and ttbar ntuples (ROOT files) of the default dataset"

#: the dataset keys the synthetic samples exist for
KEYS = ("2017", "2018")


#: events generated per sample and split at most (10^8: tens of GB of ntuples already)
MAX_EVENTS = 100_000_000


def event_count(text: str) -> int:
    """argparse type of ``--events``: a whole number from 1 to :data:`MAX_EVENTS`."""
    value = positive_int(text)
    if value > MAX_EVENTS:
        raise argparse.ArgumentTypeError(f"{value}: at most {MAX_EVENTS} events per sample")
    return value


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
        type=event_count,
        default=DEFAULT_EVENTS,
        metavar="N",
        help=f"events generated per sample and split before the ntuple skim "
        f"(default {DEFAULT_EVENTS})",
    )
    parser.add_argument(
        "--seed",
        "-s",
        type=random_seed,
        default=1,
        help=f"random seed, 0 to {RANDOM_SEED_MAX} (default 1)",
    )
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
    from fourtop.data.generate import generate_samples, sample_files
    from fourtop.data.paths import default_data_dir
    from fourtop.errors import DataError, OutputError

    keys = tuple(dict.fromkeys(args.keys or KEYS))
    for key in keys:
        if key not in KEYS:
            raise DataError(f"unknown dataset key {key!r}: the synthetic samples are 2017 and 2018")
    if args.output is not None and not args.output.strip():
        raise OutputError("--output: the folder name is empty")
    out_dir = Path(args.output) if args.output else default_data_dir()
    n_files = len(sample_files(keys))
    start = time.perf_counter()
    if use_terminal_progress():
        status: contextlib.AbstractContextManager = console.status("generating")
        plain = None
    else:  # logs, CI, pipes: a plain line at a steady pace
        status = contextlib.nullcontext()
        plain = PlainProgress(n_files * args.events, "generating", unit="events")
    with status as spinner:
        files = generate_samples(
            out_dir,
            events=args.events,
            seed=args.seed,
            keys=keys,
            progress=(lambda name: spinner.update(f"writing {name}")) if spinner else None,
            advance=(lambda n: plain.update(done=n)) if plain else None,
        )
    console.print(
        f"wrote {len(files)} files ({args.events} events generated each, seed {args.seed}) "
        f"to {out_dir} in {time.perf_counter() - start:.1f} s",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    return 0
