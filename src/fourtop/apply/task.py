"""The task kind ``apply``: one job per input file, on any backend.

A job scores one input file (:func:`fourtop.apply.scoring.score_file`) and writes its
``.out`` (``Events-scored: <n>``), ``.err`` and ``.log`` in the run's job folder
(``<output>/jobs``), which also holds the plan every job reads (``apply-plan.json``). A
batch node runs ``fourtop apply-file --plan PLAN [--job-dir DIR] NAME``. The jobs read and
write the ntuples where they are, so batch systems need a shared filesystem: HTCondor's
``--option transfer=yes`` is refused.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fourtop.apply.plan import PLAN_FILE, ApplyPlan, read_plan, write_plan
from fourtop.errors import BackendError, FourtopError, ModelError, ParameterError
from fourtop.jobs.jobfiles import JobFiles
from fourtop.jobs.tasks import RunSettings, TaskKind, WorkUnit

if TYPE_CHECKING:
    from fourtop.final.model import FinalModel, Scorer
    from fourtop.jobs.job import Job

__all__ = [
    "RESULT_LABEL",
    "ApplySettings",
    "ApplyTask",
    "job_info",
    "read_events",
    "run_job",
    "run_jobs",
]

log = logging.getLogger(__name__)

#: the ``.out`` line of a job's result: the number of events scored and written
RESULT_LABEL = "Events-scored"
_RESULT = re.compile(rb"^[ \t]*Events-scored:[ \t]*(\S*)")

#: the model and scorer this process loaded last (a worker runs many files of one model)
_LOADED: dict[tuple[str, str, str], tuple[FinalModel, Scorer]] = {}


@dataclass
class ApplySettings(RunSettings):
    """:class:`RunSettings` with the run's plan, which :meth:`ApplyTask.prepare` writes."""

    plan: ApplyPlan | None = None


def read_events(out: Path) -> float | None:
    """The number of events a job's ``.out`` says it scored (last ``Events-scored:`` line),
    or None."""
    last = None
    try:
        with open(out, "rb") as fh:
            for line in fh:
                if match := _RESULT.match(line):
                    last = match[1]
    except OSError:
        return None
    if last is None:
        return None
    try:
        value = float(last)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _model(plan: ApplyPlan) -> tuple[FinalModel, Scorer]:
    """The plan's model and scorer, loaded once per process; refused if the final folder
    changed since the plan was made."""
    from fourtop.apply.record import model_id
    from fourtop.final.model import CARD_FILE, load_final_model

    if model_id(Path(plan.model_folder) / CARD_FILE) != plan.model_id:
        raise ModelError(
            f"{plan.model_folder}: the final folder changed since this apply run was "
            "planned; run fourtop apply again"
        )
    key = (plan.model_folder, plan.model_id, plan.engine)
    if key not in _LOADED:
        model = load_final_model(plan.model_folder)
        _LOADED.clear()
        _LOADED[key] = (model, model.scorer(plan.engine))
    return _LOADED[key]


def run_job(plan: ApplyPlan, name: str) -> int:
    """Score the input file of job ``name``; returns the entries written.

    Raises:
        FourtopError: the file failed (a one-line message naming it).
    """
    from fourtop.apply.scoring import score_file

    item = plan.entry(name)
    model, scorer = _model(plan)
    return score_file(plan, item, model.variables, scorer)


def job_info(plan: ApplyPlan, name: str) -> list[str]:
    """The lines a job's ``.out`` starts with."""
    item = plan.entry(name)
    return [
        f"Job: {name}",
        f"Input: {item.input}",
        f"Output: {plan.output_path(item)}",
        f"Model: {plan.model_folder} ({plan.engine})",
    ]


def run_jobs(plan_path: Path, names: Sequence[str], job_dir: Path) -> dict[str, Any]:
    """Score the file of each job of ``names`` (the plan in ``plan_path``), writing each job's
    ``.out``, ``.err`` and ``.log`` in ``job_dir``; a failed file gets its one-line error and
    the others go on. Returns job name -> events written (a float) or the error (a str)."""
    files = JobFiles(Path(job_dir))
    results: dict[str, Any] = {}
    try:
        plan: ApplyPlan | None = read_plan(plan_path)
        problem = ""
    except FourtopError as exc:
        plan, problem = None, str(exc)
    for name in names:
        files.executing(name)
        info = [f"Job: {name}"]
        value: float | str
        try:
            if plan is None:
                raise ParameterError(problem)
            info = job_info(plan, name)
            value = float(run_job(plan, name))
        except FourtopError as exc:
            value = str(exc)
        except Exception as exc:  # a bug: this job fails, the others go on
            log.exception("%s failed", name)
            value = " ".join(f"{exc.__class__.__name__}: {exc}".split())
        files.finish(name, value, info, label=RESULT_LABEL)
        results[name] = value
    return results


class ApplyTask(TaskKind):
    """``fourtop apply``'s jobs: one per input file (see the module documentation)."""

    name = "apply"

    def units(self, jobs: Sequence[Job], settings: RunSettings) -> list[WorkUnit]:
        """One unit per job: a thousand files run as a thousand batch jobs."""
        return [WorkUnit((job.name,)) for job in jobs]

    def prepare(self, folder: Path, settings: RunSettings) -> None:
        """Write the plan of ``settings`` (an :class:`ApplySettings`) into the job folder, or
        check that one is there."""
        plan = getattr(settings, "plan", None)
        if plan is not None:
            write_plan(Path(folder), plan)
        elif not (Path(folder) / PLAN_FILE).is_file():
            raise ParameterError(f"{folder}: no {PLAN_FILE} (made by 'fourtop apply')")

    def input_files(
        self,
        settings: RunSettings,
        folder: Path,
        *,
        transfer: bool,
        arrays: Path | None = None,
        create: bool = True,
    ) -> dict[str, Path]:
        if transfer:
            raise BackendError(
                "--option transfer=yes: fourtop apply reads and writes the ntuples where they "
                "are, so its jobs need a shared filesystem; leave out transfer"
            )
        return {"plan": Path(folder) / PLAN_FILE}

    def node_arguments(self, settings: RunSettings, files: Mapping[str, str]) -> list[str]:
        return ["apply-file", "--plan", files["plan"]]

    def unit_arguments(self, unit: WorkUnit, job_dir: str | None) -> list[str]:
        if job_dir is None:
            if unit.is_family:
                raise ParameterError("a unit of several jobs needs a job folder to write into")
            return [unit.names[0]]
        return ["--job-dir", job_dir, *unit.names]

    def run(self, names: Sequence[str], job_dir: Path, settings: RunSettings) -> dict[str, Any]:
        """Score each job's file, writing its ``.out``, ``.err`` and ``.log``; a failed file
        gets its one-line error, the others go on."""
        return run_jobs(Path(job_dir) / PLAN_FILE, names, Path(job_dir))

    def read_result(self, out: Path) -> float | None:
        return read_events(out)
