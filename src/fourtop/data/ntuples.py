"""Loading ntuples: selection, weights, float32 arrays, and a cache of the result.

:func:`load_split` reads only the branches it needs, chunk by chunk (memory stays bounded
whatever the file size), applies the selection, computes the weights and keeps every
configured variable as a float32 column. The result is cached as one arrays file
(:mod:`fourtop.data.arrayfile`) per (configuration fingerprint, dataset key, split, files'
identity = path, size, mtime) in the cache folder; it is written to a temporary file and
renamed into place, so concurrent jobs filling the cache never see a partial file, and any
change of a file or of the configuration gives a new cache name. A cached split is
memory-mapped, not read: loading takes milliseconds at any size, and the worker processes of
one machine share its pages instead of each holding a copy. The ``.npz`` cache files of
fourtop before the arrays file (cache version 1) are still read by :func:`read_cache_file`
(``run-job --arrays`` of an older job folder), into memory.

Bad data is refused when the split is loaded, before any training, with a one-line
:class:`~fourtop.errors.DataError` naming the file or expression: a missing, empty, truncated
or non-ROOT ntuple, a missing tree or branch, a weight that is not finite in float32 (``1e39``,
``TMath::Log(0)``), and a class whose weights are all zero, all negative or sum to zero or
less. The cache is only an optimisation: a cache file that cannot be read (truncated,
damaged) is rebuilt, and a cache folder that cannot be written (read-only, full) is skipped
with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fourtop.data import arrayfile
from fourtop.data.config import DatasetConfig
from fourtop.data.eventkey import event_keys as event_keys_of
from fourtop.data.formula import Formula
from fourtop.data.paths import default_cache_dir
from fourtop.errors import (
    ConfigError,
    DataError,
    ExpressionError,
    FourtopError,
    OutputError,
    VariableError,
    did_you_mean,
)
from fourtop.fileio import atomic_output, clean_stale, describe_os_error

__all__ = [
    "SplitArrays",
    "cache_path",
    "check_event_id",
    "check_root_file",
    "check_weights",
    "load_split",
    "open_tree",
    "read_cache_file",
    "write_cache_file",
]

log = logging.getLogger(__name__)

#: events read per chunk
STEP = 200_000
#: 1: one .npz per split; 2: an arrays file (memory-mapped)
_CACHE_VERSION = 2
#: the cache file's suffix
CACHE_SUFFIX = ".arrays"
#: the arrays of a cache (or shipped arrays) file
_KEYS = ("variables", "signal", "signal_weight", "background", "background_weight")
#: the optional arrays of a cache file: the event keys
_EVENT_KEYS = ("signal_key", "background_key")
#: the largest finite float32
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: temporary cache files of the versions before fileio (``.<name>.<pid>.tmp``)
_OLD_TEMP = re.compile(r"^\.arrays_.+\.(?:npz|arrays)\.(?P<pid>\d+)\.tmp$")
#: a temporary cache file older than this (seconds) is a dead writer's, even on another host
_STALE_AGE = 3600.0


@dataclass
class SplitArrays:
    """Selected events of one split: all configured variables as float32 columns."""

    variables: list[str]
    signal: np.ndarray
    signal_weight: np.ndarray
    background: np.ndarray
    background_weight: np.ndarray
    #: the event keys (``event_id``, int64) of the signal and background events, when loaded
    #: with ``event_keys=True``
    signal_key: np.ndarray | None = None
    background_key: np.ndarray | None = None

    def columns(self, names: Sequence[str]) -> np.ndarray:
        """Column indices of ``names``.

        Raises:
            VariableError: a name is not one of :attr:`variables`.
        """
        index = {v: i for i, v in enumerate(self.variables)}
        out = []
        for name in names:
            if name not in index:
                raise VariableError(
                    f"unknown variable {name!r}: not in the dataset"
                    f"{did_you_mean(name, self.variables)}"
                )
            out.append(index[name])
        return np.asarray(out, dtype=np.int64)


def _identity(paths: Sequence[Path]) -> list[list[object]]:
    out: list[list[object]] = []
    for p in paths:
        try:
            st = p.stat()
        except (OSError, ValueError):  # missing or unreadable: load_split says which
            out.append([str(p), None, None])
        else:
            out.append([str(p), st.st_size, st.st_mtime_ns])
    return out


def cache_path(
    config: DatasetConfig,
    key: str,
    split: int,
    cache_dir: Path | None = None,
    *,
    event_keys: bool = False,
) -> Path:
    """Where :func:`load_split` caches the arrays of ``key`` and ``split`` (with
    ``event_keys``: and the events' keys, a file of its own)."""
    files = config.files(key, split)
    parts: tuple[object, ...] = (
        _CACHE_VERSION,
        config.fingerprint(),
        _identity(files.signal),
        _identity(files.background),
    )
    if event_keys:
        parts += ("event_id", config.event_id)
    doc = repr(parts)
    digest = hashlib.sha256(doc.encode()).hexdigest()[:20]
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"arrays_{key}_split{split}_{digest}{CACHE_SUFFIX}"


def read_cache_file(path: str | Path) -> SplitArrays:
    """Read arrays written by :func:`load_split` (or shipped with a batch job).

    An arrays file is memory-mapped (read-only arrays, shared with every process that maps
    it); an ``.npz`` of an older fourtop is read into memory. The arrays are checked as
    :func:`load_split` checks them: shapes that fit the variables, finite weights, and each
    class with a positive total weight.

    Raises:
        DataError: the file is missing, not a fourtop arrays file, or its weights are unusable.
    """
    path = Path(path)
    arrays = _read_arrays(path)
    check_weights(arrays, (str(path), str(path)))
    return arrays


def _read_arrays(path: Path) -> SplitArrays:
    """The arrays of a cache file (an arrays file, mapped; or an older ``.npz``), their
    shapes checked (not their weights)."""
    try:
        if path.is_dir():
            raise DataError(f"{path}: is a folder, not a fourtop arrays file")
        with open(path, "rb") as fh:
            head = fh.read(len(arrayfile.MAGIC))
    except FileNotFoundError:
        raise DataError(f"{path}: arrays file not found") from None
    except OSError as exc:
        raise DataError(f"cannot read the arrays file {describe_os_error(exc, path)}") from None
    if not head:
        raise DataError(f"{path}: not a fourtop arrays file (empty file)")
    if arrayfile.is_arrays_file(head):
        variables, data = arrayfile.map_arrays(path)
        missing = [k for k in _KEYS if k != "variables" and k not in data]
        if missing:
            raise DataError(f"{path}: not a fourtop arrays file (no {missing[0]!r})")
        data["variables"] = np.asarray(variables, dtype=str)
        return _checked_arrays(path, data)
    if not head.startswith((b"PK", b"\x93NUMPY")):  # a zip archive (.npz) or an .npy
        raise DataError(
            f"{path}: not a fourtop arrays file (neither an arrays file nor an .npz archive)"
        )
    return _read_npz(path)


def _read_npz(path: Path) -> SplitArrays:
    """The arrays of an ``.npz`` cache file (fourtop before the arrays file), in memory."""
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: not a fourtop arrays file (one array, not an .npz archive)")
        with z:
            missing = [k for k in _KEYS if k not in z.files]
            if missing:
                raise DataError(f"{path}: not a fourtop arrays file (no {missing[0]!r})")
            data = {k: z[k] for k in _KEYS}
            for k in _EVENT_KEYS:
                if k in z.files:
                    data[k] = z[k]
    except FourtopError:
        raise
    except Exception as exc:  # numpy and zipfile raise many types for a corrupt file
        raise DataError(
            f"{path}: not a fourtop arrays file (a damaged .npz archive: {exc.__class__.__name__})"
        ) from None
    return _checked_arrays(path, data)


def _checked_arrays(path: Path, data: dict[str, np.ndarray]) -> SplitArrays:
    def bad(problem: str) -> DataError:
        return DataError(f"{path}: not a fourtop arrays file ({problem})")

    names = data["variables"]
    if names.ndim != 1 or names.dtype.kind not in "US" or not len(names):
        raise bad(f"variables: expected a list of names, found {names.dtype} {names.shape}")
    variables = [str(v) for v in names]
    out: dict[str, np.ndarray] = {}
    for what in ("signal", "background"):
        x, w = data[what], data[f"{what}_weight"]
        if x.ndim != 2 or x.shape[1] != len(variables) or x.dtype.kind not in "fiub":
            raise bad(
                f"{what}: expected {len(variables)} columns (one per variable) of numbers, "
                f"found {x.dtype} {x.shape}"
            )
        if w.ndim != 1 or len(w) != len(x) or w.dtype.kind not in "fiub":
            raise bad(f"{what}_weight: {w.size} values for {len(x)} {what} events")
        # no copy of float32 (what fourtop writes): a mapped file stays mapped
        out[what] = np.asarray(x, dtype=np.float32)
        out[f"{what}_weight"] = np.asarray(w, dtype=np.float32)
        if f"{what}_key" in data:
            keys = data[f"{what}_key"]
            if keys.ndim != 1 or len(keys) != len(x) or keys.dtype.kind not in "iu":
                raise bad(f"{what}_key: {keys.size} keys for {len(x)} {what} events")
            out[f"{what}_key"] = np.asarray(keys, dtype=np.int64)
    return SplitArrays(variables=variables, **out)


def check_weights(arrays: SplitArrays, sources: tuple[str, str]) -> None:
    """Refuse weights no network can be trained and measured on, naming the class.

    Training uses ``|w|`` with each class normalized and the ROC integral uses the signed
    weights, so each class needs finite weights with a positive sum.

    Args:
        arrays: the selected events.
        sources: where the signal and the background weights come from, for the messages.

    Raises:
        DataError: a class has no events, a weight that is not finite, weights that are all
            zero, all negative, or that sum to zero or less.
    """
    for what, w, source in (
        ("signal", arrays.signal_weight, sources[0]),
        ("background", arrays.background_weight, sources[1]),
    ):
        w = np.asarray(w, dtype=np.float64)
        if not len(w):
            raise DataError(f"no {what} events ({source})")
        if not np.isfinite(w).all():
            raise DataError(f"{source}: the {what} weights are not finite (NaN or infinite)")
        total = float(w.sum())
        if 0 < total < float(np.finfo(np.float32).tiny) * len(w):
            raise DataError(
                f"{source}: the {what} weights are too small to train on (they sum to "
                f"{total:.3g}, below float32's normal range per event); scale the weight "
                "expression up (only the shape of the weights matters for training)"
            )
        if total > 0:
            continue
        if not w.any():
            raise DataError(
                f"the weights of the {what} are all zero ({source}): no event to train on"
            )
        if (w <= 0).all():
            sign = "negative" if (w < 0).all() else "negative or zero"
            raise DataError(
                f"the weights of the {what} are all {sign} ({source}): "
                "a class needs a positive total weight"
            )
        raise DataError(
            f"the weights of the {what} sum to {total:.6g} (<= 0) ({source}): a class needs "
            "a positive total weight (too many negative weights?)"
        )


def _describe_files(paths: Sequence[Path]) -> str:
    if len(paths) == 1:
        return f"1 file: {paths[0]}"
    return f"{len(paths)} files, first {paths[0] if paths else '-'}"


def _read_cached(path: Path, config: DatasetConfig) -> SplitArrays | None:
    """The cached arrays, or None when there are none (a bad cache file is ignored)."""
    try:
        if not path.is_file():
            return None
    except OSError:
        return None
    try:
        arrays = _read_arrays(path)
    except DataError as exc:
        log.warning("ignoring the unreadable cache file (%s); reading the ntuples again", exc)
        return None
    if arrays.variables != config.variable_names():
        log.warning("ignoring the cache file %s: made for other variables", path)
        return None
    log.info("arrays from the cache %s", path)
    return arrays


def write_cache_file(path: Path, arrays: SplitArrays) -> None:
    """Write ``arrays`` as a cache file (what :func:`read_cache_file` and ``run-job --arrays``
    read), atomically; a folder this call made is removed if that fails.

    Raises:
        OutputError: the file could not be written (the folder is full, read-only, ...).
    """
    folder = path.parent
    made = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write the cache folder {describe_os_error(exc)}") from None
    clean_stale(folder, extra=_OLD_TEMP, min_age=_STALE_AGE)
    try:
        data = {
            "signal": np.asarray(arrays.signal, dtype=np.float32),
            "signal_weight": np.asarray(arrays.signal_weight, dtype=np.float32),
            "background": np.asarray(arrays.background, dtype=np.float32),
            "background_weight": np.asarray(arrays.background_weight, dtype=np.float32),
        }
        if arrays.signal_key is not None and arrays.background_key is not None:
            data["signal_key"] = np.asarray(arrays.signal_key, dtype=np.int64)
            data["background_key"] = np.asarray(arrays.background_key, dtype=np.int64)
        with atomic_output(path, what="cache file") as tmp, open(tmp, "xb") as fh:
            arrayfile.write_arrays(fh, arrays.variables, data)
    except BaseException:
        for p in made:  # deepest first; only the empty folders this call made
            try:
                p.rmdir()
            except OSError:
                break
        raise


def load_split(
    config: DatasetConfig,
    key: str,
    split: int,
    cache_dir: Path | None = None,
    *,
    event_keys: bool = False,
) -> SplitArrays:
    """Selected signal and background events of dataset ``key`` and ``split``, cached.

    With ``event_keys`` the events' keys (the configuration's ``event_id``) are loaded too
    (:attr:`SplitArrays.signal_key`); without an ``event_id`` that is a ConfigError.

    The weights are checked (:func:`check_weights`) before anything is cached or returned,
    so bad weights fail here, before any training. A cache that cannot be written is
    skipped with a warning.

    Raises:
        DataError: a file, tree or branch is missing or unreadable, the selection keeps no
            events, a weight is not finite in float32, or a class's weights are all zero,
            all negative or sum to zero or less.
        ExpressionError: the weight or selection reads a branch the tree does not have.
    """
    if event_keys and config.event_id is None:
        raise ConfigError(
            f"{config.path}: no 'event_id': k-fold training needs an event key, e.g. "
            'event_id = "event_CommonCalc" (the event number branch of your ntuples) at the '
            "top of the configuration"
        )
    path = cache_path(config, key, split, cache_dir, event_keys=event_keys)
    files = config.files(key, split)
    where = f"weight {config.weight!r}, dataset {key} split {split}"
    sources = (
        f"{where}, {_describe_files(files.signal)}",
        f"{where}, {_describe_files(files.background)}",
    )
    cached = _read_cached(path, config)
    if cached is not None and (not event_keys or cached.signal_key is not None):
        check_weights(cached, sources)
        return cached
    signal, signal_weight, signal_key = _read_class(
        config, files.signal, "signal", key, split, event_keys
    )
    background, background_weight, background_key = _read_class(
        config, files.background, "background", key, split, event_keys
    )
    arrays = SplitArrays(
        config.variable_names(),
        signal,
        signal_weight,
        background,
        background_weight,
        signal_key,
        background_key,
    )
    check_weights(arrays, sources)
    try:
        write_cache_file(path, arrays)
    except OutputError as exc:  # the cache is an optimisation: go on without it
        log.warning("not caching the arrays: %s", exc)
        return arrays
    # the file's pages instead of this process's copy: shared with the other workers
    return _read_cached(path, config) or arrays


def _read_class(
    config: DatasetConfig,
    paths: Sequence[Path],
    what: str,
    key: str,
    split: int,
    with_keys: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    selection = Formula(config.selection, "selection")
    weight = Formula(config.weight, "weight")
    event_id = Formula(config.event_id, "event_id") if with_keys and config.event_id else None
    names = config.variable_names()
    extra = [*event_id.branches] if event_id is not None else []
    needed = list(dict.fromkeys([*names, *selection.branches, *weight.branches, *extra]))
    columns: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    n_read = n_selected = 0
    for path in paths:
        chunks = _iterate(config, path, needed, selection, weight, event_id)
        for start, size, chunk in chunks:
            sel, ok_s = selection.evaluate(chunk, size)
            w, ok_w = weight.evaluate(chunk, size)
            selected = ok_s & (sel != 0)
            keep = selected & ok_w
            n_read += size
            n_selected += int(selected.sum())
            if not keep.any():
                continue
            columns.append(np.column_stack([_scalar(chunk[n], n, path)[keep] for n in names]))
            weights.append(_weights32(weight, w[keep], start + np.flatnonzero(keep), path))
            if event_id is not None:
                k, ok_k = event_id.evaluate(chunk, size)
                where_k = f"{path} (entries from {start})"
                keys.append(event_keys_of(k[keep], ok_k[keep], event_id.expr, where_k))
    where = f"in dataset {key} split {split}"
    files = f"{len(paths)} file(s), first {paths[0] if paths else '-'}"
    if not n_read:
        raise DataError(
            f"no {what} events {where}: the tree {config.tree!r} of its {len(paths)} file(s) "
            f"has no entries (first {paths[0] if paths else '-'})"
        )
    if not columns and n_selected:
        raise DataError(
            f"weight {config.weight!r} has no value for any of the {n_selected} {what} events "
            f"the selection keeps (an index past the end of a variable-length branch) {where} "
            f"({files})"
        )
    if not columns:
        raise DataError(f"selection keeps no {what} events {where} ({files}): {config.selection}")
    x = np.concatenate(columns).astype(np.float32)
    _warn_not_finite(x, names, what, where)
    return x, np.concatenate(weights), np.concatenate(keys) if event_id is not None else None


def _weights32(weight: Formula, w: np.ndarray, entries: np.ndarray, path: Path) -> np.ndarray:
    """The kept events' weights as float32; a value that is not finite there is an error."""
    with np.errstate(over="ignore"):
        w32 = w.astype(np.float32)
    bad = ~np.isfinite(w32)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        if not np.isfinite(w[i]):
            problem = f"not finite (NaN or infinite) in {path} (entry {entries[i]}: {w[i]})"
        else:
            problem = (
                f"not finite in float32 in {path} (entry {entries[i]}: {w[i]:g}; float32 "
                f"holds up to {_FLOAT32_MAX:.3g})"
            )
        raise DataError(f"weight expression {weight.expr!r} gives values that are {problem}")
    return w32


def _warn_not_finite(x: np.ndarray, names: Sequence[str], what: str, where: str) -> None:
    """Jobs that use a variable with NaN or infinite values fail; say so once, here."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    for col in np.flatnonzero(bad.any(axis=0)):
        log.warning(
            "variable %r has %d %s events %s that are NaN or infinite in float32: "
            "the jobs that use it will fail",
            names[col],
            int(bad[:, col].sum()),
            what,
            where,
        )


def _scalar(values: object, name: str, path: Path) -> np.ndarray:
    if isinstance(values, np.ndarray):
        with np.errstate(over="ignore"):
            return values.astype(np.float32)
    raise DataError(f"{path}: variable {name!r} is a variable-length array, not one number")


def _iterate(
    config: DatasetConfig,
    path: Path,
    needed: Sequence[str],
    selection: Formula,
    weight: Formula,
    event_id: Formula | None = None,
) -> Iterator[tuple[int, int, dict[str, object]]]:
    """``(first entry, events, branch arrays)`` of each chunk of the file's tree."""
    import uproot

    _check_root_file(config, path)
    try:
        f = uproot.open(path)
    except Exception as exc:  # uproot raises many types for a corrupt file
        raise DataError(f"{path}: cannot open as a ROOT file ({exc.__class__.__name__})") from None
    with f:
        tree = _tree(config, path, f)
        available = set(tree.keys())
        selection.check_branches(available, str(path))
        weight.check_branches(available, str(path))
        if event_id is not None:
            event_id.check_branches(available, str(path))
        for name in needed:
            if name not in available:
                raise DataError(
                    f"{path}: tree {config.tree!r} has no branch {name!r}"
                    f"{did_you_mean(name, available)}"
                )
        jagged = selection.indexed | weight.indexed | (event_id.indexed if event_id else set())
        flat = [n for n in needed if n not in jagged]
        chunks = tree.iterate(needed, step_size=STEP, library="ak", report=True)
        while True:
            try:
                chunk, report = next(chunks)
            except StopIteration:
                return
            except Exception as exc:  # a truncated or corrupt file fails while reading
                raise DataError(
                    f"{path}: cannot read tree {config.tree!r} (truncated or corrupt file: "
                    f"{exc.__class__.__name__})"
                ) from None
            out: dict[str, object] = {n: chunk[n] for n in jagged}
            for n in flat:
                try:
                    out[n] = chunk[n].to_numpy()
                except ValueError:
                    raise DataError(
                        f"{path}: branch {n!r} is a variable-length array; index it in "
                        "the expression (e.g. x[0]) or leave it out of the variables"
                    ) from None
            yield int(report.tree_entry_start), len(chunk), out


def _check_root_file(config: DatasetConfig, path: Path) -> None:
    hint = " (make the synthetic samples with `fourtop generate`)" if config.is_default else ""
    check_root_file(path, hint)


def check_root_file(path: Path, hint: str = "") -> None:
    """A clear message for an ntuple that is missing, a folder, empty or not ROOT.

    ``hint`` is added to the message of a missing file.

    Raises:
        DataError: naming the file and the problem.
    """
    try:
        if path.is_dir():
            raise DataError(f"{path}: is a folder, not an ntuple")
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except FileNotFoundError:
        raise DataError(f"{path}: ntuple not found{hint}") from None
    except OSError as exc:
        raise DataError(f"cannot read the ntuple {describe_os_error(exc, path)}") from None
    if not magic:
        raise DataError(f"{path}: cannot open as a ROOT file (empty file)")
    if magic != b"root":
        raise DataError(f"{path}: cannot open as a ROOT file (no ROOT file header)")


def _tree(config: DatasetConfig, path: Path, f: object) -> object:
    return open_tree(f, path, config.tree)


def open_tree(f: object, path: Path, name: str) -> object:
    """The tree ``name`` of the open uproot file ``f`` (read from ``path``).

    Raises:
        DataError: no such tree (naming the trees there), not a tree, or unreadable.
    """
    import uproot

    try:
        classes = f.classnames()  # type: ignore[attr-defined]
        if name not in f:  # type: ignore[operator]
            trees = [k.split(";")[0] for k, c in classes.items() if c.startswith("TTree")]
            raise DataError(
                f"{path}: no tree {name!r}{did_you_mean(name, trees)}"
                f" (trees: {', '.join(trees) or 'none'})"
            )
        tree = f[name]  # type: ignore[index]
    except FourtopError:
        raise
    except Exception as exc:
        raise DataError(
            f"{path}: cannot read tree {name!r} (truncated or corrupt file: "
            f"{exc.__class__.__name__})"
        ) from None
    if not isinstance(tree, uproot.behaviors.TTree.TTree):
        kind = getattr(tree, "classname", type(tree).__name__)
        raise DataError(f"{path}: {name!r} is a {kind}, not a tree")
    return tree


def check_event_id(config: DatasetConfig, path: Path, k: int | None = None) -> None:
    """A quick check of the configuration's ``event_id`` on the first entries of ``path``,
    before a k-fold training starts: its branches exist, its values are whole numbers, and
    (with ``k``) they fall in more than one fold (every fold, given enough entries).

    Raises:
        ConfigError: the configuration has no ``event_id``.
        ExpressionError: it reads a branch the tree lacks (samples of an older ``fourtop
            generate`` lack ``event_CommonCalc``: the message says to generate them again).
        DataError: the file is unreadable, a value is not a whole number, or the keys put
            every event in one fold.
    """
    import uproot

    from fourtop.data.eventkey import fold_of

    if config.event_id is None:
        raise ConfigError(f"{config.path}: no 'event_id'")
    formula = Formula(config.event_id, "event_id")
    _check_root_file(config, path)
    try:
        f = uproot.open(path)
    except Exception as exc:  # uproot raises many types for a corrupt file
        raise DataError(f"{path}: cannot open as a ROOT file ({exc.__class__.__name__})") from None
    with f:
        tree = _tree(config, path, f)
        available = set(tree.keys())  # type: ignore[attr-defined]
        try:
            formula.check_branches(available, str(path))
        except ExpressionError as exc:
            hint = ""
            if config.is_default:
                hint = " (samples of an older fourtop lack it: run 'fourtop generate' again)"
            raise ExpressionError(f"{exc}{hint}") from None
        stop = min(_EVENT_ID_SAMPLE, int(tree.num_entries))  # type: ignore[attr-defined]
        try:
            chunk = tree.arrays(  # type: ignore[attr-defined]
                list(formula.branches), entry_stop=stop, library="ak"
            )
        except Exception as exc:  # a truncated or corrupt file fails while reading
            raise DataError(
                f"{path}: cannot read tree {config.tree!r} (truncated or corrupt file: "
                f"{exc.__class__.__name__})"
            ) from None
    arrays: dict[str, object] = {}
    for name in formula.branches:
        if name in formula.indexed:
            arrays[name] = chunk[name]
            continue
        try:
            arrays[name] = chunk[name].to_numpy()
        except ValueError:
            raise DataError(
                f"{path}: event_id branch {name!r} is a variable-length array; index it "
                "(e.g. x[0]) or choose the event number branch"
            ) from None
    values, valid = formula.evaluate(arrays, stop)
    keys = event_keys_of(values, valid, config.event_id, str(path))
    if k is None or not len(keys):
        return
    folds = np.unique(fold_of(keys, k))
    if len(folds) < 2 or (len(keys) >= 20 * k and len(folds) < k):
        raise DataError(
            f"{path}: event key {config.event_id!r} puts the first {len(keys)} entries in "
            f"{len(folds)} of {k} folds ({', '.join(str(int(x)) for x in folds[:10])}): every "
            "fold needs events; choose a key that varies from event to event (the event "
            "number), or another -k"
        )


#: entries of the first file checked before a k-fold training (``check_event_id``)
_EVENT_ID_SAMPLE = 5_000
