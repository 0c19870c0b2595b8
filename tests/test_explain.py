"""``fourtop explain``: on constructed data where the truth is known, and its bad inputs.

The constructed ntuples (:func:`constructed`) hold, for signal and background:

* ``copy_a`` and ``copy_b``: near-copies (correlation 0.998), both separating the classes;
* ``inter_x`` and ``inter_y``: each alone the same for both classes, together separating
  them (signal has ``inter_x * inter_y > 0``): informative only together;
* ``strong``: one more variable that separates alone;
* ``noise_1`` and ``noise_2``: the same distribution for both classes, unrelated to anything.

A final training (``fourtop final``, 2 folds) learns them; ``fourtop explain`` must put the
noise at about zero, the interaction pair above it, and name the near-copies redundant when
a retraining ranking (made here as ``calculate`` finds it: removing one near-copy costs
little, removing one of the interaction pair costs a lot) ranks them low.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fourtop.cli import main
from fourtop.explain import compare
from fourtop.explain.methods import Estimate
from fourtop.explain.network import logit_net
from fourtop.explain.outputs import recover, replace_folder
from fourtop.train.export import ScoringNet
from fourtop.train.model import FamilyNet
from fourtop.train.params import NetworkParams

pytest.importorskip("shap")
pytest.importorskip("captum")

VARIABLES = ["copy_a", "copy_b", "inter_x", "inter_y", "strong", "noise_1", "noise_2"]
NOISE = ["noise_1", "noise_2"]
INTERACTION = ["inter_x", "inter_y"]
NETWORK = {
    "hidden_layers": 2,
    "initial_nodes": 32,
    "node_pattern": "static",
    "batch_size": 128,
    "learning_rate": 0.003,
    "regulator": "normalization",
    "activation": "relu",
    "epochs": 8,
    "patience": None,
}


def _events(rng: np.random.Generator, n: int, signal: bool) -> dict[str, np.ndarray]:
    shift = 0.8 if signal else 0.0
    a = rng.normal(shift, 1.0, n)
    x, y = rng.normal(size=n), rng.normal(size=n)
    if signal:  # the same marginals, but x * y > 0
        y = np.abs(y) * np.sign(x)
    return {
        "copy_a": a,
        "copy_b": a + rng.normal(0, 0.06, n),
        "inter_x": x,
        "inter_y": y,
        "strong": rng.normal(0.6 if signal else 0.0, 1.0, n),
        "noise_1": rng.normal(size=n),
        "noise_2": rng.uniform(-2, 2, n),
        "w": rng.uniform(0.5, 1.5, n),
        "evt": np.arange(n, dtype=np.int64) + (0 if signal else n),
    }


def write_ntuples(folder: Path, n: int = 20000, seed: int = 7) -> Path:
    """Signal and background ntuples of the constructed variables; returns the config."""
    import uproot

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, signal in (("sig", True), ("bkg", False)):
        events = _events(rng, n, signal)
        arrays = {k: v.astype(np.int64 if k == "evt" else np.float32) for k, v in events.items()}
        with uproot.recreate(folder / f"{name}_split2.root") as f:
            f.mktree("t", {k: v.dtype for k, v in arrays.items()}).extend(arrays)
    config = folder / "constructed.toml"
    names = ", ".join(f'{{name = "{v}"}}' for v in VARIABLES)
    config.write_text(
        'tree = "t"\nweight = "w"\nselection = "w > 0"\nevent_id = "evt"\n'
        f"variables = [{names}]\n"
        '[datasets.c]\nsignal = ["sig_split{split}.root"]\nbackground = ["bkg_split{split}.root"]\n'
    )
    return config


def write_ranking(folder: Path, importance: dict[str, float]) -> Path:
    """A ``calculate`` results file with these importances (file order = descending)."""
    from test_hyperopt_selection import write_results

    folder.mkdir(parents=True, exist_ok=True)
    ordered = sorted(importance.items(), key=lambda kv: -kv[1])
    return write_results(folder, [(n, 10, imp, imp / 10, 0.1, imp) for n, imp in ordered])


def run_in(work: Path, *args: str) -> None:
    """``fourtop ARGS`` in ``work`` with its own cache; it must succeed."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FOURTOP_CACHE", str(work / "cache"))
    mp.chdir(work)
    try:
        assert main(list(args)) == 0
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def constructed(tmp_path_factory):
    """A final folder trained on the constructed data, and its configuration."""
    work = tmp_path_factory.mktemp("explain")
    config = write_ntuples(work / "data")
    (work / "ds").mkdir()
    doc = {"tag": "t", "roc_integral": 0.9, "network": NETWORK, "variables": VARIABLES}
    (work / "ds" / "optimized_parameters_t.json").write_text(json.dumps(doc))
    run_in(
        work,
        *("final", "ds", "-y", "c", "--config", str(config), "-k", "2", "-f", "fin"),
        *("--random-seed", "3", "-p", "1", "--yes"),
    )
    return work, config


@pytest.fixture(scope="module")
def explained(constructed):
    """``fourtop explain`` of the constructed final folder, with a retraining ranking."""
    work, config = constructed
    ranking = write_ranking(
        work / "ranking",
        {
            "inter_x": 3.0,
            "inter_y": 2.9,
            "strong": 2.0,
            "copy_a": 0.6,
            "copy_b": 0.5,
            "noise_1": 0.0,
            "noise_2": -0.1,
        },
    )
    run_in(
        work,
        *("explain", "fin", "--config", str(config), "--results", str(ranking.parent)),
        *("--events", "12000", "--yes"),
    )
    doc = json.loads((work / "fin" / "explain" / "explain.json").read_text())
    return work, doc


def _by_name(doc):
    return {r["variable"]: r for r in doc["variables"]}


# ---------------------------------------------------------------- the known truth


def test_permutation_puts_noise_at_zero_and_the_interaction_pair_above_it(explained):
    _, doc = explained
    rec = _by_name(doc)
    assert doc["roc_integral"]["value"] > 0.8
    for noise in NOISE:
        e = rec[noise]["permutation"]
        assert abs(e["value"]) < 0.003, e
    top_noise = max(
        rec[n]["permutation"]["value"] + 3 * rec[n]["permutation"]["uncertainty"] for n in NOISE
    )
    for name in INTERACTION:
        e = rec[name]["permutation"]
        assert e["value"] > 0.02 and e["value"] - 3 * e["uncertainty"] > top_noise, (name, e)


@pytest.mark.parametrize("method", ["shap", "ig", "lrp"])
def test_attributions_put_noise_near_zero_and_the_interaction_pair_above_it(explained, method):
    _, doc = explained
    rec = _by_name(doc)
    largest = max(r[method]["value"] for r in doc["variables"])
    noise = max(rec[n][method]["value"] for n in NOISE)
    for name in INTERACTION:
        assert rec[name][method]["value"] > 3 * noise, (name, method)
    assert noise < (0.1 if method == "shap" else 0.2) * largest
    assert {rec[n][method]["rank"] for n in NOISE} == {6, 7}


def test_the_near_copies_are_named_redundant_and_the_interaction_pair_is_not(explained):
    _, doc = explained
    reasons = {d["variable"]: d for d in doc["comparison"]["disagreements"]}
    copies = [reasons[v] for v in ("copy_a", "copy_b") if v in reasons]
    assert copies, reasons.keys()
    for d in copies:
        assert d["reason"] == "redundant", d
        assert {d["variable"], d["partner"]} == {"copy_a", "copy_b"}
        assert d["correlation"] > 0.99
        assert "redundant with copy_" in d["text"]
    for name in INTERACTION + NOISE:
        assert reasons.get(name, {}).get("reason") != "redundant"
    for name in NOISE:  # retraining gave them nothing: no credit to call unused
        assert reasons.get(name, {}).get("reason") in (None, "none")


def test_the_comparison_has_a_rank_correlation_per_method(explained):
    _, doc = explained
    spearman = doc["comparison"]["spearman"]
    assert set(spearman) == {"permutation", "shap", "ig", "lrp"}
    assert all(-1 <= v["rho"] <= 1 for v in spearman.values())
    retraining = [r["retraining"]["rank"] for r in doc["variables"]]
    assert sorted(retraining) == list(range(1, len(VARIABLES) + 1))


def test_the_outputs_are_all_there_and_agree(explained):
    work, doc = explained
    out = work / "fin" / "explain"
    for stem in ("ranking", "importance", "beeswarm", "dependence"):
        for ext in ("png", "pdf"):
            assert (out / f"{stem}.{ext}").stat().st_size > 1000
    arrays = np.load(out / "attributions.npz")
    n = doc["events"]["total"]
    assert list(arrays["variables"]) == VARIABLES
    for m in ("shap", "ig", "lrp"):
        assert arrays[m].shape == (n, len(VARIABLES))
    lines = (out / "explain.csv").read_text().splitlines()
    assert lines[0].startswith("variable,index,permutation,permutation_uncertainty")
    assert len(lines) == len(VARIABLES) + 1
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".explain.")]
    assert not [n for n in leftovers if not n.startswith(".explain.lock")], leftovers


def test_shap_values_add_up_to_the_logit(constructed, explained):
    """Per fold: sum of SHAP values + the reference mean = the fold model's logit."""
    from fourtop.final.model import load_torch_model

    work, _ = explained
    arrays = np.load(work / "fin" / "explain" / "attributions.npz")
    for fold in range(2):
        rows = arrays["fold"] == fold
        net = load_torch_model(work / "fin" / f"model_fold{fold}.pt")
        logit = net.logits(torch.from_numpy(arrays["x"][rows])).detach().numpy()
        total = arrays["shap"][rows].sum(axis=1)
        offset = logit - total  # the reference's mean logit: one constant per fold
        assert np.ptp(offset) < 1e-3 * max(1.0, np.abs(logit).max())


# ---------------------------------------------------------------- the plain network


@pytest.mark.parametrize("activation", ["relu", "elu", "softplus"])
@pytest.mark.parametrize("regulator", ["normalization", "none"])
def test_the_plain_network_computes_the_same_logit(activation, regulator):
    params = NetworkParams(
        hidden_layers=3, initial_nodes=12, activation=activation, regulator=regulator
    )
    family = FamilyNet(torch.ones(1, 5), params, generator=torch.Generator().manual_seed(1))
    state = family.member_state(0)
    for key in state:  # trained-looking batch-norm statistics
        if "running" in key:
            state[key] = torch.rand_like(state[key]) + 0.5
    mean, std = [1.0, -2.0, 3.0, 0.0, 100.0], [0.5, 2.0, 1.0, 3.0, 40.0]
    net = ScoringNet(state, params, mean, std)
    x = torch.randn(300, 5) * torch.tensor(std) + torch.tensor(mean)
    with torch.no_grad():
        want = net.logits(x)
        torch.testing.assert_close(logit_net(net)(x).squeeze(1), want, rtol=1e-5, atol=1e-5)
        z = (x - net.mean) / net.std
        torch.testing.assert_close(
            logit_net(net, standardized=True)(z).squeeze(1), want, rtol=1e-5, atol=1e-5
        )
    kinds = {type(m).__name__ for m in logit_net(net)}
    assert kinds <= {"Linear", "ReLU", "ELU", "Softplus"}


# ---------------------------------------------------------------- the reasons, unit by unit


def _est(*values):
    return Estimate(np.asarray(values, dtype=np.float64))


def _disagree(
    corr, separation, single, pairs, retraining=(1, 2, 3), method=(3, 2, 1), credited=None
):
    names = ["v0", "v1", "v2"]
    return {
        d.variable: d
        for d in compare.disagreements(
            names,
            np.asarray(retraining),
            {"permutation": np.asarray(method)},
            corr=np.asarray(corr, dtype=np.float64),
            threshold=0.8,
            separation=np.asarray(separation),
            drop=lambda shuffle: pairs[tuple(sorted(b[0] for b in shuffle))],
            single=single,
            credited=None if credited is None else np.asarray(credited),
        )
    }


def test_a_correlated_pair_that_matters_is_redundant():
    corr = [[1, 0.95, 0], [0.95, 1, 0], [0, 0, 1]]
    single = [_est(0.01, 0.012), _est(0.01, 0.011), _est(0.05, 0.05)]
    pairs = {(0, 1): _est(0.08, 0.09)}  # super-additive: each covers for the other
    found = _disagree(corr, [0.7, 0.7, 0.7], single, pairs)
    assert found["v0"].reason == "redundant" and found["v0"].partner == "v1"


def test_a_pair_that_matters_only_together_is_informative_only_together():
    corr = [[1, 0.0, 0.1], [0.0, 1, 0.1], [0.1, 0.1, 1]]
    single = [_est(0.10, 0.11), _est(0.09, 0.10), _est(0.0, 0.001)]
    pairs = {(0, 1): _est(0.11, 0.115), (0, 2): _est(0.10, 0.11)}  # sub-additive with v1
    found = _disagree(corr, [0.5, 0.51, 0.5], single, pairs)
    assert found["v0"].reason == "informative only together"
    assert found["v0"].partner == "v1"
    # a variable that separates well alone is not "only together", whatever the pairs say
    found = _disagree(corr, [0.7, 0.51, 0.5], single, pairs)
    assert found["v0"].reason == "none"


def test_a_variable_the_network_does_not_use_is_unused():
    corr = [[1, 0.3, 0], [0.3, 1, 0], [0, 0, 1]]
    single = [_est(0.001, -0.001), _est(0.04, 0.05), _est(0.05, 0.05)]
    found = _disagree(corr, [0.6, 0.7, 0.7], single, {}, retraining=(1, 2, 3), method=(3, 2, 1))
    assert found["v0"].reason == "unused"
    # the same variable ranked *higher* by the methods is not "unused"
    found = _disagree(corr, [0.6, 0.7, 0.7], single, {}, retraining=(3, 2, 1), method=(1, 2, 3))
    assert found["v0"].reason == "none"
    # nor one that retraining gave no importance (noise): there is no credit to explain
    found = _disagree(corr, [0.6, 0.7, 0.7], single, {}, credited=[False, True, True])
    assert found["v0"].reason == "none"


def test_an_uninformative_correlated_pair_is_still_redundant():
    corr = [[1, 0.9, 0], [0.9, 1, 0], [0, 0, 1]]
    single = [_est(0.001, -0.001), _est(0.0, 0.001), _est(0.05, 0.05)]
    pairs = {(0, 1): _est(0.0005, -0.0003)}
    found = _disagree(corr, [0.5, 0.5, 0.7], single, pairs)
    assert found["v0"].reason == "redundant"
    assert "barely depends on either" in found["v0"].text


def test_ranks_and_spearman():
    assert compare.ranks([3.0, 1.0, 2.0]).tolist() == [1, 3, 2]
    rho, _ = compare.spearman([1, 2, 3, 4], [10, 20, 30, 40])
    assert rho == pytest.approx(1.0)
    assert np.isnan(compare.spearman([1, 1, 1], [1, 2, 3])[0])


# ---------------------------------------------------------------- the output folder


def test_a_failed_write_leaves_the_previous_output(tmp_path):
    out = tmp_path / "explain"
    out.mkdir()
    (out / "explain.json").write_text("old")
    with pytest.raises(RuntimeError), replace_folder(out) as aside:
        (aside / "explain.json").write_text("new")
        raise RuntimeError("killed")
    assert (out / "explain.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["explain"]
    with replace_folder(out) as aside:
        (aside / "explain.json").write_text("new")
    assert (out / "explain.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["explain"]


def test_leftovers_of_a_killed_run_are_tidied(tmp_path):
    out = tmp_path / "explain"
    (tmp_path / ".explain.old-123").mkdir()  # moved aside, not yet replaced: put back
    (tmp_path / ".explain.old-123" / "explain.json").write_text("old")
    (tmp_path / ".explain.partial-456").mkdir()
    notes = recover(out)
    assert (out / "explain.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["explain"]
    assert len(notes) == 2


# ---------------------------------------------------------------- bad inputs: one line each


def _run(args, capsys):
    rc = main(args)
    err = capsys.readouterr().err.strip()
    return rc, err


def test_a_final_folder_of_another_configuration_is_refused(
    constructed, tmp_path, capsys, monkeypatch
):
    work, config = constructed
    other = tmp_path / "other.toml"
    other.write_text(config.read_text().replace('selection = "w > 0"', 'selection = "w > 0.6"'))
    monkeypatch.setenv("FOURTOP_CACHE", str(work / "cache"))
    before = sorted(p.name for p in (work / "fin").iterdir())
    rc, err = _run(
        ["explain", str(work / "fin"), "--config", str(other), "-f", str(tmp_path / "o")], capsys
    )
    assert rc == 1 and len(err.splitlines()) == 1
    assert "trained with another configuration" in err and "selection" in err
    assert sorted(p.name for p in (work / "fin").iterdir()) == before
    assert not (tmp_path / "o").exists()


def test_a_results_file_over_other_variables_is_refused(constructed, tmp_path, capsys, monkeypatch):
    work, config = constructed
    ranking = write_ranking(tmp_path / "r", {"copy_a": 1.0, "strong": 0.5, "AK4HT": 0.1})
    monkeypatch.setenv("FOURTOP_CACHE", str(work / "cache"))
    rc, err = _run(
        [
            "explain",
            str(work / "fin"),
            "--config",
            str(config),
            "--results",
            str(ranking),
            "-f",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert rc == 1 and len(err.splitlines()) == 1
    assert "ranks other variables than the model: no 'copy_b' (and 4 more)" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("methods", "message"),
    [
        ("permutation,shapley", "unknown method 'shapley'"),
        ("", "expected names like permutation,shap"),
        ("ig,,lrp", "expected names like permutation,shap"),
    ],
)
def test_an_unknown_method_is_a_usage_error(methods, message, constructed, capsys):
    work, _ = constructed
    with pytest.raises(SystemExit) as exit_:
        main(["explain", str(work / "fin"), "--methods", methods])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1]


def test_lrp_on_a_network_without_relu_is_refused(tmp_path, capsys):
    from finals import SMALL, make_final, write_config

    config = write_config(tmp_path / "c.toml", tmp_path)
    params = NetworkParams(**{**SMALL.to_dict(), "activation": "elu"})
    make_final(tmp_path / "fin", config, params=params)
    rc, err = _run(
        ["explain", str(tmp_path / "fin"), "--config", str(config.path), "--methods", "lrp"], capsys
    )
    assert rc == 1 and "layer-wise relevance needs ReLU layers; this network uses elu" in err
    assert not (tmp_path / "fin" / "explain").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "final folder not found"),
        (lambda p: (p.mkdir(), p)[1], "not a final folder"),
    ],
)
def test_a_folder_that_is_not_a_final_folder_is_refused(make, message, tmp_path, capsys):
    folder = make(tmp_path / "nothing")
    rc, err = _run(["explain", str(folder)], capsys)
    assert rc == 1 and message in err and len(err.splitlines()) == 1


def test_an_existing_output_is_kept_without_yes(constructed, tmp_path, capsys, monkeypatch):
    work, config = constructed
    out = tmp_path / "o"
    out.mkdir()
    (out / "explain.json").write_text("an earlier explain output")
    monkeypatch.setenv("FOURTOP_CACHE", str(work / "cache"))
    monkeypatch.setattr("sys.stdin", io.StringIO())  # no terminal
    rc, err = _run(
        [
            "explain",
            str(work / "fin"),
            "--config",
            str(config),
            "--methods",
            "permutation",
            "-f",
            str(out),
        ],
        capsys,
    )
    assert rc == 1 and "exists (pass --yes to replace it" in err
    assert [p.name for p in out.iterdir()] == ["explain.json"]
    assert (out / "explain.json").read_text() == "an earlier explain output"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--events", "50"], "50: must be at least 100"),
        (["--repeats", "1"], "1: must be at least 2"),
        (["-c", "150"], "150: expected a percentage in (0, 100]"),
    ],
)
def test_nonsense_numbers_are_usage_errors(option, message, constructed, capsys):
    work, config = constructed
    with pytest.raises(SystemExit) as exit_:
        main(["explain", str(work / "fin"), "--config", str(config), *option])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_an_unknown_dataset_key_is_refused_before_anything_is_made(
    constructed, tmp_path, capsys, monkeypatch
):
    work, config = constructed
    monkeypatch.chdir(tmp_path)
    rc, err = _run(
        ["explain", str(work / "fin"), "--config", str(config), "-y", "2099", "-f", "a/b/out"],
        capsys,
    )
    assert rc == 1 and "no dataset '2099'" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def _beside_ours(work: Path) -> Path:
    """A folder holding an explain.json and a file explain does not write."""
    folder = work / "mixed"
    folder.mkdir(exist_ok=True)
    (folder / "explain.json").write_text("{}")
    (folder / "thesis.tex").write_text("months of work")
    if not (work / "loop").is_symlink():
        (work / "loop").symlink_to("loop")  # a link to itself: resolving it fails
    return folder


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (lambda w: w / "fin", "would replace the final folder"),
        (lambda w: w, "would replace the final folder"),
        (lambda w: w / "ranking", "would replace the results"),
        (lambda w: w / "fin" / "jobs", "inside the final folder; only its explain/ folder"),
        (lambda w: w / "fin" / "model_card.json", "inside the final folder"),
        (lambda w: w / "data" / "constructed.toml", "not a folder (a file or a link)"),
        (lambda w: w / "ds", "holds 'optimized_parameters_t.json', which fourtop explain does"),
        (lambda w: _beside_ours(w), "holds 'thesis.tex', which fourtop explain does not write"),
        (lambda w: w / "loop" / "sub", "unusable path"),
    ],
)
def test_an_output_that_would_replace_something_is_refused(
    where, message, explained, capsys, monkeypatch
):
    """With --yes: the replacement must never reach a final folder, results or other data."""
    work, _ = explained
    config = work / "data" / "constructed.toml"
    monkeypatch.setenv("FOURTOP_CACHE", str(work / "cache"))
    out = where(work)
    before = {p: p.lstat().st_mtime_ns for p in work.rglob("*") if "cache" not in p.parts}
    rc, err = _run(
        [
            *("explain", str(work / "fin"), "--config", str(config), "--methods", "permutation"),
            *("--results", str(work / "ranking"), "-f", str(out), "--yes"),
        ],
        capsys,
    )
    assert rc == 1 and message in err and len(err.splitlines()) == 1
    after = {p: p.lstat().st_mtime_ns for p in work.rglob("*") if "cache" not in p.parts}
    assert after == before


def test_a_model_file_of_another_fold_is_refused(constructed, tmp_path, capsys):
    """Fold 0's model in fold 1's place would score fold 1's events, which it trained on."""
    import shutil

    work, config = constructed
    copy = tmp_path / "fin"
    shutil.copytree(work / "fin", copy, ignore=shutil.ignore_patterns("explain"))
    shutil.copy(copy / "model_fold0.pt", copy / "model_fold1.pt")
    rc, err = _run(["explain", str(copy), "--config", str(config), "--yes"], capsys)
    assert rc == 1 and "model_fold1.pt: the model of fold 0, not 1" in err
    assert not (copy / "explain").exists()
    # the right fold number, but another training's standardization or event key
    for key, change in (
        ("standardization", lambda p: {**p, "mean": [m + 1 for m in p["mean"]]}),
        ("event_id", lambda p: "event_other"),
    ):
        shutil.copy(work / "fin" / "model_fold1.pt", copy / "model_fold1.pt")
        payload = torch.load(copy / "model_fold1.pt", weights_only=True)
        payload[key] = change(payload[key])
        torch.save(payload, copy / "model_fold1.pt")
        rc, err = _run(["explain", str(copy), "--config", str(config), "--yes"], capsys)
        assert rc == 1 and f"model_fold1.pt: the model of {key}" in err, err


def test_leftovers_of_other_outputs_are_left_alone(tmp_path):
    out = tmp_path / "x*"
    (tmp_path / ".xa.partial-99").mkdir()  # another output's run in progress
    (tmp_path / ".xb.old-99").mkdir()
    (tmp_path / ".x*.partial-7").mkdir()  # this output's: removed
    (tmp_path / ".x*.old-9.old-12").mkdir()  # output "x*.old-9"'s
    assert recover(out) == [f"{tmp_path / '.x*.partial-7'}: removed (left by a killed run)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".x*.old-9.old-12",
        ".xa.partial-99",
        ".xb.old-99",
    ]


def test_undefined_numbers_are_null_in_the_json(tmp_path):
    from fourtop.explain.outputs import write_json

    write_json(tmp_path, {"spearman": {"rho": float("nan"), "p_value": float("inf")}, "n": 1})
    assert json.loads((tmp_path / "explain.json").read_text()) == {
        "spearman": {"rho": None, "p_value": None},
        "n": 1,
    }
