"""A trained network as a portable model: raw inputs in, signal probability out.

:class:`ScoringNet` is one member of a trained :class:`~fourtop.train.model.FamilyNet` as a
plain PyTorch module that takes the *raw* input variables (float32 ``[N, n_vars]``, in the
model's variable order), standardizes them inside the model and returns ``sigmoid(logit)``,
the signal probability, shape ``[N]``. :func:`write_onnx` writes the same computation as an
ONNX graph (built node by node with :mod:`onnx.helper`), which is what a C++ analysis runs
with ONNX Runtime (CMSSW's ``cms::Ort``): input ``x`` float32 ``[N, n_vars]``, output
``score`` float32 ``[N]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fourtop.errors import TrainingError
from fourtop.train.params import NetworkParams

__all__ = ["ONNX_INPUT", "ONNX_OPSET", "ONNX_OUTPUT", "ScoringNet", "onnx_bytes"]

#: names of the ONNX graph's input and output
ONNX_INPUT = "x"
ONNX_OUTPUT = "score"
#: the ONNX opset the graph uses (ONNX Runtime >= 1.8 and CMSSW's run it)
ONNX_OPSET = 17
_BN_EPS = 1e-3  # as train.model
_CHUNK = 65_536


class ScoringNet(nn.Module):
    """One trained network: raw inputs ``[N, n_vars]`` -> signal probability ``[N]``.

    Args:
        state: the member's weights (:meth:`FamilyNet.member_state` layout: ``layer<i>.weight``
            ``[out, in]``, ``layer<i>.bias``, ``layer<i>.bn.*`` in front of hidden layers).
        params: the network's hyperparameters (activation, regulator).
        mean, std: the input standardization, one value per input variable.
    """

    def __init__(
        self,
        state: Mapping[str, Tensor],
        params: NetworkParams | Mapping[str, Any],
        mean: Sequence[float],
        std: Sequence[float],
    ) -> None:
        super().__init__()
        if not isinstance(params, NetworkParams):
            params = NetworkParams.from_dict(params)
        self.activation = params.activation
        n_layers = 1 + max(int(k.split(".")[0][5:]) for k in state if k.startswith("layer"))
        self.layers = nn.ModuleList()
        self.norms = nn.ModuleList()
        for i in range(n_layers):
            w, b = state[f"layer{i}.weight"], state[f"layer{i}.bias"]
            linear = nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                linear.weight.copy_(w)
                linear.bias.copy_(b)
            self.layers.append(linear)
            if f"layer{i}.bn.weight" in state:
                bn = nn.BatchNorm1d(w.shape[1], eps=_BN_EPS)
                with torch.no_grad():
                    bn.weight.copy_(state[f"layer{i}.bn.weight"])
                    bn.bias.copy_(state[f"layer{i}.bn.bias"])
                    bn.running_mean.copy_(state[f"layer{i}.bn.running_mean"])
                    bn.running_var.copy_(state[f"layer{i}.bn.running_var"])
                self.norms.append(bn)
            else:
                self.norms.append(nn.Identity())
        n_in = self.layers[0].in_features
        if len(mean) != n_in or len(std) != n_in:
            raise TrainingError(
                f"the standardization has {len(mean)} means and {len(std)} standard deviations "
                f"for a network of {n_in} inputs"
            )
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32))
        self.eval()

    @property
    def n_inputs(self) -> int:
        """The number of input variables."""
        return self.layers[0].in_features

    def _act(self, h: Tensor) -> Tensor:
        if self.activation == "relu":
            return F.relu(h)
        if self.activation == "softplus":
            return F.softplus(h)
        return F.elu(h)

    def logits(self, x: Tensor) -> Tensor:
        """The network's logit for raw inputs ``x`` ``[N, n_inputs]``: shape ``[N]``."""
        h = (x - self.mean) / self.std
        last = len(self.layers) - 1
        for i, (layer, norm) in enumerate(zip(self.layers, self.norms, strict=True)):
            h = layer(norm(h))
            if i < last:
                h = self._act(h)
        return h.squeeze(-1)

    def forward(self, x: Tensor) -> Tensor:
        """The signal probability for raw inputs ``x`` ``[N, n_inputs]``: shape ``[N]``."""
        return torch.sigmoid(self.logits(x))

    @torch.no_grad()
    def score(self, x: np.ndarray) -> np.ndarray:
        """:meth:`forward` on a numpy array, in chunks: float32 ``[N]``."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = [self(torch.from_numpy(x[i : i + _CHUNK])) for i in range(0, len(x), _CHUNK)]
        return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)

    def onnx_model(self, variables: Sequence[str], metadata: Mapping[str, str] | None = None):
        """The network as an :class:`onnx.ModelProto` (see the module documentation)."""
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        if len(variables) != self.n_inputs:
            raise TrainingError(
                f"{len(variables)} variable names for a network of {self.n_inputs} inputs"
            )
        init: list[Any] = []
        nodes: list[Any] = []

        def const(name: str, t: Tensor | np.ndarray) -> str:
            array = t.detach().cpu().numpy() if isinstance(t, Tensor) else t
            init.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
            return name

        nodes.append(helper.make_node("Sub", [ONNX_INPUT, const("mean", self.mean)], ["centred"]))
        nodes.append(helper.make_node("Div", ["centred", const("std", self.std)], ["h0"]))
        h = "h0"
        last = len(self.layers) - 1
        for i, (layer, norm) in enumerate(zip(self.layers, self.norms, strict=True)):
            if isinstance(norm, nn.BatchNorm1d):
                inputs = [h] + [
                    const(f"bn{i}_{n}", getattr(norm, n))
                    for n in ("weight", "bias", "running_mean", "running_var")
                ]
                nodes.append(
                    helper.make_node(
                        "BatchNormalization", inputs, [f"bn{i}"], epsilon=float(norm.eps)
                    )
                )
                h = f"bn{i}"
            weight = const(f"w{i}", layer.weight.t().contiguous())
            nodes.append(helper.make_node("MatMul", [h, weight], [f"mm{i}"]))
            nodes.append(helper.make_node("Add", [f"mm{i}", const(f"b{i}", layer.bias)], [f"z{i}"]))
            h = f"z{i}"
            if i < last:
                op = {"relu": "Relu", "softplus": "Softplus", "elu": "Elu"}[self.activation]
                attrs = {"alpha": 1.0} if op == "Elu" else {}
                nodes.append(helper.make_node(op, [h], [f"a{i}"], **attrs))
                h = f"a{i}"
        nodes.append(helper.make_node("Sigmoid", [h], ["p"]))
        init.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "squeeze_axes"))
        nodes.append(helper.make_node("Squeeze", ["p", "squeeze_axes"], [ONNX_OUTPUT]))
        graph = helper.make_graph(
            nodes,
            "fourtop_dnn",
            [helper.make_tensor_value_info(ONNX_INPUT, TensorProto.FLOAT, ["N", self.n_inputs])],
            [helper.make_tensor_value_info(ONNX_OUTPUT, TensorProto.FLOAT, ["N"])],
            init,
        )
        model = helper.make_model(
            graph,
            producer_name="fourtop",
            opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
        )
        model.ir_version = min(model.ir_version, 8)  # readable by older ONNX Runtimes
        meta = {"variables": ",".join(variables), **(metadata or {})}
        helper.set_model_props(model, {str(k): str(v) for k, v in meta.items()})
        onnx.checker.check_model(model)
        return model


def onnx_bytes(
    net: ScoringNet, variables: Sequence[str], metadata: Mapping[str, str] | None = None
) -> bytes:
    """The ONNX file's bytes of ``net`` (see :meth:`ScoringNet.onnx_model`)."""
    return net.onnx_model(variables, metadata).SerializeToString()
