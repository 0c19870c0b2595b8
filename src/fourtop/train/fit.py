"""Training one network, or a seed family as one batched model, and measuring its ROC integral.

Every job splits each class at random into a training half and a test half, standardizes the
inputs with the training half's mean and standard deviation, trains with binary cross-entropy
on one logit (the classes balanced: each class's weights scaled to the same total), and reports
the event-weighted ROC integral on the test half.

All randomness (the split, the initial weights, the minibatch order, dropout masks) comes from
``random_seed`` through separate :class:`numpy.random.SeedSequence` streams, so a job is
reproducible and a family member trained alone (with ``init_variables`` = its seed's variables)
starts from the same weights and sees the same minibatches as inside its family.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from fourtop.errors import TrainingError
from fourtop.train.device import resolve_device
from fourtop.train.metrics import roc_integral
from fourtop.train.model import FamilyNet
from fourtop.train.params import NetworkParams

if TYPE_CHECKING:
    from fourtop.data.ntuples import SplitArrays

__all__ = ["PRECISIONS", "TrainResult", "train_family", "train_members", "train_network"]

#: precisions of the matrix products :func:`train_members` accepts
PRECISIONS = ("fp32", "bf16", "tf32")

log = logging.getLogger(__name__)

#: share of the training half held out to watch the validation loss (only with ``patience``)
VALIDATION_FRACTION = 0.2
#: activations per evaluation chunk (members x events x width): 16 MB, below glibc's mmap
#: threshold, so evaluation reuses memory instead of faulting in fresh pages per chunk
_EVAL_VALUES = 1 << 22
#: a set whose standardized columns take more than this is not copied: its minibatches and
#: evaluation chunks are gathered and standardized from the (memory-mapped) class arrays as
#: they are needed, so a worker's private memory does not grow with events x variables; the
#: values are the same either way (the same float64 arithmetic, rounded to float32)
_DENSE_BYTES = 64 << 20


def _eval_chunk(model: FamilyNet) -> int:
    """Events per evaluation chunk for ``model``."""
    width = max(model.params.layer_sizes())
    return int(min(8192, max(256, _EVAL_VALUES // (model.members * width))))


@dataclass
class TrainResult:
    """Outcome of one network.

    Attributes:
        roc_integral: weighted ROC AUC on the test half (NaN when ``error`` is set).
        state_dict: final (or, with early stopping, best) weights as CPU tensors.
        history: per-epoch ``loss`` (training) and, with early stopping, ``val_loss``.
        variables: the network's input variables.
        epochs_trained: epochs run before stopping.
        n_train: training events (both classes).
        n_test: test events (both classes).
        standardization: ``{"mean": [...], "std": [...]}`` of the inputs, in ``variables`` order.
        error: why this network has no result (e.g. its training diverged), else None.
    """

    roc_integral: float
    state_dict: dict[str, Tensor]
    history: dict[str, list[float]]
    variables: list[str]
    epochs_trained: int
    n_train: int
    n_test: int
    error: str | None = None
    device: str = field(default="cpu")
    #: the inputs' training-half ``mean`` and ``std`` (lists in ``variables`` order): a saved
    #: model applies ``(x - mean) / std`` before the network
    standardization: dict[str, list[float]] | None = None


def train_network(
    data: SplitArrays,
    variables: Sequence[str],
    params: NetworkParams | Mapping[str, Any] | None = None,
    *,
    random_seed: int = 0,
    init_variables: Sequence[str] | None = None,
    device: str = "auto",
) -> TrainResult:
    """Train one network on ``variables`` and measure its ROC integral.

    Args:
        data: signal and background arrays (every variable of the list).
        variables: the job's input variables.
        params: hyperparameters (None = the original network).
        random_seed: seeds the split, initial weights, minibatch order and dropout.
        init_variables: the seed's variables when this job is a subseed: initial first-layer
            weights are drawn for those inputs and the job keeps its own, so it starts exactly as
            inside its family. None = ``variables``.
        device: ``auto``, ``cpu`` or ``cuda``.

    Raises:
        TrainingError: bad variables, too few events, or the training diverged.
        VariableError: a variable is not in ``data``.
    """
    inputs = list(variables) if init_variables is None else list(init_variables)
    (result,) = train_members(
        data, inputs, [variables], params, random_seed=random_seed, device=device
    )
    if result.error is not None:
        raise TrainingError(result.error)
    return result


def train_family(
    data: SplitArrays,
    seed_variables: Sequence[str],
    members: Sequence[Sequence[str]],
    params: NetworkParams | Mapping[str, Any] | None = None,
    *,
    random_seed: int = 0,
    device: str = "auto",
) -> list[float]:
    """Train a seed family as one batched model; the ROC integral of each member (NaN if failed).

    Every member starts from the same initial weights on the inputs it shares with the seed and
    sees the same minibatches in the same order. See :func:`train_members` for full results.
    """
    results = train_members(
        data, seed_variables, members, params, random_seed=random_seed, device=device
    )
    return [r.roc_integral for r in results]


def train_members(
    data: SplitArrays,
    seed_variables: Sequence[str],
    members: Sequence[Sequence[str]],
    params: NetworkParams | Mapping[str, Any] | None = None,
    *,
    random_seed: int = 0,
    device: str = "auto",
    test_events: tuple[np.ndarray, np.ndarray] | None = None,
    precision: str = "fp32",
) -> list[TrainResult]:
    """Train ``members`` (variable subsets of ``seed_variables``) side by side as one model.

    A member whose training diverges gets a result with ``error`` set; the others are unaffected.
    ``test_events`` (boolean masks over the signal and the background events) chooses the test
    events instead of a random half: the network never trains on them (a k-fold training's
    held-out fold). ``precision`` (:data:`PRECISIONS`) is that of the large matrix products:
    ``fp32`` (the default, and the only one the commands offer: see docs/performance.md),
    ``bf16`` (bfloat16 products, float32 elsewhere) or ``tf32`` (CUDA's TensorFloat-32
    products; refused on other devices).

    Raises:
        TrainingError: empty or foreign member variables, a bad random seed, too few events,
            non-finite inputs, or (before any training) a class whose weights are all zero,
            all negative or sum to zero or less, also in the test half.
        VariableError: a variable is not in ``data``.
    """
    if not isinstance(params, NetworkParams):
        params = NetworkParams.from_dict(params)
    _keep_freed_memory()
    if precision not in PRECISIONS:
        raise TrainingError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    with _flush_denormals(), _tf32_products(precision == "tf32"):
        return _train_members(
            data, seed_variables, members, params, random_seed, device, test_events, precision
        )


def _train_members(
    data: SplitArrays,
    seed_variables: Sequence[str],
    members: Sequence[Sequence[str]],
    params: NetworkParams,
    random_seed: int,
    device: str,
    test_events: tuple[np.ndarray, np.ndarray] | None = None,
    precision: str = "fp32",
) -> list[TrainResult]:
    inputs = _check_variables(seed_variables, members)
    if isinstance(random_seed, bool) or not isinstance(random_seed, int) or random_seed < 0:
        raise TrainingError(f"random seed {random_seed!r}: expected an integer >= 0")
    split_ss, shuffle_ss, init_ss, dropout_ss = np.random.SeedSequence(random_seed).spawn(4)
    dev = resolve_device(device)
    if precision == "tf32" and dev.type != "cuda":
        raise TrainingError(f"precision tf32 needs an NVIDIA GPU (the device is {dev})")
    sets, mean, std = _prepare(
        data, inputs, np.random.default_rng(split_ss), params.patience is not None, test_events
    )
    for s in sets.values():
        s.to(dev)
    train = sets["train"]
    y, w = train.y, train.w

    masks = torch.tensor([[v in set(m) for v in inputs] for m in members], dtype=torch.float32)
    generator = torch.Generator().manual_seed(int(init_ss.generate_state(1)[0]))
    dropout_gen = torch.Generator(device=dev).manual_seed(int(dropout_ss.generate_state(1)[0]))
    model = FamilyNet(
        masks,
        params,
        generator=generator,
        dropout_generator=dropout_gen,
        matmul_dtype=torch.bfloat16 if precision == "bf16" else None,
    ).to(dev)
    # fused: one kernel per parameter stack instead of a dozen element-wise passes
    optimizer = torch.optim.Adam(
        model.parameters(), lr=params.learning_rate, betas=(0.9, 0.999), eps=1e-7, fused=True
    )
    n_members = len(members)
    histories: list[dict[str, list[float]]] = [{"loss": []} for _ in range(n_members)]
    epochs_run = [0] * n_members
    shuffle_rng = np.random.default_rng(shuffle_ss)
    early = params.patience is not None
    if early:
        best_loss = torch.full((n_members,), float("inf"))
        stale = torch.zeros(n_members, dtype=torch.long)
        best_state = model.snapshot()
        for h in histories:
            h["val_loss"] = []
    active = torch.ones(n_members, dtype=torch.bool)
    n = len(y)
    for _ in range(params.epochs):
        model.train()
        # the minibatches are gathered one by one: no shuffled copy of the training events
        order = torch.from_numpy(shuffle_rng.permutation(n)).to(dev)
        total = torch.zeros(n_members, device=dev, dtype=torch.float64)
        seen = 0
        for start in range(0, n, params.batch_size):
            if n - start == 1 and model.uses_batch_norm:
                break  # batch normalization cannot learn from a lone trailing event
            batch = order[start : start + params.batch_size]
            member_loss = _weighted_bce(model(train.x(batch)), y[batch], w[batch])
            optimizer.zero_grad(set_to_none=True)
            member_loss.sum().backward()
            optimizer.step()
            size = min(n, start + params.batch_size) - start
            total += member_loss.detach().double() * size
            seen += size
        train_loss = (total / seen).cpu()
        for m in active.nonzero().flatten().tolist():
            histories[m]["loss"].append(float(train_loss[m]))
            epochs_run[m] += 1
        if early:
            val_loss = _evaluate_loss(model, sets["validation"]).cpu()
            for m in active.nonzero().flatten().tolist():
                histories[m]["val_loss"].append(float(val_loss[m]))
            improved = active & (val_loss < best_loss)
            best_loss = torch.where(improved, val_loss, best_loss)
            stale = torch.where(improved, 0, stale + 1)
            _copy_members(model.snapshot(), best_state, improved.to(dev))
            active &= stale < params.patience
            if not bool(active.any()):
                break
    if early:
        model.restore(best_state, torch.ones(n_members, dtype=torch.bool, device=dev))

    test = sets["test"]
    scores = _scores(model, test)
    y_test, w_test = test.y.cpu().numpy(), test.w.cpu().numpy()
    results = []
    for m, variables in enumerate(members):
        try:
            roc, error = roc_integral(scores[m], y_test, w_test), None
        except TrainingError as exc:
            roc, error = float("nan"), f"training diverged: {exc}"
        if error is None and not np.isfinite(histories[m]["loss"][-1]):
            roc, error = float("nan"), "training diverged: the training loss is not finite"
        columns = [inputs.index(v) for v in variables]
        results.append(
            TrainResult(
                roc_integral=roc,
                state_dict=model.member_state(m, columns),
                history=histories[m],
                variables=list(variables),
                epochs_trained=epochs_run[m],
                n_train=n,
                n_test=len(y_test),
                error=error,
                device=str(dev),
                standardization={
                    "mean": [float(mean[c]) for c in columns],
                    "std": [float(std[c]) for c in columns],
                },
            )
        )
    return results


#: glibc's ``mallopt`` parameters (malloc.h) and the values set
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20  # glibc's largest; a family's activations are a few MB each
_TRIM_THRESHOLD = 256 << 20


@functools.cache
def _keep_freed_memory() -> bool:
    """Have glibc keep freed activation buffers for reuse instead of returning them.

    By default glibc serves blocks of a few MB with ``mmap`` and gives them back on ``free``,
    so every step of a family (dozens of ``[members, batch, width]`` temporaries) pays page
    faults and zeroing for fresh pages: that was the largest element-wise cost in the
    profile, more than the arithmetic. Keeping up to :data:`_TRIM_THRESHOLD` of freed memory
    makes those ops about twice as fast; peak memory is unchanged. Once per process; a no-op
    (False) where the C library has no ``mallopt``.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD))
    ok &= bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    log.debug("malloc tuned for training (mmap threshold %d, trim %d): %s",
              _MMAP_THRESHOLD, _TRIM_THRESHOLD, ok)  # fmt: skip
    return ok


@contextlib.contextmanager
def _tf32_products(on: bool) -> Iterator[None]:
    """CUDA float32 matrix products in TensorFloat-32 while training (restored afterwards)."""
    if not on:
        yield
        return
    matmul = torch.backends.cuda.matmul
    before = matmul.fp32_precision
    matmul.fp32_precision = "tf32"
    try:
        yield
    finally:
        matmul.fp32_precision = before


@contextlib.contextmanager
def _flush_denormals() -> Iterator[None]:
    """Treat subnormal floats as zero while training.

    Adam's second-moment estimates and small gradients reach subnormal values, which the CPU
    handles up to ~100x slower; flushing them changes values below 1e-38 only. The flag is
    restored to PyTorch's default (off) afterwards.
    """
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported:
            torch.set_flush_denormal(False)


def _check_variables(seed_variables: Sequence[str], members: Sequence[Sequence[str]]) -> list[str]:
    inputs = list(seed_variables)
    if not inputs:
        raise TrainingError("a network needs at least one input variable (the seed is empty)")
    seen: set[str] = set()
    for v in inputs:
        if v in seen:
            raise TrainingError(f"variable {v!r} is listed twice among the inputs")
        seen.add(v)
    if not members:
        raise TrainingError("a seed family needs at least one member")
    for i, member in enumerate(members):
        if not member:
            raise TrainingError(f"family member {i} has no input variables")
        for v in member:
            if v not in seen:
                raise TrainingError(
                    f"family member {i} uses variable {v!r}, which is not among its seed's inputs"
                )
    return inputs


def _prepare(
    data: SplitArrays,
    inputs: list[str],
    rng: np.random.Generator,
    validation: bool,
    test_events: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[dict[str, tuple[Tensor, Tensor, Tensor]], np.ndarray, np.ndarray]:
    """Split each class in halves (or into ``test_events`` and the rest), standardize,
    balance the training weights.

    Returns ``{"train", "validation", "test"}`` -> :class:`_EventSet` (on the CPU), and the
    inputs' training mean and std; training and validation weights are ``|w|`` scaled so each
    class sums to half the events, test weights are signed.
    """
    columns = data.columns(inputs)
    # per set: (the class's events, the indices of its events in the set, weights, label)
    parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]] = {
        "train": [],
        "validation": [],
        "test": [],
    }
    chosen = (None, None) if test_events is None else (test_events[1], test_events[0])
    for label, (x_all, w_all, what) in enumerate(
        (
            (data.background, data.background_weight, "background"),
            (data.signal, data.signal_weight, "signal"),
        )
    ):
        w_all = np.asarray(w_all, dtype=np.float64)
        _check_class_weights(w_all, what)
        order = rng.permutation(len(w_all))
        if chosen[label] is None:
            n_test = len(order) // 2
            test, train = order[:n_test], order[n_test:]
        else:
            held_out = np.asarray(chosen[label], dtype=bool)
            if held_out.shape != (len(w_all),):
                raise TrainingError(
                    f"the {what} test mask has {held_out.size} entries for {len(w_all)} events"
                )
            test, train = np.flatnonzero(held_out), order[~held_out[order]]
        val = train[: int(len(train) * VALIDATION_FRACTION)] if validation else train[:0]
        train = train[len(val) :]
        for name, idx in (("train", train), ("validation", val), ("test", test)):
            if len(idx) == 0 and (name != "validation" or validation):
                raise TrainingError(
                    f"only {len(w_all)} {what} events: too few to split into "
                    f"training{', validation' if validation else ''} and test sets"
                )
            if len(idx):
                _check_half_weights(w_all[idx], what, _HALVES[name])
            parts[name].append((np.asarray(x_all), idx, w_all[idx], float(label)))
    # every event is in exactly one set: checking the sets checks every event
    for pieces in parts.values():
        for x_all, idx, _, label in pieces:
            _check_finite(x_all, idx, columns, inputs, ("background", "signal")[int(label)])

    mean, std = _mean_std([(x_all, idx) for x_all, idx, _, _ in parts["train"]], columns)
    std[~(std > 0)] = 1.0
    out = {}
    for name, pieces in parts.items():
        half = sum(len(p[1]) for p in pieces) / 2
        ys, ws = [], []
        for _, _idx, w_part, label in pieces:
            if name != "test" and len(w_part):
                w_part = np.abs(w_part) * (half / np.abs(w_part).sum())
            ys.append(np.full(len(w_part), label))
            ws.append(w_part)
        labels, weights = (np.concatenate(a).astype(np.float32) for a in (ys, ws))
        out[name] = _EventSet(
            [(x_all, idx) for x_all, idx, _, _ in pieces],
            columns,
            mean,
            std,
            torch.from_numpy(labels),
            torch.from_numpy(weights),
        )
    return out, mean, std


class _EventSet:
    """One set's events (training, validation or test): labels, weights, and the
    standardized input columns, either copied once (``dense``: small sets, and any set on a
    GPU) or gathered from the class arrays per minibatch or chunk (large sets on the CPU: the
    class arrays are the memory-mapped cache, shared between workers, so the job's own memory
    is its minibatch, not events x variables). Both give the same float32 values.

    Events are numbered as the set lists them: each class's chosen rows in turn (background,
    then signal).
    """

    def __init__(
        self,
        pieces: list[tuple[np.ndarray, np.ndarray]],
        columns: np.ndarray,
        mean: np.ndarray,
        std: np.ndarray,
        y: Tensor,
        w: Tensor,
    ) -> None:
        self.pieces = [(np.asarray(x), np.asarray(i, dtype=np.int64)) for x, i in pieces]
        self.columns, self.mean, self.std = columns, mean, std
        self.y, self.w = y, w
        self.starts = np.cumsum([0] + [len(idx) for _, idx in self.pieces])
        self.dense: Tensor | None = None
        if len(self) * len(columns) * 4 <= _DENSE_BYTES:
            self.dense = self._copy()

    def __len__(self) -> int:
        return int(self.starts[-1])

    def to(self, device: torch.device) -> None:
        """Move the set to ``device``; a GPU gets the dense copy (host gathers would starve it)."""
        if device.type != "cpu" and self.dense is None:
            self.dense = self._copy()
        self.y, self.w = self.y.to(device), self.w.to(device)
        if self.dense is not None:
            self.dense = self.dense.to(device)

    def x(self, events: Tensor | slice) -> Tensor:
        """The standardized inputs of ``events`` (indices into the set, or a slice)."""
        if self.dense is not None:
            return self.dense[events]
        if isinstance(events, slice):
            return self._gather(np.arange(*events.indices(len(self))))
        return self._gather(events.cpu().numpy())

    def _copy(self) -> Tensor:
        """The whole set standardized, gathered in chunks (small float64 temporaries)."""
        dense = torch.empty((len(self), len(self.columns)), dtype=torch.float32)
        for rows in _chunks(np.arange(len(self))):
            dense[rows[0] : rows[-1] + 1] = self._gather(rows)
        return dense

    def _gather(self, events: np.ndarray) -> Tensor:
        out = np.empty((len(events), len(self.columns)), dtype=np.float32)
        piece = np.searchsorted(self.starts, events, side="right") - 1
        for p, (x_all, idx) in enumerate(self.pieces):
            mine = piece == p
            if not mine.any():
                continue
            rows = idx[events[mine] - self.starts[p]]
            out[mine] = (x_all[rows][:, self.columns] - self.mean) / self.std
        return torch.from_numpy(out)


#: events per chunk when the selected columns are gathered and standardized: the float64
#: temporaries stay a few MB whatever the number of events
_CHUNK_EVENTS = 1 << 15


def _chunks(idx: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, len(idx), _CHUNK_EVENTS):
        yield idx[start : start + _CHUNK_EVENTS]


def _check_finite(
    x_all: np.ndarray, idx: np.ndarray, columns: np.ndarray, inputs: list[str], what: str
) -> None:
    for rows in _chunks(idx):
        bad = ~np.isfinite(x_all[rows][:, columns]).all(axis=0)
        if bad.any():
            name = inputs[int(np.flatnonzero(bad)[0])]
            raise TrainingError(f"{what} variable {name!r} has NaN or infinite values")


def _mean_std(
    pieces: list[tuple[np.ndarray, np.ndarray]], columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) standard deviation of the selected columns over the events of
    ``pieces``, in float64, two passes over chunks (no copy of the whole training half)."""
    n = sum(len(idx) for _, idx in pieces)
    total = np.zeros(len(columns))
    for x_all, idx in pieces:
        for rows in _chunks(idx):
            total += x_all[rows][:, columns].sum(axis=0, dtype=np.float64)
    mean = total / n
    squares = np.zeros(len(columns))
    for x_all, idx in pieces:
        for rows in _chunks(idx):
            squares += np.square(x_all[rows][:, columns] - mean).sum(axis=0)
    return mean, np.sqrt(squares / n)


#: what each set is called in messages
_HALVES = {"train": "training half", "validation": "validation set", "test": "test half"}


def _check_class_weights(w: np.ndarray, what: str) -> None:
    """Refuse, before training, the weights of a class that no network can learn from.

    :func:`fourtop.data.ntuples.load_split` refuses these when the split is loaded; this is
    the same check for arrays made any other way.
    """
    if not np.isfinite(w).all():
        raise TrainingError(f"the {what} event weights contain NaN or infinite values")
    total = float(w.sum())
    if total > 0:
        return
    if not w.any():
        raise TrainingError(f"the weights of the {what} are all zero: no event to train on")
    if (w <= 0).all():
        sign = "negative" if (w < 0).all() else "negative or zero"
        raise TrainingError(
            f"the weights of the {what} are all {sign}: a class needs a positive total weight"
        )
    raise TrainingError(
        f"the weights of the {what} sum to {total:.6g} (<= 0): a class needs a positive "
        "total weight (too many negative weights?)"
    )


def _check_half_weights(w: np.ndarray, what: str, half: str) -> None:
    """Training needs some weight (``|w|``) per class; the ROC integral a positive sum."""
    if half == "test half":
        total = float(w.sum())
        if not total > 0:
            raise TrainingError(
                f"the {what} weights of the {half} ({len(w)} events) sum to {total:.6g} "
                "(<= 0): the ROC integral needs a positive total weight per class (too many "
                "negative weights for this few events?)"
            )
    elif not np.abs(w).sum() > 0:
        raise TrainingError(f"the {what} events of the {half} ({len(w)} events) all weigh zero")


def _weighted_bce(logits: Tensor, y: Tensor, w: Tensor) -> Tensor:
    """Per-member mean of ``w * BCE(logit, y)`` over the batch: shape ``[M]``."""
    per_event = F.binary_cross_entropy_with_logits(logits, y.expand_as(logits), reduction="none")
    return (per_event * w).mean(dim=1)


@torch.no_grad()
def _scores(model: FamilyNet, events: _EventSet) -> np.ndarray:
    model.eval()
    step = _eval_chunk(model)
    # logits, not sigmoids: the same order, without float32 saturation into ties; written
    # chunk by chunk into one array (a list of chunks joined at the end grew the heap by GBs
    # on a million test events), in the float32 the network computes them in
    scores = np.empty((model.members, len(events)), dtype=np.float32)
    for i in range(0, len(events), step):
        scores[:, i : i + step] = model(events.x(slice(i, i + step))).cpu().numpy()
    return scores


@torch.no_grad()
def _evaluate_loss(model: FamilyNet, events: _EventSet) -> Tensor:
    model.eval()
    y, w = events.y, events.w
    total = torch.zeros(model.members, dtype=torch.float64, device=y.device)
    step = _eval_chunk(model)
    for i in range(0, len(y), step):
        sl = slice(i, i + step)
        total += _weighted_bce(model(events.x(sl)), y[sl], w[sl]).double() * len(y[sl])
    return (total / len(y)).float()


def _copy_members(source: list[Tensor], target: list[Tensor], members: Tensor) -> None:
    for s, t in zip(source, target, strict=True):
        t[members] = s[members]
