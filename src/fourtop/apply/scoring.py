"""Scoring one input file: its tree read in chunks, every event scored, one output written.

:func:`score_file` reads the model's variables and the event key of every entry of the input
tree, chunk by chunk (memory stays bounded whatever the file size), scores each event with the
model of its own fold (``key mod k``) and writes the output file:

- a *friend tree* (the default): a tree of the input tree's name and title with one float32
  branch, the score, entry for entry in the input's order, so ``TTree::AddFriend`` in ROOT
  and uproot line the two up;
- with ``copy``: the input tree with the score branch added; every other branch is copied
  value for value (numbers, fixed-size and variable-length arrays of numbers; a branch
  uproot cannot write, such as strings or objects, is refused in one line).

The output is written under a temporary name and renamed when complete, with its record
(:mod:`fourtop.apply.record`). A bad input is a one-line :class:`~fourtop.errors.DataError`
naming the file; nothing is left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fourtop.apply.plan import ApplyPlan, InputFile
from fourtop.apply.record import RECORD_KEY, input_identity, make_record
from fourtop.data.eventkey import event_keys
from fourtop.data.formula import Formula
from fourtop.data.ntuples import check_root_file, open_tree
from fourtop.errors import DataError, did_you_mean
from fourtop.fileio import atomic_output

if TYPE_CHECKING:
    from fourtop.final.model import Scorer

__all__ = ["COPY_STEP", "STEP", "copy_layout", "score_file"]

log = logging.getLogger(__name__)

#: entries read per chunk for a friend tree: the variables and the key (76 variables: a peak of
#: ~220 MB over the process's own, whatever the file size; benchmarks/bench_apply.py)
STEP = 50_000
#: branch data (uncompressed) read per chunk when the whole tree is copied (~220 MB peak too)
COPY_STEP = "16 MB"


def score_file(
    plan: ApplyPlan,
    item: InputFile,
    variables: Sequence[str],
    scorer: Scorer,
    *,
    step: int | str | None = None,
) -> int:
    """Score every entry of ``item``'s input and write its output; returns the entries written.

    Args:
        plan: the run's settings (tree, event key, branch, friend or copy, output folder).
        item: the input file.
        variables: the model's input variables (branch names), in its input order.
        scorer: scores float32 ``[N, len(variables)]`` with int64 keys ``[N]``.
        step: entries (or a memory size such as ``"64 MB"``) per chunk; default
            :data:`STEP`, or :data:`COPY_STEP` with ``copy``.

    Raises:
        DataError: the input is missing, not ROOT, truncated, lacks the tree, a variable or
            the key's branch, has branches of another length than the tree, a variable that
            is an array, a key that is not a whole number, or (``copy``) a branch uproot
            cannot write, or already has the score branch.
        ExpressionError: the event key reads a branch the tree does not have.
        OutputError: the output cannot be written.
    """
    import uproot

    src = Path(item.input)
    identity = input_identity(src)
    check_root_file(src)
    try:
        f = uproot.open(src)
    except Exception as exc:  # uproot raises many types for a corrupt file
        raise DataError(f"{src}: cannot open as a ROOT file ({exc.__class__.__name__})") from None
    with f:
        tree: Any = open_tree(f, src, plan.tree)
        n = int(tree.num_entries)
        key = Formula(plan.event_id, "event_id")
        needed = _check_branches(tree, src, plan, variables, key)
        if plan.copy:
            types, counters = copy_layout(tree, src)
            types[plan.branch] = "float32"
            read = [name for name in types if name != plan.branch]
            read += [name for name in needed if name not in types]
        else:
            types, counters = {plan.branch: "float32"}, {}
            read = needed
        taken = set(types) | set(counters.values())

        def counter_name(branch: str) -> str:
            if branch in counters:
                return counters[branch]
            name = f"n{branch}"
            while name in taken:
                name += "_"
            taken.add(name)
            counters[branch] = name
            return name

        out = plan.output_path(item)
        default = COPY_STEP if plan.copy else STEP
        with atomic_output(out, what="output file") as tmp, uproot.recreate(tmp) as w:
            title = str(getattr(tree, "title", "") or plan.tree)
            out_tree = w.mktree(plan.tree, types, title=title, counter_name=counter_name)
            written = 0
            for start, size, chunk in _chunks(tree, src, plan.tree, read, step or default):
                scores = _score_chunk(chunk, start, src, variables, key, scorer)
                data = {
                    name: chunk[name].to_numpy() if isinstance(kind, np.dtype) else chunk[name]
                    for name, kind in types.items()
                    if name != plan.branch
                }
                data[plan.branch] = scores
                out_tree.extend(data)
                written += size
            if written != n:
                raise DataError(
                    f"{src}: read {written} of the {n} entries of tree {plan.tree!r} "
                    "(truncated or corrupt file)"
                )
            w[RECORD_KEY] = make_record(plan, item, identity, n)
    log.info("%s: %d entries scored into %s", src, n, out)
    return n


def _check_branches(
    tree: Any, src: Path, plan: ApplyPlan, variables: Sequence[str], key: Formula
) -> list[str]:
    """The branches to read for scoring, checked: present, and as long as the tree."""
    available = list(tree.keys())
    if plan.branch in available:
        raise DataError(
            f"{src}: tree {plan.tree!r} already has a branch {plan.branch!r}; choose another "
            "--branch"
        )
    key.check_branches(available, str(src))
    for name in variables:
        if name not in available:
            raise DataError(
                f"{src}: tree {plan.tree!r} has no branch {name!r} (an input variable of the "
                f"model){did_you_mean(name, available)}"
            )
    needed = list(dict.fromkeys([*variables, *key.branches]))
    n = int(tree.num_entries)
    for name in needed:
        entries = int(tree[name].num_entries)
        if entries != n:
            raise DataError(
                f"{src}: branch {name!r} has {entries} entries, tree {plan.tree!r} has {n} "
                "(a malformed tree)"
            )
    return needed


def copy_layout(tree: Any, src: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The types uproot writes the copy's branches with (``var * float32`` for a
    variable-length array), in the input's order, and jagged branch -> its counter's name.

    Counter branches of the input (``nJet`` of ``Jet_pt[nJet]``) are not listed: uproot
    writes them again, under the same names, with the same values.

    Raises:
        DataError: a branch uproot cannot write (strings, objects, nested arrays).
    """
    from uproot.interpretation.jagged import AsJagged
    from uproot.interpretation.numerical import Numerical

    branches = list(tree.branches)
    count_of = {
        b.name: b.count_branch.name
        for b in branches
        if getattr(b, "count_branch", None) is not None
    }
    counters = set(count_of.values())
    types: dict[str, Any] = {}
    for b in branches:
        if b.name in counters:
            continue
        interp = b.interpretation
        if len(b.branches) == 0 and isinstance(interp, Numerical):
            types[b.name] = np.dtype(interp.to_dtype).newbyteorder("=")
        elif (
            len(b.branches) == 0
            and isinstance(interp, AsJagged)
            and isinstance(interp.content, Numerical)
            and np.dtype(interp.content.to_dtype).shape == ()
        ):
            types[b.name] = f"var * {np.dtype(interp.content.to_dtype).name}"
        else:
            raise DataError(
                f"{src}: branch {b.name!r} ({b.typename}) cannot be copied (--copy writes "
                "numbers and arrays of numbers); leave out --copy to write a friend tree"
            )
    return types, {name: count_of[name] for name in types if name in count_of}


def _chunks(
    tree: Any, src: Path, tree_name: str, names: Sequence[str], step: int | str
) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """``(first entry, entries, branch -> array)`` of each chunk (awkward arrays)."""
    if not names:  # nothing to read (a constant key, no variables): chunks of the right size
        n = int(tree.num_entries)
        size = step if isinstance(step, int) else STEP
        for start in range(0, n, size):
            yield start, min(size, n - start), {}
        return
    chunks = tree.iterate(list(names), step_size=step, library="ak", report=True)
    while True:
        try:
            chunk, report = next(chunks)
        except StopIteration:
            return
        except Exception as exc:  # a truncated or corrupt file fails while reading
            raise DataError(
                f"{src}: cannot read tree {tree_name!r} (truncated or corrupt file: "
                f"{exc.__class__.__name__})"
            ) from None
        start = int(report.tree_entry_start)
        yield start, int(report.tree_entry_stop) - start, {n: chunk[n] for n in names}


def _score_chunk(
    chunk: dict[str, Any],
    start: int,
    src: Path,
    variables: Sequence[str],
    key: Formula,
    scorer: Scorer,
) -> np.ndarray:
    size = len(next(iter(chunk.values()))) if chunk else 0
    columns = []
    for name in variables:
        try:
            columns.append(np.asarray(chunk[name].to_numpy(), dtype=np.float32))
        except ValueError:
            raise DataError(
                f"{src}: variable {name!r} is a variable-length array, not one number per event"
                " (an input of the model must be one number per event)"
            ) from None
        if columns[-1].ndim != 1:
            raise DataError(
                f"{src}: variable {name!r} is an array, not one number per event (an input of "
                "the model must be one number per event)"
            )
    x = np.column_stack(columns) if columns else np.zeros((size, 0), dtype=np.float32)
    inputs: dict[str, Any] = {}
    for name in key.branches:
        inputs[name] = chunk[name] if name in key.indexed else chunk[name].to_numpy()
    values, valid = key.evaluate(inputs, len(x))
    keys = event_keys(values, valid, key.expr, f"{src} (entries from {start})")
    return np.asarray(scorer.score(x, keys), dtype=np.float32)
