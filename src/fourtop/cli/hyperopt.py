"""``fourtop hyperopt``: Bayesian hyperparameter optimization (the original ``hyperopt.py``)."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fourtop.cli._common import (
    RANDOM_SEED_MAX,
    add_config,
    add_plot_format,
    add_verbose,
    add_year,
    nonempty,
    out,
    random_seed,
)
from fourtop.cli._console import say
from fourtop.errors import ResultsError
from fourtop.splits import Split

if TYPE_CHECKING:
    from fourtop.hyperopt.params import HyperoptParameters
    from fourtop.hyperopt.search import TrialRecord

HELP = "tune the network's hyperparameters on the top variables (Bayesian optimization)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_verbose(parser)
    parser.add_argument(
        "-o",
        "--sort-order",
        default="importance",
        metavar="ORDER",
        help="column of the results file to sort by (importance, freq, sum, mean, rms; "
        "default importance), or a file of variable names taken as sorted",
    )
    parser.add_argument(
        "--sort-increasing",
        action="store_true",
        help="sort the column in increasing order (the intuitive choice for rms)",
    )
    parser.add_argument(
        "-n",
        "--num-vars",
        default=None,
        metavar="N|A-B",
        help="use the first N sorted variables, or positions A to B (1-based, inclusive); "
        "default all",
    )
    add_year(parser)
    parser.add_argument(
        "-p",
        "--parameters",
        type=nonempty,
        default=None,
        metavar="JSON",
        help="JSON file updating the parameters and search space (see docs/hyperopt.md); "
        "a parameters_<tag>.json written by an earlier run resumes that run",
    )
    parser.add_argument(
        "--tag",
        default=None,
        help="tag of the output files (default <day>.<Mon>.<year>_<hour>); an existing tag "
        "resumes its study",
    )
    add_config(parser)
    parser.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="where to train (default auto: a GPU if there is one)",
    )
    parser.add_argument(
        "--random-seed",
        type=random_seed,
        default=0,
        help="seeds every training's split and initial weights, and the search "
        f"(0 to {RANDOM_SEED_MAX}; default 0)",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also train the original default network on the same variables and split, "
        "and report its ROC integral next to the best one",
    )
    add_plot_format(parser, "the history plot optimize_history_<tag>")
    parser.add_argument(
        "dataset",
        type=nonempty,
        metavar="DATASET_FOLDER",
        help="dataset folder with the importance results",
    )


def run(args: argparse.Namespace) -> int:
    from fourtop.data.config import load_config
    from fourtop.hyperopt.lock import TagLock
    from fourtop.hyperopt.outputs import HyperoptFiles, check_writable
    from fourtop.hyperopt.params import load_parameters
    from fourtop.hyperopt.selection import select_variables
    from fourtop.train.device import resolve_device

    folder = Path(args.dataset)
    if not folder.is_dir():
        raise ResultsError(f"{folder}: dataset folder not found")
    config = load_config(args.config)
    config.files(
        args.year, Split.OPTIMIZATION
    )  # an unknown dataset key fails here, before any work
    selection = select_variables(
        folder,
        args.sort_order,
        increasing=args.sort_increasing,
        count=args.num_vars,
        known=config.variable_names(),
    )
    variables = selection.variables
    params = load_parameters(
        args.parameters, len(variables), tag=args.tag, plot_formats=args.plot_format
    )
    # every file this run writes, and the device, checked before any data is read
    files = HyperoptFiles.for_tag(folder, params)
    check_writable(files)
    resolve_device(args.device)
    with TagLock(files.lock, tag=params.tag):  # another run on this tag: say so now
        pass

    first, last = selection.positions
    say(
        f"Variables {first}-{last} by {selection.order} from {selection.source}: "
        + ", ".join(variables)
    )
    say(
        f"Tag {params.tag}: {params.n_calls} trainings ({params.n_starts} random), "
        f"up to {params.epochs} epochs, patience {params.patience}; dataset {args.year} split 1"
    )

    import optuna

    from fourtop.hyperopt.objective import load_optimization_data, training_objective
    from fourtop.hyperopt.search import run_hyperopt

    # Optuna's own messages (study created, sampler fallbacks) only in verbose mode.
    optuna.logging.set_verbosity(logging.INFO if args.verbose else logging.ERROR)

    start = time.perf_counter()
    _, data = load_optimization_data(args.config, args.year)
    objective = training_objective(data, random_seed=args.random_seed, device=args.device)
    notes = {}
    if args.baseline:
        from fourtop.train.params import NetworkParams

        baseline = objective(NetworkParams().to_dict(), list(variables)).roc_integral
        say(f"Original default network: ROC-integral {baseline:.4f}")
        notes["baseline_roc_integral"] = baseline
    result = run_hyperopt(
        folder,
        variables,
        params,
        objective,
        seed=args.random_seed,
        context={"year": args.year, "config": config.fingerprint()},
        notes=notes,
        on_trial=_progress,
    )
    if result.resumed_from:
        say(f"(resumed after {result.resumed_from} trainings of an earlier run)")
    best = result.best
    out.print(
        f"Best ROC-integral {best.roc_integral:.4f} (training {best.call} of "
        f"{len(result.records)}) in {time.perf_counter() - start:.0f} s"
        + (f"; original default network {notes['baseline_roc_integral']:.4f}" if notes else ""),
        soft_wrap=True,
    )
    for path in result.files.outputs():
        if path.exists():
            out.print(f"  {path}", soft_wrap=True, markup=False, highlight=False)
    return 0


def _progress(record: TrialRecord, params: HyperoptParameters) -> None:
    """One line per training: its point, its ROC integral and the best so far."""
    hp = {**params.fixed, **record.hyperparameters}
    point = (
        f"layers={hp['hidden_layers']} nodes={hp['initial_nodes']} {hp['node_pattern']} "
        f"batch={2 ** int(hp['batch_power'])} lr={hp['learning_rate']:.2e} "
        f"reg={hp['regulator']} act={hp['activation_function']}"
    )
    width = len(str(params.n_calls))
    head = f"[{record.call:>{width}}/{params.n_calls}]"
    if record.roc_integral is None:
        result = f"failed: {record.error}"
    else:
        result = f"ROC {record.roc_integral:.4f}"
    best = "" if record.best_roc is None else f"  best {record.best_roc:.4f} (#{record.best_call})"
    say(f"{head} {point}  {result}{best}  {record.seconds:.1f} s")
