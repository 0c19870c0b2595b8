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
from fourtop.data.ntuples import (
    SplitArrays,
    cache_path,
    check_weights,
    load_split,
    read_cache_file,
)
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


def _tiny(
    tmp_path: Path, tree: str = "ljmet", drop: str | None = None, ak4ht: float = 600.0, n: int = 50
):
    rng = np.random.default_rng(0)
    branches = {
        "AK4HT": np.full(n, ak4ht, dtype=np.float32),
        "NJets_JetSubCalc": rng.integers(4, 9, n).astype(np.int32),
        "xsecEff": np.full(n, 0.5),
    }
    if drop:
        del branches[drop]
    path = tmp_path / f"tiny_{tree}_{drop}_{ak4ht}_{n}.root"
    with uproot.recreate(path) as f:
        f.mktree(tree, {k: v.dtype for k, v in branches.items()})
        if n:
            f[tree].extend(branches)
    return path


def _file(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _histogram(tmp_path: Path) -> Path:
    path = tmp_path / "hist.root"
    with uproot.recreate(path) as f:
        f["ljmet"] = np.histogram([1.0, 2.0])
    return path


def _config(
    tmp_path: Path, sig: Path, bkg: Path, selection: str = "AK4HT > 510", weight: str = "xsecEff"
):
    path = tmp_path / "c.toml"
    path.write_text(
        f'tree = "ljmet"\nweight = "{weight}"\nselection = "{selection}"\n'
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
        (lambda p: _tiny(p), "weight:xsecEff * 1e39", DataError,
         "weight expression 'xsecEff * 1e39' gives values that are not finite in float32 in "),
        (lambda p: _tiny(p), "weight:TMath::Log(xsecEff - 0.5)", DataError,
         "weight expression 'TMath::Log(xsecEff - 0.5)' gives values that are not finite (NaN "
         "or infinite) in "),
        (lambda p: _tiny(p), "weight:0 * xsecEff", DataError,
         "the weights of the signal are all zero (weight '0 * xsecEff', dataset 2017 split 0, "
         "1 file: "),
        (lambda p: _tiny(p), "weight:-1", DataError, "the weights of the signal are all negative"),
        (lambda p: _tiny(p, n=0), "AK4HT > 510", DataError,
         "no signal events in dataset 2017 split 0: the tree 'ljmet' of its 1 file(s) has no "
         "entries"),
        (lambda p: _file(p / "empty.root", b""), "AK4HT > 510", DataError,
         "empty.root: cannot open as a ROOT file (empty file)"),
        (lambda p: _folder(p / "dir.root"), "AK4HT > 510", DataError,
         "dir.root: is a folder, not an ntuple"),
        (_histogram, "AK4HT > 510", DataError, "hist.root: 'ljmet' is a TH1D, not a tree"),
        (lambda p: _tiny(p), "theJetPt[0] > 0 || AK4HT[0] > 0", ExpressionError,
         "unknown branch 'theJetPt'"),
    ],
)  # fmt: skip
def test_bad_inputs_are_one_line_errors(tmp_path, make, selection, error, fragment):
    sig = make(tmp_path)
    weight = "xsecEff"
    if selection.startswith("weight:"):
        selection, weight = "AK4HT > 510", selection.removeprefix("weight:")
    config = _config(tmp_path, sig, _tiny(tmp_path), selection, weight)
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


def test_constant_weight_and_selection(tmp_path):
    """weight = "1" (unweighted samples) and selection = "1" (keep all) are plain configurations."""
    good = _tiny(tmp_path)
    arrays = load_split(_config(tmp_path, good, good, "1", "1"), "2017", 0, cache_dir=tmp_path)
    assert arrays.signal.shape == (50, 2) and arrays.signal_weight.tolist() == [1.0] * 50
    assert arrays.background_weight.dtype == np.float32
    arrays = load_split(_config(tmp_path, good, good, "AK4HT > 510 && NJets_JetSubCalc > 6", "2"),
                        "2017", 0, cache_dir=tmp_path)  # fmt: skip
    assert 0 < len(arrays.signal) < 50 and set(arrays.signal_weight.tolist()) == {2.0}
    with pytest.raises(DataError, match="selection keeps no signal events"):
        load_split(_config(tmp_path, good, good, "0", "1"), "2017", 0, cache_dir=tmp_path)


def _arrays(signal_weight, background_weight) -> SplitArrays:
    x = np.zeros((len(signal_weight), 1), np.float32)
    y = np.zeros((len(background_weight), 1), np.float32)
    return SplitArrays(["a"], x, np.asarray(signal_weight, np.float32), y,
                       np.asarray(background_weight, np.float32))  # fmt: skip


@pytest.mark.parametrize(
    ("signal", "background", "message"),
    [
        ([0, 0], [1], "the weights of the signal are all zero (S): no event to train on"),
        ([1], [-1, -2], "the weights of the background are all negative (B): a class needs"),
        ([1], [-1, 0], "the weights of the background are all negative or zero (B)"),
        ([2, -3], [1], "the weights of the signal sum to -1 (<= 0) (S): a class needs a positive"),
        ([1, np.nan], [1], "S: the signal weights are not finite (NaN or infinite)"),
        ([1], [], "no background events (B)"),
    ],
)
def test_check_weights_names_the_class(signal, background, message):
    with pytest.raises(DataError) as info:
        check_weights(_arrays(signal, background), ("S", "B"))
    assert str(info.value) == message or str(info.value).startswith(message)
    check_weights(_arrays([1, -0.5], [3, -2, 0]), ("S", "B"))  # mixed signs summing > 0: fine


def test_corrupt_cache_is_rebuilt_and_stale_temporaries_removed(tmp_path, caplog):
    good = _tiny(tmp_path)
    config = _config(tmp_path, good, good)
    cache = tmp_path / "cache"
    path = cache_path(config, "2017", 0, cache)
    cache.mkdir()
    path.write_bytes(b"")  # e.g. a job killed by an older version, or a full disk
    dead = cache / f".{path.name}.999999999.tmp"  # an older version's temporary name
    dead.write_bytes(b"partial")
    os.utime(dead, (1, 1))
    arrays = load_split(config, "2017", 0, cache_dir=cache)
    assert "ignoring the unreadable cache file" in caplog.text and "empty file" in caplog.text
    assert sorted(p.name for p in cache.iterdir()) == [path.name]
    np.testing.assert_array_equal(read_cache_file(path).signal, arrays.signal)
    assert (path.stat().st_mode & 0o777) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_unwritable_cache_is_skipped_with_a_warning(tmp_path, caplog):
    good = _tiny(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    arrays = load_split(_config(tmp_path, good, good), "2017", 0, cache_dir=blocker / "cache")
    assert arrays.signal.shape == (50, 2)
    assert "not caching the arrays: cannot write the cache folder" in caplog.text
    assert blocker.read_text() == ""


def test_full_cache_disk_leaves_nothing(tmp_path, caplog):
    from faults import fill, small_disk

    good = _tiny(tmp_path, n=20000)
    with small_disk(tmp_path / "disk", "256k") as disk:
        fill(disk, leave=16384)
        before = sorted(p.name for p in disk.iterdir())
        arrays = load_split(_config(tmp_path, good, good), "2017", 0, cache_dir=disk / "a" / "b")
        assert len(arrays.signal) == 20000
        assert "not caching the arrays: cannot write cache file" in caplog.text
        assert "no space left on device" in caplog.text
        assert sorted(p.name for p in disk.iterdir()) == before  # no folder, no temporary


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is a folder, not a fourtop arrays file"),
        ({"signal": np.zeros(5, np.float32)}, "(signal: expected 2 columns"),
        ({"variables": np.zeros(2)}, "(variables: expected a list of names"),
        ({"background_weight": np.ones((50, 1), np.float32)}, "(background_weight: 50 values"),
        ({"signal": np.array([["a", "b"]] * 50)}, "(signal: expected 2 columns"),
        ({"background_weight": -np.ones(50, np.float32)},
         "the weights of the background are all negative"),
    ],
)  # fmt: skip
def test_read_cache_file_checks_shapes_and_weights(tmp_path, content, message):
    good = _tiny(tmp_path)
    arrays = load_split(_config(tmp_path, good, good), "2017", 0, cache_dir=tmp_path / "c")
    path = tmp_path / "arrays.npz"
    if content is None:
        path.mkdir()
    else:
        doc = {
            "variables": np.asarray(arrays.variables),
            "signal": arrays.signal,
            "signal_weight": arrays.signal_weight,
            "background": arrays.background,
            "background_weight": arrays.background_weight,
            **content,
        }
        np.savez(path, **doc)
    with pytest.raises(DataError) as info:
        read_cache_file(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_variable_not_finite_in_float32_is_a_warning(tmp_path, caplog):
    path = tmp_path / "big.root"
    branches = {
        "AK4HT": np.full(10, 600.0),
        "NJets_JetSubCalc": np.array([1e39] + [5.0] * 9),  # a double beyond float32
        "xsecEff": np.ones(10),
    }
    with uproot.recreate(path) as f:
        f.mktree("ljmet", {k: v.dtype for k, v in branches.items()}).extend(branches)
    arrays = load_split(_config(tmp_path, path, path), "2017", 0, cache_dir=tmp_path / "c")
    assert np.isinf(arrays.signal[0, 1])
    assert "variable 'NJets_JetSubCalc' has 1 signal events" in caplog.text
