"""The SLURM backend: one ``sbatch`` job array per submission, one task per work unit.

``submit`` writes, under ``<folder>/slurm/``, a units file (JSON: the run-job
command and each task's job names) and a two-line batch script that runs
``python -m fourtop.backends.slurm UNITS_FILE``; each array task looks up its
unit by ``SLURM_ARRAY_TASK_ID`` and runs ``fourtop run-job --job-dir FOLDER NAME...``
(an argument list, no shell), which writes every job's ``.out``, ``.err`` and
HTCondor-format ``.log`` (executing, terminated) in the job folder. The ``000
submitted`` events are written before ``sbatch`` runs, so the tracker shows
SLURM jobs exactly as local and HTCondor ones, with no SLURM accounting needed.

A task that dies before ``run-job`` could close its jobs' logs (time limit,
node failure, ``scancel``) is caught twice: the task wrapper closes them on a
non-zero exit or SIGTERM, and :func:`sync_queue_state` closes the logs of jobs
whose task has left ``squeue`` without finishing.

``-p N`` caps the tasks running at once (``--array=0-M%N``); ``--option
throttle=N`` overrides it and ``throttle=0`` removes the cap.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fourtop.backends import batch
from fourtop.backends.base import (
    Backend,
    Capabilities,
    ProgressCallback,
    RunSettings,
    SubmitReport,
    WorkUnit,
)
from fourtop.backends.options import SlurmOptions
from fourtop.env import SLURM_ARRAY_JOB_ENV, SLURM_ARRAY_TASK_ENV
from fourtop.errors import BackendError, FourtopError
from fourtop.fileio import atomic_write_text
from fourtop.jobs import eventlog
from fourtop.jobs.jobfiles import close_unfinished, has_result
from fourtop.jobs.tasks import TASK_KINDS, get_task_kind, register_task_kind, task_target

if TYPE_CHECKING:
    from fourtop.jobs.folder import JobFolder

__all__ = ["SlurmBackend", "sbatch_arguments", "sync_queue_state", "task_main"]

log = logging.getLogger(__name__)

SLURM_DIR = "slurm"
JOBS_FILE = "jobs.tsv"


def sbatch_arguments(settings: RunSettings, folder: Path, n_tasks: int, script: Path) -> list[str]:
    """The ``sbatch`` command line (a list) for an array of ``n_tasks`` tasks."""
    options = SlurmOptions.parse(settings.options)
    throttle = settings.processes if options.throttle is None else options.throttle
    array = f"0-{n_tasks - 1}" + (f"%{throttle}" if throttle else "")
    slurm_dir = folder / SLURM_DIR
    name = "fourtop_" + re.sub(r"[^A-Za-z0-9_.+-]", "_", folder.name)
    args = [
        "sbatch",
        "--parsable",
        f"--array={array}",
        f"--job-name={name}",
        f"--output={slurm_dir}/%A_%a.txt",
        f"--chdir={folder}",
        f"--cpus-per-task={options.cpus}",
    ]
    gpus = options.gpus if options.gpus is not None else (1 if settings.device == "cuda" else 0)
    if gpus:
        args.append(f"--gpus={gpus}")
    for key in ("mem", "time", "partition", "account"):
        value = getattr(options, key)
        if value is not None:
            args.append(f"--{key}={_plain(key, value)}")
    for key, value in options.extra.items():
        args.append(f"--{key}={value}" if value else f"--{key}")
    args.append(str(script))
    for arg in args:
        batch.check_path(Path(arg), "sbatch argument")
    return args


def _plain(key: str, value: Any) -> str:
    text = str(value)
    if "\n" in text or "\r" in text:
        raise BackendError(f"--option {key}: a line break cannot be passed to sbatch")
    return text


def _sbatch(args: list[str]) -> int:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
    except subprocess.TimeoutExpired:
        raise BackendError("sbatch did not answer within 120 s") from None
    if proc.returncode != 0:
        message = " ".join((proc.stderr or proc.stdout).split())[:300]
        raise BackendError(f"sbatch exited with {proc.returncode}: {message}")
    first = proc.stdout.strip().split(";")[0]
    if not first.isdigit():
        raise BackendError(f"sbatch printed no job id: {proc.stdout.strip()[:200]!r}")
    return int(first)


class SlurmBackend(Backend):
    """Submit one SLURM job array per call; returns without waiting for the jobs."""

    name = "slurm"
    capabilities = Capabilities(arrays=True, cancels=True)
    options = SlurmOptions

    def check(self, settings: RunSettings) -> None:
        """sbatch must be here, and the options must make a valid sbatch line."""
        if shutil.which("sbatch") is None:
            raise BackendError(
                "sbatch not found: run fourtop submit --backend slurm on a SLURM login node"
            )
        self.read_options(settings)
        sbatch_arguments(settings, Path.cwd(), 1, Path.cwd() / "check.sh")

    def submit(
        self,
        folder: JobFolder,
        units: Sequence[WorkUnit],
        settings: RunSettings,
        progress: ProgressCallback | None = None,
    ) -> SubmitReport:
        job_dir = Path(folder.path).resolve()
        units = list(units)
        report = SubmitReport()
        if not units:
            return report
        batch.check_names(units)
        batch.check_path(job_dir, "job folder")
        if shutil.which("sbatch") is None:
            raise BackendError(
                "sbatch not found: run fourtop submit --backend slurm on a SLURM login node"
            )
        options = self.read_options(settings)
        kind = get_task_kind(settings.task)
        kind.prepare(job_dir, settings)
        files = kind.input_files(settings, job_dir, transfer=False)
        slurm_dir = job_dir / SLURM_DIR
        slurm_dir.mkdir(exist_ok=True)
        units_file = batch.unique_path(slurm_dir, "units-{}.json", datetime.now)
        tag = units_file.name[len("units-") : -len(".json")]
        atomic_write_text(
            units_file,
            json.dumps(
                {
                    "command": batch.fourtop_command(options),
                    "arguments": kind.node_arguments(
                        settings, {role: str(path) for role, path in files.items()}
                    ),
                    "job_dir": str(job_dir),
                    "task": settings.task,
                    "task_target": task_target(settings.task),
                    "units": [list(u.names) for u in units],
                    "unit_arguments": [kind.unit_arguments(u, str(job_dir)) for u in units],
                },
                indent=1,
            ),
            what="SLURM units file",
        )
        script = slurm_dir / f"array-{tag}.sh"
        atomic_write_text(
            script,
            "#!/bin/sh\n# written by fourtop (SLURM backend); see docs/batch.md\n"
            f"exec {shlex.quote(sys.executable)} -m fourtop.backends.slurm "
            f"{shlex.quote(str(units_file))}\n",
            what="SLURM batch script",
        )
        args = sbatch_arguments(settings, job_dir, len(units), script)
        names = [n for u in units for n in u.names]
        batch.record_submitted(job_dir, names)
        try:
            job_id = batch.retry(
                lambda: _sbatch(args), "sbatch", options.retries, options.retry_delay
            )
        except BackendError as exc:
            batch.mark_unsubmitted(job_dir, names, str(exc))
            report.failed = [(n, str(exc)) for n in names]
            return report
        with open(slurm_dir / JOBS_FILE, "a") as fh:
            fh.write(f"{job_id}\t{units_file.name}\n")
        log.info("submitted SLURM array job %d (%d tasks)", job_id, len(units))
        report.submitted = names
        return report

    def sync(self, folder: str | Path) -> int:
        """Close the logs of jobs whose array task left the queue without finishing."""
        return sync_queue_state(folder)

    def cancel(self, folder: str | Path, names: Collection[str] | None = None) -> int:
        """``scancel`` the folder's array tasks (those running ``names``, default all);
        :meth:`sync` then closes the logs the killed tasks left open."""
        tasks = sorted(
            {
                f"{j}_{i}"
                for n, (j, i, _) in _latest_tasks(Path(folder)).items()
                if names is None or n in names
            }
        )
        if not tasks:
            return 0
        if shutil.which("scancel") is None:
            raise BackendError("scancel not found: cancel on a SLURM login node")
        try:
            proc = subprocess.run(
                ["scancel", *tasks], capture_output=True, text=True, check=False, timeout=120
            )
        except subprocess.TimeoutExpired:
            raise BackendError("scancel did not answer within 120 s") from None
        if proc.returncode != 0:
            message = " ".join((proc.stderr or proc.stdout).split())[:300]
            raise BackendError(f"scancel exited with {proc.returncode}: {message}")
        return len(tasks)


# ------------------------------------------------------------------ queue state


def _queued_tasks() -> set[str] | None:
    """``{"JOBID_TASK", ...}`` of this user's array tasks in the queue, or None if unknown."""
    try:
        proc = subprocess.run(
            ["squeue", "-h", "-r", "-u", getpass.getuser(), "-o", "%i"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return {line.strip() for line in proc.stdout.splitlines() if line.strip()}


def _latest_tasks(root: Path) -> dict[str, tuple[str, int, int]]:
    """job name -> (array job id, task index, proc) of its latest submission.

    A resubmitted job is in several arrays: only its latest submission says where it is.
    """
    latest: dict[str, tuple[str, int, int]] = {}
    jobs_file = root / SLURM_DIR / JOBS_FILE
    try:
        lines = jobs_file.read_text().splitlines()
    except OSError:
        return latest
    for line in lines:
        job_id, _, units_name = line.partition("\t")
        try:
            units = json.loads((root / SLURM_DIR / units_name).read_text())["units"]
        except (OSError, ValueError, KeyError):
            continue
        for index, names in enumerate(units):
            for proc, name in enumerate(names):
                latest[name] = (job_id, index, proc)
    return latest


def sync_queue_state(folder: str | os.PathLike[str]) -> int:
    """Close the logs of jobs whose array task left the queue without finishing.

    Reads ``slurm/jobs.tsv`` (job id -> units file) and ``squeue``; a job whose
    task is no longer queued or running but whose ``.log`` is still open gets a
    ``009 aborted`` event naming the task's output file, so it counts as failed
    and ``submit -r`` takes it again. Does nothing when ``squeue`` cannot answer.
    Returns the number of jobs closed.
    """
    root = Path(folder)
    jobs_file = root / SLURM_DIR / JOBS_FILE
    if not jobs_file.is_file():
        return 0
    live = _queued_tasks()
    if live is None:
        log.warning("squeue did not answer; SLURM job states not refreshed")
        return 0
    latest = _latest_tasks(root)
    closed = 0
    for name, (job_id, index, proc) in latest.items():
        if f"{job_id}_{index}" in live:
            continue
        status = eventlog.read_log(root / f"{name}.log")
        if status.state in ("queued", "running") and not has_result(root, name):
            eventlog.log_aborted(
                root / f"{name}.log",
                f"SLURM task {job_id}_{index} left the queue without finishing "
                f"(see {SLURM_DIR}/{job_id}_{index}.txt)",
                cluster=int(job_id),
                proc=proc,
            )
            closed += 1
    return closed


# ------------------------------------------------------------------ the array task


def _read_result(task: str, target: str | None) -> Callable[[Path], float | None] | None:
    """The unit's task kind's result reader (None: the default, a ROC integral), even where
    the kind's module cannot be imported (the wrapper must close the jobs whatever happens)."""
    try:
        if target is not None and TASK_KINDS.get(task) != target:  # registered at run time
            register_task_kind(target, task)
        return get_task_kind(task).read_result
    except (ImportError, AttributeError, FourtopError) as exc:
        log.warning("task kind %s not importable here (%s); reading ROC integrals", task, exc)
        return None


def task_main(units_file: str, task_id: int | None = None) -> int:
    """Run one array task: ``fourtop run-job --job-dir`` for the unit at ``task_id``.

    After ``run-job`` exits (or on SIGTERM from SLURM), jobs whose ``.log`` is
    still open are closed with a terminated/aborted event and the reason in
    their ``.err``, so no job of the task stays "running" forever.
    """
    spec = json.loads(Path(units_file).read_text())
    if task_id is None:
        task_id = int(os.environ[SLURM_ARRAY_TASK_ENV])
    names = spec["units"][task_id]
    job_dir = Path(spec["job_dir"])
    job_id = int(os.environ.get(SLURM_ARRAY_JOB_ENV, "0") or 0)
    unit_arguments = spec.get("unit_arguments")  # absent in units files before 0.2
    tail = unit_arguments[task_id] if unit_arguments else ["--job-dir", str(job_dir), *names]
    argv = [*spec["command"], *spec["arguments"], *tail]
    child = subprocess.Popen(argv, cwd=job_dir)

    def forward(signum: int, _frame: Any) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    rc = child.wait()
    reason = f"run-job killed by signal {-rc}" if rc < 0 else f"run-job exited with code {rc}"
    read_result = _read_result(spec.get("task", "importance"), spec.get("task_target"))
    close_unfinished(
        job_dir,
        names,
        f"{reason} before finishing this job",
        aborted=rc < 0,
        ids=lambda name: (job_id, names.index(name)),
        only_open=True,
        read_result=read_result,
    )
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(task_main(sys.argv[1]))
