"""Pieces shared by the batch backends (HTCondor, SLURM).

What a batch node runs is ``fourtop run-job``; this module builds its argument
vector (a list: never a shell line), writes the variable list a submission's jobs
decode their names with, checks job names, records ``000 submitted`` events for
jobs whose ``.log`` the scheduler itself does not write, and retries a failed
submission a few times with backoff.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from fourtop.backends.base import RunSettings, WorkUnit
from fourtop.errors import BackendError, OutputError
from fourtop.fileio import atomic_write_text, describe_os_error
from fourtop.jobs import eventlog
from fourtop.jobs.layout import VARLIST_FILE

__all__ = [
    "VARLIST_FILE",
    "check_names",
    "fourtop_command",
    "mark_unsubmitted",
    "option_int",
    "record_submitted",
    "retry",
    "run_job_arguments",
    "write_varlist",
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


def option_int(settings: RunSettings, key: str, default: int, minimum: int = 0) -> int:
    """Read an integer backend option (``--option key=N``), with a one-line error."""
    raw = settings.options.get(key, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BackendError(f"--option {key}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise BackendError(f"--option {key}={raw!r}: must be at least {minimum}")
    return value


def option_float(settings: RunSettings, key: str, default: float) -> float:
    """Read a non-negative float backend option."""
    raw = settings.options.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BackendError(f"--option {key}={raw!r}: expected a number") from None
    if value < 0:
        raise BackendError(f"--option {key}={raw!r}: must not be negative")
    return value


def option_bool(settings: RunSettings, key: str, default: bool) -> bool:
    """Read a yes/no backend option."""
    raw = settings.options.get(key, default)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "yes", "true", "on"):
        return True
    if text in ("0", "no", "false", "off"):
        return False
    raise BackendError(f"--option {key}={raw!r}: expected yes or no")


def fourtop_command(settings: RunSettings) -> list[str]:
    """The program (and leading arguments) that behaves as ``fourtop`` on a node.

    ``--option executable=PATH`` names one (a ``fourtop`` script in a virtual
    environment on a shared filesystem, or a container wrapper); the default is
    this Python running ``-m fourtop.cli``.
    """
    exe = settings.options.get("executable")
    if exe:
        return [str(exe)]
    return [sys.executable, "-m", "fourtop.cli"]


def write_varlist(folder: Path, varlist: Sequence[str]) -> Path:
    """Write the variable list into the job folder (atomically) and return its path."""
    path = folder / VARLIST_FILE
    text = "".join(f"{name}\n" for name in varlist)
    try:
        if path.is_file() and path.read_text() == text:
            return path
    except (OSError, UnicodeDecodeError):
        pass  # rewritten below
    atomic_write_text(path, text, what="variable list")
    return path


def run_job_arguments(
    settings: RunSettings,
    varlist: str,
    *,
    config: str | None = None,
    arrays: str | None = None,
) -> list[str]:
    """The ``run-job`` arguments shared by every job of a submission (no names, no job dir).

    Args:
        settings: the submission's settings.
        varlist: the variable-list path as the node will see it.
        config: configuration path as the node sees it (default: ``settings.config``).
        arrays: a cached-arrays file shipped with the job (``--arrays``).
    """
    args = ["run-job", "-y", settings.year, "-l", varlist]
    cfg = config if config is not None else (str(settings.config) if settings.config else None)
    if cfg:
        args += ["--config", cfg]
    if settings.params:
        args += ["--params", json.dumps(settings.params, sort_keys=True, separators=(",", ":"))]
    if settings.random_seed is not None:
        args += ["--random-seed", str(settings.random_seed)]
    if arrays:
        args += ["--arrays", arrays]
    if settings.device and settings.device != "auto":
        args += ["--device", settings.device]
    return args


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
