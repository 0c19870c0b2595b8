"""One run per tag: an OS file lock that leaves no file behind.

The lock is ``flock`` on ``.hyperopt_<tag>.lock`` in the dataset folder. It ends with its
process (a killed run never blocks the next one), and the file is removed on release, so
a finished or failed run leaves nothing. Removing a lock file races with a process that
opened it just before; the holder therefore checks, once it has the lock, that the path
still names the file it locked, and tries again otherwise.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from types import TracebackType

from fourtop.errors import OutputError, ParameterError
from fourtop.fileio import describe_os_error, file_mode

__all__ = ["TagLock"]


class TagLock:
    """``with TagLock(path, tag=...):`` holds the lock or raises at once.

    Raises:
        ParameterError: another process holds the lock (another run on the same tag).
        OutputError: the lock file cannot be created (read-only or full folder).
    """

    def __init__(self, path: str | os.PathLike[str], *, tag: str) -> None:
        self.path = Path(path)
        self.tag = tag
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, file_mode())
            except OSError as exc:
                raise OutputError(
                    f"cannot create the lock file {describe_os_error(exc, self.path)}"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise ParameterError(
                        f"{self.path.parent}: another fourtop hyperopt run is using tag "
                        f"{self.tag!r} ({self.path.name}); wait for it, or choose another tag"
                    ) from None
                raise OutputError(f"cannot lock {describe_os_error(exc, self.path)}") from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except OSError:
                same = False
            if same:
                self._fd = fd
                return
            os.close(fd)  # the holder before us removed it meanwhile: lock the new file

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # while still holding it: nobody else has it
            self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> TagLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
