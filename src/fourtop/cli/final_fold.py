"""``fourtop final-fold``: train folds of a final folder — what a batch node runs.

One fold without ``--job-dir`` prints ``ROC-integral: <value>`` on stdout; with ``--job-dir``
every fold's ``.out``, ``.err`` and ``.log`` are written there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fourtop.cli._common import JobsFailed, add_verbose, nonempty, out
from fourtop.cli._console import alert
from fourtop.errors import JobFolderError, OutputError, ParameterError, TrainingError
from fourtop.fileio import describe_os_error

HELP = "train folds of a final folder (what a batch node runs for `fourtop final`)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_verbose(parser)
    parser.add_argument(
        "--folder", type=nonempty, required=True, metavar="DIR", help="the final folder"
    )
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="default auto"
    )
    parser.add_argument(
        "--job-dir",
        type=nonempty,
        metavar="DIR",
        default=None,
        help="write each fold job's .out/.err/.log into this folder",
    )
    parser.add_argument("names", nargs="+", type=nonempty, metavar="FOLD", help="fold0, fold1, ...")


def run(args: argparse.Namespace) -> int:
    from fourtop.final.fold import read_plan
    from fourtop.final.task import run_folds

    if args.job_dir is None and len(args.names) > 1:
        raise JobFolderError(f"{len(args.names)} folds given: several folds need --job-dir")
    twice = sorted({n for n in args.names if args.names.count(n) > 1})
    if twice:
        raise ParameterError(f"fold {twice[0]} is named twice")
    read_plan(Path(args.folder))  # not a final folder: one clear error
    job_dir = Path(args.job_dir) if args.job_dir else None
    if job_dir is not None and not job_dir.is_dir():
        raise JobFolderError(f"--job-dir {job_dir}: no such folder")
    try:
        results = run_folds(Path(args.folder), args.names, job_dir, args.device)
    except OSError as exc:  # the job files themselves cannot be written
        raise OutputError(f"cannot write a fold's job file {describe_os_error(exc)}") from None
    failed = {n: v for n, v in results.items() if isinstance(v, str)}
    if job_dir is None:
        (name,) = args.names
        if name in failed:
            raise TrainingError(failed[name])
        out.print(f"ROC-integral: {results[name]!r}", markup=False, soft_wrap=True)
        return 0
    for name, reason in failed.items():
        alert(f"fourtop final-fold: {name} failed: {reason}")
    if failed:
        raise JobsFailed(f"{len(failed)} of {len(results)} folds failed")
    return 0
