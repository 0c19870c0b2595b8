"""Loading ntuples: selection, weights, float32 arrays, and a cache of the result.

:func:`load_split` reads only the branches it needs, chunk by chunk (memory stays bounded
whatever the file size), applies the selection, computes the weights and keeps every
configured variable as a float32 column. The result is cached as one ``.npz`` file per
(configuration fingerprint, dataset key, split, files' identity = path, size, mtime) in the
cache folder; it is written to a temporary file and renamed into place, so concurrent jobs
filling the cache never see a partial file, and any change of a file or of the
configuration gives a new cache name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fourtop.data.config import DatasetConfig
from fourtop.data.formula import Formula
from fourtop.data.paths import default_cache_dir
from fourtop.errors import DataError, VariableError, did_you_mean

__all__ = ["SplitArrays", "cache_path", "load_split", "read_cache_file"]

log = logging.getLogger(__name__)

#: events read per chunk
STEP = 200_000
_CACHE_VERSION = 1


@dataclass
class SplitArrays:
    """Selected events of one split: all configured variables as float32 columns."""

    variables: list[str]
    signal: np.ndarray
    signal_weight: np.ndarray
    background: np.ndarray
    background_weight: np.ndarray

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
    out = []
    for p in paths:
        try:
            st = p.stat()
        except FileNotFoundError:
            out.append([str(p), None, None])
        else:
            out.append([str(p), st.st_size, st.st_mtime_ns])
    return out


def cache_path(config: DatasetConfig, key: str, split: int, cache_dir: Path | None = None) -> Path:
    """Where :func:`load_split` caches the arrays of ``key`` and ``split``."""
    files = config.files(key, split)
    doc = repr(
        (_CACHE_VERSION, config.fingerprint(), _identity(files.signal), _identity(files.background))
    )
    digest = hashlib.sha256(doc.encode()).hexdigest()[:20]
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"arrays_{key}_split{split}_{digest}.npz"


def read_cache_file(path: str | Path) -> SplitArrays:
    """Read arrays written by :func:`load_split` (or shipped with a batch job).

    Raises:
        DataError: the file is missing or not a fourtop arrays file.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return SplitArrays(
                variables=[str(v) for v in z["variables"]],
                signal=z["signal"],
                signal_weight=z["signal_weight"],
                background=z["background"],
                background_weight=z["background_weight"],
            )
    except FileNotFoundError:
        raise DataError(f"{path}: arrays file not found") from None
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a fourtop arrays file ({exc.__class__.__name__})") from exc


def _write_cache(path: Path, arrays: SplitArrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                variables=np.asarray(arrays.variables),
                signal=arrays.signal,
                signal_weight=arrays.signal_weight,
                background=arrays.background,
                background_weight=arrays.background_weight,
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_split(
    config: DatasetConfig, key: str, split: int, cache_dir: Path | None = None
) -> SplitArrays:
    """Selected signal and background events of dataset ``key`` and ``split``, cached.

    Raises:
        DataError: a file, tree or branch is missing, or the selection keeps no events.
        ExpressionError: the weight or selection reads a branch the tree does not have.
    """
    path = cache_path(config, key, split, cache_dir)
    if path.is_file():
        try:
            arrays = read_cache_file(path)
        except DataError as exc:
            log.warning("ignoring a bad cache file: %s", exc)
        else:
            if arrays.variables == config.variable_names():
                log.info("arrays from the cache %s", path)
                return arrays
    files = config.files(key, split)
    signal, signal_weight = _read_class(config, files.signal, "signal", key, split)
    background, background_weight = _read_class(config, files.background, "background", key, split)
    arrays = SplitArrays(
        config.variable_names(), signal, signal_weight, background, background_weight
    )
    try:
        _write_cache(path, arrays)
    except OSError as exc:  # a read-only cache must not stop the job
        log.warning("cannot write the cache %s: %s", path, exc)
    return arrays


def _read_class(
    config: DatasetConfig, paths: Sequence[Path], what: str, key: str, split: int
) -> tuple[np.ndarray, np.ndarray]:
    selection = Formula(config.selection, "selection")
    weight = Formula(config.weight, "weight")
    names = config.variable_names()
    needed = list(dict.fromkeys([*names, *selection.branches, *weight.branches]))
    columns: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for path in paths:
        for chunk in _iterate(config, path, needed, selection, weight):
            sel, ok_s = selection.evaluate(chunk)
            w, ok_w = weight.evaluate(chunk)
            keep = ok_s & ok_w & (sel != 0)
            if not keep.any():
                continue
            columns.append(np.column_stack([_scalar(chunk[n], n, path)[keep] for n in names]))
            weights.append(w[keep].astype(np.float32))
    if not columns:
        raise DataError(
            f"selection keeps no {what} events in dataset {key} split {split} "
            f"({len(paths)} file(s), first {paths[0] if paths else '-'}): {config.selection}"
        )
    return np.concatenate(columns).astype(np.float32), np.concatenate(weights)


def _scalar(values: object, name: str, path: Path) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values.astype(np.float32)
    raise DataError(f"{path}: variable {name!r} is a variable-length array, not one number")


def _iterate(config: DatasetConfig, path: Path, needed, selection: Formula, weight: Formula):
    import uproot

    if not path.is_file():
        hint = ""
        if config.is_default:
            hint = " (make the synthetic samples with `fourtop generate`)"
        raise DataError(f"{path}: ntuple not found{hint}")
    try:
        f = uproot.open(path)
    except Exception as exc:  # uproot raises many types for a corrupt file
        raise DataError(f"{path}: cannot open as a ROOT file ({exc.__class__.__name__})") from exc
    with f:
        if config.tree not in f:
            trees = [k.split(";")[0] for k, c in f.classnames().items() if c.startswith("TTree")]
            raise DataError(
                f"{path}: no tree {config.tree!r}{did_you_mean(config.tree, trees)}"
                f" (trees: {', '.join(trees) or 'none'})"
            )
        tree = f[config.tree]
        available = set(tree.keys())
        selection.check_branches(available, str(path))
        weight.check_branches(available, str(path))
        for name in needed:
            if name not in available:
                raise DataError(
                    f"{path}: tree {config.tree!r} has no branch {name!r}"
                    f"{did_you_mean(name, available)}"
                )
        jagged = selection.indexed | weight.indexed
        flat = [n for n in needed if n not in jagged]
        for chunk in tree.iterate(needed, step_size=STEP, library="ak"):
            out: dict[str, object] = {n: chunk[n] for n in jagged}
            for n in flat:
                try:
                    out[n] = chunk[n].to_numpy()
                except ValueError:
                    raise DataError(
                        f"{path}: branch {n!r} is a variable-length array; index it in "
                        "the expression (e.g. x[0]) or leave it out of the variables"
                    ) from None
            yield out
