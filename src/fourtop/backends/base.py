"""The interface every backend implements: submit, sync, cancel, declared capabilities.

A backend takes the work units of a job folder (:class:`~fourtop.jobs.tasks.WorkUnit`:
one job, or several run by one process) and runs or submits them, whatever their task
kind (:mod:`fourtop.jobs.tasks`). Whatever the backend, each job ends up with its own
``.out``, ``.err`` and ``.log`` in the folder, so the job tracker reads every backend's
jobs the same way. The backends are looked up by name in :mod:`fourtop.backends`
(imported only when asked for); this module imports none of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from fourtop.backends.options import BackendOptions
from fourtop.jobs.tasks import RunSettings, WorkUnit

if TYPE_CHECKING:
    from fourtop.jobs.folder import JobFolder

__all__ = [
    "Backend",
    "Capabilities",
    "ProgressCallback",
    "RunSettings",
    "SubmitReport",
    "WorkUnit",
]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, so that callers never ask for it by name.

    Attributes:
        waits: ``submit`` returns only once the jobs have run (and reports progress as
            they finish); otherwise it returns once they are queued.
        runs_here: the jobs run on this machine (``--device cuda`` needs a GPU here).
        arrays: one submission is one array or cluster of many units.
        holds: the batch system can hold jobs (a held job is resubmitted by ``-r``).
        cancels: :meth:`Backend.cancel` removes queued or running jobs.
    """

    waits: bool = False
    runs_here: bool = False
    arrays: bool = False
    holds: bool = False
    cancels: bool = False


@dataclass
class SubmitReport:
    """Outcome of a submission: every job of it once, submitted or failed.

    Attributes:
        submitted: jobs accepted by the batch system, or (a backend that waits) run
            without failure.
        failed: (name, reason) of the others: refused, or run and failed.
        finished: True when the backend ran the jobs to completion (it waits).
    """

    submitted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    finished: bool = False  # True when the backend ran the jobs to completion (local)


#: progress(done_names, failed_names) called as units complete (backends that wait).
ProgressCallback = Callable[[Sequence[str], Sequence[str]], None]


class Backend(ABC):
    """A place to run jobs: implement :meth:`submit`, :meth:`sync` and :meth:`cancel`,
    declare :attr:`capabilities` and the :attr:`options` class."""

    #: the name it is looked up by (``--backend NAME``)
    name: ClassVar[str]
    #: what it can do
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: its typed ``--option`` settings and their defaults
    options: ClassVar[type[BackendOptions]] = BackendOptions

    def read_options(self, settings: RunSettings) -> BackendOptions:
        """``settings.options`` read into this backend's options class.

        Raises:
            BackendError: an unknown option, or a bad value.
        """
        return self.options.parse(settings.options)

    def check(self, settings: RunSettings) -> None:
        """Refuse settings this backend cannot use, before anything is created on disk.

        The default checks the options; batch backends also check that their tools are here.

        Raises:
            BackendError: the backend is unavailable here, or an option is unknown/invalid.
        """
        self.read_options(settings)

    @abstractmethod
    def submit(
        self,
        folder: JobFolder,
        units: Sequence[WorkUnit],
        settings: RunSettings,
        progress: ProgressCallback | None = None,
    ) -> SubmitReport:
        """Run or submit ``units`` of ``folder``; never raise for a single job's failure.

        Every job of ``units`` ends up in the report, submitted or failed; a job whose
        submission failed has its log closed, so it is ``failed`` and resubmittable.
        """

    @abstractmethod
    def sync(self, folder: str | Path) -> int:
        """Bring the batch system's view of the folder's jobs into their logs.

        Returns the number of job logs changed (0 for a backend whose jobs write their own
        state, such as the local pool). Never raises because the batch system is away.
        """

    @abstractmethod
    def cancel(self, folder: str | Path, names: Collection[str] | None = None) -> int:
        """Remove the folder's queued or running jobs (``names``, default all) from the
        batch system; their logs then show them aborted (failed, resubmittable).

        Returns the number of jobs (or units) asked to stop.

        Raises:
            BackendError: the batch system refused.
        """
