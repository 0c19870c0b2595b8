"""``fourtop explain``: what the final networks use, beside the retraining ranking.

The workflow is :mod:`fourtop.explain.workflow`; this module parses the options and prints
what the library reports.
"""

from __future__ import annotations

import argparse

from fourtop.cli._common import (
    add_config,
    add_plot_format,
    add_verbose,
    add_yes,
    at_least,
    nonempty,
    random_seed,
)
from fourtop.cli._console import out, say
from fourtop.cli._progress import training_progress
from fourtop.cli.submit import CliReporter

HELP = (
    "explain a final folder's networks: permutation importance, SHAP, integrated gradients, "
    "LRP on held-out events, compared with the calculate ranking"
)


def methods(text: str) -> list[str]:
    """``--methods``: argparse turns an unknown name into a usage line."""
    from fourtop.errors import ParameterError
    from fourtop.explain.workflow import parse_methods

    try:
        return parse_methods(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--methods: ")) from None


def percent(text: str) -> float:
    """``-c``: a correlation in percent, 1 to 100."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a percentage") from None
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"{value:g}: expected a percentage in (0, 100]")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fourtop.explain.workflow import DEFAULT_EVENTS, DEFAULT_REPEATS, MIN_EVENTS

    add_verbose(parser)
    add = parser.add_argument
    add(
        "final_folder", type=nonempty, metavar="FINAL_FOLDER", help="a folder made by fourtop final"
    )
    add(
        "-y",
        "--year",
        type=nonempty,
        default=None,
        help="dataset key whose final-training events are explained (default: the models')",
    )
    add_config(parser)
    add(
        "--results",
        type=nonempty,
        default=None,
        metavar="DATASET",
        help="a dataset folder (or results file) of fourtop calculate: compare with its ranking",
    )
    add(
        "--methods",
        type=methods,
        default=None,
        metavar="LIST",
        help="comma-separated: permutation,shap,ig,lrp (default: all that apply)",
    )
    add(
        "--events",
        type=at_least(MIN_EVENTS),
        default=DEFAULT_EVENTS,
        metavar="N",
        help=f"held-out events drawn at random, at least {MIN_EVENTS} (default "
        f"{DEFAULT_EVENTS}; all if there are fewer)",
    )
    add(
        "--repeats",
        type=at_least(2),
        default=DEFAULT_REPEATS,
        help=f"shuffles per variable and fold, at least 2 (default {DEFAULT_REPEATS})",
    )
    add(
        "-c",
        "--correlation",
        type=percent,
        default=80.0,
        help="absolute correlation (percent) making variables a correlated group or pair "
        "(default 80, as submit)",
    )
    add(
        "-f",
        "--folder",
        type=nonempty,
        default=None,
        metavar="OUTPUT",
        help="output folder (default FINAL_FOLDER/explain); an existing one is replaced",
    )
    add(
        "--random-seed",
        type=random_seed,
        default=1,
        help="seed of the draws and shuffles (default 1)",
    )
    add_plot_format(parser)
    add_yes(parser)


def run(args: argparse.Namespace) -> int:
    from fourtop.explain.workflow import ExplainRequest, explain
    from fourtop.plotting import describe_formats

    request = ExplainRequest(
        final_folder=args.final_folder,
        year=args.year,
        config=args.config,
        results=args.results,
        methods=args.methods,
        events=args.events,
        output=args.folder,
        repeats=args.repeats,
        correlation=args.correlation / 100.0,
        random_seed=args.random_seed,
        plot_formats=args.plot_format,
    )
    outcome = explain(request, _Reporter(args.yes))
    doc = outcome.doc
    roc = doc["roc_integral"]
    out.print(
        f"ROC-integral on these events {roc['value']:.4f} +- {roc['uncertainty']:.4f}",
        markup=False,
    )
    records = doc["variables"]
    for m in doc["methods"]:
        top = sorted(records, key=lambda r: r[m]["rank"])[:5]
        out.print(
            f"{m}: top " + ", ".join(r["variable"] for r in top), markup=False, soft_wrap=True
        )
    groups = [g for g in doc["groups"] if g["permutation"] is not None]
    if groups:
        g = max(groups, key=lambda g: g["permutation"]["value"])
        e = g["permutation"]
        out.print(
            f"{len(groups)} correlated group(s) shuffled together; the largest drop "
            f"{e['value']:.4f} +- {e['uncertainty']:.4f}: {_names(g['variables'])}",
            markup=False,
            soft_wrap=True,
        )
    comparison = doc.get("comparison")
    if comparison:
        rhos = ", ".join(
            f"{m} {v['rho']:+.2f}" if v["rho"] == v["rho"] else f"{m} undefined"
            for m, v in comparison["spearman"].items()
        )
        out.print(
            f"Spearman rank correlation with {comparison['results_file']}: {rhos}",
            markup=False,
            soft_wrap=True,
        )
        shown = comparison["disagreements"][:5]
        if shown:
            out.print(
                f"the largest disagreements ({len(shown)} of "
                f"{len(comparison['disagreements'])}; all in explain.json):",
                markup=False,
            )
        for d in shown:
            out.print(
                f"  {d['variable']} (retraining rank {d['retraining_rank']}): {d['text']}",
                markup=False,
                soft_wrap=True,
            )
    say(
        f"{outcome.output}: explain.json, explain.csv, attributions.npz, plots "
        + ", ".join(doc["plots"])
        + " "
        + describe_formats(args.plot_format)
    )
    return 0


def _names(names: list[str], most: int = 6) -> str:
    """Up to ``most`` names, then how many more."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


class _Reporter(CliReporter):
    """Counts the explanation's steps."""

    def progress(self, total: int):
        return training_progress(total, "explaining", "steps", counts=False)
