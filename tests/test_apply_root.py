"""Outputs of ``fourtop apply`` read back with real ROOT: a friend tree lines up with its
input through ``TTree::AddFriend`` (every entry, the same order), a copy holds every branch
with the same values, a tree written by ROOT itself (``std::vector<float>``, bool, int,
double branches) is copied value for value, and a branch shorter than its tree is refused."""

from __future__ import annotations

from array import array
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import uproot

from finals import make_final, standardization, write_config
from fourtop.apply.plan import ApplyPlan, InputFile, plan_files
from fourtop.apply.record import model_id
from fourtop.apply.scoring import score_file
from fourtop.errors import DataError
from fourtop.final.model import CARD_FILE, load_final_model

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def setup(tiny_samples, tmp_path_factory):
    ROOT = pytest.importorskip("ROOT")
    root = tmp_path_factory.mktemp("apply-root")
    config = write_config(root / "c.toml", tiny_samples)
    mean, std = standardization(config)
    final = make_final(root / "final", config, mean=mean, std=std)
    model = load_final_model(final)
    return SimpleNamespace(ROOT=ROOT, config=config, final=final, model=model, root=root)


def _plan(setup, out: Path, *, copy: bool = False) -> ApplyPlan:
    out.mkdir(parents=True, exist_ok=True)
    return ApplyPlan(
        model_folder=str(setup.final),
        model_id=model_id(setup.final / CARD_FILE),
        engine="onnx",
        tree="ljmet",
        event_id="event_CommonCalc",
        branch="DNN",
        copy=copy,
        key="2017",
        config=str(setup.config.path),
        output_dir=str(out),
        files=plan_files(setup.config, "2017"),
    )


def _score(setup, plan: ApplyPlan, item: InputFile) -> int:
    return score_file(plan, item, setup.model.variables, setup.model.scorer("onnx"))


def _columns(ROOT, tree, names: list[str]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in ROOT.RDataFrame(tree).AsNumpy(names).items()}


def test_a_friend_tree_lines_up_with_its_input_in_root(setup, tmp_path):
    ROOT = setup.ROOT
    plan = _plan(setup, tmp_path / "out")
    item = plan.files[0]
    n = _score(setup, plan, item)
    output = str(plan.output_path(item))
    f = ROOT.TFile.Open(item.input)
    tree = f.Get("ljmet")
    tree.AddFriend("scores=ljmet", output)
    assert tree.GetEntries() == n == tree.GetFriend("scores").GetEntries()
    cols = _columns(ROOT, tree, ["event_CommonCalc", "AK4HT", "scores.DNN"])
    with uproot.open(item.input) as a, uproot.open(output) as b:
        keys = a["ljmet"]["event_CommonCalc"].array(library="np")
        scores = b["ljmet"]["DNN"].array(library="np")
    np.testing.assert_array_equal(cols["event_CommonCalc"], keys)  # the same order
    np.testing.assert_array_equal(cols["scores.DNN"], scores)
    # a selection on the input's branches and a cut on the friend's score, as downstream
    selected = tree.GetEntries("AK4HT > 510 && scores.DNN > 0.5")
    assert selected == int(((cols["AK4HT"] > 510) & (scores > 0.5)).sum()) > 0
    f.Close()


def test_a_copy_read_by_root_has_every_branch_and_the_score(setup, tmp_path):
    ROOT = setup.ROOT
    plan = _plan(setup, tmp_path / "out", copy=True)
    item = plan.files[0]
    _score(setup, plan, item)
    original, copied = ROOT.TFile.Open(item.input), ROOT.TFile.Open(str(plan.output_path(item)))
    a, b = original.Get("ljmet"), copied.Get("ljmet")
    assert a.GetEntries() == b.GetEntries()
    names = [br.GetName() for br in a.GetListOfBranches()]
    assert {br.GetName() for br in b.GetListOfBranches()} == {*names, "DNN"}
    flat = [x for x in names if not x.startswith(("theJet", "ntheJet"))]
    ca, cb = _columns(ROOT, a, flat), _columns(ROOT, b, flat)
    for name in flat:
        assert ca[name].dtype == cb[name].dtype and ca[name].tobytes() == cb[name].tobytes()
    jets = "theJetPt_JetSubCalc_PtOrdered"
    ja, jb = _columns(ROOT, a, [jets])[jets], _columns(ROOT, b, [jets])[jets]
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(ja, jb, strict=True))
    original.Close()
    copied.Close()


def _root_written(ROOT, path: Path, variables: list[str], n: int = 300, short: int = 0) -> None:
    """A tree written by ROOT: the variables (float), the key (Long64_t), a bool, an int, a
    double and a ``std::vector<float>``; with ``short`` the last variable's branch is added
    afterwards and filled ``short`` entries fewer than the tree."""
    rng = np.random.default_rng(5)
    f = ROOT.TFile(str(path), "RECREATE")
    tree = ROOT.TTree("ljmet", "written by ROOT")
    own = variables[:-1] if short else variables
    buffers = {v: array("f", [0.0]) for v in own}
    for v, buf in buffers.items():
        tree.Branch(v, buf, f"{v}/F")
    key, flag, count, weight = array("q", [0]), array("b", [0]), array("i", [0]), array("d", [0])
    tree.Branch("event_CommonCalc", key, "event_CommonCalc/L")
    tree.Branch("flag", flag, "flag/O")
    tree.Branch("count", count, "count/I")
    tree.Branch("weight", weight, "weight/D")
    vec = ROOT.std.vector("float")()
    tree.Branch("jets", vec)
    for i in range(n):
        for buf in buffers.values():
            buf[0] = rng.normal()
        key[0], flag[0], count[0], weight[0] = 1000 + 7 * i, i % 2, i - 5, rng.normal()
        vec.clear()
        for _ in range(i % 4):
            vec.push_back(float(rng.exponential(50)))
        tree.Fill()
    if short:
        last = array("f", [0.0])
        branch = tree.Branch(variables[-1], last, f"{variables[-1]}/F")
        for _ in range(n - short):
            last[0] = rng.normal()
            branch.Fill()
    tree.Write()
    f.Close()


def test_a_tree_written_by_root_is_copied_value_for_value(setup, tmp_path):
    ROOT = setup.ROOT
    path = tmp_path / "root_written.root"
    _root_written(ROOT, path, setup.model.variables)
    plan = _plan(setup, tmp_path / "out", copy=True)
    item = InputFile("apply_root_written", str(path), path.name, "x", "extra")
    assert _score(setup, plan, item) == 300
    a_file, b_file = ROOT.TFile.Open(str(path)), ROOT.TFile.Open(str(plan.output_path(item)))
    a, b = a_file.Get("ljmet"), b_file.Get("ljmet")
    flat = [*setup.model.variables, "event_CommonCalc", "flag", "count", "weight"]
    ca, cb = _columns(ROOT, a, flat), _columns(ROOT, b, flat)
    for name in flat:
        assert ca[name].tobytes() == cb[name].tobytes(), name
    ja, jb = _columns(ROOT, a, ["jets"])["jets"], _columns(ROOT, b, ["jets"])["jets"]
    assert [list(x) for x in ja] == [list(y) for y in jb]
    assert b.GetEntries("DNN >= 0 && DNN <= 1") == 300
    a_file.Close()
    b_file.Close()


def test_a_branch_shorter_than_its_tree_is_refused(setup, tmp_path):
    path = tmp_path / "short.root"
    _root_written(setup.ROOT, path, setup.model.variables, short=5)
    plan = _plan(setup, tmp_path / "out")
    item = InputFile("apply_short", str(path), path.name, "x", "extra")
    last = setup.model.variables[-1]
    with pytest.raises(DataError, match=rf"short.root: branch '{last}' has 295 entries, tree "):
        _score(setup, plan, item)
    assert not list((tmp_path / "out").iterdir())
