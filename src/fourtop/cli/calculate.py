"""``fourtop calculate``: variable importance from the results of job folders.

Options as the original ``calculate.py``: ``-v``, ``-f output_folder``,
``-o importance|freq|sum|mean|rms``, ``--sort-increasing`` and the folders (default: the
``condor_log*`` folders and ``.jtd`` files of the working directory).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from pathlib import Path

from fourtop.cli._common import (
    add_config,
    add_verbose,
    add_yes,
    confirm,
    console,
    default_folders,
    nonempty,
    out,
    positive_int,
    use_terminal_progress,
)
from fourtop.errors import JobFolderError, OutputError, ResultsError, did_you_mean
from fourtop.jobs.layout import VARLIST_FILE

HELP = "compute variable importance from finished jobs and write the result files"

log = logging.getLogger(__name__)

#: most --bootstrap replicates (fourtop.importance.stats.MAX_BOOTSTRAP, without importing numpy)
MAX_BOOTSTRAP = 100_000


def bootstrap_count(text: str) -> int:
    """argparse type of ``--bootstrap``: a whole number from 0 to :data:`MAX_BOOTSTRAP`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= MAX_BOOTSTRAP:
        raise argparse.ArgumentTypeError(
            f"{value}: the number of replicates must be 0 to {MAX_BOOTSTRAP} (the default is 1000)"
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_verbose(parser)
    parser.add_argument(
        "-f",
        dest="output_folder",
        metavar="output_folder",
        default=None,
        help="folder for the result files (default dataset_<day>.<Mon>.<year>)",
    )
    parser.add_argument(
        "-o",
        dest="sort_order",
        metavar="sort_order",
        default="importance",
        help="sort the variables by importance (default), freq, sum, mean or rms; descending",
    )
    parser.add_argument(
        "--sort-increasing", action="store_true", help="sort in increasing order instead"
    )
    parser.add_argument(
        "--bootstrap",
        type=bootstrap_count,
        default=1000,
        metavar="N",
        help=f"bootstrap replicates over seeds for the intervals (default 1000; 0 to skip; "
        f"at most {MAX_BOOTSTRAP})",
    )
    parser.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    parser.add_argument(
        "--top",
        type=positive_int,
        default=20,
        metavar="K",
        help="rows of the ranking shown (default 20)",
    )
    add_yes(parser)
    add_config(parser)
    parser.add_argument(
        "folders",
        nargs="*",
        type=nonempty,
        metavar="folder",
        help="job folders and compacted .jtd files (default: condor_log* in the working directory)",
    )


def _weight_and_cut(config: str | None) -> tuple[str, str]:
    try:
        from fourtop.data.config import load_config
    except ImportError:  # the data package is optional for reading results
        log.warning("dataset configuration unavailable; Weight and Cut left empty")
        return "", ""
    cfg = load_config(config)
    return cfg.weight, cfg.selection


def run(args: argparse.Namespace) -> int:
    from fourtop import naming
    from fourtop.importance import SORT_KEYS, calculate, collect_results, open_folders
    from fourtop.staging import check_output_folder
    from fourtop.variables import default_variables

    if args.sort_order not in SORT_KEYS:
        raise ResultsError(
            f"unknown sort order {args.sort_order!r} for -o: choose one of "
            f"{', '.join(SORT_KEYS)}" + did_you_mean(args.sort_order, SORT_KEYS)
        )
    if args.output_folder is not None and not args.output_folder.strip():
        raise OutputError("-f: the output folder name is empty")
    paths = [Path(p) for p in args.folders] or default_folders()
    if not paths:
        raise JobFolderError(
            f"{Path.cwd()}: no condor_log* folders or .jtd files here; name the job folders"
        )
    for p in paths:
        if not p.exists():
            raise JobFolderError(f"{p}: no such job folder or .jtd file")
    # before any folder is read (an import writes a spec): can the results be written?
    output = check_output_folder(args.output_folder or naming.default_dataset_folder_name())
    weight, cut = _weight_and_cut(args.config)
    nvars = len(default_variables())

    def ask(path: Path) -> bool:
        own = Path(path, VARLIST_FILE)
        which = f"its {own.name}" if own.is_file() else f"the default {nvars} variables"
        return confirm(f"{path} has no spec file. Import it with {which}?", yes=args.yes)

    with _status("reading job folders"):
        folders = open_folders(paths, import_prompt=ask)
        results = collect_results(folders)
    unreadable = [(f, j) for f in folders for j in f.jobs or [] if j.state == "unreadable"]
    if unreadable:
        folder, job = unreadable[0]
        console.print(
            f"warning: {len(unreadable)} job(s) have files this user cannot read and are left "
            f"out (e.g. {job.name} in {folder.path}: {job.reason}); see 'fourtop folders -v'",
            markup=False,
            soft_wrap=True,
        )
    with _status("computing importance"):
        result = calculate(
            results,
            output,
            sort_key=args.sort_order,
            increasing=args.sort_increasing,
            weight=weight,
            cut=cut,
            folders=[f.path for f in folders],
            n_boot=args.bootstrap,
            plots=not args.no_plots,
        )
    _report(result, args)
    return 0


def _status(text: str) -> contextlib.AbstractContextManager:
    """A spinner where a person watches; in logs and CI one plain line when the step starts."""
    if use_terminal_progress():
        return console.status(text)
    console.print(f"{text} ...", markup=False, highlight=False, soft_wrap=True)
    return contextlib.nullcontext()


def _fmt_interval(pair: tuple[float, float] | None, fmt: str) -> str:
    return "" if pair is None else f"[{pair[0]:{fmt}}, {pair[1]:{fmt}}]"


def _report(result, args: argparse.Namespace) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = result.table
    counts = table.counts
    direction = "increasing" if args.sort_increasing else "decreasing"
    grid = Table(
        title=f"Variable importance, by {args.sort_order} ({direction}): "
        f"{counts['families']} seeds, {counts['differences']} differences",
        title_justify="left",
    )
    for name, just in (
        ("#", "right"),
        ("variable", "left"),
        ("freq", "right"),
        ("n", "right"),
        ("mean ± sem", "right"),
        ("importance", "right"),
        ("68% interval", "right"),
        ("rank 68%", "right"),
    ):
        grid.add_column(name, justify=just)
    for i, r in enumerate(result.rows[: args.top], 1):
        if not r.tested:
            break
        sem = f" ± {r.sem:.4f}" if r.sem is not None else ""
        imp = f"{r.importance:.3f}" + ("" if r.importance_defined else " (undefined)")
        rank = "" if r.rank_ci68 is None else f"{r.rank_ci68[0]:.0f}-{r.rank_ci68[1]:.0f}"
        grid.add_row(
            str(i),
            escape(r.name),
            str(r.freq),
            str(r.n),
            f"{r.mean:.4f}{sem}",
            imp,
            _fmt_interval(r.importance_ci68, ".2f"),
            rank,
        )
    out.print(grid)
    tested = sum(1 for r in result.rows if r.tested)
    if tested > args.top:
        out.print(f"... {tested - args.top} more tested variables in the results file")
    if table.never_tested:
        out.print(
            f"[bold]Never tested[/bold] ({len(table.never_tested)}): "
            + escape(", ".join(table.never_tested)),
            soft_wrap=True,
        )
    if table.undefined:
        out.print(
            "[bold]Importance undefined[/bold] (one difference or RMS 0; set to 0): "
            + escape(", ".join(table.undefined)),
            soft_wrap=True,
        )
    skipped = [
        f"{counts[k]} {label}"
        for k, label in (
            ("duplicates", "duplicated jobs counted once"),
            ("no_result", "jobs without a result"),
            ("orphan_subseeds", "subseed results whose seed has none"),
            ("bad_roc", "of them with a ROC integral outside [0, 1] (counted as failed)"),
        )
        if counts.get(k)
    ]
    if skipped:
        out.print("Skipped: " + "; ".join(skipped))
    out.print("Files:")
    for path in result.files.values():
        out.print(f"  {path}", markup=False, soft_wrap=True)
