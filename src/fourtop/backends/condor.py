"""The HTCondor backend: one cluster per submission, one proc per work unit.

Each submission of a folder is one transaction: a single cluster whose procs are
the work units (one job, or a seed family), described once with per-proc item
data. The official ``htcondor2`` bindings submit it when they are installed (``--option
submit_method=command`` chooses the ``condor_submit`` command instead, the default when
they are not).

Files in the job folder (what ``fourtop.jobtracker`` reads):

* a single-job unit runs ``fourtop run-job ... NAME``: HTCondor writes the job's
  ``NAME.out`` (stdout, with the ``ROC-integral:`` line), ``NAME.err`` and its job
  event log ``NAME.log`` itself, exactly as in the original tool;
* a family unit runs ``fourtop run-job --job-dir . SEED SUB1 ...``, which writes
  every member's ``.out/.err/.log``; HTCondor's own files for the proc are
  ``SEED.family.out/.err/.log``, so each ``.log`` has one writer. Members get a
  ``000 submitted`` event before the cluster is submitted, and
  :func:`sync_family_logs` copies a hold, release or removal of the family proc
  into the members' logs so ``folders -v`` shows held families with the reason.

The submit descriptions (quoting, the ``.job`` file of each job, the cluster's description
and item data) are :mod:`fourtop.backends.condor_submitfile`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fourtop.backends import batch
from fourtop.backends.base import (
    Backend,
    Capabilities,
    ProgressCallback,
    RunSettings,
    SubmitReport,
    WorkUnit,
)
from fourtop.backends.condor_submitfile import (
    FAMILY_SUFFIX,
    classad_string,
    cluster_description,
    common_commands,
    queue_statement,
)
from fourtop.backends.options import CondorOptions
from fourtop.errors import BackendError
from fourtop.fileio import atomic_write_text
from fourtop.jobs import eventlog
from fourtop.jobs.jobfiles import OPEN_STATES, close_unfinished, has_result
from fourtop.jobs.tasks import get_task_kind

if TYPE_CHECKING:
    from fourtop.jobs.folder import JobFolder

__all__ = ["CondorBackend", "remove_stale", "sync_family_logs"]

log = logging.getLogger(__name__)

#: states of a member's log that a family proc's hold, removal or end still concerns
_OPEN_MEMBER = (*OPEN_STATES, "held")


# ------------------------------------------------------------------ submitting


def _bindings() -> Any | None:
    try:
        import htcondor2
    except ImportError:
        return None
    return htcondor2


def _method(options: CondorOptions) -> str:
    method = options.submit_method
    if method == "auto":
        method = "bindings" if _bindings() is not None else "command"
    if method == "bindings" and _bindings() is None:
        raise BackendError(
            "the htcondor2 bindings are not installed: pip install htcondor (the [condor] extra)"
        )
    if method == "command" and shutil.which("condor_submit") is None:
        raise BackendError(
            "HTCondor is not available here: neither the htcondor2 bindings nor condor_submit "
            "(pip install htcondor, the [condor] extra, or run on a submit node)"
        )
    return method


def _submit_bindings(description: str, items: list[dict[str, str]]) -> int:
    htcondor2 = _bindings()
    assert htcondor2 is not None
    try:
        schedd = htcondor2.Schedd()
        result = schedd.submit(htcondor2.Submit(description), itemdata=iter(items))
    except htcondor2.HTCondorException as exc:
        raise BackendError(f"HTCondor refused the submission: {exc}") from None
    return int(result.cluster())


_CLUSTER = re.compile(r"^(\d+)\.\d+\s*-\s*\d+\.\d+", re.MULTILINE)


def _submit_command(sub_file: Path) -> int:
    proc = subprocess.run(
        ["condor_submit", "-terse", str(sub_file)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        message = " ".join((proc.stderr or proc.stdout).split())[:300]
        raise BackendError(f"condor_submit exited with {proc.returncode}: {message}")
    match = _CLUSTER.search(proc.stdout)
    if match is None:
        raise BackendError(f"condor_submit printed no cluster id: {proc.stdout.strip()[:200]!r}")
    return int(match[1])


def _remove_procs(folder: Path, procs: Sequence[str] | None, method: str) -> None:
    """Remove the folder's procs named ``procs`` (None: all of the folder's) from the queue.

    Raises:
        BackendError: the schedd or ``condor_rm`` refused (an empty queue is no error).
    """
    constraint = f"FourtopFolder == {classad_string(str(folder))}"
    if procs is not None:
        unit_test = " || ".join(f"FourtopUnit == {classad_string(n)}" for n in procs)
        constraint += f" && ({unit_test})"
    constraint = constraint.replace("$(DOLLAR)", "$")
    if method == "bindings":
        htcondor2 = _bindings()
        assert htcondor2 is not None
        try:
            htcondor2.Schedd().act(htcondor2.JobAction.Remove, constraint)
        except htcondor2.HTCondorException as exc:
            raise BackendError(f"HTCondor refused to remove the jobs: {exc}") from None
        return
    try:
        proc = subprocess.run(
            ["condor_rm", "-constraint", constraint],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendError(f"condor_rm failed: {exc}") from None
    text = " ".join((proc.stderr or proc.stdout).split())
    if proc.returncode != 0 and "matching" not in text.lower():  # "no jobs matching": done
        raise BackendError(f"condor_rm exited with {proc.returncode}: {text[:300]}")


def _procs_of(folder: Path, names: Iterable[str]) -> list[str]:
    """The procs (named by their first job) of the latest submission of each job."""
    latest = _latest_procs(folder)  # jobs never submitted here have no proc
    return sorted({latest[n][0] for n in names if n in latest})


def remove_stale(folder: Path, units: Sequence[WorkUnit], method: str) -> None:
    """Remove earlier procs of these units' jobs still in the queue (held ones, before ``-r``).

    A job's earlier proc is the one of its latest submission, which may be a family proc
    named after another job (a partial family resubmitted in a new proc).
    """
    procs = _procs_of(folder, (n for u in units for n in u.names))
    if not procs:
        return
    try:
        _remove_procs(folder, procs, method)
    except Exception as exc:  # the queue may simply not hold them; never block a submission
        log.warning(
            "could not remove earlier procs of %d unit(s) from the queue: %s", len(procs), exc
        )


class CondorBackend(Backend):
    """Submit one HTCondor cluster per call; returns without waiting for the jobs."""

    name = "condor"
    capabilities = Capabilities(arrays=True, holds=True, cancels=True)
    options = CondorOptions

    def check(self, settings: RunSettings) -> None:
        """HTCondor must be reachable (a schedd through the bindings, or condor_submit);
        options must be valid. Refused here, before any folder exists."""
        if _method(self.read_options(settings)) == "bindings":
            htcondor2 = _bindings()
            assert htcondor2 is not None
            try:
                htcondor2.Schedd()
            except htcondor2.HTCondorException as exc:
                raise BackendError(
                    f"HTCondor is not reachable from here ({' '.join(str(exc).split())}): "
                    "run this on an HTCondor submit node"
                ) from None
        common_commands(settings, Path.cwd(), create=False)

    def submit(
        self,
        folder: JobFolder,
        units: Sequence[WorkUnit],
        settings: RunSettings,
        progress: ProgressCallback | None = None,
    ) -> SubmitReport:
        job_dir = Path(folder.path).resolve()
        units = list(units)
        report = SubmitReport()
        if not units:
            return report
        options = self.read_options(settings)
        method = _method(options)
        attempts, delay = options.retries, options.retry_delay
        get_task_kind(settings.task).prepare(job_dir, settings)
        description, items = cluster_description(units, settings, job_dir, create=True)
        if any(job_dir.glob("fourtop-condor-*.sub")):  # submitted before: a resubmission
            remove_stale(job_dir, units, method)
        members = [n for u in units if u.is_family for n in u.names]
        batch.record_submitted(job_dir, members)
        sub_file = batch.unique_path(
            job_dir, "fourtop-condor-{}.sub", datetime.now
        )  # named by time: the latest submission of a job is the last file that lists it
        atomic_write_text(sub_file, description + queue_statement(items), what="submit file")
        try:
            if method == "bindings":
                cluster = batch.retry(
                    lambda: _submit_bindings(description, items),
                    "HTCondor submission",
                    attempts,
                    delay,
                )
            else:
                cluster = batch.retry(
                    lambda: _submit_command(sub_file), "condor_submit", attempts, delay
                )
        except BackendError as exc:
            # HTCondor never wrote the single jobs' logs: every job gets its failure here
            batch.mark_unsubmitted(job_dir, [n for u in units for n in u.names], str(exc))
            report.failed = [(n, str(exc)) for u in units for n in u.names]
            return report
        log.info("submitted cluster %d (%d procs) from %s", cluster, len(units), sub_file)
        report.submitted = [n for u in units for n in u.names]
        return report

    def sync(self, folder: str | Path) -> int:
        """Copy held/released/removed family procs into their members' logs."""
        return sync_family_logs(folder)

    def cancel(self, folder: str | Path, names: Collection[str] | None = None) -> int:
        """Remove the folder's procs (those running ``names``, default all) from the queue;
        HTCondor logs their removal, and :meth:`sync` copies it into family members' logs."""
        root = Path(folder).resolve()
        procs = None if names is None else _procs_of(root, names)
        if procs == []:
            return 0
        _remove_procs(root, procs, _method(CondorOptions()))
        return len(procs) if procs is not None else len(set(_latest_procs(root).values()))


# ------------------------------------------------------------------ family holds


def sync_family_logs(folder: str | os.PathLike[str]) -> int:
    """Copy the hold/release/removal/end of family procs into their members' logs.

    HTCondor writes a family proc's events to ``SEED.family.log`` only. For each
    family log whose proc is held (or was removed) while a member without a result is
    still open (waiting, or running when the proc was stopped), append the same
    ``012``/``009`` event to that member's log; a release appends ``013``. A proc that
    ended (killed by a signal, out of memory) with members still open fails them
    (:func:`fourtop.jobs.jobfiles.close_unfinished`), so ``submit -r`` takes them again.
    Idempotent; returns the number of member logs changed.
    A family's members are read from the item rows of the folder's
    ``fourtop-condor-*.sub`` files (written at each submission).
    """
    root = Path(folder)
    written = 0
    families = _family_members(root)
    for seed, members in families.items():
        status = eventlog.read_log(root / f"{seed}{FAMILY_SUFFIX}.log")
        for proc, name in enumerate(members):
            member_log = root / f"{name}.log"
            mine = eventlog.read_log(member_log)
            if mine.state not in _OPEN_MEMBER or has_result(root, name):
                continue  # done: its own writer closed it
            if status.state == "held":
                if mine.state == "held" and mine.reason == status.reason:
                    continue
                eventlog.log_held(member_log, status.reason or "held", cluster=0, proc=proc)
            elif status.state == "terminated":
                close_unfinished(
                    root,
                    [name],
                    f"the family proc {seed}{FAMILY_SUFFIX} ended without finishing this job "
                    f"({status.reason or 'see ' + seed + FAMILY_SUFFIX + '.err'})",
                    ids=lambda _name, proc=proc: (0, proc),
                )
            elif status.state == "aborted":
                eventlog.log_aborted(
                    member_log, status.reason or "removed from the queue", cluster=0, proc=proc
                )
            elif status.state in ("queued", "running") and mine.state == "held":
                eventlog.log_released(member_log, cluster=0, proc=proc)
            else:
                continue
            written += 1
    return written


def _latest_procs(root: Path) -> dict[str, tuple[str, bool]]:
    """job name -> (proc name, is a family proc) of the latest cluster file that lists it.

    Cluster files are named by time, so a job resubmitted in another proc no longer follows
    the proc (and the family log) of its first submission.
    """
    latest: dict[str, tuple[str, bool]] = {}
    for sub in sorted(root.glob("fourtop-condor-*.sub")):
        inside = False
        for line in sub.read_text().splitlines():
            if line.startswith("queue FtUnit,FtStem,FtArgs from ("):
                inside = True
                continue
            if inside and line.strip() == ")":
                inside = False
            elif inside:
                unit, stem, args = line.split(",", 2)
                if stem.endswith(FAMILY_SUFFIX):
                    for name in args.split()[2:]:  # drop "--job-dir ."
                        latest[name] = (unit, True)
                else:
                    latest[unit] = (unit, False)
    return latest


def _family_members(root: Path) -> dict[str, list[str]]:
    """family proc name -> the member names it runs now (see :func:`_latest_procs`)."""
    families: dict[str, list[str]] = {}
    for name, (unit, family) in _latest_procs(root).items():
        if family:
            families.setdefault(unit, []).append(name)
    return families
