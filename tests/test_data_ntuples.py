"""Loading ntuples: selection, weights, float32 columns, the cache, and every bad input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import uproot

from fourtop.data.config import load_config
from fourtop.data.correlation import correlation_matrix
from fourtop.data.formula import Formula
from fourtop.data.generate import generate_samples
from fourtop.data.ntuples import SplitArrays, cache_path, load_split, read_cache_file
from fourtop.errors import DataError, ExpressionError, VariableError
from fourtop.variables import default_variables


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> Path:
    """The synthetic 2017 samples, small."""
    out = tmp_path_factory.mktemp("samples")
    generate_samples(out, events=1500, seed=3, keys=("2017",))
    return out


def _default(monkeypatch, samples: Path):
    monkeypatch.setenv("FOURTOP_DATA", str(samples))
    return load_config()


def test_load_split_selects_weights_and_keeps_all_variables(monkeypatch, samples, tmp_path):
    config = _default(monkeypatch, samples)
    arrays = load_split(config, "2017", 0, cache_dir=tmp_path)
    assert arrays.variables == default_variables()
    assert arrays.signal.dtype == np.float32 and arrays.signal.shape[1] == 76
    assert arrays.background.shape[1] == 76 and len(arrays.background) > 0
    assert arrays.signal_weight.dtype == np.float32
    assert (arrays.signal_weight < 0).any() and (arrays.signal_weight > 0).any()
    # the selection holds on the loaded columns
    c = arrays.columns(["AK4HT", "NJets_JetSubCalc", "MT_lepMet"])
    assert (arrays.signal[:, c[0]] > 510).all() and (arrays.background[:, c[1]] >= 6).all()
    assert (arrays.signal[:, c[2]] > 60).all()
    # same count and weight sum as evaluating the expressions on the whole file
    path = config.files("2017", 0).signal[0]
    with uproot.open(path) as f:
        tree = f["ljmet"]
        sel, weight = Formula(config.selection), Formula(config.weight)
        data = {n: tree[n].array(library="np") for n in sel.branches + weight.branches
                if n not in sel.indexed}  # fmt: skip
        data.update({n: tree[n].array() for n in sel.indexed})
    s, ok = sel.evaluate(data)
    w, _ = weight.evaluate(data)
    keep = ok & (s != 0)
    assert keep.sum() == len(arrays.signal)
    assert arrays.signal_weight.sum() == pytest.approx(w[keep].sum(), rel=1e-5)


def test_cache_is_used_then_invalidated_by_file_change(monkeypatch, samples, tmp_path):
    config = _default(monkeypatch, samples)
    first = load_split(config, "2017", 1, cache_dir=tmp_path)
    path = cache_path(config, "2017", 1, tmp_path)
    assert path.is_file() and path.parent == tmp_path
    again = read_cache_file(path)
    np.testing.assert_array_equal(again.background, first.background)
    assert load_split(config, "2017", 1, cache_dir=tmp_path).signal.shape == first.signal.shape
    sig = config.files("2017", 1).signal[0]
    st = sig.stat()
    os.utime(sig, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert cache_path(config, "2017", 1, tmp_path) != path
    assert not list(tmp_path.glob(".*.tmp"))


def test_missing_default_data_says_to_generate(tmp_path, monkeypatch):
    monkeypatch.setenv("FOURTOP_DATA", str(tmp_path / "empty"))
    with pytest.raises(DataError, match=r"ntuple not found \(make the synthetic samples with "
                       r"`fourtop generate`\)"):  # fmt: skip
        load_split(load_config(), "2017", 0, cache_dir=tmp_path)


def _tiny(tmp_path: Path, tree: str = "ljmet", drop: str | None = None, ak4ht: float = 600.0):
    n = 50
    rng = np.random.default_rng(0)
    branches = {
        "AK4HT": np.full(n, ak4ht, dtype=np.float32),
        "NJets_JetSubCalc": rng.integers(4, 9, n).astype(np.int32),
        "xsecEff": np.full(n, 0.5),
    }
    if drop:
        del branches[drop]
    path = tmp_path / f"tiny_{tree}_{drop}_{ak4ht}.root"
    with uproot.recreate(path) as f:
        f.mktree(tree, {k: v.dtype for k, v in branches.items()}).extend(branches)
    return path


def _config(tmp_path: Path, sig: Path, bkg: Path, selection: str = "AK4HT > 510"):
    path = tmp_path / "c.toml"
    path.write_text(
        f'tree = "ljmet"\nweight = "xsecEff"\nselection = "{selection}"\n'
        'variables = ["AK4HT", "NJets_JetSubCalc"]\n'
        f'[datasets.2017]\nsignal = ["{sig}"]\nbackground = ["{bkg}"]\n'
    )
    return load_config(path)


def test_user_ntuples_load(tmp_path):
    good = _tiny(tmp_path)
    arrays = load_split(_config(tmp_path, good, good), "2017", 2, cache_dir=tmp_path)
    assert arrays.signal.shape == (50, 2) and arrays.signal_weight.sum() == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("make", "selection", "error", "fragment"),
    [
        (lambda p: p / "absent.root", "AK4HT > 510", DataError, "absent.root: ntuple not found"),
        (lambda p: _tiny(p, tree="Events"), "AK4HT > 510", DataError,
         "no tree 'ljmet' (trees: Events)"),
        (lambda p: _tiny(p, drop="NJets_JetSubCalc"), "AK4HT > 510", DataError,
         "tree 'ljmet' has no branch 'NJets_JetSubCalc'"),
        (lambda p: _tiny(p), "AK4HT > 510 && nJets > 2", ExpressionError,
         "unknown branch 'nJets'"),
        (lambda p: _tiny(p, ak4ht=100.0), "AK4HT > 510", DataError,
         "selection keeps no signal events in dataset 2017 split 0"),
    ],
)  # fmt: skip
def test_bad_inputs_are_one_line_errors(tmp_path, make, selection, error, fragment):
    sig = make(tmp_path)
    config = _config(tmp_path, sig, _tiny(tmp_path), selection)
    with pytest.raises(error) as info:
        load_split(config, "2017", 0, cache_dir=tmp_path / "cache")
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "cache").exists()


def test_not_a_root_file_and_bad_cache_file(tmp_path):
    bad = tmp_path / "bad.root"
    bad.write_text("not root")
    with pytest.raises(DataError, match="cannot open as a ROOT file"):
        load_split(_config(tmp_path, bad, bad), "2017", 0, cache_dir=tmp_path)
    with pytest.raises(DataError, match="not a fourtop arrays file"):
        read_cache_file(bad)
    with pytest.raises(DataError, match="arrays file not found"):
        read_cache_file(tmp_path / "none.npz")


def test_columns_and_correlation_matrix():
    rng = np.random.default_rng(1)
    x = rng.normal(size=2000)
    sig = np.column_stack([x, 2 * x + 1, rng.normal(size=2000), np.ones(2000)]).astype(np.float32)
    arrays = SplitArrays(["a", "b", "c", "d"], sig, np.ones(2000, np.float32), sig[:10],
                         np.ones(10, np.float32))  # fmt: skip
    corr = correlation_matrix(arrays, ["b", "a", "c", "d"])
    assert corr[0, 1] == pytest.approx(1.0, abs=1e-6)
    assert abs(corr[0, 2]) < 0.1 and corr[3, 3] == 1.0 and corr[0, 3] == 0.0
    with pytest.raises(VariableError, match="unknown variable 'e'"):
        arrays.columns(["a", "e"])


def test_generated_correlations_are_physical(monkeypatch, samples, tmp_path):
    arrays = load_split(_default(monkeypatch, samples), "2017", 0, cache_dir=tmp_path)
    names = ["fifthJetPt", "PtFifthJet", "AK4HT", "AK4HTpMETpLepPt", "HT_bjets"]
    corr = correlation_matrix(arrays, names)
    assert corr[0, 1] == pytest.approx(1.0)
    assert corr[2, 3] > 0.8 and corr[2, 4] > 0.3
