"""``fourtop submit``: draw seeds, create the jobs, and run or submit them; or resubmit.

The workflow is :mod:`fourtop.jobs.submission` and :mod:`fourtop.jobs.resubmission`; this
module parses the options and prints what the library reports.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from fourtop.cli._common import (
    Exit,
    add_config,
    add_verbose,
    add_year,
    add_yes,
    backend_options,
    confirm,
    default_folders,
    nonempty,
    positive_int,
    random_seed,
    seed_count,
)
from fourtop.cli._console import alert, say
from fourtop.cli._progress import spinner, training_progress
from fourtop.cli.calculate import DEFAULT_TARGET_WIDTH, target_width
from fourtop.errors import JobFolderError, ParameterError
from fourtop.jobs.layout import SPEC_SUFFIX
from fourtop.naming import default_job_folder_name

if TYPE_CHECKING:
    from fourtop.backends.base import ProgressCallback
    from fourtop.jobs.submission import StableOutcome

#: backends that return before their jobs have run: no --until-stable
QUEUEING_BACKENDS = ("condor", "slurm")

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
    add(
        "--until-stable",
        type=positive_int,
        default=None,
        metavar="K",
        help="local backend: run rounds of seeds (the first -n, the next sized from the "
        "estimate) until the top-K variables' 68%% rank intervals are at most --target-width "
        "wide, or --max-seeds is reached",
    )
    add(
        "--target-width",
        type=target_width,
        default=None,
        metavar="W",
        help="with --until-stable: the widest rank interval that counts as stable (default 2)",
    )
    add(
        "--max-seeds",
        type=seed_count,
        default=None,
        metavar="N",
        help="with --until-stable: the most seeds in the folder (default 10 times -n, "
        "at most 100000)",
    )
    add("folders", nargs="*", type=nonempty, help="job folders (default: condor_log*)")


def _check_until_stable(args: argparse.Namespace) -> None:
    """Refuse --until-stable with options it cannot go with, and its options without it."""
    if args.until_stable is None:
        for given, option in (
            (args.target_width, "--target-width"),
            (args.max_seeds, "--max-seeds"),
        ):
            if given is not None:
                raise ParameterError(f"{option} goes with --until-stable K")
        return
    if args.resubmit:
        raise ParameterError("--until-stable adds new seeds: it does not go with -r")
    if args.test:
        raise ParameterError("--until-stable and --test exclude each other")
    if args.backend in QUEUEING_BACKENDS:
        raise ParameterError(
            f"--until-stable needs the local backend: {args.backend} returns once the jobs are "
            "queued; submit with -n, then run 'fourtop calculate' when they have finished"
        )
    if args.max_seeds is not None and args.max_seeds < args.seeds:
        raise ParameterError(f"--max-seeds {args.max_seeds} is below -n {args.seeds}")


def run(args: argparse.Namespace) -> int:
    from fourtop.jobs.requests import ResubmitRequest, SubmitRequest, network_params
    from fourtop.jobs.resubmission import resubmit
    from fourtop.jobs.submission import submit, submit_until_stable
    from fourtop.train.params import read_params

    _check_until_stable(args)

    training = {
        "year": args.year,
        "config": args.config,
        "params": network_params(read_params(args.params), args.epochs),
        "random_seed": args.random_seed,
        "processes": args.processes,
        "families": not args.no_families,
        "device": args.device,
        "options": backend_options(args.option),
        "backend": args.backend,
        "yes": args.yes,
    }
    reporter = CliReporter(args.yes)
    if args.resubmit:  # every folder given, or the condor_log* folders here
        folders = args.folders or [str(p) for p in default_folders(include_specs=False)]
        outcomes = resubmit(
            ResubmitRequest(folders=folders, include_unstarted=args.include_unstarted, **training),
            reporter,
        )
        return Exit.JOBS_FAILED if any(o.failed for o in outcomes) else Exit.OK
    if len(args.folders) > 1:
        raise JobFolderError("submit mode takes at most one job folder")
    if args.include_unstarted:
        raise ParameterError("--include-unstarted is for resubmission: use it with -r")
    request = SubmitRequest(
        varlist=args.varlist,
        seeds=args.seeds,
        test=args.test,
        correlation=args.correlation,
        folder=args.folders[0] if args.folders else None,
        **training,
    )
    folder = request.folder or default_job_folder_name()
    existed = Path(folder).exists()
    try:
        if args.until_stable is not None:
            outcome = submit_until_stable(
                request,
                top=args.until_stable,
                target_width=args.target_width or DEFAULT_TARGET_WIDTH,
                max_seeds=args.max_seeds,
                reporter=reporter,
            )
            _report_rounds(outcome, args.until_stable)
            return Exit.JOBS_FAILED if outcome.reason == "failed" else Exit.OK
        return Exit.JOBS_FAILED if submit(request, reporter).failed else Exit.OK
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: say what is kept, how to go on
        if existed or Path(folder, Path(folder).name + SPEC_SUFFIX).is_file():
            exc.args = (
                f"the finished jobs in {folder} are kept; "
                + (
                    f"the same command with the folder ({folder}) goes on with it"
                    if args.until_stable is not None
                    else f"'fourtop submit -r --include-unstarted {folder}' runs the rest"
                ),
            )
        raise


def _report_rounds(outcome: StableOutcome, top: int) -> None:
    """The last line of --until-stable: why it stopped."""
    s = outcome.stability
    done = f"{outcome.rounds} round(s), {outcome.seeds} seeds in {outcome.folder}"
    if outcome.reason == "stable":
        say(
            f"stable: the top {top} after {done}; 'fourtop calculate {outcome.folder}' writes "
            "the ranking"
        )
    elif outcome.reason == "failed":
        say(
            f"stopped after {done}: jobs failed (above); the same command runs them again "
            "first, then goes on"
        )
    else:
        why = (
            "the --max-seeds limit"
            if outcome.reason == "max_seeds"
            else "every distinct seed of these variables"
        )
        widest = (
            f" (widest rank interval {s.widest})" if s is not None and s.widest is not None else ""
        )
        say(
            f"not stable: stopped at {why} after {done}{widest}; "
            f"'fourtop calculate {outcome.folder}' shows the ranking"
        )


class CliReporter:
    """Prints what the submission library reports (``fourtop.jobs.requests.Reporter``)."""

    def __init__(self, yes: bool) -> None:
        self.yes = yes

    def note(self, message: str) -> None:
        say(message)

    def warn(self, message: str) -> None:
        alert(f"warning: {message}")

    def status(self, message: str) -> AbstractContextManager[object]:
        return spinner(message)

    def progress(self, total: int) -> AbstractContextManager[ProgressCallback]:
        return training_progress(total)

    def failures(self, failed: Sequence[tuple[str, str]], limit: int = 10) -> None:
        """One line per failed job, or one line when all failed for one reason (shown even
        with ``--quiet``)."""
        reasons = {reason for _, reason in failed}
        if len(failed) > 1 and len(reasons) == 1:
            alert(f"  failed: {len(failed)} job(s): {reasons.pop()}")
            return
        for name, reason in failed[:limit]:
            alert(f"  failed: {name}: {reason}")
        if len(failed) > limit:
            alert(f"  ... and {len(failed) - limit} more")

    def confirm(self, question: str) -> bool:
        return confirm(question, yes=self.yes)


#: the name before the move to _common (kept for other command modules)
_options = backend_options
