"""A cheap task kind for the backend contract suite (``test_backend_contract.py``).

:class:`ContractTask` runs a unit the way a real kind does (each job's ``.out``, ``.err``
and ``.log`` written through :class:`fourtop.jobs.jobfiles.JobFiles`), but in
milliseconds: a job's result is a fake ROC integral derived from its name
(:func:`roc_of`). Markers in the job folder (:func:`set_markers`) make the jobs whose
name matches a regular expression fail (a clean failure: error text, return value 1) or
crash (the process running the unit kills itself with SIGKILL, as an out-of-memory kill
would).

Every backend runs it unchanged: the local pool's spawned workers import it by its
``module:Class`` (``tests/`` is on ``sys.path``), and a batch node runs
:func:`node_main` through the fake ``fourtop`` executable of
``standins.write_fake_fourtop`` (``--option executable=PATH``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fourtop.jobs import tasks
from fourtop.jobs.jobfiles import JobFiles
from fourtop.jobs.tasks import RunSettings, TaskKind, WorkUnit

if TYPE_CHECKING:
    from fourtop.jobs.job import Job

#: the name the kind is registered under (``RunSettings.task``)
KIND = "contract"
#: the file in the job folder that says which jobs fail or crash
MARKERS_FILE = "contract-markers.json"
#: the first argument of the node command (what ``fourtop`` would take as a subcommand)
COMMAND = "contract-run"
#: the error text of a job that fails on purpose
FAILURE = "contract failure: the job's name matches a fail marker"


def roc_of(name: str) -> float:
    """The fake ROC integral of job ``name`` (in [0.5, 0.9), the same on every run)."""
    return 0.5 + (zlib.crc32(name.encode()) % 400) / 1000


def set_markers(
    job_dir: Path | str, *, fail: Sequence[str] = (), crash: Sequence[str] = ()
) -> None:
    """Make the jobs whose name matches a ``fail`` regex fail, a ``crash`` regex crash."""
    Path(job_dir, MARKERS_FILE).write_text(json.dumps({"fail": list(fail), "crash": list(crash)}))


def clear_markers(job_dir: Path | str) -> None:
    """Every job succeeds from now on."""
    Path(job_dir, MARKERS_FILE).unlink(missing_ok=True)


def _markers(job_dir: Path) -> dict[str, list[str]]:
    try:
        return json.loads(Path(job_dir, MARKERS_FILE).read_text())
    except FileNotFoundError:
        return {}


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(re.search(p, name) for p in patterns)


def _crash() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class ContractTask(TaskKind):
    """Jobs that "train" in no time: see the module documentation."""

    name = KIND

    def units(self, jobs: Sequence[Job], settings: RunSettings) -> list[WorkUnit]:
        """One unit per seed family (the seed job first), or per job without ``families``."""
        if not settings.families:
            return [WorkUnit((job.name,)) for job in jobs]
        grouped: dict[int, list[Job]] = {}
        for job in jobs:
            grouped.setdefault(job.seed.number, []).append(job)
        return [
            WorkUnit(tuple(j.name for j in sorted(m, key=lambda j: j.subseed is not None)))
            for m in grouped.values()
        ]

    def input_files(
        self,
        settings: RunSettings,
        folder: Path,
        *,
        transfer: bool,
        arrays: Path | None = None,
        create: bool = True,
    ) -> dict[str, Path]:
        return {}

    def node_arguments(self, settings: RunSettings, files: Mapping[str, str]) -> list[str]:
        return [COMMAND]

    def unit_arguments(self, unit: WorkUnit, job_dir: str | None) -> list[str]:
        if job_dir is None:
            if unit.is_family:
                raise ValueError("a unit of several jobs needs a job folder to write into")
            return [unit.names[0]]
        return ["--job-dir", job_dir, *unit.names]

    def run(
        self, names: Sequence[str], job_dir: Path, settings: RunSettings | None
    ) -> dict[str, Any]:
        """Write every job's files in ``job_dir``; a crash marker kills this process."""
        markers = _markers(job_dir)
        writer = JobFiles(Path(job_dir))
        for name in names:
            writer.executing(name)
        results: dict[str, Any] = {}
        for name in names:
            if _matches(name, markers.get("crash", ())):
                _crash()
            value: float | str = roc_of(name)
            if _matches(name, markers.get("fail", ())):
                value = FAILURE
            writer.finish(name, value, [f"Job: {name}", "Trained with: the contract task kind"])
            results[name] = value
        return results


def node_main(argv: Sequence[str]) -> int:
    """What a batch node runs: ``contract-run [--job-dir DIR] NAME...`` (see ``unit_arguments``).

    With ``--job-dir`` every job's files are written there (a family proc, a SLURM task);
    one name without it prints ``ROC-integral: <value>`` on stdout, the batch system
    writing the job's files (an HTCondor single-job proc). Exits 1 if a job failed.
    """
    args = list(argv)
    if not args or args[0] != COMMAND:
        print(f"fake fourtop: expected {COMMAND!r} first, got {args[:1]}", file=sys.stderr)
        return 2
    args = args[1:]
    if args and args[0] == "--job-dir":
        results = ContractTask().run(args[2:], Path(args[1]), None)
        failed = [n for n, v in results.items() if not isinstance(v, float)]
        for name in failed:
            print(f"fourtop run-job: failed: {name}: {results[name]}", file=sys.stderr)
        return 1 if failed else 0
    (name,) = args
    markers = _markers(Path.cwd())
    if _matches(name, markers.get("crash", ())):
        _crash()
    if _matches(name, markers.get("fail", ())):
        print(f"fourtop run-job: {name}: {FAILURE}", file=sys.stderr)
        return 1
    print(f"Job: {name}\nROC-integral: {roc_of(name)!r}")
    return 0


@contextmanager
def registered() -> Iterator[str]:
    """Register :class:`ContractTask` as ``contract`` for the ``with`` block; yields its name."""
    old_target = tasks.TASK_KINDS.get(KIND)
    old_loaded = tasks._LOADED.get(KIND)
    tasks.register_task_kind(ContractTask)
    try:
        yield KIND
    finally:
        if old_target is None:
            tasks.TASK_KINDS.pop(KIND, None)
            tasks._LOADED.pop(KIND, None)
        else:
            tasks.TASK_KINDS[KIND] = old_target
            if old_loaded is not None:
                tasks._LOADED[KIND] = old_loaded
