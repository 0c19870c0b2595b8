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
from fourtop.splits import Split

HELP = "write the synthetic TTTT and ttbar ntuples (ROOT files) of the default dataset"

#: every split, in order
SPLITS = tuple(int(split) for split in Split)
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
    from fourtop.data.generate import DEFAULT_EVENTS, PRESETS

    parser.add_argument(
        "--output",
        "-o",
        metavar="DIR",
        default=None,
        help="folder to write into (default: $FOURTOP_DATA, else ~/.local/share/fourtop/samples)",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--events",
        "-n",
        type=event_count,
        default=None,
        metavar="N",
        help=f"events generated per sample and split before the ntuple skim "
        f"(default {DEFAULT_EVENTS})",
    )
    analysis = PRESETS["analysis"]
    size.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default=None,
        help=f"named sizes instead of -n: 'analysis' = {analysis.signal:,} events per signal "
        f"file and {analysis.background:,} per background file, about a million selected "
        "events per class and split (6 GB and ~50 min of one core per key and split)",
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
    parser.add_argument(
        "--split",
        dest="splits",
        action="append",
        type=int,
        choices=SPLITS,
        metavar="SPLIT",
        help=f"split to write, {int(Split.IMPORTANCE)} (importance), {int(Split.OPTIMIZATION)} "
        f"(hyperopt) or {int(Split.FINAL)} (final); repeat for several "
        "(default: all three; files of the other splits are left as they are)",
    )
    add_verbose(parser)


def run(args: argparse.Namespace) -> int:
    from fourtop.data.generate import (
        DEFAULT_EVENTS,
        PRESETS,
        SampleSize,
        generate_samples,
        sample_files,
    )
    from fourtop.data.paths import default_data_dir
    from fourtop.errors import DataError, OutputError

    keys = tuple(dict.fromkeys(args.keys or KEYS))
    for key in keys:
        if key not in KEYS:
            raise DataError(f"unknown dataset key {key!r}: the synthetic samples are 2017 and 2018")
    if args.output is not None and not args.output.strip():
        raise OutputError("--output: the folder name is empty")
    out_dir = Path(args.output) if args.output else default_data_dir()
    splits = tuple(sorted(set(args.splits))) if args.splits else SPLITS
    if args.preset is not None:
        size = PRESETS[args.preset]
    else:
        size = SampleSize(args.events or DEFAULT_EVENTS, args.events or DEFAULT_EVENTS)
    each = f"{size.signal} events generated each"
    if size.signal != size.background:
        each = (
            f"{size.signal} events generated per signal file, {size.background} per background file"
        )
    if args.preset is not None:
        each = f"preset {args.preset}: {each}"
    samples = sample_files(keys, splits)
    total = sum(size.of(name) for _, _, name in samples)
    start = time.perf_counter()
    if use_terminal_progress():
        status: contextlib.AbstractContextManager = console.status("generating")
        plain = None
    else:  # logs, CI, pipes: a plain line at a steady pace
        status = contextlib.nullcontext()
        plain = PlainProgress(total, "generating", unit="events", counts=False)
    with status as spinner:
        files = generate_samples(
            out_dir,
            events=size,
            seed=args.seed,
            keys=keys,
            splits=splits,
            progress=(lambda name: spinner.update(f"writing {name}")) if spinner else None,
            advance=(lambda n: plain.update(done=n)) if plain else None,
        )
    console.print(
        f"wrote {len(files)} files ({each}, seed {args.seed}) "
        f"to {out_dir} in {time.perf_counter() - start:.1f} s",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    return 0
