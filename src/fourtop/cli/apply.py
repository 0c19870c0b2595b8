"""``fourtop apply``: score every ntuple of a dataset with a final folder's models.

The workflow is :func:`fourtop.apply.apply`; this module parses the options and prints what
the library reports. See docs/apply.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from fourtop.cli._common import (
    add_config,
    add_verbose,
    add_yes,
    backend_options,
    confirm,
    nonempty,
    positive_int,
)
from fourtop.cli._console import console, out, say
from fourtop.cli._progress import PlainProgress, spinner, use_terminal_progress
from fourtop.errors import DataError

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
    )
    outcome = apply(request, ApplyReporter(args.yes))
    _report(outcome)
    if outcome.failed:
        total = len(outcome.plan.files) if outcome.plan else len(outcome.failed)
        more = len(outcome.failed) - 1
        raise DataError(
            f"{len(outcome.failed)} of {total} file(s) failed: {outcome.failed[0][1]}"
            + (f" (and {more} more, listed above)" if more else "")
        )
    return 0


def _report(outcome: ApplyOutcome) -> None:
    for _, reason in outcome.failed[:20] if len(outcome.failed) > 1 else ():
        say(f"  failed: {reason}")
    if len(outcome.failed) > 20:
        say(f"  ... and {len(outcome.failed) - 20} more (see {outcome.output_dir}/jobs/*.err)")
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
        from rich.markup import escape
        from rich.table import Table

        grid = Table(title="Selected events per sample", title_justify="left")
        for name, just in (("sample", "left"), ("kind", "left"), ("events", "right"),
                           ("weighted", "right")):  # fmt: skip
            grid.add_column(name, justify=just)  # type: ignore[arg-type]
        for h in outcome.hists:
            grid.add_row(escape(h.name), h.kind, f"{h.entries:,}", f"{h.total:.4g}")
        out.print(grid)
    out.print(f"Outputs: {outcome.output_dir}", markup=False, soft_wrap=True)
    for path in outcome.hist_files:
        out.print(f"  {path}", markup=False, soft_wrap=True)


class ApplyReporter:
    """Prints what the apply workflow reports (``fourtop.jobs.requests.Reporter``)."""

    def __init__(self, yes: bool) -> None:
        self.yes = yes

    def note(self, message: str) -> None:
        say(message)

    def warn(self, message: str) -> None:
        say(f"warning: {message}")

    def status(self, message: str) -> AbstractContextManager[object]:
        return spinner(message)

    def progress(self, total: int) -> AbstractContextManager[ProgressCallback]:
        return _file_progress(total)

    def failures(self, failed: Sequence[tuple[str, str]]) -> None:
        for _, reason in failed:
            say(f"  failed: {reason}")

    def confirm(self, question: str) -> bool:
        return confirm(question, yes=self.yes)


@contextmanager
def _file_progress(total: int) -> Iterator[ProgressCallback]:
    """A bar where a person watches; plain lines in logs, CI and pipes."""
    if not use_terminal_progress():
        plain = PlainProgress(total, "scoring", unit="files")
        yield lambda done, failed: plain.update(len(done), len(failed))
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files, {task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("files", total=total, failed=0)
        failures = [0]

        def progress(done: Sequence[str], failed: Sequence[str]) -> None:
            failures[0] += len(failed)
            bar.update(task, advance=len(done) + len(failed), failed=failures[0])

        yield progress
