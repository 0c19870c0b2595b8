"""Batch backends: ``local`` (process pool, default), ``condor`` (HTCondor), ``slurm``."""

from fourtop.backends.base import (
    BACKENDS,
    Backend,
    RunSettings,
    SubmitReport,
    WorkUnit,
    get_backend,
    sync_batch_state,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "RunSettings",
    "SubmitReport",
    "WorkUnit",
    "get_backend",
    "sync_batch_state",
]
