"""The result files: exact formats, parsing back as downstream scripts do, ROOT, JSON/CSV, PNG."""

from __future__ import annotations

import csv
import json
import logging
import re
from datetime import date
from pathlib import Path

import pytest

from fourtop.errors import ResultsError
from fourtop.importance import calculate, read_results
from fourtop.importance.stats import SORT_KEYS, JobResult

V = ("NJets_JetSubCalc", "AK4HT", "MT_lepMet", "minDR_lepJet", "never_dropped")


def _jobs():
    jobs = []
    spec = {  # seed bits -> (seed ROC, {dropped: ROC})
        "11110": (
            0.81,
            {"NJets_JetSubCalc": 0.75, "AK4HT": 0.80, "MT_lepMet": 0.805, "minDR_lepJet": 0.812},
        ),
        "11100": (0.80, {"NJets_JetSubCalc": 0.76, "AK4HT": 0.78, "MT_lepMet": 0.79}),
        "10011": (0.79, {"NJets_JetSubCalc": 0.74, "minDR_lepJet": 0.795}),
        "01101": (0.78, {"AK4HT": 0.772, "MT_lepMet": 0.775}),
    }
    for bits, (roc, subs) in spec.items():
        jobs.append(JobResult(f"S{bits}", "f", V, bits, None, roc))
        for var, sroc in subs.items():
            i = V.index(var)
            jobs.append(
                JobResult(f"S{bits}_{i}", "f", V, bits, bits[:i] + "0" + bits[i + 1 :], sroc)
            )
    return jobs


@pytest.fixture(scope="module")
def output(tmp_path_factory):
    out = tmp_path_factory.mktemp("dataset")
    return calculate(
        _jobs(),
        out,
        weight="w * x",
        cut="a > 1 && b < 2",
        folders=["/x/condor_log_1", "/y/c.jtd"],
        n_boot=200,
        today=date(2020, 6, 17),
    )


def parse_like_downstream(path: Path) -> list[dict[str, str]]:
    """How the original's downstream scripts read the table: split on '/', keys lower-cased."""
    lines = path.read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Index"))
    keys = [k.strip().lower().replace(".", "") for k in lines[start].split("/")]
    return [
        dict(zip(keys, (c.strip() for c in ln.split("/")), strict=True))
        for ln in lines[start + 1 :]
        if ln.strip()
    ]


def test_results_file_exact_format(output):
    path = output.files["results"]
    assert path.name == "VariableImportanceResults_5vars.txt"
    lines = path.read_text().splitlines()
    assert lines[:10] == [
        "Weight: w * x",
        "Cut: a > 1 && b < 2",
        "Folders:",
        " - /x/condor_log_1",
        " - /y/c.jtd",
        "Number of Variables: 5",
        "Date: 2020-06-17",
        "Never Tested: never_dropped",
        "",
        "Importance Calculation:",
    ]
    assert re.fullmatch(r"Normalization: -?\d+\.\d+(e-?\d+)?", lines[10])
    assert [c.strip() for c in lines[11].split("/")] == [
        "Index",
        "Variable Name",
        "Freq.",
        "Sum",
        "Mean",
        "RMS",
        "Importance",
    ]
    row = re.compile(
        r"\d+\. +/ \S+ +/ \d+ +/ -?\d+\.\d{4} +/ -?\d+\.\d{4} +/ \d+\.\d{4} +/ "
        r"-?\d+\.\d{3}"
    )
    assert all(row.fullmatch(ln) for ln in lines[12:]), lines[12:]
    assert len(lines) == 12 + 5


def test_parsed_numbers_match(output):
    rows = parse_like_downstream(output.files["results"])
    assert set(rows[0]) == {"index", "variable name", "freq", "sum", "mean", "rms", "importance"}
    assert [r["index"] for r in rows] == ["1.", "2.", "3.", "4.", "5."]
    nj = next(r for r in rows if r["variable name"] == "NJets_JetSubCalc")
    assert nj["freq"] == "3"
    diffs = [0.81 - 0.75, 0.80 - 0.76, 0.79 - 0.74]
    mean = sum(diffs) / 3
    rms = (sum((d - mean) ** 2 for d in diffs) / 3) ** 0.5
    assert nj["sum"] == f"{sum(diffs):.4f}"
    assert nj["mean"] == f"{mean:.4f}" and nj["rms"] == f"{rms:.4f}"
    assert nj["importance"] == f"{mean / rms:.3f}"
    assert rows[-1]["variable name"] == "never_dropped"
    norm = float(output.files["results"].read_text().split("Normalization: ")[1].split()[0])
    every = [0.06, 0.01, 0.005, -0.002, 0.04, 0.02, 0.01, 0.05, -0.005, 0.008, 0.005]
    assert norm == pytest.approx(sum(every))


def test_order_file(output):
    names = output.files["order"].read_text().splitlines()
    assert output.files["order"].name == "VariableImportanceOrder_5vars.txt"
    assert names == [r["variable name"] for r in parse_like_downstream(output.files["results"])]


@pytest.mark.parametrize("key", SORT_KEYS)
@pytest.mark.parametrize("increasing", [False, True])
def test_read_back_sorting_matches_written_order(tmp_path, key, increasing):
    out = calculate(_jobs(), tmp_path, sort_key=key, increasing=increasing, n_boot=0, plots=False)
    rows = parse_like_downstream(out.files["results"])
    column = {"freq": "freq"}.get(key, key)
    values = [float(r[column]) for r in rows[:-1]]
    assert values == sorted(values, reverse=not increasing)
    table = read_results(out.files["results"])
    assert table.sorted_names(key, increasing) == [r["variable name"] for r in rows]
    assert out.files["order"].read_text().split() == [r["variable name"] for r in rows]


def test_read_results_header(output):
    t = read_results(output.files["results"].parent)  # a dataset folder works too
    assert (t.weight, t.cut, t.nvars, t.date) == ("w * x", "a > 1 && b < 2", 5, "2020-06-17")
    assert t.folders == ["/x/condor_log_1", "/y/c.jtd"]
    assert t.never_tested == ["never_dropped"]
    assert t.normalization == pytest.approx(output.table.normalization)
    assert t.names[0] == output.rows[0].name


ORIGINAL = """Weight: w
Cut: c
Folders:
 - /store/condor_log_17.Jun.2020
Number of Variables: 3
Date: 2020-06-20

Importance Calculation:
Normalization: 1.25
Index  / Variable Name                      / Freq.  / Sum     / Mean    / RMS         / Importance
1.     / AK4HT                              / 254    / 3.1415  / 0.0123  / 0.0000      / inf
2.     / NJets_JetSubCalc                   / 250    / 1.0000  / 0.0100  / 0.0100      / 1.000
3.     / MT_lepMet                          / 240    / 0.5000  / 0.0050  / 0.0100      / 0.500
"""


def test_read_original_file_inf_is_zero_with_warning(tmp_path, caplog):
    path = tmp_path / "VariableImportanceResults_3vars.txt"
    path.write_text(ORIGINAL)
    with caplog.at_level(logging.WARNING, logger="fourtop.importance.results"):
        t = read_results(path)
    assert t.rows[0].importance == 0.0
    assert "line 11: Importance is inf; read as 0" in caplog.text
    assert t.sorted_names("importance") == ["NJets_JetSubCalc", "MT_lepMet", "AK4HT"]
    assert t.sorted_names("rms", increasing=True) == ["AK4HT", "NJets_JetSubCalc", "MT_lepMet"]
    assert t.sorted_names("freq") == ["AK4HT", "NJets_JetSubCalc", "MT_lepMet"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "results file not found"),
        ("Weight: w\n", "no importance table"),
        (ORIGINAL.replace("/ 0.500\n", "0.500\n"), "line 13: 6 columns, expected 7"),
        (ORIGINAL.replace("/ 250 ", "/ many"), "line 12: Freq. 'many' is not a number"),
        (ORIGINAL.replace("MT_lepMet", "AK4HT"), "line 13: variable 'AK4HT' listed twice"),
        (ORIGINAL.split("1.     /")[0], "the importance table has no rows"),
    ],
)
def test_read_results_bad_files(tmp_path, text, message):
    path = tmp_path / "VariableImportanceResults_3vars.txt"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ResultsError, match=re.escape(message)) as err:
        read_results(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_read_results_unknown_sort_key(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text(ORIGINAL)
    with pytest.raises(ResultsError, match=r"unknown sort order 'mena'.*did you mean: mean"):
        read_results(path).sorted_names("mena")


def test_json_and_csv(output):
    doc = json.loads(output.files["json"].read_text())
    assert doc["never_tested"] == ["never_dropped"]
    by_name = {r["variable"]: r for r in doc["variables"]}
    nj = by_name["NJets_JetSubCalc"]
    assert nj["n_differences"] == 3 and nj["importance_rank"] == 1
    lo, hi = nj["importance_ci95"]
    assert lo <= nj["importance_ci68"][0] <= nj["importance_ci68"][1] <= hi
    assert by_name["never_dropped"]["importance_ci68"] is None
    with output.files["csv"].open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["variable"] for r in rows] == [r["variable"] for r in doc["variables"]]
    assert float(rows[0]["importance_ci68_low"]) == pytest.approx(
        doc["variables"][0]["importance_ci68"][0]
    )
    assert rows[-1]["sem"] == ""


def test_roc_hists_with_uproot(output):
    import uproot

    path = output.files["roc_hists"]
    assert path.name == "ROC_hists_5vars.root"
    with uproot.open(path) as f:
        assert sorted(k.split(";")[0] for k in f.keys()) == sorted(V)  # noqa: SIM118
        h = f["NJets_JetSubCalc"]
        assert h.values().sum() == 3
        assert h.member("fTitle") == "NJets_JetSubCalc"
        assert f["never_dropped"].values().sum() == 0


@pytest.mark.root
def test_roc_hists_with_real_root(output):
    ROOT = pytest.importorskip("ROOT")
    f = ROOT.TFile.Open(str(output.files["roc_hists"]))
    try:
        h = f.Get("NJets_JetSubCalc")
        assert h.InheritsFrom("TH1")
        assert h.GetEntries() == 3
        assert h.GetMean() == pytest.approx((0.06 + 0.04 + 0.05) / 3, abs=1e-9)
        assert h.GetStdDev() == pytest.approx(output.table.rows["NJets_JetSubCalc"].rms, rel=1e-6)
        assert h.GetXaxis().GetTitle() == "ROC(seed) - ROC(subseed)"
        assert f.Get("never_dropped").GetEntries() == 0
    finally:
        f.Close()


def test_plots_are_pngs(output):
    for key in ("ranking_png", "differences_png"):
        data = output.files[key].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
