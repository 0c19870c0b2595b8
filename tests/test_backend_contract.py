"""The backend contract: the same tests over every backend (``local``, ``condor``, ``slurm``).

What every backend promises (``fourtop.backends.base.Backend``), checked against
stand-ins of the batch systems (``standins.py``) and the real local worker pool, with the
cheap ``contract`` task kind (``contract_kinds.py``) instead of training:

1. every job of the submitted units is reported once, submitted or failed, and every job
   ends with its ``.out``, ``.err`` and ``.log`` in the folder once it ran;
2. a refused submission leaves its jobs failed, and resubmittable;
3. resubmitting them (after ``clear_attempt``) finishes them, each log showing the new try;
4. ``sync`` and ``sync_folder`` bring the batch system's state into the jobs' logs;
5. ``cancel`` asks the batch system to stop the folder's latest units, and only those;
6. ``check`` refuses an unknown option in one line and takes the declared ones;
7. ``capabilities`` agree with what the backend does (``waits``, ``holds``, ``cancels``).

The "local" case runs a real pool of two worker processes; the expensive submissions are
shared by the tests that read them (module-scoped fixtures record what each step left).
Marked ``slurm``: items 1 and 3 against a live cluster (``.ci/slurm-start.sh``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from contract_kinds import FAILURE, KIND, clear_markers, registered, roc_of, set_markers
from fourtop.backends import RunSettings, SubmitReport, WorkUnit, get_backend, sync_folder
from fourtop.errors import BackendError
from fourtop.jobs import eventlog
from fourtop.jobs.folder import JobFolder
from fourtop.jobs.jobfiles import JobFiles
from fourtop.jobs.resubmission import resubmit_list
from fourtop.jobs.running import clear_attempt
from fourtop.jobs.tasks import get_task_kind
from jobfolders import VARS, new_folder, singles
from standins import FakeSchedd, FakeSlurm, live_slurm_up, write_fake_fourtop

BACKEND_NAMES = ["local", "condor", "slurm"]


# ------------------------------------------------------------------ drivers


@dataclass
class Step:
    """One thing the batch system does to a unit, and the state its jobs show after a sync."""

    act: Callable[[], None]
    state: str
    reason: str  # a piece of every job's reason


class Driver:
    """Drives one backend and its stand-in: settings, running what was queued, refusing."""

    name: str
    #: an option this backend cannot take (not valid scheduler syntax for a batch backend)
    bad_option: ClassVar[dict[str, str]]

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.backend = get_backend(self.name)

    def settings(self) -> RunSettings:
        return RunSettings(year="2017", varlist=list(VARS), processes=2, task=KIND)

    def submit(
        self, folder: JobFolder, units: Sequence[WorkUnit], progress: Any = None
    ) -> SubmitReport:
        return self.backend.submit(folder, units, self.settings(), progress)

    def run(self, folder: JobFolder, units: Sequence[WorkUnit] | None = None) -> None:
        """Run the queued units of ``folder`` (default all) where the stand-in queued them."""

    def refuse(self, folder: JobFolder, on: bool) -> None:
        """Make the next submissions fail (or no longer)."""
        raise NotImplementedError

    def lose(self, folder: JobFolder, unit: WorkUnit, started: bool) -> list[Step]:
        """What the batch system does to a unit it loses before it finished."""
        raise NotImplementedError

    def stopped(self) -> set[str]:
        """The units the batch system was asked to stop (and did), as its ids."""
        return set()

    def ids_of(self, folder: JobFolder, units: Sequence[WorkUnit]) -> set[str]:
        """The batch system's ids of the latest submission of ``units``."""
        raise NotImplementedError

    def node_errors(self) -> dict[str, str]:
        """What went wrong on "a node" outside any job (a task wrapper that died)."""
        return {}


class LocalDriver(Driver):
    """The real pool of ``LocalBackend``; a "refused" submission is one whose worker dies."""

    name = "local"
    #: an option of another backend: this one takes none
    bad_option: ClassVar[dict[str, str]] = {"throttle": "4"}

    def refuse(self, folder: JobFolder, on: bool) -> None:
        if on:
            set_markers(folder.path, crash=["."])  # every unit kills its worker process
        else:
            clear_markers(folder.path)


class BatchDriver(Driver):
    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.executable = write_fake_fourtop(tmp / "node")

    def settings(self) -> RunSettings:
        settings = super().settings()
        settings.options = {"executable": str(self.executable), "retries": 2, "retry_delay": 0}
        return settings


class CondorDriver(BatchDriver):
    name = "condor"
    bad_option: ClassVar[dict[str, str]] = {"bad key;": "1"}

    def __init__(self, tmp: Path, schedd: FakeSchedd) -> None:
        super().__init__(tmp)
        self.schedd = schedd

    def _latest(self, folder: JobFolder, unit: WorkUnit) -> Any:
        return [p for p in self.schedd.procs_of(folder.path) if p.unit == unit.names[0]][-1]

    def run(self, folder: JobFolder, units: Sequence[WorkUnit] | None = None) -> None:
        heads = None if units is None else {u.names[0] for u in units}
        for proc in self.schedd.idle(folder.path):
            if heads is None or proc.unit in heads:
                self.schedd.run(proc)

    def refuse(self, folder: JobFolder, on: bool) -> None:
        self.schedd.fail_times = -1 if on else 0

    def lose(self, folder: JobFolder, unit: WorkUnit, started: bool) -> list[Step]:
        proc = self._latest(folder, unit)
        if started:  # the family proc started: its command logged its jobs as executing
            self.schedd.start(proc)
            writer = JobFiles(Path(folder.path))
            for name in unit.names:
                writer.executing(name)
        remove = self.schedd.htcondor2.JobAction.Remove
        return [
            Step(
                lambda: self.schedd.hold(proc, "memory usage exceeded request_memory"),
                "held",
                "memory usage exceeded request_memory",
            ),
            Step(
                lambda: self.schedd.act(
                    remove, f"ClusterId == {proc.cluster} && ProcId == {proc.proc}"
                ),
                "failed",
                "condor_rm",
            ),
        ]

    def stopped(self) -> set[str]:
        return {p.id for removed in self.schedd.removed for p in removed}

    def ids_of(self, folder: JobFolder, units: Sequence[WorkUnit]) -> set[str]:
        return {self._latest(folder, u).id for u in units}


class SlurmDriver(BatchDriver):
    name = "slurm"
    bad_option: ClassVar[dict[str, str]] = {"x;rm": "1"}

    def __init__(self, tmp: Path, slurm: FakeSlurm) -> None:
        super().__init__(tmp)
        self.slurm = slurm

    def run(self, folder: JobFolder, units: Sequence[WorkUnit] | None = None) -> None:
        if units is None:
            self.slurm.run_all(folder.path)
        for unit in units or ():
            self.slurm.run(self.slurm.task_of(folder.path, unit.names))

    def refuse(self, folder: JobFolder, on: bool) -> None:
        self.slurm.refuse = on

    def lose(self, folder: JobFolder, unit: WorkUnit, started: bool) -> list[Step]:
        task = self.slurm.task_of(folder.path, unit.names)
        if started:  # run-job started on the node (then the node died, taking the wrapper)
            writer = JobFiles(Path(folder.path))
            for name in unit.names:
                writer.executing(name)
        return [Step(lambda: self.slurm.leave_queue(task), "failed", f"{task} left the queue")]

    def stopped(self) -> set[str]:
        return {task for call in self.slurm.scancel_calls for task in call}

    def ids_of(self, folder: JobFolder, units: Sequence[WorkUnit]) -> set[str]:
        return {self.slurm.task_of(folder.path, u.names) for u in units}

    def node_errors(self) -> dict[str, str]:
        return dict(self.slurm.task_errors)


@contextmanager
def driver_for(name: str, tmp: Path) -> Iterator[Driver]:
    """The driver of backend ``name`` with its stand-in installed and the contract kind
    registered, for the ``with`` block (module-scoped fixtures use it directly)."""
    with registered(), pytest.MonkeyPatch.context() as mp:
        if name == "local":
            yield LocalDriver(tmp)
        elif name == "condor":
            htcondor2 = pytest.importorskip("htcondor2")
            pytest.importorskip("classad2")
            schedd = FakeSchedd()
            mp.setattr(htcondor2, "Schedd", schedd)
            yield CondorDriver(tmp, schedd)
        else:
            slurm = FakeSlurm(tmp / "slurm-standin")
            mp.setenv("PATH", str(slurm.bin), prepend=os.pathsep)
            yield SlurmDriver(tmp, slurm)


@pytest.fixture(scope="module", params=BACKEND_NAMES)
def backend_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def env(backend_name: str, tmp_path: Path) -> Iterator[Driver]:
    with driver_for(backend_name, tmp_path) as driver:
        yield driver


# ------------------------------------------------------------------ reading job folders


def states(folder: JobFolder) -> dict[str, str]:
    folder.check()
    return {j.name: j.state for j in folder.jobs}


def reasons(folder: JobFolder) -> dict[str, str]:
    folder.check()
    return {j.name: j.reason or "" for j in folder.jobs}


def names_of(units: Sequence[WorkUnit]) -> list[str]:
    return [n for u in units for n in u.names]


def tries(log: Path) -> list[list[eventlog.LogEvent]]:
    """A job log's events, one list per submission (a ``000`` starts a new one; events
    before the first ``000`` are a list of their own)."""
    events, problem = eventlog.parse_events(log.read_text())
    assert problem is None, f"{log.name}: {problem}"
    out: list[list[eventlog.LogEvent]] = [[]]
    for event in events:
        if event.code == 0 and out[-1]:
            out.append([])
        out[-1].append(event)
    return out


def ran_once_cleanly(attempt: list[eventlog.LogEvent], return_value: int) -> bool:
    """True when ``attempt`` is submitted, executing, terminated with ``return_value``."""
    return [e.code for e in attempt] == [0, 1, 5] and (
        f"return value {return_value})" in " ".join(attempt[-1].body)
    )


def ended_badly(attempt: list[eventlog.LogEvent]) -> bool:
    """True when ``attempt`` ended aborted, or terminated other than with return value 0."""
    last = attempt[-1]
    return last.code == 9 or (last.code == 5 and "return value 0)" not in " ".join(last.body))


def snapshot(folder: JobFolder) -> dict[str, bytes]:
    """Every file of the folder but its spec (which ``check`` rewrites), by name."""
    root = Path(folder.path)
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith((".jtd", ".lock")) and "-journal" not in p.name
    }


def wait_for_live(folder: JobFolder, backend: Any, limit: float = 240) -> None:
    """Poll a live cluster until every job of ``folder`` finished or failed."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if all(s in ("finished", "failed") for s in states(folder).values()):
            return
        backend.sync(folder.path)
        time.sleep(2)
    pytest.fail(f"SLURM jobs did not end within {limit} s: {states(folder)}")


# ------------------------------------------------------------------ 1, 7: one mixed submission


@dataclass
class Mixed:
    """A submission of good, failing, single-job and killed units, and what each step left."""

    folder: JobFolder
    units: list[WorkUnit]
    failing: set[str]  # jobs that fail cleanly (error text, return value 1)
    doomed: WorkUnit  # a family whose process is killed while it runs its second job
    report: SubmitReport | None = None
    progress: list[tuple[list[str], list[str]]] = field(default_factory=list)
    after_submit: dict[str, str] = field(default_factory=dict)
    after_run: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    resubmit: list[str] = field(default_factory=list)

    @property
    def killed(self) -> set[str]:
        """The doomed family's jobs that had not ended when its process was killed."""
        return set(self.doomed.names[1:])

    @property
    def clean(self) -> list[str]:
        """The jobs of every unit whose process was not killed."""
        return [n for u in self.units if u != self.doomed for n in u.names]


def mixed_units(path: Path) -> Mixed:
    """A family; three single-job units, one failing; a family with a failing member; and a
    family whose process is killed (SIGKILL) at its second job, the last unit."""
    folder, (good, alone, mixed, doomed) = new_folder(path, ["110", "011", "111", "101"])
    failing = {alone.names[1], mixed.names[2]}
    set_markers(
        folder.path,
        fail=[f"^{re.escape(n)}$" for n in failing],
        crash=[f"^{re.escape(doomed.names[1])}$"],
    )
    return Mixed(folder, [good, *singles(alone), mixed, doomed], failing, doomed)


@pytest.fixture(scope="module")
def mixed(backend_name: str, tmp_path_factory: pytest.TempPathFactory) -> Mixed:
    tmp = tmp_path_factory.mktemp(f"mixed-{backend_name}")
    with driver_for(backend_name, tmp) as driver:
        outcome = mixed_units(tmp / "jobs")
        folder = outcome.folder
        calls = outcome.progress
        outcome.report = driver.submit(
            folder, outcome.units, lambda d, f: calls.append((list(d), list(f)))
        )
        outcome.after_submit = states(folder)
        driver.run(folder)
        sync_folder(folder.path)  # what the tracker does before it reads the logs
        outcome.after_run, outcome.reasons = states(folder), reasons(folder)
        holds = driver.backend.capabilities.holds
        outcome.resubmit = [j.name for j in resubmit_list(folder, False, holds)]
    return outcome


def assert_reported_once(report: SubmitReport, units: Sequence[WorkUnit], bad: set[str]) -> None:
    """Every job of ``units`` in ``report`` once, submitted or failed; failed are the ``bad``
    jobs when the backend ran them, none when it only queued them."""
    everyone = names_of(units)
    failed = [n for n, _ in report.failed]
    assert len(set(report.submitted)) == len(report.submitted), "a job submitted twice"
    assert len(set(failed)) == len(failed), "a job failed twice"
    assert set(report.submitted) | set(failed) == set(everyone), "a job missing from the report"
    assert not set(report.submitted) & set(failed), (
        f"reported both submitted and failed: {sorted(set(report.submitted) & set(failed))}"
    )
    assert set(failed) == (bad if report.finished else set())


def assert_ended_with_files(folder: JobFolder, names: Sequence[str], failing: set[str]) -> None:
    """Each job has its .out, .err and .log, one clean try in its log, and its result or
    its failure (the error text in its .err)."""
    root = Path(folder.path)
    now, why = states(folder), reasons(folder)
    for name in names:
        for ext in (".out", ".err", ".log"):
            assert (root / f"{name}{ext}").is_file(), f"{name}{ext} missing"
        (attempt,) = tries(root / f"{name}.log")
        assert ran_once_cleanly(attempt, 1 if name in failing else 0), (name, attempt)
        if name in failing:
            assert now[name] == "failed", (name, now[name], why[name])
            assert FAILURE in (root / f"{name}.err").read_text()
        else:
            assert now[name] == "finished", (name, now[name], why[name])
            assert eventlog.read_roc_integral(root / f"{name}.out") == roc_of(name)


def assert_killed_unit_closed(m: Mixed) -> None:
    """The killed family's first job keeps its result; the others are failed (never left
    running), with their files; the failed jobs are what ``submit -r`` takes."""
    root = Path(m.folder.path)
    first = m.doomed.names[0]
    assert m.after_run[first] == "finished", m.reasons[first]
    assert eventlog.read_roc_integral(root / f"{first}.out") == roc_of(first)
    assert {n: m.after_run[n] for n in m.killed} == dict.fromkeys(m.killed, "failed"), m.reasons
    for name in m.killed:
        for ext in (".out", ".err", ".log"):
            assert (root / f"{name}{ext}").is_file(), f"{name}{ext} missing"
    assert set(m.resubmit) == m.failing | m.killed


def test_every_job_is_reported_once_submitted_or_failed(mixed: Mixed) -> None:
    assert mixed.report is not None
    assert_reported_once(mixed.report, mixed.units, mixed.failing | mixed.killed)


def test_every_job_ends_with_its_files_in_the_folder(mixed: Mixed) -> None:
    assert_ended_with_files(mixed.folder, mixed.clean, mixed.failing)


def test_a_unit_whose_process_is_killed_leaves_no_job_running(mixed: Mixed) -> None:
    assert_killed_unit_closed(mixed)


def test_waits_is_true_exactly_when_submit_ran_the_jobs(mixed: Mixed, backend_name: str) -> None:
    waits = get_backend(backend_name).capabilities.waits
    everyone = names_of(mixed.units)
    bad = mixed.failing | mixed.killed
    assert mixed.report is not None and mixed.report.finished is waits
    if waits:  # progress for every job, once, as it ended; every job ended before submit returned
        done = [n for d, _ in mixed.progress for n in d]
        failed = [n for _, f in mixed.progress for n in f]
        assert sorted(done + failed) == sorted(everyone)
        assert set(failed) == bad
        assert {n: mixed.after_submit[n] for n in everyone} == {
            n: "failed" if n in bad else "finished" for n in everyone
        }
    else:  # no progress; every job waits in the queue until it runs
        assert mixed.progress == []
        assert set(mixed.after_submit.values()) == {"queued"}, mixed.after_submit


# ------------------------------------------------------------------ 2, 3: refused, then resubmitted


@dataclass
class Resubmission:
    """What a refused submission left, and what resubmitting its jobs then left."""

    folder: JobFolder
    refused: list[str]
    unsubmitted: list[str]
    report: SubmitReport
    refused_states: dict[str, str]
    refused_reasons: dict[str, str]
    resubmit: list[str]
    holds: bool
    again: SubmitReport | None = None
    final: dict[str, str] = field(default_factory=dict)
    logs: dict[str, list[list[eventlog.LogEvent]]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def resubmission(backend_name: str, tmp_path_factory: pytest.TempPathFactory) -> Resubmission:
    tmp = tmp_path_factory.mktemp(f"refused-{backend_name}")
    with driver_for(backend_name, tmp) as driver:
        folder, (family, other) = new_folder(tmp / "jobs", ["110", "011"])
        units = [family, WorkUnit(other.names[:1])]  # the rest of "011" is never submitted
        driver.refuse(folder, True)
        report = driver.submit(folder, units)
        holds = driver.backend.capabilities.holds
        outcome = Resubmission(
            folder,
            names_of(units),
            list(other.names[1:]),
            report,
            states(folder),
            reasons(folder),
            [j.name for j in resubmit_list(folder, False, holds)],
            holds,
        )
        driver.refuse(folder, False)
        jobs = resubmit_list(folder, False, holds)
        clear_attempt(folder, jobs)
        again = get_task_kind(KIND).units(jobs, driver.settings())
        outcome.again = driver.submit(folder, again)
        driver.run(folder)
        outcome.final = states(folder)
        outcome.logs = {n: tries(Path(folder.path, f"{n}.log")) for n in outcome.refused}
    return outcome


def test_a_refused_submission_leaves_its_jobs_failed_and_resubmittable(
    resubmission: Resubmission,
) -> None:
    r = resubmission
    assert {n for n, _ in r.report.failed} == set(r.refused)
    assert all(reason for _, reason in r.report.failed), "a failure without its reason"
    assert {n: r.refused_states[n] for n in r.refused} == dict.fromkeys(r.refused, "failed"), (
        r.refused_reasons
    )
    assert all(r.refused_reasons[n] for n in r.refused)
    assert {n: r.refused_states[n] for n in r.unsubmitted} == dict.fromkeys(
        r.unsubmitted, "unstarted"
    )
    assert sorted(r.resubmit) == sorted(r.refused)


def test_resubmitting_the_failed_jobs_finishes_them(resubmission: Resubmission) -> None:
    r = resubmission
    assert r.again is not None and not r.again.failed
    assert sorted(r.again.submitted) == sorted(r.refused)
    assert {n: r.final[n] for n in r.refused} == dict.fromkeys(r.refused, "finished")
    root = Path(r.folder.path)
    for name in r.refused:
        assert eventlog.read_roc_integral(root / f"{name}.out") == roc_of(name)
        *before, last = r.logs[name]
        assert before and ended_badly(before[-1]), (name, before)  # the refused try, kept
        assert ran_once_cleanly(last, 0), (name, last)  # the new try, appended
    assert {n: r.final[n] for n in r.unsubmitted} == dict.fromkeys(r.unsubmitted, "unstarted")


# ------------------------------------------------------------------ 4: sync


@pytest.mark.parametrize("sync", ["backend.sync", "sync_folder"])
@pytest.mark.parametrize("started", [False, True], ids=["before-it-ran", "while-it-ran"])
def test_sync_brings_the_batch_state_into_the_job_logs(
    env: Driver, started: bool, sync: str
) -> None:
    folder, (lost, kept) = new_folder(env.tmp / "jobs", ["111", "110"])
    do_sync = env.backend.sync if sync == "backend.sync" else sync_folder
    if env.backend.capabilities.waits:
        # nothing outlives submit: jobs left open (their submitter was killed) stay as they are
        for proc, name in enumerate(names_of([lost, kept])):
            eventlog.log_submitted(Path(folder.path, f"{name}.log"), cluster=7, proc=proc)
            if started:
                eventlog.log_executing(Path(folder.path, f"{name}.log"), cluster=7, proc=proc)
        before, open_states = snapshot(folder), states(folder)
        assert do_sync(folder.path) == 0
        assert snapshot(folder) == before and states(folder) == open_states
        return
    env.submit(folder, [lost, kept])
    steps = env.lose(folder, lost, started)
    waiting = "running" if started else "queued"
    assert do_sync(folder.path) == 0  # nothing happened yet
    assert {n: states(folder)[n] for n in lost.names} == dict.fromkeys(lost.names, waiting)
    seen = []
    for step in steps:
        step.act()
        assert do_sync(folder.path) == len(lost.names)
        now, why = states(folder), reasons(folder)
        assert {n: now[n] for n in lost.names} == dict.fromkeys(lost.names, step.state), why
        assert all(step.reason in why[n] for n in lost.names), why
        assert {n: now[n] for n in kept.names} == dict.fromkeys(kept.names, "queued")
        assert do_sync(folder.path) == 0  # idempotent
        seen.append(step.state)
    assert seen[-1] == "failed"
    assert ("held" in seen) is env.backend.capabilities.holds
    holds = env.backend.capabilities.holds
    assert sorted(j.name for j in resubmit_list(folder, False, holds)) == sorted(lost.names)


# ------------------------------------------------------------------ 5: cancel


def test_cancel_stops_the_folders_units_and_only_those(env: Driver) -> None:
    folder, (a, b, c) = new_folder(env.tmp / "jobs", ["111", "110", "011"])
    units = [a, b, *singles(c)]
    if not env.backend.capabilities.cancels:
        assert env.backend.capabilities.waits  # a backend that cannot cancel must not leave jobs
        before = snapshot(folder)
        assert env.backend.cancel(folder.path, [b.names[1]]) == 0
        assert env.backend.cancel(folder.path) == 0
        assert snapshot(folder) == before
        return
    other, other_units = new_folder(env.tmp / "other", ["101"])
    env.submit(folder, units)
    env.submit(other, other_units)
    assert env.stopped() == set()
    # by job name: the unit running it (a family member names its family's unit)
    assert env.backend.cancel(folder.path, [b.names[1]]) == 1
    assert env.stopped() == env.ids_of(folder, [b])
    # the whole folder: every unit of its latest submission, nothing of another folder
    assert env.backend.cancel(folder.path) == len(units)
    assert env.stopped() == env.ids_of(folder, units)
    env.backend.sync(folder.path)
    assert set(states(folder).values()) == {"failed"}, reasons(folder)
    holds = env.backend.capabilities.holds
    everyone = names_of(units)
    assert sorted(j.name for j in resubmit_list(folder, False, holds)) == sorted(everyone)
    env.backend.sync(other.path)
    assert set(states(other).values()) == {"queued"}


def two_quick_submissions(
    env: Driver, monkeypatch: pytest.MonkeyPatch
) -> tuple[JobFolder, WorkUnit, WorkUnit]:
    """Submit two families; the first fails when it runs and is resubmitted at once (as
    ``submit -r`` or a script does), within the same second of the clock."""

    ticks = iter(range(1, 1_000_000))

    class SameSecond(datetime):  # a microsecond later at each call, never the next second
        @classmethod
        def now(cls, tz: Any = None) -> SameSecond:
            return cls(2026, 1, 2, 3, 4, 5, next(ticks))

    for module in ("fourtop.backends.condor", "fourtop.backends.slurm"):
        monkeypatch.setattr(f"{module}.datetime", SameSecond)
    folder, (a, b) = new_folder(env.tmp / "jobs", ["111", "110"])
    set_markers(folder.path, fail=["."])
    env.submit(folder, [a, b])
    env.run(folder, [a])  # a fails; b still waits in the queue
    clear_markers(folder.path)
    folder.check()
    jobs = resubmit_list(folder, False, env.backend.capabilities.holds)
    assert sorted(j.name for j in jobs) == sorted(a.names)
    clear_attempt(folder, jobs)
    env.submit(folder, get_task_kind(KIND).units(jobs, env.settings()))
    return folder, a, b


def test_a_later_submission_leaves_the_earlier_ones_units_alone(
    env: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env.backend.capabilities.waits:
        pytest.skip("a local submission has ended before the next one starts")
    folder, a, b = two_quick_submissions(env, monkeypatch)
    env.run(folder)  # b's unit of the first submission and a's of the second
    now, why = states(folder), reasons(folder)
    everyone = a.names + b.names
    assert {n: now[n] for n in everyone} == dict.fromkeys(everyone, "finished"), (
        why,
        env.node_errors(),
    )


def test_cancel_and_sync_follow_each_jobs_latest_submission(
    env: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env.backend.capabilities.waits:
        pytest.skip("nothing of a local submission outlives it: nothing to follow")
    folder, a, b = two_quick_submissions(env, monkeypatch)
    # b's latest unit is in the first submission, a's in the second
    asked = env.backend.cancel(folder.path, [b.names[1]])
    assert (asked, env.stopped()) == (1, env.ids_of(folder, [b])), "b's unit not stopped"
    asked = env.backend.cancel(folder.path)
    assert (asked, env.stopped()) == (2, env.ids_of(folder, [a, b])), "not every unit stopped"
    env.backend.sync(folder.path)
    assert set(states(folder).values()) == {"failed"}, reasons(folder)


# ------------------------------------------------------------------ 6: options


def test_check_refuses_an_unknown_option_in_one_line(env: Driver) -> None:
    settings = env.settings()
    settings.options = {**settings.options, **env.bad_option}
    with pytest.raises(BackendError) as refused:
        env.backend.check(settings)
    message = str(refused.value)
    assert "\n" not in message and message.strip()
    assert next(iter(env.bad_option)) in message


def test_check_accepts_the_declared_options(env: Driver) -> None:
    defaults = env.backend.options.defaults()
    for given in (defaults, {k: str(v) for k, v in defaults.items() if v is not None}):
        settings = env.settings()
        settings.options = dict(given)
        env.backend.check(settings)
        read = env.backend.read_options(settings)
        assert {k: getattr(read, k) for k in defaults} == defaults
        assert read.extra == {}


# ------------------------------------------------------------------ live SLURM (items 1 and 3)


class LiveSlurmDriver(BatchDriver):
    """The SLURM backend on a live cluster: its node runs the fake ``fourtop`` too."""

    name = "slurm"
    bad_option: ClassVar[dict[str, str]] = {}


@pytest.fixture
def live_slurm(tmp_path: Path) -> Iterator[Driver]:
    if not live_slurm_up():
        pytest.skip("no SLURM cluster up (run .ci/slurm-start.sh)")
    with registered():
        yield LiveSlurmDriver(tmp_path)


@pytest.mark.slurm
def test_live_slurm_reports_every_job_once_and_leaves_its_files(
    live_slurm: Driver, tmp_path: Path
) -> None:
    m = mixed_units(tmp_path / "live jobs")
    report = live_slurm.submit(m.folder, m.units)
    assert_reported_once(report, m.units, m.failing | m.killed)
    wait_for_live(m.folder, live_slurm.backend)
    assert_ended_with_files(m.folder, m.clean, m.failing)
    m.after_run, m.reasons = states(m.folder), reasons(m.folder)
    m.resubmit = [j.name for j in resubmit_list(m.folder, False, False)]
    assert_killed_unit_closed(m)
    assert list(Path(m.folder.path, "slurm").glob("*_0.txt"))  # the tasks' own output


@pytest.mark.slurm
def test_live_slurm_resubmits_a_refused_submission(live_slurm: Driver, tmp_path: Path) -> None:
    folder, units = new_folder(tmp_path / "live jobs", ["110", "011"])
    refused = live_slurm.settings()
    refused.options.update(partition="fourtop-no-such-partition", retries=1)
    report = live_slurm.backend.submit(folder, units, refused)
    assert {n for n, _ in report.failed} == set(names_of(units)) and not report.submitted
    assert set(states(folder).values()) == {"failed"}
    jobs = resubmit_list(folder, False, live_slurm.backend.capabilities.holds)
    assert sorted(j.name for j in jobs) == sorted(names_of(units))
    clear_attempt(folder, jobs)
    again = live_slurm.submit(folder, get_task_kind(KIND).units(jobs, live_slurm.settings()))
    assert not again.failed
    wait_for_live(folder, live_slurm.backend)
    assert set(states(folder).values()) == {"finished"}, reasons(folder)
    for name in names_of(units):
        *before, last = tries(Path(folder.path, f"{name}.log"))
        assert before and ended_badly(before[-1]) and ran_once_cleanly(last, 0), (name, last)
