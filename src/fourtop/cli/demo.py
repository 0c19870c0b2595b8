"""``fourtop demo``: the whole pipeline on the embedded default data, in one command.

Generates the synthetic samples if they are missing, runs a small importance
run on the local backend, calculates the ranking and prints its top. With ``--full`` it
goes on: the final k-fold training on the top variables (``fourtop final``) and the
classifier's score written into every ntuple of the dataset key as friend trees, with the
score histograms (``fourtop apply --hists``). Every option is checked before any work; the
demo stops at the first step that fails.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fourtop.cli._common import (
    RANDOM_SEED_MAX,
    JobsFailed,
    console,
    out,
    positive_int,
    random_seed,
    seed_count,
)
from fourtop.errors import ConfigError, OutputError, TrainingError
from fourtop.splits import Split

HELP = (
    "run the whole pipeline on the embedded default data (generate, submit, calculate; "
    "with --full also final and apply)"
)

#: Sized to finish in about ten minutes on 2 cores, sample generation included
#: (measured: README, "The demo").
DEMO_DEFAULTS = {"seeds": 100, "epochs": 8, "processes": 2}

#: the dataset keys of the synthetic samples
KEYS = ("2017", "2018")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir",
        default="fourtop_demo",
        help="folder for the job folder and the results (default ./fourtop_demo)",
    )
    parser.add_argument(
        "-n",
        "--seeds",
        type=seed_count,
        default=DEMO_DEFAULTS["seeds"],
        help=f"seeds of the importance run (default {DEMO_DEFAULTS['seeds']})",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=DEMO_DEFAULTS["epochs"],
        help=f"training epochs of every network (default {DEMO_DEFAULTS['epochs']})",
    )
    parser.add_argument(
        "--events",
        type=positive_int,
        default=None,
        help="events per sample to generate when the default data is missing "
        "(default: as fourtop generate)",
    )
    parser.add_argument(
        "-p",
        "--processes",
        type=positive_int,
        default=DEMO_DEFAULTS["processes"],
        help=f"worker processes of the local backend (default {DEMO_DEFAULTS['processes']})",
    )
    parser.add_argument("-y", "--year", default="2017", help="2017 (default) or 2018")
    parser.add_argument(
        "--random-seed",
        type=random_seed,
        default=2020,
        help=f"seed of the seed draw and the trainings, 0 to {RANDOM_SEED_MAX} (default 2020)",
    )
    parser.add_argument(
        "--top",
        type=positive_int,
        default=10,
        help="how many variables to print, and with --full to train on (default 10)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="go on to the final k-fold training and apply it to every ntuple of the key",
    )


def _samples_present(year: str) -> bool:
    from fourtop.data.config import load_config

    config = load_config(None)
    files = config.files(year, Split.IMPORTANCE)
    return all(Path(f).is_file() for f in (*files.signal, *files.background))


def _step(argv: list[str]) -> int:
    """Run one fourtop command; its errors are the demo's (one line, the demo stops)."""
    from fourtop.cli import build_parser

    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


def run(args: argparse.Namespace) -> int:
    from fourtop.data.paths import default_data_dir
    from fourtop.staging import check_output_folder

    # every argument first: nothing is generated, trained or created before they all pass
    if args.year not in KEYS:
        raise ConfigError(
            f"-y {args.year!r}: the demo's synthetic samples are {' and '.join(KEYS)}"
        )
    if not args.workdir.strip():
        raise OutputError("--workdir: the folder name is empty")
    workdir = check_output_folder(args.workdir, option="--workdir")
    jobs = workdir / "condor_log_demo"
    results = workdir / "dataset_demo"
    final_dir = workdir / "final_demo"
    applied = workdir / "apply_demo"
    for path in (jobs, results, final_dir, applied):
        if path.exists() and not path.is_dir():
            raise OutputError(f"{path}: exists and is not a folder; choose another --workdir")

    steps = 5 if args.full else 3
    start = time.monotonic()
    if not _samples_present(args.year):
        console.print(
            f"[bold]1/{steps}[/] generating the synthetic samples in {default_data_dir()}"
        )
        events = [] if args.events is None else ["--events", str(args.events)]
        _step(["generate", "-y", args.year, *events])
    else:
        console.print(f"[bold]1/{steps}[/] synthetic samples found in {default_data_dir()}")

    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from fourtop.fileio import describe_os_error

        raise OutputError(f"cannot create {describe_os_error(exc, workdir)}") from None
    if jobs.exists():
        console.print(f"[bold]2/{steps}[/] {jobs} exists: finishing its unfinished jobs")
        argv = ["submit", "-r", "--include-unstarted", "--yes", "-y", args.year]
    else:
        console.print(f"[bold]2/{steps}[/] importance run: {args.seeds} seeds on the local backend")
        argv = ["submit", "-y", args.year, "-n", str(args.seeds)]
        argv += ["--random-seed", str(args.random_seed), "--yes"]
    argv += ["-p", str(args.processes), "--epochs", str(args.epochs), str(jobs)]
    if _step(argv) != 0:
        _stop_on_failed_trainings(jobs)

    console.print(f"[bold]3/{steps}[/] calculating the ranking into {results}")
    _step(["calculate", "--yes", "--top", str(args.top), "-f", str(results), str(jobs)])
    if args.full:
        _final_and_apply(args, results, final_dir, applied)
    minutes = (time.monotonic() - start) / 60
    out.print(f"\nDemo finished in {minutes:.1f} min.")
    out.print(f"  job folder: {jobs}")
    out.print(f"  results, plots and ROOT histograms: {results}")
    if args.full:
        out.print(f"  final models, model card and plots: {final_dir}")
        out.print(f"  friend trees with the DNN score, score histograms: {applied}")
    else:
        out.print(f"  next: fourtop hyperopt -n {args.top} -y {args.year} {results}")
        out.print("  (fourtop demo --full also trains the final classifier and applies it)")
    return 0


def _final_and_apply(
    args: argparse.Namespace, results: Path, final_dir: Path, applied: Path
) -> None:
    """Steps 4 and 5 of ``--full``: the final folds on the top variables (the original
    network, the demo's epochs), then the score in every ntuple of the key."""
    from fourtop.final.fold import PLAN_FILE

    if (final_dir / PLAN_FILE).exists():
        console.print(f"[bold]4/5[/] {final_dir} exists: finishing its final training")
        argv = ["final", "-f", str(final_dir)]
    else:
        console.print(
            f"[bold]4/5[/] final training: 5 folds on the top {args.top} variables, split 2"
        )
        argv = ["final", str(results), "-n", str(args.top), "-y", args.year, "-k", "5"]
        argv += ["--epochs", str(args.epochs), "--random-seed", str(args.random_seed)]
        argv += ["-f", str(final_dir)]
    if _step([*argv, "-p", str(args.processes)]) != 0:
        raise TrainingError(
            f"folds of {final_dir} did not train (see above); run 'fourtop demo --full' "
            "again with the same --workdir to finish them"
        )
    console.print(f"[bold]5/5[/] writing the DNN score of every {args.year} ntuple to {applied}")
    argv = ["apply", str(final_dir), "-y", args.year, "-o", str(applied), "--hists", "--yes"]
    if _step([*argv, "-p", str(args.processes)]) != 0:
        raise OutputError(
            f"some ntuples were not scored (see above); run 'fourtop demo --full' again "
            f"with the same --workdir to finish {applied}"
        )


def _stop_on_failed_trainings(jobs: Path) -> None:
    """Step 2 did not finish every training: say how many, and how to finish them."""
    from fourtop.jobtracker import JobFolder

    total = missing = 0
    if jobs.is_dir():
        folder = JobFolder(str(jobs))
        if folder.jobs is not None:
            folder.check()
            total = len(folder.jobs)
            missing = total - len(folder.result_jobs)
    what = f"{missing} of {total} trainings" if total else "the trainings"
    raise JobsFailed(
        f"{what} did not finish (see above); the ranking was not calculated. "
        "Run 'fourtop demo' again with the same --workdir to finish them"
    )
