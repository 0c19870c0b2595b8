"""One home for writing files safely: all or nothing, unique temporary names, honest errors.

Every output fourtop writes (job results, spec files, result tables, plots, ROOT files,
settings) goes through :func:`atomic_output`: the content is written under a temporary name
unique to this process and call (``.<name>.<pid>.<random>.tmp`` in the same folder), flushed
and fsynced, given the permissions of an ordinary new file (``0666`` less the umask, unlike
:func:`tempfile.mkstemp`'s ``0600``), and renamed over the target. A reader sees the old file
or the new one, never half of one; two writers never share a temporary name; a failure
removes the temporary file and raises :class:`~fourtop.errors.OutputError` whose message says
what happened in words (``no space left on device`` rather than an errno).

Temporary files and folders carry the writer's process id, so :func:`clean_stale` can tell
the leftovers of a dead process (killed mid-write) from those of a live one.

Example:
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = pathlib.Path(tmp)
    ...     atomic_write_text(folder / "a.txt", "hello\\n")
    ...     (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('hello\\n', ['a.txt'])
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fourtop.errors import OutputError

__all__ = [
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "clean_stale",
    "describe_os_error",
    "file_mode",
    "json_text",
    "pid_alive",
    "temporary_name",
]

log = logging.getLogger(__name__)

#: ``.<name>.<pid>.<hex>.tmp`` (files) or ``.<name>.<pid>.<hex>.tmpdir`` (folders)
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp(?:dir)?$")


def file_mode() -> int:
    """Permissions of an ordinary new file: ``0o666`` less the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def temporary_name(path: str | os.PathLike[str], *, folder: bool = False) -> Path:
    """A temporary sibling of ``path`` unique to this process and call."""
    path = Path(path)
    suffix = "tmpdir" if folder else "tmp"
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.{suffix}")


def describe_os_error(exc: OSError, path: str | os.PathLike[str] | None = None) -> str:
    """A one-line description of an OS error, naming the file (``no space left on device``)."""
    where = os.fspath(path) if path is not None else (exc.filename or "")
    if exc.errno == errno.ENOSPC:
        what = "no space left on device"
    elif exc.errno == errno.EDQUOT:
        what = "disk quota exceeded"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        what = "permission denied"
    elif exc.errno == errno.EROFS:
        what = "read-only file system"
    elif exc.errno == errno.ENOENT:
        what = "no such file or folder"
    elif exc.errno == errno.ENOTDIR:
        what = "a part of the path is not a folder"
    else:
        what = (exc.strerror or str(exc)).lower()
    return f"{where}: {what}" if where else what


@contextmanager
def atomic_output(path: str | os.PathLike[str], *, what: str = "file") -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to; rename it over ``path``.

    The caller writes the temporary file by any means (``torch.save``, ``savefig``, uproot);
    on leaving the block it is fsynced, given :func:`file_mode` permissions and renamed over
    ``path``. On any error the temporary file is removed and ``path`` is left as it was.

    Raises:
        OutputError: the file could not be written (``what`` names it in the message).
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise OutputError(f"cannot write {what} {describe_os_error(exc, path)}") from None
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, what: str = "file") -> None:
    """Write ``data`` to ``path`` all at once (see :func:`atomic_output`)."""
    with atomic_output(path, what=what) as tmp, open(tmp, "xb") as fh:
        fh.write(data)
        fh.flush()


def atomic_write_text(path: str | os.PathLike[str], text: str, *, what: str = "file") -> None:
    """Write ``text`` (UTF-8) to ``path`` all at once (see :func:`atomic_output`)."""
    atomic_write_bytes(path, text.encode("utf-8"), what=what)


def json_text(doc: Any, indent: int = 2) -> str:
    """``doc`` as strict JSON text, ending in a newline: every NaN or infinity is null (JSON
    has neither; a reader such as ``jq`` refuses them).

    Example:
        >>> json_text({"a": [1.0, float("nan")], "b": float("inf")}, indent=0).split()
        ['{', '"a":', '[', '1.0,', 'null', '],', '"b":', 'null', '}']
    """
    return json.dumps(_finite(doc), indent=indent, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:  # pragma: no cover - best effort on an already failing path
        log.debug("could not remove %s", path)


def pid_alive(pid: int) -> bool:
    """True if a process with this id exists on this machine (or cannot be checked)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """True if ``pid`` has ended but not yet been reaped (Linux ``/proc``; False elsewhere).

    A process whose parent was killed is adopted by the container's first process, which
    may reap it only seconds later: until then ``kill(pid, 0)`` still succeeds.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] in (b"Z", b"X")


def clean_stale(
    folder: str | os.PathLike[str],
    *,
    extra: re.Pattern[str] | None = None,
    min_age: float = 0.0,
) -> list[Path]:
    """Remove the temporary files and folders dead processes left in ``folder``.

    Matches fourtop's temporary names (and ``extra``, a pattern with a ``pid`` group);
    entries of a live process are kept. ``min_age`` (seconds since the last change) keeps
    what a process on another machine may still be writing in a shared folder (its process
    id means nothing here). Returns what was removed. Never raises: a leftover that cannot
    be removed is logged with how to remove it.
    """
    now = time.time()
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry.name) or (extra.match(entry.name) if extra else None)
        if match is None or pid_alive(int(match["pid"])):
            continue
        if min_age > 0:
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime < min_age:
                    continue
            except OSError:
                continue
        path = Path(entry.path)
        _remove(path)
        if path.exists():
            log.warning("%s: left by a stopped fourtop process; remove it by hand", path)
        else:
            log.info("removed %s, left by a stopped fourtop process", path)
            removed.append(path)
    return removed
