"""``fourtop apply-file``: score one input file of an apply run — what a batch node runs.

One name without ``--job-dir`` prints ``Events-scored: <n>`` on stdout (the batch system
writes the job's ``.out``, ``.err`` and ``.log``); with ``--job-dir`` each job's files are
written there. The plan (``<output>/jobs/apply-plan.json``) says which file a job name
scores, with which model, into which output.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fourtop.cli._common import JobsFailed, add_verbose, nonempty, out
from fourtop.cli._console import alert

HELP = "score the input file of one fourtop apply job (what a batch node runs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_verbose(parser)
    parser.add_argument(
        "--plan",
        type=nonempty,
        required=True,
        metavar="PLAN",
        help="the run's plan (OUTPUT_DIR/jobs/apply-plan.json)",
    )
    parser.add_argument(
        "--job-dir",
        type=nonempty,
        metavar="DIR",
        default=None,
        help="write each job's .out/.err/.log into this folder",
    )
    parser.add_argument("names", nargs="+", type=nonempty, metavar="NAME", help="job names")


def run(args: argparse.Namespace) -> int:
    from fourtop.apply.plan import read_plan
    from fourtop.apply.task import RESULT_LABEL, job_info, run_job, run_jobs
    from fourtop.errors import DataError, JobFolderError

    plan = read_plan(Path(args.plan))
    for name in args.names:
        plan.entry(name)  # an unknown job: one line before any work
    if args.job_dir is None:
        if len(args.names) > 1:
            raise JobFolderError(f"{len(args.names)} job names given: several jobs need --job-dir")
        (name,) = args.names
        n = run_job(plan, name)
        for line in job_info(plan, name):
            out.print(line, markup=False, soft_wrap=True)
        out.print(f"{RESULT_LABEL}: {float(n)!r}", markup=False, soft_wrap=True)
        return 0
    job_dir = Path(args.job_dir)
    if not job_dir.is_dir():
        raise JobFolderError(f"{job_dir}: job folder not found")
    results = run_jobs(Path(args.plan), args.names, job_dir)
    failed = [str(v) for v in results.values() if isinstance(v, str)]
    if len(failed) == len(results) == 1:
        raise DataError(failed[0])
    for reason in failed:
        alert(f"fourtop apply-file: failed: {reason}")
    if failed:
        raise JobsFailed(f"{len(failed)} of {len(results)} files failed")
    return 0
