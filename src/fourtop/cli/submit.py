"""``fourtop submit``: draw seeds, create the jobs, and run or submit them; or resubmit.

The workflow is :mod:`fourtop.jobs.submission`; this module parses the options and
prints what the library reports.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING

from fourtop.cli._common import (
    add_config,
    add_verbose,
    add_year,
    add_yes,
    confirm,
    console,
    default_folders,
    nonempty,
    positive_int,
    random_seed,
    seed_count,
    use_terminal_progress,
)
from fourtop.cli._jobprogress import training_progress
from fourtop.errors import JobFolderError, ParameterError

if TYPE_CHECKING:
    from fourtop.backends.base import ProgressCallback

HELP = "create and submit variable-importance jobs, or resubmit failed ones (-r)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_verbose(parser)
    add = parser.add_argument
    add("-r", "--resubmit", action="store_true", help="resubmit mode")
    add(
        "--include-unstarted",
        action="store_true",
        help="resubmit mode: also resubmit jobs that have not started (no .out file)",
    )
    add(
        "-p",
        "--processes",
        type=int,
        default=2,
        metavar="N",
        help="local backend: worker processes; batch backends: see docs/batch.md (default 2)",
    )
    add(
        "-n",
        "--seeds",
        type=seed_count,
        default=500,
        metavar="N",
        help="seeds to draw (default 500, at most 100000)",
    )
    add("--test", action="store_true", help="submit only one job")
    add(
        "-c",
        "--correlation",
        type=float,
        default=80.0,
        metavar="PERCENT",
        help="absolute correlation (percent) making variables a correlated group (default 80)",
    )
    add(
        "-l",
        "--varlist",
        type=nonempty,
        default="all",
        help="'all' (the default 76 variables) or a file of variable names, one per line",
    )
    add_year(parser)
    parser.set_defaults(year=None)  # None: 2017, or on -r the year the folder was submitted with
    add_config(parser)
    add_yes(parser)
    add(
        "--backend",
        default="local",
        help="where jobs run: local (default, a process pool), condor, slurm",
    )
    add(
        "--params",
        type=nonempty,
        metavar="JSON",
        default=None,
        help="network hyperparameters for every job: a JSON file or an inline JSON object "
        "(keys of NetworkParams; default: the original network)",
    )
    add("--epochs", type=positive_int, default=None, help="training epochs (overrides --params)")
    add(
        "--no-families",
        action="store_true",
        help="run every job alone instead of training each seed with its subseeds as a batch",
    )
    add(
        "--random-seed",
        type=random_seed,
        default=None,
        help="seed of the seed draw and the trainings (0 to 2**32-1)",
    )
    add("--device", default="auto", choices=["auto", "cpu", "cuda"], help="training device")
    add(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option, repeatable (e.g. request_memory=2GB; see docs/batch.md)",
    )
    add("folders", nargs="*", type=nonempty, help="job folders (default: condor_log*)")


def run(args: argparse.Namespace) -> int:
    from fourtop.jobs import submission
    from fourtop.train.params import read_params

    training = {
        "year": args.year,
        "config": args.config,
        "params": submission.network_params(read_params(args.params), args.epochs),
        "random_seed": args.random_seed,
        "processes": args.processes,
        "families": not args.no_families,
        "device": args.device,
        "options": _options(args.option),
        "backend": args.backend,
        "yes": args.yes,
    }
    reporter = CliReporter(args.yes)
    if args.resubmit:
        folders = args.folders or [str(p) for p in default_folders(include_specs=False)]
        outcomes = submission.resubmit(
            submission.ResubmitRequest(
                folders=folders, include_unstarted=args.include_unstarted, **training
            ),
            reporter,
        )
        return 1 if any(o.failed for o in outcomes) else 0
    if len(args.folders) > 1:
        raise JobFolderError("submit mode takes at most one job folder")
    if args.include_unstarted:
        raise ParameterError("--include-unstarted is for resubmission: use it with -r")
    request = submission.SubmitRequest(
        varlist=args.varlist,
        seeds=args.seeds,
        test=args.test,
        correlation=args.correlation,
        folder=args.folders[0] if args.folders else None,
        **training,
    )
    return 1 if submission.submit(request, reporter).failed else 0


def _options(pairs: Sequence[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--option {pair!r}: expected KEY=VALUE")
        options[key.strip()] = value
    return options


class CliReporter:
    """Prints what the submission library reports (see ``fourtop.jobs.submission.Reporter``)."""

    def __init__(self, yes: bool) -> None:
        self.yes = yes

    def note(self, message: str) -> None:
        console.print(message, markup=False, soft_wrap=True)

    def warn(self, message: str) -> None:
        console.print(f"warning: {message}", markup=False, soft_wrap=True)

    def status(self, message: str) -> AbstractContextManager[object]:
        return console.status(message) if use_terminal_progress() else nullcontext()

    @contextmanager
    def progress(self, total: int) -> Iterator[ProgressCallback]:
        with training_progress(total) as callback:
            yield callback

    def failures(self, failed: Sequence[tuple[str, str]], limit: int = 10) -> None:
        """One line per failed job, or a single line when they all failed for one reason
        (a refused batch submission fails every job with the same message)."""
        reasons = {reason for _, reason in failed}
        if len(failed) > 1 and len(reasons) == 1:
            self.note(f"  failed: {len(failed)} job(s): {reasons.pop()}")
            return
        for name, reason in failed[:limit]:
            self.note(f"  failed: {name}: {reason}")
        if len(failed) > limit:
            self.note(f"  ... and {len(failed) - limit} more")

    def confirm(self, question: str) -> bool:
        return confirm(question, yes=self.yes)
