"""Running or submitting a job folder's jobs on a backend, and retrying the failed ones.

Shared by :mod:`fourtop.jobs.submission` (new jobs) and :mod:`fourtop.jobs.resubmission`
(failed jobs again): the run settings of a request, the job files, the retry loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fourtop.backends import Backend, get_backend
from fourtop.backends.base import SubmitReport
from fourtop.errors import DataError, JobFolderError, ParameterError
from fourtop.fileio import atomic_write_text, describe_os_error
from fourtop.jobs.folder import JobFolder
from fourtop.jobs.job import Job
from fourtop.jobs.layout import SETTINGS_FILE, VARLIST_FILE
from fourtop.jobs.requests import Reporter, SubmitOutcome, TrainingRequest
from fourtop.jobs.settings import merge_settings
from fourtop.jobs.tasks import RunSettings, get_task_kind
from fourtop.splits import Split

__all__ = [
    "check_data",
    "check_device",
    "clear_attempt",
    "open_backend",
    "run_jobs",
    "run_settings",
    "write_job_files",
]


def run_settings(
    request: TrainingRequest,
    varlist: list[str],
    saved: dict[str, Any],
    reporter: Reporter,
    *,
    folder: str | None = None,
) -> RunSettings:
    """The run settings; ``saved`` (the folder's first submission) fills in the training
    settings not given now, so a resubmitted job matches its seed family.

    A setting given now that differs from the folder's is refused when new seeds are added
    to ``folder`` (every seed of a folder trains alike: ``calculate`` compares them), and
    only warned about on a resubmission (``folder`` None).

    Raises:
        ParameterError: new seeds for ``folder`` with settings that differ from its own.
    """
    config = Path(request.config).resolve() if request.config else None
    given = {
        "year": request.year,
        "config": str(config) if config else None,
        "params": request.params,
        "random_seed": request.random_seed,
    }
    merged, differences = merge_settings(given, saved)
    if differences and folder is not None:
        raise ParameterError(
            f"{folder}: {differences[0]}; every seed of a folder trains alike (calculate "
            "compares them): leave the option out to use the folder's settings "
            f"({SETTINGS_FILE}), or submit into a new folder"
        )
    for difference in differences:
        reporter.warn(
            f"{difference}: differs from the folder's first submission; resubmitted jobs "
            "will not match their seed families"
        )
    return RunSettings(
        year=merged["year"] or "2017",
        varlist=varlist,
        config=Path(merged["config"]) if merged["config"] else None,
        params=merged["params"],
        processes=request.processes,
        random_seed=merged["random_seed"],
        families=request.families,
        device=request.device,
        options=dict(request.options),
        task=request.task,
    )


def open_backend(request: TrainingRequest) -> Backend:
    """The request's backend (an unknown name or a bad ``-p`` is refused here, first)."""
    if request.processes < 1:
        raise ParameterError(f"-p must be at least 1, got {request.processes}")
    return get_backend(request.backend)  # fail fast on an unknown backend


def check_device(settings: RunSettings, backend: Backend) -> None:
    """``--device cuda`` on a backend that runs jobs here needs a GPU here."""
    if not backend.capabilities.runs_here or settings.device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise ParameterError("--device cuda: no CUDA device is available on this machine")


def check_data(settings: RunSettings, backend: Backend, split: Split = Split.IMPORTANCE) -> None:
    """The dataset key must be in the configuration, and (jobs that run here) its ntuples of
    ``split`` must exist, before any job is touched.

    Raises:
        ConfigError: an unknown dataset key.
        DataError: an ntuple file that does not exist.
    """
    from fourtop.data.config import load_config

    files = load_config(settings.config).files(settings.year, split)
    if not backend.capabilities.runs_here:
        return  # a batch node may see other files
    what = split.name.lower().replace("_", " ")
    for path in (*files.signal, *files.background):
        if not path.is_file():
            raise DataError(f"{path}: ntuple not found (dataset {settings.year}, {what} split)")


def write_job_files(
    folder: JobFolder, jobs: Sequence[Job], settings: RunSettings, backend: Backend
) -> list[Path]:
    """Write every job's ``.job`` file (atomically) and what the task kind's units read
    (the variable list); returns the new files (to remove again if what follows fails).

    A ``.job`` file is the job's HTCondor submit description, as in the original tool,
    whatever the backend: it carries the ``--option`` settings only when they are HTCondor's.
    """
    from fourtop.backends.condor_submitfile import render_job_file
    from fourtop.backends.options import CondorOptions

    if backend.options is not CondorOptions:  # another scheduler's options: not for HTCondor
        settings = replace(settings, options={})

    written: list[Path] = []
    try:
        varlist = Path(folder.path, VARLIST_FILE)
        had_varlist = varlist.exists()
        get_task_kind(settings.task).prepare(Path(folder.path), settings)
        if not had_varlist and varlist.exists():
            written.append(varlist)
        for job in jobs:
            path = Path(folder.path, f"{job.name}.job")
            existed = path.exists()
            atomic_write_text(
                path, render_job_file(job.name, settings, Path(folder.path)), what="job file"
            )
            if not existed:
                written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


# ---------------------------------------------------------------- running and retrying


def run_jobs(
    backend: Backend,
    folder: JobFolder,
    jobs: Sequence[Job],
    settings: RunSettings,
    reporter: Reporter,
    *,
    yes: bool = False,
) -> SubmitOutcome:
    """Run or submit ``jobs`` on ``backend``; offer to retry the failed ones.

    With ``yes`` one unattended retry round is made, then the jobs still failed are
    reported (``fourtop submit -r`` resubmits them).
    """
    kind = get_task_kind(settings.task)
    report = _submit_units(backend, folder, kind.units(jobs, settings), settings, reporter)
    while report.failed:
        failed_names = {name for name, _ in report.failed}
        reporter.failures(report.failed)
        verb = "run" if report.finished else "submission"
        if not yes and not reporter.confirm(
            f"{len(failed_names)} job {verb}(s) failed. Retry them now?"
        ):
            break
        again = [j for j in jobs if j.name in failed_names]
        clear_attempt(folder, again)
        report = _submit_units(backend, folder, kind.units(again, settings), settings, reporter)
        if yes and report.failed:  # one unattended retry round, then report
            reporter.failures(report.failed)
            reporter.warn(
                f"{len(report.failed)} job(s) still failed after the retry; "
                "'fourtop submit -r' resubmits them"
            )
            break
    folder.check()
    folder.save()
    stats = folder.get_stats()
    reporter.note(
        f"{folder.path}: {stats.jobs} jobs, {stats.finished_jobs} finished, "
        f"{stats.failed_jobs} failed, {stats.unstarted_jobs} unstarted"
    )
    return SubmitOutcome(folder.path, stats, list(report.failed))


def _submit_units(
    backend: Backend,
    folder: JobFolder,
    units: list[Any],
    settings: RunSettings,
    reporter: Reporter,
) -> SubmitReport:
    if not backend.capabilities.waits:
        report = backend.submit(folder, units, settings)
        reporter.note(
            f"submitted {len(report.submitted)} job(s) in {len(units)} unit(s) to {backend.name}"
            + (f"; {len(report.failed)} failed to submit" if report.failed else "")
        )
        return report
    with reporter.progress(sum(len(u.names) for u in units)) as progress:
        return backend.submit(folder, units, settings, progress)


def clear_attempt(folder: JobFolder, jobs: Sequence[Job]) -> None:
    """Remove a failed attempt's output (never a result) before running again.

    The ``.log`` is kept: the next submission appends to it (as HTCondor does), and the
    tracker reads a job's state from the events after its last submission.
    """
    for job in jobs:
        for ext in (".out", ".err"):
            path = Path(folder.path, job.name + ext)
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise JobFolderError(
                    f"cannot remove a failed attempt's output {describe_os_error(exc, path)}"
                ) from None
