"""What a submission is asked for, what it leaves, and how it reports what happens.

The library never prints: :func:`fourtop.jobs.submission.submit` and
:func:`fourtop.jobs.resubmission.resubmit` tell a :class:`Reporter` what happens (the
command line prints it; :class:`LogReporter` logs it, for library users).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fourtop.backends.base import ProgressCallback
    from fourtop.jobs.folder import FolderStats

__all__ = [
    "LogReporter",
    "Reporter",
    "ResubmitRequest",
    "SubmitOutcome",
    "SubmitRequest",
    "network_params",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- requests and outcomes


@dataclass
class TrainingRequest:
    """Settings shared by a submission and a resubmission (``None``: not given)."""

    year: str | None = None
    config: str | None = None
    params: dict[str, Any] | None = None
    random_seed: int | None = None
    processes: int = 2
    families: bool = True
    device: str = "auto"
    options: dict[str, str] = field(default_factory=dict)
    backend: str = "local"
    #: the task kind of the jobs (:mod:`fourtop.jobs.tasks`)
    task: str = "importance"
    #: answer yes to the retry question (one unattended retry round)
    yes: bool = False


@dataclass
class SubmitRequest(TrainingRequest):
    """What ``fourtop submit`` asks for (the command's options)."""

    varlist: str = "all"
    seeds: int = 500
    test: bool = False
    correlation: float = 80.0  # percent
    folder: str | None = None


@dataclass
class ResubmitRequest(TrainingRequest):
    """What ``fourtop submit -r`` asks for."""

    folders: list[str] = field(default_factory=list)
    include_unstarted: bool = False


@dataclass
class SubmitOutcome:
    """What a submission left: the folder, its job counts, and the jobs that failed."""

    folder: str
    stats: FolderStats | None = None
    failed: list[tuple[str, str]] = field(default_factory=list)


class Reporter(Protocol):
    """How the library tells its caller what happens (the command line prints it)."""

    def note(self, message: str) -> None:
        """Something the user should see (a folder made, jobs submitted)."""

    def warn(self, message: str) -> None:
        """Something the user should fix or know is unusual."""

    def status(self, message: str) -> AbstractContextManager[None]:
        """A slow step under way (e.g. loading the data for the correlation matrix)."""

    def progress(self, total: int) -> AbstractContextManager[ProgressCallback]:
        """Progress of ``total`` jobs run by a backend that waits for them."""

    def failures(self, failed: Sequence[tuple[str, str]]) -> None:
        """The jobs that failed and why."""

    def confirm(self, question: str) -> bool:
        """A yes/no question (retry the failed jobs?)."""


class LogReporter:
    """A :class:`Reporter` for library users: logs everything, never retries."""

    def note(self, message: str) -> None:
        log.info("%s", message)

    def warn(self, message: str) -> None:
        log.warning("%s", message)

    def status(self, message: str) -> AbstractContextManager[None]:
        log.info("%s", message)
        return nullcontext()

    @contextmanager
    def progress(self, total: int) -> Iterator[ProgressCallback]:
        yield lambda done, failed: None

    def failures(self, failed: Sequence[tuple[str, str]]) -> None:
        for name, reason in failed:
            log.warning("failed: %s: %s", name, reason)

    def confirm(self, question: str) -> bool:
        return False


def network_params(params: dict[str, Any] | None, epochs: int | None) -> dict[str, Any] | None:
    """The network parameters of ``--params`` with ``--epochs`` over them, checked
    (None: the original network)."""
    from fourtop.train.params import NetworkParams

    values = dict(params or {})
    if epochs is not None:
        values["epochs"] = epochs
    if not values:
        return None
    return NetworkParams.from_dict(values).to_dict()  # validates
