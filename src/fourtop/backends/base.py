"""The interface every batch backend implements, and lookup by name.

A backend takes work units (one job, or a seed with its subseeds trained
together) for a job folder and runs or submits them. Whatever the backend,
each job ends up with its own ``.out``, ``.err`` and ``.log`` in the folder,
so the job tracker reads every backend's jobs the same way.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from fourtop.errors import BackendError, did_you_mean

if TYPE_CHECKING:
    from fourtop.jobs.folder import JobFolder

__all__ = [
    "BACKENDS",
    "Backend",
    "ProgressCallback",
    "RunSettings",
    "SubmitReport",
    "WorkUnit",
    "get_backend",
    "sync_batch_state",
]

#: backend name -> module under fourtop.backends (imported only when asked for)
BACKENDS: dict[str, str] = {"local": "local", "condor": "condor", "slurm": "slurm"}


@dataclass(frozen=True)
class WorkUnit:
    """What one process runs: a single job, or a seed family (the seed job first)."""

    names: tuple[str, ...]

    @property
    def is_family(self) -> bool:
        return len(self.names) > 1


@dataclass
class RunSettings:
    """How the jobs of one submission are trained, shared by every backend.

    Attributes:
        year: dataset key of the configuration (``-y``).
        varlist: the full ordered variable list that decodes the job names.
        config: dataset configuration file, or None for the default.
        params: network hyperparameters (``NetworkParams.to_dict()``), None = default.
        processes: ``-p``: local worker processes; SLURM: the array throttle ``%P``;
            unused by HTCondor (see docs/batch.md).
        random_seed: base random seed of the trainings; None = derived per job.
        families: train a seed and its subseeds as one batched unit.
        device: ``auto``, ``cpu`` or ``cuda``.
        options: backend-specific settings (e.g. ``request_memory``).
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


@dataclass
class SubmitReport:
    """Outcome of a submission: names accepted, and (name, reason) pairs that failed."""

    submitted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    finished: bool = False  # True when the backend ran the jobs to completion (local)


#: progress(done_names, failed_names) called as units complete (local backend).
ProgressCallback = Callable[[Sequence[str], Sequence[str]], None]


class Backend(ABC):
    """A place to run training jobs."""

    name: ClassVar[str]

    def check(self, settings: RunSettings) -> None:
        """Refuse settings this backend cannot use, before anything is created on disk.

        Checks that the batch system's tools are there and that every ``--option`` is one
        this backend knows (the default refuses every option).

        Raises:
            BackendError: the backend is unavailable here, or an option is unknown/invalid.
        """
        if settings.options:
            keys = ", ".join(sorted(settings.options))
            raise BackendError(
                f"--option {keys}: the {self.name} backend takes no options "
                "(options are for condor and slurm, see docs/batch.md)"
            )

    @abstractmethod
    def submit(
        self,
        folder: JobFolder,
        units: Sequence[WorkUnit],
        settings: RunSettings,
        progress: ProgressCallback | None = None,
    ) -> SubmitReport:
        """Run or submit ``units`` of ``folder``; never raise for a single job's failure."""


def get_backend(name: str) -> Backend:
    """Return a backend instance by name, importing its module only now."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}{did_you_mean(name, BACKENDS)}")
    module = importlib.import_module(f"fourtop.backends.{BACKENDS[name]}")
    return module.BACKEND_CLASS()


def sync_batch_state(folder_path: str | Path) -> None:
    """Bring batch-system state into the jobs' own logs before the tracker reads them.

    HTCondor writes a held family proc's events to the family log only, and a SLURM
    task that vanished from the queue leaves its jobs' logs open; both are copied into
    the member logs here. Cheap for folders that never saw a batch system.
    """
    from fourtop.backends.condor import sync_family_logs
    from fourtop.backends.slurm import sync_queue_state

    sync_family_logs(folder_path)
    sync_queue_state(folder_path)
