"""Compaction: a finished job folder becomes its spec file alone, and back.

These functions are :class:`~fourtop.jobs.folder.JobFolder`'s ``compact_folder`` and
``extract_failed``; :func:`clean_leftovers` removes what an interrupted compaction left.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from fourtop.errors import FourtopError, JobFolderError
from fourtop.fileio import describe_os_error, pid_alive, temporary_name
from fourtop.jobs.job import NO_FILES, Job
from fourtop.jobs.layout import KEPT_FILES, SPEC_SUFFIX, VARLIST_FILE
from fourtop.jobs.seed import check_path
from fourtop.jobs.specfile import JobRecord, SpecWriteError, delete_jobs, read_spec, write_spec
from fourtop.jobs.verbosity import say

if TYPE_CHECKING:
    from fourtop.jobs.folder import JobFolder

__all__ = ["clean_leftovers", "compact_folder", "extract_failed", "foreign_files"]

logger = logging.getLogger(__name__)

#: kept files larger than this stay out of the compacted spec
_KEPT_MAX = 1 << 20
#: what an interrupted compaction leaves beside the folder: ``.<name>.compacting-<pid>``
_COMPACTING = re.compile(r"^\.(?P<name>.+)\.compacting-(?P<pid>\d+)$")


def kept_files(jf: JobFolder) -> dict[str, str]:
    """The folder's small files a compacted spec keeps (:data:`KEPT_FILES`)."""
    kept: dict[str, str] = {}
    for name in KEPT_FILES:
        path = Path(jf.path, name)
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


def refuse_compaction(jf: JobFolder, jobs: list[Job], force: bool) -> None:
    unfinished = [j for j in jobs if not j.finished]
    if unfinished:
        raise JobFolderError(
            f"{jf.path}: {len(unfinished)} of {len(jobs)} jobs are not "
            f"finished (e.g. {unfinished[0].name}, {unfinished[0].state}); "
            "compaction refused"
        )
    failed = jf.get_resubmit_list()
    if failed and not force:
        raise JobFolderError(
            f"{jf.path}: {len(failed)} of {len(jobs)} jobs failed (e.g. "
            f"{failed[0].name}); 'fourtop submit -r' resubmits them; compaction "
            "refused (force keeps them as failed jobs in the compacted spec)"
        )


def compact_folder(
    jf: JobFolder, dest: str | os.PathLike[str] = "default", *, force: bool = False
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
    if jf.compacted:
        raise JobFolderError(f"{jf.path}: is already compacted")
    folder = Path(jf.path)
    if dest == "default":
        target = folder.with_name(folder.name + SPEC_SUFFIX)
    else:
        target = check_path(dest, "compact_folder: dest", JobFolderError)
    target = target.resolve()
    jobs = jf._require_jobs()
    jf.check()
    refuse_compaction(jf, jobs, force)
    foreign = foreign_files(folder)
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise JobFolderError(
            f"{folder}: holds files that are not job files ({', '.join(foreign[:3])}{more}); "
            "compaction would delete them: move them out of the folder first; nothing changed"
        )
    if target.exists():
        raise JobFolderError(f"{target}: already exists; compaction refused")
    if target.is_relative_to(folder):
        raise JobFolderError(f"{target}: is inside the folder being compacted")
    clean_leftovers(folder.parent)
    trash = folder.with_name(f".{folder.name}.compacting-{os.getpid()}")
    with jf.lock(what="compaction"):
        jf.check()  # again: another process may have changed jobs before the lock
        refuse_compaction(jf, jobs, force)
        records = [j.record() for j in jobs]
        variables = list(jf._variables)
        files = kept_files(jf)
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
    jf.compacted, jf.path, jf._spec = True, str(target), target
    for job in jobs:
        job.folder = None
    say(logger, "compacted %s into %s", folder, target)


def extract_target(jf: JobFolder, dest: str | os.PathLike[str] | None) -> Path:
    if dest is not None:
        target = check_path(dest, "extract_failed: dest", JobFolderError).resolve()
        if target.exists():
            raise JobFolderError(f"{target}: already exists; choose another folder")
        return target
    stem = jf._spec.name
    stem = stem[: -len(SPEC_SUFFIX)] if stem.endswith(SPEC_SUFFIX) else stem
    base = jf._spec.with_name(stem)
    candidates = [base, base.with_name(f"{stem}_resubmit")]
    candidates += (base.with_name(f"{stem}_resubmit_{n}") for n in range(2, 1000))
    for target in candidates:
        if target != jf._spec and not os.path.lexists(target):
            return target
    raise JobFolderError(f"{base}_resubmit_*: no free folder name; pass dest")


def extract_failed(jf: JobFolder, dest: str | os.PathLike[str] | None = None) -> Path:
    """Move the failed jobs of a compacted spec into a new job folder, to resubmit them.

    Contract (what ``fourtop submit -r X.jtd`` relies on):

    * ``jf`` must be compacted and hold failed jobs.
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
      places, never in none). ``jf`` is reloaded (its failed jobs are gone).
    * The compacted spec's lock is held throughout (re-entrant: a caller may hold it).

    Returns:
        The new job folder.

    Raises:
        JobFolderError: not compacted, no failed jobs, ``dest`` exists, or another
            process holds the lock.
        SpecWriteError: the folder or spec cannot be written (nothing changed).
    """
    if not jf.compacted:
        raise JobFolderError(
            f"{jf.path}: is a job folder, not a compacted spec; 'fourtop submit -r' "
            "resubmits its failed jobs in place"
        )
    jf._require_jobs()
    with jf.lock(what="extracting failed jobs"):
        data = jf._load()  # the rows as they are now, under the lock
        failed = jf.get_resubmit_list()
        if not failed:
            raise JobFolderError(f"{jf.path}: has no failed jobs to extract")
        target = extract_target(jf, dest)
        records = [
            JobRecord(
                j.name,
                j.seed.number,
                None if j.subseed is None else j.subseed.number,
                "failed",
                None,
                f"failed before compaction: {j.reason or 'no reason recorded'}",
                False,
                NO_FILES,
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
            delete_jobs(jf._spec, [r.name for r in records], before_commit=move)
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
        jf._load()
    say(logger, "moved %d failed jobs of %s into %s", len(records), jf.path, target)
    return target


def foreign_files(folder: Path) -> list[str]:
    """Names in a job folder that no job, backend or fourtop itself wrote there (results of
    ``calculate``, notes): compaction, which deletes the folder, refuses while there are any."""
    own_suffixes = (".job", ".out", ".err", ".log")
    own_names = {*KEPT_FILES, folder.name + SPEC_SUFFIX, "slurm"}
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [
        name
        for name in names
        if not (
            name.startswith(".")  # the lock and temporary files
            or name in own_names
            or name.endswith(own_suffixes)
            or (name.startswith("fourtop-condor-") and name.endswith(".sub"))
        )
    ]


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
