"""The job folder: its jobs, their states, and the spec file that stores them.

A job folder holds ``<name>.job/.out/.err/.log`` per job and the spec file
``<folder>/<folder name>.jtd`` (:mod:`fourtop.jobs.specfile`). A compacted folder is the spec
file alone (:mod:`fourtop.jobs.compaction`); a folder of the original tool gets its spec by
import (:mod:`fourtop.jobs.importing`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fourtop.errors import JobFolderError, SpecError, VariableError
from fourtop.fileio import describe_os_error
from fourtop.jobs import compaction, eventlog, importing
from fourtop.jobs.importing import import_command, list_difference
from fourtop.jobs.job import Job, files_stamp
from fourtop.jobs.layout import LOCK_FILE, SPEC_SUFFIX, VARLIST_FILE
from fourtop.jobs.lock import hold
from fourtop.jobs.seed import Seed, check_path
from fourtop.jobs.specfile import SpecData, SpecWriteError, read_spec, update_spec, write_spec
from fourtop.jobs.verbosity import say
from fourtop.naming import default_job_folder_name

__all__ = ["FolderStats", "JobFolder"]

logger = logging.getLogger(__name__)


class FolderStats(dict[str, Any]):
    """The counts of :meth:`JobFolder.get_stats`: a dict with the manual's keys (so it prints,
    compares and serialises as one), whose counts also read as typed attributes.

    Example:
        >>> s = FolderStats(jobs=3, finished_jobs=2, failed_jobs=1, seeds=1)
        >>> s.finished_jobs, s["failed_jobs"], isinstance(s, dict), sorted(s)[:2]
        (2, 1, True, ['failed_jobs', 'finished_jobs'])
    """

    def __init__(
        self,
        *,
        jobs: int = 0,
        finished_jobs: int = 0,
        failed_jobs: int = 0,
        unstarted_jobs: int = 0,
        unreadable_jobs: int = 0,
        seeds: int = 0,
        variable_counts: dict[str, int] | None = None,
    ) -> None:
        super().__init__(
            jobs=jobs,
            finished_jobs=finished_jobs,
            failed_jobs=failed_jobs,
            unstarted_jobs=unstarted_jobs,
            unreadable_jobs=unreadable_jobs,
            seeds=seeds,
            variable_counts=dict(variable_counts or {}),
        )

    @property
    def jobs(self) -> int:
        """Jobs in the folder."""
        return int(self["jobs"])

    @property
    def finished_jobs(self) -> int:
        """Finished jobs, with or without a result."""
        return int(self["finished_jobs"])

    @property
    def failed_jobs(self) -> int:
        """Jobs that finished without a result."""
        return int(self["failed_jobs"])

    @property
    def unstarted_jobs(self) -> int:
        """Jobs without an ``.out`` that have not finished."""
        return int(self["unstarted_jobs"])

    @property
    def unreadable_jobs(self) -> int:
        """Jobs whose files exist but cannot be read (in none of the other counts)."""
        return int(self["unreadable_jobs"])

    @property
    def seeds(self) -> int:
        """Seed jobs (jobs without a subseed)."""
        return int(self["seeds"])

    @property
    def variable_counts(self) -> dict[str, int]:
        """``{variable: seed jobs including it}``."""
        return dict(self["variable_counts"])


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

        One process at a time: a second one waits up to ``wait`` seconds, then raises
        (see :func:`fourtop.jobs.lock.hold`). Re-entrant within a process (``submit -r``
        holds it around :meth:`extract_failed`, which takes it too).

        Raises:
            JobFolderError: another process holds the lock (the message says which, if
                known), or the lock file cannot be created (e.g. no write permission).
        """
        if self.compacted:
            lock_path = self._spec.with_name(f".{self._spec.name}.lock")
        else:
            lock_path = Path(self.path, LOCK_FILE)
        with hold(lock_path, self.path, what=what, wait=wait):
            yield

    def reload(self) -> None:
        """Read the spec again (under :meth:`lock`: what another process registered before
        this one took the lock). Changes not yet saved are dropped."""
        if self.compacted or self._spec.is_file():
            self._load()

    def _load(self) -> SpecData:
        data = read_spec(self._spec)
        self._check_loaded(data)
        self._variables = tuple(data.variables)
        folder = None if self.compacted else self.path
        self.jobs = [Job.from_record(folder, self._variables, r) for r in data.jobs]
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
                f"{list_difference(listed, data.variables)}; re-import with the right list "
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
            variables = job.seed.variable_tuple
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
            write_spec(self._spec, list(self._variables), [j.record() for j in jobs])
        else:
            dirty = [j.record() for j in jobs if j._dirty]
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
        say(logger, "created job folder %s", folder.path)
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

    def get_stats(self) -> FolderStats:
        """Counts from the states last read (call :meth:`check` to re-read the files).

        Returns:
            A :class:`FolderStats`, read as attributes or as the manual's dict keys:
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
        return FolderStats(
            jobs=len(jobs),
            finished_jobs=finished,
            failed_jobs=failed,
            unstarted_jobs=unstarted,
            unreadable_jobs=unreadable,
            seeds=seeds,
            variable_counts=self.get_variable_counts(),
        )

    # ------------------------------------------------------------------ reading files
    def scan(self) -> dict[str, str]:
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
        entries = self.scan()
        for job in jobs:
            stamp = files_stamp(entries, job.name)
            if stamp != job._stamp:
                base = os.path.join(self.path, job.name)
                job.update_status(eventlog.job_status(base + ".log", base + ".out"), stamp)
        try:
            self.save()
        except SpecWriteError as err:
            logger.warning("job states refreshed but not stored: %s", err)

    # ------------------------------------------------------------------ import (importing.py)
    def known_variables(self) -> tuple[list[str], str] | None:
        """The variable list this folder's jobs were made with, and where it was found
        (see :func:`fourtop.jobs.importing.known_variables`)."""
        return importing.known_variables(self)

    def check_variable_list(self, variables: Sequence[str], *, force: bool = False) -> None:
        """Refuse a variable list other than the one the folder's jobs were made with
        (see :func:`fourtop.jobs.importing.check_variable_list`)."""
        importing.check_variable_list(self, variables, force=force)

    def import_folder(
        self, variables: Sequence[str] | str | os.PathLike[str], *, force: bool = False
    ) -> None:
        """Build the spec from the ``.job`` files of a folder left by the original tool
        (see :func:`fourtop.jobs.importing.import_folder`)."""
        importing.import_folder(self, variables, force=force)

    # ------------------------------------------------------------------ compaction.py
    def compact_folder(
        self, dest: str | os.PathLike[str] = "default", *, force: bool = False
    ) -> None:
        """Replace the folder by its spec file alone (default ``<folder>.jtd`` beside it);
        see :func:`fourtop.jobs.compaction.compact_folder`."""
        compaction.compact_folder(self, dest, force=force)

    def extract_failed(self, dest: str | os.PathLike[str] | None = None) -> JobFolder:
        """Move the failed jobs of a compacted spec into a new job folder, to resubmit them;
        returns that folder (see :func:`fourtop.jobs.compaction.extract_failed`)."""
        return JobFolder(compaction.extract_failed(self, dest))


def _job_list(jobs: object, where: str) -> list[Job]:
    if isinstance(jobs, (str, bytes)) or not isinstance(jobs, Iterable):
        raise JobFolderError(f"{where}: expected a list of Job, not {type(jobs).__name__}")
    result = list(jobs)
    bad = next((j for j in result if not isinstance(j, Job)), None)
    if bad is not None:
        raise JobFolderError(f"{where}: expected a list of Job, found {type(bad).__name__}")
    return result
