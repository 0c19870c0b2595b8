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
from typing import Any

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


def _batch_stats(h: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and biased variance over the batch axis of ``[M, B, width]`` activations.

    Two plain reductions: several times faster on the CPU than ``var_mean``'s Welford pass over
    the middle axis. Post-activation values are O(1), so ``E[h^2] - E[h]^2`` loses nothing that
    matters in float32; the clamp guards the rounding of a near-constant node.
    """
    n = h.shape[1]
    mean = h.sum(1, keepdim=True) / n
    var = (torch.square(h).sum(1, keepdim=True) / n - torch.square(mean)).clamp_(min=0.0)
    return mean, var


def _bmm(a: Tensor, b: Tensor, dtype: torch.dtype | None) -> Tensor:
    """``a @ b`` per member; with ``dtype`` (bfloat16), the product in that precision (inputs
    rounded to it, accumulation as the hardware does it) and the result back in float32.
    Autograd differentiates through the casts, so the backward's products use it too."""
    if dtype is None:
        return torch.bmm(a, b)
    return torch.bmm(a.to(dtype), b.to(dtype)).to(a.dtype)


class _BatchStats(torch.autograd.Function):
    """:func:`_batch_stats` with a one-pass backward, ``dh = dmean / B + 2 dvar (h - mean) / B``
    as one ``addcmul`` (autograd's own formula takes several passes over the activations)."""

    @staticmethod
    def forward(ctx: Any, h: Tensor) -> tuple[Tensor, Tensor]:
        mean, var = _batch_stats(h)
        ctx.save_for_backward(h, mean)
        return mean, var

    @staticmethod
    def backward(ctx: Any, grad_mean: Tensor | None, grad_var: Tensor | None) -> Tensor:
        h, mean = ctx.saved_tensors
        slope, offset = _stats_grad(h.shape[1], mean, grad_mean, grad_var)
        return torch.addcmul(offset, h, slope)


def _stats_grad(
    n: int, mean: Tensor, grad_mean: Tensor | None, grad_var: Tensor | None
) -> tuple[Tensor, Tensor]:
    """``dh = h * slope + offset``: the gradient reaching the activations through their batch
    mean and variance."""
    if grad_var is None:
        grad_var = torch.zeros_like(mean)
    if grad_mean is None:
        grad_mean = torch.zeros_like(mean)
    slope = grad_var * (2.0 / n)
    return slope, grad_mean / n - slope * mean


class _NormLinear(torch.autograd.Function):
    """``batch_norm(act(z)) @ W + b`` in training mode, with the normalization folded into the
    layer and the bias into the matrix product.

    A batch normalization is an affine map per (member, node), ``h * scale + shift`` with
    ``scale = gamma / sqrt(var + eps)`` and ``shift = beta - mean * scale``, so the layer after it
    is ``h @ W' + b'`` with ``W' = scale^T * W`` and ``b' = b + shift @ W``: the normalized
    activations are never materialized. The activations ``h`` are written with a column of
    ones (``[h, 1] @ [W'; b']``), so the bias costs no pass of its own and its gradient comes
    out of the weights' matrix product. With ``relu``, ``z`` is the previous layer's
    pre-activation and the ReLU (and its backward) happen here; else ``z`` is already
    activated. The backward is written out (checked against autograd in double precision by
    the tests): the input's gradient is one matrix product plus two in-place passes. Also
    returns the batch mean and variance (for the running statistics; not differentiable).
    """

    @staticmethod
    def forward(
        ctx: Any,
        z: Tensor,
        weight: Tensor,
        bias: Tensor,
        gamma: Tensor,
        beta: Tensor,
        relu: bool,
        matmul_dtype: torch.dtype | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        members, batch, width = z.shape
        h_ones = z.new_empty(members, batch, width + 1)
        h = h_ones[..., :width]
        if relu:
            torch.clamp_min(z, 0.0, out=h)
        else:
            h.copy_(z)
        h_ones[..., width] = 1.0
        mean, var = _batch_stats(h)
        rstd = torch.rsqrt(var + _BN_EPS)
        scale = gamma * rstd
        shift = beta - mean * scale
        folded = torch.cat(
            [weight * scale.transpose(1, 2), torch.baddbmm(bias, shift, weight)], dim=1
        )
        out = _bmm(h_ones, folded, matmul_dtype)
        ctx.save_for_backward(h_ones, weight, folded, mean, rstd, gamma, scale, shift)
        ctx.relu = relu
        ctx.matmul_dtype = matmul_dtype
        ctx.mark_non_differentiable(mean, var)
        return out, mean, var

    @staticmethod
    def backward(
        ctx: Any, grad_out: Tensor, _grad_mean: Tensor | None, _grad_var: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, None, None]:
        h_ones, weight, folded, mean, rstd, gamma, scale, shift = ctx.saved_tensors
        width = h_ones.shape[2] - 1
        h = h_ones[..., :width]
        grad_both = _bmm(h_ones.transpose(1, 2), grad_out, ctx.matmul_dtype)  # [M, in+1, out]
        grad_folded, grad_bias = grad_both[:, :width], grad_both[:, width:]
        grad_shift = torch.bmm(grad_bias, weight.transpose(1, 2))  # [M, 1, in]
        grad_scale = (grad_folded * weight).sum(2, keepdim=True).transpose(1, 2)
        grad_weight = torch.baddbmm(
            grad_folded * scale.transpose(1, 2), shift.transpose(1, 2), grad_bias
        )
        grad_scale = grad_scale - grad_shift * mean  # scale also enters shift
        grad_gamma = grad_scale * rstd
        grad_mean = -grad_shift * scale
        grad_var = grad_scale * gamma * (-0.5) * rstd**3
        slope, offset = _stats_grad(h.shape[1], mean, grad_mean, grad_var)
        if ctx.matmul_dtype is None:
            grad_h = torch.baddbmm(offset, grad_out, folded[:, :width].transpose(1, 2))
        else:
            grad_h = _bmm(grad_out, folded[:, :width].transpose(1, 2), ctx.matmul_dtype)
            grad_h += offset
        grad_h.addcmul_(h, slope)
        if ctx.relu:  # h > 0 exactly where z > 0
            torch.ops.aten.threshold_backward.grad_input(grad_h, h, 0.0, grad_input=grad_h)
        return grad_h, grad_weight, grad_bias.contiguous(), grad_gamma, grad_shift, None, None


class FamilyNet(nn.Module):
    """``M`` networks of the same shape trained side by side.

    Args:
        masks: ``[M, n_inputs]`` 0/1 tensor: which of the (seed's) input columns each member uses.
        params: architecture and regulators.
        generator: CPU generator for the initial weights; they are drawn once, for one network on
            all ``n_inputs`` inputs, and copied to every member.
        dropout_generator: generator (on the model's device) for dropout masks; one mask per layer
            and step is shared by all members, as a member trained alone would draw it.
        matmul_dtype: None (float32 throughout) or ``torch.bfloat16``: the precision of the large
            matrix products, forward and backward; everything else stays float32.
    """

    def __init__(
        self,
        masks: Tensor,
        params: NetworkParams,
        *,
        generator: torch.Generator,
        dropout_generator: torch.Generator | None = None,
        matmul_dtype: torch.dtype | None = None,
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
        self.matmul_dtype = matmul_dtype

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
        """Logits ``[M, B]`` for standardized inputs ``x`` ``[B, n_inputs]``.

        A batch normalization is an affine map per (member, node), ``h * scale + shift``, so
        it is folded into the next layer's weights (``W' = scale^T * W``, ``b' = b + shift W``)
        instead of being applied to the ``[M, B, width]`` activations: the normalized
        activations are never materialized, only their statistics are computed (one pass),
        and autograd differentiates through the statistics as through a batch normalization.
        """
        # the first layer's bias enters the matrix product as a column of ones
        ones = x.new_ones(x.shape[0], 1)
        w0 = torch.cat([self.weights[0] * self.masks.unsqueeze(-1), self.biases[0]], dim=1)
        z = _bmm(torch.cat([x, ones], dim=1).expand(self.members, -1, -1), w0, self.matmul_dtype)
        relu = self.params.activation == "relu"
        last = len(self.weights) - 1
        for i in range(1, last + 1):
            weight, bias = self.weights[i], self.biases[i]
            hidden = i < last
            dropout = self._use_dropout and self.training and hidden
            if self._use_bn and hidden and self.training and not dropout:
                gamma, beta = self.bn_weights[i - 1], self.bn_biases[i - 1]
                n = z.shape[1]
                z, mean, var = _NormLinear.apply(
                    z if relu else self._act(z), weight, bias, gamma, beta, relu, self.matmul_dtype
                )
                self._update_running(i, mean, var, n)
                continue
            h = self._activate(z)
            if self._use_bn and hidden:
                scale, shift = self._batch_norm_affine(h, i)
                if dropout:  # the mask sits between the normalization and the layer
                    h = torch.addcmul(shift, h, scale)
                else:  # evaluation: fold the running statistics into the layer
                    bias = torch.baddbmm(bias, shift, weight)
                    weight = weight * scale.transpose(1, 2)
            if dropout:
                h = self._dropout(h)
            if self.matmul_dtype is None:
                z = torch.baddbmm(bias, h, weight)
            else:
                z = _bmm(h, weight, self.matmul_dtype) + bias
        return z.squeeze(-1)

    def _activate(self, h: Tensor) -> Tensor:
        # in place where autograd allows it (the matrix product's output is not saved)
        if self.params.activation == "relu":
            return h.relu_()
        if self.params.activation == "elu":
            return F.elu(h, inplace=True)
        return self._act(h)

    def _batch_norm_affine(self, h: Tensor, i: int) -> tuple[Tensor, Tensor]:
        """``scale`` and ``shift`` ``[M, 1, width]`` of the batch normalization in front of
        layer ``i``: from the batch statistics while training, else the running ones."""
        if self.training:
            mean, var = _BatchStats.apply(h)
            self._update_running(i, mean.detach(), var.detach(), h.shape[1])
        else:
            mean, var = getattr(self, f"bn_mean{i}"), getattr(self, f"bn_var{i}")
        scale = self.bn_weights[i - 1] * torch.rsqrt(var + _BN_EPS)
        return scale, self.bn_biases[i - 1] - mean * scale

    @torch.no_grad()
    def _update_running(self, i: int, mean: Tensor, var: Tensor, n: int) -> None:
        """Keras's update, ``running = momentum * running + (1 - momentum) * batch``, with the
        unbiased batch variance (as PyTorch keeps it)."""
        getattr(self, f"bn_mean{i}").lerp_(mean, 1 - _BN_MOMENTUM)
        getattr(self, f"bn_var{i}").lerp_(var * (n / max(n - 1, 1)), 1 - _BN_MOMENTUM)

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
