"""Where jobs run: ``local`` (process pool, default), ``condor`` (HTCondor), ``slurm``.

The registry: each backend by name, its module imported only when asked for, and what
it needs installed. :func:`sync_folder` brings a job folder up to date with every batch
system that has jobs of it (found by the files each leaves in the folder).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from fourtop.backends.base import Backend, Capabilities, RunSettings, SubmitReport, WorkUnit
from fourtop.errors import BackendError, did_you_mean

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendEntry",
    "Capabilities",
    "RunSettings",
    "SubmitReport",
    "WorkUnit",
    "get_backend",
    "register_backend",
    "sync_folder",
]


@dataclass(frozen=True)
class BackendEntry:
    """A backend in the registry.

    Attributes:
        target: ``"module:Class"``, imported when the backend is first asked for.
        marker: a glob, relative to a job folder, matching the files its submissions leave
            there (which folders :func:`sync_folder` syncs with it); None: nothing to sync.
        install: what to install when importing it fails for a missing package.
    """

    target: str
    marker: str | None = None
    install: str = ""


#: backend name -> where it lives
BACKENDS: dict[str, BackendEntry] = {
    "local": BackendEntry("fourtop.backends.local:LocalBackend"),
    "condor": BackendEntry(
        "fourtop.backends.condor:CondorBackend",
        marker="fourtop-condor-*.sub",
        install="pip install htcondor (the [condor] extra)",
    ),
    "slurm": BackendEntry("fourtop.backends.slurm:SlurmBackend", marker="slurm/jobs.tsv"),
}


def register_backend(name: str, entry: BackendEntry) -> None:
    """Add (or replace) a backend in the registry."""
    BACKENDS[name] = entry


def get_backend(name: str) -> Backend:
    """A backend instance by name, importing its module only now.

    Raises:
        BackendError: unknown name (with a suggestion), or a package it needs is missing
            (saying what to install).
    """
    if not isinstance(name, str) or name not in BACKENDS:
        hint = did_you_mean(str(name), BACKENDS) or f" (known: {', '.join(BACKENDS)})"
        raise BackendError(f"unknown backend {name!r}{hint}")
    entry = BACKENDS[name]
    module_name, _, class_name = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"; {entry.install}" if entry.install else ""
        raise BackendError(
            f"the {name} backend cannot be loaded: {exc.name or exc} is missing{hint}"
        ) from None
    return getattr(module, class_name)()


def sync_folder(folder: str | Path) -> int:
    """Sync ``folder`` with each batch system whose submissions left files in it.

    Cheap for folders that never saw a batch system (a glob per backend). Returns the
    number of job logs changed.
    """
    root = Path(folder)
    changed = 0
    for name, entry in BACKENDS.items():
        if entry.marker and any(root.glob(entry.marker)):
            changed += get_backend(name).sync(root)
    return changed
