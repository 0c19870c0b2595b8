"""Task kinds: what a backend runs, registered by name.

A backend (local pool, HTCondor, SLURM) runs *work units*: one job, or several jobs one
process runs together (a seed and its subseeds, trained as one batched model). What a
unit does is its *task kind*: it knows how jobs group into units, the command line a
batch node runs for a unit, the files that command reads, how to run a unit in this
process (the local workers), and how a job's result is read. Backends run any kind
without knowing it, so a new kind of job (a final-training fold, applying the classifier
to one ntuple) plugs in here without touching any backend.

The kind ``importance`` (variable-importance jobs and seed families,
:mod:`fourtop.jobs.importance_jobs`) is built in. A new kind subclasses :class:`TaskKind` and
is registered by name with :func:`register_task_kind` (or listed in :data:`TASK_KINDS` as
``"module:Class"``, imported only when asked for).

Example:
    >>> kind = get_task_kind("importance")
    >>> kind.unit_arguments(WorkUnit(("Keras_3vars_Seed_6", "Keras_3vars_Seed_6_Subseed_2")), ".")
    ['--job-dir', '.', 'Keras_3vars_Seed_6', 'Keras_3vars_Seed_6_Subseed_2']
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from fourtop.errors import ParameterError, did_you_mean
from fourtop.jobs import eventlog

if TYPE_CHECKING:
    from fourtop.jobs.job import Job

__all__ = [
    "TASK_KINDS",
    "RunSettings",
    "TaskKind",
    "WorkUnit",
    "get_task_kind",
    "register_task_kind",
    "task_target",
]


@dataclass(frozen=True)
class WorkUnit:
    """What one process runs: a single job, or several run together (a seed family,
    the seed job first)."""

    names: tuple[str, ...]

    @property
    def is_family(self) -> bool:
        """True when the unit runs more than one job."""
        return len(self.names) > 1


@dataclass
class RunSettings:
    """How the jobs of one submission are run, shared by every backend.

    Attributes:
        year: dataset key of the configuration (``-y``).
        varlist: the full ordered variable list that decodes the job names.
        config: dataset configuration file, or None for the default.
        params: network hyperparameters (``NetworkParams.to_dict()``), None = default.
        processes: ``-p``: local worker processes; SLURM: the array throttle ``%P``;
            unused by HTCondor (see docs/batch.md).
        random_seed: base random seed of the trainings; None = derived per job.
        families: run a seed and its subseeds as one batched unit.
        device: ``auto``, ``cpu`` or ``cuda``.
        options: backend options as given (``--option KEY=VALUE``); each backend reads
            them into its typed options (:mod:`fourtop.backends.options`).
        task: the task kind of the jobs (:func:`get_task_kind`).
    """

    year: str
    varlist: list[str]
    config: Path | None = None
    params: dict[str, Any] | None = None
    processes: int = 2
    random_seed: int | None = None
    families: bool = True
    device: str = "auto"
    options: dict[str, Any] = field(default_factory=dict)
    task: str = "importance"


class TaskKind(ABC):
    """A kind of job a backend can run (see the module documentation)."""

    #: the name the kind is registered under (``RunSettings.task``)
    name: ClassVar[str]

    @abstractmethod
    def units(self, jobs: Sequence[Job], settings: RunSettings) -> list[WorkUnit]:
        """Group ``jobs`` into the units one process each runs."""

    def prepare(self, folder: Path, settings: RunSettings) -> None:  # noqa: B027 - optional
        """Write what every unit of a submission reads into the job folder (default: nothing)."""

    @abstractmethod
    def input_files(
        self,
        settings: RunSettings,
        folder: Path,
        *,
        transfer: bool,
        arrays: Path | None = None,
        create: bool = True,
    ) -> dict[str, Path]:
        """The files a unit's command reads, by role (e.g. ``varlist``, ``config``).

        With ``transfer`` (a batch system copies them to the node) this includes the data
        the command would otherwise read from shared storage; ``arrays`` names such a file,
        and ``create`` makes a missing one now (False: only say where it will be).
        """

    @abstractmethod
    def node_arguments(self, settings: RunSettings, files: Mapping[str, str]) -> list[str]:
        """The ``fourtop`` arguments shared by every unit of a submission (no job names).

        ``files`` maps the roles of :meth:`input_files` to the paths as the node sees them.
        """

    @abstractmethod
    def unit_arguments(self, unit: WorkUnit, job_dir: str | None) -> list[str]:
        """The arguments naming one unit's jobs, after :meth:`node_arguments`.

        ``job_dir`` is the job folder as the node sees it: the command writes every job's
        files there. None (single-job units only): the batch system writes the job's
        ``.out``/``.err``/``.log`` itself and the command prints the result on stdout.
        """

    @abstractmethod
    def run(self, names: Sequence[str], job_dir: Path, settings: RunSettings) -> dict[str, Any]:
        """Run one unit in this process, writing every job's files in ``job_dir``.

        Returns:
            job name -> its result (a float) or the error text (a str). Never raises for
            one job's failure.
        """

    def read_result(self, out: Path) -> float | None:
        """The result a job's ``.out`` holds, or None (default: its ROC integral)."""
        return eventlog.read_roc_integral(out)


# ---------------------------------------------------------------- the registry

#: task kind name -> ``"module:Class"``, imported when first asked for
TASK_KINDS: dict[str, str] = {
    "importance": "fourtop.jobs.importance_jobs:ImportanceTask",
    "final-fold": "fourtop.final.task:FoldTask",  # one fold of `fourtop final`
    "apply": "fourtop.apply.task:ApplyTask",  # `fourtop apply` on one input file
}
_LOADED: dict[str, TaskKind] = {}


def register_task_kind(kind: type[TaskKind] | str, name: str | None = None) -> None:
    """Register a task kind: a :class:`TaskKind` subclass, or ``"module:Class"`` to import
    only when asked for (then ``name`` is required)."""
    if isinstance(kind, str):
        if name is None:
            raise ParameterError(f"register_task_kind({kind!r}): a lazy kind needs its name")
        TASK_KINDS[name] = kind
        _LOADED.pop(name, None)
        return
    key = name or kind.name
    TASK_KINDS[key] = f"{kind.__module__}:{kind.__qualname__}"
    _LOADED[key] = kind()


def task_target(name: str) -> str:
    """Where the kind ``name`` lives (``"module:Class"``), for a process that has to import
    it by itself (a spawned worker does not see kinds registered at run time).

    Raises:
        ParameterError: no kind of that name.
    """
    if name not in TASK_KINDS:
        raise ParameterError(f"unknown task kind {name!r}{did_you_mean(name, TASK_KINDS)}")
    return TASK_KINDS[name]


def get_task_kind(name: str) -> TaskKind:
    """The task kind registered as ``name``.

    Raises:
        ParameterError: no kind of that name (the message suggests a close one).
    """
    if name in _LOADED:
        return _LOADED[name]
    if name not in TASK_KINDS:
        raise ParameterError(f"unknown task kind {name!r}{did_you_mean(name, TASK_KINDS)}")
    module_name, _, class_name = TASK_KINDS[name].partition(":")
    kind = getattr(importlib.import_module(module_name), class_name)()
    _LOADED[name] = kind
    return kind
