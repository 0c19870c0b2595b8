"""``fourtop apply``: score every ntuple of a dataset with a final folder's models.

The workflow is :func:`fourtop.apply.apply`; this module parses the options and prints what
the library reports. See docs/apply.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from fourtop.cli._common import (
    JobsFailed,
    add_config,
    add_plot_format,
    add_verbose,
    add_yes,
    backend_options,
    nonempty,
    positive_int,
)
from fourtop.cli._console import alert, out, say
from fourtop.cli._progress import training_progress
from fourtop.cli.submit import CliReporter

if TYPE_CHECKING:
    from fourtop.apply.workflow import ApplyOutcome
    from fourtop.backends.base import ProgressCallback

HELP = "score every ntuple of a dataset with a final folder's models (friend trees or copies)"

#: what --samples selects (fourtop.apply.plan.SAMPLE_CHOICES, without importing it)
SAMPLES = ("all", "signal", "background", "extra")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add_verbose(parser)
    add("final_folder", type=nonempty, metavar="FINAL_FOLDER", help="made by fourtop final")
    add(
        "-y",
        "--year",
        type=nonempty,
        default=None,
        metavar="KEY",
        help="dataset key in the configuration (default: the one the models were trained on)",
    )
    add_config(parser)
    add(
        "-o",
        "--output",
        type=nonempty,
        default=None,
        metavar="OUTPUT_DIR",
        help="output folder (default FINAL_FOLDER/apply_KEY)",
    )
    add(
        "--copy",
        action="store_true",
        help="write a copy of each tree with the score added, not a friend tree with the score",
    )
    add("--branch", default="DNN", metavar="NAME", help="the score's branch name (default DNN)")
    add(
        "--samples",
        choices=SAMPLES,
        default="all",
        help="which files: all (default), signal, background (of every split) or extra "
        "(the configuration's [datasets.KEY.extra] samples)",
    )
    add(
        "--backend",
        default="local",
        help="where the jobs run: local (default, a process pool), condor, slurm",
    )
    add(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option, repeatable (see docs/batch.md)",
    )
    add(
        "-p",
        "--processes",
        type=positive_int,
        default=2,
        metavar="N",
        help="local backend: worker processes; SLURM: tasks at once (default 2)",
    )
    add(
        "--engine",
        choices=("onnx", "torch"),
        default="onnx",
        help="inference with ONNX Runtime (default) or PyTorch",
    )
    add(
        "--hists",
        action="store_true",
        help="also write the score histograms of every sample (ROOT file and stacked plot)",
    )
    add_plot_format(parser, "the stacked plot of --hists")
    add(
        "-r",
        "--resume",
        action="store_true",
        help="resume the earlier run in the output folder (refused if there is none); "
        "complete outputs are skipped either way",
    )
    add_yes(parser)


def run(args: argparse.Namespace) -> int:
    from fourtop.apply.workflow import ApplyRequest, apply

    request = ApplyRequest(
        final_folder=args.final_folder,
        key=args.year,
        config=args.config,
        output=args.output,
        copy=args.copy,
        branch=args.branch,
        samples=args.samples,
        backend=args.backend,
        options=backend_options(args.option),
        processes=args.processes,
        engine=args.engine,
        resume=args.resume,
        hists=args.hists,
        plot_formats=args.plot_format,
    )
    outcome = apply(request, ApplyReporter(args.yes))
    _report(outcome)
    if outcome.failed:
        total = len(outcome.plan.files) if outcome.plan else len(outcome.failed)
        more = len(outcome.failed) - 1
        raise JobsFailed(
            f"{len(outcome.failed)} of {total} file(s) failed: {outcome.failed[0][1]}"
            + (
                f" (and {more} more; every file's error: {outcome.output_dir}/jobs/*.err)"
                if more
                else ""
            )
        )
    return 0


def _report(outcome: ApplyOutcome) -> None:
    for _, reason in outcome.failed[:20] if len(outcome.failed) > 1 else ():
        alert(f"  failed: {reason}")
    if len(outcome.failed) > 20:
        alert(f"  ... and {len(outcome.failed) - 20} more (see {outcome.output_dir}/jobs/*.err)")
    if outcome.done:
        say(f"scored {len(outcome.done)} file(s), {outcome.events:,} events")
    if outcome.submitted:
        say(
            f"submitted {len(outcome.submitted)} job(s); when they are done, run the same "
            "command again: complete outputs are skipped, the rest are retried"
        )
    if outcome.hists_skipped:
        say(f"no histograms: {outcome.hists_skipped}")
    if outcome.hists:
        from fourtop.cli._tables import print_table

        columns = [("sample", "left"), ("kind", "left"), ("events", "right"), ("weighted", "right")]
        rows = [[h.name, h.kind, f"{h.entries:,}", f"{h.total:.4g}"] for h in outcome.hists]
        print_table(out, columns, rows, title="Selected events per sample")
    out.print(f"Outputs: {outcome.output_dir}", markup=False, soft_wrap=True)
    for path in outcome.hist_files:
        out.print(f"  {path}", markup=False, soft_wrap=True)


class ApplyReporter(CliReporter):
    """Prints what the apply workflow reports: a bar over files, a line per failed file."""

    def progress(self, total: int) -> AbstractContextManager[ProgressCallback]:
        return training_progress(total, "scoring", "files")

    def failures(self, failed: Sequence[tuple[str, str]], limit: int = 10) -> None:
        for _, reason in failed[:limit]:
            alert(f"  failed: {reason}")
        if len(failed) > limit:
            alert(f"  ... and {len(failed) - limit} more")
