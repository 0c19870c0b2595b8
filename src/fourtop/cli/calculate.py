"""``fourtop calculate``: variable importance from the results of job folders.

Options as the original ``calculate.py``: ``-v``, ``-f output_folder``,
``-o importance|freq|sum|mean|rms``, ``--sort-increasing`` and the folders (default: the
``condor_log*`` folders and ``.jtd`` files of the working directory).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from fourtop.cli._common import (
    add_config,
    add_json,
    add_plot_format,
    add_verbose,
    add_yes,
    confirm,
    default_folders,
    nonempty,
    positive_int,
    print_json,
)
from fourtop.cli._console import alert, out
from fourtop.cli._progress import step

if TYPE_CHECKING:
    from fourtop.importance.ranking import Ranking
    from fourtop.importance.stability import Stability

HELP = "compute variable importance from finished jobs and write the result files"

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


#: --target-width's default (fourtop.importance.stability.DEFAULT_TARGET_WIDTH)
DEFAULT_TARGET_WIDTH = 2.0


def target_width(text: str) -> float:
    """argparse type of ``--target-width``: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"{text}: must be a number above 0 (the widest 68% rank interval that counts as "
            f"stable; the default is {DEFAULT_TARGET_WIDTH:g})"
        )
    return value


def add_target_width(parser: argparse.ArgumentParser, help_extra: str = "") -> None:
    parser.add_argument(
        "--target-width",
        type=target_width,
        default=DEFAULT_TARGET_WIDTH,
        metavar="W",
        help="the widest 68%% rank interval (hi - lo) of a top variable that counts as stable "
        f"(default {DEFAULT_TARGET_WIDTH:g}){help_extra}",
    )


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
    parser.add_argument("--no-plots", action="store_true", help="do not draw the plots")
    add_plot_format(parser)
    parser.add_argument(
        "--top",
        type=positive_int,
        default=20,
        metavar="K",
        help="rows of the ranking shown (default 20)",
    )
    add_target_width(parser, "; calculate estimates the seeds that make the top 10 so")
    add_yes(parser)
    add_config(parser)
    add_json(parser, "the ranking with its uncertainties and stability, and the files written")
    parser.add_argument(
        "folders",
        nargs="*",
        type=nonempty,
        metavar="folder",
        help="job folders and compacted .jtd files (default: condor_log* in the working directory)",
    )


def run(args: argparse.Namespace) -> int:
    from fourtop.importance import (
        calculate,
        collect_results,
        import_question,
        open_folders,
        prepare_calculation,
        ranking,
        unreadable_jobs,
    )

    request = prepare_calculation(  # before any folder is read (an import writes a spec)
        [Path(p) for p in args.folders] or default_folders(),
        sort_key=args.sort_order,
        output_folder=args.output_folder,
        config=args.config,
    )
    with step("reading job folders"):
        folders = open_folders(
            request.paths, import_prompt=lambda p: confirm(import_question(p), yes=args.yes)
        )
        results = collect_results(folders)
    unreadable = unreadable_jobs(folders)
    if unreadable:
        folder, job = unreadable[0]
        alert(
            f"warning: {len(unreadable)} job(s) have files this user cannot read and are left "
            f"out (e.g. {job.name} in {folder.path}: {job.reason}); see 'fourtop folders -v'"
        )
    with step("computing importance"):
        result = calculate(
            results,
            request.output,
            sort_key=args.sort_order,
            increasing=args.sort_increasing,
            weight=request.weight,
            cut=request.cut,
            folders=[f.path for f in folders],
            n_boot=args.bootstrap,
            plots=not args.no_plots,
            plot_formats=args.plot_format,
            target_width=args.target_width,
        )
    if args.json:
        _json(request.output, result.files)
        return 0
    _report(
        ranking(result, sort_key=args.sort_order, increasing=args.sort_increasing, top=args.top),
        result.stability,
    )
    return 0


def _json(output: Path, files: dict[str, Path]) -> None:
    """``--json``: the output folder and files, then ``VariableImportance_<N>vars.json``'s keys
    (fourtop/schemas/calculate.schema.json)."""
    import json

    doc = json.loads(files["json"].read_text(encoding="utf-8"))
    print_json(
        "calculate",
        {
            "output_folder": str(output),
            "files": {kind: str(path) for kind, path in files.items()},
            **doc,
        },
    )


def report_stability(stability: Stability) -> None:
    """Print the stability section: the top variables' rank intervals and the verdict."""
    from fourtop.cli._tables import print_table
    from fourtop.importance.ranking import STABILITY_COLUMNS, stability_view

    view = stability_view(stability)
    if view.rows:
        out.print(view.title, markup=False, soft_wrap=True)
        columns = list(STABILITY_COLUMNS[:-1])
        if view.predicted_at is not None:
            columns.append((f"at {view.predicted_at} seeds", STABILITY_COLUMNS[-1][1]))
        rows = [cells[: len(columns)] for cells in view.rows]
        print_table(out, columns, rows, optional=[name for name, _ in columns[3:]])
    out.print(view.verdict, markup=False, soft_wrap=True)


#: the ranking's columns left out first when the terminal is narrow (all are in the files)
_OPTIONAL = ("n", "freq", "mean ± sem", "68% interval")


def _report(shown: Ranking, stability: Stability | None = None) -> None:
    from rich.markup import escape

    from fourtop.cli._tables import print_table
    from fourtop.importance.ranking import COLUMNS

    print_table(out, COLUMNS, shown.rows, title=shown.title, optional=_OPTIONAL)
    if shown.more:
        out.print(f"... {shown.more} more tested variables in the results file")
    if shown.never_tested:
        out.print(
            f"[bold]Never tested[/bold] ({len(shown.never_tested)}): "
            + escape(", ".join(shown.never_tested)),
            soft_wrap=True,
        )
    if shown.undefined:
        out.print(
            "[bold]Importance undefined[/bold] (one difference or RMS 0; set to 0): "
            + escape(", ".join(shown.undefined)),
            soft_wrap=True,
        )
    if shown.skipped:
        out.print("Skipped: " + "; ".join(shown.skipped))
    if stability is not None:
        report_stability(stability)
    out.print("Files:")
    for path in shown.files:
        out.print(f"  {path}", markup=False, soft_wrap=True)
