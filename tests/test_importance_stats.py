"""Statistics of fourtop.importance.stats on plain records, against independent computations."""

from __future__ import annotations

import math
import random
import statistics

import numpy as np
import pytest

from fourtop.errors import ResultsError
from fourtop.importance.stats import (
    SORT_KEYS,
    JobResult,
    bootstrap,
    compute_importance,
)

V = ("a", "b", "c", "d", "e")


def _drop(bits: str, var: str, variables=V) -> str:
    i = variables.index(var)
    return bits[:i] + "0" + bits[i + 1 :]


def family(bits, seed_roc, subs, source="f", variables=V):
    """JobResults of one seed and its subseeds (``subs``: dropped variable -> ROC or None)."""
    jobs = [JobResult(f"S{bits}", source, variables, bits, None, seed_roc)]
    for var, roc in subs.items():
        jobs.append(
            JobResult(f"S{bits}_{var}", source, variables, bits, _drop(bits, var, variables), roc)
        )
    return jobs


def reference(fams):
    """Independent computation from {bits: (seed roc, {var: roc})} with the stdlib."""
    freq = dict.fromkeys(V, 0)
    diffs = {v: [] for v in V}
    for bits, (sroc, subs) in fams.items():
        if sroc is None:
            continue
        for v, b in zip(V, bits, strict=True):
            freq[v] += b == "1"
        for v, roc in subs.items():
            if roc is not None:
                diffs[v].append(sroc - roc)
    return freq, diffs


def test_hand_computed_example():
    fams = {
        "11100": (0.80, {"a": 0.75, "b": 0.78, "c": None}),
        "11010": (0.82, {"a": 0.79, "b": 0.81, "d": 0.80}),
        "01110": (None, {"b": 0.6, "c": 0.6}),  # failed seed: subseeds are orphans
        "10001": (0.77, {"a": 0.70, "e": 0.76}),
        "00011": (0.70, {"d": 0.71}),
    }
    jobs = [j for bits, (r, s) in fams.items() for j in family(bits, r, s)]
    t = compute_importance(jobs)
    assert [t.rows[v].freq for v in V] == [3, 2, 1, 2, 2]
    a = t.rows["a"]
    assert a.differences == pytest.approx([0.05, 0.03, 0.07])
    assert a.sum == pytest.approx(0.15)
    assert a.mean == pytest.approx(0.05)
    assert a.rms == pytest.approx(math.sqrt((0 + 0.0004 + 0.0004) / 3))  # population std
    assert a.importance == pytest.approx(0.05 / a.rms)
    assert t.rows["d"].differences == pytest.approx([0.02, -0.01])
    assert t.never_tested == ["c"]
    assert t.undefined == ["e"]  # one difference only
    assert t.rows["e"].importance == 0.0 and not t.rows["e"].importance_defined
    assert t.normalization == pytest.approx(0.15 + 0.03 + 0.01 + 0.01)
    assert t.counts["orphan_subseeds"] == 2
    assert t.counts["no_result"] == 2  # the failed seed and the missing subseed


def test_random_folders_against_stdlib_reference():
    rng = random.Random(7)
    fams = {}
    while len(fams) < 20:  # 26 bit strings have two or more ones
        bits = "".join(rng.choice("01") for _ in V)
        if bits.count("1") < 2:
            continue
        sroc = None if rng.random() < 0.1 else rng.uniform(0.6, 0.9)
        subs = {
            v: (None if rng.random() < 0.15 else rng.uniform(0.55, 0.9))
            for v, b in zip(V, bits, strict=True)
            if b == "1"
        }
        fams[bits] = (sroc, subs)
    jobs = [j for bits, (r, s) in fams.items() for j in family(bits, r, s)]
    rng.shuffle(jobs)  # order of jobs in a folder must not matter
    t = compute_importance(jobs)
    freq, diffs = reference(fams)
    total = 0.0
    for v in V:
        row = t.rows[v]
        assert row.freq == freq[v]
        assert sorted(row.differences) == pytest.approx(sorted(diffs[v]))
        assert row.sum == pytest.approx(math.fsum(diffs[v]))
        assert row.mean == pytest.approx(statistics.fmean(diffs[v]))
        assert row.rms == pytest.approx(statistics.pstdev(diffs[v]))
        assert row.importance == pytest.approx(
            statistics.fmean(diffs[v]) / statistics.pstdev(diffs[v])
        )
        assert row.sem == pytest.approx(statistics.stdev(diffs[v]) / math.sqrt(len(diffs[v])))
        total += math.fsum(diffs[v])
    assert t.normalization == pytest.approx(total)


def test_duplicated_jobs_count_once_first_result_wins():
    first = family("11000", 0.80, {"a": 0.70, "b": None}, source="A")
    second = family("11000", 0.90, {"a": 0.10, "b": 0.85}, source="B")
    t = compute_importance(first + second)
    assert t.rows["a"].freq == 1
    assert t.rows["a"].differences == pytest.approx([0.10])  # A's seed and subseed
    # b had no result in A: B's subseed result fills in, paired with A's seed
    assert t.rows["b"].differences == pytest.approx([0.80 - 0.85])
    assert t.counts["duplicates"] == 3


def test_same_name_different_variable_lists_are_different_jobs():
    other = ("p", "q", "r", "s", "t")
    jobs = family("11000", 0.8, {"a": 0.7}) + family("11000", 0.8, {"p": 0.75}, variables=other)
    t = compute_importance(jobs)
    assert t.variables == [*V, *other]
    assert t.rows["a"].differences == pytest.approx([0.1])
    assert t.rows["p"].differences == pytest.approx([0.05])
    assert t.counts["duplicates"] == 0


def test_rms_zero_gives_flagged_zero_not_inf():
    jobs = family("11000", 0.8, {"a": 0.7}, source="x") + family("10100", 0.9, {"a": 0.8})
    t = compute_importance(jobs)
    row = t.rows["a"]
    assert row.n == 2 and row.rms == pytest.approx(0.0)
    assert row.importance == 0.0 and not row.importance_defined
    assert all(math.isfinite(r.importance) for r in t.rows.values())


@pytest.mark.parametrize("key", SORT_KEYS)
@pytest.mark.parametrize("increasing", [False, True])
def test_every_sort_order_both_ways_never_tested_last(key, increasing):
    rng = random.Random(3)
    jobs = []
    for bits in ("11110", "11100", "01110", "10110", "11010", "01100"):
        r = rng.uniform(0.7, 0.9)
        jobs += family(
            bits,
            r,
            {
                v: r - rng.uniform(-0.01, 0.05)
                for v, b in zip(V[:4], bits, strict=False)
                if b == "1"
            },
        )
    t = compute_importance(jobs)
    rows = t.ordered(key, increasing)
    assert [r.name for r in rows][-1] == "e"  # never tested
    values = [getattr(r, key) for r in rows[:-1]]
    assert values == sorted(values, reverse=not increasing)


def test_unknown_sort_key():
    t = compute_importance(family("11000", 0.8, {"a": 0.7}))
    with pytest.raises(
        ResultsError,
        match=r"unknown sort order 'importnce'.*did you mean: "
        r"importance",
    ):
        t.ordered("importnce")


def test_no_results_is_an_error():
    with pytest.raises(ResultsError, match="no seed job with a ROC-integral result"):
        compute_importance(family("11000", None, {"a": 0.7}))


def test_bits_not_matching_variables():
    bad = JobResult("Keras_x", "folderX", V, "110", None, 0.8)
    with pytest.raises(ResultsError, match="folderX: job Keras_x: seed bits do not match"):
        compute_importance([bad])


def test_bootstrap_intervals_and_ranks():
    rng = random.Random(11)
    jobs = []
    for k in range(60):
        bits = "".join(rng.choice("01") for _ in V[:4]) + "1"
        r = 0.8 + 0.001 * k
        subs = {
            v: r - {"a": 0.05, "b": 0.01, "c": 0.0, "d": 0.011, "e": 0.002}[v] - rng.gauss(0, 0.004)
            for v, b in zip(V, bits, strict=True)
            if b == "1"
        }
        jobs += family(bits, r, subs)
    t = compute_importance(jobs)
    bootstrap(t, n_boot=400, rng_seed=5)
    a = t.rows["a"]
    assert a.importance_rank == 1 and a.rank_ci95 == (1.0, 1.0)
    for row in t.rows.values():
        lo68, hi68 = row.importance_ci68
        lo95, hi95 = row.importance_ci95
        assert lo95 <= lo68 <= hi68 <= hi95
        assert lo68 <= row.importance * 1.05 + 0.05 and row.importance * 0.95 - 0.05 <= hi68
    # b and d are close: their rank intervals overlap
    b, d = t.rows["b"], t.rows["d"]
    assert b.rank_ci95[0] <= d.rank_ci95[1] and d.rank_ci95[0] <= b.rank_ci95[1]
    # the same seed gives the same intervals
    again = compute_importance(jobs)
    bootstrap(again, n_boot=400, rng_seed=5)
    assert again.rows["b"].importance_ci68 == b.importance_ci68
    assert np.isfinite([r.importance_ci95 for r in t.rows.values()]).all()
