"""``fourtop run-job``: train one job (or a seed family) — what a batch node runs.

One name without ``--job-dir`` prints ``ROC-integral: <value>`` on stdout (the original
``remote.py``); with ``--job-dir`` every job's ``.out``, ``.err`` and ``.log`` are written there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fourtop.cli._common import (
    JobsFailed,
    add_config,
    add_verbose,
    add_year,
    nonempty,
    out,
    random_seed,
)
from fourtop.cli._console import alert
from fourtop.errors import DataError, JobFolderError, TrainingError

HELP = "train the network of one job or seed family and report its ROC integral"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_year(parser)
    add_config(parser)
    add_verbose(parser)
    parser.add_argument(
        "-l",
        "--varlist",
        type=nonempty,
        default="all",
        help="the full variable list that decodes the job names: 'all' or a file (default all)",
    )
    parser.add_argument(
        "--params",
        type=nonempty,
        metavar="JSON",
        default=None,
        help="network hyperparameters: a JSON file, or an inline JSON object (default: "
        "the original network)",
    )
    parser.add_argument(
        "--random-seed",
        type=random_seed,
        default=None,
        metavar="N",
        help="base random seed; each seed's jobs derive theirs from it and the seed number",
    )
    parser.add_argument(
        "--arrays",
        type=nonempty,
        metavar="FILE",
        default=None,
        help="read the events from this cache file (an arrays file, memory-mapped; or the "
        ".npz of an older fourtop)",
    )
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="default auto"
    )
    parser.add_argument(
        "--job-dir",
        type=nonempty,
        metavar="DIR",
        default=None,
        help="write each job's .out/.err/.log into this job folder",
    )
    parser.add_argument(
        "names", nargs="+", type=nonempty, metavar="NAME", help="job names, the seed job first"
    )


def run(args: argparse.Namespace) -> int:
    from fourtop.jobs.execute import run_unit
    from fourtop.train.params import NetworkParams, read_params
    from fourtop.variables import read_varlist

    if args.job_dir is None and len(args.names) > 1:
        raise JobFolderError(f"{len(args.names)} job names given: several jobs need --job-dir")
    params = read_params(args.params)
    NetworkParams.from_dict(params)  # bad parameters: one clear error before any work
    variables = read_varlist(args.varlist)
    arrays = Path(args.arrays) if args.arrays else None
    if arrays is not None and not arrays.exists():
        raise DataError(f"{arrays}: arrays file not found")
    if arrays is not None and not arrays.is_file():
        raise DataError(f"{arrays}: is a folder, not an arrays file (a cache file)")
    results = run_unit(
        args.names,
        job_dir=Path(args.job_dir) if args.job_dir else None,
        variables=variables,
        year=args.year,
        config_path=Path(args.config) if args.config else None,
        params=params,
        random_seed=args.random_seed,
        arrays_path=arrays,
        device=args.device,
    )
    failed = {
        name: v if v.startswith(name) else f"{name}: {v}"
        for name, v in results.items()
        if isinstance(v, str)
    }
    if args.job_dir is None:
        (name,) = args.names
        if name in failed:
            raise TrainingError(failed[name])
        out.print(f"ROC-integral: {results[name]!r}", markup=False, soft_wrap=True)
        return 0
    if len(failed) == len(results) == 1:
        raise TrainingError(next(iter(failed.values())))
    for reason in failed.values():
        alert(f"fourtop run-job: failed: {reason}")
    if failed:
        reasons = {v.split(": ", 1)[-1] for v in failed.values()}
        common = f": {reasons.pop()}" if len(reasons) == 1 else ""
        raise JobsFailed(f"{len(failed)} of {len(results)} jobs failed{common}")
    return 0
