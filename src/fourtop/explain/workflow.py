"""``fourtop explain`` as a library call: what a final folder's networks use.

:func:`explain` checks everything first (the final folder, the configuration it was trained
with, the methods, the results file), then loads the final-training split, draws the events,
runs the methods (:mod:`fourtop.explain.methods`) on each fold's held-out events with that
fold's model, compares them with the retraining ranking (:mod:`fourtop.explain.compare`) and
writes the output folder aside, renaming it into place at the end
(:mod:`fourtop.explain.outputs`).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from fourtop import __version__
from fourtop.errors import DataError, OutputError, ParameterError, ResultsError, did_you_mean
from fourtop.explain import compare, outputs
from fourtop.explain.methods import (
    ATTRIBUTIONS,
    BACKGROUND_EVENTS,
    IG_STEPS,
    METHODS,
    Estimate,
    Shuffle,
)
from fourtop.fileio import describe_os_error
from fourtop.jobs.requests import Reporter
from fourtop.plotting import FORMATS, check_formats

__all__ = [
    "DEFAULT_EVENTS",
    "DEFAULT_REPEATS",
    "OUTPUT_DIR",
    "ExplainOutcome",
    "ExplainRequest",
    "explain",
    "parse_methods",
]

log = logging.getLogger(__name__)

#: held-out events explained unless ``--events`` says otherwise
DEFAULT_EVENTS = 10_000
#: the fewest events ``--events`` may ask for
MIN_EVENTS = 100
#: shuffles per variable and fold
DEFAULT_REPEATS = 5
#: the output folder inside the final folder unless ``-f`` says otherwise
OUTPUT_DIR = "explain"
#: the explain.json format
FORMAT = "fourtop-explain"
FORMAT_VERSION = 1


@dataclass
class ExplainRequest:
    """What ``fourtop explain`` asks for (None: the default)."""

    final_folder: str
    year: str | None = None
    config: str | None = None
    results: str | None = None
    methods: list[str] | None = None
    events: int | None = DEFAULT_EVENTS
    output: str | None = None
    repeats: int = DEFAULT_REPEATS
    correlation: float = 0.8
    random_seed: int = 1
    plot_formats: tuple[str, ...] = FORMATS


@dataclass
class ExplainOutcome:
    """What a run wrote: the output folder and the document of ``explain.json``."""

    output: Path
    doc: dict[str, Any]


def parse_methods(text: str) -> list[str]:
    """``--methods``: a comma-separated subset of :data:`METHODS`, in that order.

    Raises:
        ParameterError: an unknown or empty name.

    Example:
        >>> parse_methods("shap, permutation")
        ['permutation', 'shap']
    """
    names = [n.strip().lower() for n in text.split(",")]
    if not text.strip() or not all(names):
        raise ParameterError(f"--methods {text!r}: expected names like permutation,shap")
    for name in names:
        if name not in METHODS:
            raise ParameterError(
                f"--methods: unknown method {name!r} (choose from {', '.join(METHODS)})"
                + did_you_mean(name, METHODS)
            )
    return [m for m in METHODS if m in names]


def _methods(request: ExplainRequest, activation: str, notes: list[str]) -> list[str]:
    """The methods to run: the requested ones must be usable; of the default ones those
    that are (with a note for the rest)."""
    asked = request.methods is not None
    methods = list(request.methods) if asked else list(METHODS)
    kept = []
    for m in methods:
        why = None
        library = ATTRIBUTIONS.get(m)
        if library is not None and importlib.util.find_spec(library) is None:
            why = f"needs the {library} library (the [explain] extra: pip install shap captum)"
        elif m == "lrp" and activation != "relu":
            why = f"layer-wise relevance needs ReLU layers; this network uses {activation}"
        if why is None:
            kept.append(m)
        elif asked:
            raise ParameterError(f"--methods {m}: {why}")
        else:
            notes.append(f"{m} skipped: {why}")
    return kept


def _check(request: ExplainRequest) -> None:
    if request.events is not None and (
        isinstance(request.events, bool) or request.events < MIN_EVENTS
    ):
        raise ParameterError(f"--events {request.events}: at least {MIN_EVENTS} events")
    if request.repeats < 2:
        raise ParameterError(f"--repeats {request.repeats}: at least 2 (for the spread)")
    if not 0 < request.correlation <= 1:
        raise ParameterError(
            f"--correlation {request.correlation:g}: expected a fraction in (0, 1]"
        )


@dataclass
class _Retraining:
    """The ``calculate`` ranking over the model's variables."""

    path: Path
    importance: np.ndarray
    ranks: np.ndarray
    intervals: dict[str, list[float]] | None
    extra: list[str]


def _retraining(path_text: str, variables: Sequence[str]) -> _Retraining:
    """Read the results file (or the dataset folder's) and rank the model's variables.

    Raises:
        ResultsError: no results file, or one that does not rank every model variable.
    """
    from fourtop.hyperopt.selection import find_results_file
    from fourtop.importance.results import read_results, results_filename

    path = Path(path_text)
    if path.is_dir():
        own = path / results_filename(len(variables))  # the one over the model's count first
        try:
            path = own if own.is_file() else find_results_file(path)
        except ResultsError:
            raise ResultsError(
                f"{path}: no VariableImportanceResults_<N>vars.txt (--results takes the dataset "
                "folder of 'fourtop calculate', or the results file)"
            ) from None
    elif not path.exists():
        raise ResultsError(f"{path}: no such results file or dataset folder")
    table = read_results(path)
    ranked = table.sorted_names("importance")
    missing = [v for v in variables if v not in ranked]
    if missing:
        raise ResultsError(
            f"{path}: ranks other variables than the model: no {missing[0]!r}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + " of the model's variables (a results file of another variable list?)"
        )
    order = [v for v in ranked if v in set(variables)]
    position = {v: i + 1 for i, v in enumerate(order)}
    by_name = {r.name: r.importance for r in table.rows}
    extra = [v for v in ranked if v not in set(variables)]
    intervals = None
    if not extra:
        intervals = _rank_intervals(path)
    return _Retraining(
        path,
        np.array([by_name[v] for v in variables], dtype=np.float64),
        np.array([position[v] for v in variables], dtype=np.int64),
        intervals,
        extra,
    )


def _rank_intervals(results: Path) -> dict[str, list[float]] | None:
    """The 68 % rank intervals of ``calculate``'s JSON beside the results file, if any."""
    json_path = results.with_name(
        results.name.replace("VariableImportanceResults_", "VariableImportance_")
    ).with_suffix(".json")
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
        return {
            str(r["variable"]): [float(x) for x in r["rank_ci68"]]
            for r in doc["variables"]
            if r.get("rank_ci68")
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None


def explain(request: ExplainRequest, reporter: Reporter) -> ExplainOutcome:
    """Run ``fourtop explain`` (see the module documentation).

    Raises:
        ModelError: not a (complete) final folder, or one trained with another configuration.
        ParameterError: an unknown or unusable method, bad numbers, an unknown plot format.
        ResultsError: a results file that does not rank the model's variables.
        ConfigError, DataError: the data cannot be loaded.
        OutputError: the output exists (and is not to be replaced) or cannot be written.
        JobFolderError: another run writes the same output.
    """
    from fourtop.data.config import load_config
    from fourtop.final.model import load_final_model
    from fourtop.jobs.lock import hold
    from fourtop.splits import Split
    from fourtop.staging import check_output_folder

    _check(request)
    formats = check_formats(request.plot_formats, "--plot-format")
    notes: list[str] = []
    model = load_final_model(request.final_folder)
    # the PyTorch models are what explain runs (not the ONNX ones): each read once, checked
    # against the card
    nets = [model.torch_net(fold) for fold in range(model.k)]
    config = load_config(request.config)
    model.check_config(config)
    key = request.year or model.dataset
    config.files(key, Split.FINAL)  # an unknown key: refused before anything is made
    methods = _methods(request, nets[0].activation, notes)
    if not methods:
        raise ParameterError("no method left to run (see the notes above)")
    retraining = _retraining(request.results, model.variables) if request.results else None
    output = Path(request.output) if request.output else model.folder / OUTPUT_DIR
    outputs.check_output(
        output,
        model.folder,
        default=model.folder / OUTPUT_DIR,
        keep=[retraining.path] if retraining is not None else [],
    )
    if retraining is not None and retraining.extra:
        notes.append(
            f"{retraining.path} ranks {len(retraining.extra)} variable(s) the model does not "
            "use; the comparison ranks the model's variables among themselves"
        )
    if key != model.dataset:
        notes.append(
            f"dataset {key}: the models were trained on {model.dataset}; none of these events "
            "was seen in training"
        )
    check_output_folder(output.parent)  # a pseudo file system, a name too long: fail now
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot make {describe_os_error(exc, output.parent)}") from None
    with hold(output.parent / f".{output.name}.lock", str(output), what="fourtop explain"):
        notes += outputs.recover(output)
        for note in notes:
            reporter.note(note)
        if output.exists() and not reporter.confirm(f"{output} exists: replace it?"):
            raise OutputError(f"{output} exists (pass --yes to replace it, or -f another folder)")
        with outputs.replace_folder(output) as aside:  # made now: an unusable place fails early
            doc, arrays = _run(request, reporter, model, nets, config, key, methods, retraining)
            with reporter.status("writing the plots"):
                outputs.write_npz(aside, arrays)
                doc["plots"] = outputs.write_plots(aside, doc, arrays, formats)
                outputs.write_csv(aside, doc)
                outputs.write_json(aside, doc)
    return ExplainOutcome(output, doc)


def _run(
    request: ExplainRequest,
    reporter: Reporter,
    model: Any,
    scoring: list[Any],
    config: Any,
    key: str,
    methods: list[str],
    retraining: _Retraining | None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    import torch

    from fourtop.data.correlation import correlation_matrix
    from fourtop.data.ntuples import load_split
    from fourtop.explain import methods as run
    from fourtop.explain.network import logit_net
    from fourtop.jobs.draw import correlated_groups
    from fourtop.splits import Split

    rng = np.random.default_rng(request.random_seed)
    torch.manual_seed(request.random_seed)
    with reporter.status(f"loading the final-training events of {key}"):
        data = load_split(config, key, Split.FINAL, event_keys=True)
    variables = model.variables
    events = run.held_out(data, variables, model.k, request.events, rng)
    # on every loaded event, as submit -c does: not only the drawn ones
    corr = correlation_matrix(data, list(variables))
    groups = correlated_groups(corr, variables, request.correlation)
    index = {v: i for i, v in enumerate(variables)}
    nets = [logit_net(net) for net in scoring]
    reporter.note(
        f"explaining {model.folder} ({model.k} folds, {len(variables)} variables) on "
        f"{len(events)} held-out events of {key} ({int(events.y.sum())} signal): "
        + ", ".join(methods)
    )
    base = run.base_roc(nets, events)
    odd = [(f, v) for f, v in enumerate(base.per_fold) if not 0.5 <= v <= 1.0]
    if odd:
        fold, value = odd[0]
        raise DataError(
            f"fold {fold}: ROC integral {value:.4f} on its {int((events.fold == fold).sum())} "
            "held-out events, outside [0.5, 1]: too few events for their negative weights "
            "(more --events?), or a model no better than chance"
        )
    cache: dict[Shuffle, Estimate] = {}

    def drop(shuffle: Shuffle) -> Estimate:
        shuffle = tuple(sorted(shuffle))  # independent blocks: their order does not matter
        if shuffle not in cache:
            ((estimate, _),) = run.permutation(
                nets, events, base, [shuffle], request.repeats, request.random_seed
            )
            cache[shuffle] = estimate
        return cache[shuffle]

    n_vars = len(variables)
    singles: list[Shuffle] = [((j,),) for j in range(n_vars)]
    group_shuffles: list[Shuffle] = [(tuple(index[v] for v in g),) for g in groups]
    steps = (len(singles) + len(group_shuffles)) * model.k * ("permutation" in methods)
    steps += model.k * sum(m != "permutation" for m in methods)
    results: dict[str, list[Estimate]] = {}
    spreads: list[float] = []
    group_results: list[tuple[Estimate, float]] = []
    arrays: dict[str, np.ndarray] = {
        "variables": np.array(variables),
        "x": events.x,
        "label": events.y.astype(np.int8),
        "weight": events.w,
        "fold": events.fold.astype(np.int16),
        "key": events.key,
    }
    with reporter.progress(steps) as progress:

        def tick(count: int, what: str = "step") -> None:
            progress([what] * count, [])

        if "permutation" in methods:
            found = run.permutation(
                nets,
                events,
                base,
                singles + group_shuffles,
                request.repeats,
                request.random_seed,
                progress=lambda n: tick(n, "permutation"),
            )
            results["permutation"] = [e for e, _ in found[:n_vars]]
            spreads = [s for _, s in found[:n_vars]]
            group_results = found[n_vars:]
            cache.update(zip(singles, results["permutation"], strict=True))
        for m in methods:
            if m == "permutation":
                continue
            values, estimates = run.attributions(
                m, scoring, events, rng, progress=lambda n, m=m: tick(n, m)
            )
            arrays[m] = values
            results[m] = estimates
    values = {m: [e.value for e in results[m]] for m in methods}
    with reporter.status("comparing"):
        separation = run.single_separation(events)
        method_ranks = {m: compare.ranks(values[m]) for m in methods}
        comparison = None
        if retraining is not None:
            single = results.get("permutation") or [drop(s) for s in singles]
            comparison = {
                "results_file": str(retraining.path),
                "spearman": {
                    m: dict(
                        zip(
                            ("rho", "p_value"),
                            compare.spearman(retraining.importance, values[m]),
                            strict=True,
                        )
                    )
                    for m in methods
                },
                "disagreements": [
                    d.to_dict()
                    for d in compare.disagreements(
                        variables,
                        retraining.ranks,
                        method_ranks,
                        corr=corr,
                        threshold=request.correlation,
                        separation=separation,
                        drop=drop,
                        single=single,
                        rank_intervals=retraining.intervals,
                        credited=retraining.importance > 0,
                    )
                ],
            }
    records = []
    for j, name in enumerate(variables):
        rec: dict[str, Any] = {"variable": name, "index": j + 1}
        for m in methods:
            rec[m] = {**results[m][j].to_dict(), "rank": int(method_ranks[m][j])}
        if "permutation" in methods:
            rec["permutation"]["repeat_spread"] = spreads[j]
        rec["separation"] = float(separation[j])
        if retraining is not None:
            rec["retraining"] = {
                "importance": float(retraining.importance[j]),
                "rank": int(retraining.ranks[j]),
            }
        records.append(rec)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fourtop_version": __version__,
        "created": datetime.now().isoformat(timespec="seconds"),
        "final_folder": str(model.folder.resolve()),
        "dataset": key,
        "config": {"path": str(config.path), "fingerprint": model.fingerprint},
        "k": model.k,
        "methods": methods,
        "settings": {
            "events_requested": request.events,
            "repeats": request.repeats,
            "correlation": request.correlation,
            "random_seed": request.random_seed,
            "shap_background_events": BACKGROUND_EVENTS,
            "ig_steps": IG_STEPS,
            "ig_baseline": "each fold's training mean (the standardized origin)",
            "attribution_target": "the logit (before the sigmoid)",
            "uncertainty": "standard error of the mean over the folds",
        },
        "events": {
            "total": len(events),
            "signal": int(events.y.sum()),
            "background": int((~events.y).sum()),
            "per_fold": [int((events.fold == f).sum()) for f in range(model.k)],
        },
        "roc_integral": base.to_dict(),
        "method_correlation": {
            a: {b: compare.spearman(values[a], values[b])[0] for b in methods} for a in methods
        },
        "variables": records,
        "groups": [
            {
                "variables": g,
                "permutation": (
                    {**group_results[i][0].to_dict(), "repeat_spread": group_results[i][1]}
                    if group_results
                    else None
                ),
            }
            for i, g in enumerate(groups)
        ],
        "comparison": comparison,
    }
    return doc, arrays
