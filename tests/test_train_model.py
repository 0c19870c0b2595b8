"""The network built from NetworkParams, single and batched."""

from __future__ import annotations

import pytest
import torch

from fourtop.train.model import FamilyNet
from fourtop.train.params import NetworkParams


def build(masks, params=None, seed=0):
    return FamilyNet(
        torch.as_tensor(masks, dtype=torch.float32),
        params or NetworkParams(),
        generator=torch.Generator().manual_seed(seed),
    )


def test_default_network_is_the_original_architecture():
    net = build([[1] * 7])
    # Dense(7->100) -> [BN, Dense(100->100)] x 2 -> Dense(100->1 logit)
    assert [tuple(w.shape) for w in net.weights] == [
        (1, 7, 100),
        (1, 100, 100),
        (1, 100, 100),
        (1, 100, 1),
    ]
    assert [w.shape[-1] for w in net.bn_weights] == [100, 100]
    state = net.member_state(0)
    assert list(state) == [
        "layer0.weight",
        "layer0.bias",
        "layer1.bn.weight",
        "layer1.bn.bias",
        "layer1.bn.running_mean",
        "layer1.bn.running_var",
        "layer1.weight",
        "layer1.bias",
        "layer2.bn.weight",
        "layer2.bn.bias",
        "layer2.bn.running_mean",
        "layer2.bn.running_var",
        "layer2.weight",
        "layer2.bias",
        "layer3.weight",
        "layer3.bias",
    ]
    # Keras initialisation: truncated Glorot normal first layer (|w| <= 2 sigma), zero biases
    sigma = (2 / (7 + 100)) ** 0.5 / 0.87962566103423978
    assert float(net.weights[0].detach().abs().max()) <= 2 * sigma
    assert float(net.weights[0].detach().std()) == pytest.approx((2 / 107) ** 0.5, rel=0.15)
    assert all(float(b.detach().abs().sum()) == 0 for b in net.biases)
    assert net(torch.randn(16, 7)).shape == (1, 16)


@pytest.mark.parametrize(
    ("regulator", "n_bn", "dropout"),
    [("none", 0, False), ("dropout", 0, True), ("normalization", 2, False), ("both", 2, True)],
)
def test_regulators(regulator, n_bn, dropout):
    params = NetworkParams(regulator=regulator, dropout_rate=0.5)
    net = build([[1, 1, 1]], params)
    assert len(net.bn_weights) == n_bn
    x = torch.randn(64, 3)
    net.train()
    a, b = net(x), net(x)
    # dropout draws new masks each call in training; without it the outputs repeat
    assert (not torch.equal(a, b)) == dropout
    net.eval()
    assert torch.equal(net(x), net(x))


def test_dynamic_node_pattern_and_activations():
    params = NetworkParams(
        hidden_layers=3, initial_nodes=30, node_pattern="dynamic", activation="softplus"
    )
    net = build([[1, 1]], params)
    assert [w.shape[-1] for w in net.weights] == [30, 20, 10, 1]
    x = torch.randn(8, 2)
    elu = build([[1, 1]], NetworkParams(activation="elu"))
    relu = build([[1, 1]], NetworkParams(activation="relu"))
    assert not torch.allclose(elu(x), relu(x))  # same init, different activation


def test_family_members_share_initial_weights_and_excluded_inputs_do_nothing():
    masks = [[1, 1, 1], [0, 1, 1], [1, 0, 1], [1, 1, 0]]
    net = build(masks, seed=3)
    alone = build([[1, 1, 1]], seed=3)
    for stacked, single in zip(net.parameters(), alone.parameters(), strict=True):
        for m in range(4):
            assert torch.equal(stacked[m], single[0])
    # member 1 ignores input 0 completely: its output does not change, and no gradient flows
    x = torch.randn(32, 3)
    x2 = x.clone()
    x2[:, 0] += 5.0
    net.eval()
    out, out2 = net(x), net(x2)
    assert torch.equal(out[1], out2[1])
    assert not torch.allclose(out[0], out2[0])
    net.train()
    net(x).sum().backward()
    grad = net.weights[0].grad
    assert float(grad[1, 0].abs().sum()) == 0 and float(grad[2, 1].abs().sum()) == 0
    assert float(grad[0].abs().min(dim=1).values.sum()) > 0
    # member_state keeps the member's own columns only
    assert net.member_state(1, columns=[1, 2])["layer0.weight"].shape == (100, 2)
