"""Training single networks and seed families: equivalence, determinism, data handling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fourtop.errors import TrainingError, VariableError
from fourtop.train import fit
from fourtop.train.fit import train_family, train_members, train_network
from fourtop.train.params import NetworkParams
from train_data import make_arrays

SMALL = NetworkParams(hidden_layers=2, initial_nodes=16, batch_size=64, epochs=1)
SEED = ["var0", "var1", "var2", "var3"]
MEMBERS = [SEED] + [[v for v in SEED if v != x] for x in SEED]


@pytest.fixture(scope="module")
def data():
    return make_arrays(n_vars=6, n_events=300, seed=1)


def assert_same_state(a, b, atol=1e-6):
    assert list(a) == list(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=atol, rtol=1e-5, msg=key)


@pytest.mark.parametrize(
    "params",
    [
        SMALL,
        NetworkParams(
            hidden_layers=3,
            initial_nodes=12,
            batch_size=50,
            epochs=2,
            regulator="both",
            activation="elu",
        ),
        NetworkParams(
            hidden_layers=2,
            initial_nodes=8,
            batch_size=100,
            epochs=6,
            patience=1,
            node_pattern="dynamic",
            regulator="dropout",
        ),
    ],
    ids=["default-like", "both-regulators", "early-stopping"],
)
def test_member_trains_exactly_as_alone(data, params):
    """The first optimizer steps (and the result) of a family member equal the job alone."""
    family = train_members(data, SEED, MEMBERS, params, random_seed=7)
    for member, result in zip(MEMBERS, family, strict=True):
        alone = train_network(data, member, params, random_seed=7, init_variables=SEED)
        assert_same_state(result.state_dict, alone.state_dict)
        assert result.roc_integral == pytest.approx(alone.roc_integral, abs=1e-6)
        assert result.epochs_trained == alone.epochs_trained
        assert result.history["loss"] == pytest.approx(alone.history["loss"], rel=1e-5)


def test_identical_members_see_the_same_batches(data):
    """Two members with the same inputs end up identical: same init, batches and dropout."""
    params = NetworkParams(
        hidden_layers=2, initial_nodes=8, batch_size=32, epochs=1, regulator="both"
    )
    a, b, c = train_members(data, SEED, [SEED, SEED, SEED[:2]], params, random_seed=4)
    assert_same_state(a.state_dict, b.state_dict, atol=0)
    assert a.roc_integral == b.roc_integral != c.roc_integral


def test_reproducible_for_a_random_seed(data):
    first = train_network(data, SEED, SMALL, random_seed=11)
    again = train_network(data, SEED, SMALL, random_seed=11)
    other = train_network(data, SEED, SMALL, random_seed=12)
    assert first.roc_integral == again.roc_integral
    assert_same_state(first.state_dict, again.state_dict, atol=0)
    assert other.roc_integral != first.roc_integral
    assert train_family(data, SEED, MEMBERS, SMALL, random_seed=3) == train_family(
        data, SEED, MEMBERS, SMALL, random_seed=3
    )


def test_subseed_alone_without_seed_init_starts_differently(data):
    """init_variables is what makes a lone subseed match its family (fan-in and columns)."""
    member = MEMBERS[1]
    in_family = train_members(data, SEED, [member], SMALL, random_seed=5)[0]
    own_init = train_network(data, member, SMALL, random_seed=5)
    assert in_family.roc_integral != own_init.roc_integral


def test_learns_and_reports(data):
    params = NetworkParams(hidden_layers=2, initial_nodes=16, batch_size=32, epochs=3)
    result = train_network(data, ["var0", "var1"], params, random_seed=0)
    assert result.roc_integral > 0.7  # var0/var1 separate the classes (mean shift 1.0, 0.8)
    assert len(result.history["loss"]) == 3 and result.epochs_trained == 3
    assert result.n_train + result.n_test == 600
    assert result.device == "cpu"
    noise = train_network(data, ["var5"], params, random_seed=0)  # no separation at all
    assert abs(noise.roc_integral - 0.5) < 0.1


def test_early_stopping_keeps_the_best_epoch(data):
    params = NetworkParams(
        hidden_layers=2, initial_nodes=32, batch_size=16, epochs=40, patience=2, learning_rate=0.01
    )
    result = train_network(data, SEED, params, random_seed=2)
    val = result.history["val_loss"]
    assert len(val) == result.epochs_trained < 40
    best = int(np.argmin(val))
    assert best == len(val) - 1 - params.patience  # stopped `patience` epochs after the best


def test_split_balancing_and_negative_weights(data):
    sets, mean, std = fit._prepare(data, SEED, np.random.default_rng(0), validation=False)
    train = sets["train"]
    x, y, w = train.x(slice(None)), train.y, train.w
    assert mean.shape == std.shape == (len(SEED),) and (std > 0).all()
    assert float(w[y == 1].sum()) == pytest.approx(float(w[y == 0].sum()), rel=1e-5)
    assert float(w.min()) > 0  # training uses |w|
    assert float(x.mean(0).abs().max()) < 1e-5  # standardized on the training half
    yt, wt = sets["test"].y, sets["test"].w
    assert float(wt.min()) < 0  # the test half keeps signed weights for the ROC integral
    assert len(yt) == 300  # a half of each class
    val = fit._prepare(data, SEED, np.random.default_rng(0), validation=True)[0]["validation"]
    assert len(val.y) == 2 * int(150 * fit.VALIDATION_FRACTION)


@pytest.mark.parametrize("patience", [None, 1])
def test_gathered_per_minibatch_trains_exactly_as_the_copy(data, monkeypatch, patience):
    """Large sets are not copied but gathered from the (mapped) class arrays per minibatch and
    evaluation chunk: the same values, so the same network and the same ROC integral."""
    params = NetworkParams(
        hidden_layers=2, initial_nodes=8, epochs=3, batch_size=64, patience=patience
    )
    members = [SEED, SEED[1:], SEED[:-1]]
    dense = fit.train_members(data, SEED, members, params, random_seed=5)
    monkeypatch.setattr(fit, "_DENSE_BYTES", 0)
    sets = fit._prepare(data, SEED, np.random.default_rng(0), validation=True)[0]
    assert all(s.dense is None for s in sets.values())  # nothing copied
    gathered = fit.train_members(data, SEED, members, params, random_seed=5)
    for a, b in zip(dense, gathered, strict=True):
        assert a.roc_integral == b.roc_integral and a.history == b.history
        for key, value in a.state_dict.items():
            assert torch.equal(value, b.state_dict[key]), key


def test_result_carries_the_input_standardization(data):
    params = NetworkParams(hidden_layers=1, initial_nodes=4, epochs=1, batch_size=128)
    result = fit.train_network(data, SEED[:2], params, random_seed=1)
    std = result.standardization
    assert std is not None and len(std["mean"]) == len(std["std"]) == 2
    raw = np.concatenate([data.signal, data.background])[:, data.columns(SEED[:2])]
    # the training half's mean is close to the whole sample's
    assert np.allclose(std["mean"], raw.mean(0), atol=0.3 * raw.std(0).max())


def test_diverged_member_fails_alone(data):
    params = NetworkParams(
        hidden_layers=2,
        initial_nodes=8,
        batch_size=64,
        epochs=1,
        learning_rate=1e30,
        regulator="none",
    )
    with pytest.raises(TrainingError, match="training diverged"):
        train_network(data, SEED, params, random_seed=0)


@pytest.mark.parametrize(
    ("seed_vars", "members", "error", "message"),
    [
        (SEED, [["var0", "nope"]], TrainingError, "variable 'nope', which is not among"),
        (SEED, [[]], TrainingError, "family member 0 has no input variables"),
        ([], [["var0"]], TrainingError, "the seed is empty"),
        (["var0", "var0"], [["var0"]], TrainingError, "listed twice"),
        (SEED, [], TrainingError, "at least one member"),
        (["var0", "vra1"], [["var0"]], VariableError, "vra1"),
    ],
)
def test_bad_variables(data, seed_vars, members, error, message):
    with pytest.raises(error, match=message):
        train_members(data, seed_vars, members, SMALL)


def test_bad_data_and_settings(data):
    tiny = make_arrays(n_vars=2, n_events=1)
    with pytest.raises(TrainingError, match="only 1 background events: too few"):
        train_network(tiny, ["var0"], SMALL)
    broken = make_arrays(n_vars=2, n_events=50)
    broken.signal[3, 1] = math.nan
    with pytest.raises(TrainingError, match="signal variable 'var1' has NaN"):
        train_network(broken, ["var0", "var1"], SMALL)
    with pytest.raises(TrainingError, match="random seed -1"):
        train_network(data, SEED, SMALL, random_seed=-1)
    with pytest.raises(TrainingError, match="no CUDA device"):
        train_network(data, SEED, SMALL, device="cuda")
    with pytest.raises(TrainingError, match="device 'gpu'"):
        train_network(data, SEED, SMALL, device="gpu")


def _weighted(data, signal_weight=None, background_weight=None):
    from dataclasses import replace

    return replace(
        data,
        signal_weight=data.signal_weight if signal_weight is None else signal_weight,
        background_weight=data.background_weight
        if background_weight is None
        else background_weight,
    )


@pytest.mark.parametrize(
    ("which", "make", "message"),
    [
        ("signal", np.zeros_like, "the weights of the signal are all zero: no event to train on"),
        ("background", lambda w: -np.abs(w), "the weights of the background are all negative"),
        ("signal", lambda w: np.where(np.arange(len(w)) % 2, 0, -np.abs(w)),
         "the weights of the signal are all negative or zero"),
        ("background", lambda w: np.where(np.arange(len(w)) < 30, 1.0, -1.0).astype(np.float32),
         r"the weights of the background sum to -240 \(<= 0\)"),
        ("signal", lambda w: np.full_like(w, np.inf), "signal event weights contain NaN"),
    ],
)  # fmt: skip
def test_bad_class_weights_fail_before_training(data, monkeypatch, which, make, message):
    """Not 'training diverged' after training: the class and the reason, before any step."""
    key = f"{which}_weight"
    bad = _weighted(data, **{key: make(getattr(data, key))})
    monkeypatch.setattr(fit, "FamilyNet", None)  # building a model would fail: never reached
    with pytest.raises(TrainingError, match=message) as info:
        train_network(bad, SEED, SMALL, random_seed=0)
    assert "diverged" not in str(info.value)


def test_test_half_with_negative_total_fails_before_training(data, monkeypatch):
    """A class whose signed weights sum to > 0 but whose test half sums to <= 0."""
    w = np.ones(300, np.float32)
    order = np.random.default_rng(np.random.SeedSequence(0).spawn(4)[0]).permutation(300)
    w[order[:150]] = -1.0  # the first permutation of the background is its test half
    w[order[:150][:1]] = -0.5
    bad = _weighted(data, background_weight=w)
    assert bad.background_weight.sum() > 0
    monkeypatch.setattr(fit, "FamilyNet", None)
    with pytest.raises(TrainingError, match=r"the background weights of the test half \(150 "
                       r"events\) sum to -149.5 \(<= 0\): the ROC integral needs"):  # fmt: skip
        train_network(bad, SEED, SMALL, random_seed=0)


def test_constant_unit_weights_train(data):
    ones = _weighted(data, np.ones(300, np.float32), np.ones(300, np.float32))
    result = train_network(ones, SEED, SMALL, random_seed=0)
    assert 0.5 < result.roc_integral <= 1.0


def test_bf16_products_train_close_to_fp32_and_bad_precisions_are_refused(data):
    """The reduced-precision path of the benchmarks: bfloat16 matrix products give a network
    of about the same quality (not the same bits); an unknown precision, or tf32 off CUDA,
    is a one-line TrainingError."""
    members = [data.variables, data.variables[1:]]
    fp32 = train_members(data, data.variables, members, NetworkParams(epochs=2), random_seed=3)
    bf16 = train_members(
        data, data.variables, members, NetworkParams(epochs=2), random_seed=3, precision="bf16"
    )
    for a, b in zip(fp32, bf16, strict=True):
        assert a.error is None and b.error is None
        assert a.roc_integral != b.roc_integral  # the products really were rounded
        assert abs(a.roc_integral - b.roc_integral) < 0.02
    for precision, message in (("fp16", "expected one of fp32, bf16, tf32"),
                               ("tf32", "tf32 needs an NVIDIA GPU")):  # fmt: skip
        with pytest.raises(TrainingError, match=message) as err:
            train_members(data, data.variables, members, precision=precision, device="cpu")
        assert "\n" not in str(err.value)
