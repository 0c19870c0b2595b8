"""Result files that appear all at once: written aside, then moved into the output folder.

Used by ``fourtop calculate`` (the result files) and ``fourtop generate`` (the samples).

``fourtop calculate`` writes six or seven files. They are written into a private staging
folder first (``.<output>.<pid>.<hex>.tmpdir`` beside a new output folder, or
``<output>/.calculate.<pid>.<hex>.tmpdir`` inside an existing one, so that the final rename
never crosses file systems) and moved into place only when every one of them is complete.
A failure (full disk, read-only or unwritable folder) or an interrupt removes the staging
folder and any folder this run created, so the output folder keeps what it held. Several runs
writing into one folder at once each stage their own files and move them in one run at a time
(an advisory lock on the folder itself), so the folder always holds one run's complete set.

A run killed with SIGKILL leaves its staging folder; the next run removes it
(:func:`fourtop.fileio.clean_stale`) once it has been untouched for :data:`STALE_AGE`
seconds (a process on another machine sharing the folder may still be writing a younger
one), and names it until then.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fourtop.errors import OutputError
from fourtop.fileio import clean_stale, describe_os_error, pid_alive, temporary_name

__all__ = ["STALE_AGE", "Stage", "check_output_folder", "clean_leftovers", "staged_output"]

log = logging.getLogger(__name__)

#: leftovers of a dead process younger than this (seconds) are reported, not removed
STALE_AGE = 60.0

_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp(?:dir)?$")


def _existing_ancestor(path: Path) -> Path:
    for parent in (path, *path.parents):
        if os.path.lexists(parent):
            return parent
    return Path(path.anchor or ".")


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_output_folder(folder: str | os.PathLike[str], *, option: str = "-f") -> Path:
    """Fail now, before any work, if result files could not be written into ``folder``.

    ``option`` names the command-line option that chose the folder, for the messages.

    Creates nothing: a probe folder is made and removed in the output folder, or in its
    nearest existing parent when it does not exist yet. Returns the absolute folder.

    Raises:
        OutputError: the folder is a file, a parent is not a folder, or nothing can be
            created there (permission, read-only file system, a pseudo file system like /proc).
    """
    folder = Path(os.path.abspath(folder))
    base = _existing_ancestor(folder)
    for part in folder.relative_to(base).parts:
        if len(os.fsencode(part)) > _name_max(base if base.is_dir() else base.parent):
            raise OutputError(f"cannot create the output folder {folder}: {part!r}: name too long")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder; choose another {option}")
    if not base.is_dir():
        raise OutputError(f"cannot create the output folder {folder}: {base} is not a folder")
    probe = temporary_name(base / "fourtop", folder=True)
    try:
        os.mkdir(probe)
    except OSError as exc:
        if exc.errno == errno.ENOENT:  # /proc and the like: the folder exists, takes nothing
            reason = f"{base}: does not accept new files"
        else:
            reason = describe_os_error(exc, base)
        where = "write into" if base == folder else "create the output folder"
        raise OutputError(f"cannot {where} {folder}: {reason}") from None
    try:
        os.rmdir(probe)
    except OSError:  # pragma: no cover - we just made it
        log.debug("could not remove the probe %s", probe)
    return folder


def clean_leftovers(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove what killed runs left in and beside ``folder``; name the younger ones.

    Returns the leftovers kept (of a stopped process, younger than :data:`STALE_AGE`).
    """
    folder = Path(os.path.abspath(folder))
    kept: list[Path] = []
    for place in (folder.parent, folder):
        if not place.is_dir():
            continue
        clean_stale(place, min_age=STALE_AGE)
        try:
            names = os.listdir(place)
        except OSError:
            continue
        now = time.time()
        for name in names:
            match = _LEFTOVER.match(name)
            if match is None or pid_alive(int(match["pid"])):
                continue
            try:
                young = now - os.lstat(place / name).st_mtime < STALE_AGE
            except OSError:
                continue
            if young:  # older ones clean_stale removed, or warned about
                kept.append(place / name)
    for path in kept:
        log.warning(
            "%s: left by a fourtop process that stopped less than %.0f s ago; the next run "
            "removes it after that, or remove it by hand if no other machine writes here",
            path,
            STALE_AGE,
        )
    return kept


class Stage:
    """The staging folder of one run: :meth:`path` gives where to write each file.

    ``label`` names the staging folder inside an existing output folder
    (``.<label>.<pid>.<hex>.tmpdir``).
    """

    def __init__(self, folder: Path, label: str = "calculate") -> None:
        self.folder = folder
        self.names: list[str] = []
        self.created: list[Path] = []  # output folder parents this run made
        self.inside = folder.is_dir()
        beside = temporary_name(folder, folder=True)
        self.dir = beside
        try:
            if not self.inside:
                missing = [p for p in folder.parents if not p.exists()]
                for parent in reversed(missing):
                    os.mkdir(parent)
                    self.created.append(parent)
                if len(os.fsencode(beside.name)) > _name_max(folder.parent):
                    # no room for a staging name beside it: make the folder, stage inside
                    os.mkdir(folder)
                    self.created.append(folder)
                    self.inside = True
            self.dir = temporary_name(folder / label, folder=True) if self.inside else beside
            os.mkdir(self.dir)
        except BaseException:
            self.abort()
            raise

    def path(self, name: str) -> Path:
        """Where to write the output file ``name`` (a path in the staging folder)."""
        if name not in self.names:
            self.names.append(name)
        return self.dir / name

    def commit(self) -> None:
        """Move every staged file into the output folder (a new folder: in one rename)."""
        if not self.inside:
            try:
                os.rename(self.dir, self.folder)
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not self.folder.is_dir():
                    raise
                # another run made the folder meanwhile: move the files in, as into any folder
            else:
                self.created.clear()
                _fsync_dir(self.folder.parent)
                return
        with _folder_lock(self.folder):
            for name in self.names:
                os.replace(self.dir / name, self.folder / name)
        os.rmdir(self.dir)
        _fsync_dir(self.folder)
        self.created.clear()

    def abort(self) -> None:
        """Remove the staging folder and the folders this run created."""
        shutil.rmtree(self.dir, ignore_errors=True)
        for parent in reversed(self.created):
            try:
                os.rmdir(parent)
            except OSError:
                log.debug("could not remove %s", parent)
        self.created.clear()


@contextmanager
def staged_output(
    folder: str | os.PathLike[str], *, label: str = "calculate", what: str = "the results"
) -> Iterator[Stage]:
    """Stage output files for ``folder``; commit them when the block ends without error.

    ``label`` names the staging folder (see :class:`Stage`), ``what`` the files in messages.

    Raises:
        OutputError: a file could not be written or moved; the output folder is unchanged
            (the message names the final path and the reason, e.g. no space left on device).
    """
    folder = Path(os.path.abspath(folder))
    try:
        stage = Stage(folder, label)
    except OSError as exc:
        raise OutputError(
            f"cannot write {what} into {folder}: {describe_os_error(exc, exc.filename)}"
        ) from None
    try:
        yield stage
        stage.commit()
    except OutputError as exc:
        stage.abort()
        message = str(exc).replace(str(stage.dir), str(folder))
        raise OutputError(f"{message}; {folder} was left as it was") from None
    except OSError as exc:
        stage.abort()
        reason = describe_os_error(exc).replace(str(stage.dir), str(folder))
        raise OutputError(
            f"cannot write {what} into {folder}: {reason}; it was left as it was"
        ) from None
    except BaseException:
        stage.abort()
        raise


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An advisory lock on the folder itself (no lock file); best effort where unsupported."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # e.g. a network file system without flock
            log.debug("%s: no folder lock available", folder)
        yield
    finally:
        os.close(fd)  # releases the lock


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
