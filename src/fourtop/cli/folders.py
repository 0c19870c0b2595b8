"""``fourtop folders``: import, compact and show job folders (the original ``folders.py``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from fourtop.cli._common import (
    add_json,
    add_verbose,
    add_yes,
    confirm,
    default_folders,
    nonempty,
    print_json,
)
from fourtop.cli._console import alert, out, say
from fourtop.cli._progress import spinner
from fourtop.errors import FourtopError

if TYPE_CHECKING:
    from fourtop.jobs.folder import JobFolder

HELP = "import, compact or show the job progress of job folders"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_verbose(parser)
    parser.add_argument(
        "-c",
        "--compact",
        action="store_true",
        help="compact mode: replace each finished folder by its spec file <folder>.jtd",
    )
    parser.add_argument(
        "-i",
        "--import",
        type=nonempty,
        dest="varlist",
        metavar="VARLIST",
        default=None,
        help="import mode: build each folder's spec file from its job files; "
        "VARLIST is 'all' (the default 76 variables) or a file of names",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with -i: import even if VARLIST differs from the list the folder's jobs were "
        "made with; with -c: compact even if jobs failed (they stay failed in the .jtd, "
        "and 'fourtop submit -r FOLDER.jtd' resubmits them)",
    )
    add_yes(parser)
    add_json(parser, "each folder's jobs by state, seeds, seeds per variable, failed and held jobs")
    parser.add_argument(
        "folders",
        nargs="*",
        type=nonempty,
        metavar="FOLDER",
        help="job folders or compacted .jtd files (default: condor_log* here)",
    )


def run(args: argparse.Namespace) -> int:
    from fourtop.jobs.summary import clean_beside

    if args.compact and args.varlist is not None:
        raise FourtopError("-c (compact) and -i (import) cannot be used together")
    if args.force and not args.compact and args.varlist is None:
        raise FourtopError("--force goes with -c (compact) or -i (import)")
    if args.json and (args.compact or args.varlist is not None):
        raise FourtopError("--json shows folders: it does not go with -c or -i")
    varlist = None
    if args.varlist is not None:
        from fourtop.variables import read_varlist

        varlist = read_varlist(args.varlist)  # any OS error is a one-line VariableError
    paths = [Path(p) for p in args.folders] or default_folders(include_specs=varlist is None)
    if not paths:
        raise FourtopError(f"no job folders given and none named condor_log* in {_cwd()}")
    if args.json:
        status = _json(paths)
    else:
        status = 0
        for path in paths:
            try:
                if varlist is not None:
                    status |= _import(path, varlist, args)
                elif args.compact:
                    status |= _compact(path, args)
                else:
                    status |= _info(path, args)
            except (FourtopError, OSError) as err:
                alert(f"fourtop folders: error: {_why(path, err)}")
                status = 1
    for removed in clean_beside(paths):  # what interrupted compactions left beside the folders
        say(f"removed {removed}, left by an interrupted compaction")
    return status


def _why(path: Path, err: Exception) -> str:
    """The one-line message of a folder's error (an OS error is a last resort: every expected
    one is a FourtopError)."""
    if isinstance(err, FourtopError):
        return str(err)
    from fourtop.fileio import describe_os_error

    return f"{path}: {describe_os_error(err)}" if isinstance(err, OSError) else str(err)


def _json(paths: list[Path]) -> int:
    """``--json``: one document on stdout (fourtop/schemas/folders.schema.json); a folder that
    cannot be read has its ``error`` and makes the exit code 1."""
    from fourtop.jobs.summary import folder_record

    records: list[dict[str, object]] = []
    status = 0
    for path in paths:
        try:
            records.append(folder_record(_checked(path), path))
        except (FourtopError, OSError) as err:
            why = _why(path, err)
            alert(f"fourtop folders: error: {why}")
            records.append({"path": str(path), "error": why})
            status = 1
    print_json("folders", {"folders": records})
    return status


class _NoSpec(FourtopError):
    """A folder without a spec file (the message says how to import it)."""


def _checked(path: Path) -> JobFolder:
    """The job folder at ``path``, the batch systems' state brought in and its jobs re-read.

    Raises:
        _NoSpec: the folder has no spec file.
    """
    from fourtop.backends import sync_folder
    from fourtop.jobs.folder import JobFolder
    from fourtop.jobs.importing import import_command
    from fourtop.jobs.summary import refresh

    folder = JobFolder(path)
    if folder.jobs is None:
        raise _NoSpec(f"{path}: has no spec file; import it with '{import_command(path)}'")
    with spinner(f"checking {path}"):
        refresh(folder, sync_folder)
    return folder


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:
        return "the working directory (it no longer exists)"


def _import(path: Path, varlist: list[str], args: argparse.Namespace) -> int:
    from fourtop.jobs.summary import importable_folder

    folder = importable_folder(path, varlist, force=args.force)  # before asking anything
    if Path(folder.spec_path).exists() and not confirm(
        f"{path}: a spec file exists ({Path(folder.spec_path).name}); overwrite it?",
        yes=args.yes,
        default=False,
    ):
        say(f"{path}: spec file kept, folder not imported")
        return 0
    with spinner(f"importing {path}"):
        folder.import_folder(varlist, force=args.force)
    say(f"{path}: imported {len(folder)} jobs over {len(varlist)} variables")
    _show(folder, verbose=args.verbose)
    return 0


def _compact(path: Path, args: argparse.Namespace) -> int:
    from fourtop.backends import sync_folder
    from fourtop.jobs.folder import JobFolder
    from fourtop.jobs.summary import check_compaction

    folder = JobFolder(path)
    if folder.compacted:
        say(f"{path}: already compacted ({folder.path})")
        return 0
    plan = check_compaction(folder, path, force=args.force, sync=sync_folder)
    if not confirm(
        f"{path}: delete the folder and its job files, keeping only {plan.target}?",
        yes=args.yes,
        default=False,
    ):
        say(f"{path}: not compacted")
        return 0
    folder.compact_folder(force=args.force)
    kept = f" ({plan.failed} failed jobs kept; 'fourtop submit -r' resubmits them)"
    say(f"{path}: compacted into {folder.path}" + (kept if plan.failed else ""))
    return 0


def _info(path: Path, args: argparse.Namespace) -> int:
    try:
        folder = _checked(path)
    except _NoSpec as missing:
        alert(f"fourtop folders: warning: {missing}")
        return 1
    _show(folder, verbose=args.verbose)
    return 0


def _show(folder: JobFolder, *, verbose: bool) -> None:
    from fourtop.cli._tables import print_table
    from fourtop.jobs.summary import summarize

    summary = summarize(folder)
    out.print(summary.title, markup=False, soft_wrap=True)
    print_table(out, [(col, "right") for col in summary.columns], [summary.cells])
    if summary.unreadable_note:
        out.print(summary.unreadable_note, markup=False, soft_wrap=True)
    if not verbose:
        return
    if summary.variable_counts:
        out.print("seeds including each variable:")
        columns = [("#", "right"), ("variable", "left"), ("seeds", "right")]
        print_table(out, columns, summary.variable_counts)
    # one plain line per job (not a table) so names are never wrapped and lines can be grepped
    for label, jobs in summary.listings:
        if jobs:
            out.print(f"{label} jobs ({len(jobs)}):", markup=False, soft_wrap=True)
        for job in jobs:
            out.print(f"  {job.name}: {job.reason}", markup=False, soft_wrap=True)
