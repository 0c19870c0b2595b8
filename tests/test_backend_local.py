"""The local backend's pool: lookup, and what a worker killed by a signal leaves (through the
torch-free ``standins.fake_worker``). What every backend promises (reports, crashed units,
progress, sync, cancel, options), with the real workers, is in ``test_backend_contract.py``."""

from __future__ import annotations

from pathlib import Path

from fourtop.backends import RunSettings, get_backend
from fourtop.backends.local import LocalBackend, _worker_main
from fourtop.jobs import eventlog
from jobfolders import VARS
from standins import fake_worker


class FakeLocal(LocalBackend):
    worker_main = staticmethod(fake_worker)


def test_backend_lookup_is_by_name():
    assert isinstance(get_backend("local"), LocalBackend)
    assert LocalBackend.worker_main is _worker_main


def test_a_killed_worker_names_its_signal_and_keeps_the_submission_ids(new_folder):
    folder, units = new_folder(["110", "011", "111"])  # fake_worker kills the unit of Seed_6
    report = FakeLocal().submit(folder, units, RunSettings(year="2017", varlist=VARS))
    crashed = [n for u in units if u.names[0].endswith("Seed_6") for n in u.names]
    assert {name for name, _ in report.failed} == set(crashed)
    assert all(reason == "worker process killed by signal SIGKILL" for _, reason in report.failed)
    submitted = {}
    for name in crashed:
        assert "killed by signal SIGKILL" in Path(folder.path, f"{name}.err").read_text()
        events, _ = eventlog.parse_events(Path(folder.path, f"{name}.log").read_text())
        # a failure (terminated, return value 1), not an abort; the ids of its submission
        assert [e.code for e in events] == [0, 5] and "return value 1)" in " ".join(events[-1].body)
        assert (events[0].cluster, events[0].proc) == (events[-1].cluster, events[-1].proc)
        submitted[name] = events[0].proc
    everyone = [n for u in units for n in u.names]  # procs are numbered over the submission
    assert submitted == {n: everyone.index(n) for n in crashed}


def test_a_ctrl_c_while_a_worker_starts_does_not_kill_it():
    """Ctrl-C reaches the whole process group; a worker still starting its interpreter must
    not die of it mid-import (a "Fatal Python error" and tracebacks, not one line)."""
    import multiprocessing as mp
    import os
    import signal
    import time

    from fourtop.backends.local import start_worker_process

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = start_worker_process(ctx, _worker_main, (child, 1))
    child.close()
    end = time.monotonic() + 1.0
    while time.monotonic() < end and proc.is_alive():  # through start-up and into the loop
        os.kill(proc.pid, signal.SIGINT)
        time.sleep(0.005)
    parent.send(None)  # the loop's end
    proc.join(timeout=60)
    assert proc.exitcode == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the parent's back
