"""New jobs: create or extend a job folder, draw seeds, write job files, run or submit them.

What ``fourtop submit`` does, as a library (``fourtop submit -r`` is
:mod:`fourtop.jobs.resubmission`). Every input is checked before any folder is made; the
folder's lock is held while its jobs are created and run.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fourtop.errors import FourtopError, JobFolderError, ParameterError
from fourtop.fileio import describe_os_error
from fourtop.jobs.folder import JobFolder
from fourtop.jobs.importing import import_command, list_difference
from fourtop.jobs.job import Job
from fourtop.jobs.layout import SPEC_SUFFIX, VARLIST_FILE
from fourtop.jobs.names import job_name
from fourtop.jobs.requests import (
    LogReporter,
    Reporter,
    ResubmitRequest,
    SubmitOutcome,
    SubmitRequest,
    TrainingRequest,
)
from fourtop.jobs.running import check_device, open_backend, run_jobs, run_settings, write_job_files
from fourtop.jobs.settings import load_settings, save_settings
from fourtop.jobs.tasks import RunSettings
from fourtop.splits import Split

if TYPE_CHECKING:
    from fourtop.backends.base import Backend
    from fourtop.data.config import DatasetConfig
    from fourtop.importance.stability import Stability

__all__ = ["StableOutcome", "submit", "submit_until_stable"]

#: --max-seeds default: this many times the first round's -n ...
MAX_SEEDS_FACTOR = 10
#: ... and at most this many seeds (-n's maximum)
MAX_SEEDS = 100_000
#: a later round adds at least this fraction of the seeds there are (the rounds stay few)
MIN_ROUND_FRACTION = 0.1


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
    backend = open_backend(request)
    if request.seeds < 1:
        raise ParameterError(f"-n must be at least 1, got {request.seeds}")
    if not 0 <= request.correlation <= 100:
        raise ParameterError(f"-c must be a percentage in [0, 100], got {request.correlation:g}")
    varlist = read_varlist(request.varlist)
    config = load_config(request.config)
    check_known(varlist, config.variable_names(), request.varlist)
    target = request.folder
    _refuse_file(target)
    saved = load_settings(Path(target)) if target and Path(target).is_dir() else None
    settings = run_settings(request, varlist, saved or {}, reporter, folder=target)
    backend.check(settings)  # an unusable backend or option: refused before any folder exists
    check_device(settings, backend)
    config.files(settings.year, Split.IMPORTANCE)  # an unknown key: refused before any folder
    rng = np.random.default_rng(settings.random_seed)
    groups = _correlated(config, settings.year, varlist, request.correlation / 100.0, reporter)
    for group in groups:
        reporter.note(f"correlated group (|r| >= {request.correlation:g}%): {', '.join(group)}")

    folder, made = _open_or_create(target, varlist)
    try:
        with folder.lock(what="fourtop submit"):
            folder.reload()  # what another process registered before this one took the lock
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
            _create_jobs(folder, jobs, settings, backend)
            made = None  # the folder holds registered jobs: never removed
            reporter.note(
                f"{folder.path}: {len(seeds)} seed(s), {len(jobs)} job(s) over "
                f"{len(varlist)} variables"
            )
            return run_jobs(backend, folder, jobs, settings, reporter, yes=request.yes)
    except BaseException:
        if made is not None:  # a folder this run made (or found empty) and could not fill
            _undo_folder(folder.path, made)
        raise


def _undo_folder(path: str, made: str) -> None:
    """Leave a folder this run made (``made="created"``: removed) or found empty
    (``"emptied"``: emptied again) as it was, unless jobs are registered in it.

    Done under the folder's lock, taken again: a folder another process holds, or has
    registered jobs in, is never touched. Best effort: it never raises."""
    try:
        folder = JobFolder(path)
        with folder.lock(what="fourtop submit (undoing a new folder)"):
            folder.reload()
            if folder.jobs:
                return
            if made == "created":
                shutil.rmtree(path, ignore_errors=True)
                return
            for entry in Path(path).iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
    except (FourtopError, OSError):
        pass  # held by another process, or gone: nothing of ours to undo


def _distinct_seeds(nvars: int) -> int:
    """How many distinct seeds (at least two of ``nvars`` variables) exist."""
    from fourtop.jobs.draw import MIN_INCLUDED

    return 2**nvars - sum(math.comb(nvars, k) for k in range(MIN_INCLUDED))


def _check_seed_count(n: int, nvars: int, existing: int) -> None:
    """Refuse at once more seeds than distinct ones exist (>= 2 of ``nvars`` variables)."""
    from fourtop.jobs.draw import MIN_INCLUDED

    possible = _distinct_seeds(nvars)
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


def _open_or_create(path: str | None, varlist: list[str]) -> tuple[JobFolder, str | None]:
    """The job folder to add jobs to: a new one, an existing empty one, or one whose jobs
    were made with the same variable list (names and order); and ``"created"`` or
    ``"emptied"`` when it was not there or empty (None otherwise)."""
    from fourtop.naming import default_job_folder_name

    p = Path(path if path is not None else default_job_folder_name())
    _refuse_compacted(p)
    if path is None:
        return _create(None), "created"
    if not p.exists():
        return _create(str(p)), "created"
    if p.is_dir() and not any(p.iterdir()):
        return _create(str(p)), "emptied"
    folder = JobFolder(str(p))
    if folder.compacted:
        raise JobFolderError(f"{p}: is a compacted folder; submit into a job folder")
    if folder.jobs is None:
        raise JobFolderError(
            f"{p}: has no spec file; import it first with '{import_command(p)}' "
            "or submit into a new folder"
        )
    known = folder.variables
    if known and known != varlist:
        raise JobFolderError(
            f"{p}: its jobs were made with another variable list "
            f"({list_difference(known, varlist)}); nothing changed: submit with the folder's "
            f"list (-l {Path(p, VARLIST_FILE)}) or into a new folder"
        )
    return folder, None


def _refuse_file(target: str | None) -> None:
    """A file given as the folder (other than a compacted spec) is refused."""
    if target is not None and Path(target).is_file() and Path(target).suffix != SPEC_SUFFIX:
        raise JobFolderError(f"{target}: exists and is not a job folder")


def _refuse_compacted(p: Path) -> None:
    """A folder compacted into ``<name>.jtd`` is refused: a new ``<name>/`` beside it would
    hide its jobs (and block compacting the new one)."""
    spec = p.with_name(p.name + SPEC_SUFFIX)
    if p.name and not p.is_dir() and spec.is_file():
        raise JobFolderError(
            f"{p}: is compacted into {spec}; submit into a new folder, or move its failed "
            f"jobs back into a folder with 'fourtop submit -r {spec}'"
        )


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


def _create_jobs(
    folder: JobFolder, jobs: Sequence[Job], settings: RunSettings, backend: Backend
) -> None:
    """Write the new jobs' files and settings, then register them in the spec.

    The files come first and the spec last, so a failure (a full disk) leaves no job in the
    spec without its ``.job`` file; the files this call wrote are removed again.
    """
    written = write_job_files(folder, jobs, settings, backend)
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


# ---------------------------------------------------------------- rounds until stable


@dataclass
class StableOutcome:
    """What :func:`submit_until_stable` did.

    Attributes:
        folder: the job folder.
        reason: why it stopped: ``stable``, ``max_seeds`` (the limit, not stable),
            ``exhausted`` (no distinct seed is left to draw) or ``failed`` (jobs of a round
            failed; ``fourtop submit -r`` resubmits them).
        rounds: the rounds run.
        seeds: the seeds in the folder at the end.
        stability: the last round's judgement (None when it stopped on failed jobs).
        failed: the failed jobs of the last round (name, reason).
    """

    folder: str
    reason: str
    rounds: int
    seeds: int
    stability: Stability | None = None
    failed: list[tuple[str, str]] = field(default_factory=list)


def submit_until_stable(
    request: SubmitRequest,
    *,
    top: int,
    target_width: float = 2.0,
    max_seeds: int | None = None,
    reporter: Reporter | None = None,
) -> StableOutcome:
    """Run rounds of new seeds into one folder until the top ``top`` variables are stable.

    The first round draws ``request.seeds`` seeds; after each round the ranking is computed
    in memory (:mod:`fourtop.importance`, as ``fourtop calculate`` does it; no file is
    written) and the top ``top`` variables' 68 % rank intervals are compared with
    ``target_width``. The next round adds the seeds the estimate
    (:func:`~fourtop.importance.stability.estimate_stability`) says are missing, at least
    10 % of the seeds there are and at most as many (the estimate extrapolates: a round at
    most doubles the folder), never past ``max_seeds`` (default ten times
    ``request.seeds``, at most 100000) seeds in the folder. Every round is a plain
    :func:`submit` into the folder, so an interrupted run leaves it as ``submit`` does and
    a later ``submit``/``calculate`` carries on from it.

    On an existing folder (named in ``request.folder``; without one a new default folder
    is made, and an existing one of that name refused), the jobs an earlier run left
    without a result (interrupted, killed, failed) run first, then the folder is judged
    before any new seed: a stable folder is reported with no round run. The folder's lock
    is held from the first round that finds it made to the end, so another process cannot
    add jobs between rounds.

    Raises:
        ParameterError: ``top`` below 1 or above the variables of the list, a target width
            not above 0, ``max_seeds`` below ``request.seeds`` or below
            :data:`~fourtop.importance.stability.MIN_FAMILIES`, ``request.test``, or a
            backend that does not wait for its jobs (HTCondor, SLURM).
        JobFolderError: no folder given and the default one exists.
        FourtopError: what :func:`submit` raises.
    """
    from fourtop.importance.stability import MIN_FAMILIES, check_target_width
    from fourtop.naming import default_job_folder_name

    reporter = reporter or LogReporter()
    if top < 1:
        raise ParameterError(f"--until-stable {top}: must be at least 1 (the top variables)")
    try:
        target_width = check_target_width(target_width)
    except FourtopError as exc:
        raise ParameterError(str(exc)) from None
    if request.test:
        raise ParameterError("--until-stable and --test exclude each other")
    from fourtop.variables import read_varlist

    varlist = read_varlist(request.varlist)
    n_vars = len(varlist)
    if top > n_vars:  # the top K of fewer variables is never reached: refuse, not run forever
        raise ParameterError(
            f"--until-stable {top}: more than the {n_vars} variables of the list "
            f"({request.varlist}); give at most {n_vars}"
        )
    backend = open_backend(request)
    if not backend.capabilities.waits:
        raise ParameterError(
            f"--until-stable needs a backend that waits for its jobs (local); "
            f"{backend.name} returns once they are queued: submit with -n, then run "
            "'fourtop calculate' when they have finished"
        )
    if max_seeds is None:
        max_seeds = min(MAX_SEEDS_FACTOR * request.seeds, MAX_SEEDS)
    if max_seeds < request.seeds:
        raise ParameterError(
            f"--max-seeds {max_seeds} is below the first round's -n {request.seeds}"
        )
    if max_seeds < MIN_FAMILIES:  # the ranking is judged from MIN_FAMILIES seeds on
        raise ParameterError(
            f"--max-seeds {max_seeds}: the top is judged from {MIN_FAMILIES} seeds with "
            f"results on; give at least {MIN_FAMILIES}"
        )
    folder = request.folder
    if folder is None:  # a new folder: going on with one is asked for by naming it
        folder = default_job_folder_name()
        if Path(folder).exists() or Path(folder + SPEC_SUFFIX).exists():
            raise JobFolderError(
                f"{folder}: already exists; name it to add rounds to it, or choose another "
                "folder name"
            )
    _refuse_file(folder)
    # made (or found empty) here: its lock is taken before the first round and held to the
    # end; if nothing gets registered in it, it is left as it was found
    opened, made = _open_or_create(folder, varlist)
    if made is None:
        _check_going_on(request, folder, varlist, reporter)
    try:
        with opened.lock(what="fourtop submit --until-stable"):
            return _rounds(request, folder, top, target_width, max_seeds, n_vars, reporter)
    except BaseException:
        if made is not None:
            _undo_folder(opened.path, made)
        raise


def _check_going_on(
    request: SubmitRequest, folder: str, varlist: list[str], reporter: Reporter
) -> None:
    """Refuse, before any job runs, to go on with a folder whose jobs were made with other
    settings (the variable list is checked by :func:`_open_or_create`)."""
    saved = load_settings(Path(folder))
    if saved is not None:
        run_settings(request, varlist, saved, reporter, folder=folder)


def _rounds(
    request: SubmitRequest,
    folder: str,
    top: int,
    target_width: float,
    max_seeds: int,
    n_vars: int,
    reporter: Reporter,
) -> StableOutcome:
    """The rounds of :func:`submit_until_stable`, under the folder's lock: the folder as
    found is judged first (round 0), then every round after it."""
    resumed = _resume(request, folder, reporter)
    if resumed is not None and resumed.failed:
        return StableOutcome(folder, "failed", 0, _seeds_in(folder), None, list(resumed.failed))
    rounds, total, stability = 0, _seeds_in(folder), None
    while True:
        if total:  # a folder found with seeds is judged before it trains more
            stability = _judge(folder, top, target_width, max_seeds)
            reporter.note(
                f"{f'round {rounds}' if rounds else folder}: {total} seeds: {_found(stability)}"
            )
            if stability.stable:
                return StableOutcome(folder, "stable", rounds, total, stability)
        room = min(max_seeds, _distinct_seeds(n_vars)) - total
        if room <= 0:
            reason = "max_seeds" if total >= max_seeds else "exhausted"
            return StableOutcome(folder, reason, rounds, total, stability)
        first = rounds == 0 and (stability is None or stability.status == "too_few_families")
        round_seeds = min(request.seeds, room) if first else _next_round(stability, total, room)
        rounds += 1
        reporter.note(f"round {rounds}: {round_seeds} new seed(s) into {folder}")
        outcome = submit(replace(request, seeds=round_seeds, folder=folder), reporter)
        total = _seeds_in(folder)
        if outcome.failed:
            reporter.warn(
                f"round {rounds}: {len(outcome.failed)} job(s) failed; stopped before the "
                "next round (the same command runs them again first)"
            )
            return StableOutcome(folder, "failed", rounds, total, None, list(outcome.failed))


def _resume(request: SubmitRequest, folder: str, reporter: Reporter) -> SubmitOutcome | None:
    """Run the jobs an earlier, interrupted or killed run left without a result (unstarted,
    aborted or failed) before anything is judged; None when there are none."""
    from fourtop.backends import sync_folder
    from fourtop.jobs.resubmission import resubmit, resubmit_list

    sync_folder(folder)
    current = JobFolder(folder)
    current.check()  # each job's state from its files, as the resubmission will see it
    waiting = resubmit_list(current, include_unstarted=True, include_held=False)
    if not waiting:
        return None
    reporter.note(
        f"{folder}: {len(waiting)} job(s) of an earlier run have no result (interrupted, "
        "killed or failed); running them first"
    )
    training = {f.name: getattr(request, f.name) for f in fields(TrainingRequest)}
    (outcome,) = resubmit(
        ResubmitRequest(folders=[folder], include_unstarted=True, **training), reporter
    )
    return outcome


def _seeds_in(folder: str) -> int:
    """The seeds (seed jobs) in ``folder``; 0 for a folder that does not exist yet."""
    if not Path(folder).is_dir():
        return 0
    return sum(1 for j in JobFolder(folder).jobs or [] if j.subseed is None)


def _judge(folder: str, top: int, target_width: float, max_seeds: int) -> Stability:
    """The ranking of ``folder`` in memory, bootstrapped, and the stability of its top."""
    from fourtop.importance.collect import collect_results, open_folders
    from fourtop.importance.stability import estimate_stability
    from fourtop.importance.stats import bootstrap, compute_importance

    table = compute_importance(collect_results(open_folders([folder])))
    bootstrap(table)
    return estimate_stability(table, target_width=target_width, top=top, limit=max_seeds)


def _found(stability: Stability) -> str:
    """What a round found: the top variables' rank intervals and the verdict."""
    from fourtop.importance.ranking import stability_verdict

    ranks = ", ".join(
        f"{r.variable} {round(r.interval[0])}-{round(r.interval[1])}"
        for r in stability.rows
        if r.interval is not None
    )
    return (f"rank 68% intervals {ranks}. " if ranks else "") + stability_verdict(stability)


def _next_round(stability: Stability, total: int, room: int) -> int:
    """The seeds of the next round: what the estimate says is missing, at least
    :data:`MIN_ROUND_FRACTION` of ``total`` and at most ``total`` (without an estimate:
    ``total``), and at most ``room``."""
    want = stability.more_seeds if stability.more_seeds is not None else total
    want = max(want, math.ceil(MIN_ROUND_FRACTION * total), 1)
    return max(1, min(want, max(total, 1), room))
