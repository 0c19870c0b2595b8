"""The local backend: a pool of worker processes on this machine.

Each worker is a long-lived process (started with ``spawn``, so it imports torch
once) that runs one work unit at a time through its task kind's ``run``
(:mod:`fourtop.jobs.tasks`), which writes every job's ``.out``, ``.err`` and
HTCondor-format ``.log``. The pool
watches each worker's process sentinel: a worker that dies (segfault, out of
memory, killed) turns its unit's unfinished jobs into failed jobs with the
reason in ``.err``, and a fresh worker takes its place. Ctrl-C stops the pool:
results already written stay, and jobs in flight are marked aborted, so
``fourtop submit -r`` picks them up again.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from fourtop.backends.base import (
    Backend,
    Capabilities,
    ProgressCallback,
    RunSettings,
    SubmitReport,
    WorkUnit,
)
from fourtop.env import OMP_THREADS_ENV
from fourtop.errors import OutputError
from fourtop.fileio import describe_os_error
from fourtop.jobs import eventlog
from fourtop.jobs.folder import JobFolder
from fourtop.jobs.jobfiles import close_unfinished
from fourtop.jobs.tasks import get_task_kind, task_target

__all__ = ["LocalBackend"]

log = logging.getLogger(__name__)


def _worker_main(conn: Connection, threads: int) -> None:
    """Worker loop: receive (names, job folder, settings, task kind), run the unit, send back
    its results."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C means
    _die_with_parent()
    os.environ.setdefault(OMP_THREADS_ENV, str(threads))
    import torch

    torch.set_num_threads(threads)
    from fourtop.jobs.tasks import TASK_KINDS, get_task_kind, register_task_kind

    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        names, job_dir, settings, target = message
        try:
            if TASK_KINDS.get(settings.task) != target:  # registered at run time in the parent
                register_task_kind(target, settings.task)
            results: dict[str, Any] = get_task_kind(settings.task).run(names, job_dir, settings)
        except Exception as exc:  # run_unit reports per job; this is a last resort
            results = {name: f"{type(exc).__name__}: {exc}" for name in names}
        conn.send(results)


def _die_with_parent() -> None:
    """Linux: have the kernel kill this worker when the submitting process dies (even by
    SIGKILL), so no orphan goes on writing into the job folder."""
    if not hasattr(os, "sched_getaffinity"):  # not Linux
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - best effort
        log.debug("could not set the parent-death signal")
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def start_worker_process(ctx: Any, target: Any, args: tuple[Any, ...]) -> Any:
    """Start a worker process that ignores Ctrl-C (SIGINT) from its first instruction.

    A Ctrl-C reaches the whole process group; a spawned interpreter still importing would
    die of it mid-import, with a "Fatal Python error" and tracebacks instead of the one
    line the parent prints. An ignored signal stays ignored through the spawn's exec (and
    Python keeps it so), so SIGINT is ignored in the parent for the milliseconds of
    ``start``: a Ctrl-C in exactly that window is dropped (the spawn clears even a blocked,
    pending one), and the next one works as usual."""
    import threading

    main = threading.current_thread() is threading.main_thread()  # signal.signal needs it
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        proc = ctx.Process(target=target, args=args, daemon=True)
        proc.start()
    finally:
        if main:
            signal.signal(signal.SIGINT, handler)
    return proc


@dataclass
class _Worker:
    process: Any
    conn: Connection
    unit: WorkUnit | None = None


class LocalBackend(Backend):
    """Run units in ``settings.processes`` worker processes and wait for all of them."""

    name = "local"
    capabilities = Capabilities(waits=True, runs_here=True)
    #: what each worker process runs (a module-level function, as ``spawn`` requires)
    worker_main = staticmethod(_worker_main)

    def submit(
        self,
        folder: JobFolder,
        units: Sequence[WorkUnit],
        settings: RunSettings,
        progress: ProgressCallback | None = None,
    ) -> SubmitReport:
        job_dir = Path(folder.path)
        cluster = os.getpid()
        proc_of: dict[str, int] = {}
        for unit in units:
            for name in unit.names:
                proc_of[name] = len(proc_of)
                try:
                    eventlog.log_submitted(
                        job_dir / f"{name}.log", cluster=cluster, proc=proc_of[name]
                    )
                except OSError as exc:
                    raise OutputError(
                        "cannot write the job event log "
                        + describe_os_error(exc, job_dir / f"{name}.log")
                    ) from None
        self.read_options(settings)
        target = task_target(settings.task)  # an unknown kind fails here, not in a worker
        report = SubmitReport(finished=True)
        kind = get_task_kind(settings.task)
        n_workers = max(1, min(settings.processes, len(units)))
        threads = max(1, (os.cpu_count() or 1) // n_workers)
        ctx = mp.get_context("spawn")
        pending = deque(units)
        workers: list[_Worker] = []

        def start_worker() -> _Worker:
            parent, child = ctx.Pipe()
            proc = start_worker_process(ctx, self.worker_main, (child, threads))
            child.close()
            return _Worker(proc, parent)

        def finish(unit: WorkUnit, results: dict[str, Any]) -> None:
            done = [n for n in unit.names if isinstance(results.get(n), float)]
            failed = [n for n in unit.names if n not in done]
            for name in failed:
                report.failed.append((name, str(results.get(name, "no result"))))
            report.submitted.extend(done)
            if progress is not None:
                progress(done, failed)

        try:
            workers = [start_worker() for _ in range(n_workers)]
            while pending or any(w.unit for w in workers):
                for w in workers:
                    if w.unit is None and pending:
                        w.unit = pending.popleft()
                        w.conn.send((list(w.unit.names), job_dir, settings, target))
                busy = [w for w in workers if w.unit is not None]
                ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
                for i, w in enumerate(workers):
                    if w.unit is None:
                        continue
                    if w.conn in ready:
                        try:
                            results = w.conn.recv()
                        except EOFError:
                            results = None
                        if results is not None:
                            unit, w.unit = w.unit, None
                            finish(unit, results)
                            continue
                    if w.process.sentinel in ready or not w.process.is_alive():
                        w.process.join()
                        unit, w.unit = w.unit, None
                        reason = _death_reason(w.process.exitcode)
                        log.warning("worker died (%s) running %s", reason, unit.names[0])
                        closed = close_unfinished(
                            job_dir,
                            unit.names,
                            reason,
                            ids=lambda n: (cluster, proc_of[n]),
                            read_result=kind.read_result,
                        )
                        finish(unit, closed)
                        w.conn.close()
                        workers[i] = start_worker()
        except KeyboardInterrupt:
            # stop the busy workers first, so none writes a result after its jobs are aborted
            for w in workers:
                if w.unit is not None:
                    w.process.kill()
                    w.process.join()
                    close_unfinished(
                        job_dir,
                        w.unit.names,
                        "interrupted (Ctrl-C or SIGTERM)",
                        aborted=True,
                        ids=lambda n: (cluster, proc_of[n]),
                        read_result=kind.read_result,
                    )
                    w.unit = None
            raise
        finally:
            _shutdown(workers)
        return report

    def sync(self, folder: str | Path) -> int:
        """Nothing to sync: a local job writes its own state, and none outlives ``submit``."""
        return 0

    def cancel(self, folder: str | Path, names: Collection[str] | None = None) -> int:
        """Nothing to cancel: ``submit`` returns only after its jobs ran (Ctrl-C stops them)."""
        return 0


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"worker process killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"worker process killed by signal {-exitcode}"
    return f"worker process exited with code {exitcode}"


def _shutdown(workers: list[_Worker], grace: float = 2.0) -> None:
    for w in workers:
        try:
            if w.unit is None:
                w.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
    deadline = time.monotonic() + grace
    for w in workers:
        w.process.join(timeout=max(0.0, deadline - time.monotonic()))
        if w.process.is_alive():
            w.process.terminate()
            w.process.join(timeout=1.0)
        if w.process.is_alive():
            w.process.kill()
            w.process.join()
        w.conn.close()
