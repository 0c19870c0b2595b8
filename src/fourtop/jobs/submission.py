"""Submitting jobs: create a folder, draw seeds, write job files, submit; select and resubmit.

What ``fourtop submit`` does, as a library: :func:`submit` draws new seeds into a new or
existing job folder and runs or submits their jobs; :func:`resubmit` takes each folder's
failed jobs (and, on request, unstarted or held ones) and runs them again with the
folder's own settings (:mod:`fourtop.jobs.settings`). Both hold the folder's lock while
they change which jobs exist or run. The library never prints: it tells a
:class:`Reporter` what happens (the command line prints it; :class:`LogReporter` logs it).
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fourtop.backends import Backend, get_backend, sync_folder
from fourtop.backends.base import ProgressCallback, SubmitReport
from fourtop.errors import JobFolderError, ParameterError
from fourtop.fileio import atomic_write_text, describe_os_error
from fourtop.jobs.folder import FolderStats, JobFolder
from fourtop.jobs.importing import import_command
from fourtop.jobs.job import Job
from fourtop.jobs.layout import SETTINGS_FILE, SPEC_SUFFIX, VARLIST_FILE
from fourtop.jobs.names import job_name
from fourtop.jobs.settings import load_settings, merge_settings, save_settings
from fourtop.jobs.tasks import RunSettings, get_task_kind
from fourtop.splits import Split

if TYPE_CHECKING:
    from fourtop.data.config import DatasetConfig

__all__ = [
    "LogReporter",
    "Reporter",
    "ResubmitRequest",
    "SubmitOutcome",
    "SubmitRequest",
    "network_params",
    "resubmit",
    "resubmit_list",
    "submit",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- requests and outcomes


@dataclass
class _Training:
    """Settings shared by a submission and a resubmission (``None``: not given)."""

    year: str | None = None
    config: str | None = None
    params: dict[str, Any] | None = None
    random_seed: int | None = None
    processes: int = 2
    families: bool = True
    device: str = "auto"
    options: dict[str, str] = field(default_factory=dict)
    backend: str = "local"
    #: answer yes to the retry question (one unattended retry round)
    yes: bool = False


@dataclass
class SubmitRequest(_Training):
    """What ``fourtop submit`` asks for (the command's options)."""

    varlist: str = "all"
    seeds: int = 500
    test: bool = False
    correlation: float = 80.0  # percent
    folder: str | None = None


@dataclass
class ResubmitRequest(_Training):
    """What ``fourtop submit -r`` asks for."""

    folders: list[str] = field(default_factory=list)
    include_unstarted: bool = False


@dataclass
class SubmitOutcome:
    """What a submission left: the folder, its job counts, and the jobs that failed."""

    folder: str
    stats: FolderStats | None = None
    failed: list[tuple[str, str]] = field(default_factory=list)


class Reporter(Protocol):
    """How the library tells its caller what happens (the command line prints it)."""

    def note(self, message: str) -> None:
        """Something the user should see (a folder made, jobs submitted)."""

    def warn(self, message: str) -> None:
        """Something the user should fix or know is unusual."""

    def status(self, message: str) -> AbstractContextManager[None]:
        """A slow step under way (e.g. loading the data for the correlation matrix)."""

    def progress(self, total: int) -> AbstractContextManager[ProgressCallback]:
        """Progress of ``total`` jobs run by a backend that waits for them."""

    def failures(self, failed: Sequence[tuple[str, str]]) -> None:
        """The jobs that failed and why."""

    def confirm(self, question: str) -> bool:
        """A yes/no question (retry the failed jobs?)."""


class LogReporter:
    """A :class:`Reporter` for library users: logs everything, never retries."""

    def note(self, message: str) -> None:
        log.info("%s", message)

    def warn(self, message: str) -> None:
        log.warning("%s", message)

    def status(self, message: str) -> AbstractContextManager[None]:
        log.info("%s", message)
        return nullcontext()

    @contextmanager
    def progress(self, total: int) -> Iterator[ProgressCallback]:
        yield lambda done, failed: None

    def failures(self, failed: Sequence[tuple[str, str]]) -> None:
        for name, reason in failed:
            log.warning("failed: %s: %s", name, reason)

    def confirm(self, question: str) -> bool:
        return False


def network_params(params: dict[str, Any] | None, epochs: int | None) -> dict[str, Any] | None:
    """The network parameters of ``--params`` with ``--epochs`` over them, checked
    (None: the original network)."""
    from fourtop.train.params import NetworkParams

    values = dict(params or {})
    if epochs is not None:
        values["epochs"] = epochs
    if not values:
        return None
    return NetworkParams.from_dict(values).to_dict()  # validates


def _run_settings(
    request: _Training, varlist: list[str], saved: dict[str, Any], reporter: Reporter
) -> RunSettings:
    """The run settings; ``saved`` (the folder's first submission) fills in the training
    settings not given now, so a resubmitted job matches its seed family."""
    config = Path(request.config).resolve() if request.config else None
    given = {
        "year": request.year,
        "config": str(config) if config else None,
        "params": request.params,
        "random_seed": request.random_seed,
    }
    merged, warnings = merge_settings(given, saved)
    for warning in warnings:
        reporter.warn(warning)
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
    )


def _backend(request: _Training) -> Backend:
    if request.processes < 1:
        raise ParameterError(f"-p must be at least 1, got {request.processes}")
    return get_backend(request.backend)  # fail fast on an unknown backend


def _check_device(settings: RunSettings, backend: Backend) -> None:
    """``--device cuda`` on a backend that runs jobs here needs a GPU here."""
    if not backend.capabilities.runs_here or settings.device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise ParameterError("--device cuda: no CUDA device is available on this machine")


# ---------------------------------------------------------------- submit


def submit(request: SubmitRequest, reporter: Reporter | None = None) -> SubmitOutcome:
    """Draw ``request.seeds`` new seeds into a new or existing job folder and run or submit
    their jobs (a seed job and one job per subseed each).

    Every input is checked before any folder is made; a folder this call made and could
    not fill is removed again.

    Raises:
        FourtopError: a bad request (the message says which option), an unusable backend,
            or the folder cannot be written.
    """
    import numpy as np

    from fourtop.data.config import load_config
    from fourtop.jobs.draw import draw_seeds
    from fourtop.variables import check_known, read_varlist

    reporter = reporter or LogReporter()
    backend = _backend(request)
    if request.seeds < 1:
        raise ParameterError(f"-n must be at least 1, got {request.seeds}")
    if not 0 <= request.correlation <= 100:
        raise ParameterError(f"-c must be a percentage in [0, 100], got {request.correlation:g}")
    varlist = read_varlist(request.varlist)
    config = load_config(request.config)
    check_known(varlist, config.variable_names(), request.varlist)
    target = request.folder
    if target is not None and Path(target).is_file() and Path(target).suffix != SPEC_SUFFIX:
        raise JobFolderError(f"{target}: exists and is not a job folder")
    saved = load_settings(Path(target)) if target and Path(target).is_dir() else None
    settings = _run_settings(request, varlist, saved or {}, reporter)  # a folder's settings
    backend.check(settings)  # an unusable backend or option: refused before any folder exists
    _check_device(settings, backend)
    config.files(settings.year, Split.IMPORTANCE)  # an unknown key: refused before any folder
    rng = np.random.default_rng(settings.random_seed)
    groups = _correlated(config, settings.year, varlist, request.correlation / 100.0, reporter)
    for group in groups:
        reporter.note(f"correlated group (|r| >= {request.correlation:g}%): {', '.join(group)}")

    created = target is None or not Path(target).exists()
    folder = _open_or_create(target, len(varlist))
    try:
        with folder.lock(what="fourtop submit"):
            existing = [j.seed for j in folder.jobs or [] if j.subseed is None]
            n = 1 if request.test else request.seeds
            _check_seed_count(n, len(varlist), len(existing))
            seeds = draw_seeds(varlist, n, rng, groups, exclude=existing)
            jobs: list[Job] = []
            for seed in seeds:
                jobs.append(Job(folder.path, job_name(len(varlist), seed, None), seed, None))
                if not request.test:
                    for sub in seed.subseeds():
                        jobs.append(Job(folder.path, job_name(len(varlist), seed, sub), seed, sub))
            _create_jobs(folder, jobs, settings)
            created = False  # the folder holds registered jobs now: never removed below
            reporter.note(
                f"{folder.path}: {len(seeds)} seed(s), {len(jobs)} job(s) over "
                f"{len(varlist)} variables"
            )
            return run_jobs(backend, folder, jobs, settings, reporter, yes=request.yes)
    except BaseException:
        if created:  # a folder this run made and could not fill: leave nothing behind
            shutil.rmtree(folder.path, ignore_errors=True)
        raise


def _check_seed_count(n: int, nvars: int, existing: int) -> None:
    """Refuse at once more seeds than distinct ones exist (>= 2 of ``nvars`` variables)."""
    from fourtop.jobs.draw import MIN_INCLUDED

    possible = 2**nvars - sum(math.comb(nvars, k) for k in range(MIN_INCLUDED))
    if n > possible - existing:
        more = f", {existing} of them already in the folder" if existing else ""
        raise ParameterError(
            f"-n {n}: only {possible} distinct seeds of at least {MIN_INCLUDED} variables exist "
            f"over {nvars} variables{more}"
        )


def _correlated(
    config: DatasetConfig, year: str, varlist: list[str], threshold: float, reporter: Reporter
) -> list[list[str]]:
    from fourtop.data.correlation import correlation_matrix
    from fourtop.data.ntuples import load_split
    from fourtop.jobs.draw import correlated_groups

    with reporter.status("loading the importance split for the correlation matrix"):
        arrays = load_split(config, year, Split.IMPORTANCE)
    return correlated_groups(correlation_matrix(arrays, varlist), varlist, threshold)


def _open_or_create(path: str | None, nvars: int) -> JobFolder:
    if path is None:
        return _create(None)
    p = Path(path)
    if not p.exists():
        return _create(str(p))
    folder = JobFolder(str(p))
    if folder.compacted:
        raise JobFolderError(f"{p}: is a compacted folder; submit into a job folder")
    if folder.jobs is None:
        raise JobFolderError(
            f"{p}: has no spec file; import it first with '{import_command(p)}' "
            "or submit into a new folder"
        )
    if folder.jobs and len(folder.jobs[0].seed.variables) != nvars:
        raise JobFolderError(
            f"{p}: its jobs use {len(folder.jobs[0].seed.variables)} variables, "
            f"the variable list has {nvars}"
        )
    return folder


def _create(path: str | None) -> JobFolder:
    from fourtop.naming import default_job_folder_name

    target = Path(path if path is not None else default_job_folder_name())
    existed = target.exists()
    try:
        return JobFolder.create() if path is None else JobFolder.create(path)
    except OSError as exc:
        raise JobFolderError(f"cannot create the job folder {describe_os_error(exc)}") from None
    finally:
        if not existed and target.is_dir() and not Path(target, f"{target.name}.jtd").is_file():
            shutil.rmtree(target, ignore_errors=True)  # half-made by a failed create


def _create_jobs(folder: JobFolder, jobs: Sequence[Job], settings: RunSettings) -> None:
    """Write the new jobs' files and settings, then register them in the spec.

    The files come first and the spec last, so a failure (a full disk) leaves no job in the
    spec without its ``.job`` file; the files this call wrote are removed again.
    """
    written = write_job_files(folder, jobs, settings)
    try:
        save_settings(folder.path, settings)
        folder.add_jobs(jobs)
        folder.save()
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if folder.jobs is not None:  # forget the jobs the spec did not take
            names = {j.name for j in jobs}
            folder.jobs = [j for j in folder.jobs if j.name not in names]
        raise


def write_job_files(folder: JobFolder, jobs: Sequence[Job], settings: RunSettings) -> list[Path]:
    """Write every job's ``.job`` file (atomically) and what the task kind's units read
    (the variable list); returns the new files (to remove again if what follows fails)."""
    from fourtop.backends.condor import render_job_file

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
            reporter.note(
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
            Path(folder.path, job.name + ext).unlink(missing_ok=True)


# ---------------------------------------------------------------- resubmit


def resubmit(request: ResubmitRequest, reporter: Reporter | None = None) -> list[SubmitOutcome]:
    """Resubmit the failed jobs of each folder of ``request.folders``.

    A compacted spec's failed jobs are first moved back into a job folder. Each folder's
    lock is held while its jobs are chosen and run.

    Raises:
        FourtopError: a folder is missing or has no spec, the backend or an option is
            unusable, or the folder's settings are unreadable or missing.
    """
    reporter = reporter or LogReporter()
    backend = _backend(request)
    paths = [Path(p) for p in request.folders]
    if not paths:
        raise JobFolderError("no job folders given and none named condor_log* here")
    for path in paths:  # every input checked before any job runs
        if not path.exists() and not path.with_name(path.name + SPEC_SUFFIX).is_file():
            raise JobFolderError(f"{path}: no such job folder")
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


def _reopen_compacted(folder: JobFolder, path: Path, reporter: Reporter) -> JobFolder | None:
    """A compacted spec with failed jobs: move them into a job folder to resubmit them."""
    failed = folder.get_resubmit_list()
    if not failed:
        reporter.note(f"{path}: compacted, every job finished; nothing to resubmit")
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
        reporter.note(f"{path}: nothing to resubmit")
        return SubmitOutcome(folder.path)
    varlist = list(jobs[0].seed.variables)
    saved = load_settings(folder.path)
    if saved is None:
        saved = _settings_not_saved(request, path, reporter)
    settings = _run_settings(request, varlist, saved, reporter)
    backend.check(settings)
    _check_device(settings, backend)
    save_settings(folder.path, settings)  # only writes when the folder has none
    clear_attempt(folder, jobs)
    write_job_files(folder, jobs, settings)
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
