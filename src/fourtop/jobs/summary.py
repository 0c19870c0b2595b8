"""What ``fourtop folders`` reads and decides about a job folder, as plain data.

:func:`summarize` turns a folder into a :class:`FolderSummary` (the statistics row with its
percentages, the seeds per variable, the failed, held and unreadable jobs) that the command
renders. :func:`importable_folder`, :func:`check_compaction` and :func:`refresh` are the checks
the command makes before it asks anything or changes a folder, and :func:`clean_beside` the
cleanup after it. Nothing here prints; refusals are :class:`~fourtop.errors.FourtopError`.

The job engine does not know the batch systems: the callers pass what brings their state into
the jobs' logs (``fourtop.backends.sync_folder``) as ``sync``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fourtop.errors import FourtopError
from fourtop.jobs.compaction import clean_leftovers
from fourtop.jobs.folder import JobFolder
from fourtop.jobs.importing import import_command
from fourtop.jobs.job import Job
from fourtop.jobs.layout import SPEC_SUFFIX

__all__ = [
    "STATES",
    "CompactionPlan",
    "FolderSummary",
    "JobLine",
    "check_compaction",
    "clean_beside",
    "folder_record",
    "importable_folder",
    "percent",
    "refresh",
    "summarize",
]

#: brings batch-system state into the job logs of the folder at this path before they are read
Sync = Callable[[str], object]


@dataclass(frozen=True)
class JobLine:
    """One job of a listing: its name and why it is listed (empty when no reason is known)."""

    name: str
    reason: str

    @classmethod
    def of(cls, job: Job) -> JobLine:
        return cls(job.name, job.reason or "")


@dataclass(frozen=True)
class FolderSummary:
    """A folder's state as rows of text: what ``fourtop folders`` shows.

    Attributes:
        title: the folder's path, with `` (compacted)`` for a compacted spec file.
        columns: the statistics' headers; ``unreadable`` only when some job is.
        cells: the statistics row, counts with their percentage of all jobs.
        variable_counts: ``(position, variable, seeds including it)`` per variable.
        listings: ``(label, jobs)`` for the failed, held and unreadable jobs, in that order.
    """

    title: str
    columns: list[str]
    cells: list[str]
    variable_counts: list[tuple[str, str, str]]
    listings: list[tuple[str, list[JobLine]]]

    @property
    def unreadable(self) -> list[JobLine]:
        """The jobs whose files exist but cannot be read."""
        return dict(self.listings)["unreadable"]

    @property
    def unreadable_note(self) -> str | None:
        """What to tell about unreadable jobs (None when there are none)."""
        jobs = self.unreadable
        if not jobs:
            return None
        return (
            f"{len(jobs)} job(s) have files this user cannot read (e.g. {jobs[0].name}: "
            f"{jobs[0].reason}); they are neither failed nor resubmitted: ask the folder's "
            "owner to make them readable"
        )


def percent(n: int, total: int) -> str:
    """``n`` with its share of ``total``; ``n`` alone when ``total`` is 0.

    Example:
        >>> percent(3, 7), percent(0, 0)
        ('3 (42.9%)', '0')
    """
    return f"{n} ({100.0 * n / total:.1f}%)" if total else f"{n}"


def summarize(folder: JobFolder) -> FolderSummary:
    """The summary of ``folder`` from the states last read (see :func:`refresh`).

    Raises:
        JobFolderError: the folder has no spec file.
    """
    stats = folder.get_stats()
    total = stats.jobs
    held = folder.held_jobs
    unreadable = folder.unreadable_jobs
    columns = ["jobs", "finished", "failed", "unstarted", "held"]
    cells = [
        str(total),
        percent(stats.finished_jobs, total),
        percent(stats.failed_jobs, total),
        percent(stats.unstarted_jobs, total),
        percent(len(held), total),
    ]
    if unreadable:
        columns.append("unreadable")
        cells.append(percent(len(unreadable), total))
    columns.append("seeds")
    cells.append(str(stats.seeds))
    listings = [
        ("failed", folder.get_resubmit_list()),
        ("held", held),
        ("unreadable", unreadable),
    ]
    return FolderSummary(
        title=folder.path + (" (compacted)" if folder.compacted else ""),
        columns=columns,
        cells=cells,
        variable_counts=[
            (str(i), var, str(n)) for i, (var, n) in enumerate(stats.variable_counts.items(), 1)
        ],
        listings=[(label, [JobLine.of(j) for j in jobs]) for label, jobs in listings],
    )


#: every state a job can be in (``Job.state``), in the order a job goes through them
STATES = ("unstarted", "queued", "running", "held", "finished", "failed", "unreadable")


def folder_record(folder: JobFolder, path: Path | str) -> dict[str, object]:
    """The folder's state as the JSON record of ``fourtop folders --json``
    (``fourtop/schemas/folders.schema.json``; ``path`` is the folder as the user named it).

    ``states`` counts each job once, in its own state (the table's ``finished`` is
    ``finished`` + ``failed`` here, as in the original).

    Raises:
        JobFolderError: the folder has no spec file.
    """
    stats = folder.get_stats()
    states = dict.fromkeys(STATES, 0)
    for job in folder.jobs or ():
        states[job.state] = states.get(job.state, 0) + 1

    def jobs(listed: Iterable[Job]) -> list[dict[str, str]]:
        return [{"name": j.name, "reason": j.reason or ""} for j in listed]

    return {
        "path": str(path),
        "spec": folder.spec_path,
        "compacted": folder.compacted,
        "jobs": stats.jobs,
        "seeds": stats.seeds,
        "states": states,
        "variables": dict(stats.variable_counts),
        "failed_jobs": jobs(folder.get_resubmit_list()),
        "held_jobs": jobs(folder.held_jobs),
        "unreadable_jobs": jobs(folder.unreadable_jobs),
        "error": None,
    }


def refresh(folder: JobFolder, sync: Sync) -> None:
    """Bring the batch systems' state into the folder's logs (``sync``), then re-read its jobs.

    Raises:
        JobFolderError: the folder has no spec file or cannot be listed.
    """
    sync(folder.path)
    folder.check()


def importable_folder(path: Path, variables: Sequence[str], *, force: bool) -> JobFolder:
    """The job folder at ``path``, once it is known that it can be imported with ``variables``.

    Raises:
        FourtopError: ``path`` is a compacted spec file or no job folder.
        JobFolderError: ``variables`` is not the list the folder's jobs were made with
            (without ``force``; see :meth:`JobFolder.check_variable_list`).
    """
    if not path.is_dir():
        if not path.is_file():
            what = "no such job folder"
        elif path.suffix == SPEC_SUFFIX:
            what = "is a compacted spec file"
        else:
            what = "is a file, not a job folder"
        raise FourtopError(f"{path}: {what}; only job folders can be imported")
    folder = JobFolder(path, load=False)
    folder.check_variable_list(variables, force=force)
    return folder


@dataclass(frozen=True)
class CompactionPlan:
    """What compacting a folder would do: the spec file it leaves, the failed jobs it keeps."""

    target: Path
    failed: int


def check_compaction(folder: JobFolder, path: Path, *, force: bool, sync: Sync) -> CompactionPlan:
    """Refresh a job folder (not compacted) and check that it can be compacted now.

    ``path`` is the folder as the user named it, for the messages.

    Raises:
        FourtopError: the folder has no spec file, has unfinished jobs, or (without ``force``)
            failed jobs; nothing was changed.
    """
    if folder.jobs is None:
        raise FourtopError(
            f"{path}: has no spec file; import it first with '{import_command(path)}'"
        )
    refresh(folder, sync)
    unfinished = len(folder) - sum(j.finished for j in folder)
    if unfinished:
        raise FourtopError(
            f"{path}: {unfinished} of {len(folder)} jobs are not finished; "
            "compaction refused (nothing changed)"
        )
    failed = len(folder.get_resubmit_list())
    if failed and not force:
        raise FourtopError(
            f"{path}: {failed} of {len(folder)} jobs failed; 'fourtop submit -r' resubmits "
            "them; compaction refused (nothing changed; --force compacts anyway, keeping "
            "them as failed jobs in the .jtd)"
        )
    source = Path(folder.path)
    return CompactionPlan(source.with_name(source.name + SPEC_SUFFIX), failed)


def clean_beside(paths: Iterable[Path]) -> Iterator[Path]:
    """Remove what interrupted compactions left beside the folders at ``paths``.

    Yields:
        What was removed, one parent folder after the other (each cleaned when reached).
    """
    for parent in dict.fromkeys(_parent(p) for p in paths):
        yield from clean_leftovers(parent)


def _parent(path: Path) -> Path:
    try:
        return path.resolve().parent
    except OSError:
        return path.parent
