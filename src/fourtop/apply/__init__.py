"""``fourtop apply``: score every ntuple of a dataset with a final folder's fold models.

Modules: :mod:`~fourtop.apply.plan` (the input files, their outputs and job names; the plan
file), :mod:`~fourtop.apply.scoring` (one file scored: friend tree or copy, in chunks),
:mod:`~fourtop.apply.record` (what an output records; complete or not),
:mod:`~fourtop.apply.task` (the task kind ``apply``: one job per file, on any backend),
:mod:`~fourtop.apply.hists` (score histograms per sample: ROOT file and stacked plot) and
:mod:`~fourtop.apply.workflow` (the whole command). See docs/apply.md.
"""

from fourtop.apply.plan import SAMPLE_CHOICES, ApplyPlan, InputFile, plan_files
from fourtop.apply.workflow import ApplyOutcome, ApplyRequest, apply

__all__ = [
    "SAMPLE_CHOICES",
    "ApplyOutcome",
    "ApplyPlan",
    "ApplyRequest",
    "InputFile",
    "apply",
    "plan_files",
]
