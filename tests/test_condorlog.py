"""Reading and writing HTCondor job event logs and .out results."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from fourtop import condorlog
from fourtop.condorlog import (
    job_status,
    log_aborted,
    log_executing,
    log_held,
    log_released,
    log_submitted,
    log_terminated,
    parse_events,
    read_log,
    read_out,
    read_roc_integral,
    write_event,
)

DATA = Path(__file__).parent / "data" / "event_logs"

EXPECTED = {
    "iso_finished.log": ("terminated", "exited with return value 0"),
    "old_finished.log": ("terminated", "exited with return value 0"),
    "held.log": (
        "held",
        "Error from slot1_2@node17.example.org: Job has gone over cgroup "
        "memory limit of 2048 megabytes. Last measured usage: 2100 megabytes.",
    ),
    "held_released_running.log": ("running", None),
    "evicted.log": ("queued", None),
    "abnormal.log": ("terminated", "killed by signal 9"),
    "aborted.log": ("aborted", "aborted via condor_rm (by user analyst)"),
    "resubmitted.log": ("running", None),
    "truncated.log": ("running", None),
}
VALID = [n for n in EXPECTED if n != "truncated.log"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_logs(name: str) -> None:
    status = read_log(DATA / name)
    assert (status.state, status.reason) == EXPECTED[name]


def test_return_value_and_signal() -> None:
    assert read_log(DATA / "iso_finished.log").return_value == 0
    assert read_log(DATA / "abnormal.log").signal == 9


def test_both_date_formats_parsed() -> None:
    iso, problem = parse_events((DATA / "iso_finished.log").read_text())
    assert problem is None
    assert [e.code for e in iso] == [0, 40, 40, 1, 6, 6, 5]
    assert iso[0].timestamp == "2025-04-28 10:44:20" and iso[0].cluster == 5739
    old, problem = parse_events((DATA / "old_finished.log").read_text())
    assert problem is None
    assert [e.code for e in old] == [0, 1, 6, 5]
    assert old[0].timestamp == "06/17 15:12:32" and old[0].cluster == 82549230


def test_utc_iso_timestamps_parsed() -> None:
    events, problem = parse_events(
        "000 (1.002.000) 2024-05-02T10:11:12.345Z Job submitted from host: <h>\n...\n"
    )
    assert problem is None and events[0].proc == 2 and events[0].timestamp.endswith("Z")


@pytest.mark.parametrize(
    ("name", "state", "words"),
    [
        ("empty.log", "empty", "empty"),
        ("garbage.log", "garbled", "line 1 is not an HTCondor event"),
    ],
)
def test_bad_logs_give_reasons(name: str, state: str, words: str) -> None:
    status = read_log(DATA / name)
    assert status.state == state and words in (status.reason or "")


def test_truncated_reported_by_parser() -> None:
    events, problem = parse_events((DATA / "truncated.log").read_text())
    assert [e.code for e in events] == [0, 1]
    assert problem is not None and "truncated" in problem and "005" in problem


def test_missing_and_unreadable_log(tmp_path: Path) -> None:
    assert read_log(tmp_path / "nope.log").state == "missing"
    (tmp_path / "dir.log").mkdir()
    status = read_log(tmp_path / "dir.log")
    assert status.state == "unreadable" and "cannot read" in (status.reason or "")


@pytest.mark.parametrize("name", VALID)
def test_cross_check_with_htcondor2(name: str) -> None:
    htcondor2 = pytest.importorskip("htcondor2")
    theirs = [
        (int(e.type), e.cluster, e.proc) for e in htcondor2.JobEventLog(str(DATA / name)).events(0)
    ]
    ours, _ = parse_events((DATA / name).read_text())
    assert theirs == [(e.code, e.cluster, e.proc) for e in ours]
    if name == "held.log":
        held = list(htcondor2.JobEventLog(str(DATA / name)).events(0))[-1]
        assert held["HoldReason"] == read_log(DATA / name).reason


def test_read_out(tmp_path: Path) -> None:
    out = tmp_path / "a.out"
    assert read_out(out) == (False, None, None)
    out.write_text("Epoch 1/15\nloss: 0.3\nROC-integral: 0.5\nROC-integral: 0.8125\n")
    assert read_out(out) == (True, 0.8125, None)
    assert read_roc_integral(out) == 0.8125
    out.write_text("Epoch 1/15\nTraceback (most recent call last):\n")
    assert read_out(out) == (True, None, "no ROC-integral line in the .out file")
    out.write_text("ROC-integral: abc\n")
    assert "malformed ROC-integral value 'abc'" in read_out(out)[2]
    out.write_text("ROC-integral: nan\n")
    assert "not a finite number" in read_out(out)[2]
    out.write_bytes(b"\xff\xfe\x00\nROC-integral: 0.7\n")
    assert read_out(out)[1] == 0.7


@pytest.mark.parametrize(
    ("log", "out", "state", "words"),
    [
        (None, None, "unstarted", None),
        ("iso_finished.log", "ROC-integral: 0.75\n", "finished", None),
        (None, "ROC-integral: 0.75\n", "finished", None),
        (
            "iso_finished.log",
            "no result\n",
            "failed",
            "exited with return value 0; no ROC-integral",
        ),
        ("abnormal.log", None, "failed", "killed by signal 9; no .out file"),
        ("aborted.log", None, "failed", "aborted via condor_rm"),
        ("held.log", None, "held", "cgroup memory limit"),
        ("held_released_running.log", "partial\n", "running", None),
        ("evicted.log", None, "queued", None),
        ("empty.log", None, "unstarted", "empty"),
        ("empty.log", "x\n", "failed", "no ROC-integral line in the .out file; the job event log"),
        ("garbage.log", None, "failed", "no complete event"),
        ("garbage.log", "x\n", "failed", "no ROC-integral"),
        (None, "x\n", "failed", "no job event log"),
    ],
)
def test_job_status(
    tmp_path: Path, log: str | None, out: str | None, state: str, words: str | None
) -> None:
    log_path, out_path = tmp_path / "j.log", tmp_path / "j.out"
    if log:
        log_path.write_bytes((DATA / log).read_bytes())
    if out:
        out_path.write_text(out)
    status = job_status(log_path, out_path)
    assert status.state == state
    assert status.has_outfile == (out is not None)
    assert status.state in condorlog.JOB_STATES
    if words is None:
        assert status.reason is None
    else:
        assert words in (status.reason or "")
    assert (status.roc_integral == 0.75) == (state == "finished")


def test_writers_read_back_by_both_parsers(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    when = datetime(2026, 3, 4, 5, 6, 7)
    log_submitted(log, cluster=42, proc=3, when=when)
    assert read_log(log).state == "queued"
    log_executing(log, cluster=42, proc=3)
    assert read_log(log).state == "running"
    log_held(log, "out of\nmemory", cluster=42, proc=3, code=34)
    assert (read_log(log).state, read_log(log).reason) == ("held", "out of memory")
    log_released(log, cluster=42, proc=3)
    assert read_log(log).state == "queued"
    log_terminated(log, 3, cluster=42, proc=3)
    assert read_log(log).return_value == 3
    log_terminated(log, 0, cluster=42, proc=3, signal=11)
    assert read_log(log).signal == 11
    log_aborted(log, "interrupted by the user (Ctrl-C)", cluster=42, proc=3)
    assert read_log(log).reason == "aborted interrupted by the user (Ctrl-C)"
    write_event(log, 6, cluster=42, proc=3, text="Image size of job updated: 10")
    text = log.read_text()
    assert text.startswith("000 (042.003.000) 2026-03-04 05:06:07 Job submitted from host:")
    ours, problem = parse_events(text)
    assert problem is None
    assert [e.code for e in ours] == [0, 1, 12, 13, 5, 5, 9, 6]

    htcondor2 = pytest.importorskip("htcondor2")
    theirs = list(htcondor2.JobEventLog(str(log)).events(0))
    assert [int(e.type) for e in theirs] == [e.code for e in ours]
    assert all((e.cluster, e.proc) == (42, 3) for e in theirs)
    assert theirs[2]["HoldReason"] == "out of memory" and theirs[2]["HoldReasonCode"] == 34
    assert theirs[4]["ReturnValue"] == 3 and theirs[4]["TerminatedNormally"]
    assert theirs[5]["TerminatedBySignal"] == 11
    assert theirs[6]["Reason"] == "interrupted by the user (Ctrl-C)"
