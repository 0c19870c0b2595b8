"""The job tracker: ``Seed``, ``Job`` and ``JobFolder``, as in the original manual.

A job folder holds ``<name>.job/.out/.err/.log`` per job and the spec file
``<folder>/<folder name>.jtd`` (see :mod:`fourtop.spec`). A compacted folder is
the spec file alone, ``<folder name>.jtd`` beside where the folder was.

Both ``import fourtop.jobtracker as jt`` and ``from fourtop.jobtracker import *``
work (the spec file is SQLite, not pickle, so the import style no longer matters).

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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from fourtop import condorlog
from fourtop.errors import FourtopError, JobFolderError
from fourtop.jobseed import Seed
from fourtop.naming import default_job_folder_name
from fourtop.spec import JobRecord, read_spec, update_spec, write_spec

__all__ = ["LOG", "Job", "JobFolder", "Seed", "job_name", "parse_job_name"]

logger = logging.getLogger(__name__)

#: Output from the library: True logs progress at INFO level, False only at DEBUG.
LOG = True

SPEC_SUFFIX = ".jtd"
#: the variable list of a folder's jobs, written next to them (read by ``run-job -l``)
VARLIST_FILE = "fourtop-varlist.txt"
#: held while a process changes which jobs run or exist (submit, resubmit, compaction)
LOCK_FILE = ".fourtop.lock"
_NAME = re.compile(r"^Keras_(\d+)vars_Seed_(\d+)(?:_Subseed_(\d+))?$")
_NAME_HELP = "expected Keras_<N>vars_Seed_<n>[_Subseed_<m>]"


def _say(msg: str, *args: object) -> None:
    logger.log(logging.INFO if LOG else logging.DEBUG, msg, *args)


def job_name(nvars: int, seed: Seed, subseed: Seed | None) -> str:
    """``Keras_<nvars>vars_Seed_<n>``, or ``..._Subseed_<m>`` for a subseed job."""
    name = f"Keras_{nvars}vars_Seed_{seed.number}"
    return name if subseed is None else f"{name}_Subseed_{subseed.number}"


def _parse_numbers(name: str, nvars: int) -> tuple[int, int | None]:
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
    names = tuple(variables)
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

    ``state`` is one of ``unstarted, queued, running, held, finished, failed``;
    ``reason`` is the hold reason or failure reason (else None).
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
        self.folder = None if folder is None else os.fspath(folder)
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
    def _from_record(cls, folder: str | None, variables: tuple[str, ...], rec: JobRecord) -> Job:
        job = cls(
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
        p = Path(path)
        if p.is_dir():
            self.compacted = False
            self.path = str(p.resolve())
            self._spec = Path(self.path, Path(self.path).name + SPEC_SUFFIX)
        elif p.is_file() or p.with_name(p.name + SPEC_SUFFIX).is_file():
            self.compacted = True
            self._spec = (p if p.is_file() else p.with_name(p.name + SPEC_SUFFIX)).resolve()
            self.path = str(self._spec)
        else:
            raise JobFolderError(f"{p}: no such job folder or spec file")
        self.jobs: list[Job] | None = None
        self._variables: tuple[str, ...] = ()
        if load and (self.compacted or self._spec.is_file()):
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

        Raises:
            JobFolderError: another process holds the lock (the message says which, if known).
        """
        from filelock import FileLock, Timeout

        if self.compacted:
            lock_path = self._spec.with_name(f".{self._spec.name}.lock")
        else:
            lock_path = Path(self.path, LOCK_FILE)
        info = lock_path.with_name(lock_path.name + ".info")
        lock = FileLock(str(lock_path))
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
                f"{lock_path}: cannot take the folder's lock ({exc.strerror or exc})"
            ) from None
        try:
            with suppress(OSError):
                info.write_text(f"{what}, process {os.getpid()} on {os.uname().nodename}\n")
            yield
        finally:
            with suppress(OSError):
                info.unlink(missing_ok=True)
            lock.release()

    def _load(self) -> None:
        data = read_spec(self._spec)
        self._variables = tuple(data.variables)
        folder = None if self.compacted else self.path
        self.jobs = [Job._from_record(folder, self._variables, r) for r in data.jobs]

    def add_jobs(self, jobs: Iterable[Job]) -> None:
        """Register new jobs (call :meth:`save` to store them).

        Raises:
            JobFolderError: compacted folder, a job name already present, or a
                job over another variable list than the folder's.
        """
        if self.compacted:
            raise JobFolderError(f"{self.path}: is compacted; jobs cannot be added")
        current = self.jobs if self.jobs is not None else []
        names = {j.name for j in current}
        new = list(jobs)
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
        """Store changed jobs in the spec file (one transaction; creates it if missing)."""
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
            JobFolderError: the folder exists and is not empty.
        """
        path = Path(default_job_folder_name() if name == "default" else name)
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
                f"{self.path}: has no spec file; import it first with "
                f"'fourtop folders -i VARLIST {self.path}'"
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
        """Jobs without an ``.out`` file that have not finished."""
        return [j for j in self.jobs or [] if not j.has_outfile and not j.finished]

    @property
    def held_jobs(self) -> list[Job]:
        """Jobs on hold (``reason`` is the hold reason)."""
        return [j for j in self.jobs or [] if j.state == "held"]

    def get_resubmit_list(self) -> list[Job]:
        """Jobs that finished without a ROC-integral value (failed)."""
        return [j for j in self.jobs or [] if j.state == "failed"]

    def variable_jobs(self, var: str) -> list[Job]:
        """Jobs whose seed's variable list contains ``var`` (included or not)."""
        return list(self.jobs or []) if var in self._variables else []

    def subseed_jobs(self, seed: Seed) -> list[Job]:
        """Jobs with this seed that have a subseed."""
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
            ``unstarted_jobs``, ``seeds`` and ``variable_counts``.
        """
        jobs = self._require_jobs()
        finished = failed = unstarted = seeds = 0
        compacted = self.compacted
        for j in jobs:
            state = j.state
            if state == "finished":
                finished += 1
            elif state == "failed":
                finished += 1
                failed += 1
            elif not compacted and not j._has_out:
                unstarted += 1
            if j.subseed is None:
                seeds += 1
        return {
            "jobs": len(jobs),
            "finished_jobs": finished,
            "failed_jobs": failed,
            "unstarted_jobs": unstarted,
            "seeds": seeds,
            "variable_counts": self.get_variable_counts(),
        }

    # ------------------------------------------------------------------ reading files
    def _scan(self) -> dict[str, str]:
        """``{file name: "size:mtime_ns"}`` of the folder's .log/.out files, one scandir."""
        entries: dict[str, str] = {}
        with os.scandir(self.path) as it:
            for e in it:
                if e.name.endswith((".log", ".out")):
                    try:
                        st = e.stat()
                    except OSError:
                        continue
                    entries[e.name] = f"{st.st_size}:{st.st_mtime_ns}"
        return entries

    def check(self, subset: Iterable[Job] | None = None) -> None:
        """Re-read the state of ``subset`` (default: every job) and store changes.

        Files unchanged since the last check (same size and mtime) are not read
        again; changed states are saved to the spec in one transaction.
        """
        jobs = self._require_jobs() if subset is None else list(subset)
        if self.compacted:
            return
        entries = self._scan()
        for job in jobs:
            stamp = _stamp(entries, job.name)
            if stamp != job._stamp:
                base = os.path.join(self.path, job.name)
                job._update(condorlog.job_status(base + ".log", base + ".out"), stamp)
        self.save()

    def import_folder(self, variables: Sequence[str]) -> None:
        """Build the spec from the ``.job`` files of a folder left by the original tool.

        Seeds and subseeds come from the job names and ``variables``; each
        job's state is read and the spec file is written (replacing any).

        Raises:
            JobFolderError: compacted folder, no job files, or a job name that
                does not fit ``variables`` (the message names the job).
        """
        if self.compacted:
            raise JobFolderError(f"{self.path}: is compacted; only job folders can be imported")
        names = tuple(variables)
        Seed(names)  # validates the list (no name twice)
        entries = self._scan()
        with os.scandir(self.path) as it:
            job_names = sorted(e.name[:-4] for e in it if e.name.endswith(".job"))
        if not job_names:
            raise JobFolderError(f"{self.path}: no .job files to import")
        jobs = []
        for name in job_names:
            try:
                seed, sub = _parse_numbers(name, len(names))
            except JobFolderError as err:
                raise JobFolderError(f"{self.path}: {err}") from None
            job = Job(
                self.path,
                name,
                Seed._make(names, seed),
                None if sub is None else Seed._make(names, sub),
            )
            base = os.path.join(self.path, name)
            job._update(condorlog.job_status(base + ".log", base + ".out"), _stamp(entries, name))
            jobs.append(job)
        write_spec(self._spec, list(names), [j._record() for j in jobs])
        self.jobs, self._variables = jobs, names
        for job in jobs:
            job._dirty = False
        _say("imported %d jobs into %s", len(jobs), self._spec)

    # ------------------------------------------------------------------ compaction
    def compact_folder(self, dest: str | os.PathLike[str] = "default") -> None:
        """Replace the folder by its spec file alone (default ``<folder>.jtd`` beside it).

        Refuses while any job is unfinished. The compacted spec is written and
        read back and compared before the folder is deleted; a failure at any
        step leaves the folder as it was.

        Raises:
            JobFolderError: compacted already, no spec, unfinished jobs, the
                destination exists, or the written spec does not read back equal.
        """
        if self.compacted:
            raise JobFolderError(f"{self.path}: is already compacted")
        jobs = self._require_jobs()
        self.check()
        unfinished = [j for j in jobs if not j.finished]
        if unfinished:
            raise JobFolderError(
                f"{self.path}: {len(unfinished)} of {len(jobs)} jobs are not "
                f"finished (e.g. {unfinished[0].name}, {unfinished[0].state}); "
                "compaction refused"
            )
        folder = Path(self.path)
        target = folder.with_name(folder.name + SPEC_SUFFIX) if dest == "default" else Path(dest)
        target = target.resolve()
        if target.exists():
            raise JobFolderError(f"{target}: already exists; compaction refused")
        if target.is_relative_to(folder):
            raise JobFolderError(f"{target}: is inside the folder being compacted")
        records = [j._record() for j in jobs]
        variables = list(self._variables)
        write_spec(target, variables, records)
        trash = folder.with_name(f".{folder.name}.compacting-{os.getpid()}")
        try:
            back = read_spec(target)
            if back.variables != variables or back.jobs != records:
                raise JobFolderError(
                    f"{target}: the written spec does not read back identical "
                    "to the folder's jobs; folder kept"
                )
            os.rename(folder, trash)
        except (OSError, FourtopError, KeyboardInterrupt) as exc:
            target.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise JobFolderError(
                    f"{folder}: compaction failed, folder kept ({exc.strerror or exc})"
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
