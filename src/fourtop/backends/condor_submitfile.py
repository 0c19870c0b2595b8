"""HTCondor submit descriptions: a job's ``.job`` file and a submission's cluster.

Every value from the user (paths, options) reaches the job through HTCondor's new-style
argument quoting, never a shell: the executable is Python itself (or ``--option
executable=PATH``), ``$`` is written as ``$(DOLLAR)``, and job names are restricted to plain
characters (see :func:`fourtop.backends.batch.check_names`). What a proc runs is its task
kind's command (:mod:`fourtop.jobs.tasks`): ``fourtop run-job`` for importance jobs. The
descriptions parse with ``htcondor2.Submit`` and ``condor_submit`` alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from fourtop.backends import batch
from fourtop.backends.options import CondorOptions
from fourtop.errors import BackendError
from fourtop.jobs.tasks import RunSettings, TaskKind, WorkUnit, get_task_kind

__all__ = [
    "FAMILY_SUFFIX",
    "classad_string",
    "cluster_description",
    "common_commands",
    "format_arguments",
    "queue_statement",
    "quote_argument",
    "render_job_file",
]

#: HTCondor's own files of a family proc are ``SEED.family.out/.err/.log``
FAMILY_SUFFIX = ".family"


# ------------------------------------------------------------------ quoting


def quote_argument(arg: str) -> str:
    """Quote one argument for HTCondor's new-style ``arguments = "..."`` syntax.

    Double quotes are doubled; an argument with white space or a single quote is
    wrapped in single quotes, with its single quotes doubled; ``$`` becomes
    ``$(DOLLAR)`` so that no submit macro is expanded inside it.

    Example:
        >>> quote_argument("a b'c")
        "'a b''c'"
    """
    text = arg.replace('"', '""')
    if not arg or any(c.isspace() for c in arg) or "'" in arg:
        text = "'" + text.replace("'", "''") + "'"
    return _no_macros(text)


def format_arguments(args: Sequence[str]) -> str:
    """The value of an ``arguments`` command holding ``args`` exactly."""
    for arg in args:
        if "\n" in arg or "\r" in arg:
            raise BackendError(f"argument {arg!r}: a line break cannot be submitted to HTCondor")
    return '"' + " ".join(quote_argument(a) for a in args) + '"'


def _no_macros(text: str) -> str:
    return text.replace("$", "$(DOLLAR)")


def classad_string(text: str) -> str:
    """A ClassAd string literal (for ``+Attr = ...``), safe from macro expansion."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return _no_macros(f'"{escaped}"')


def _path_value(path: Path | str, what: str) -> str:
    batch.check_path(Path(path), what)
    return _no_macros(str(path))


# ------------------------------------------------------------------ descriptions


def common_commands(
    settings: RunSettings, folder: Path, *, create: bool
) -> tuple[dict[str, str], list[str]]:
    """Submit commands shared by every proc, and the node's arguments before a unit's own."""
    options = CondorOptions.parse(settings.options)
    kind = get_task_kind(settings.task)
    cmd = batch.fourtop_command(options)
    arrays = Path(options.arrays) if options.arrays else None
    if options.transfer and arrays is not None and not arrays.is_file():
        raise BackendError(f"--option arrays={options.arrays}: no such file to transfer")
    if options.transfer:
        files = kind.input_files(settings, folder, transfer=True, arrays=arrays, create=create)
        seen = {role: path.name for role, path in files.items()}
        inputs = ",".join(_path_value(p, f"--option {k} file") for k, p in files.items())
    else:
        files = kind.input_files(settings, folder, transfer=False)
        seen = {role: str(path) for role, path in files.items()}
        inputs = ""
    args = kind.node_arguments(settings, seen)
    gpus = options.request_gpus
    if gpus is None:
        gpus = 1 if settings.device == "cuda" else 0
    commands: dict[str, str] = {
        "universe": "vanilla",
        "executable": _path_value(cmd[0], "--option executable"),
        "transfer_executable": "False",
        "initialdir": _path_value(folder, "job folder"),
        "request_memory": options.request_memory,
        "request_cpus": str(options.request_cpus),
        "request_disk": options.request_disk,
        "should_transfer_files": "YES" if options.transfer else "IF_NEEDED",
        "when_to_transfer_output": "ON_EXIT",
        "+FourtopFolder": classad_string(str(folder)),
    }
    if gpus:
        commands["request_gpus"] = str(gpus)
    if inputs:
        commands["transfer_input_files"] = inputs
    commands.update(options.extra)
    for key in ("request_memory", "request_cpus", "request_disk", "request_gpus"):
        if key in commands and ("\n" in commands[key] or not commands[key].strip()):
            raise BackendError(f"--option {key}={commands[key]!r}: not a valid value")
    return commands, cmd[1:] + args


def _render(commands: dict[str, str], tail: str) -> str:
    lines = ["# written by fourtop (HTCondor backend); see docs/batch.md"]
    lines += [f"{key} = {value}" for key, value in commands.items()]
    return "\n".join(lines) + "\n" + tail


def render_job_file(name: str, settings: RunSettings, folder: Path) -> str:
    """The submit description of one job (its ``<name>.job`` file), valid for ``condor_submit``.

    It runs the job alone (not as part of a family), with HTCondor writing
    ``<name>.out/.err/.log`` in the job folder.
    """
    unit = WorkUnit((name,))
    batch.check_names([unit])
    folder = Path(folder).resolve()
    commands, pre = common_commands(settings, folder, create=False)
    own = get_task_kind(settings.task).unit_arguments(unit, None)
    commands.update(
        {
            "arguments": format_arguments([*pre, *own]),
            "output": f"{name}.out",
            "error": f"{name}.err",
            "log": f"{name}.log",
            "+FourtopUnit": classad_string(name),
            "batch_name": _batch_name(folder),
        }
    )
    return _render(commands, "queue 1\n")


def _batch_name(folder: Path) -> str:
    return "fourtop_" + re.sub(r"[^A-Za-z0-9_.+-]", "_", folder.name)


def _unit_items(unit: WorkUnit, kind: TaskKind) -> dict[str, str]:
    """One proc's item data: a single job lets HTCondor write its files; a family proc
    writes its members' files itself (``job_dir`` ``.``, the initial dir)."""
    stem = unit.names[0] + (FAMILY_SUFFIX if unit.is_family else "")
    args = kind.unit_arguments(unit, "." if unit.is_family else None)
    return {"FtUnit": unit.names[0], "FtStem": stem, "FtArgs": " ".join(args)}


def cluster_description(
    units: Sequence[WorkUnit], settings: RunSettings, folder: Path, *, create: bool = False
) -> tuple[str, list[dict[str, str]]]:
    """The cluster's submit description (without its queue statement) and its item data.

    Each item is one proc: ``FtUnit`` (the unit's first job), ``FtStem`` (file stem
    of HTCondor's own output/error/log) and ``FtArgs`` (the job names, with
    ``--job-dir .`` for a family).
    """
    batch.check_names(units)
    folder = Path(folder).resolve()
    commands, pre = common_commands(settings, folder, create=create)
    arguments = format_arguments(pre)
    commands.update(
        {
            "arguments": arguments[:-1] + " $(FtArgs)" + '"',
            "output": "$(FtStem).out",
            "error": "$(FtStem).err",
            "log": "$(FtStem).log",
            "+FourtopUnit": '"$(FtUnit)"',
            "batch_name": _batch_name(folder),
        }
    )
    return _render(commands, ""), [_unit_items(u, get_task_kind(settings.task)) for u in units]


def queue_statement(items: Sequence[dict[str, str]]) -> str:
    """``queue FtUnit,FtStem,FtArgs from ( ... )`` with one row per proc."""
    rows = "".join(f"{i['FtUnit']},{i['FtStem']},{i['FtArgs']}\n" for i in items)
    return f"queue FtUnit,FtStem,FtArgs from (\n{rows})\n"
