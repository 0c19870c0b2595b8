"""Importing a job folder left by the original tool, and guarding its variable list.

A job name holds a seed *number*; only the ordered variable list the jobs were made with
decodes it. These functions are :class:`~fourtop.jobs.folder.JobFolder`'s
``import_folder``, ``known_variables`` and ``check_variable_list``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fourtop.errors import JobFolderError, SpecError, VariableError
from fourtop.fileio import describe_os_error
from fourtop.jobs import eventlog
from fourtop.jobs.job import Job, files_stamp
from fourtop.jobs.layout import VARLIST_FILE
from fourtop.jobs.names import parse_numbers
from fourtop.jobs.seed import Seed, check_variables
from fourtop.jobs.specfile import read_spec, write_spec
from fourtop.jobs.verbosity import say

if TYPE_CHECKING:
    from fourtop.jobs.folder import JobFolder

__all__ = [
    "check_variable_list",
    "import_command",
    "import_folder",
    "known_variables",
    "list_difference",
]

logger = logging.getLogger(__name__)


def import_command(
    folder: str | os.PathLike[str], *, force: bool = False, default: str = "VARLIST"
) -> str:
    """The ``fourtop folders -i`` command that imports ``folder``: with the folder's own
    ``fourtop-varlist.txt`` when it has one (``fourtop submit`` writes it), else ``default``."""
    listed = Path(folder, VARLIST_FILE)
    varlist = str(listed) if listed.is_file() else default
    return f"fourtop folders -i {varlist}{' --force' if force else ''} {folder}"


def known_variables(jf: JobFolder) -> tuple[list[str], str] | None:
    """The variable list this folder's jobs were made with, and where it was found.

    The spec's list if the spec can be read and has one, else the folder's
    ``fourtop-varlist.txt`` (written by ``fourtop submit``), else None.

    Raises:
        JobFolderError: ``fourtop-varlist.txt`` exists but cannot be read.
    """
    if not jf.compacted and jf._spec.is_file():
        try:
            stored = read_spec(jf._spec).variables
        except SpecError as err:  # a spec being replaced because it is unreadable
            logger.debug("ignoring the unreadable spec: %s", err)
        else:
            if stored:
                return stored, f"the spec {jf._spec.name}"
    path = Path(jf.path, VARLIST_FILE)
    if jf.compacted or not path.exists():
        return None
    from fourtop.variables import read_varlist

    try:
        return read_varlist(path), VARLIST_FILE
    except VariableError as err:
        raise JobFolderError(
            f"{jf.path}: cannot read the folder's own variable list ({err}); "
            "fix or remove it, or import with --force"
        ) from None


def check_variable_list(jf: JobFolder, variables: Sequence[str], *, force: bool = False) -> None:
    """Refuse a variable list other than the one the folder's jobs were made with.

    A job name holds a seed *number*: read with the names in another order, every
    seed would include the wrong variables (and ``calculate`` would swap their
    results). ``force`` skips the check (after a wrong import, for instance).

    Raises:
        JobFolderError: the list differs from :meth:`known_variables`; the message says
            which names moved, are missing or are extra.
    """
    names = list(check_variables(variables, "import_folder"))
    known = None if force else known_variables(jf)
    if known is None or known[0] == names:
        return
    stored, source = known
    raise JobFolderError(
        f"{jf.path}: the variable list differs from the one its jobs were made with "
        f"({source}): {list_difference(stored, names)}; import refused, nothing "
        "changed (use the folder's list, or force it with 'fourtop folders -i VARLIST "
        "--force')"
    )


def import_folder(
    jf: JobFolder, variables: Sequence[str] | str | os.PathLike[str], *, force: bool = False
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
    if jf.compacted:
        raise JobFolderError(f"{jf.path}: is compacted; only job folders can be imported")
    if isinstance(variables, (str, os.PathLike)):
        from fourtop.variables import read_varlist

        variables = read_varlist(variables)
    names = check_variables(variables, "import_folder")
    Seed(names)  # validates the list (no name twice)
    check_variable_list(jf, names, force=force)
    try:
        with os.scandir(jf.path) as it:
            job_names = sorted(e.name[:-4] for e in it if e.name.endswith(".job"))
    except OSError as exc:
        raise JobFolderError(
            f"cannot read the job folder {describe_os_error(exc, jf.path)}"
        ) from None
    if not job_names:
        raise JobFolderError(f"{jf.path}: no .job files to import")
    numbers = []
    for name in job_names:
        try:
            numbers.append(parse_numbers(name, len(names)))
        except JobFolderError as err:
            raise JobFolderError(f"{jf.path}: {err}") from None
    with jf.lock(what="fourtop folders -i"):
        entries = jf.scan()
        jobs = []
        for name, (seed, sub) in zip(job_names, numbers, strict=True):
            job = Job.trusted(
                jf.path,
                name,
                Seed.trusted(names, seed),
                None if sub is None else Seed.trusted(names, sub),
            )
            base = os.path.join(jf.path, name)
            status = eventlog.job_status(base + ".log", base + ".out")
            job.update_status(status, files_stamp(entries, name))
            jobs.append(job)
        write_spec(jf._spec, list(names), [j.record() for j in jobs])
        varlist = Path(jf.path, VARLIST_FILE)
        if force and varlist.exists():  # the list the user insisted on is the folder's now
            from fourtop.fileio import atomic_write_text

            atomic_write_text(varlist, "".join(f"{n}\n" for n in names), what="variable list")
    jf.jobs, jf._variables = jobs, names
    for job in jobs:
        job._dirty = False
    say(logger, "imported %d jobs into %s", len(jobs), jf._spec)


def list_difference(known: Sequence[str], new: Sequence[str], limit: int = 5) -> str:
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
