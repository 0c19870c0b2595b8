"""One input file scored: friend trees and copies, every event by its own fold's model, in
chunks; the output's record; every bad input a one-line error with nothing left behind."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import awkward as ak
import numpy as np
import pytest
import uproot

from finals import SIGNAL, fold_scores, make_final, standardization, write_config
from fourtop.apply.plan import ApplyPlan, InputFile, plan_files
from fourtop.apply.record import RECORD_KEY, model_id, output_state, read_record
from fourtop.apply.scoring import copy_layout, score_file
from fourtop.errors import DataError, ExpressionError
from fourtop.final.model import CARD_FILE, load_final_model

K = 3


@pytest.fixture(scope="module")
def setup(tiny_samples, tmp_path_factory):
    """A configuration over the tiny samples, its final folder and model."""
    root = tmp_path_factory.mktemp("apply-scoring")
    config = write_config(root / "c.toml", tiny_samples)
    mean, std = standardization(config)
    final = make_final(root / "final", config, k=K, mean=mean, std=std)
    return SimpleNamespace(config=config, final=final, model=load_final_model(final), root=root)


def _plan(setup, out: Path, *, copy=False, branch="DNN", files=None) -> ApplyPlan:
    out.mkdir(parents=True, exist_ok=True)
    return ApplyPlan(
        model_folder=str(setup.final),
        model_id=model_id(setup.final / CARD_FILE),
        engine="onnx",
        tree="ljmet",
        event_id="event_CommonCalc",
        branch=branch,
        copy=copy,
        key="2017",
        config=str(setup.config.path),
        output_dir=str(out),
        files=files if files is not None else plan_files(setup.config, "2017"),
    )


def _item(path: Path) -> InputFile:
    return InputFile("apply_x", str(path), path.name, "x", "extra")


def _score(setup, plan: ApplyPlan, item: InputFile, **kwargs) -> int:
    return score_file(plan, item, setup.model.variables, setup.model.scorer("onnx"), **kwargs)


def _expected(setup, path: Path) -> np.ndarray:
    """Each event scored by the model of its fold (PyTorch, fold = key mod k)."""
    with uproot.open(path) as f:
        tree = f["ljmet"]
        x = np.column_stack([tree[v].array(library="np") for v in setup.model.variables])
        keys = tree["event_CommonCalc"].array(library="np")
    x = x.astype(np.float32)
    out = np.empty(len(x), dtype=np.float32)
    for fold in range(K):
        rows = keys % K == fold
        out[rows] = fold_scores(setup.final, fold, x[rows])
    return out


def test_friend_tree_has_every_entry_in_order_scored_by_its_own_fold(setup, tmp_path):
    plan = _plan(setup, tmp_path / "out")
    item = plan.files[0]
    n = _score(setup, plan, item)
    with uproot.open(item.input) as f, uproot.open(plan.output_path(item)) as g:
        source, friend = f["ljmet"], g["ljmet"]
        assert n == friend.num_entries == source.num_entries > 100
        assert friend.keys() == ["DNN"] and friend.title == source.title
        assert friend["DNN"].typename == "float"
        scores = friend["DNN"].array(library="np")
    np.testing.assert_allclose(scores, _expected(setup, Path(item.input)), rtol=1e-5, atol=1e-6)
    assert len(np.unique(scores)) > n // 2  # not one value everywhere
    # the folds' models differ, so a wrong fold would show
    keys = uproot.open(item.input)["ljmet"]["event_CommonCalc"].array(library="np")
    assert set(np.unique(keys % K)) == set(range(K))
    assert sorted(os.listdir(tmp_path / "out")) == [item.output]  # no temporary file left


def test_chunks_give_the_same_scores_as_one_read(setup, tmp_path):
    whole = _plan(setup, tmp_path / "whole")
    chunked = _plan(setup, tmp_path / "chunked")
    item = whole.files[3]
    _score(setup, whole, item)
    _score(setup, chunked, item, step=97)  # many chunks, the last one short
    a = uproot.open(whole.output_path(item))["ljmet"]["DNN"].array(library="np")
    b = uproot.open(chunked.output_path(item))["ljmet"]["DNN"].array(library="np")
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_copy_keeps_every_branch_bit_identical_and_adds_the_score(setup, tmp_path):
    friend = _plan(setup, tmp_path / "friend")
    copy = _plan(setup, tmp_path / "copy", copy=True)
    item = copy.files[0]
    _score(setup, friend, item)
    _score(setup, copy, item, step="100 kB")  # several chunks
    with uproot.open(item.input) as f, uproot.open(copy.output_path(item)) as g:
        source, copied = f["ljmet"], g["ljmet"]
        assert copied.num_entries == source.num_entries
        assert set(copied.keys()) == set(source.keys()) | {"DNN"}
        names = list(source.keys())
        jagged = [b for b in names if source[b].typename.endswith("[]")]
        assert jagged == ["theJetPt_JetSubCalc_PtOrdered"]
        for name in names:
            a, b = source[name].array(), copied[name].array()
            assert source[name].typename == copied[name].typename, name
            if name in jagged:
                assert ak.all(ak.num(a) == ak.num(b))
                a, b = ak.flatten(a), ak.flatten(b)
            a, b = ak.to_numpy(a), ak.to_numpy(b)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
        scores = copied["DNN"].array(library="np")
    np.testing.assert_array_equal(
        scores, uproot.open(friend.output_path(item))["ljmet"]["DNN"].array(library="np")
    )


def test_the_record_says_when_an_output_is_complete(setup, tmp_path):
    plan = _plan(setup, tmp_path / "out")
    item = plan.files[1]
    assert output_state(plan, item).state == "missing"
    n = _score(setup, plan, item)
    assert output_state(plan, item).state == "complete"
    record, f = read_record(plan.output_path(item))
    f.close()
    assert record["entries"] == n and record["input"]["path"] == item.input
    assert record["branch"] == "DNN" and record["mode"] == "friend"
    other = dataclasses.replace(plan, branch="NN")
    assert output_state(other, item).state == "other"
    assert "branch: 'DNN' then, 'NN' now" in output_state(other, item).reason
    assert output_state(dataclasses.replace(plan, copy=True), item).state == "other"
    assert output_state(dataclasses.replace(plan, model_id="0" * 16), item).state == "other"
    # the input changed since: redo
    copy = tmp_path / "input.root"
    shutil.copyfile(item.input, copy)
    moved = dataclasses.replace(item, input=str(copy))
    assert output_state(plan, moved).state == "stale"
    # not fourtop's
    (tmp_path / "out" / "notes.root").write_text("my notes\n")
    assert output_state(plan, _item(Path("/x/notes.root"))).state == "foreign"
    with uproot.recreate(tmp_path / "out" / "other.root") as g:
        g["x"] = "hello"
    state = output_state(plan, _item(Path("/x/other.root")))
    assert state.state == "foreign" and "no record" in state.reason


def _small_tree(path: Path, columns: dict, tree: str = "ljmet") -> Path:
    with uproot.recreate(path) as f:
        types = {
            k: str(v.type.content) if isinstance(v, ak.Array) else v.dtype
            for k, v in columns.items()
        }
        f.mktree(tree, types).extend(columns)
    return path


def _columns(setup, n: int = 50, **changes) -> dict:
    rng = np.random.default_rng(1)
    cols = {v: rng.normal(size=n).astype(np.float32) for v in setup.model.variables}
    cols["event_CommonCalc"] = np.arange(n, dtype=np.int64)
    for name, value in changes.items():
        if value is None:
            cols.pop(name)
        else:
            cols[name] = value
    return cols


def _truncated(setup, path: Path) -> Path:
    data = Path(setup.config.files("2017", 0).signal[0]).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


BAD = {
    "missing": (lambda s, p: p, r"ntuple not found"),
    "not ROOT": (lambda s, p: (p.write_text("hello\n"), p)[1], r"no ROOT file header"),
    "empty": (lambda s, p: (p.write_bytes(b""), p)[1], r"empty file"),
    "truncated": (_truncated, r"truncated or corrupt|cannot open as a ROOT file"),
    "no tree": (
        lambda s, p: _small_tree(p, _columns(s), tree="events"),
        r"no tree 'ljmet' \(trees: events\)",
    ),
    "no variable": (
        lambda s, p: _small_tree(p, _columns(s, AK4HTpMETpLepPt=None)),
        r"no branch 'AK4HTpMETpLepPt' \(an input variable of the model\)",
    ),
    "no event key": (
        lambda s, p: _small_tree(p, _columns(s, event_CommonCalc=None)),
        r"unknown branch 'event_CommonCalc' in .*bad\.root",
    ),
    "key not whole": (
        lambda s, p: _small_tree(p, _columns(s, event_CommonCalc=np.full(50, 1.5))),
        r"bad\.root \(entries from 0\): event key 'event_CommonCalc' is not a whole number",
    ),
    "jagged variable": (
        lambda s, p: _small_tree(p, _columns(s, minMleppBjet=ak.Array([[1.0], []] * 25))),
        r"variable 'minMleppBjet' is a variable-length array",
    ),
    "has the branch": (
        lambda s, p: _small_tree(p, _columns(s, DNN=np.zeros(50, np.float32))),
        r"already has a branch 'DNN'; choose another --branch",
    ),
}


@pytest.mark.parametrize("copy", [False, True], ids=["friend", "copy"])
@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_input_is_one_line_naming_the_file_and_leaves_nothing(setup, tmp_path, case, copy):
    make, message = BAD[case]
    path = make(setup, tmp_path / "bad.root")
    out = tmp_path / "out"
    plan = _plan(setup, out, copy=copy)
    with pytest.raises((DataError, ExpressionError), match=message) as info:
        _score(setup, plan, _item(path))
    text = str(info.value)
    assert "\n" not in text and str(path) in text
    assert os.listdir(out) == []


def test_a_good_small_tree_scores(setup, tmp_path):
    path = _small_tree(tmp_path / "small.root", _columns(setup))
    plan = _plan(setup, tmp_path / "out")
    assert _score(setup, plan, _item(path)) == 50


def test_copy_refuses_a_branch_it_cannot_write(tmp_path):
    from uproot.interpretation.strings import AsStrings

    branch = SimpleNamespace(
        name="label", interpretation=AsStrings(), branches=[], typename="std::string",
        count_branch=None,
    )  # fmt: skip
    tree = SimpleNamespace(branches=[branch])
    with pytest.raises(DataError, match=r"branch 'label' \(std::string\) cannot be copied"):
        copy_layout(tree, tmp_path / "in.root")


def test_the_record_key_is_beside_the_tree(setup, tmp_path):
    plan = _plan(setup, tmp_path / "out")
    item = plan.files[2]
    _score(setup, plan, item)
    with uproot.open(plan.output_path(item)) as g:
        keys = [k.split(";")[0] for k in g.keys()]  # noqa: SIM118 - an uproot file
        assert sorted(keys) == sorted(["ljmet", RECORD_KEY])


def test_signal_pattern_is_the_generated_file(setup):
    assert Path(setup.config.files("2017", 0).signal[0]).name == SIGNAL.format(split=0)
