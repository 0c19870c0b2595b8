"""Drawing random seeds for an importance run, respecting correlated-variable groups.

A seed is a random subset of the variable list. Variables whose absolute linear
correlation reaches the threshold form a group (connected through any chain of
such pairs); a seed keeps at most one member of each group, chosen at random
among the members the draw included, so a group is never dropped entirely by
the de-correlation step (the original tool could drop them all).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import numpy as np

from fourtop.errors import VariableError
from fourtop.jobs.seed import Seed

__all__ = ["correlated_groups", "draw_seeds", "family_of"]

log = logging.getLogger(__name__)

#: Smallest seed: a seed with one variable would have an empty subseed.
MIN_INCLUDED = 2


def correlated_groups(corr: np.ndarray, names: Sequence[str], threshold: float) -> list[list[str]]:
    """Groups (size >= 2) of variables linked by ``|corr| >= threshold``.

    Example:
        >>> c = np.array([[1, .9, 0], [.9, 1, 0], [0, 0, 1]])
        >>> correlated_groups(c, ["a", "b", "c"], 0.8)
        [['a', 'b']]
    """
    n = len(names)
    if corr.shape != (n, n):
        raise VariableError(f"correlation matrix is {corr.shape}, expected {n}x{n}")
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    linked = np.abs(np.nan_to_num(corr)) >= threshold
    for i, j in zip(*np.nonzero(np.triu(linked, k=1)), strict=True):
        parent[find(int(i))] = find(int(j))
    groups: dict[int, list[str]] = {}
    for i, name in enumerate(names):
        groups.setdefault(find(i), []).append(name)
    return [g for g in groups.values() if len(g) > 1]


def draw_seeds(
    variables: Sequence[str],
    n: int,
    rng: np.random.Generator,
    groups: Iterable[Sequence[str]] = (),
    exclude: Iterable[Seed] = (),
    max_tries: int = 1000,
) -> list[Seed]:
    """Draw ``n`` distinct random seeds over ``variables``.

    Each variable is included with probability 1/2; then in each correlated
    group only one of the included members is kept (chosen at random). Seeds
    with fewer than two variables, and seeds equal to an earlier one or to one
    in ``exclude``, are drawn again.

    Raises:
        VariableError: a group names an unknown variable, or ``n`` distinct
            seeds cannot be drawn from so few variables.
    """
    variables = list(variables)
    index = {v: i for i, v in enumerate(variables)}
    group_idx = []
    for group in groups:
        unknown = [g for g in group if g not in index]
        if unknown:
            raise VariableError(f"correlated group names unknown variable {unknown[0]!r}")
        group_idx.append(np.array([index[g] for g in group]))
    seen = {s.binary for s in exclude}
    seeds: list[Seed] = []
    tries = 0
    while len(seeds) < n:
        tries += 1
        if tries > max_tries + 10 * n:
            grouped = sum(len(idx) for idx in group_idx)
            why = (
                f" ({grouped} of them are in correlated groups, of which a seed keeps one "
                "each: raise -c to group fewer)"
                if grouped
                else ""
            )
            raise VariableError(
                f"could only draw {len(seeds)} distinct seeds of {n} from {len(variables)} "
                f"variables{why}; ask for fewer seeds or use more variables"
            )
        bits = rng.integers(0, 2, size=len(variables)).astype(bool)
        for idx in group_idx:
            on = idx[bits[idx]]
            if len(on) > 1:
                bits[idx] = False
                bits[rng.choice(on)] = True
        if bits.sum() < MIN_INCLUDED:
            continue
        binary = "".join("1" if b else "0" for b in bits)
        if binary in seen:
            continue
        seen.add(binary)
        seeds.append(Seed.from_binary(binary, variables))
    log.info("drew %d seeds in %d tries", n, tries)
    return seeds


def family_of(seed: Seed) -> list[tuple[Seed, Seed | None]]:
    """The seed job and one subseed job per included variable: (seed, subseed) pairs."""
    return [(seed, None)] + [(seed, sub) for sub in seed.subseeds()]
