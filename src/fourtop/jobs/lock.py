"""The lock of a job folder: one process at a time changes which jobs exist or run.

An OS file lock (``filelock``), so it ends with its process, even one killed by SIGKILL;
re-entrant within a process. A ``.info`` file beside it says who holds it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from fourtop.errors import JobFolderError
from fourtop.fileio import describe_os_error

__all__ = ["hold"]

#: locks this process holds, by lock file: the lock is re-entrant within a process
_HELD: dict[str, int] = {}
_HELD_GUARD = threading.Lock()


@contextmanager
def hold(
    lock_path: Path, owner: str, *, what: str = "fourtop", wait: float = 0.0
) -> Iterator[None]:
    """Hold the folder's lock while jobs are created, resubmitted, run or compacted.

    One process at a time: a second one waits up to ``wait`` seconds, then raises.
    The lock is an OS file lock, so it ends with its process (even killed by SIGKILL).
    Within one process it is re-entrant (``submit -r`` holds it around
    ``extract_failed``, which takes it too). ``owner`` is the folder or spec the message
    names; ``what`` is written beside the lock so that a second process can say who holds it.

    Raises:
        JobFolderError: another process holds the lock (the message says which, if
            known), or the lock file cannot be created (e.g. no write permission).
    """
    from filelock import FileLock, Timeout

    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not wait >= 0:
        raise JobFolderError(f"lock: wait must be a number of seconds >= 0, not {wait!r}")
    key = str(lock_path)
    with _HELD_GUARD:
        if _HELD.get(key):
            _HELD[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD[key] -= 1
        return
    info = lock_path.with_name(lock_path.name + ".info")
    lock = FileLock(key)
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        try:
            holder = info.read_text().strip()
        except OSError:
            holder = ""
        raise JobFolderError(
            f"{owner}: another fourtop process is working on this folder"
            + (f" ({holder})" if holder else "")
            + "; wait for it to finish, then run this again"
        ) from None
    except OSError as exc:
        raise JobFolderError(
            f"cannot take the folder's lock {describe_os_error(exc, lock_path)}"
        ) from None
    with _HELD_GUARD:
        _HELD[key] = 1
    try:
        with suppress(OSError):
            info.write_text(f"{what}, process {os.getpid()} on {os.uname().nodename}\n")
        yield
    finally:
        with _HELD_GUARD:
            _HELD.pop(key, None)
        with suppress(OSError):
            info.unlink(missing_ok=True)
        lock.release()
