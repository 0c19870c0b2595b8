"""The event key of k-fold training: which fold an event belongs to.

A configuration's ``event_id`` expression (real ntuples carry an event number, e.g.
``event_CommonCalc``; ``fourtop generate`` writes one) gives every event an integer key;
the event is in fold ``key mod k``. ``final`` trains the model of fold ``i`` on the events of
the other folds and ``apply`` scores an event with the model of its own fold, so no event is
scored by a model that trained on it.

Example:
    >>> keys = event_keys(np.array([7.0, 12.0, -3.0]), np.ones(3, bool), "evt", "f.root")
    >>> fold_of(keys, 5).tolist()
    [2, 2, 2]
"""

from __future__ import annotations

import numpy as np

from fourtop.errors import DataError

__all__ = ["EXACT_LIMIT", "event_keys", "fold_of"]

#: keys up to this size are exact (the expression is evaluated in float64)
EXACT_LIMIT = 2**53


def event_keys(values: np.ndarray, valid: np.ndarray, expr: str, where: str) -> np.ndarray:
    """The integer keys of evaluated ``event_id`` values (int64).

    Raises:
        DataError: a value is missing (an index out of range), not finite, not a whole
            number or too large to be exact; the message names the file and entry.
    """
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.asarray(valid, dtype=bool) | ~np.isfinite(values)
    bad |= np.abs(values) >= EXACT_LIMIT
    bad |= values != np.round(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{where}: event key {expr!r} is not a whole number below 2**53 for entry {i} "
            f"({float(values[i]):.17g}): set 'event_id' to the event number branch"
        )
    return values.astype(np.int64)


def fold_of(keys: np.ndarray, k: int) -> np.ndarray:
    """The fold of each key: ``key mod k`` (0 to k-1, also for negative keys)."""
    return np.mod(np.asarray(keys, dtype=np.int64), int(k))
