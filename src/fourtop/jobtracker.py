"""The job tracker: ``Seed``, ``Job`` and ``JobFolder``, as in the original manual.

A job folder holds ``<name>.job/.out/.err/.log`` per job and the spec file
``<folder>/<folder name>.jtd`` (see :mod:`fourtop.spec`). A compacted folder is
the spec file alone, ``<folder name>.jtd`` beside where the folder was.

Both ``import fourtop.jobtracker as jt`` and ``from fourtop.jobtracker import *``
work (the spec file is SQLite, not pickle, so the import style no longer matters).

Wrong argument types (``JobFolder(None)``, ``Seed.from_binary(None, ...)``) raise
:class:`~fourtop.errors.FourtopError` subclasses with a one-line message, like every
other bad input.

Example:
    >>> import fourtop.jobtracker as jt
    >>> seed = jt.Seed.from_binary("110", ["a", "b", "c"])
    >>> jt.job_name(3, seed, seed.subseeds()[0])
    'Keras_3vars_Seed_6_Subseed_2'
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from fourtop import condorlog
from fourtop.errors import FourtopError, JobFolderError, SpecError, VariableError
from fourtop.fileio import describe_os_error, pid_alive, temporary_name
from fourtop.jobseed import Seed, check_path, check_variables
from fourtop.naming import default_job_folder_name
from fourtop.spec import (
    JobRecord,
    SpecData,
    SpecWriteError,
    delete_jobs,
    read_spec,
    update_spec,
    write_spec,
)

__all__ = [
    "LOG",
    "Job",
    "JobFolder",
    "Seed",
    "clean_leftovers",
    "job_name",
    "parse_job_name",
]

logger = logging.getLogger(__name__)

#: Output from the library: True logs progress at INFO level, False only at DEBUG.
LOG = True

SPEC_SUFFIX = ".jtd"
#: the variable list of a folder's jobs, written next to them (read by ``run-job -l``)
VARLIST_FILE = "fourtop-varlist.txt"
#: held while a process changes which jobs run or exist (submit, resubmit, compaction)
LOCK_FILE = ".fourtop.lock"
#: the training settings of a folder's first submission (written by ``fourtop submit``)
SETTINGS_FILE = "fourtop-submit.json"
#: small files of a job folder that a compacted spec keeps (and ``extract_failed`` restores)
KEPT_FILES = (VARLIST_FILE, SETTINGS_FILE)
_KEPT_MAX = 1 << 20
#: what an interrupted compaction leaves beside the folder: ``.<name>.compacting-<pid>``
_COMPACTING = re.compile(r"^\.(?P<name>.+)\.compacting-(?P<pid>\d+)$")
#: the stamp of a job none of whose files exist (see ``_stamp``)
_NO_FILES = "-/-"
#: locks this process holds, by lock file: the lock is re-entrant within a process
_HELD: dict[str, int] = {}
_HELD_GUARD = threading.Lock()
#: ASCII digits without leading zeros: one job, one name (``Seed_03`` would be a second name)
_NUMBER = r"(0|[1-9][0-9]*)"
_NAME = re.compile(rf"^Keras_{_NUMBER}vars_Seed_{_NUMBER}(?:_Subseed_{_NUMBER})?$")
_NAME_HELP = "expected Keras_<N>vars_Seed_<n>[_Subseed_<m>]"


def _say(msg: str, *args: object) -> None:
    logger.log(logging.INFO if LOG else logging.DEBUG, msg, *args)


def import_command(
    folder: str | os.PathLike[str], *, force: bool = False, default: str = "VARLIST"
) -> str:
    """The ``fourtop folders -i`` command that imports ``folder``: with the folder's own
    ``fourtop-varlist.txt`` when it has one (``fourtop submit`` writes it), else ``default``."""
    listed = Path(folder, VARLIST_FILE)
    varlist = str(listed) if listed.is_file() else default
    return f"fourtop folders -i {varlist}{' --force' if force else ''} {folder}"


def job_name(nvars: int, seed: Seed, subseed: Seed | None) -> str:
    """``Keras_<nvars>vars_Seed_<n>``, or ``..._Subseed_<m>`` for a subseed job.

    Raises:
        VariableError: ``nvars`` is not a whole number, or ``seed``/``subseed`` is not a Seed.
    """
    if isinstance(nvars, bool) or not isinstance(nvars, int):
        raise VariableError(f"job_name: nvars must be a whole number, not {nvars!r}")
    if not isinstance(seed, Seed) or not (subseed is None or isinstance(subseed, Seed)):
        raise VariableError(
            "job_name: seed must be a Seed and subseed a Seed or None, not "
            f"{type(seed).__name__} and {type(subseed).__name__}"
        )
    name = f"Keras_{nvars}vars_Seed_{seed.number}"
    return name if subseed is None else f"{name}_Subseed_{subseed.number}"


def _parse_numbers(name: str, nvars: int) -> tuple[int, int | None]:
    if not isinstance(name, str):
        raise JobFolderError(f"{name!r}: not a job name ({_NAME_HELP})")
    match = _NAME.match(name)
    if match is None:
        raise JobFolderError(f"{name}: not a job name ({_NAME_HELP})")
    n, seed = int(match[1]), int(match[2])
    sub = None if match[3] is None else int(match[3])
    if n != nvars:
        raise JobFolderError(f"{name}: job is for {n} variables but the variable list has {nvars}")
    if seed >= 1 << n:
        raise JobFolderError(
            f"{name}: seed number {seed} does not fit {n} variables (largest is 2^{n}-1)"
        )
    if sub is not None and (sub & ~seed or (seed ^ sub).bit_count() != 1):
        raise JobFolderError(
            f"{name}: subseed {sub} is not seed {seed} with exactly one "
            "included variable switched off"
        )
    return seed, sub


def parse_job_name(name: str, variables: Sequence[str]) -> tuple[Seed, Seed | None]:
    """Seed and subseed (or None) of a job name, checked against ``variables``.

    Raises:
        JobFolderError: the name is not a job name, is for another number of
            variables, has a seed number too large, or a subseed that is not
            the seed with one included variable switched off.
    """
    names = check_variables(variables, "parse_job_name")
    seed, sub = _parse_numbers(name, len(names))
    return Seed(names, seed), None if sub is None else Seed(names, sub)


def _stamp(entries: dict[str, str], name: str) -> str:
    return f"{entries.get(name + '.log', '-')}/{entries.get(name + '.out', '-')}"


def _file_stamp(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_size}:{st.st_mtime_ns}"


class Job:
    """One training job: a seed, optionally a subseed, and the state its files show.

    Args:
        folder: the folder holding the job's files, or None in a compacted folder.
        name: the job name, e.g. ``Keras_76vars_Seed_<n>_Subseed_<m>``.
        seed: the job's seed.
        subseed: the subseed, or None for a seed job.

    ``state`` is one of ``unstarted, queued, running, held, finished, failed,
    unreadable`` (``unreadable``: its ``.out`` or ``.log`` exists but cannot be read,
    e.g. another user's file without read permission: not finished, not failed, never
    resubmitted); ``reason`` is the hold, failure or unreadable reason (else None).
    """

    __slots__ = (
        "_dirty",
        "_has_out",
        "_roc",
        "_stamp",
        "folder",
        "name",
        "reason",
        "seed",
        "state",
        "subseed",
    )

    def __init__(
        self, folder: str | os.PathLike[str] | None, name: str, seed: Seed, subseed: Seed | None
    ) -> None:
        if folder is not None:
            folder = check_path(folder, "Job: folder", JobFolderError)
        if not isinstance(name, str) or not name:
            raise JobFolderError(f"Job: name must be a job name (a string), not {name!r}")
        if not isinstance(seed, Seed):
            raise JobFolderError(f"Job {name}: seed must be a Seed, not {type(seed).__name__}")
        if subseed is not None and not isinstance(subseed, Seed):
            raise JobFolderError(
                f"Job {name}: subseed must be a Seed or None, not {type(subseed).__name__}"
            )
        self._init(None if folder is None else os.fspath(folder), name, seed, subseed)

    def _init(self, folder: str | None, name: str, seed: Seed, subseed: Seed | None) -> None:
        self.folder = folder
        self.name, self.seed, self.subseed = name, seed, subseed
        self.state = "unstarted"
        self.reason: str | None = None
        self._roc: float | None = None
        self._has_out = False
        self._stamp: str | None = None
        self._dirty = True

    @property
    def path(self) -> str | None:
        """Full path of the ``.job`` file, or None in a compacted folder."""
        return None if self.folder is None else os.path.join(self.folder, self.name + ".job")

    @property
    def finished(self) -> bool:
        """True once the job has finished, with or without a result."""
        return self.state in ("finished", "failed")

    @property
    def roc_integral(self) -> float:
        """The job's ROC integral, or -1 if none was obtained (yet)."""
        return -1 if self._roc is None else self._roc

    @property
    def has_result(self) -> bool:
        """True if the job finished with a ROC-integral value."""
        return self._roc is not None

    @property
    def has_outfile(self) -> bool:
        """True if the job has an ``.out`` file (as last checked), or is compacted."""
        return self.folder is None or self._has_out

    def check_finished(self) -> bool:
        """Re-read the job's ``.log`` and ``.out``; update its state. Returns ``finished``."""
        if self.folder is None:
            return self.finished
        base = os.path.join(self.folder, self.name)
        self._update(
            condorlog.job_status(base + ".log", base + ".out"),
            f"{_file_stamp(base + '.log')}/{_file_stamp(base + '.out')}",
        )
        return self.finished

    def _update(self, status: condorlog.JobStatus, stamp: str) -> None:
        new = (status.state, status.reason, status.roc_integral, status.has_outfile, stamp)
        if new != (self.state, self.reason, self._roc, self._has_out, self._stamp):
            (self.state, self.reason, self._roc, self._has_out, self._stamp) = new
            self._dirty = True

    def _record(self) -> JobRecord:
        return JobRecord(
            self.name,
            self.seed.number,
            None if self.subseed is None else self.subseed.number,
            self.state,
            self._roc,
            self.reason,
            self._has_out,
            self._stamp,
        )

    @classmethod
    def _make(cls, folder: str | None, name: str, seed: Seed, subseed: Seed | None) -> Job:
        """Fast constructor for checked arguments (loading specs, importing)."""
        job = cls.__new__(cls)
        job._init(folder, name, seed, subseed)
        return job

    @classmethod
    def _from_record(cls, folder: str | None, variables: tuple[str, ...], rec: JobRecord) -> Job:
        job = cls._make(
            folder,
            rec.name,
            Seed._make(variables, rec.seed),
            None if rec.subseed is None else Seed._make(variables, rec.subseed),
        )
        job.state, job.reason, job._roc = rec.state, rec.reason, rec.roc
        job._has_out, job._stamp, job._dirty = rec.has_out, rec.stamp, False
        return job

    def __repr__(self) -> str:
        return f"Job({self.name!r}, state={self.state!r})"


class JobFolder:
    """A job folder and its spec file, or a compacted spec file alone.

    Args:
        path: a job folder, a compacted ``.jtd`` file, or the path of a folder
            that was compacted (its ``<path>.jtd`` is opened).
        load: read the spec file (False: leave ``jobs`` None, e.g. to re-import
            a folder whose spec is unreadable).

    Raises:
        JobFolderError: the path is neither a folder nor a spec file.
        SpecError: the spec file is not a valid spec.
    """

    def __init__(self, path: str | os.PathLike[str], *, load: bool = True) -> None:
        p = check_path(path, "JobFolder: path", JobFolderError)
        try:
            if p.is_dir():
                self.compacted = False
                self.path = str(p.resolve())
                self._spec = Path(self.path, Path(self.path).name + SPEC_SUFFIX)
            elif p.is_file() or (p.name and p.with_name(p.name + SPEC_SUFFIX).is_file()):
                self.compacted = True
                self._spec = (p if p.is_file() else p.with_name(p.name + SPEC_SUFFIX)).resolve()
                self.path = str(self._spec)
            else:
                raise JobFolderError(f"{p}: no such job folder or spec file")
            has_spec = self.compacted or self._spec.is_file()
        except OSError as exc:
            raise JobFolderError(
                f"cannot open the job folder {describe_os_error(exc, p)}"
            ) from None
        self.jobs: list[Job] | None = None
        self._variables: tuple[str, ...] = ()
        if load and has_spec:
            self._load()

    # ------------------------------------------------------------------ loading, saving
    @property
    def spec_path(self) -> str:
        """Path of the spec file (inside the folder, or the compacted file itself)."""
        return str(self._spec)

    @contextmanager
    def lock(self, *, what: str = "fourtop", wait: float = 0.0) -> Iterator[None]:
        """Hold the folder's lock while jobs are created, resubmitted, run or compacted.

        One process at a time: a second one waits up to ``wait`` seconds, then raises.
        The lock is an OS file lock, so it ends with its process (even killed by SIGKILL).
        Within one process it is re-entrant (``submit -r`` holds it around
        :meth:`extract_failed`, which takes it too).

        Raises:
            JobFolderError: another process holds the lock (the message says which, if
                known), or the lock file cannot be created (e.g. no write permission).
        """
        from filelock import FileLock, Timeout

        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not wait >= 0:
            raise JobFolderError(f"lock: wait must be a number of seconds >= 0, not {wait!r}")
        if self.compacted:
            lock_path = self._spec.with_name(f".{self._spec.name}.lock")
        else:
            lock_path = Path(self.path, LOCK_FILE)
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
                f"{self.path}: another fourtop process is working on this folder"
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

    def _load(self) -> SpecData:
        data = read_spec(self._spec)
        self._check_loaded(data)
        self._variables = tuple(data.variables)
        folder = None if self.compacted else self.path
        self.jobs = [Job._from_record(folder, self._variables, r) for r in data.jobs]
        return data

    def _check_loaded(self, data: SpecData) -> None:
        """A spec whose variable list cannot decode its jobs, or that disagrees with the
        folder's own ``fourtop-varlist.txt``, is refused: read with the wrong list, every seed
        would include the wrong variables and ``calculate`` would swap their results."""
        limit = 1 << len(data.variables)
        for rec in data.jobs:
            if rec.seed >= limit or (rec.subseed is not None and rec.subseed >= limit):
                raise SpecError(
                    f"{self._spec}: job {rec.name} has a seed number that does not fit the "
                    f"spec's {len(data.variables)} variables; the spec is corrupt (re-import "
                    f"the folder: {import_command(self.path, force=True)})"
                )
        if self.compacted or not data.variables:
            return
        path = Path(self.path, VARLIST_FILE)
        if not path.is_file():
            return  # no list beside the jobs (imported folders): nothing to compare
        from fourtop.variables import read_varlist

        try:
            listed = read_varlist(path)
        except VariableError:
            return  # an unreadable list says nothing about the spec
        if listed != list(data.variables):
            raise SpecError(
                f"{self._spec}: its variable list differs from the folder's {VARLIST_FILE}: "
                f"{_list_difference(listed, data.variables)}; re-import with the right list "
                f"('fourtop folders -i {path} --force {self.path}')"
            )

    def add_jobs(self, jobs: Iterable[Job]) -> None:
        """Register new jobs (call :meth:`save` to store them).

        Raises:
            JobFolderError: compacted folder, ``jobs`` is not a list of Job, a job name
                already present, or a job over another variable list than the folder's.
        """
        if self.compacted:
            raise JobFolderError(f"{self.path}: is compacted; jobs cannot be added")
        new = _job_list(jobs, "add_jobs")
        current = self.jobs if self.jobs is not None else []
        names = {j.name for j in current}
        for job in new:
            if job.name in names:
                raise JobFolderError(f"{self.path}: job {job.name} is already in the folder")
            variables = job.seed._variables
            if not self._variables and not current:
                self._variables = variables
            if variables != self._variables:
                raise JobFolderError(
                    f"{self.path}: job {job.name} uses a variable list of "
                    f"{len(variables)} variables that differs from the "
                    f"folder's {len(self._variables)}"
                )
            names.add(job.name)
            job.folder, job._dirty = self.path, True
        self.jobs = current + new

    def save(self) -> None:
        """Store changed jobs in the spec file (one transaction; creates it if missing).

        Raises:
            SpecWriteError: the spec cannot be written (no space left, read-only).
            SpecError: the spec is not a valid spec, or holds another variable list.
        """
        jobs = self.jobs or []
        if not self._spec.is_file():
            write_spec(self._spec, list(self._variables), [j._record() for j in jobs])
        else:
            dirty = [j._record() for j in jobs if j._dirty]
            if not dirty:
                return
            update_spec(self._spec, dirty, list(self._variables) if self._variables else None)
        for job in jobs:
            job._dirty = False

    @staticmethod
    def create(name: str = "default") -> JobFolder:
        """Create a blank job folder (default name ``condor_log_<day>.<Mon>.<year>``).

        Raises:
            JobFolderError: the name is not a path, or the folder exists and is not empty.
            OSError: the folder cannot be created (the caller says where).
        """
        path = default_job_folder_name() if name == "default" else name
        path = check_path(path, "JobFolder.create: name", JobFolderError)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise JobFolderError(f"{path}: already exists; choose another folder name")
        path.mkdir(parents=True, exist_ok=True)
        folder = JobFolder(path)
        folder.jobs = []
        folder.save()
        _say("created job folder %s", folder.path)
        return folder

    # ------------------------------------------------------------------ job lists
    def _require_jobs(self) -> list[Job]:
        if self.jobs is None:
            raise JobFolderError(
                f"{self.path}: has no spec file; import it first with '{import_command(self.path)}'"
            )
        return self.jobs

    def __len__(self) -> int:
        return len(self.jobs or [])

    def __iter__(self) -> Iterator[Job]:
        return iter(self.jobs or [])

    def __repr__(self) -> str:
        kind = "compacted" if self.compacted else "folder"
        return f"JobFolder({self.path!r}, {kind}, {len(self)} jobs)"

    @property
    def variables(self) -> list[str]:
        """The variable list of the folder's jobs (empty if it has none)."""
        return list(self._variables) if self.jobs else []

    @property
    def seed_jobs(self) -> list[Job]:
        """Jobs without a subseed."""
        return [j for j in self.jobs or [] if j.subseed is None]

    @property
    def result_jobs(self) -> list[Job]:
        """Jobs that finished with a ROC-integral value."""
        return [j for j in self.jobs or [] if j._roc is not None]

    @property
    def unstarted_jobs(self) -> list[Job]:
        """Jobs without an ``.out`` file that have not finished (and can be read)."""
        return [
            j
            for j in self.jobs or []
            if not j.has_outfile and not j.finished and j.state != "unreadable"
        ]

    @property
    def held_jobs(self) -> list[Job]:
        """Jobs on hold (``reason`` is the hold reason)."""
        return [j for j in self.jobs or [] if j.state == "held"]

    @property
    def unreadable_jobs(self) -> list[Job]:
        """Jobs whose ``.out`` or ``.log`` exists but cannot be read (``reason`` says which).

        Never resubmitted, never deleted: the result may be there for a user who can read it.
        """
        return [j for j in self.jobs or [] if j.state == "unreadable"]

    def get_resubmit_list(self) -> list[Job]:
        """Jobs that finished without a ROC-integral value (failed; never unreadable ones)."""
        return [j for j in self.jobs or [] if j.state == "failed"]

    def variable_jobs(self, var: str) -> list[Job]:
        """Jobs whose seed's variable list contains ``var`` (included or not)."""
        return list(self.jobs or []) if isinstance(var, str) and var in self._variables else []

    def subseed_jobs(self, seed: Seed) -> list[Job]:
        """Jobs with this seed that have a subseed.

        Raises:
            JobFolderError: ``seed`` is not a Seed.
        """
        if not isinstance(seed, Seed):
            raise JobFolderError(f"subseed_jobs: seed must be a Seed, not {type(seed).__name__}")
        return [j for j in self.jobs or [] if j.subseed is not None and j.seed == seed]

    def get_variable_counts(self) -> dict[str, int]:
        """``{variable: number of seed jobs including it}`` over the folder's variables."""
        n = len(self._variables)
        counts = [0] * n
        for job in self.seed_jobs:
            bits = job.seed.number
            while bits:
                low = bits & -bits
                counts[n - low.bit_length()] += 1
                bits ^= low
        return dict(zip(self._variables, counts, strict=True)) if self.jobs else {}

    def get_stats(self) -> dict[str, object]:
        """Counts from the states last read (call :meth:`check` to re-read the files).

        Returns:
            ``jobs``, ``finished_jobs`` (with or without result), ``failed_jobs``,
            ``unstarted_jobs``, ``unreadable_jobs`` (files that exist but cannot be
            read: in none of the other counts), ``seeds`` and ``variable_counts``.
        """
        jobs = self._require_jobs()
        finished = failed = unstarted = unreadable = seeds = 0
        compacted = self.compacted
        for j in jobs:
            state = j.state
            if state == "finished":
                finished += 1
            elif state == "failed":
                finished += 1
                failed += 1
            elif state == "unreadable":
                unreadable += 1
            elif not compacted and not j._has_out:
                unstarted += 1
            if j.subseed is None:
                seeds += 1
        return {
            "jobs": len(jobs),
            "finished_jobs": finished,
            "failed_jobs": failed,
            "unstarted_jobs": unstarted,
            "unreadable_jobs": unreadable,
            "seeds": seeds,
            "variable_counts": self.get_variable_counts(),
        }

    # ------------------------------------------------------------------ reading files
    def _scan(self) -> dict[str, str]:
        """``{file name: "size:mtime_ns"}`` of the folder's .log/.out files, one scandir."""
        entries: dict[str, str] = {}
        try:
            with os.scandir(self.path) as it:
                for e in it:
                    if e.name.endswith((".log", ".out")):
                        try:
                            st = e.stat()
                        except OSError:
                            continue
                        entries[e.name] = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError as exc:
            raise JobFolderError(
                f"cannot read the job folder {describe_os_error(exc, self.path)}"
            ) from None
        return entries

    def check(self, subset: Iterable[Job] | None = None) -> None:
        """Re-read the state of ``subset`` (default: every job) and store changes.

        Files unchanged since the last check (same size and mtime) are not read
        again; changed states are saved to the spec in one transaction. The spec is a
        cache of the files: if it cannot be written (another user's folder, a full
        disk), the states are still refreshed here and a warning is logged.

        Raises:
            JobFolderError: no spec, ``subset`` is not a list of Job, or the folder
                cannot be listed.
        """
        jobs = self._require_jobs() if subset is None else _job_list(subset, "check")
        if self.compacted:
            return
        entries = self._scan()
        for job in jobs:
            stamp = _stamp(entries, job.name)
            if stamp != job._stamp:
                base = os.path.join(self.path, job.name)
                job._update(condorlog.job_status(base + ".log", base + ".out"), stamp)
        try:
            self.save()
        except SpecWriteError as err:
            logger.warning("job states refreshed but not stored: %s", err)

    # ------------------------------------------------------------------ import
    def known_variables(self) -> tuple[list[str], str] | None:
        """The variable list this folder's jobs were made with, and where it was found.

        The spec's list if the spec can be read and has one, else the folder's
        ``fourtop-varlist.txt`` (written by ``fourtop submit``), else None.

        Raises:
            JobFolderError: ``fourtop-varlist.txt`` exists but cannot be read.
        """
        if not self.compacted and self._spec.is_file():
            try:
                stored = read_spec(self._spec).variables
            except SpecError as err:  # a spec being replaced because it is unreadable
                logger.debug("ignoring the unreadable spec: %s", err)
            else:
                if stored:
                    return stored, f"the spec {self._spec.name}"
        path = Path(self.path, VARLIST_FILE)
        if self.compacted or not path.exists():
            return None
        from fourtop.variables import read_varlist

        try:
            return read_varlist(path), VARLIST_FILE
        except VariableError as err:
            raise JobFolderError(
                f"{self.path}: cannot read the folder's own variable list ({err}); "
                "fix or remove it, or import with --force"
            ) from None

    def check_variable_list(self, variables: Sequence[str], *, force: bool = False) -> None:
        """Refuse a variable list other than the one the folder's jobs were made with.

        A job name holds a seed *number*: read with the names in another order, every
        seed would include the wrong variables (and ``calculate`` would swap their
        results). ``force`` skips the check (after a wrong import, for instance).

        Raises:
            JobFolderError: the list differs from :meth:`known_variables`; the message says
                which names moved, are missing or are extra.
        """
        names = list(check_variables(variables, "import_folder"))
        known = None if force else self.known_variables()
        if known is None or known[0] == names:
            return
        stored, source = known
        raise JobFolderError(
            f"{self.path}: the variable list differs from the one its jobs were made with "
            f"({source}): {_list_difference(stored, names)}; import refused, nothing "
            "changed (use the folder's list, or force it with 'fourtop folders -i VARLIST "
            "--force')"
        )

    def import_folder(
        self, variables: Sequence[str] | str | os.PathLike[str], *, force: bool = False
    ) -> None:
        """Build the spec from the ``.job`` files of a folder left by the original tool.

        Seeds and subseeds come from the job names and ``variables`` (a list of names,
        or ``"all"`` / a variable-list file as :func:`fourtop.variables.read_varlist`
        reads them); each job's state is read and the spec file is written (replacing
        any) while the folder's lock is held.

        Raises:
            JobFolderError: compacted folder, no job files, a job name that does not fit
                ``variables`` (the message names the job), a list that differs from the
                one the folder knows (unless ``force``, see :meth:`check_variable_list`),
                or another process holds the folder's lock.
            VariableError: ``variables`` is not a list of names (or a readable list file).
            SpecWriteError: the spec cannot be written. Nothing on disk changes on any error.
        """
        if self.compacted:
            raise JobFolderError(f"{self.path}: is compacted; only job folders can be imported")
        if isinstance(variables, (str, os.PathLike)):
            from fourtop.variables import read_varlist

            variables = read_varlist(variables)
        names = check_variables(variables, "import_folder")
        Seed(names)  # validates the list (no name twice)
        self.check_variable_list(names, force=force)
        try:
            with os.scandir(self.path) as it:
                job_names = sorted(e.name[:-4] for e in it if e.name.endswith(".job"))
        except OSError as exc:
            raise JobFolderError(
                f"cannot read the job folder {describe_os_error(exc, self.path)}"
            ) from None
        if not job_names:
            raise JobFolderError(f"{self.path}: no .job files to import")
        numbers = []
        for name in job_names:
            try:
                numbers.append(_parse_numbers(name, len(names)))
            except JobFolderError as err:
                raise JobFolderError(f"{self.path}: {err}") from None
        with self.lock(what="fourtop folders -i"):
            entries = self._scan()
            jobs = []
            for name, (seed, sub) in zip(job_names, numbers, strict=True):
                job = Job._make(
                    self.path,
                    name,
                    Seed._make(names, seed),
                    None if sub is None else Seed._make(names, sub),
                )
                base = os.path.join(self.path, name)
                status = condorlog.job_status(base + ".log", base + ".out")
                job._update(status, _stamp(entries, name))
                jobs.append(job)
            write_spec(self._spec, list(names), [j._record() for j in jobs])
            varlist = Path(self.path, VARLIST_FILE)
            if force and varlist.exists():  # the list the user insisted on is the folder's now
                from fourtop.fileio import atomic_write_text

                atomic_write_text(varlist, "".join(f"{n}\n" for n in names), what="variable list")
        self.jobs, self._variables = jobs, names
        for job in jobs:
            job._dirty = False
        _say("imported %d jobs into %s", len(jobs), self._spec)

    # ------------------------------------------------------------------ compaction
    def _kept_files(self) -> dict[str, str]:
        """The folder's small files a compacted spec keeps (:data:`KEPT_FILES`)."""
        kept: dict[str, str] = {}
        for name in KEPT_FILES:
            path = Path(self.path, name)
            try:
                if path.stat().st_size <= _KEPT_MAX:
                    kept[name] = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            except (OSError, UnicodeDecodeError) as exc:
                why = describe_os_error(exc, "") if isinstance(exc, OSError) else "not UTF-8 text"
                raise JobFolderError(
                    f"{path}: cannot be kept in the compacted spec ({why}); "
                    "compaction refused, nothing changed"
                ) from None
        return kept

    def _refuse_compaction(self, jobs: list[Job], force: bool) -> None:
        unfinished = [j for j in jobs if not j.finished]
        if unfinished:
            raise JobFolderError(
                f"{self.path}: {len(unfinished)} of {len(jobs)} jobs are not "
                f"finished (e.g. {unfinished[0].name}, {unfinished[0].state}); "
                "compaction refused"
            )
        failed = self.get_resubmit_list()
        if failed and not force:
            raise JobFolderError(
                f"{self.path}: {len(failed)} of {len(jobs)} jobs failed (e.g. "
                f"{failed[0].name}); 'fourtop submit -r' resubmits them; compaction "
                "refused (force keeps them as failed jobs in the compacted spec)"
            )

    def compact_folder(
        self, dest: str | os.PathLike[str] = "default", *, force: bool = False
    ) -> None:
        """Replace the folder by its spec file alone (default ``<folder>.jtd`` beside it).

        Refuses while any job is unfinished (or unreadable), and while any job failed
        unless ``force`` (the failed jobs then stay in the compacted spec, failed, and
        :meth:`extract_failed` moves them back into a job folder to resubmit them). The
        folder's lock is held throughout. The variable list and submission settings
        (:data:`KEPT_FILES`) are kept in the spec. The compacted spec is written and
        read back and compared before the folder is deleted; a failure at any step
        leaves the folder as it was. What an earlier, interrupted compaction left beside
        the folder is removed first (see :func:`clean_leftovers`).

        Raises:
            JobFolderError: compacted already, no spec, unfinished or (without ``force``)
                failed jobs, the destination exists, another process holds the lock,
                or the written spec does not read back equal.
            SpecWriteError: the compacted spec cannot be written (folder kept).
        """
        if self.compacted:
            raise JobFolderError(f"{self.path}: is already compacted")
        folder = Path(self.path)
        if dest == "default":
            target = folder.with_name(folder.name + SPEC_SUFFIX)
        else:
            target = check_path(dest, "compact_folder: dest", JobFolderError)
        target = target.resolve()
        jobs = self._require_jobs()
        self.check()
        self._refuse_compaction(jobs, force)
        if target.exists():
            raise JobFolderError(f"{target}: already exists; compaction refused")
        if target.is_relative_to(folder):
            raise JobFolderError(f"{target}: is inside the folder being compacted")
        clean_leftovers(folder.parent)
        trash = folder.with_name(f".{folder.name}.compacting-{os.getpid()}")
        with self.lock(what="compaction"):
            self.check()  # again: another process may have changed jobs before the lock
            self._refuse_compaction(jobs, force)
            records = [j._record() for j in jobs]
            variables = list(self._variables)
            files = self._kept_files()
            write_spec(target, variables, records, files=files)
            try:
                back = read_spec(target)
                if back.variables != variables or back.jobs != records or back.files != files:
                    raise JobFolderError(
                        f"{target}: the written spec does not read back identical "
                        "to the folder's jobs; folder kept"
                    )
                os.rename(folder, trash)
            except (OSError, FourtopError, KeyboardInterrupt) as exc:
                target.unlink(missing_ok=True)
                if isinstance(exc, OSError):
                    raise JobFolderError(
                        f"{folder}: compaction failed, folder kept ({describe_os_error(exc, '')})"
                    ) from None
                raise
        try:
            shutil.rmtree(trash)
        except OSError as exc:
            logger.warning(
                "%s: compacted into %s, but the old files could not all be deleted "
                "(%s); delete %s by hand",
                folder,
                target,
                exc.strerror,
                trash,
            )
        self.compacted, self.path, self._spec = True, str(target), target
        for job in jobs:
            job.folder = None
        _say("compacted %s into %s", folder, target)

    # ------------------------------------------------------------------ failed jobs of a .jtd
    def _extract_target(self, dest: str | os.PathLike[str] | None) -> Path:
        if dest is not None:
            target = check_path(dest, "extract_failed: dest", JobFolderError).resolve()
            if target.exists():
                raise JobFolderError(f"{target}: already exists; choose another folder")
            return target
        stem = self._spec.name
        stem = stem[: -len(SPEC_SUFFIX)] if stem.endswith(SPEC_SUFFIX) else stem
        base = self._spec.with_name(stem)
        candidates = [base, base.with_name(f"{stem}_resubmit")]
        candidates += (base.with_name(f"{stem}_resubmit_{n}") for n in range(2, 1000))
        for target in candidates:
            if target != self._spec and not os.path.lexists(target):
                return target
        raise JobFolderError(f"{base}_resubmit_*: no free folder name; pass dest")

    def extract_failed(self, dest: str | os.PathLike[str] | None = None) -> JobFolder:
        """Move the failed jobs of a compacted spec into a new job folder, to resubmit them.

        Contract (what ``fourtop submit -r X.jtd`` relies on):

        * ``self`` must be compacted and hold failed jobs.
        * The new job folder is ``dest``, or by default the compacted spec's path without
          ``.jtd`` (the folder it was compacted from), or ``<that>_resubmit``,
          ``<that>_resubmit_2``, ... if that exists. It holds exactly the failed jobs
          (same names, seeds and subseeds), its spec, the variable list
          (``fourtop-varlist.txt``) and the submission settings the compacted spec kept
          (``fourtop-submit.json``, if it had them). No job files: each job is ``failed``
          with the reason ``failed before compaction: <old reason>`` and stays failed
          until it runs again, so ``get_resubmit_list()`` of the returned folder lists
          exactly them (``submit -r`` resubmits them like any failed job).
        * In the same transaction the jobs' rows are deleted from the compacted spec, so
          each job lives in exactly one place (a crash in between leaves them in both
          places, never in none). ``self`` is reloaded (its failed jobs are gone).
        * The compacted spec's lock is held throughout (re-entrant: a caller may hold it).

        Returns:
            The new job folder.

        Raises:
            JobFolderError: not compacted, no failed jobs, ``dest`` exists, or another
                process holds the lock.
            SpecWriteError: the folder or spec cannot be written (nothing changed).
        """
        if not self.compacted:
            raise JobFolderError(
                f"{self.path}: is a job folder, not a compacted spec; 'fourtop submit -r' "
                "resubmits its failed jobs in place"
            )
        self._require_jobs()
        with self.lock(what="extracting failed jobs"):
            data = self._load()  # the rows as they are now, under the lock
            failed = self.get_resubmit_list()
            if not failed:
                raise JobFolderError(f"{self.path}: has no failed jobs to extract")
            target = self._extract_target(dest)
            records = [
                JobRecord(
                    j.name,
                    j.seed.number,
                    None if j.subseed is None else j.subseed.number,
                    "failed",
                    None,
                    f"failed before compaction: {j.reason or 'no reason recorded'}",
                    False,
                    _NO_FILES,
                )
                for j in failed
            ]
            tmp = temporary_name(target, folder=True)
            moved = False

            def move() -> None:
                nonlocal moved
                if os.path.lexists(target):
                    raise JobFolderError(f"{target}: appeared meanwhile; nothing extracted")
                os.rename(tmp, target)
                moved = True

            try:
                tmp.mkdir()
                files = dict(data.files)
                files[VARLIST_FILE] = "".join(f"{v}\n" for v in data.variables)
                for name, text in files.items():
                    if name in KEPT_FILES:
                        (tmp / name).write_text(text, encoding="utf-8")
                write_spec(tmp / (target.name + SPEC_SUFFIX), data.variables, records)
                delete_jobs(self._spec, [r.name for r in records], before_commit=move)
            except BaseException as exc:
                if moved:
                    with suppress(OSError):
                        os.rename(target, tmp)
                shutil.rmtree(tmp, ignore_errors=True)
                if isinstance(exc, OSError):
                    raise SpecWriteError(
                        f"cannot create the job folder {describe_os_error(exc, target)}; "
                        "nothing extracted"
                    ) from None
                raise
            self._load()
        _say("moved %d failed jobs of %s into %s", len(records), self.path, target)
        return JobFolder(target)


def _job_list(jobs: object, where: str) -> list[Job]:
    if isinstance(jobs, (str, bytes)) or not isinstance(jobs, Iterable):
        raise JobFolderError(f"{where}: expected a list of Job, not {type(jobs).__name__}")
    result = list(jobs)
    bad = next((j for j in result if not isinstance(j, Job)), None)
    if bad is not None:
        raise JobFolderError(f"{where}: expected a list of Job, found {type(bad).__name__}")
    return result


def _list_difference(known: Sequence[str], new: Sequence[str], limit: int = 5) -> str:
    """Which names moved, are missing or are extra, e.g. ``AK4HT moved from position 3 to 5``."""
    where = {name: i for i, name in enumerate(new, 1)}
    parts: list[str] = []
    missing = [n for n in known if n not in where]
    extra = [n for n in new if n not in set(known)]
    moved = [
        f"{name} moved from position {i} to {where[name]}"
        for i, name in enumerate(known, 1)
        if name in where and where[name] != i
    ]
    if missing:
        parts.append(f"missing: {', '.join(missing[:limit])}" + _more(missing, limit))
    if extra:
        parts.append(f"not in the folder's list: {', '.join(extra[:limit])}" + _more(extra, limit))
    if moved:
        parts.append("; ".join(moved[:limit]) + _more(moved, limit))
    return "; ".join(parts)


def _more(items: Sequence[object], limit: int) -> str:
    return f" (and {len(items) - limit} more)" if len(items) > limit else ""


def clean_leftovers(where: str | os.PathLike[str]) -> list[Path]:
    """Remove what interrupted compactions left in the folder ``where``.

    A compaction renames the job folder to ``.<name>.compacting-<pid>`` only after the
    compacted spec ``<name>.jtd`` has been written and verified, then deletes it: such a
    folder of a process that is no longer running is garbage once ``<name>.jtd`` exists
    beside it, and is removed. One without its ``.jtd`` is kept and reported (a warning
    saying how to check it). Never raises. Returns what was removed.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(where))
    except OSError:
        return removed
    for entry in entries:
        match = _COMPACTING.match(entry.name)
        if match is None or pid_alive(int(match["pid"])):
            continue
        path = Path(entry.path)
        spec = path.with_name(match["name"] + SPEC_SUFFIX)
        if not spec.is_file():
            logger.warning(
                "%s: left by an interrupted compaction, but %s is missing: check the files "
                "in it and remove it by hand",
                path,
                spec.name,
            )
            continue
        shutil.rmtree(path, ignore_errors=True)
        if os.path.lexists(path):
            logger.warning(
                "%s: left by an interrupted compaction (into %s); remove it by hand",
                path,
                spec.name,
            )
        else:
            logger.info("removed %s, left by an interrupted compaction", path)
            removed.append(path)
    return removed
