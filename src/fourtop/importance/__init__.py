"""Variable importance from seed/subseed ROC integrals: statistics, result files, plots.

Public API:

* :func:`compute_importance`, :func:`bootstrap` and :class:`JobResult` (``stats``): the
  original's statistics on plain records, plus bootstrap intervals;
* :func:`collect_results`, :func:`open_folders`, :func:`unreadable_jobs` (``collect``):
  records from job folders and compacted ``.jtd`` files;
* :func:`prepare_calculation`, :func:`import_question` (``request``): the checks before any
  folder is read;
* :func:`calculate` (``calculation``): everything ``fourtop calculate`` writes;
* :func:`ranking` (``ranking``): what ``fourtop calculate`` shows, as rows of text;
* :func:`estimate_stability` (``stability``): how settled the top of the ranking is, and
  the seeds estimated to settle it;
* :func:`read_results` (``results``): a results file read back, also the original's.
"""

from __future__ import annotations

from fourtop.importance.calculation import CalculationOutput, calculate
from fourtop.importance.collect import collect_results, open_folders, unreadable_jobs
from fourtop.importance.ranking import Ranking, ranking
from fourtop.importance.request import CalculationRequest, import_question, prepare_calculation
from fourtop.importance.results import ResultRow, ResultsTable, read_results
from fourtop.importance.stability import Stability, estimate_stability
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
    "CalculationRequest",
    "ImportanceTable",
    "JobResult",
    "Ranking",
    "ResultRow",
    "ResultsTable",
    "Stability",
    "VariableStats",
    "bootstrap",
    "calculate",
    "collect_results",
    "compute_importance",
    "estimate_stability",
    "import_question",
    "open_folders",
    "prepare_calculation",
    "ranking",
    "read_results",
    "unreadable_jobs",
]
