"""The task kind ``final-fold``: one fold of ``fourtop final`` as a job of the job engine.

Its jobs are ``fold0`` ... ``fold<k-1>``, one process each; the job files (``.out``, ``.err``,
``.log``) go to the final folder's ``jobs/`` subfolder, the models and metrics to the final
folder (:mod:`fourtop.final.fold`). A batch node runs ``fourtop final-fold --folder FINAL
[--job-dir DIR] fold<i> ...``; the folder must be on storage the node sees (no file transfer).
"""

from __future__ import annotations

import logging
import platform
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fourtop.errors import FourtopError, ParameterError
from fourtop.jobs.jobfiles import JobFiles
from fourtop.jobs.tasks import RunSettings, TaskKind, WorkUnit

if TYPE_CHECKING:
    from fourtop.jobs.job import Job

__all__ = ["JOBS_DIR", "FoldTask", "fold_of_name", "run_folds"]

log = logging.getLogger(__name__)

#: the subfolder of a final folder that holds the folds' job files
JOBS_DIR = "jobs"


def fold_of_name(name: str) -> int:
    """The fold number of job ``name`` (``fold3`` -> 3).

    Raises:
        ParameterError: not a fold job's name.
    """
    number = name[4:]
    if not name.startswith("fold") or not number.isdigit() or str(int(number)) != number:
        raise ParameterError(f"{name!r}: not a fold job (fold0, fold1, ...)")
    return int(number)


def run_folds(
    final_dir: Path, names: Sequence[str], job_dir: Path | None, device: str = "auto"
) -> dict[str, float | str]:
    """Train the folds ``names`` (the data loaded once); each job's files go to ``job_dir``
    (None: none). Returns job name -> test ROC integral, or the error text; never raises for
    one fold's failure."""
    from fourtop.final.fold import load_plan_data, read_plan, run_fold

    files = JobFiles(job_dir) if job_dir is not None else None
    results: dict[str, float | str] = {}
    for name in names:
        if files is not None:
            files.executing(name)
    data = None
    try:
        plan = read_plan(final_dir)
        for name in names:
            fold_of_name(name)
    except FourtopError as exc:
        plan, setup_error = None, str(exc)
    else:
        setup_error = None
    for name in names:
        start = time.monotonic()
        try:
            if setup_error is not None:
                raise _Failed(setup_error)
            assert plan is not None
            fold = fold_of_name(name)
            if not 0 <= fold < plan.k:
                raise ParameterError(f"{name}: the plan has folds 0 to {plan.k - 1}")
            if data is None:
                data = load_plan_data(plan)
            metrics = run_fold(final_dir, plan, fold, data, device=device)
            value: float | str = float(metrics["roc_integral"])
            info = [
                f"Job: {name} (fold {fold} of {plan.k}, {final_dir})",
                f"Host: {platform.node()}",
                f"Events: {metrics['n_train']} training, {metrics['n_test']} test",
                f"Epochs: {metrics['epochs']}",
                f"Accuracy: {metrics['accuracy']:.4f}",
                f"Time: {time.monotonic() - start:.1f} s",
            ]
        except (FourtopError, _Failed) as exc:
            value, info = str(exc), [f"Job: {name}"]
            if isinstance(exc, FourtopError) and setup_error is None and data is None:
                setup_error = str(exc)  # the data cannot load: every fold fails alike
        except MemoryError:
            value, info = f"{name}: out of memory", [f"Job: {name}"]
        except Exception as exc:  # a bug: the job fails with the traceback in its .err
            log.error("%s failed:\n%s", name, traceback.format_exc())
            value, info = f"{exc.__class__.__name__}: {exc}", [f"Job: {name}"]
        results[name] = value
        if files is not None:
            files.finish(name, value, info)
    return results


class _Failed(Exception):
    pass


class FoldTask(TaskKind):
    """One fold of the final training per job (see the module documentation)."""

    name = "final-fold"

    def units(self, jobs: Sequence[Job], settings: RunSettings) -> list[WorkUnit]:
        return [WorkUnit((job.name,)) for job in jobs]

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
            raise ParameterError(
                "fourtop final writes its models into the final folder: it needs storage the "
                "nodes share (leave out --option transfer=yes)"
            )
        return {"folder": Path(folder).resolve().parent}

    def node_arguments(self, settings: RunSettings, files: Mapping[str, str]) -> list[str]:
        args = ["final-fold", "--folder", files["folder"]]
        if settings.device and settings.device != "auto":
            args += ["--device", settings.device]
        return args

    def unit_arguments(self, unit: WorkUnit, job_dir: str | None) -> list[str]:
        if job_dir is None:
            return list(unit.names)
        return ["--job-dir", job_dir, *unit.names]

    def run(self, names: Sequence[str], job_dir: Path, settings: RunSettings) -> dict[str, Any]:
        job_dir = Path(job_dir)
        return dict(run_folds(job_dir.parent, names, job_dir, settings.device))
