"""The spec file (``.jtd``): one SQLite database per job folder.

The original tool pickled its ``JobFolder``; a spec is now a small SQLite file:

* ``PRAGMA application_id`` = :data:`APPLICATION_ID` marks it as a fourtop spec,
  ``PRAGMA user_version`` = :data:`SCHEMA_VERSION` is its schema version;
* table ``meta(key, value)``: ``variables`` (JSON list, stored once per folder),
  ``created`` and ``fourtop_version``;
* table ``jobs``: one row per job: ``name``, ``seed`` and ``subseed`` (seed
  numbers as lower-case hex text, since 76-bit numbers exceed SQLite's int64),
  the cached ``state``, ``roc`` (NULL if none), ``reason``, ``has_out`` and the
  ``stamp`` (sizes and mtimes of ``.log``/``.out`` when the state was read).

Every write is one transaction in SQLite's default rollback-journal mode (no
WAL: it needs shared memory, which network file systems lack, and leaves
``-wal``/``-shm`` files beside a compacted spec). A process killed mid-write
leaves the previous state, and writers that update different jobs lose nothing
because only the rows they changed are written (``INSERT ... ON CONFLICT``).
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import pickletools
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fourtop import __version__
from fourtop.errors import OutputError, SpecError
from fourtop.fileio import clean_stale, describe_os_error, temporary_name
from fourtop.jobs.eventlog import JOB_STATES

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "JobRecord",
    "SpecData",
    "SpecWriteError",
    "delete_jobs",
    "looks_like_pickle",
    "read_spec",
    "update_spec",
    "write_spec",
]

logger = logging.getLogger(__name__)

#: ``PRAGMA application_id`` of a spec file: the bytes ``FTJD``.
APPLICATION_ID = 0x46544A44
#: Schema version written; files with a larger ``user_version`` are refused.
SCHEMA_VERSION = 1
#: Seconds a writer waits for another process's transaction to end.
BUSY_TIMEOUT = 60.0
#: A temporary spec of a dead process is removed once it is this old (seconds): in a folder
#: shared between machines a process id means nothing here, so age is the safe test.
STALE_AGE = 3600.0
#: Temporary specs of fourtop before 0.1 (``.<name>.jtd.<pid>.tmp``) and SQLite journals of
#: temporary specs (``.<name>.jtd.<pid>.<hex>.tmp-journal``).
_OLD_TEMP = re.compile(r"^\.(?P<name>.+\.jtd)\.(?P<pid>\d+)(?:\.[0-9a-f]{8})?\.tmp(?:-journal)?$")
#: ``meta`` keys of small files of the folder kept in the spec (``file:<name>``)
_FILE_KEY = "file:"
_PICKLE_STARTS = frozenset(
    {"PROTO", "MARK", "GLOBAL", "INST", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "FRAME"}
)
_PICKLE_HINT = (
    "spec file of the original tool (a pickle), which is not loaded for safety; "
    "re-import the folder with 'fourtop folders -i VARLIST'"
)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE jobs (
    name TEXT PRIMARY KEY,
    seed TEXT NOT NULL,
    subseed TEXT,
    state TEXT NOT NULL,
    roc REAL,
    reason TEXT,
    has_out INTEGER NOT NULL,
    stamp TEXT
);
"""
_UPSERT = (
    "INSERT INTO jobs (name, seed, subseed, state, roc, reason, has_out, stamp) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET seed=excluded.seed, "
    "subseed=excluded.subseed, state=excluded.state, roc=excluded.roc, "
    "reason=excluded.reason, has_out=excluded.has_out, stamp=excluded.stamp"
)


@dataclass(frozen=True)
class JobRecord:
    """One job as stored: numbers of seed and subseed, and the cached state."""

    name: str
    seed: int
    subseed: int | None
    state: str
    roc: float | None
    reason: str | None
    has_out: bool
    stamp: str | None = None

    def row(self) -> tuple[object, ...]:
        sub = None if self.subseed is None else format(self.subseed, "x")
        return (
            self.name,
            format(self.seed, "x"),
            sub,
            self.state,
            self.roc,
            self.reason,
            int(self.has_out),
            self.stamp,
        )


@dataclass(frozen=True)
class SpecData:
    """The whole content of a spec file.

    ``files``: small files of the folder kept in the spec (name -> text), e.g. its
    variable list and submission settings in a compacted spec.
    """

    variables: list[str]
    jobs: list[JobRecord]
    files: dict[str, str] = field(default_factory=dict)


class SpecWriteError(SpecError, OutputError):
    """A spec file cannot be written: no space left, read-only, no permission."""


def looks_like_pickle(head: bytes) -> bool:
    """True if ``head`` (a file's first bytes) is the start of a pickle, of any protocol.

    The original tool's spec files and seeds were pickles: protocol 0/1 text (``(ijobtracker``,
    ``ccopy_reg``) or binary (``\\x80\\x02``). The bytes are only decoded into opcodes with
    :func:`pickletools.genops`, which never executes or imports anything.
    """
    count = 0
    try:
        for opcode, _arg, _pos in pickletools.genops(io.BytesIO(head)):
            if count == 0 and opcode.name not in _PICKLE_STARTS:
                return False
            count += 1
            if opcode.name == "STOP":
                return True
    except ValueError:  # not an opcode, or an argument that does not decode
        return count >= 8  # the head ends inside a long pickle
    return False


def _write_problem(path: Path) -> str:
    """Why ``path`` cannot be written, in words (probes the file and its folder)."""
    probes: list[tuple[Path, int]] = [(path, os.O_RDWR)] if path.exists() else []
    probes.append((temporary_name(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    for probe, flags in probes:
        try:
            fd = os.open(probe, flags, 0o600)
        except OSError as exc:
            return describe_os_error(exc, "")
        os.close(fd)
        if flags & os.O_CREAT:
            probe.unlink(missing_ok=True)
    return "read-only"


def _sqlite_error(path: Path, exc: sqlite3.Error) -> SpecError:
    text = str(exc)
    if "not a database" in text:
        return SpecError(f"{path}: not a fourtop spec file (not an SQLite database)")
    if "malformed" in text or "corrupt" in text:
        return SpecError(
            f"{path}: spec file is corrupt ({text}); re-import the folder "
            "with 'fourtop folders -i VARLIST'"
        )
    if "locked" in text or "busy" in text:
        return SpecError(f"{path}: spec file is locked by another process ({text})")
    if "disk is full" in text:
        return SpecWriteError(f"{path}: cannot write spec file (no space left on device)")
    if "readonly" in text or "unable to open" in text:
        return SpecWriteError(f"{path}: cannot write spec file ({_write_problem(path)})")
    if "disk I/O error" in text:
        return SpecWriteError(f"{path}: cannot write spec file (disk I/O error)")
    return SpecError(f"{path}: cannot use spec file ({text})")


def _check_head(path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise SpecError(f"{path}: spec file not found") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read spec file ({describe_os_error(exc, '')})") from None
    if head[:16] == b"SQLite format 3\x00":
        return
    if looks_like_pickle(head):
        raise SpecError(f"{path}: {_PICKLE_HINT}")
    raise SpecError(f"{path}: not a fourtop spec file (not an SQLite database)")


@contextmanager
def _connect(
    path: Path, *, create: bool = False, shown: Path | None = None
) -> Iterator[sqlite3.Connection]:
    """Open a spec, checking it is one; SQLite errors become SpecError naming ``shown``."""
    shown = shown or path
    if not create:
        _check_head(path)
    uri = f"file:{path.as_posix()}?mode={'rwc' if create else 'rw'}"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
    except sqlite3.Error as exc:
        raise _sqlite_error(shown, exc) from None
    try:
        with closing(conn):
            if not create:
                _check_header(shown, conn)
            yield conn
    except sqlite3.Error as exc:
        raise _sqlite_error(shown, exc) from None


def _check_header(path: Path, conn: sqlite3.Connection) -> None:
    app = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if app != APPLICATION_ID:
        raise SpecError(f"{path}: not a fourtop spec file (SQLite application id {app:#x})")
    if version > SCHEMA_VERSION:
        raise SpecError(
            f"{path}: spec file has schema version {version}, newer than this "
            f"fourtop {__version__} reads (up to {SCHEMA_VERSION}); upgrade fourtop"
        )
    if version < 1:
        raise SpecError(f"{path}: spec file has no schema version; it is corrupt")


def _row_problem(state: object, roc: object) -> str | None:
    """What is wrong with a stored state and ROC integral (None if nothing)."""
    if state not in JOB_STATES:
        return f"unknown state {state!r}"
    if roc is None:
        return "state 'finished' without a ROC integral" if state == "finished" else None
    if isinstance(roc, bool) or not isinstance(roc, (int, float)):
        return f"ROC integral {roc!r}, not a number"
    if not math.isfinite(roc):
        return f"ROC integral {roc!r}, not a finite number"
    if not 0.0 <= roc <= 1.0:
        return f"ROC integral {roc!r}, outside [0, 1]"
    if state != "finished":
        return f"a ROC integral ({roc!r}) with state {state!r}"
    return None


def _record(path: Path, row: tuple) -> JobRecord:
    name, seed, subseed, state, roc, reason, has_out, stamp = row
    try:
        seed_number = int(seed, 16)
        sub_number = None if subseed is None else int(subseed, 16)
    except (TypeError, ValueError):
        raise SpecError(
            f"{path}: job {name!r} has a malformed seed number; spec is corrupt"
        ) from None
    problem = _row_problem(state, roc)
    if problem is not None:
        # never used silently: no result, and no cached stamp (a job folder re-reads the
        # job's files on its next check; a compacted spec has none, so the job stays failed)
        logger.warning(
            "%s: job %s has %s in the spec file; not used: the job counts as failed "
            "until its files are read again",
            path,
            name,
            problem,
        )
        state, roc, stamp = "failed", None, None
        reason = f"the spec file held {problem} for this job"
    return JobRecord(
        name,
        seed_number,
        sub_number,
        state,
        roc,
        reason if reason is None else str(reason),
        bool(has_out),
        stamp if stamp is None else str(stamp),
    )


def read_spec(path: str | os.PathLike[str]) -> SpecData:
    """Read a whole spec file.

    A job row whose state is not one of :data:`fourtop.jobs.eventlog.JOB_STATES`, or whose
    ROC integral is not a finite number in [0, 1] (or does not go with its state), is never
    used as it is: the job is returned failed, with the bad value in its ``reason`` and no
    cached stamp (so a job folder re-reads its files), and a warning is logged.

    Raises:
        SpecError: missing, not a spec, a pickle of the original tool, corrupt, or from a
            newer schema.
    """
    path = Path(path)
    with _connect(path) as conn:
        conn.execute("BEGIN")  # one consistent snapshot of meta and jobs
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        rows = conn.execute(
            "SELECT name, seed, subseed, state, roc, reason, has_out, stamp "
            "FROM jobs ORDER BY rowid"
        ).fetchall()
        conn.execute("COMMIT")
    try:
        variables = json.loads(meta["variables"])
        if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
            raise ValueError
    except (KeyError, ValueError, TypeError):
        raise SpecError(f"{path}: spec file has no valid variable list; it is corrupt") from None
    files = {
        k[len(_FILE_KEY) :]: v
        for k, v in meta.items()
        if isinstance(k, str) and k.startswith(_FILE_KEY) and isinstance(v, str)
    }
    return SpecData(variables, [_record(path, r) for r in rows], files)


def _clean_temporaries(folder: Path) -> None:
    """Remove temporary specs (and their journals) that dead processes left in ``folder``."""
    clean_stale(folder, extra=_OLD_TEMP, min_age=STALE_AGE)


def write_spec(
    path: str | os.PathLike[str],
    variables: list[str],
    jobs: Iterable[JobRecord],
    *,
    files: dict[str, str] | None = None,
) -> None:
    """Create a new spec file holding exactly ``variables``, ``jobs`` (and ``files``).

    The file is built under a temporary name unique to this call in the same folder
    (with the permissions of an ordinary new file) and renamed over ``path`` only once
    complete, so ``path`` holds either its old content or the new one, never a mixture.
    Temporary specs that dead processes left there (older than :data:`STALE_AGE`) are
    removed first.

    Raises:
        SpecWriteError: the file cannot be written (no space left, read-only, permission);
            ``path`` is left as it was and nothing is left behind.
    """
    path = Path(path)
    _clean_temporaries(path.parent)
    tmp = temporary_name(path)
    journal = tmp.with_name(tmp.name + "-journal")
    try:
        # create the file ourselves: an OS error says why (SQLite only says "unable to open"),
        # and the file gets the user's umask
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        with _connect(tmp, create=True, shown=path) as conn:
            conn.execute("BEGIN")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            meta = [
                ("variables", json.dumps(list(variables))),
                ("created", datetime.now().isoformat(timespec="seconds")),
                ("fourtop_version", __version__),
            ]
            meta += [(_FILE_KEY + name, text) for name, text in (files or {}).items()]
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta)
            conn.executemany(_UPSERT, (job.row() for job in jobs))
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp, journal)
        raise SpecWriteError(
            f"{path}: cannot write spec file ({describe_os_error(exc, '')})"
        ) from None
    except BaseException:
        _remove(tmp, journal)
        raise
    logger.debug("wrote spec %s", path)


def _remove(*paths: Path) -> None:
    for p in paths:
        with suppress(OSError):
            p.unlink(missing_ok=True)


@contextmanager
def _transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction on a spec: committed at the end, rolled back on any error.

    A COMMIT that fails (e.g. the disk is full) has already ended the transaction in
    SQLite; the rollback then is skipped, so the error says what really happened.
    """
    with _connect(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise


def update_spec(
    path: str | os.PathLike[str], jobs: Iterable[JobRecord], variables: list[str] | None = None
) -> None:
    """Insert or replace the given jobs (and the variable list) in one transaction.

    Rows of other jobs are untouched, so processes updating different jobs of
    one folder do not overwrite each other.

    Raises:
        SpecError: as :func:`read_spec`, or the spec's variable list differs.
        SpecWriteError: the spec cannot be written (no space left on device, read-only);
            it is left as it was.
    """
    path = Path(path)
    with _transaction(path) as conn:
        if variables is not None:
            row = conn.execute("SELECT value FROM meta WHERE key='variables'").fetchone()
            stored = json.loads(row[0]) if row else []
            if stored and stored != list(variables):
                raise SpecError(
                    f"{path}: the folder's jobs use another variable list "
                    f"({_first_difference(stored, list(variables))})"
                )
            if not stored:
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('variables', ?)",
                    (json.dumps(list(variables)),),
                )
        conn.executemany(_UPSERT, (job.row() for job in jobs))


def delete_jobs(
    path: str | os.PathLike[str],
    names: Iterable[str],
    *,
    before_commit: Callable[[], None] | None = None,
) -> int:
    """Delete the rows of the jobs ``names`` in one transaction; returns how many were deleted.

    ``before_commit`` runs inside the transaction once the rows are deleted: if it raises,
    nothing is deleted (used to move jobs elsewhere so that they live in exactly one place).

    Raises:
        SpecError: as :func:`read_spec`.
        SpecWriteError: the spec cannot be written; it is left as it was.
    """
    path = Path(path)
    with _transaction(path) as conn:
        before = conn.total_changes
        conn.executemany("DELETE FROM jobs WHERE name = ?", ((n,) for n in names))
        deleted = conn.total_changes - before
        if before_commit is not None:
            before_commit()
    return deleted


def _first_difference(stored: list[str], new: list[str]) -> str:
    for i, (a, b) in enumerate(zip(stored, new, strict=False), 1):
        if a != b:
            return f"position {i}: {a!r} in the spec, {b!r} in the new jobs"
    return f"{len(stored)} variables in the spec, {len(new)} in the new jobs"
