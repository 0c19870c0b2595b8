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

import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fourtop import __version__
from fourtop.errors import SpecError

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "JobRecord",
    "SpecData",
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
    """The whole content of a spec file."""

    variables: list[str]
    jobs: list[JobRecord]


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
    return SpecError(f"{path}: cannot use spec file ({text})")


@contextmanager
def _connect(path: Path, *, create: bool = False) -> Iterator[sqlite3.Connection]:
    """Open a spec, checking it is one; SQLite errors become SpecError."""
    if not create:
        try:
            with open(path, "rb") as fh:
                head = fh.read(16)
        except FileNotFoundError:
            raise SpecError(f"{path}: spec file not found") from None
        except OSError as exc:
            raise SpecError(f"{path}: cannot read spec file ({exc.strerror})") from None
        if head[:1] == b"\x80":
            raise SpecError(
                f"{path}: spec file of the original tool (a pickle), which is not "
                "loaded for safety; re-import the folder with "
                "'fourtop folders -i VARLIST'"
            )
        if head != b"SQLite format 3\x00":
            raise SpecError(f"{path}: not a fourtop spec file (not an SQLite database)")
    uri = f"file:{path.as_posix()}?mode={'rwc' if create else 'rw'}"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
    except sqlite3.Error as exc:
        raise _sqlite_error(path, exc) from None
    try:
        with closing(conn):
            if not create:
                _check_header(path, conn)
            yield conn
    except sqlite3.Error as exc:
        raise _sqlite_error(path, exc) from None


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


def _record(path: Path, row: tuple) -> JobRecord:
    name, seed, subseed, state, roc, reason, has_out, stamp = row
    try:
        return JobRecord(
            name,
            int(seed, 16),
            None if subseed is None else int(subseed, 16),
            state,
            roc,
            reason,
            bool(has_out),
            stamp,
        )
    except (TypeError, ValueError):
        raise SpecError(
            f"{path}: job {name!r} has a malformed seed number; spec is corrupt"
        ) from None


def read_spec(path: str | os.PathLike[str]) -> SpecData:
    """Read a whole spec file.

    Raises:
        SpecError: missing, not a spec, corrupt, or from a newer schema.
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
    except (KeyError, ValueError):
        raise SpecError(f"{path}: spec file has no valid variable list; it is corrupt") from None
    return SpecData(variables, [_record(path, r) for r in rows])


def write_spec(
    path: str | os.PathLike[str], variables: list[str], jobs: Iterable[JobRecord]
) -> None:
    """Create a new spec file holding exactly ``variables`` and ``jobs``.

    The file is built under a temporary name in the same folder and renamed over
    ``path`` only once complete, so ``path`` holds either its old content or the
    new one, never a mixture.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        with _connect(tmp, create=True) as conn:
            conn.execute("BEGIN")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("variables", json.dumps(list(variables))),
                    ("created", datetime.now().isoformat(timespec="seconds")),
                    ("fourtop_version", __version__),
                ],
            )
            conn.executemany(_UPSERT, (job.row() for job in jobs))
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    logger.debug("wrote spec %s", path)


def update_spec(
    path: str | os.PathLike[str], jobs: Iterable[JobRecord], variables: list[str] | None = None
) -> None:
    """Insert or replace the given jobs (and the variable list) in one transaction.

    Rows of other jobs are untouched, so processes updating different jobs of
    one folder do not overwrite each other.

    Raises:
        SpecError: as :func:`read_spec`, or the spec's variable list differs.
    """
    path = Path(path)
    with _connect(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
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
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _first_difference(stored: list[str], new: list[str]) -> str:
    for i, (a, b) in enumerate(zip(stored, new, strict=False), 1):
        if a != b:
            return f"position {i}: {a!r} in the spec, {b!r} in the new jobs"
    return f"{len(stored)} variables in the spec, {len(new)} in the new jobs"
