"""One call from job results to every output file of ``fourtop calculate``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from fourtop.errors import ResultsError
from fourtop.importance.results import (
    order_filename,
    results_filename,
    write_extras,
    write_order,
    write_results,
)
from fourtop.importance.rootfile import roc_hists_filename, write_roc_hists
from fourtop.importance.stats import (
    ImportanceTable,
    JobResult,
    VariableStats,
    bootstrap,
    compute_importance,
)

__all__ = ["CalculationOutput", "calculate"]

log = logging.getLogger(__name__)


@dataclass
class CalculationOutput:
    """What :func:`calculate` computed and wrote."""

    table: ImportanceTable
    rows: list[VariableStats]
    files: dict[str, Path] = field(default_factory=dict)


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
    today: date | None = None,
) -> CalculationOutput:
    """Compute the statistics and write the result files into ``output_dir``.

    Writes ``VariableImportanceResults_<N>vars.txt``, ``VariableImportanceOrder_<N>vars.txt``,
    ``ROC_hists_<N>vars.root``, ``VariableImportance_<N>vars.json`` and ``.csv`` and (with
    ``plots``) ``VariableImportanceRanking_<N>vars.png`` and ``ROC_differences_<N>vars.png``.
    Nothing is written when the statistics cannot be computed.

    Raises:
        ResultsError: unknown sort key, no results, or an output path that is not a folder.
    """
    table = compute_importance(results)
    rows = table.ordered(sort_key, increasing)  # validates the key before writing anything
    bootstrap(table, n_boot=n_boot, rng_seed=rng_seed)
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ResultsError(f"{out}: exists and is not a folder; choose another -f")
    out.mkdir(parents=True, exist_ok=True)
    n = len(table.variables)
    files = {
        "results": write_results(
            out / results_filename(n),
            table,
            rows,
            weight=weight,
            cut=cut,
            folders=[str(f) for f in folders],
            today=today,
        ),
        "order": write_order(out / order_filename(n), rows),
        "roc_hists": write_roc_hists(out / roc_hists_filename(n), rows),
    }
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
    files["json"], files["csv"] = write_extras(
        out / f"VariableImportance_{n}vars.json",
        out / f"VariableImportance_{n}vars.csv",
        table,
        rows,
        meta=meta,
    )
    if plots:
        from fourtop.importance.plots import plot_differences, plot_ranking

        by_importance = table.ordered("importance")
        label = f"{table.counts['families']} seeds"
        files["ranking_png"] = plot_ranking(
            out / f"VariableImportanceRanking_{n}vars.png", by_importance, title=label
        )
        files["differences_png"] = plot_differences(
            out / f"ROC_differences_{n}vars.png", by_importance, title=label
        )
    for kind, path in files.items():
        log.info("wrote %s: %s", kind, path)
    return CalculationOutput(table, rows, files)
