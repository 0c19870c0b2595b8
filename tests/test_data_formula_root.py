"""Selection counts, sums of weights and values compared with real ROOT (TTreeFormula)."""

from __future__ import annotations

import numpy as np
import pytest

from fourtop.data.formula import Formula

pytestmark = pytest.mark.root

ORIGINAL_WEIGHT = (
    "triggerXSF * pileupWeight * lepIdSF * EGammaGsfSF * isoSF * L1NonPrefiringProb_CommonCalc"
    " * (MCWeight_MultiLepCalc / abs(MCWeight_MultiLepCalc) ) * xsecEff"
)
ORIGINAL_SELECTION = (
    "( ( leptonPt_MultiLepCalc > 50 && isElectron == 1 ) || ( leptonPt_MultiLepCalc > 50 &&"
    " isMuon == 1 ) ) && ( corr_met_MultiLepCalc > 60 ) && ( MT_lepMet > 60 ) && ("
    " theJetPt_JetSubCalc_PtOrdered[0] > 0 ) && ( theJetPt_JetSubCalc_PtOrdered[1] > 0 ) && ("
    " theJetPt_JetSubCalc_PtOrdered[2] > 0 ) && ( minDR_lepJet > 0.4 ) && ( AK4HT > 510 ) && ("
    " DataPastTriggerX == 1 ) && ( MCPastTriggerX == 1 ) && ( NJetsCSVwithSF_MultiLepCalc >= 2 )"
    " &&( NJets_JetSubCalc >= 6 )"
)

N = 3000
FLOATS = ["x", "leptonPt_MultiLepCalc", "corr_met_MultiLepCalc", "MT_lepMet", "minDR_lepJet",
          "AK4HT"]  # fmt: skip
DOUBLES = ["y", "triggerXSF", "pileupWeight", "lepIdSF", "EGammaGsfSF", "isoSF",
           "L1NonPrefiringProb_CommonCalc", "MCWeight_MultiLepCalc", "xsecEff"]  # fmt: skip
INTS = ["n", "isElectron", "isMuon", "DataPastTriggerX", "MCPastTriggerX",
        "NJetsCSVwithSF_MultiLepCalc", "NJets_JetSubCalc"]  # fmt: skip


def _columns(rng: np.random.Generator) -> dict[str, np.ndarray]:
    c: dict[str, np.ndarray] = {}
    c["x"] = rng.normal(0, 3, N)
    c["leptonPt_MultiLepCalc"] = 20 + rng.exponential(40, N)
    c["corr_met_MultiLepCalc"] = rng.exponential(70, N)
    c["MT_lepMet"] = rng.exponential(70, N)
    c["minDR_lepJet"] = rng.uniform(0, 3, N)
    c["AK4HT"] = 200 + rng.exponential(400, N)
    c["y"] = rng.normal(1, 2, N)
    for name in DOUBLES[1:]:
        c[name] = rng.normal(1, 0.1, N)
    mc = rng.choice([-1.5, 1.5, 0.0], N, p=[0.3, 0.65, 0.05])
    c["MCWeight_MultiLepCalc"] = mc
    c["n"] = rng.integers(-7, 8, N)
    c["isElectron"] = rng.integers(0, 2, N)
    c["isMuon"] = 1 - c["isElectron"]
    c["DataPastTriggerX"] = (rng.uniform(size=N) < 0.95).astype(int)
    c["MCPastTriggerX"] = (rng.uniform(size=N) < 0.95).astype(int)
    c["NJetsCSVwithSF_MultiLepCalc"] = rng.integers(0, 5, N)
    c["NJets_JetSubCalc"] = rng.integers(0, 11, N)
    c["flag"] = rng.uniform(size=N) < 0.4
    c["_len"] = rng.integers(0, 6, N)
    return c


@pytest.fixture(scope="session")
def root_tree(tmp_path_factory):
    """A tree written by ROOT itself: float, double, int, bool and vector<float> branches."""
    ROOT = pytest.importorskip("ROOT")
    rng = np.random.default_rng(7)
    cols = _columns(rng)
    jets = [np.sort(rng.exponential(60, k) + 30)[::-1].astype(np.float32) for k in cols["_len"]]
    path = tmp_path_factory.mktemp("root") / "tree.root"
    f = ROOT.TFile(str(path), "RECREATE")
    tree = ROOT.TTree("ljmet", "ljmet")
    buffers = {}
    for names, code, dtype in ((FLOATS, "F", np.float32), (DOUBLES, "D", np.float64),
                               (INTS, "I", np.int32), (["flag"], "O", np.bool_)):  # fmt: skip
        for name in names:
            buffers[name] = np.zeros(1, dtype=dtype)
            tree.Branch(name, buffers[name], f"{name}/{code}")
    vec = ROOT.std.vector("float")()
    tree.Branch("theJetPt_JetSubCalc_PtOrdered", vec)
    for i in range(N):
        for name, buf in buffers.items():
            buf[0] = cols[name][i]
        vec.clear()
        for v in jets[i]:
            vec.push_back(float(v))
        tree.Fill()
    tree.Write()
    f.Close()
    import uproot

    with uproot.open(path) as uf:
        arrays = {k: uf["ljmet"][k].array(library="np") for k in FLOATS + DOUBLES + INTS + ["flag"]}
        arrays["theJetPt_JetSubCalc_PtOrdered"] = uf["ljmet"][
            "theJetPt_JetSubCalc_PtOrdered"
        ].array()
    rf = ROOT.TFile(str(path))
    t = rf.Get("ljmet")
    t.SetEstimate(N + 1)
    yield ROOT, t, arrays
    rf.Close()


def _root_values(t, expr: str) -> np.ndarray:
    rows = t.Draw(expr, "", "goff")
    v1 = t.GetV1()
    return np.array([v1[i] for i in range(rows)])


def _root_count_and_sum(ROOT, t, weight: str, selection: str) -> tuple[int, float]:
    ROOT.gROOT.cd()  # the histogram in memory, whichever file was opened (or closed) last
    count = t.GetEntries(selection)
    h = ROOT.TH1D("hsum", "", 1, -1, 1)
    t.Draw("0>>hsum", f"({weight})*({selection})", "goff")
    total = h.Integral(0, 2)
    h.SetDirectory(ROOT.nullptr)  # Python owns it and deletes it once
    return count, total


def _ours_count_and_sum(arrays, weight: str, selection: str) -> tuple[int, float]:
    sel, ok_s = Formula(selection, "selection").evaluate(arrays)
    w, ok_w = Formula(weight, "weight").evaluate(arrays)
    keep = ok_s & (sel != 0)
    return int(keep.sum()), float(np.sum(w[keep & ok_w]))


SELECTIONS = [
    ORIGINAL_SELECTION,
    "x > 1 || y < 0 && n > 2",
    "(x > 1 || y < 0) && n > 2",
    "!x > 0",
    "!(x > 0) && !flag",
    "flag",
    "!flag || n == -3",
    "n % 3 == 1",
    "n / 2 > 1",
    "-n > (2 == 1)",
    "(1 < x) == 1",
    "(x > 0) == (y > 0)",
    "theJetPt_JetSubCalc_PtOrdered[3] > 50",
    "theJetPt_JetSubCalc_PtOrdered[4] > 0 || x > 0",
    "theJetPt_JetSubCalc_PtOrdered[5] > 40 || !(theJetPt_JetSubCalc_PtOrdered[0] > 30)",
    "max(theJetPt_JetSubCalc_PtOrdered[2], 10) + 0 * theJetPt_JetSubCalc_PtOrdered[1] > 60",
    "sqrt(abs(x)) * exp(-abs(y)) > 0.2",
    "max(min(x, y), 0.5) > 1 && pow(abs(x), 2) < 9",
    "TMath::Abs(x) > TMath::Sqrt(TMath::Power(y, 2)) && TMath::Min(x, 1) < TMath::Max(y, 0)",
    "log(x) > 0.5",
    "TMath::Cos(x) + TMath::Sin(y) > 0.3",
    "NJets_JetSubCalc >= 6 && isElectron",
    "x - -y > 2 * 3 - 4 % 3",
    "1e1 < AK4HT / 50 && .5 < minDR_lepJet",
]


@pytest.mark.parametrize("selection", SELECTIONS)
def test_selection_count_and_weight_sum_match_root(root_tree, selection):
    ROOT, t, arrays = root_tree
    expected = _root_count_and_sum(ROOT, t, ORIGINAL_WEIGHT, selection)
    count, total = _ours_count_and_sum(arrays, ORIGINAL_WEIGHT, selection)
    assert count == expected[0]
    assert total == pytest.approx(expected[1], rel=1e-9, abs=1e-9)


VALUES = [
    ORIGINAL_WEIGHT,
    "x / (n - n)",
    "n % 4",
    "-n % 3",
    "x % 2.5",
    "sqrt(x)",
    "log(x)",
    "log10(y)",
    "exp(x * 100)",
    "pow(x, 2) - TMath::Power(y, 3)",
    "min(x, y) * max(n, 1)",
    "atan2(x, y) + TMath::ATan2(y, x)",
    "2 * x + 3 * y - 1 / (1 + abs(x))",
    "theJetPt_JetSubCalc_PtOrdered[1] - theJetPt_JetSubCalc_PtOrdered[0]",
    "flag + isMuon * 2",
    "TMath::Pi() * x + TMath::Floor(y)",
    # constants (a weight of "1" for unweighted samples) and division by zero: ROOT repeats a
    # constant for every entry and makes x / 0 = 0 (also 1 / 0 and 0 / 0)
    "1",
    "0",
    "-1",
    "1/0",
    "-1/0",
    "0/0",
    "x/0",
    "1e39",
    "exp(1000)",
]


@pytest.mark.parametrize("expr", VALUES)
def test_values_match_root(root_tree, expr):
    _, t, arrays = root_tree
    expected = _root_values(t, expr)
    values, valid = Formula(expr, "weight").evaluate(arrays)
    np.testing.assert_allclose(values[valid], expected, rtol=1e-12, atol=1e-12)


def test_generated_sample_selection_matches_root(tmp_path):
    """ROOT reads the uproot-written synthetic ntuple and agrees with load_split."""
    ROOT = pytest.importorskip("ROOT")
    from fourtop.data.config import load_config
    from fourtop.data.generate import process_of, write_sample
    from fourtop.data.ntuples import load_split

    name = "TTTT_TuneCP5_PSweights_13TeV-amcatnlo-pythia8_split0.root"
    write_sample(tmp_path / name, process_of(name), 3000, 5, "2017", 0)
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'tree = "ljmet"\nweight = "{ORIGINAL_WEIGHT}"\nselection = "{ORIGINAL_SELECTION}"\n'
        f'[datasets.2017]\nsignal = ["{name}"]\nbackground = ["{name}"]\n'
    )
    arrays = load_split(load_config(cfg), "2017", 0, cache_dir=tmp_path / "cache")
    f = ROOT.TFile(str(tmp_path / name))
    t = f.Get("ljmet")
    count, total = _root_count_and_sum(ROOT, t, ORIGINAL_WEIGHT, ORIGINAL_SELECTION)
    f.Close()
    assert len(arrays.signal) == count > 0
    assert float(arrays.signal_weight.astype(np.float64).sum()) == pytest.approx(total, rel=1e-5)


CONSTANTS = [
    ("1", "1"),
    ("1", "0"),
    ("1", "1/0"),
    ("1", "x > 0"),
    ("0", "x > 0"),
    ("1/0", "x > 0"),
    ("-1", "n > 2"),
    ("1e39", "x > 0"),
    ("2 * 0.5", "theJetPt_JetSubCalc_PtOrdered[2] > 0"),
]


@pytest.mark.parametrize(("weight", "selection"), CONSTANTS)
def test_constant_weight_and_selection_match_root(root_tree, weight, selection):
    ROOT, t, arrays = root_tree
    expected = _root_count_and_sum(ROOT, t, weight, selection)
    count, total = _ours_count_and_sum(arrays, weight, selection)
    assert count == expected[0]
    assert total == pytest.approx(expected[1], rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("selection", ["1", "0", "-1", "1/0", "0/0", "1e39", "2 > 1"])
def test_constant_selection_counts_match_root(root_tree, selection):
    """A constant selection keeps every entry or none (as a cut: nonzero keeps)."""
    _, t, arrays = root_tree
    sel, valid = Formula(selection, "selection").evaluate(arrays)
    assert int((valid & (sel != 0)).sum()) == t.GetEntries(selection) in (0, N)


def _float_sum(ROOT, t, weight: str) -> float:
    ROOT.gROOT.cd()
    h = ROOT.TH1F("hsumf", "", 1, -1, 1)
    t.Draw("0>>hsumf", f"({weight})*(x > 0)", "goff")
    total = h.Integral(0, 2)
    h.SetDirectory(ROOT.nullptr)
    return total


def test_weights_root_sums_in_double_are_refused_in_float32(root_tree, tmp_path):
    """ROOT computes "1e39" as a double (a TH1D sums it, a TH1F overflows to inf) and "1/0" as 0;
    the float32 cache cannot hold 1e39 and a class of zero weights cannot be trained on, so
    load_split refuses both, naming the expression and the file."""
    from fourtop.data.config import load_config
    from fourtop.data.ntuples import load_split
    from fourtop.errors import DataError

    ROOT, t, _ = root_tree
    assert np.isfinite(_root_count_and_sum(ROOT, t, "1e39", "x > 0")[1])
    assert np.isinf(_float_sum(ROOT, t, "1e39"))
    assert _root_count_and_sum(ROOT, t, "1/0", "x > 0")[1] == 0.0
    path = t.GetCurrentFile().GetName()

    def load(weight: str):
        cfg = tmp_path / "c.toml"
        cfg.write_text(
            f'tree = "ljmet"\nweight = "{weight}"\nselection = "x > 0"\n'
            'variables = [{name = "x"}, {name = "y"}]\n'
            f'[datasets.2017]\nsignal = ["{path}"]\nbackground = ["{path}"]\n'
        )
        return load_split(load_config(cfg), "2017", 0, cache_dir=tmp_path / "cache")

    with pytest.raises(DataError) as info:
        load("1e39")
    assert str(info.value).startswith(
        f"weight expression '1e39' gives values that are not finite in float32 in {path} "
    )
    with pytest.raises(DataError, match=r"the weights of the signal are all zero \(weight '1/0'"):
        load("1/0")
    arrays = load("1")
    count = t.GetEntries("x > 0")
    assert len(arrays.signal) == len(arrays.background) == count
    assert arrays.signal_weight.tolist() == [1.0] * count
    assert not (tmp_path / "cache").exists() or len(list((tmp_path / "cache").iterdir())) == 1
