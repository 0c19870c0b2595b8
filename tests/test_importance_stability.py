"""How stable the top of the ranking is, and the seeds estimated to make it stable
(``fourtop.importance.stability``), on importance tables built from known differences."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fourtop.errors import ResultsError
from fourtop.importance.calculation import calculate
from fourtop.importance.ranking import stability_verdict, stability_view
from fourtop.importance.stability import (
    MIN_FAMILIES,
    MIN_REPLICATES,
    _predicted_intervals,
    estimate_stability,
    rank_width,
)
from fourtop.importance.stats import JobResult, bootstrap, compute_importance, family_sums

#: filler variables that only make every family's seed distinct (never dropped: never tested)
FILL = tuple(f"z{i}" for i in range(16))


def jobs_from(effects, n_fam, noise=0.01, seed=0):
    """Seed families where dropping variable ``v<i>`` costs ``effects[i] + N(0, noise)``."""
    names = tuple(f"v{i}" for i in range(len(effects)))
    variables = names + FILL
    rng = np.random.default_rng(seed)
    jobs = []
    for f in range(n_fam):
        bits = "1" * len(names) + format(f + 1, f"0{len(FILL)}b")
        jobs.append(JobResult(f"S{f}", "t", variables, bits, None, 0.8))
        for i, v in enumerate(names):
            d = effects[i] + noise * rng.standard_normal()
            sub = bits[:i] + "0" + bits[i + 1 :]
            jobs.append(JobResult(f"S{f}_{v}", "t", variables, bits, sub, 0.8 - d))
    return jobs


def table_from(effects, n_fam, noise=0.01, seed=0, n_boot=1000):
    table = compute_importance(jobs_from(effects, n_fam, noise, seed))
    bootstrap(table, n_boot=n_boot)
    return table


SEPARATED = [0.05, 0.04, 0.03, 0.02, 0.01]  # importances about 5, 4, 3, 2, 1 (noise 0.01)
SPACED = [0.030, 0.027, 0.024, 0.021, 0.018, 0.015, 0.012]  # in between
CLOSE = [0.010 - 0.0003 * i for i in range(8)]  # importances 1.0, 0.97, ... (gaps 0.03)
APART = [0.025 - 0.003 * i for i in range(8)]  # importances 2.5, 2.2, ... (gaps 0.3)


def test_well_separated_variables_are_stable_with_few_seeds():
    s = estimate_stability(table_from(SEPARATED, 20), target_width=1)
    assert s.status == "stable" and s.stable
    assert s.seeds == 20 and s.seeds_needed == 20 and s.more_seeds == 0
    assert [r.variable for r in s.rows] == ["v0", "v1", "v2", "v3", "v4"]
    assert all(r.width is not None and r.width <= 1 for r in s.rows)


def test_near_ties_need_many_more_seeds_than_separated_ones():
    # the same noise and seeds; importance gaps between neighbours of 0.03 and 0.3, against
    # a standard error of about 0.12 with 100 seeds
    close = estimate_stability(table_from(CLOSE, 100), target_width=1)
    apart = estimate_stability(table_from(APART, 100), target_width=1)
    assert apart.seeds_needed is not None
    assert close.status in ("estimated", "beyond_limit")
    needed = close.seeds_needed if close.status == "estimated" else close.limit + 1
    assert needed > 3 * apart.seeds_needed


def test_a_larger_target_needs_no_more_seeds():
    table = table_from(SPACED, 30)
    needed = []
    for width in (0.5, 1, 2, 3, 5):
        s = estimate_stability(table, target_width=width)
        needed.append(s.seeds_needed if s.seeds_needed is not None else float("inf"))
    assert needed == sorted(needed, reverse=True)
    assert needed[0] > needed[-1]  # the targets matter


def test_estimated_seeds_meet_the_target_and_fewer_do_not():
    s = estimate_stability(table_from(SPACED, 30), target_width=1)
    assert s.status == "estimated" and s.predicted_at == s.seeds_needed
    assert all(r.predicted_width <= 1 for r in s.rows)
    assert any(r.width > 1 for r in s.rows)  # not stable now
    table = table_from(SPACED, 30)
    tested = [v for v in table.variables if table.rows[v].tested]
    cnt, s1, s2 = family_sums(table, tested)
    cols = np.array([tested.index(r.variable) for r in s.rows])
    # 10 % fewer seeds than the estimate: wider than the target (the search's 5 % bracket)
    fewer = _predicted_intervals(cnt, s1, s2, int(s.seeds_needed * 0.9), cols, 1000, 20200617)
    assert np.max(np.round(fewer[1]) - np.round(fewer[0])) > 1


def test_m_out_of_n_at_n_reproduces_the_bootstrap():
    table = table_from(SPACED, 40)
    tested = [v for v in table.variables if table.rows[v].tested]
    cnt, s1, s2 = family_sums(table, tested)
    at_n = _predicted_intervals(cnt, s1, s2, 40, np.arange(len(tested)), 1000, 7)
    for i, v in enumerate(tested):
        lo, hi = table.rows[v].rank_ci68
        assert abs(at_n[0, i] - lo) <= 1 and abs(at_n[1, i] - hi) <= 1
    # and the intervals narrow as the seeds grow
    at_16n = _predicted_intervals(cnt, s1, s2, 640, np.arange(len(tested)), 1000, 7)
    assert np.sum(at_16n[1] - at_16n[0]) < np.sum(at_n[1] - at_n[0])


def test_the_estimate_is_deterministic():
    a = estimate_stability(table_from(SPACED, 30), target_width=1)
    b = estimate_stability(table_from(SPACED, 30), target_width=1)
    assert a == b


def test_fewer_tested_variables_than_the_top():
    s = estimate_stability(table_from(SEPARATED[:3], 20), top=10)
    assert s.top == 3 and len(s.rows) == 3
    assert stability_view(s).title.startswith("Stability of the top 3")


def test_too_few_families_to_judge():
    s = estimate_stability(table_from(SEPARATED, MIN_FAMILIES - 1))
    assert s.status == "too_few_families" and s.seeds_needed is None and s.more_seeds is None
    assert f"at least {MIN_FAMILIES}" in stability_verdict(s)


@pytest.mark.parametrize("n_boot", [1, 2, MIN_REPLICATES - 1])
def test_too_few_replicates_to_judge(tmp_path, n_boot):
    """``calculate --bootstrap 1`` on a 100-seed folder said "Stable ... (0 more needed)": the
    68 % interval of one draw is a point. Too few replicates are not judged."""
    out = calculate(jobs_from(CLOSE, 30), tmp_path / "out", plots=False, n_boot=n_boot)
    s = out.stability
    assert s is not None and s.status == "too_few_replicates" and not s.stable
    assert s.seeds_needed is None and s.more_seeds is None and s.replicates == n_boot
    assert stability_verdict(s) == (
        f"Only {n_boot} bootstrap replicates (--bootstrap): at least {MIN_REPLICATES} are "
        "needed to judge the stability or estimate the seeds needed."
    )
    rec = json.loads(out.files["json"].read_text())["stability"]
    assert rec["status"] == "too_few_replicates" and rec["stable"] is False
    # with enough replicates the same near-ties are not stable
    assert estimate_stability(table_from(CLOSE, 30, n_boot=MIN_REPLICATES)).status != "stable"


def test_without_the_bootstrap_there_is_no_estimate():
    s = estimate_stability(table_from(SEPARATED, 20, n_boot=0))
    assert s.status == "no_bootstrap" and s.seeds_needed is None
    assert all(r.interval is None for r in s.rows)
    assert "needs the bootstrap" in stability_verdict(s).replace("need the", "needs the")
    assert stability_view(s).rows == []


def test_a_limit_at_the_present_seeds_gives_no_prediction():
    s = estimate_stability(table_from(SPACED, 30), target_width=1, limit=30)
    assert s.status == "beyond_limit" and s.predicted_at is None and s.seeds_needed is None
    assert "limit of 30 seeds is reached" in stability_verdict(s)


@pytest.mark.parametrize("width", [0, -1, float("nan"), float("inf"), "x"])
def test_bad_target_widths_are_refused(width):
    with pytest.raises(ResultsError, match="--target-width"):
        estimate_stability(table_from(SEPARATED, 20), target_width=width)


def test_rank_width_rounds_the_ends():
    assert rank_width((1.0, 3.0)) == 2
    assert rank_width((9.024999, 18.0)) == 9
    assert rank_width(None) is None


def test_calculate_records_the_stability(tmp_path):
    out = calculate(jobs_from(SPACED, 30), tmp_path / "out", plots=False, target_width=1)
    assert out.stability is not None and out.stability.status == "estimated"
    doc = json.loads(out.files["json"].read_text())
    rec = doc["stability"]
    assert rec["status"] == "estimated" and rec["target_width"] == 1
    assert rec["seeds"] == 30 and rec["seeds_needed"] == out.stability.seeds_needed
    assert rec["more_seeds"] == rec["seeds_needed"] - 30
    ranked = sorted(out.table.variables, key=lambda v: out.table.rows[v].importance_rank or 99)
    assert [v["variable"] for v in rec["variables"]] == ranked[:7]
    first = doc["variables"][0]
    assert first["rank_ci68_width"] == rank_width(tuple(first["rank_ci68"]))
    assert first["predicted_rank_ci68_width"] == rec["variables"][0]["predicted_rank_ci68_width"]
    header = out.files["csv"].read_text().splitlines()[0].split(",")
    assert header[-2:] == ["rank_ci68_width", "predicted_rank_ci68_width"]
    with pytest.raises(ResultsError, match="--target-width"):
        calculate(jobs_from(SPACED, 30), tmp_path / "bad", plots=False, target_width=0)
    assert not (tmp_path / "bad").exists()
