"""Synthetic signal/background arrays shaped like ``fourtop.data.ntuples.SplitArrays``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fourtop.data.ntuples import SplitArrays, write_cache_file


def make_arrays(
    n_vars: int = 6,
    n_events: int = 400,
    *,
    seed: int = 0,
    negative_fraction: float = 0.1,
    names: Sequence[str] | None = None,
) -> SplitArrays:
    """Gaussian classes whose means differ by a decreasing amount per variable."""
    rng = np.random.default_rng(seed)
    names = list(names) if names is not None else [f"var{i}" for i in range(n_vars)]
    shift = np.linspace(1.0, 0.0, len(names), dtype=np.float32)
    sig = rng.normal(size=(n_events, len(names))).astype(np.float32) + shift
    bkg = rng.normal(size=(n_events, len(names))).astype(np.float32)

    def weights() -> np.ndarray:
        w = rng.uniform(0.5, 1.5, n_events).astype(np.float32)
        w[rng.random(n_events) < negative_fraction] *= -1
        return w

    return SplitArrays(
        variables=names,
        signal=sig,
        signal_weight=weights(),
        background=bkg,
        background_weight=weights(),
    )


def arrays_file(path: Path, **kwargs: object) -> Path:
    """:func:`make_arrays` written as a cache file (``run-job --arrays``, ``arrays_path``)."""
    write_cache_file(path, make_arrays(**kwargs))  # type: ignore[arg-type]
    return path
