"""``fourtop submit``: draw seeds, create the jobs, and run or submit them; or resubmit."""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fourtop.cli._common import (
    PlainProgress,
    add_config,
    add_verbose,
    add_year,
    add_yes,
    confirm,
    console,
    default_folders,
    nonempty,
    positive_int,
    random_seed,
    seed_count,
    use_terminal_progress,
)
from fourtop.errors import FourtopError, JobFolderError, ParameterError
from fourtop.jobtracker import SETTINGS_FILE, VARLIST_FILE, import_command
from fourtop.splits import Split

if TYPE_CHECKING:
    from fourtop.backends.base import RunSettings, SubmitReport, WorkUnit
    from fourtop.jobtracker import Job, JobFolder

HELP = "create and submit variable-importance jobs, or resubmit failed ones (-r)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_verbose(parser)
    parser.add_argument("-r", "--resubmit", action="store_true", help="resubmit mode")
    parser.add_argument(
        "--include-unstarted",
        action="store_true",
        help="resubmit mode: also resubmit jobs that have not started (no .out file)",
    )
    parser.add_argument(
        "-p",
        "--processes",
        type=int,
        default=2,
        metavar="N",
        help="local backend: worker processes; batch backends: see docs/batch.md (default 2)",
    )
    parser.add_argument(
        "-n",
        "--seeds",
        type=seed_count,
        default=500,
        metavar="N",
        help="seeds to draw (default 500, at most 100000)",
    )
    parser.add_argument("--test", action="store_true", help="submit only one job")
    parser.add_argument(
        "-c",
        "--correlation",
        type=float,
        default=80.0,
        metavar="PERCENT",
        help="absolute correlation (percent) making variables a correlated group (default 80)",
    )
    parser.add_argument(
        "-l",
        "--varlist",
        type=nonempty,
        default="all",
        help="'all' (the default 76 variables) or a file of variable names, one per line",
    )
    add_year(parser)
    parser.set_defaults(year=None)  # None: 2017, or on -r the year the folder was submitted with
    add_config(parser)
    add_yes(parser)
    parser.add_argument(
        "--backend",
        default="local",
        help="where jobs run: local (default, a process pool), condor, slurm",
    )
    parser.add_argument(
        "--params",
        type=nonempty,
        metavar="JSON",
        default=None,
        help="network hyperparameters for every job: a JSON file or an inline JSON object "
        "(keys of NetworkParams; default: the original network)",
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=None, help="training epochs (overrides --params)"
    )
    parser.add_argument(
        "--no-families",
        action="store_true",
        help="run every job alone instead of training each seed with its subseeds as a batch",
    )
    parser.add_argument(
        "--random-seed",
        type=random_seed,
        default=None,
        help="seed of the seed draw and the trainings (0 to 2**32-1)",
    )
    parser.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="training device"
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option, repeatable (e.g. request_memory=2GB; see docs/batch.md)",
    )
    parser.add_argument(
        "folders", nargs="*", type=nonempty, help="job folders (default: condor_log*)"
    )


def run(args: argparse.Namespace) -> int:
    if args.processes < 1:
        raise ParameterError(f"-p must be at least 1, got {args.processes}")
    from fourtop.backends import get_backend

    backend = get_backend(args.backend)  # fail fast on an unknown backend
    if args.resubmit:
        return _resubmit(args, backend)
    return _submit(args, backend)


# ---------------------------------------------------------------- settings


def _params(args: argparse.Namespace) -> dict[str, Any] | None:
    from fourtop.train.params import NetworkParams, read_params

    values = read_params(args.params) or {}
    if args.epochs is not None:
        values["epochs"] = args.epochs
    if not values:
        return None
    return NetworkParams.from_dict(values).to_dict()  # validates


def _options(pairs: Sequence[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--option {pair!r}: expected KEY=VALUE")
        options[key.strip()] = value
    return options


def _settings(
    args: argparse.Namespace, varlist: list[str], saved: dict[str, Any] | None = None
) -> RunSettings:
    """The run settings; on a resubmission ``saved`` (the folder's first submission) fills in
    the training settings not given now, so a resubmitted job matches its seed family."""
    from fourtop.backends.base import RunSettings

    saved = saved or {}
    params = _params(args)
    config = Path(args.config).resolve() if args.config else None
    given = {
        "year": args.year,
        "config": str(config) if config else None,
        "params": params,
        "random_seed": args.random_seed,
    }
    for key, value in given.items():
        if value is None and saved.get(key) is not None:
            given[key] = saved[key]
        elif value is not None and key in saved and saved[key] != value:
            console.print(
                f"warning: {key} differs from the folder's first submission "
                f"({saved[key]!r}); resubmitted jobs will not match their seed families"
            )
    return RunSettings(
        year=given["year"] or "2017",
        varlist=varlist,
        config=Path(given["config"]) if given["config"] else None,
        params=given["params"],
        processes=args.processes,
        random_seed=given["random_seed"],
        families=not args.no_families,
        device=args.device,
        options=_options(args.option),
    )


def make_units(jobs: Sequence[Job], families: bool) -> list[WorkUnit]:
    """One unit per job, or one per seed family (seed job first) when ``families``."""
    from fourtop.backends.base import WorkUnit

    if not families:
        return [WorkUnit((job.name,)) for job in jobs]
    grouped: dict[str, list[Job]] = {}
    for job in jobs:
        grouped.setdefault(job.seed.binary, []).append(job)
    units = []
    for members in grouped.values():
        members.sort(key=lambda j: j.subseed is not None)  # the seed job first
        units.append(WorkUnit(tuple(j.name for j in members)))
    return units


# ---------------------------------------------------------------- submit mode


def _submit(args: argparse.Namespace, backend: Any) -> int:
    import numpy as np

    from fourtop.data.config import load_config
    from fourtop.jobs.draw import draw_seeds
    from fourtop.jobtracker import Job, job_name
    from fourtop.variables import check_known, read_varlist

    if args.seeds < 1:
        raise ParameterError(f"-n must be at least 1, got {args.seeds}")
    if not 0 <= args.correlation <= 100:
        raise ParameterError(f"-c must be a percentage in [0, 100], got {args.correlation:g}")
    if len(args.folders) > 1:
        raise JobFolderError("submit mode takes at most one job folder")
    if args.include_unstarted:
        raise ParameterError("--include-unstarted is for resubmission: use it with -r")
    varlist = read_varlist(args.varlist)
    config = load_config(args.config)
    check_known(varlist, config.variable_names(), args.varlist)
    target = args.folders[0] if args.folders else None
    if target is not None and Path(target).is_file() and Path(target).suffix != ".jtd":
        raise JobFolderError(f"{target}: exists and is not a job folder")
    saved = _load_settings(Path(target)) if target and Path(target).is_dir() else None
    settings = _settings(args, varlist, saved or {})  # adding seeds to a folder: its settings
    backend.check(settings)  # an unusable backend or option: refused before any folder exists
    _check_device(settings, backend)
    config.files(
        settings.year, Split.IMPORTANCE
    )  # an unknown dataset key: refused before any folder exists
    rng = np.random.default_rng(settings.random_seed)

    groups = _correlated(config, settings.year, varlist, args.correlation / 100.0)
    for group in groups:
        console.print(f"correlated group (|r| >= {args.correlation:g}%): {', '.join(group)}")

    created = target is None or not Path(target).exists()
    folder = _open_or_create(target, len(varlist))
    try:
        with folder.lock(what="fourtop submit"):
            existing = [j.seed for j in folder.jobs or [] if j.subseed is None]
            n = 1 if args.test else args.seeds
            _check_seed_count(n, len(varlist), len(existing))
            seeds = draw_seeds(varlist, n, rng, groups, exclude=existing)
            jobs: list[Job] = []
            for seed in seeds:
                jobs.append(Job(folder.path, job_name(len(varlist), seed, None), seed, None))
                if not args.test:
                    for sub in seed.subseeds():
                        jobs.append(Job(folder.path, job_name(len(varlist), seed, sub), seed, sub))
            _create_jobs(folder, jobs, settings)
            created = False  # the folder holds registered jobs now: never removed below
            console.print(
                f"{folder.path}: {len(seeds)} seed(s), {len(jobs)} job(s) over "
                f"{len(varlist)} variables"
            )
            return _run_backend(args, backend, folder, jobs, settings)
    except BaseException:
        if created:  # a folder this run made and could not fill: leave nothing behind
            import shutil

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


def _check_device(settings: RunSettings, backend: Any) -> None:
    """``--device cuda`` on the local backend needs a GPU here (a batch node may have one)."""
    if backend.name != "local" or settings.device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise ParameterError("--device cuda: no CUDA device is available on this machine")


def _create_jobs(folder: JobFolder, jobs: Sequence[Job], settings: RunSettings) -> None:
    """Write the new jobs' files and settings, then register them in the spec.

    The files come first and the spec last, so a failure (a full disk) leaves no job in the
    spec without its ``.job`` file; the files this call wrote are removed again.
    """
    written = _write_job_files(folder, jobs, settings)
    try:
        _save_settings(folder, settings)
        folder.add_jobs(jobs)
        folder.save()
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if folder.jobs is not None:  # forget the jobs the spec did not take
            names = {j.name for j in jobs}
            folder.jobs = [j for j in folder.jobs if j.name not in names]
        raise


def _correlated(config: Any, year: str, varlist: list[str], threshold: float) -> list[list[str]]:
    from fourtop.data.correlation import correlation_matrix
    from fourtop.data.ntuples import load_split
    from fourtop.jobs.draw import correlated_groups

    if use_terminal_progress():
        with console.status("loading the importance split for the correlation matrix"):
            arrays = load_split(config, year, Split.IMPORTANCE)
    else:
        arrays = load_split(config, year, Split.IMPORTANCE)
    corr = correlation_matrix(arrays, varlist)
    return correlated_groups(corr, varlist, threshold)


def _open_or_create(path: str | None, nvars: int) -> JobFolder:
    from fourtop.jobtracker import JobFolder

    if path is None:
        return _create(None)
    p = Path(path)
    if p.exists():
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
    return _create(str(p))


def _create(path: str | None) -> JobFolder:
    from fourtop.fileio import describe_os_error
    from fourtop.jobtracker import JobFolder
    from fourtop.naming import default_job_folder_name

    target = Path(path if path is not None else default_job_folder_name())
    existed = target.exists()
    try:
        return JobFolder.create() if path is None else JobFolder.create(path)
    except OSError as exc:
        raise JobFolderError(f"cannot create the job folder {describe_os_error(exc)}") from None
    finally:
        if not existed and target.is_dir() and not Path(target, f"{target.name}.jtd").is_file():
            import shutil

            shutil.rmtree(target, ignore_errors=True)  # half-made by a failed create


_SETTING_KEYS = ("year", "config", "params", "random_seed")


def _save_settings(folder: JobFolder, settings: RunSettings) -> None:
    """Keep the training settings of the folder's first submission (never overwritten)."""
    from fourtop.fileio import atomic_write_text

    path = Path(folder.path, SETTINGS_FILE)
    if path.exists():
        return
    text = json.dumps(
        {
            "year": settings.year,
            "config": str(settings.config) if settings.config else None,
            "params": settings.params,
            "random_seed": settings.random_seed,
        },
        indent=1,
        sort_keys=True,
    )
    atomic_write_text(path, text + "\n", what="submission settings")


def _load_settings(folder_path: Path) -> dict[str, Any] | None:
    """The folder's first-submission settings, checked; None if the folder has none."""
    from fourtop.cli._common import RANDOM_SEED_MAX
    from fourtop.train.params import NetworkParams

    path = Path(folder_path, SETTINGS_FILE)
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        return None  # an imported or older folder
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "msg", None) or exc
        raise JobFolderError(f"{path}: unreadable submission settings ({reason})") from None
    if not isinstance(saved, dict):
        raise JobFolderError(f"{path}: unreadable submission settings (not a JSON object)")

    def bad(key: str, expected: str) -> JobFolderError:
        return JobFolderError(
            f"{path}: {key} is {saved[key]!r}, expected {expected}; fix or delete the file "
            "and pass the settings explicitly"
        )

    year = saved.get("year")
    if isinstance(year, int) and not isinstance(year, bool):
        saved["year"] = str(year)  # "year": 2017 written by hand means the key "2017"
    elif year is not None and not isinstance(year, str):
        raise bad("year", 'a dataset key such as "2017"')
    if saved.get("config") is not None and not isinstance(saved["config"], str):
        raise bad("config", "a file path or null")
    if saved.get("params") is not None:
        if not isinstance(saved["params"], dict):
            raise bad("params", "a JSON object of network parameters or null")
        try:
            NetworkParams.from_dict(saved["params"])
        except FourtopError as exc:
            raise JobFolderError(f"{path}: params: {exc}") from None
    seed = saved.get("random_seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= RANDOM_SEED_MAX
    ):
        raise bad("random_seed", f"a whole number from 0 to {RANDOM_SEED_MAX} or null")
    return {k: saved.get(k) for k in _SETTING_KEYS}


def _write_job_files(folder: JobFolder, jobs: Sequence[Job], settings: RunSettings) -> list[Path]:
    """Write every job's ``.job`` file (atomically) and the variable list; returns the new
    files (to remove again if what follows fails)."""
    from fourtop.backends.batch import write_varlist
    from fourtop.backends.condor import render_job_file
    from fourtop.fileio import atomic_write_text

    written: list[Path] = []
    try:
        varlist = Path(folder.path, VARLIST_FILE)
        had_varlist = varlist.exists()
        write_varlist(Path(folder.path), settings.varlist)  # what every .job's run-job -l reads
        if not had_varlist:
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


# ---------------------------------------------------------------- resubmit mode


def _resubmit(args: argparse.Namespace, backend: Any) -> int:
    from fourtop.jobtracker import JobFolder

    paths = [Path(p) for p in args.folders] or default_folders(include_specs=False)
    if not paths:
        raise JobFolderError("no job folders given and none named condor_log* here")
    for path in paths:  # every input checked before any job runs
        if not path.exists() and not path.with_name(path.name + ".jtd").is_file():
            raise JobFolderError(f"{path}: no such job folder")
    status = 0
    for path in paths:
        folder = JobFolder(str(path))
        if folder.compacted:
            folder = _reopen_compacted(folder, path)
            if folder is None:
                continue
        if folder.jobs is None:
            raise JobFolderError(
                f"{path}: has no spec file; import it first with '{import_command(path)}'"
            )
        with folder.lock(what="fourtop submit -r"):
            status |= _resubmit_folder(args, backend, folder, path)
    return status


def _reopen_compacted(folder: JobFolder, path: Path) -> JobFolder | None:
    """A compacted spec with failed jobs: move them into a job folder to resubmit them."""
    failed = folder.get_resubmit_list()
    if not failed:
        console.print(f"{path}: compacted, every job finished; nothing to resubmit")
        return None
    with folder.lock(what="fourtop submit -r"):
        restored = folder.extract_failed()
    console.print(
        f"{path}: compacted with {len(failed)} failed job(s); moved them into the job folder "
        f"{restored.path} to resubmit them",
        markup=False,
        soft_wrap=True,
    )
    return restored


def _resubmit_folder(args: argparse.Namespace, backend: Any, folder: JobFolder, path: Path) -> int:
    from fourtop.backends import sync_batch_state

    sync_batch_state(folder.path)
    folder.check()
    unreadable = [j for j in folder.jobs or [] if j.state == "unreadable"]
    if unreadable:
        console.print(
            f"warning: {path}: {len(unreadable)} job(s) have files this user cannot read "
            f"(e.g. {unreadable[0].name}: {unreadable[0].reason}); they are not resubmitted",
            markup=False,
            soft_wrap=True,
        )
    jobs = _resubmit_list(folder, args.include_unstarted, args.backend != "local")
    if not jobs:
        console.print(f"{path}: nothing to resubmit")
        return 0
    varlist = list(jobs[0].seed.variables)
    saved = _load_settings(Path(folder.path))
    if saved is None:
        saved = _settings_not_saved(args, folder, path)
    settings = _settings(args, varlist, saved)
    backend.check(settings)
    _check_device(settings, backend)
    _save_settings(folder, settings)  # only writes when the folder has none
    _clear_attempt(folder, jobs)
    _write_job_files(folder, jobs, settings)
    console.print(f"{path}: resubmitting {len(jobs)} job(s)")
    return _run_backend(args, backend, folder, jobs, settings)


def _settings_not_saved(args: argparse.Namespace, folder: JobFolder, path: Path) -> dict[str, Any]:
    """No ``fourtop-submit.json``: the user must say how the folder's jobs were trained."""
    if args.year is None or (args.params is None and args.epochs is None):
        raise JobFolderError(
            f"{path}: has no {SETTINGS_FILE} (how its jobs were first trained), so resubmitted "
            "jobs could train differently from their seed families; pass the first "
            "submission's settings explicitly: -y YEAR and --epochs N or --params JSON "
            "(and --random-seed S if it had one)"
        )
    console.print(
        f"warning: {path}: no {SETTINGS_FILE}; resubmitting with the settings given now "
        f"(they must match the first submission's); saved to {SETTINGS_FILE} for next time",
        markup=False,
        soft_wrap=True,
    )
    return {}


def _resubmit_list(folder: JobFolder, include_unstarted: bool, include_held: bool) -> list[Job]:
    chosen: dict[str, Job] = {}
    for job in folder.get_resubmit_list():
        chosen[job.name] = job
    if include_unstarted:
        for job in folder.unstarted_jobs:
            chosen.setdefault(job.name, job)
    if include_held:
        for job in folder.jobs or []:
            if job.state == "held":
                chosen.setdefault(job.name, job)
    # never run a job twice: anything with a result (or unreadable) stays as it is
    return [j for j in chosen.values() if not j.has_result and j.state != "unreadable"]


def _clear_attempt(folder: JobFolder, jobs: Sequence[Job]) -> None:
    """Remove a failed attempt's output (never a result) before running again.

    The ``.log`` is kept: the next submission appends to it (as HTCondor does), and the
    tracker reads a job's state from the events after its last submission.
    """
    for job in jobs:
        for ext in (".out", ".err"):
            Path(folder.path, job.name + ext).unlink(missing_ok=True)


# ---------------------------------------------------------------- running


def _run_backend(
    args: argparse.Namespace,
    backend: Any,
    folder: JobFolder,
    jobs: Sequence[Job],
    settings: RunSettings,
) -> int:
    units = make_units(jobs, settings.families)
    report = _submit_with_progress(backend, folder, units, settings)
    while report.failed:
        failed_names = {name for name, _ in report.failed}
        _print_failures(report.failed)
        verb = "run" if report.finished else "submission"
        if not confirm(f"{len(failed_names)} job {verb}(s) failed. Retry them now?", yes=args.yes):
            break
        retry = [j for j in jobs if j.name in failed_names]
        _clear_attempt(folder, retry)
        report = _submit_with_progress(
            backend, folder, make_units(retry, settings.families), settings
        )
        if args.yes and report.failed:  # one unattended retry round, then report
            _print_failures(report.failed)
            console.print(
                f"{len(report.failed)} job(s) still failed after the retry; "
                "'fourtop submit -r' resubmits them"
            )
            break
    folder.check()
    folder.save()
    stats = folder.get_stats()
    console.print(
        f"{folder.path}: {stats['jobs']} jobs, {stats['finished_jobs']} finished, "
        f"{stats['failed_jobs']} failed, {stats['unstarted_jobs']} unstarted"
    )
    return 1 if report.failed else 0


def _print_failures(failed: Sequence[tuple[str, str]], limit: int = 10) -> None:
    """One line per failed job, or a single line when they all failed for one reason.

    A refused batch submission fails every job with the same message (e.g. no
    schedd): that is said once, not repeated for each of the jobs.
    """
    reasons = {reason for _, reason in failed}
    if len(failed) > 1 and len(reasons) == 1:
        console.print(f"  failed: {len(failed)} job(s): {reasons.pop()}", soft_wrap=True)
        return
    for name, reason in failed[:limit]:
        console.print(f"  failed: {name}: {reason}", soft_wrap=True)
    if len(failed) > limit:
        console.print(f"  ... and {len(failed) - limit} more")


def _submit_with_progress(
    backend: Any, folder: JobFolder, units: list[WorkUnit], settings: RunSettings
) -> SubmitReport:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    total = sum(len(u.names) for u in units)
    if backend.name != "local":
        report = backend.submit(folder, units, settings)
        console.print(
            f"submitted {len(report.submitted)} job(s) in {len(units)} unit(s) to {backend.name}"
            + (f"; {len(report.failed)} failed to submit" if report.failed else "")
        )
        return report
    if not use_terminal_progress():  # logs, CI, pipes: a plain line at a steady pace
        plain = PlainProgress(total, "training")

        def plain_progress(done: Sequence[str], failed: Sequence[str]) -> None:
            plain.update(len(done), len(failed))

        return backend.submit(folder, units, settings, plain_progress)
    counts = {"done": 0, "failed": 0}
    with Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[done]} ok, {task.fields[failed]} failed"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("jobs", total=total, done=0, failed=0, rate="")

        def progress(done: Sequence[str], failed: Sequence[str]) -> None:
            counts["done"] += len(done)
            counts["failed"] += len(failed)
            elapsed = bar.tasks[0].elapsed or 1e-9
            finished = counts["done"] + counts["failed"]
            bar.update(
                task,
                advance=len(done) + len(failed),
                done=counts["done"],
                failed=counts["failed"],
                rate=f"{finished / elapsed:.2f} jobs/s",
            )

        return backend.submit(folder, units, settings, progress)
