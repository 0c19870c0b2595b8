"""Reading job results out of job folders and compacted ``.jtd`` files."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fourtop.errors import JobFolderError
from fourtop.importance.stats import JobResult

if TYPE_CHECKING:
    from fourtop.jobs.folder import JobFolder
    from fourtop.jobs.job import Job

__all__ = ["collect_results", "open_folders", "unreadable_jobs"]

log = logging.getLogger(__name__)

#: asked for a folder without a spec: return True to import it with the default variables
ImportPrompt = Callable[[Path], bool]


def open_folders(
    paths: Sequence[str | Path],
    *,
    import_prompt: ImportPrompt | None = None,
    import_variables: Sequence[str] | None = None,
) -> list:
    """Open every input as a :class:`fourtop.jobtracker.JobFolder` and refresh its jobs.

    A job folder without a spec file is imported with ``import_variables`` (default: the
    folder's own ``fourtop-varlist.txt``, else the 76 default variables) if
    ``import_prompt(path)`` says yes.

    Raises:
        JobFolderError: an input does not exist, is declined for import, or cannot be read.
        SpecError: a spec file is corrupt.
    """
    from fourtop.jobs.folder import JobFolder
    from fourtop.jobs.importing import import_command
    from fourtop.variables import default_variables

    folders = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise JobFolderError(f"{path}: no such job folder or .jtd file")
        folder = JobFolder(path)
        if folder.jobs is None:
            if import_prompt is None or not import_prompt(path):
                command = import_command(path, default="all")
                raise JobFolderError(
                    f"{path}: has no spec file; import it with '{command}' or pass --yes"
                )
            known = folder.known_variables()  # the folder's own fourtop-varlist.txt
            names = import_variables or (known[0] if known else default_variables())
            folder.import_folder(list(names))
        elif not folder.compacted:
            folder.check()
        folders.append(folder)
    return folders


def collect_results(folders: Iterable) -> list[JobResult]:
    """Every job of ``folders`` as a :class:`JobResult` (``roc`` None without a result)."""
    results: list[JobResult] = []
    for folder in folders:
        variables = tuple(folder.variables)
        n_with = 0
        for job in folder.jobs or []:
            roc = job.roc_integral if job.has_result else None
            n_with += roc is not None
            results.append(
                JobResult(
                    name=job.name,
                    source=str(folder.path),
                    variables=variables,
                    seed_bits=job.seed.binary,
                    subseed_bits=None if job.subseed is None else job.subseed.binary,
                    roc=roc,
                )
            )
        log.info("%s: %d jobs, %d with a result", folder.path, len(folder.jobs or []), n_with)
    return results


def unreadable_jobs(folders: Iterable[JobFolder]) -> list[tuple[JobFolder, Job]]:
    """``(folder, job)`` for every job whose files exist but cannot be read, in folder and job
    order: :func:`collect_results` gives them no result, so they are left out."""
    return [(f, j) for f in folders for j in f.jobs or [] if j.state == "unreadable"]
