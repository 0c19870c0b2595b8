"""``fourtop demo``: the whole pipeline on the embedded default data, in one command.

Generates the synthetic samples if they are missing, runs a small importance
run on the local backend, calculates the ranking and prints its top.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fourtop.cli._common import console, out

HELP = "run the whole pipeline on the embedded default data (generate, submit, calculate)"

#: Sized to finish in about ten minutes on 2 cores, sample generation included
#: (measured: README, "The demo").
DEMO_DEFAULTS = {"seeds": 100, "epochs": 8, "processes": 2}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir",
        default="fourtop_demo",
        help="folder for the job folder and the results (default ./fourtop_demo)",
    )
    parser.add_argument("-n", "--seeds", type=int, default=DEMO_DEFAULTS["seeds"])
    parser.add_argument("--epochs", type=int, default=DEMO_DEFAULTS["epochs"])
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help="events per sample to generate when the default data is missing "
        "(default: as fourtop generate)",
    )
    parser.add_argument("-p", "--processes", type=int, default=DEMO_DEFAULTS["processes"])
    parser.add_argument("-y", "--year", default="2017")
    parser.add_argument("--random-seed", type=int, default=2020)
    parser.add_argument("--top", type=int, default=10, help="how many variables to print")


def _samples_present(year: str) -> bool:
    from fourtop.data.config import load_config

    config = load_config(None)
    files = config.files(year, 0)
    return all(Path(f).is_file() for f in (*files.signal, *files.background))


def run(args: argparse.Namespace) -> int:
    from fourtop.cli import main
    from fourtop.data.paths import default_data_dir

    start = time.monotonic()
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if not _samples_present(args.year):
        console.print(f"[bold]1/3[/] generating the synthetic samples in {default_data_dir()}")
        events = [] if args.events is None else ["--events", str(args.events)]
        code = main(["generate", "-y", args.year, *events])
        if code != 0:
            return code
    else:
        console.print(f"[bold]1/3[/] synthetic samples found in {default_data_dir()}")

    jobs = workdir / "condor_log_demo"
    results = workdir / "dataset_demo"
    if jobs.exists():
        console.print(f"[bold]2/3[/] {jobs} exists: finishing its unfinished jobs")
        argv = ["submit", "-r", "--include-unstarted", "--yes", "-y", args.year]
    else:
        console.print(f"[bold]2/3[/] importance run: {args.seeds} seeds on the local backend")
        argv = ["submit", "-y", args.year, "-n", str(args.seeds)]
        argv += ["--random-seed", str(args.random_seed), "--yes"]
    argv += ["-p", str(args.processes), "--epochs", str(args.epochs), str(jobs)]
    code = main(argv)
    if code not in (0, 1):
        return code

    console.print(f"[bold]3/3[/] calculating the ranking into {results}")
    code = main(["calculate", "--yes", "--top", str(args.top), "-f", str(results), str(jobs)])
    if code != 0:
        return code
    minutes = (time.monotonic() - start) / 60
    out.print(f"\nDemo finished in {minutes:.1f} min.")
    out.print(f"  job folder: {jobs}")
    out.print(f"  results, plots and ROOT histograms: {results}")
    out.print(f"  next: fourtop hyperopt -n {args.top} -y {args.year} {results}")
    return 0
