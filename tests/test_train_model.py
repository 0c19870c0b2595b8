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


def _reference_logits(net: FamilyNet, x: torch.Tensor, training: bool) -> tuple[torch.Tensor, dict]:
    """Member by member with PyTorch's own layers' functions (F.linear, F.batch_norm, the
    activation): what the batched, normalization-folded model must compute."""
    import torch.nn.functional as F

    act = {"relu": F.relu, "elu": F.elu, "softplus": F.softplus}[net.params.activation]
    outs, running = [], {}
    last = len(net.weights) - 1
    for m in range(net.members):
        h = x
        for i in range(last + 1):
            w = net.weights[i][m] * (net.masks[m].unsqueeze(-1) if i == 0 else 1)
            if 0 < i < last and net.uses_batch_norm:
                mean = getattr(net, f"bn_mean{i}")[m, 0].clone()
                var = getattr(net, f"bn_var{i}")[m, 0].clone()
                h = F.batch_norm(
                    h, mean, var, net.bn_weights[i - 1][m, 0], net.bn_biases[i - 1][m, 0],
                    training=training, momentum=0.01, eps=1e-3,
                )  # fmt: skip
                running[(i, m)] = (mean, var)
            h = F.linear(h, w.t(), net.biases[i][m, 0])
            if i < last:
                h = act(h)
        outs.append(h.squeeze(-1))
    return torch.stack(outs), running


@pytest.mark.parametrize("activation", ["relu", "elu", "softplus"])
@pytest.mark.parametrize("training", [True, False])
def test_the_folded_batch_normalization_is_a_batch_normalization(activation, training):
    """The family folds each batch normalization into the next layer and writes its backward
    by hand: logits, every gradient and the running statistics must be those of PyTorch's
    batch_norm applied member by member (double precision, so only a wrong formula fails)."""
    params = NetworkParams(activation=activation, initial_nodes=7)
    net = build([[1, 1, 1, 1], [0, 1, 1, 1], [1, 1, 0, 1]], params, seed=4).double()
    with torch.no_grad():  # statistics and affine parameters away from their initial values
        for i in (1, 2):
            getattr(net, f"bn_mean{i}").normal_(0, 0.3)
            getattr(net, f"bn_var{i}").uniform_(0.5, 2.0)
        for p in [*net.bn_weights, *net.bn_biases]:
            p.add_(torch.randn_like(p) * 0.2)
    x = torch.randn(64, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    probe = torch.randn(3, 64, dtype=torch.float64)
    expected, running = _reference_logits(net, x, training)
    (expected * probe).sum().backward()
    ref_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    net.train(training)
    got = net(x)
    (got * probe).sum().backward()
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    for p, ref in zip(net.parameters(), ref_grads, strict=True):
        torch.testing.assert_close(p.grad, ref, rtol=1e-9, atol=1e-12)
    for (i, m), (mean, var) in running.items():
        torch.testing.assert_close(getattr(net, f"bn_mean{i}")[m, 0], mean)
        torch.testing.assert_close(getattr(net, f"bn_var{i}")[m, 0], var)


@pytest.mark.parametrize("relu", [True, False])
def test_the_folded_layer_passes_gradcheck(relu):
    """The hand-written backward of the normalization-folded layer (ReLU fused or not)."""
    from fourtop.train.model import _NormLinear

    g = torch.Generator().manual_seed(2)

    def t(*shape):
        return torch.randn(*shape, dtype=torch.float64, generator=g).requires_grad_()

    z = t(2, 9, 5).detach()
    z = (z.sign() * (z.abs() + 0.1)).requires_grad_()  # away from the ReLU's kink
    gamma = (t(2, 1, 5).detach() * 0.1 + 1).requires_grad_()
    inputs = (z, t(2, 5, 3), t(2, 1, 3), gamma, t(2, 1, 5))
    assert torch.autograd.gradcheck(lambda *a: _NormLinear.apply(*a, relu, None)[0], inputs)
