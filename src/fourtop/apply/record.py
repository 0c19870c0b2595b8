"""The record an output file carries, and what an existing output says about its input.

Every output file holds, beside its tree, a ``TObjString`` named :data:`RECORD_KEY`: a JSON
object with the input file's identity (absolute path, size, modification time), the number
of entries written, the tree and branch, friend or copy, and the model (the final folder and
a hash of its model card). An output is *complete* when its record matches the input as it
is now and the run's settings, and its tree has the recorded entries and the branch: a rerun
skips it. Outputs are written aside and renamed when complete, so a file under an output's
name is either a whole output (of this run's settings or another's) or not fourtop's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fourtop import __version__
from fourtop.apply.plan import ApplyPlan, InputFile
from fourtop.errors import DataError
from fourtop.fileio import describe_os_error

__all__ = [
    "RECORD_KEY",
    "OutputState",
    "input_identity",
    "make_record",
    "model_id",
    "output_state",
    "read_record",
]

#: the key of the record in an output file
RECORD_KEY = "fourtop_apply"
_RECORD_FORMAT = "fourtop-apply-output"
#: the settings an output must share with the run to be kept (else it is redone)
_SETTINGS = ("model_id", "branch", "mode", "tree")


def model_id(card_path: Path) -> str:
    """A hash of a final folder's model card: a retrained folder gets another one.

    Raises:
        DataError: the card cannot be read.
    """
    try:
        return hashlib.sha256(Path(card_path).read_bytes()).hexdigest()[:16]
    except OSError as exc:
        raise DataError(f"cannot read the model card {describe_os_error(exc, card_path)}") from None


def input_identity(path: Path) -> dict[str, Any]:
    """``{"path", "size", "mtime_ns"}`` of an input file.

    Raises:
        DataError: the file cannot be read.
    """
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        raise DataError(f"{path}: ntuple not found") from None
    except OSError as exc:
        raise DataError(f"cannot read the ntuple {describe_os_error(exc, path)}") from None
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def make_record(plan: ApplyPlan, item: InputFile, identity: dict[str, Any], entries: int) -> str:
    """The record of ``item``'s output (a JSON string)."""
    return json.dumps(
        {
            "format": _RECORD_FORMAT,
            "fourtop_version": __version__,
            "input": identity,
            "entries": int(entries),
            "tree": plan.tree,
            "branch": plan.branch,
            "mode": plan.mode,
            "model_id": plan.model_id,
            "model_folder": plan.model_folder,
            "engine": plan.engine,
            "event_id": plan.event_id,
            "key": plan.key,
            "sample": item.sample,
        },
        sort_keys=True,
    )


@dataclass(frozen=True)
class OutputState:
    """What an existing output says.

    ``state``: ``missing`` (no file), ``complete`` (skip it), ``stale`` (fourtop's, for
    another version of the input, or incomplete: redo it), ``other`` (fourtop's, made with
    another model, branch, friend/copy or tree: redo it only if the user agrees) or
    ``foreign`` (not an output of ``fourtop apply``: never overwritten). ``reason`` says why.
    """

    state: str
    reason: str = ""


def read_record(path: Path) -> tuple[dict[str, Any] | None, Any]:
    """``(record, uproot file)`` of an output; record None when the file has none.

    The file is returned open (close it). Raises OSError/ValueError-like exceptions of
    uproot for a file that is not ROOT.
    """
    import uproot

    f = uproot.open(path)
    try:
        if RECORD_KEY not in f:
            return None, f
        record = json.loads(str(f[RECORD_KEY]))
        if not isinstance(record, dict) or record.get("format") != _RECORD_FORMAT:
            return None, f
        return record, f
    except BaseException:
        f.close()
        raise


def output_state(plan: ApplyPlan, item: InputFile) -> OutputState:
    """The state of ``item``'s output (see :class:`OutputState`); never raises."""
    path = plan.output_path(item)
    if not path.exists():
        return OutputState("missing")
    if path.is_dir():
        return OutputState("foreign", f"{path}: is a folder")
    try:
        record, f = read_record(path)
    except Exception:  # not a ROOT file, truncated: not written by fourtop apply
        return OutputState("foreign", f"{path}: not an output of fourtop apply (not ROOT)")
    with f:
        if record is None:
            return OutputState("foreign", f"{path}: not an output of fourtop apply (no record)")
        try:  # a truncated copy of an output still has its header, record and tree keys
            whole = int(f.file.fEND) == path.stat().st_size
        except (AttributeError, OSError, TypeError, ValueError):
            whole = False
        if not whole:
            return OutputState("stale", f"{path}: truncated (shorter than its ROOT header says)")
        for key in _SETTINGS:
            now = plan.mode if key == "mode" else getattr(plan, key)
            if record.get(key) != now:
                return OutputState("other", f"{key}: {record.get(key)!r} then, {now!r} now")
        try:
            identity = input_identity(Path(item.input))
        except DataError as exc:
            return OutputState("stale", str(exc))
        if record.get("input") != identity:
            return OutputState("stale", f"{item.input}: the input changed since")
        try:
            tree = f[plan.tree]
            entries = int(tree.num_entries)
            has_branch = plan.branch in list(tree.keys())
        except Exception:
            return OutputState("stale", f"{path}: unreadable tree {plan.tree!r}")
        if entries != record.get("entries") or not has_branch:
            return OutputState("stale", f"{path}: incomplete")
    return OutputState("complete")
