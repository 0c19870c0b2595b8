"""``fourtop folders``: import, compact and show job folders (the original ``folders.py``)."""

from __future__ import annotations

import argparse
import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from fourtop.cli._common import (
    add_verbose,
    add_yes,
    confirm,
    console,
    default_folders,
    nonempty,
    out,
    use_terminal_progress,
)
from fourtop.errors import FourtopError

if TYPE_CHECKING:
    from fourtop.jobtracker import JobFolder

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
    parser.add_argument(
        "folders",
        nargs="*",
        type=nonempty,
        metavar="FOLDER",
        help="job folders or compacted .jtd files (default: condor_log* here)",
    )


def run(args: argparse.Namespace) -> int:
    if args.compact and args.varlist is not None:
        raise FourtopError("-c (compact) and -i (import) cannot be used together")
    if args.force and not args.compact and args.varlist is None:
        raise FourtopError("--force goes with -c (compact) or -i (import)")
    varlist = None
    if args.varlist is not None:
        from fourtop.variables import read_varlist

        varlist = read_varlist(args.varlist)  # any OS error is a one-line VariableError
    paths = [Path(p) for p in args.folders] or default_folders(include_specs=varlist is None)
    if not paths:
        raise FourtopError(f"no job folders given and none named condor_log* in {_cwd()}")
    status = 0
    for path in paths:
        try:
            if varlist is not None:
                status |= _import(path, varlist, args)
            elif args.compact:
                status |= _compact(path, args)
            else:
                status |= _info(path, args)
        except FourtopError as err:
            _say(f"fourtop folders: error: {err}")
            status = 1
        except OSError as exc:  # a last resort: every expected OS error is a FourtopError
            from fourtop.fileio import describe_os_error

            _say(f"fourtop folders: error: {path}: {describe_os_error(exc)}")
            status = 1
    _clean(paths)
    return status


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:
        return "the working directory (it no longer exists)"


def _clean(paths: list[Path]) -> None:
    """Remove what interrupted compactions left beside the folders (and say so)."""
    from fourtop.jobs.compaction import clean_leftovers

    parents = dict.fromkeys(_parent(p) for p in paths)
    for parent in parents:
        for removed in clean_leftovers(parent):
            _say(f"removed {removed}, left by an interrupted compaction")


def _parent(path: Path) -> Path:
    try:
        return path.resolve().parent
    except OSError:
        return path.parent


def _say(message: str) -> None:
    """A message for the user on stderr: plain text (paths may hold brackets), never wrapped."""
    console.print(message, markup=False, soft_wrap=True)


def _spinner(text: str) -> AbstractContextManager[object]:
    return console.status(text) if use_terminal_progress() else nullcontext()


def _import(path: Path, varlist: list[str], args: argparse.Namespace) -> int:
    from fourtop.jobtracker import JobFolder

    if not path.is_dir():
        what = "is a compacted spec file" if path.is_file() else "no such job folder"
        raise FourtopError(f"{path}: {what}; only job folders can be imported")
    folder = JobFolder(path, load=False)
    folder.check_variable_list(varlist, force=args.force)  # before asking anything
    if Path(folder.spec_path).exists() and not confirm(
        f"{path}: a spec file exists ({Path(folder.spec_path).name}); overwrite it?",
        yes=args.yes,
        default=False,
    ):
        _say(f"{path}: spec file kept, folder not imported")
        return 0
    with _spinner(f"importing {path}"):
        folder.import_folder(varlist, force=args.force)
    _say(f"{path}: imported {len(folder)} jobs over {len(varlist)} variables")
    _show(folder, verbose=args.verbose)
    return 0


def _compact(path: Path, args: argparse.Namespace) -> int:
    from fourtop.backends import sync_batch_state
    from fourtop.jobs.folder import JobFolder
    from fourtop.jobs.importing import import_command

    folder = JobFolder(path)
    if folder.compacted:
        _say(f"{path}: already compacted ({folder.path})")
        return 0
    if folder.jobs is None:
        raise FourtopError(
            f"{path}: has no spec file; import it first with '{import_command(path)}'"
        )
    sync_batch_state(folder.path)
    folder.check()
    unfinished = len(folder) - sum(j.finished for j in folder)
    if unfinished:
        raise FourtopError(
            f"{path}: {unfinished} of {len(folder)} jobs are not finished; "
            "compaction refused (nothing changed)"
        )
    failed = len(folder.get_resubmit_list())
    if failed and not args.force:
        raise FourtopError(
            f"{path}: {failed} of {len(folder)} jobs failed; 'fourtop submit -r' resubmits "
            "them; compaction refused (nothing changed; --force compacts anyway, keeping "
            "them as failed jobs in the .jtd)"
        )
    source = Path(folder.path)
    target = source.with_name(source.name + ".jtd")
    if not confirm(
        f"{path}: delete the folder and its job files, keeping only {target}?",
        yes=args.yes,
        default=False,
    ):
        _say(f"{path}: not compacted")
        return 0
    folder.compact_folder(force=args.force)
    _say(
        f"{path}: compacted into {folder.path}"
        + (f" ({failed} failed jobs kept; 'fourtop submit -r' resubmits them)" if failed else "")
    )
    return 0


def _info(path: Path, args: argparse.Namespace) -> int:
    from fourtop.backends import sync_batch_state
    from fourtop.jobs.folder import JobFolder
    from fourtop.jobs.importing import import_command

    folder = JobFolder(path)
    if folder.jobs is None:
        _say(
            f"fourtop folders: warning: {path}: has no spec file; import it with "
            f"'{import_command(path)}'"
        )
        return 1
    with _spinner(f"checking {path}"):
        sync_batch_state(folder.path)
        folder.check()
    _show(folder, verbose=args.verbose)
    return 0


def _pct(n: int, total: int) -> str:
    return f"{n} ({100.0 * n / total:.1f}%)" if total else f"{n}"


def _show(folder: JobFolder, *, verbose: bool) -> None:
    from rich.table import Table

    stats = folder.get_stats()
    total = int(stats["jobs"])  # type: ignore[call-overload]
    held = folder.held_jobs
    unreadable = folder.unreadable_jobs
    title = folder.path + (" (compacted)" if folder.compacted else "")
    out.print(title, markup=False, soft_wrap=True)
    table = Table(show_header=True)
    columns = ["jobs", "finished", "failed", "unstarted", "held"]
    columns += ["unreadable"] if unreadable else []
    for col in [*columns, "seeds"]:
        table.add_column(col, justify="right")
    cells = [
        str(total),
        _pct(stats["finished_jobs"], total),  # type: ignore[arg-type]
        _pct(stats["failed_jobs"], total),  # type: ignore[arg-type]
        _pct(stats["unstarted_jobs"], total),  # type: ignore[arg-type]
        _pct(len(held), total),
    ]
    cells += [_pct(len(unreadable), total)] if unreadable else []
    table.add_row(*cells, str(stats["seeds"]))
    out.print(table)
    if unreadable:
        out.print(
            f"{len(unreadable)} job(s) have files this user cannot read (e.g. "
            f"{unreadable[0].name}: {unreadable[0].reason}); they are neither failed nor "
            "resubmitted: ask the folder's owner to make them readable",
            markup=False,
            soft_wrap=True,
        )
    if not verbose:
        return
    counts: dict[str, int] = stats["variable_counts"]  # type: ignore[assignment]
    if counts:
        out.print("seeds including each variable:")
        vt = Table()
        vt.add_column("#", justify="right")
        vt.add_column("variable")
        vt.add_column("seeds", justify="right")
        for i, (var, n) in enumerate(counts.items(), 1):
            vt.add_row(str(i), var, str(n))
        out.print(vt)
    # one plain line per job (not a table) so names are never wrapped and lines can be grepped
    for label, jobs in (
        ("failed", folder.get_resubmit_list()),
        ("held", held),
        ("unreadable", unreadable),
    ):
        if jobs:
            out.print(f"{label} jobs ({len(jobs)}):", markup=False, soft_wrap=True)
        for job in jobs:
            out.print(f"  {job.name}: {job.reason or ''}", markup=False, soft_wrap=True)
