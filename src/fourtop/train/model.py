"""The network, built from :class:`NetworkParams`, for one job or a batched seed family.

A family of ``M`` members (a seed and its subseeds) is one module whose parameters are stacked
along a leading member axis (weights ``[M, in, out]``, applied with ``torch.baddbmm``), so the whole
family trains with one forward and one backward pass per minibatch. Every member sees the seed's
input columns; a member's first-layer weights are multiplied by its 0/1 input mask, so an excluded
variable contributes nothing and its weights get exactly zero gradient (Adam leaves them alone).
A single job is the same module with ``M = 1``: a subseed trained alone with its seed's inputs
computes exactly what it computes inside its family.

Layout (the original network for the defaults)::

    Dense(n_in -> h0, act) -> [regulator -> Dense(h_{i-1} -> h_i, act)] * (hidden_layers - 1)
    -> Dense(h_last -> 1)  (one logit; sigmoid(logit) = P(signal))

Initialisation follows Keras: Glorot-normal (truncated at 2 sigma) for the first layer,
Glorot-uniform for the others, zero biases, batch normalization with gamma 1, beta 0, momentum
0.99 and epsilon 1e-3 (running variance unbiased, as PyTorch keeps it).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fourtop.train.params import NetworkParams

__all__ = ["FamilyNet"]

_BN_MOMENTUM = 0.99  # Keras convention: running = momentum * running + (1 - momentum) * batch
_BN_EPS = 1e-3
# std of a unit normal truncated at +-2 sigma (Keras rescales by it so the std is as asked)
_TRUNC_STD = 0.87962566103423978

_ACTIVATIONS = {"relu": F.relu, "softplus": F.softplus, "elu": F.elu}


class FamilyNet(nn.Module):
    """``M`` networks of the same shape trained side by side.

    Args:
        masks: ``[M, n_inputs]`` 0/1 tensor: which of the (seed's) input columns each member uses.
        params: architecture and regulators.
        generator: CPU generator for the initial weights; they are drawn once, for one network on
            all ``n_inputs`` inputs, and copied to every member.
        dropout_generator: generator (on the model's device) for dropout masks; one mask per layer
            and step is shared by all members, as a member trained alone would draw it.
    """

    def __init__(
        self,
        masks: Tensor,
        params: NetworkParams,
        *,
        generator: torch.Generator,
        dropout_generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        members, n_inputs = masks.shape
        sizes = [n_inputs, *params.layer_sizes(), 1]
        self.params = params
        self.members = members
        self.register_buffer("masks", masks.to(torch.float32))
        self._act = _ACTIVATIONS[params.activation]
        self._use_bn = params.regulator in ("normalization", "both")
        self._use_dropout = params.regulator in ("dropout", "both") and params.dropout_rate > 0
        self.dropout_generator = dropout_generator

        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.bn_weights = nn.ParameterList()
        self.bn_biases = nn.ParameterList()
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            w = torch.empty(fan_in, fan_out)
            scale = math.sqrt(2.0 / (fan_in + fan_out))
            if i == 0:
                std = scale / _TRUNC_STD
                nn.init.trunc_normal_(w, 0.0, std, -2 * std, 2 * std, generator=generator)
            else:
                limit = math.sqrt(3.0) * scale
                nn.init.uniform_(w, -limit, limit, generator=generator)
            self.weights.append(nn.Parameter(w.expand(members, -1, -1).clone()))
            self.biases.append(nn.Parameter(torch.zeros(members, 1, fan_out)))
            if self._use_bn and 0 < i < len(sizes) - 2:
                # a batch normalization in front of every hidden layer after the first
                self.bn_weights.append(nn.Parameter(torch.ones(members, 1, fan_in)))
                self.bn_biases.append(nn.Parameter(torch.zeros(members, 1, fan_in)))
                self.register_buffer(f"bn_mean{i}", torch.zeros(members, 1, fan_in))
                self.register_buffer(f"bn_var{i}", torch.ones(members, 1, fan_in))

    @property
    def uses_batch_norm(self) -> bool:
        """True if the network normalizes batches (the regulator is normalization or both)."""
        return self._use_bn

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[M, B]`` for standardized inputs ``x`` ``[B, n_inputs]``."""
        w0 = self.weights[0] * self.masks.unsqueeze(-1)
        h = torch.baddbmm(self.biases[0], x.expand(self.members, -1, -1), w0)
        h = self._act(h)
        last = len(self.weights) - 1
        for i in range(1, last):
            if self._use_bn:
                h = self._batch_norm(h, i)
            if self._use_dropout and self.training:
                h = self._dropout(h)
            h = self._act(torch.baddbmm(self.biases[i], h, self.weights[i]))
        return torch.baddbmm(self.biases[last], h, self.weights[last]).squeeze(-1)

    def _batch_norm(self, h: Tensor, i: int) -> Tensor:
        # one channel per (member, node): PyTorch's fused kernel, statistics per member
        members, batch, width = h.shape
        flat = h.transpose(0, 1).reshape(batch, members * width)
        flat = F.batch_norm(
            flat,
            getattr(self, f"bn_mean{i}").view(-1),  # views: updated in place
            getattr(self, f"bn_var{i}").view(-1),
            self.bn_weights[i - 1].reshape(-1),
            self.bn_biases[i - 1].reshape(-1),
            training=self.training,
            momentum=1 - _BN_MOMENTUM,
            eps=_BN_EPS,
        )
        return flat.view(batch, members, width).transpose(0, 1)

    def _dropout(self, h: Tensor) -> Tensor:
        keep = 1.0 - self.params.dropout_rate
        mask = torch.rand(h.shape[1:], device=h.device, generator=self.dropout_generator) < keep
        return h * (mask.to(h.dtype) / keep)

    def member_state(self, m: int, columns: list[int] | None = None) -> dict[str, Tensor]:
        """Weights of member ``m`` as plain CPU tensors (``Linear``-style ``[out, in]`` layout).

        ``columns`` keeps only those input columns of the first layer (the member's own inputs).
        """
        state: dict[str, Tensor] = {}
        bn = 0
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if self._use_bn and 0 < i < len(self.weights) - 1:
                state[f"layer{i}.bn.weight"] = self.bn_weights[bn][m, 0].detach().cpu().clone()
                state[f"layer{i}.bn.bias"] = self.bn_biases[bn][m, 0].detach().cpu().clone()
                for stat in ("mean", "var"):
                    buffer = getattr(self, f"bn_{stat}{i}")
                    state[f"layer{i}.bn.running_{stat}"] = buffer[m, 0].cpu().clone()
                bn += 1
            weight = w[m].detach()
            if i == 0 and columns is not None:
                weight = weight[columns]
            state[f"layer{i}.weight"] = weight.t().cpu().clone()
            state[f"layer{i}.bias"] = b[m, 0].detach().cpu().clone()
        return state

    def snapshot(self) -> list[Tensor]:
        """Copies of every parameter and buffer (for restoring the best epoch)."""
        return [t.detach().clone() for t in self._stacked()]

    def restore(self, snapshot: list[Tensor], members: Tensor) -> None:
        """Copy the ``members`` (bool ``[M]``) slices of ``snapshot`` back into the model."""
        with torch.no_grad():
            for t, saved in zip(self._stacked(), snapshot, strict=True):
                t[members] = saved[members]

    def _stacked(self) -> list[Tensor]:
        tensors = [*self.parameters()]
        tensors += [b for name, b in self.named_buffers() if name.startswith("bn_")]
        return tensors
