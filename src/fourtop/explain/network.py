"""A fold's network as plain layers, for the attribution libraries.

:class:`~fourtop.train.export.ScoringNet` standardizes its inputs and normalizes the inputs of
its hidden layers (batch normalization, in evaluation mode: a fixed scale and shift per input).
Both are affine maps, so they fold into the next linear layer. :func:`logit_net` returns the
same computation as an ``nn.Sequential`` of ``Linear`` and activation modules only, on the
*raw* variables, returning the logit ``[N, 1]``: the module types that SHAP's
``DeepExplainer`` and captum's layer-wise relevance propagation know how to propagate
through, with attributions in the units of the raw variables.

Example::

    net = load_torch_model(folder / "model_fold0.pt")
    plain = logit_net(net)
    torch.testing.assert_close(plain(x).squeeze(1), net.logits(x))
"""

from __future__ import annotations

import torch
from torch import nn

from fourtop.train.export import ScoringNet

__all__ = ["ACTIVATIONS", "logit_net"]

#: the activation modules of :class:`ScoringNet`'s activations
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "softplus": nn.Softplus, "elu": nn.ELU}


@torch.no_grad()
def logit_net(net: ScoringNet, *, standardized: bool = False) -> nn.Sequential:
    """``net``'s logit as float32 ``Linear``/activation layers, output ``[N, 1]`` (see the
    module documentation); the folding is done in float64.

    Args:
        standardized: the layers take the standardized variables ``(x - mean) / std`` (the
            network's own input space) instead of the raw ones.
    """
    layers: list[nn.Module] = []
    # the elementwise affine map in front of the next linear layer: h -> scale * h + shift
    if standardized:
        scale = torch.ones(net.n_inputs, dtype=torch.float64)
        shift = torch.zeros(net.n_inputs, dtype=torch.float64)
    else:
        scale = (1.0 / net.std).double()
        shift = (-net.mean / net.std).double()
    last = len(net.layers) - 1
    for i, (layer, norm) in enumerate(zip(net.layers, net.norms, strict=True)):
        if isinstance(norm, nn.BatchNorm1d):
            s = norm.weight.double() / torch.sqrt(norm.running_var.double() + norm.eps)
            t = norm.bias.double() - norm.running_mean.double() * s
            scale, shift = scale * s, shift * s + t
        w, b = layer.weight.double(), layer.bias.double()
        linear = nn.Linear(layer.in_features, layer.out_features)
        linear.weight.copy_((w * scale).float())
        linear.bias.copy_((b + w @ shift).float())
        layers.append(linear)
        if i < last:
            layers.append(ACTIVATIONS[net.activation]())
        scale = torch.ones(layer.out_features, dtype=torch.float64)
        shift = torch.zeros(layer.out_features, dtype=torch.float64)
    return nn.Sequential(*layers).eval()
