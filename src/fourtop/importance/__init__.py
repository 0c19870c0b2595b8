"""Variable importance from seed/subseed ROC integrals: statistics, result files, plots.

Public API:

* :func:`compute_importance`, :func:`bootstrap` and :class:`JobResult` (``stats``): the
  original's statistics on plain records, plus bootstrap intervals;
* :func:`collect_results`, :func:`open_folders` (``collect``): records from job folders
  and compacted ``.jtd`` files;
* :func:`calculate` (``calculation``): everything ``fourtop calculate`` writes;
* :func:`read_results` (``results``): a results file read back, also the original's.
"""

from __future__ import annotations

from fourtop.importance.calculation import CalculationOutput, calculate
from fourtop.importance.collect import collect_results, open_folders
from fourtop.importance.results import ResultRow, ResultsTable, read_results
from fourtop.importance.stats import (
    SORT_KEYS,
    ImportanceTable,
    JobResult,
    VariableStats,
    bootstrap,
    compute_importance,
)

__all__ = [
    "SORT_KEYS",
    "CalculationOutput",
    "ImportanceTable",
    "JobResult",
    "ResultRow",
    "ResultsTable",
    "VariableStats",
    "bootstrap",
    "calculate",
    "collect_results",
    "compute_importance",
    "open_folders",
    "read_results",
]
