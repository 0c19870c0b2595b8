"""What the final network uses, measured on the events no fold's model trained on.

Every event of the final-training split is held out by exactly one fold (``key mod k``) and is
scored by that fold's model. On those events:

* :func:`permutation` shuffles one variable (or a block of variables together, or several
  blocks independently) among a fold's held-out events and measures the drop of the weighted
  ROC integral of that fold's model; repeated with fresh shuffles.
* :func:`attributions` computes per-event attributions of the logit: SHAP values (``shap``'s
  ``DeepExplainer``), integrated gradients and layer-wise relevance (``captum``).

Each fold gives one value per variable (the mean drop over the repeats, or the weighted mean
|attribution|); the result is the mean over the folds and its uncertainty the standard error
over the folds (each fold has its own model and its own events).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fourtop.data.eventkey import fold_of
from fourtop.errors import DataError, ParameterError
from fourtop.train.metrics import balanced_weights, roc_integral

if TYPE_CHECKING:
    from torch import nn

    from fourtop.data.ntuples import SplitArrays
    from fourtop.train.export import ScoringNet

__all__ = [
    "ATTRIBUTIONS",
    "METHODS",
    "Estimate",
    "HeldOut",
    "attributions",
    "held_out",
    "permutation",
    "single_separation",
]

log = logging.getLogger(__name__)

#: every method, in the order they run and are reported
METHODS = ("permutation", "shap", "ig", "lrp")
#: the methods that give per-event attributions, and the library each needs
ATTRIBUTIONS = {"shap": "shap", "ig": "captum", "lrp": "captum"}
#: events per fold in SHAP's background sample (the reference the values are relative to)
BACKGROUND_EVENTS = 100
#: integration steps of integrated gradients
IG_STEPS = 50
_CHUNK = 65_536

#: a shuffle: blocks of column indices; the columns of a block share one permutation of the
#: events, different blocks are shuffled independently
Shuffle = tuple[tuple[int, ...], ...]


@dataclass
class HeldOut:
    """Held-out events: raw variables (the model's order), class, signed weight, fold."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    fold: np.ndarray
    key: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def rows(self, fold: int) -> np.ndarray:
        """The indices of ``fold``'s events."""
        return np.flatnonzero(self.fold == fold)

    def balanced_weights(self, rows: np.ndarray) -> np.ndarray:
        """|w| of ``rows``, each class summing to 1/2 (as in training), float64."""
        return balanced_weights(self.w[rows], self.y[rows])


@dataclass
class Estimate:
    """One number per fold, and their mean and standard error."""

    per_fold: np.ndarray

    @property
    def value(self) -> float:
        return float(np.mean(self.per_fold))

    @property
    def uncertainty(self) -> float:
        k = len(self.per_fold)
        return float(np.std(self.per_fold, ddof=1) / np.sqrt(k)) if k > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "uncertainty": self.uncertainty,
            "per_fold": [float(v) for v in self.per_fold],
        }


def held_out(
    data: SplitArrays,
    variables: Sequence[str],
    k: int,
    n_events: int | None,
    rng: np.random.Generator,
) -> HeldOut:
    """The final split's events with their folds; ``n_events`` of them drawn at random (all
    when fewer or None).

    Raises:
        DataError: no event keys, or a fold without events of both classes.
    """
    if data.signal_key is None or data.background_key is None:
        raise DataError("the events have no keys (the configuration needs an 'event_id')")
    columns = data.columns(variables)
    n_sig, n_bkg = len(data.signal), len(data.background)
    take = np.arange(n_sig + n_bkg)
    if n_events is not None and n_events < len(take):
        take = np.sort(rng.choice(len(take), size=n_events, replace=False))
    sig, bkg = take[take < n_sig], take[take >= n_sig] - n_sig
    keys = np.concatenate([data.signal_key[sig], data.background_key[bkg]]).astype(np.int64)
    events = HeldOut(
        x=np.ascontiguousarray(
            np.concatenate([data.signal[sig][:, columns], data.background[bkg][:, columns]]),
            dtype=np.float32,
        ),
        y=np.r_[np.ones(len(sig), bool), np.zeros(len(bkg), bool)],
        w=np.concatenate([data.signal_weight[sig], data.background_weight[bkg]]).astype(np.float64),
        fold=fold_of(keys, k),
        key=keys,
    )
    for fold in range(k):
        rows = events.rows(fold)
        for cls, what in ((True, "signal"), (False, "background")):
            mine = events.y[rows] == cls
            count, total = int(mine.sum()), float(events.w[rows][mine].sum())
            if count < MIN_FOLD_EVENTS or not total > 0:
                raise DataError(
                    f"fold {fold} has {count} {what} events (total weight {total:.4g}) among "
                    f"its {len(rows)} drawn held-out events: at least {MIN_FOLD_EVENTS} with a "
                    "positive total weight are needed (more --events?)"
                )
    return events


def logits(net: nn.Module, x: np.ndarray) -> np.ndarray:
    """``net``'s logit (:func:`~fourtop.explain.network.logit_net`) for raw ``x``, float32."""
    import torch

    with torch.no_grad():
        parts = [
            net(torch.from_numpy(x[i : i + _CHUNK])).squeeze(1).numpy()
            for i in range(0, len(x), _CHUNK)
        ]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _fold_roc(scores: np.ndarray, events: HeldOut, rows: np.ndarray) -> float:
    return roc_integral(scores, events.y[rows], events.w[rows])


#: the fewest events of each class a fold needs among the held-out events
MIN_FOLD_EVENTS = 100


def base_roc(nets: Sequence[nn.Module], events: HeldOut) -> Estimate:
    """Each fold model's weighted ROC integral on its held-out events."""
    values = []
    for fold, net in enumerate(nets):
        rows = events.rows(fold)
        values.append(_fold_roc(logits(net, events.x[rows]), events, rows))
    return Estimate(np.asarray(values))


def _shuffle_rng(seed: int, fold: int, shuffle: Shuffle) -> np.random.Generator:
    """The random stream of one shuffle of one fold: the same shuffle gives the same drops
    whatever else runs (another ``-c``, another order)."""
    entropy = [int(seed), int(fold)]
    for block in shuffle:
        entropy += [len(block), *block]
    return np.random.default_rng(entropy)


def permutation(
    nets: Sequence[nn.Module],
    events: HeldOut,
    base: Estimate,
    shuffles: Sequence[Shuffle],
    repeats: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> list[tuple[Estimate, float]]:
    """The drop from each fold's ROC integral (``base``, :func:`base_roc`) when the
    ``shuffles`` are applied (each shuffle's permutations drawn from its own stream of
    ``seed``).

    Returns:
        per shuffle: the drop (mean over the repeats, per fold) and the spread of the repeats
        (their standard deviation, averaged over the folds).
    """
    if repeats < 1:
        raise ParameterError(f"permutation repeats must be at least 1, got {repeats}")
    drops = np.zeros((len(shuffles), len(nets), repeats))
    for fold, net in enumerate(nets):
        rows = events.rows(fold)
        x = events.x[rows]
        for s, shuffle in enumerate(shuffles):
            rng = _shuffle_rng(seed, fold, shuffle)
            for r in range(repeats):
                mixed = x.copy()
                for block in shuffle:
                    cols = list(block)
                    mixed[:, cols] = x[rng.permutation(len(x))][:, cols]
                drops[s, fold, r] = base.per_fold[fold] - _fold_roc(
                    logits(net, mixed), events, rows
                )
            if progress is not None:
                progress(1)
    spread = drops.std(axis=2, ddof=1).mean(axis=1) if repeats > 1 else np.zeros(len(shuffles))
    return [(Estimate(drops[s].mean(axis=1)), float(spread[s])) for s in range(len(shuffles))]


def single_separation(events: HeldOut) -> np.ndarray:
    """Each variable alone as a classifier: its weighted ROC integral, or 1 minus it when
    lower (0.5: no separation, 1: perfect), on all the held-out events."""
    out = np.empty(events.x.shape[1])
    for j in range(events.x.shape[1]):
        a = roc_integral(events.x[:, j], events.y, events.w)
        out[j] = max(a, 1.0 - a)
    return out


def attributions(
    method: str,
    nets: Sequence[ScoringNet],
    events: HeldOut,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, list[Estimate]]:
    """Per-event attributions of the logit by ``method``, each event by its fold's model, and
    per variable the weighted mean |attribution| (classes balanced on |w|, as in training).

    * ``shap``: ``shap.DeepExplainer`` with :data:`BACKGROUND_EVENTS` of the fold's events as
      the reference; the values add up to the logit minus the reference's mean logit.
    * ``ig``: captum's integrated gradients from the fold's training mean (the standardized
      origin), :data:`IG_STEPS` steps.
    * ``lrp``: captum's layer-wise relevance (epsilon rule) of the standardized variables,
      the network's own input space (relevance of raw variables would grow with their offset
      from zero).

    Returns:
        float32 ``[N, n_vars]`` attributions and one :class:`Estimate` per variable.
    """
    import torch

    from fourtop.explain.network import logit_net

    values = np.zeros(events.x.shape, np.float32)
    per_fold = np.zeros((len(nets), events.x.shape[1]))
    for fold, net in enumerate(nets):
        rows = events.rows(fold)
        x = torch.from_numpy(events.x[rows])
        with warnings.catch_warnings():  # the libraries' own deprecation notices
            warnings.simplefilter("ignore")
            if method == "lrp":
                from captum.attr import LRP

                z = ((x - net.mean) / net.std).requires_grad_(True)
                a = LRP(logit_net(net, standardized=True)).attribute(z, target=0)
            elif method == "ig":
                from captum.attr import IntegratedGradients

                a = IntegratedGradients(logit_net(net)).attribute(
                    x,
                    baselines=net.mean[None, :].to(x.dtype),
                    target=0,
                    n_steps=IG_STEPS,
                    internal_batch_size=_CHUNK,
                )
            elif method == "shap":
                import shap

                pick = rng.choice(len(x), size=min(BACKGROUND_EVENTS, len(x)), replace=False)
                explainer = shap.DeepExplainer(logit_net(net), x[np.sort(pick)])
                a = explainer.shap_values(x, check_additivity=True)
            else:
                raise ParameterError(f"unknown attribution method {method!r}")
        a = np.asarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a, np.float32)
        a = a.reshape(len(rows), -1)
        values[rows] = a
        w = events.balanced_weights(rows)
        per_fold[fold] = (w[:, None] * np.abs(a.astype(np.float64))).sum(axis=0) / w.sum()
        if progress is not None:
            progress(1)
    return values, [Estimate(per_fold[:, j]) for j in range(per_fold.shape[1])]
