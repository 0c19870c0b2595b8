"""Failed jobs again: ``fourtop submit -r`` as a library.

Each folder's failed jobs (and, on request, unstarted or held ones) run again with the
folder's own first-submission settings (:mod:`fourtop.jobs.settings`), so a resubmitted job
trains exactly as its seed family did; a compacted spec's failed jobs are first moved back
into a job folder. Each folder's lock is held while its jobs are chosen and run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fourtop.backends import Backend, sync_folder
from fourtop.errors import BackendError, FourtopError, JobFolderError
from fourtop.jobs.folder import JobFolder
from fourtop.jobs.importing import import_command
from fourtop.jobs.job import Job
from fourtop.jobs.layout import SETTINGS_FILE, SPEC_SUFFIX
from fourtop.jobs.requests import LogReporter, Reporter, ResubmitRequest, SubmitOutcome
from fourtop.jobs.running import (
    check_data,
    check_device,
    clear_attempt,
    open_backend,
    run_jobs,
    run_settings,
    write_job_files,
)
from fourtop.jobs.settings import load_settings, save_settings
from fourtop.jobs.tasks import RunSettings

__all__ = ["resubmit", "resubmit_list"]

log = logging.getLogger(__name__)


def resubmit(request: ResubmitRequest, reporter: Reporter | None = None) -> list[SubmitOutcome]:
    """Resubmit the failed jobs of each folder of ``request.folders``.

    A compacted spec's failed jobs are first moved back into a job folder. Each folder's
    lock is held while its jobs are chosen and run.

    Raises:
        FourtopError: a folder is missing or has no spec, the backend or an option is
            unusable, or the folder's settings are unreadable or missing.
    """
    reporter = reporter or LogReporter()
    backend = open_backend(request)
    paths = [Path(p) for p in request.folders]
    if not paths:
        raise JobFolderError("no job folders given and none named condor_log* here")
    for path in paths:  # every input checked before any job runs
        if not path.exists() and not path.with_name(path.name + SPEC_SUFFIX).is_file():
            raise JobFolderError(f"{path}: no such job folder")
    _check_backend_first(backend, request)
    outcomes = []
    for path in paths:
        folder: JobFolder | None = JobFolder(str(path))
        if folder is not None and folder.compacted:
            folder = _reopen_compacted(folder, path, reporter)
        if folder is None:
            continue
        if folder.jobs is None:
            raise JobFolderError(
                f"{path}: has no spec file; import it first with '{import_command(path)}'"
            )
        with folder.lock(what="fourtop submit -r"):
            outcomes.append(_resubmit_folder(request, backend, folder, path, reporter))
    return outcomes


def _check_backend_first(backend: Backend, request: ResubmitRequest) -> None:
    """The backend's tools and options, before a compacted spec is split or a job touched.

    The folder's own settings are not known yet: what fails for want of them (a dataset key)
    is checked again, with them, before the folder's jobs run.
    """
    probe = RunSettings(
        year=request.year or "2017",
        varlist=[],
        config=Path(request.config) if request.config else None,
        device=request.device,
        options=dict(request.options),
    )
    try:
        backend.check(probe)
    except BackendError:
        raise
    except FourtopError as err:
        log.debug("backend check deferred until the folder's settings are known: %s", err)


def _reopen_compacted(folder: JobFolder, path: Path, reporter: Reporter) -> JobFolder | None:
    """A compacted spec with failed jobs: move them into a job folder to resubmit them."""
    failed = folder.get_resubmit_list()
    if not failed:
        extracted = Path(str(folder.path).removesuffix(SPEC_SUFFIX))
        earlier = (
            f"; failed jobs moved out earlier are in {extracted}: resubmit that folder"
            if extracted.is_dir()
            else ""
        )
        reporter.note(f"{path}: compacted, no failed job left in it; nothing to resubmit{earlier}")
        return None
    with folder.lock(what="fourtop submit -r"):
        restored = folder.extract_failed()
    reporter.note(
        f"{path}: compacted with {len(failed)} failed job(s); moved them into the job folder "
        f"{restored.path} to resubmit them"
    )
    return restored


def _resubmit_folder(
    request: ResubmitRequest, backend: Backend, folder: JobFolder, path: Path, reporter: Reporter
) -> SubmitOutcome:
    sync_folder(folder.path)
    folder.check()
    unreadable = folder.unreadable_jobs
    if unreadable:
        reporter.warn(
            f"{path}: {len(unreadable)} job(s) have files this user cannot read "
            f"(e.g. {unreadable[0].name}: {unreadable[0].reason}); they are not resubmitted"
        )
    jobs = resubmit_list(folder, request.include_unstarted, backend.capabilities.holds)
    if not jobs:
        unstarted = len(folder.unstarted_jobs)
        hint = (
            f" ({unstarted} job(s) have not started, e.g. after an interrupted run: "
            "--include-unstarted resubmits them)"
            if unstarted and not request.include_unstarted
            else ""
        )
        reporter.note(f"{path}: nothing to resubmit{hint}")
        return SubmitOutcome(folder.path)
    varlist = list(jobs[0].seed.variables)
    saved = load_settings(folder.path)
    if saved is None:
        saved = _settings_not_saved(request, path, reporter)
    settings = run_settings(request, varlist, saved, reporter)
    backend.check(settings)
    check_device(settings, backend)
    check_data(settings, backend)
    save_settings(folder.path, settings)  # only writes when the folder has none
    clear_attempt(folder, jobs)
    write_job_files(folder, jobs, settings, backend)
    reporter.note(f"{path}: resubmitting {len(jobs)} job(s)")
    return run_jobs(backend, folder, jobs, settings, reporter, yes=request.yes)


def _settings_not_saved(request: ResubmitRequest, path: Path, reporter: Reporter) -> dict:
    """No ``fourtop-submit.json``: the user must say how the folder's jobs were trained."""
    if request.year is None or request.params is None:
        raise JobFolderError(
            f"{path}: has no {SETTINGS_FILE} (how its jobs were first trained), so resubmitted "
            "jobs could train differently from their seed families; pass the first "
            "submission's settings explicitly: -y YEAR and --epochs N or --params JSON "
            "(and --random-seed S if it had one)"
        )
    reporter.warn(
        f"{path}: no {SETTINGS_FILE}; resubmitting with the settings given now "
        f"(they must match the first submission's); saved to {SETTINGS_FILE} for next time"
    )
    return {}


def resubmit_list(folder: JobFolder, include_unstarted: bool, include_held: bool) -> list[Job]:
    """The jobs ``submit -r`` runs again: failed ones, and unstarted or held ones on request;
    never a job with a result or one whose files cannot be read."""
    chosen: dict[str, Job] = {}
    for job in folder.get_resubmit_list():
        chosen[job.name] = job
    if include_unstarted:
        for job in folder.unstarted_jobs:
            chosen.setdefault(job.name, job)
    if include_held:
        for job in folder.held_jobs:
            chosen.setdefault(job.name, job)
    return [j for j in chosen.values() if not j.has_result and j.state != "unreadable"]
