"""The task kind ``importance``: variable-importance jobs, alone or as seed families.

A node runs ``fourtop run-job`` (:mod:`fourtop.jobs.execute`): one job prints
``ROC-integral: <x>`` on stdout (the original tool's ``remote.py``); with ``--job-dir`` it
writes every job's files, so a seed and its subseeds train as one batched model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fourtop.errors import ParameterError
from fourtop.fileio import atomic_write_text
from fourtop.jobs.layout import VARLIST_FILE
from fourtop.jobs.tasks import RunSettings, TaskKind, WorkUnit
from fourtop.splits import Split

if TYPE_CHECKING:
    from fourtop.jobs.job import Job

__all__ = ["ImportanceTask", "cached_arrays", "write_varlist"]


def _family_key(job: Job) -> str:
    return job.seed.binary


class ImportanceTask(TaskKind):
    """Variable-importance jobs: one network per job, a seed family as one batched model.

    A node runs ``fourtop run-job``: one job prints ``ROC-integral: <x>`` on stdout (the
    original tool's ``remote.py``); with ``--job-dir`` it writes every job's files.
    """

    name = "importance"

    def units(self, jobs: Sequence[Job], settings: RunSettings) -> list[WorkUnit]:
        """One unit per job, or one per seed family (seed job first) with ``families``."""
        if not settings.families:
            return [WorkUnit((job.name,)) for job in jobs]
        grouped: dict[str, list[Job]] = {}
        for job in jobs:
            grouped.setdefault(_family_key(job), []).append(job)
        units = []
        for members in grouped.values():
            members.sort(key=lambda j: j.subseed is not None)  # the seed job first
            units.append(WorkUnit(tuple(j.name for j in members)))
        return units

    def prepare(self, folder: Path, settings: RunSettings) -> None:
        """Write the variable list every job decodes its name with (``run-job -l``)."""
        write_varlist(folder, settings.varlist)

    def input_files(
        self,
        settings: RunSettings,
        folder: Path,
        *,
        transfer: bool,
        arrays: Path | None = None,
        create: bool = True,
    ) -> dict[str, Path]:
        files = {"varlist": folder / VARLIST_FILE}
        if settings.config:
            files["config"] = Path(settings.config).resolve() if transfer else settings.config
        if transfer:
            files["arrays"] = (
                Path(arrays).resolve() if arrays else cached_arrays(settings, create=create)
            )
        return files

    def node_arguments(self, settings: RunSettings, files: Mapping[str, str]) -> list[str]:
        args = ["run-job", "-y", settings.year, "-l", files["varlist"]]
        if files.get("config"):
            args += ["--config", files["config"]]
        if settings.params:
            args += ["--params", json.dumps(settings.params, sort_keys=True, separators=(",", ":"))]
        if settings.random_seed is not None:
            args += ["--random-seed", str(settings.random_seed)]
        if files.get("arrays"):
            args += ["--arrays", files["arrays"]]
        if settings.device and settings.device != "auto":
            args += ["--device", settings.device]
        return args

    def unit_arguments(self, unit: WorkUnit, job_dir: str | None) -> list[str]:
        if job_dir is None:
            if unit.is_family:
                raise ParameterError("a unit of several jobs needs a job folder to write into")
            return [unit.names[0]]
        return ["--job-dir", job_dir, *unit.names]

    def run(self, names: Sequence[str], job_dir: Path, settings: RunSettings) -> dict[str, Any]:
        from fourtop.jobs.execute import run_unit

        return dict(
            run_unit(
                names,
                job_dir=job_dir,
                variables=list(settings.varlist),
                year=settings.year,
                config_path=settings.config,
                params=settings.params,
                random_seed=settings.random_seed,
                device=settings.device,
            )
        )


def write_varlist(folder: Path, varlist: Sequence[str]) -> Path:
    """Write the variable list into the job folder (atomically, only if it changed)."""
    path = folder / VARLIST_FILE
    text = "".join(f"{name}\n" for name in varlist)
    try:
        if path.is_file() and path.read_text() == text:
            return path
    except (OSError, UnicodeDecodeError):
        pass  # rewritten below
    atomic_write_text(path, text, what="variable list")
    return path


def cached_arrays(settings: RunSettings, *, create: bool = True) -> Path:
    """The cache file of the importance split's arrays (made now if missing and ``create``),
    shipped to batch nodes that read no ntuples."""
    from fourtop.data.config import load_config
    from fourtop.data.ntuples import cache_path, load_split

    config = load_config(settings.config)
    path = Path(cache_path(config, settings.year, Split.IMPORTANCE))
    if create and not path.is_file():
        load_split(config, settings.year, Split.IMPORTANCE)
    return path
