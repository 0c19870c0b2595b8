"""``fourtop final``: k-fold training of the chosen network on the final-training split.

The workflow is :mod:`fourtop.final.workflow`; this module parses the options and prints
what the library reports.
"""

from __future__ import annotations

import argparse
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from fourtop.cli._common import (
    JobsFailed,
    add_config,
    add_plot_format,
    add_verbose,
    add_yes,
    backend_options,
    nonempty,
    positive_int,
    random_seed,
)
from fourtop.cli._console import out, say
from fourtop.cli._progress import training_progress
from fourtop.cli.submit import CliReporter

if TYPE_CHECKING:
    from fourtop.backends.base import ProgressCallback


def fold_count(text: str) -> int:
    """``-k``: a whole number from 2 to 100 (argparse turns the error into a usage line)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of folds") from None
    if not 2 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value}: the number of folds must be 2 to 100")
    return value


HELP = "train the final classifier with k-fold cross-validation; ONNX models and a model card"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_verbose(parser)
    add = parser.add_argument
    add(
        "datasets",
        nargs="*",
        type=nonempty,
        metavar="DATASET",
        help="dataset folders with hyperopt's optimized_parameters_*.json (default: dataset*)",
    )
    add(
        "-y",
        "--year",
        type=nonempty,
        default=None,
        help="dataset key in the configuration (default 2017)",
    )
    add_config(parser)
    add(
        "-k",
        "--folds",
        type=fold_count,
        default=None,
        metavar="K",
        help="folds, 2 to 100 (default 5)",
    )
    add(
        "-n",
        "--num-vars",
        type=nonempty,
        default=None,
        metavar="N",
        help="train on the top N variables of the calculate results (or positions A-B) "
        "instead of a hyperopt result; the network from --params",
    )
    add(
        "--params",
        type=nonempty,
        metavar="JSON",
        default=None,
        help="network hyperparameters: a JSON file or an inline JSON object (with -n: the "
        "network, default the original one; else: overrides the optimized values)",
    )
    add("--epochs", type=positive_int, default=None, help="training epochs (overrides the rest)")
    add(
        "-f",
        "--folder",
        type=nonempty,
        default=None,
        help="the final folder (default final_<day>.<Mon>.<year>); an existing one is finished",
    )
    add(
        "--backend",
        default="local",
        help="where the folds train: local (default, a process pool), condor, slurm",
    )
    add(
        "-p",
        "--processes",
        type=int,
        default=2,
        metavar="N",
        help="local backend: folds trained at once (default 2)",
    )
    add(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option, repeatable (see docs/batch.md)",
    )
    add("--device", default="auto", choices=["auto", "cpu", "cuda"], help="training device")
    add(
        "--random-seed",
        type=random_seed,
        default=None,
        help="seed of the trainings (0 to 2**32-1; default: drawn, saved in the card)",
    )
    add_plot_format(parser, "the plots roc_folds, overtraining, training_history")
    add_yes(parser)


def run(args: argparse.Namespace) -> int:
    from fourtop.final.model import PLAN_FILE
    from fourtop.final.workflow import FinalRequest, final
    from fourtop.plotting import describe_formats
    from fourtop.train.params import read_params

    datasets = list(args.datasets)
    resuming = args.folder is not None and Path(args.folder, PLAN_FILE).exists()
    if not datasets and not resuming:
        datasets = [str(p) for p in sorted(Path.cwd().glob("dataset*")) if p.is_dir()]
    request = FinalRequest(
        datasets=datasets,
        year=args.year,
        config=args.config,
        k=args.folds,
        count=args.num_vars,
        params=read_params(args.params),
        epochs=args.epochs,
        folder=args.folder,
        backend=args.backend,
        processes=args.processes,
        device=args.device,
        random_seed=args.random_seed,
        options=backend_options(args.option),
        yes=args.yes,
        plot_formats=args.plot_format,
    )
    outcome = final(request, _FoldReporter(args.yes))
    card = outcome.card
    if card is None:
        if outcome.failed:
            raise JobsFailed(
                f"{len(outcome.failed)} fold(s) failed; run 'fourtop final -f {outcome.folder}' "
                "to train them again (a fold that fails the same way every time needs other "
                "settings: start a new final folder)"
            )
        return 0
    say(f"{outcome.folder}: {card['k']} folds trained")
    for f in card["folds"]:
        out.print(
            f"fold {f['fold']}: ROC-integral {f['roc_integral']:.4f}, accuracy "
            f"{f['accuracy']:.3f}, KS p signal {f['ks_pvalue_signal']:.2f} "
            f"background {f['ks_pvalue_background']:.2f}",
            markup=False,
        )
    mean, std = card["mean"], card["std"]
    out.print(
        f"ROC-integral {mean['roc_integral']:.4f} +- {std['roc_integral']:.4f} (mean +- std of "
        f"{card['k']} folds)",
        markup=False,
    )
    say(
        f"model card {outcome.folder}/model_card.json, summary final_summary.txt, models "
        "model_fold<i>.onnx / .pt, plots roc_folds, overtraining, training_history "
        + describe_formats(args.plot_format)
    )
    return 0


class _FoldReporter(CliReporter):
    """Counts folds, not jobs."""

    def progress(self, total: int) -> AbstractContextManager[ProgressCallback]:
        return training_progress(total, "training", "folds")
