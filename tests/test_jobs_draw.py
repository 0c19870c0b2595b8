"""Seed drawing: distinct, non-trivial seeds that respect correlated groups."""

from __future__ import annotations

import numpy as np
import pytest

from fourtop.errors import VariableError
from fourtop.jobs.draw import MIN_INCLUDED, correlated_groups, draw_seeds, family_of

VARS = [f"v{i}" for i in range(12)]


def test_groups_are_connected_components_of_strong_correlations():
    corr = np.eye(5)
    corr[0, 1] = corr[1, 0] = 0.85  # a-b
    corr[1, 2] = corr[2, 1] = -0.9  # b-c (anti-correlated counts too)
    corr[3, 4] = corr[4, 3] = 0.5  # below threshold
    groups = correlated_groups(corr, list("abcde"), 0.8)
    assert groups == [["a", "b", "c"]]
    assert correlated_groups(corr, list("abcde"), 0.95) == []


def test_groups_reject_a_matrix_of_the_wrong_shape():
    with pytest.raises(VariableError, match="expected 3x3"):
        correlated_groups(np.eye(2), ["a", "b", "c"], 0.8)


def test_draw_gives_distinct_seeds_with_at_least_two_variables():
    seeds = draw_seeds(VARS, 200, np.random.default_rng(1))
    assert len({s.binary for s in seeds}) == 200
    assert all(sum(s.states.values()) >= MIN_INCLUDED for s in seeds)
    assert all(s.variables == VARS for s in seeds)


def test_draw_is_reproducible_for_a_random_seed():
    a = draw_seeds(VARS, 20, np.random.default_rng(7))
    b = draw_seeds(VARS, 20, np.random.default_rng(7))
    assert [s.binary for s in a] == [s.binary for s in b]


def test_at_most_one_member_of_a_group_and_never_all_dropped():
    group = ["v0", "v1", "v2"]
    seeds = draw_seeds(VARS, 300, np.random.default_rng(3), groups=[group])
    kept_counts = [sum(s.includes(v) for v in group) for s in seeds]
    assert max(kept_counts) == 1
    # every member is kept sometimes: the kept one is chosen at random
    for v in group:
        assert any(s.includes(v) for s in seeds)
    # the group is represented whenever the draw included any member: 1 - 1/8 of the time
    represented = np.mean([c == 1 for c in kept_counts])
    assert 0.75 < represented < 0.98


def test_draw_skips_seeds_already_in_the_folder():
    first = draw_seeds(VARS[:4], 5, np.random.default_rng(0))
    more = draw_seeds(VARS[:4], 5, np.random.default_rng(0), exclude=first)
    assert not {s.binary for s in first} & {s.binary for s in more}


def test_asking_for_more_seeds_than_exist_is_a_clear_error():
    # 3 variables give only 4 seeds with >= 2 variables
    with pytest.raises(VariableError, match="could only draw 4 distinct seeds of 5"):
        draw_seeds(VARS[:3], 5, np.random.default_rng(0))


def test_group_with_unknown_variable_is_rejected():
    with pytest.raises(VariableError, match="unknown variable 'nope'"):
        draw_seeds(VARS, 1, np.random.default_rng(0), groups=[["v0", "nope"]])


def test_family_has_one_subseed_per_included_variable():
    seed = draw_seeds(VARS, 1, np.random.default_rng(5))[0]
    family = family_of(seed)
    included = [v for v in VARS if seed.includes(v)]
    assert family[0] == (seed, None)
    assert len(family) == 1 + len(included)
    dropped = []
    for s, sub in family[1:]:
        assert s is seed
        missing = [v for v in included if not sub.includes(v)]
        assert len(missing) == 1
        dropped.append(missing[0])
    assert sorted(dropped) == sorted(included)
