"""One call from job results to every output file of ``fourtop calculate``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from fourtop.errors import OutputError
from fourtop.importance.results import (
    order_filename,
    results_filename,
    write_extras,
    write_order,
    write_results,
)
from fourtop.importance.rootfile import roc_hists_filename, write_roc_hists
from fourtop.importance.stability import (
    DEFAULT_TARGET_WIDTH,
    STABILITY_TOP,
    Stability,
    check_target_width,
    estimate_stability,
)
from fourtop.importance.stats import (
    ImportanceTable,
    JobResult,
    VariableStats,
    bootstrap,
    compute_importance,
)
from fourtop.plotting import FORMATS, check_formats, remove_other_formats
from fourtop.staging import clean_leftovers, staged_output

__all__ = ["CalculationOutput", "calculate"]

log = logging.getLogger(__name__)


@dataclass
class CalculationOutput:
    """What :func:`calculate` computed and wrote (``stability``: how settled the top of
    the ranking is, :mod:`fourtop.importance.stability`)."""

    table: ImportanceTable
    rows: list[VariableStats]
    files: dict[str, Path] = field(default_factory=dict)
    stability: Stability | None = None


def calculate(
    results: Sequence[JobResult],
    output_dir: str | Path,
    *,
    sort_key: str = "importance",
    increasing: bool = False,
    weight: str = "",
    cut: str = "",
    folders: Sequence[str | Path] = (),
    n_boot: int = 1000,
    rng_seed: int = 20200617,
    plots: bool = True,
    plot_formats: Sequence[str] = FORMATS,
    today: date | None = None,
    target_width: float = DEFAULT_TARGET_WIDTH,
    stability_top: int = STABILITY_TOP,
) -> CalculationOutput:
    """Compute the statistics and write the result files into ``output_dir``.

    Writes ``VariableImportanceResults_<N>vars.txt``, ``VariableImportanceOrder_<N>vars.txt``,
    ``ROC_hists_<N>vars.root``, ``VariableImportance_<N>vars.json`` and ``.csv`` and (with
    ``plots``) ``VariableImportanceRanking_<N>vars`` and ``ROC_differences_<N>vars`` in each of
    ``plot_formats`` (``.png`` and ``.pdf`` by default; a plot of an earlier run in a format
    left out is removed, as it would show other results). The keys of
    :attr:`CalculationOutput.files` are ``results``, ``order``, ``roc_hists``, ``json``,
    ``csv``, ``ranking_<format>`` and ``differences_<format>``.
    Nothing is written when the statistics cannot be computed. The files are written into a
    staging folder and moved into ``output_dir`` only when all of them are complete, so a
    failure (full disk, unwritable folder) or an interrupt leaves ``output_dir`` as it was;
    what killed runs left there is cleaned (:func:`fourtop.staging.clean_leftovers`).

    The stability of the top ``stability_top`` variables and the seeds estimated to make
    their 68 % rank intervals no wider than ``target_width``
    (:func:`~fourtop.importance.stability.estimate_stability`) go into the JSON (key
    ``stability``) and the CSV (columns ``rank_ci68_width``, ``predicted_rank_ci68_width``).

    Raises:
        ResultsError: unknown sort key, no results, too many bootstrap replicates, or a
            target width that is not above 0.
        ParameterError: an unknown plot format.
        OutputError: an output path that is not a folder, or a file that cannot be written
            (the message says why, e.g. no space left on device).
    """
    target_width = check_target_width(target_width)
    plot_formats = check_formats(plot_formats)
    table = compute_importance(results)
    rows = table.ordered(sort_key, increasing)  # validates the key before writing anything
    bootstrap(table, n_boot=n_boot, rng_seed=rng_seed)
    stability = estimate_stability(
        table, target_width=target_width, top=stability_top, n_boot=n_boot, rng_seed=rng_seed
    )
    out = Path(output_dir).absolute()
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; choose another -f")
    clean_leftovers(out)
    n = len(table.variables)
    meta = {
        "sort_key": sort_key,
        "increasing": increasing,
        "weight": weight,
        "cut": cut,
        "folders": [str(f) for f in folders],
        "n_bootstrap": n_boot,
        "bootstrap_rng_seed": rng_seed,
        "date": (today or date.today()).isoformat(),
    }
    names = {
        "results": results_filename(n),
        "order": order_filename(n),
        "roc_hists": roc_hists_filename(n),
        "json": f"VariableImportance_{n}vars.json",
        "csv": f"VariableImportance_{n}vars.csv",
    }
    stems = {
        "ranking": f"VariableImportanceRanking_{n}vars",
        "differences": f"ROC_differences_{n}vars",
    }
    if plots:
        for kind, stem in stems.items():
            names.update({f"{kind}_{ext}": f"{stem}.{ext}" for ext in plot_formats})
    # every file is written aside and moved in only when all are complete
    with staged_output(out) as stage:
        at = {kind: stage.path(name) for kind, name in names.items()}
        write_results(
            at["results"],
            table,
            rows,
            weight=weight,
            cut=cut,
            folders=[str(f) for f in folders],
            today=today,
        )
        write_order(at["order"], rows)
        write_roc_hists(at["roc_hists"], rows)
        write_extras(at["json"], at["csv"], table, rows, meta=meta, stability=stability)
        if plots:
            from fourtop.importance.plots import plot_differences, plot_ranking

            by_importance = table.ordered("importance")
            label = f"{table.counts['families']} seeds"
            for draw, kind in ((plot_ranking, "ranking"), (plot_differences, "differences")):
                # (the files are the staged ``at[f"{kind}_<format>"]``)
                draw(stage.dir, stems[kind], by_importance, title=label, formats=plot_formats)
    if plots:  # an earlier run's plot in a format not written now would show other results
        for stem in stems.values():
            for path in remove_other_formats(out, stem, plot_formats):
                log.info("removed the earlier %s", path)
    files = {kind: out / name for kind, name in names.items()}
    for kind, path in files.items():
        log.info("wrote %s: %s", kind, path)
    return CalculationOutput(table, rows, files, stability)
