"""One importance job: its seed and subseed, and the state its files show.

The state is read from the job's ``.log`` and ``.out`` (:func:`fourtop.jobs.eventlog.job_status`);
a *stamp* (size and modification time of both files) says whether they changed since.
"""

from __future__ import annotations

import os

from fourtop.errors import JobFolderError
from fourtop.jobs import eventlog
from fourtop.jobs.seed import Seed, check_path
from fourtop.jobs.specfile import JobRecord

__all__ = ["NO_FILES", "Job", "files_stamp"]

#: the stamp of a job none of whose files exist (see :func:`files_stamp`)
NO_FILES = "-/-"


def files_stamp(entries: dict[str, str], name: str) -> str:
    """The stamp of job ``name`` from a folder scan ``{file name: "size:mtime_ns"}``."""
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
        self.update_status(
            eventlog.job_status(base + ".log", base + ".out"),
            f"{_file_stamp(base + '.log')}/{_file_stamp(base + '.out')}",
        )
        return self.finished

    def update_status(self, status: eventlog.JobStatus, stamp: str) -> None:
        """Take the state read from the job's files (``stamp``: their size and mtime)."""
        new = (status.state, status.reason, status.roc_integral, status.has_outfile, stamp)
        if new != (self.state, self.reason, self._roc, self._has_out, self._stamp):
            (self.state, self.reason, self._roc, self._has_out, self._stamp) = new
            self._dirty = True

    def record(self) -> JobRecord:
        """The job as a row of the spec file."""
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
    def trusted(cls, folder: str | None, name: str, seed: Seed, subseed: Seed | None) -> Job:
        """A job from arguments already checked (loading specs, importing): no checks."""
        job = cls.__new__(cls)
        job._init(folder, name, seed, subseed)
        return job

    @classmethod
    def from_record(cls, folder: str | None, variables: tuple[str, ...], rec: JobRecord) -> Job:
        """The job a spec row describes, over the spec's ``variables``."""
        job = cls.trusted(
            folder,
            rec.name,
            Seed.trusted(variables, rec.seed),
            None if rec.subseed is None else Seed.trusted(variables, rec.subseed),
        )
        job.state, job.reason, job._roc = rec.state, rec.reason, rec.roc
        job._has_out, job._stamp, job._dirty = rec.has_out, rec.stamp, False
        return job

    def __repr__(self) -> str:
        return f"Job({self.name!r}, state={self.state!r})"
