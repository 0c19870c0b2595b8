"""Pieces shared by the batch backends (HTCondor, SLURM).

What a batch node runs is ``fourtop`` with the arguments of the unit's task kind
(:mod:`fourtop.jobs.tasks`), an argument vector (a list: never a shell line). This
module checks job names and paths, finds the program that is ``fourtop`` on a node,
records ``000 submitted`` events for jobs whose ``.log`` the scheduler itself does not
write, closes the logs of jobs whose submission failed, and retries a failed
submission a few times with backoff.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from fourtop.backends.options import BatchOptions
from fourtop.errors import BackendError, OutputError
from fourtop.fileio import describe_os_error
from fourtop.jobs import eventlog
from fourtop.jobs.tasks import WorkUnit

__all__ = [
    "check_names",
    "check_path",
    "fourtop_command",
    "mark_unsubmitted",
    "record_submitted",
    "retry",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


#: job names travel through submit files, item data and file names: keep them plain
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def check_names(units: Iterable[WorkUnit]) -> None:
    """Raise `BackendError` for a job name a batch system cannot carry safely.

    Names made by ``fourtop.jobtracker.job_name`` always pass; anything with
    spaces, quotes, commas or shell characters is refused rather than escaped,
    since it would also become a file name in the job folder.
    """
    for unit in units:
        for name in unit.names:
            if not _SAFE_NAME.match(name):
                raise BackendError(
                    f"job name {name!r}: only letters, digits and _ . + - are allowed in "
                    "job names sent to a batch system"
                )


def check_path(path: Path, what: str) -> None:
    """Refuse a path that no submit description can hold (a newline in it)."""
    if "\n" in str(path) or "\r" in str(path):
        raise BackendError(f"{what} {str(path)!r}: a path with a line break cannot be submitted")


def fourtop_command(options: BatchOptions) -> list[str]:
    """The program (and leading arguments) that behaves as ``fourtop`` on a node.

    ``--option executable=PATH`` names one (a ``fourtop`` script in a virtual
    environment on a shared filesystem, or a container wrapper); the default is
    this Python running ``-m fourtop.cli``.
    """
    exe = options.executable
    if exe:
        return [str(exe)]
    return [sys.executable, "-m", "fourtop.cli"]


def unique_path(folder: Path, pattern: str, now: Callable[[], datetime]) -> Path:
    """A new file in ``folder`` named by ``pattern`` with a time stamp that sorts in time
    order (``20260102-030405-000123-<pid>``: to the microsecond, with the process id),
    created empty and exclusively now, so two submissions never share a file.

    Raises:
        OutputError: the file cannot be created.
    """
    for _ in range(1000):
        path = folder / pattern.format(f"{now():%Y%m%d-%H%M%S-%f}-{os.getpid()}")
        try:
            with open(path, "x"):
                return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot create {describe_os_error(exc, path)}") from None
    raise OutputError(f"{folder}: no free name for {pattern.format('<time>')}")


def record_submitted(folder: Path, names: Iterable[str], cluster: int = 0) -> None:
    """Append ``000 submitted`` to the ``.log`` of jobs whose log the scheduler won't write.

    Written before the submission, so an event from the job itself can never
    come first.
    """
    for proc, name in enumerate(names):
        try:
            eventlog.log_submitted(folder / f"{name}.log", cluster=cluster, proc=proc)
        except OSError as exc:
            raise OutputError(
                f"cannot write the job event log {describe_os_error(exc, folder / f'{name}.log')}"
            ) from None


def mark_unsubmitted(folder: Path, names: Iterable[str], reason: str) -> None:
    """A submission failed for good: close the jobs' logs with an abort, so they are
    failed (resubmittable) rather than queued forever."""
    for proc, name in enumerate(names):
        try:
            eventlog.log_aborted(
                folder / f"{name}.log", f"submission failed: {reason}", cluster=0, proc=proc
            )
        except OSError as exc:  # the report still says the submission failed
            log.error("%s: could not record the failed submission: %s", name, exc)


def retry(
    action: Callable[[], T],
    what: str,
    attempts: int = 3,
    delay: float = 2.0,
    sleep: Callable[[float], Any] = time.sleep,
) -> T:
    """Call ``action`` until it succeeds, at most ``attempts`` times, doubling the wait.

    Raises:
        BackendError: naming ``what`` and the last error, after the last attempt.
    """
    last: Exception | None = None
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return action()
        except (BackendError, OSError) as exc:
            last = exc
            log.warning("%s failed (attempt %d of %d): %s", what, attempt, attempts, exc)
            if attempt < attempts:
                sleep(delay * 2 ** (attempt - 1))
    raise BackendError(f"{what} failed after {max(1, attempts)} attempt(s): {last}")
