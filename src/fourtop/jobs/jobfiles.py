"""Writing one job's files: its result when it ends, or its end when it died.

Every backend leaves the same files for every job, so the tracker reads them alike:
``<name>.out`` (written atomically, with a ``ROC-integral:`` line on success),
``<name>.err`` (the error text) and HTCondor-format events in ``<name>.log``
(:mod:`fourtop.jobs.eventlog`). :class:`JobFiles` is what a running job writes;
:func:`close_unfinished` is what its parent (a local worker pool, a SLURM task wrapper)
writes for jobs whose process died before they could.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from fourtop.errors import OutputError
from fourtop.fileio import atomic_write_text
from fourtop.jobs import eventlog

__all__ = ["OPEN_STATES", "JobFiles", "close_unfinished", "event_ids", "has_result"]

log = logging.getLogger(__name__)


def event_ids(log_path: Path) -> tuple[int, int]:
    """(cluster, proc) of the job's last logged event (its submission), else (pid, 0)."""
    try:
        events, _ = eventlog.parse_events(log_path.read_text(errors="replace"))
    except OSError:
        events = []
    if events:
        return events[-1].cluster, events[-1].proc
    return os.getpid(), 0


def has_result(job_dir: Path, name: str) -> bool:
    """True if the job's ``.out`` holds a ROC integral."""
    return eventlog.read_out(job_dir / f"{name}.out")[1] is not None


class JobFiles:
    """Writes the ``.out``, ``.err`` and ``.log`` events of the jobs one process runs.

    Args:
        job_dir: the job folder.
        log_events: write executing/terminated events (off where the batch system
            writes the job's log itself).
    """

    def __init__(self, job_dir: Path, log_events: bool = True) -> None:
        self.job_dir = job_dir
        self.log_events = log_events
        self._ids: dict[str, tuple[int, int]] = {}

    def executing(self, name: str) -> None:
        """Record that the job started (``001`` event, ids of its submission)."""
        if not self.log_events:
            return
        path = self.job_dir / f"{name}.log"
        self._ids[name] = event_ids(path)
        cluster, proc = self._ids[name]
        eventlog.log_executing(path, cluster=cluster, proc=proc)

    def finish(
        self, name: str, value: float | str, info: list[str], label: str = "ROC-integral"
    ) -> None:
        """Write the job's result (a float, as ``<label>: <value>``; a task kind whose
        result is not a ROC integral names it and reads it back in its ``read_result``) or
        error (a str), then close its log."""
        ok = isinstance(value, float)
        lines = [*info, f"{label}: {value!r}"] if ok else [*info, f"Failed: {value}"]
        atomic_write_text(self.job_dir / f"{name}.err", "" if ok else f"{value}\n", what="job file")
        atomic_write_text(self.job_dir / f"{name}.out", "\n".join(lines) + "\n", what="job file")
        if self.log_events:
            cluster, proc = self._ids.get(name) or event_ids(self.job_dir / f"{name}.log")
            eventlog.log_terminated(
                self.job_dir / f"{name}.log", 0 if ok else 1, cluster=cluster, proc=proc
            )


#: states of a job log that no event closed yet
OPEN_STATES = ("queued", "running", "missing", "empty")


def close_unfinished(
    job_dir: Path,
    names: Iterable[str],
    reason: str,
    *,
    aborted: bool = False,
    ids: Callable[[str], tuple[int, int]] | None = None,
    only_open: bool = False,
    read_result: Callable[[Path], float | None] | None = None,
) -> dict[str, float | str]:
    """End the jobs of a process that died: each job without a result fails with ``reason``.

    For every job of ``names`` whose ``.out`` holds no ROC integral (and, with
    ``only_open``, whose log no event closed yet): ``reason`` is appended to its ``.err``,
    its ``.out`` says it failed or was aborted, and its log gets a terminated (return
    value 1) or, with ``aborted``, an aborted event. The job is then ``failed``, so
    ``fourtop submit -r`` takes it again. A job that has its result keeps it.

    Args:
        job_dir: the job folder.
        names: the jobs the dead process ran.
        reason: why they ended, e.g. ``worker process killed by signal SIGKILL``.
        aborted: write an aborted event (interrupted, removed) instead of a failure.
        ids: (cluster, proc) of each job's events; default: those of its last event.
        only_open: leave jobs whose log is already closed as they are.
        read_result: how a job's ``.out`` gives its result (the task kind's
            ``read_result``); default: its ROC integral.

    Returns:
        name -> the ROC integral a job has, or ``reason`` for the jobs closed now
        (jobs skipped by ``only_open`` are not in it). Never raises for one job's files:
        a file that cannot be written is logged as an error.
    """
    results: dict[str, float | str] = {}
    word = "aborted" if aborted else "failed"
    for name in names:
        out = job_dir / f"{name}.out"
        log_path = job_dir / f"{name}.log"
        roc = read_result(out) if read_result is not None else eventlog.read_out(out)[1]
        if roc is not None:
            results[name] = roc
            continue
        if only_open and eventlog.read_log(log_path).state not in OPEN_STATES:
            continue
        results[name] = reason
        cluster, proc = ids(name) if ids is not None else event_ids(log_path)
        try:
            with open(job_dir / f"{name}.err", "a") as err:
                err.write(f"fourtop: {reason}\n")
            atomic_write_text(out, f"fourtop: job {word}: {reason}\n", what="job file")
            if aborted:
                eventlog.log_aborted(log_path, reason, cluster=cluster, proc=proc)
            else:
                eventlog.log_terminated(log_path, return_value=1, cluster=cluster, proc=proc)
        except (OSError, OutputError) as exc:  # a full disk: the failure stays in the report
            log.error("%s: could not record that the job %s: %s", name, word, exc)
    return results
