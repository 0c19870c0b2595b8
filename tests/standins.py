"""Stand-ins for the batch systems and workers the backends talk to (no pool, no cluster here).

* :class:`FakeSchedd` replaces ``htcondor2.Schedd``: each submission is parsed by the real
  ``htcondor2.Submit`` (one proc per item row), written to the procs' user logs as HTCondor
  does, and :meth:`FakeSchedd.run_all` runs the procs' commands; a ``Remove`` action
  evaluates its constraint with ``classad2`` against each proc's ``+Fourtop*`` attributes.
* :class:`FakeSlurm` puts ``sbatch``, ``squeue`` and ``scancel`` on ``PATH``, with the queue
  kept in files; :meth:`FakeSlurm.run_all` runs the array tasks by hand through
  ``fourtop.backends.slurm.task_main``.
* :func:`write_fake_fourtop` writes an executable that stands in for ``fourtop`` on a batch
  node (``--option executable=PATH``); by default it runs the contract task kind.
* :func:`fake_worker` stands in for the local pool's worker loop (no torch).

The fixtures of ``conftest.py`` (``schedd``, ``slurm``, ``fake_fourtop``) install them.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fourtop.env import SLURM_ARRAY_JOB_ENV, SLURM_ARRAY_TASK_ENV
from fourtop.jobs import eventlog

TESTS_DIR = Path(__file__).resolve().parent

# ------------------------------------------------------------------ a fourtop on the node

#: runs the contract task kind (``contract_kinds.node_main``) with this Python
CONTRACT_NODE = """#!{python}
import sys
sys.path.insert(0, {tests!r})
from contract_kinds import node_main
sys.exit(node_main(sys.argv[1:]))
"""


def write_fake_fourtop(directory: Path, body: str = CONTRACT_NODE) -> Path:
    """An executable ``fake-fourtop`` in ``directory`` (``{python}``: this interpreter)."""
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / "fake-fourtop"
    exe.write_text(body.format(python=sys.executable, tests=str(TESTS_DIR)))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


# ------------------------------------------------------------------ the local pool


def fake_worker(conn: Any, threads: int) -> None:
    """Stands in for ``local._worker_main`` (no torch, no task kind): each job's ``.out``
    gets ``ROC-integral: 0.75``; a unit with a job ending in ``Seed_6`` kills its worker
    like a segfault."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        message = conn.recv()
        if message is None:
            return
        names, job_dir, _settings, _target = message
        if any(n.endswith("Seed_6") for n in names):
            os.kill(os.getpid(), signal.SIGKILL)
        for name in names:
            Path(job_dir, f"{name}.out").write_text("ROC-integral: 0.75\n")
        conn.send({name: 0.75 for name in names})


# ------------------------------------------------------------------ HTCondor


def parse_new_style(value: str) -> list[str]:
    """HTCondor's documented new-style argument rules, read back independently:
    the value is in double quotes, "" is a literal ", white space separates arguments,
    and single quotes group, with '' a literal '."""
    assert value.startswith('"') and value.endswith('"'), value
    body, args, cur, in_single, started, i = value[1:-1], [], [], False, False, 0
    while i < len(body):
        c = body[i]
        if c == '"':
            assert body[i + 1] == '"', f"lone double quote at {i} in {body!r}"
            cur.append('"')
            started, i = True, i + 2
            continue
        if c == "'":
            if in_single and body[i + 1 : i + 2] == "'":
                cur.append("'")
                i += 2
                continue
            in_single, started = not in_single, True
        elif c.isspace() and not in_single:
            if started:
                args.append("".join(cur))
            cur, started = [], False
        else:
            cur.append(c)
            started = True
        i += 1
    assert not in_single
    if started:
        args.append("".join(cur))
    return args


@dataclass
class Proc:
    """One proc of the stand-in queue, as the real ``htcondor2.Submit`` expanded it."""

    cluster: int
    proc: int
    ad: Any  # classad2.ClassAd of the +Fourtop* attributes
    executable: str
    arguments: list[str]
    initialdir: Path
    output: Path
    error: Path
    log: Path
    status: str = "idle"  # idle, held, removed, done
    attempts: list[int] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.cluster}.{self.proc}"

    @property
    def unit(self) -> str:
        return str(self.ad["FourtopUnit"])

    @property
    def folder(self) -> str:
        return str(self.ad["FourtopFolder"])


class _Result:
    def __init__(self, cluster: int) -> None:
        self._cluster = cluster

    def cluster(self) -> int:
        return self._cluster


class FakeSchedd:
    """Stands in for ``htcondor2.Schedd`` (install it with the ``schedd`` fixture).

    Attributes:
        calls: ``("submit", description text, item rows)`` and ``("act", action,
            constraint)``, in order.
        fail_times: submissions to refuse with ``HTCondorException`` (-1: every one).
        queue: every proc ever accepted, in order.
        removed: the procs each ``Remove`` action matched (one list per action).
    """

    def __init__(self, first_cluster: int = 812) -> None:
        import htcondor2

        self.htcondor2 = htcondor2
        self.calls: list[tuple] = []
        self.fail_times = 0
        self.queue: list[Proc] = []
        self.removed: list[list[Proc]] = []
        self._next = first_cluster

    # -- the part of htcondor2.Schedd the backend uses
    def __call__(self, *_args: Any, **_kwargs: Any) -> FakeSchedd:
        """``htcondor2.Schedd()``: the one stand-in schedd."""
        return self

    def submit(
        self,
        description: Any,
        count: int = 0,
        spool: bool = False,
        itemdata: Any = None,
        queue: Any = None,
    ) -> _Result:
        rows = [dict(r) for r in itemdata] if itemdata is not None else []
        self.calls.append(("submit", str(description), rows))
        if self.fail_times:
            self.fail_times -= 1 if self.fail_times > 0 else 0
            raise self.htcondor2.HTCondorException("Failed to connect to schedd")
        cluster, self._next = self._next, self._next + 1
        for number, row in enumerate(rows or [{}]):
            proc = self._expand(str(description), row, cluster, number)
            proc.log.parent.mkdir(parents=True, exist_ok=True)
            eventlog.log_submitted(proc.log, cluster=cluster, proc=number)  # as the schedd does
            self.queue.append(proc)
        return _Result(cluster)

    def act(self, action: Any, job_spec: Any, reason: str | None = None) -> Any:
        import classad2

        self.calls.append(("act", action, str(job_spec)))
        if action != self.htcondor2.JobAction.Remove:
            raise self.htcondor2.HTCondorException(
                f"the stand-in schedd only removes, not {action}"
            )
        constraint = classad2.ExprTree(str(job_spec))
        matched = [
            p for p in self.queue if p.status in ("idle", "held") and constraint.eval(p.ad) is True
        ]
        for p in matched:
            p.status = "removed"
            eventlog.log_aborted(
                p.log, "via condor_rm (by user fourtop-test)", cluster=p.cluster, proc=p.proc
            )
        self.removed.append(matched)
        return classad2.ClassAd({"TotalSuccess": len(matched)})

    # -- what the pool would do
    def _expand(self, text: str, row: dict[str, str], cluster: int, number: int) -> Proc:
        import classad2

        sub = self.htcondor2.Submit(text)
        for key, value in row.items():
            sub[key] = value
        initialdir = Path(sub.expand("initialdir"))
        ad = classad2.ClassAd({"ClusterId": cluster, "ProcId": number})
        for key in list(sub):
            if key.startswith("MY."):
                ad[key[3:]] = classad2.ExprTree(sub.expand(key))
        return Proc(
            cluster=cluster,
            proc=number,
            ad=ad,
            executable=sub.expand("executable"),
            arguments=parse_new_style(sub.expand("arguments")),
            initialdir=initialdir,
            output=initialdir / sub.expand("output"),
            error=initialdir / sub.expand("error"),
            log=initialdir / sub.expand("log"),
        )

    def idle(self, folder: str | Path | None = None) -> list[Proc]:
        """Procs waiting to run (of ``folder``, default every folder)."""
        root = None if folder is None else str(Path(folder).resolve())
        return [p for p in self.queue if p.status == "idle" and root in (None, p.folder)]

    def start(self, p: Proc) -> None:
        """The proc starts on a node (``001`` in its log), without running anything yet."""
        eventlog.log_executing(p.log, cluster=p.cluster, proc=p.proc)

    def run(self, p: Proc) -> int:
        """Run one proc's command on "a node" (this machine) as HTCondor would: in its
        initial dir, stdout and stderr into its output and error files, ``001`` and ``005``
        in its log. Returns the command's exit status (negative: killed by that signal)."""
        self.start(p)
        with open(p.output, "w") as out, open(p.error, "w") as err:
            rc = subprocess.run(
                [p.executable, *p.arguments], cwd=p.initialdir, stdout=out, stderr=err, check=False
            ).returncode
        if rc < 0:
            eventlog.log_terminated(p.log, 0, cluster=p.cluster, proc=p.proc, signal=-rc)
        else:
            eventlog.log_terminated(p.log, rc, cluster=p.cluster, proc=p.proc)
        p.status = "done"
        p.attempts.append(rc)
        return rc

    def run_all(self, folder: str | Path | None = None) -> None:
        """Run every idle proc (of ``folder``)."""
        for p in self.idle(folder):
            self.run(p)

    def hold(self, p: Proc, reason: str, code: int = 34) -> None:
        """The pool holds the proc (``012`` in its log; a running command is killed)."""
        p.status = "held"
        eventlog.log_held(p.log, reason, cluster=p.cluster, proc=p.proc, code=code)

    def procs_of(self, folder: str | Path) -> list[Proc]:
        """Every proc ever submitted from ``folder``."""
        root = str(Path(folder).resolve())
        return [p for p in self.queue if p.folder == root]


# ------------------------------------------------------------------ SLURM

#: sbatch: records its arguments; refuses while ``ROOT/refuse`` exists, else queues the
#: array's tasks and keeps (for the tests) the units its batch script runs, as submitted
SBATCH = """#!{python}
import json, shlex, sys
from pathlib import Path
root = Path({root!r})
args = sys.argv[1:]
with open(root / "sbatch.jsonl", "a") as fh:
    fh.write(json.dumps(args) + "\\n")
if (root / "refuse").exists():
    print("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
          file=sys.stderr)
    sys.exit(1)
counter = root / "next-id"
job_id = int(counter.read_text()) if counter.exists() else 4242
counter.write_text(str(job_id + 1))
array = next(a.split("=", 1)[1] for a in args if a.startswith("--array="))
first, last = array.split("%")[0].split("-")
with open(root / "queue", "a") as fh:
    for index in range(int(first), int(last) + 1):
        fh.write(f"{{job_id}}_{{index}}\\n")
units_file = shlex.split(Path(args[-1]).read_text().splitlines()[-1])[-1]
with open(root / "arrays.jsonl", "a") as fh:
    fh.write(json.dumps([job_id, args[-1], json.loads(Path(units_file).read_text())]) + "\\n")
print(f"{{job_id}};cluster")
"""

#: squeue -h -r -u USER -o %i: the queued tasks, one per line
SQUEUE = """#!/bin/sh
cat {root}/queue 2>/dev/null
exit 0
"""

#: scancel ID...: records the ids and takes them out of the queue
SCANCEL = """#!{python}
import json, sys
from pathlib import Path
root = Path({root!r})
ids = sys.argv[1:]
with open(root / "scancel.jsonl", "a") as fh:
    fh.write(json.dumps(ids) + "\\n")
queue = root / "queue"
left = [t for t in (queue.read_text().split() if queue.exists() else []) if t not in ids]
queue.write_text("".join(t + "\\n" for t in left))
"""


class FakeSlurm:
    """``sbatch``/``squeue``/``scancel`` stand-ins in ``root/bin`` (put on ``PATH`` by the
    ``slurm_tools`` fixture), sharing a queue file: ``sbatch`` queues ``JOBID_TASK`` lines,
    ``squeue`` prints them, ``scancel`` removes them, and :meth:`run` runs a task by hand.

    Attributes:
        task_errors: ``JOBID_TASK`` -> the exception a task's wrapper died of.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.task_errors: dict[str, str] = {}
        for name, text in (("sbatch", SBATCH), ("squeue", SQUEUE), ("scancel", SCANCEL)):
            exe = self.bin / name
            exe.write_text(text.format(python=sys.executable, root=str(root)))
            exe.chmod(0o755)

    @property
    def refuse(self) -> bool:
        """True while ``sbatch`` exits 1 (a scheduler that does not answer)."""
        return (self.root / "refuse").exists()

    @refuse.setter
    def refuse(self, value: bool) -> None:
        if value:
            (self.root / "refuse").write_text("")
        else:
            (self.root / "refuse").unlink(missing_ok=True)

    def _lines(self, name: str) -> list[Any]:
        path = self.root / name
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    @property
    def sbatch_calls(self) -> list[list[str]]:
        """The arguments of every ``sbatch`` call, accepted or not."""
        return self._lines("sbatch.jsonl")

    @property
    def scancel_calls(self) -> list[list[str]]:
        """The ids of every ``scancel`` call."""
        return self._lines("scancel.jsonl")

    @property
    def arrays(self) -> list[tuple[str, Path, dict[str, Any]]]:
        """(job id, batch script, the units file's content when submitted) per accepted array."""
        return [(str(j), Path(s), spec) for j, s, spec in self._lines("arrays.jsonl")]

    def queued(self) -> list[str]:
        """``JOBID_TASK`` of the tasks in the queue, in order."""
        queue = self.root / "queue"
        return queue.read_text().split() if queue.exists() else []

    def task_of(self, folder: str | Path, names: Sequence[str]) -> str:
        """``JOBID_TASK`` of the latest accepted array task given exactly ``names``."""
        root = str(Path(folder).resolve())
        found = [
            f"{job_id}_{spec['units'].index(list(names))}"
            for job_id, _, spec in self.arrays
            if spec["job_dir"] == root and list(names) in spec["units"]
        ]
        assert found, f"no array task of {root} was given {list(names)}"
        return found[-1]

    def leave_queue(self, task: str) -> None:
        """The task vanishes from the queue (time limit, node failure, scancel)."""
        left = [t for t in self.queued() if t != task]
        (self.root / "queue").write_text("".join(t + "\n" for t in left))

    def run(self, task: str) -> int:
        """Run one array task as its batch script does (``task_main`` with what the script
        names, read now, as a node would); it then leaves the queue. A wrapper that raises
        dies like a Python process on a node: exit status 1, the error kept in
        :attr:`task_errors`."""
        from fourtop.backends.slurm import task_main

        job_id, index = task.split("_")
        script = next(s for j, s, _ in self.arrays if j == job_id)
        command = shlex.split(script.read_text().splitlines()[-1])
        assert command[:4] == ["exec", sys.executable, "-m", "fourtop.backends.slurm"], command
        old_env = {k: os.environ.get(k) for k in (SLURM_ARRAY_JOB_ENV, SLURM_ARRAY_TASK_ENV)}
        old_term = signal.getsignal(signal.SIGTERM)
        os.environ[SLURM_ARRAY_JOB_ENV], os.environ[SLURM_ARRAY_TASK_ENV] = job_id, index
        try:
            rc = task_main(command[4], int(index))
        except Exception as exc:
            self.task_errors[task] = f"{type(exc).__name__}: {exc}"
            rc = 1
        finally:
            signal.signal(signal.SIGTERM, old_term)  # task_main forwards SIGTERM to its child
            for key, value in old_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self.leave_queue(task)
        return rc

    def run_all(self, folder: str | Path | None = None) -> None:
        """Run every queued task (of ``folder``, default every folder)."""
        root = None if folder is None else str(Path(folder).resolve())
        dirs = {job_id: spec["job_dir"] for job_id, _, spec in self.arrays}
        for task in self.queued():
            if root is None or dirs[task.split("_")[0]] == root:
                self.run(task)


def live_slurm_up() -> bool:
    """True when a live SLURM cluster answers (``sbatch``, ``squeue`` and an up node)."""
    if not all(shutil.which(tool) for tool in ("sbatch", "squeue", "sinfo", "scancel")):
        return False
    try:
        queue = subprocess.run(
            ["squeue", "-h"], capture_output=True, text=True, check=False, timeout=30
        )
        nodes = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return (
        queue.returncode == 0
        and nodes.returncode == 0
        and any(
            s.strip().startswith(("idle", "mixed", "allocated")) for s in nodes.stdout.splitlines()
        )
    )


@contextmanager
def on_path(directory: Path) -> Iterator[None]:
    """``directory`` first on ``PATH`` for the ``with`` block (for code outside a test's
    ``monkeypatch``, such as module-scoped fixtures)."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{directory}{os.pathsep}{old}"
    try:
        yield
    finally:
        os.environ["PATH"] = old
