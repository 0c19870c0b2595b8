"""fourtop.importance.ranking: what ``fourtop calculate`` shows, as rows of text."""

from __future__ import annotations

from pathlib import Path

import pytest

from fourtop.importance.calculation import CalculationOutput
from fourtop.importance.ranking import COLUMNS, interval, ranking, ranking_rows, skipped
from fourtop.importance.stats import JobResult, bootstrap, compute_importance

V = ("a", "b", "c", "d")


def family(bits: str, seed_roc: float, subs: dict[str, float | None]) -> list[JobResult]:
    jobs = [JobResult(f"S{bits}", "f", V, bits, None, seed_roc)]
    for var, roc in subs.items():
        i = V.index(var)
        jobs.append(JobResult(f"S{bits}_{var}", "f", V, bits, bits[:i] + "0" + bits[i + 1 :], roc))
    return jobs


@pytest.fixture
def output() -> CalculationOutput:
    results = [
        *family("1110", 0.80, {"a": 0.75, "b": 0.78}),
        *family("1101", 0.82, {"a": 0.79, "b": 0.81, "d": 0.80}),
        *family("1100", 0.70, {"a": 0.68, "b": None}),  # one job without a result
    ]
    table = compute_importance(results)
    return CalculationOutput(table, table.ordered("importance"), {"order": Path("/o/order.txt")})


def test_interval() -> None:
    assert interval(None, ".2f") == ""
    assert interval((0.5, 1.25), ".2f") == "[0.50, 1.25]"
    assert interval((1.0, 3.0), ".0f") == "[1, 3]"


def test_skipped_counts_in_a_fixed_order() -> None:
    counts = {"bad_roc": 1, "no_result": 0, "duplicates": 3, "orphan_subseeds": 2, "other": 9}
    assert skipped(counts) == [
        "3 duplicated jobs counted once",
        "2 subseed results whose seed has none",
        "1 of them with a ROC integral outside [0, 1] (counted as failed)",
    ]
    assert skipped({}) == []


def test_rows_without_bootstrap(output: CalculationOutput) -> None:
    rows = ranking_rows(output.rows, 20)
    assert len(rows) == 3 and all(len(r) == len(COLUMNS) for r in rows)  # c never tested
    # b: differences 0.02, 0.01; a: 0.05, 0.03, 0.02 (mean / population RMS, sem from stdev)
    assert rows[0] == ["1", "b", "3", "2", "0.0150 ± 0.0050", "3.000", "", ""]
    assert rows[1] == ["2", "a", "3", "3", "0.0333 ± 0.0088", "2.673", "", ""]
    assert rows[2][4:] == ["0.0200", "0.000 (undefined)", "", ""]  # one difference
    assert ranking_rows(output.rows, 1) == rows[:1]


def test_rows_with_bootstrap_intervals(output: CalculationOutput) -> None:
    bootstrap(output.table, n_boot=50, rng_seed=1)
    row = ranking_rows(output.rows, 1)[0]
    low, high = output.rows[0].importance_ci68 or (0.0, 0.0)
    assert row[6] == f"[{low:.2f}, {high:.2f}]"
    low_rank, high_rank = output.rows[0].rank_ci68 or (0.0, 0.0)
    assert row[7] == f"{low_rank:.0f}-{high_rank:.0f}" and row[7][0] in "12"


def test_ranking(output: CalculationOutput) -> None:
    shown = ranking(output, sort_key="importance", increasing=False, top=2)
    assert shown.title == "Variable importance, by importance (decreasing): 3 seeds, 6 differences"
    assert [r[1] for r in shown.rows] == ["b", "a"]
    assert shown.more == 1  # d is in the results file only
    assert shown.never_tested == ["c"] and shown.undefined == ["d"]
    assert shown.skipped == ["1 jobs without a result"]
    assert shown.files == [Path("/o/order.txt")]
    everything = ranking(output, sort_key="freq", increasing=True)
    assert everything.title.startswith("Variable importance, by freq (increasing): ")
    assert everything.more == 0 and len(everything.rows) == 3
