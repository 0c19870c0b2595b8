"""The HTCondor backend without a pool: submit descriptions parsed by ``htcondor2.Submit``,
argument quoting against hostile paths and variable names, submissions through the stand-in
schedd (``standins.FakeSchedd``) and ``condor_submit``, family logs, and job state from real
HTCondor event logs of several versions. What every backend promises (reports, refused
submissions, resubmission, sync, cancel, options) is checked in ``test_backend_contract.py``."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from fourtop.backends import RunSettings, WorkUnit, condor, get_backend
from fourtop.backends import condor_submitfile as submitfile
from fourtop.errors import BackendError
from fourtop.jobs import eventlog
from standins import parse_new_style

htcondor2 = pytest.importorskip("htcondor2")

LOGS = Path(__file__).parent / "data" / "condor_logs_versions"
HOSTILE = "a b'c\"d;rm -rf $(HOME) `x`"


def _settings(**options: object) -> RunSettings:
    return RunSettings(
        year="2017",
        varlist=[HOSTILE, "beta"],
        config=Path(f"/data/{HOSTILE}/cfg.toml"),
        params={"learning_rate": 0.01, "activation": "elu"},
        random_seed=5,
        options=dict(options),
    )


def test_job_file_parses_and_arguments_survive_hostile_paths(tmp_path: Path) -> None:
    folder = tmp_path / HOSTILE
    folder.mkdir()
    text = submitfile.render_job_file("Keras_2vars_Seed_3", _settings(), folder)
    sub = htcondor2.Submit(text)
    assert sub["output"] == "Keras_2vars_Seed_3.out"
    assert sub["log"] == "Keras_2vars_Seed_3.log" and sub["error"] == "Keras_2vars_Seed_3.err"
    assert sub.getQArgs().strip() == "1"
    args = parse_new_style(sub.expand("arguments"))
    assert args[:3] == ["-m", "fourtop.cli", "run-job"]
    assert args[args.index("--config") + 1] == f"/data/{HOSTILE}/cfg.toml"
    assert args[args.index("-l") + 1] == str(folder.resolve() / "fourtop-varlist.txt")
    assert args[args.index("--params") + 1] == '{"activation":"elu","learning_rate":0.01}'
    assert args[-1] == "Keras_2vars_Seed_3" and "--job-dir" not in args
    assert sub.expand("initialdir") == str(folder.resolve())
    # variable names never reach a command line: they travel in the varlist file
    assert "beta" not in text


@pytest.mark.parametrize("arg", ["plain", "", "two words", "it's", 'say "hi"', "''", "$(X)"])
def test_quoting_round_trips(arg: str) -> None:
    value = submitfile.format_arguments(["x", arg, "y"])
    expanded = htcondor2.Submit(f"arguments = {value}\n").expand("arguments")
    assert parse_new_style(expanded) == ["x", arg, "y"]


def test_cluster_description_items_one_proc_per_unit(tmp_path: Path) -> None:
    units = [
        WorkUnit(
            ("Keras_3vars_Seed_6", "Keras_3vars_Seed_6_Subseed_2", "Keras_3vars_Seed_6_Subseed_4")
        ),
        WorkUnit(("Keras_3vars_Seed_1",)),
    ]
    text, items = submitfile.cluster_description(units, _settings(), tmp_path)
    sub = htcondor2.Submit(text + submitfile.queue_statement(items))
    rows = list(sub.itemdata())
    assert rows == items and len(rows) == 2
    assert rows[0]["FtStem"] == "Keras_3vars_Seed_6.family"
    assert rows[0]["FtArgs"].split() == ["--job-dir", ".", *units[0].names]
    assert rows[1] == {
        "FtUnit": "Keras_3vars_Seed_1",
        "FtStem": "Keras_3vars_Seed_1",
        "FtArgs": "Keras_3vars_Seed_1",
    }
    assert sub["output"] == "$(FtStem).out" and sub["log"] == "$(FtStem).log"
    assert sub["arguments"].endswith(' $(FtArgs)"')


def test_resources_and_extra_submit_lines(tmp_path: Path) -> None:
    settings = _settings(
        request_memory="4GB",
        request_cpus="2",
        request_gpus="1",
        **{"+JobFlavour": '"workday"', "accounting_group": "group_cms"},
    )
    sub = htcondor2.Submit(submitfile.render_job_file("Keras_2vars_Seed_1", settings, tmp_path))
    assert sub["request_memory"] == "4GB" and sub["request_cpus"] == "2"
    assert sub["request_gpus"] == "1" and sub["MY.JobFlavour"] == '"workday"'
    assert sub["accounting_group"] == "group_cms"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"requirements": "a\nqueue 100"}, "line break"),
        ({"transfer": "maybe"}, "expected yes or no"),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(BackendError, match=message):
        submitfile.render_job_file("Keras_2vars_Seed_1", _settings(**options), tmp_path)


def test_hostile_job_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="only letters, digits"):
        submitfile.render_job_file(HOSTILE, _settings(), tmp_path)


def test_transfer_mode_ships_config_varlist_and_arrays(tmp_path: Path) -> None:
    arrays = tmp_path / "cache" / "split0.npz"
    arrays.parent.mkdir()
    arrays.write_bytes(b"")  # shipped as it is: only its existence is checked here
    text, _ = submitfile.cluster_description(
        [WorkUnit(("Keras_2vars_Seed_1",))], _settings(transfer="yes", arrays=str(arrays)), tmp_path
    )
    sub = htcondor2.Submit(text)
    assert sub["should_transfer_files"] == "YES"
    inputs = sub.expand("transfer_input_files").split(",")
    assert inputs == [
        str(tmp_path / "fourtop-varlist.txt"),
        f"/data/{HOSTILE}/cfg.toml",
        str(arrays),
    ]
    args = parse_new_style(sub.expand("arguments").replace("$(FtArgs)", "NAME"))
    assert args[args.index("-l") + 1] == "fourtop-varlist.txt"
    assert args[args.index("--config") + 1] == "cfg.toml"
    assert args[args.index("--arrays") + 1] == "split0.npz"


def test_resubmission_removes_earlier_procs_of_its_units(new_folder, schedd) -> None:
    folder, units = new_folder(["110"])
    backend = get_backend("condor")
    assert not backend.submit(folder, units, _settings(retry_delay=0)).failed
    assert not backend.submit(folder, units, _settings(retry_delay=0)).failed
    removes = [c for c in schedd.calls if c[0] == "act"]
    assert len(removes) == 1 and removes[0][1] == htcondor2.JobAction.Remove
    assert 'FourtopUnit == "Keras_3vars_Seed_6"' in removes[0][2]


def test_submit_one_cluster_with_bindings(new_folder, schedd) -> None:
    folder, units = new_folder(["110", "001"])
    units.append(WorkUnit((units[0].names[1],)))
    units[0] = WorkUnit(units[0].names[:1] + units[0].names[2:])
    report = get_backend("condor").submit(folder, units, _settings(retry_delay=0))
    assert not report.failed and len(report.submitted) == 5
    submits = [c for c in schedd.calls if c[0] == "submit"]
    assert len(submits) == 1 and len(submits[0][2]) == 3  # one cluster, one proc per unit
    # a first submission has nothing in the queue to remove
    assert not [c for c in schedd.calls if c[0] == "act"]
    # family members were logged as submitted by fourtop; the schedd wrote the single job's log
    root = Path(folder.path)
    assert (root / f"{units[0].names[0]}.family.log").is_file()
    assert [p.log.name for p in schedd.queue] == [
        f"{units[0].names[0]}.family.log",
        f"{units[1].names[0]}.family.log",
        f"{units[2].names[0]}.log",
    ]
    assert (Path(folder.path) / "fourtop-varlist.txt").read_text().splitlines() == [HOSTILE, "beta"]
    assert len(list(Path(folder.path).glob("fourtop-condor-*.sub"))) == 1


def test_failed_submission_retried_then_reported(new_folder, schedd) -> None:
    folder, units = new_folder(["011"])
    schedd.fail_times = 10
    report = get_backend("condor").submit(folder, units, _settings(retries=3, retry_delay=0))
    assert sum(1 for c in schedd.calls if c[0] == "submit") == 3  # --option retries
    assert all("Failed to connect to schedd" in reason for _, reason in report.failed)
    assert "after 3 attempt(s)" in report.failed[0][1]


def test_retry_succeeds_on_second_attempt(new_folder, schedd) -> None:
    folder, units = new_folder(["011"])
    schedd.fail_times = 1
    report = get_backend("condor").submit(folder, units, _settings(retry_delay=0))
    assert not report.failed and len(report.submitted) == 3
    assert sum(1 for c in schedd.calls if c[0] == "submit") == 2 and len(schedd.queue) == 1


def test_condor_submit_command_fallback(tmp_path: Path, new_folder, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "seen.sub"
    (bin_dir / "condor_submit").write_text(f"#!/bin/sh\ncp \"$2\" {seen}\necho '91.0 - 91.1'\n")
    (bin_dir / "condor_submit").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    folder, units = new_folder(["010", "100"])
    report = get_backend("condor").submit(folder, units, _settings(submit_method="command"))
    assert not report.failed and len(report.submitted) == 4
    sub = htcondor2.Submit(seen.read_text())
    assert [r["FtUnit"] for r in sub.itemdata()] == [u.names[0] for u in units]


def test_no_condor_at_all_is_a_clear_error(tmp_path: Path, new_folder, monkeypatch) -> None:
    monkeypatch.setattr(condor, "_bindings", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    folder, units = new_folder(["001"])
    with pytest.raises(BackendError, match="neither the htcondor2 bindings nor condor_submit"):
        get_backend("condor").submit(folder, units, _settings())


# ------------------------------------------------------------------ real event logs

EXPECTED = {
    # file: {cluster: state per fourtop.jobs.eventlog.read_log}
    "v6_job_core_macros_sched.log": {
        1257: "terminated",
        1302: "terminated",
        1537: "aborted",
        1568: "terminated",
    },
    "v6_job_core_copytospool_van.log": {103: "aborted", 1542: "aborted"},
    "v8_test_event_reader.log": {23515: "terminated"},
    "v24_lsst_tiny_problems.nodes.log": {9229: "aborted", 9231: "terminated", 9234: "terminated"},
}


def _split_by_cluster(text: str) -> dict[int, str]:
    """One job's events per cluster, as each job's own .log would hold them."""
    out: dict[int, str] = {}
    for block in re.findall(r"^\d{3} \(\d+\..*?^\.\.\.\n", text, re.MULTILINE | re.DOTALL):
        cluster = int(re.match(r"\d{3} \((\d+)\.", block)[1])
        out[cluster] = out.get(cluster, "") + block
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_logs_read_by_bindings_and_tracker(tmp_path: Path, name: str) -> None:
    text = (LOGS / name).read_text()
    bound = list(htcondor2.JobEventLog(str(LOGS / name)).events(0))
    ours, problem = eventlog.parse_events(text)
    assert problem is None
    assert [(e.cluster, e.proc, int(e.type)) for e in bound] == [
        (e.cluster, e.proc, e.code) for e in ours
    ]
    per_job = _split_by_cluster(text)
    for cluster, state in EXPECTED[name].items():
        log = tmp_path / f"job{cluster}.log"
        log.write_text(per_job[cluster])
        assert eventlog.read_log(log).state == state
        # with no ROC-integral in .out, a finished Condor job is a failed one (to resubmit)
        status = eventlog.job_status(log, tmp_path / f"job{cluster}.out")
        assert status.state == "failed"
        (tmp_path / f"job{cluster}.out").write_text("ROC-integral: 0.8125\n")
        assert eventlog.job_status(log, tmp_path / f"job{cluster}.out").state == "finished"


def test_return_value_of_a_failed_v24_job_is_the_reason(tmp_path: Path) -> None:
    per_job = _split_by_cluster((LOGS / "v24_lsst_tiny_problems.nodes.log").read_text())
    log = tmp_path / "x.log"
    log.write_text(per_job[9231])
    status = eventlog.job_status(log, tmp_path / "x.out")
    assert status.state == "failed" and "return value 1" in status.reason


def test_released_family_shows_its_members_queued_again(new_folder, schedd) -> None:
    folder, units = new_folder(["111"])
    get_backend("condor").submit(folder, units, _settings())
    (proc,) = schedd.queue
    reason = "Error from slot1_3@wn: memory usage exceeded request_memory"
    schedd.hold(proc, reason)
    bound = list(htcondor2.JobEventLog(str(proc.log)).events(0))  # what HTCondor's tools read
    assert int(bound[-1].type) == 12 and bound[-1]["HoldReason"] == reason
    assert condor.sync_family_logs(folder.path) == 4
    folder.check()
    assert all(j.state == "held" and j.reason == reason for j in folder.jobs)
    eventlog.log_released(proc.log, cluster=proc.cluster, proc=proc.proc)
    assert condor.sync_family_logs(folder.path) == 4
    assert condor.sync_family_logs(folder.path) == 0  # idempotent
    folder.check()
    assert {j.state for j in folder.jobs} == {"queued"}


def test_removed_old_family_proc_does_not_abort_its_resubmitted_members(new_folder, schedd) -> None:
    folder, units = new_folder(["111"])
    backend = get_backend("condor")
    backend.submit(folder, units, _settings())
    seed = units[0].names[0]
    (old,) = schedd.queue
    schedd.hold(old, "memory usage exceeded request_memory")
    assert condor.sync_family_logs(folder.path) == 4
    # resubmit two subseeds as a new family proc (named after its first member); the old
    # proc is removed from the queue, which HTCondor records in the old family log
    retry = units[0].names[1:3]
    for name in retry:
        Path(folder.path, f"{name}.log").unlink()
    time.sleep(1.1)  # a later cluster file (they are named by the second)
    backend.submit(folder, [WorkUnit(retry)], _settings())  # removes the old proc from the queue
    assert old.status == "removed"
    condor.sync_family_logs(folder.path)
    folder.check()
    states = {j.name: j.state for j in folder.jobs}
    assert all(states[n] == "queued" for n in retry), states
    # the members left in the old proc follow it
    assert states[seed] == "failed" and states[units[0].names[3]] == "failed"


def test_resubmitting_part_of_a_family_removes_the_old_family_proc(new_folder, schedd) -> None:
    folder, units = new_folder(["111"])
    backend = get_backend("condor")
    backend.submit(folder, units, _settings(retry_delay=0))
    seed = units[0].names[0]
    retry = units[0].names[2:]  # two subseeds: the new proc is named after the first of them
    time.sleep(1.1)
    backend.submit(folder, [WorkUnit(retry)], _settings(retry_delay=0))
    removes = [c for c in schedd.calls if c[0] == "act"]
    assert len(removes) == 1
    # the old proc that ran these jobs is the seed's family proc, whatever the new one is called
    assert f'FourtopUnit == "{seed}"' in removes[0][2]
