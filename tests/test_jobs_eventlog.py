"""Reading and writing HTCondor job event logs and .out results."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from fourtop.jobs import eventlog
from fourtop.jobs.eventlog import (
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
    assert status.state == "unreadable"
    assert status.reason == f"cannot read {tmp_path / 'dir.log'} (is a directory)"


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
    assert status.state in eventlog.JOB_STATES
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


# ---------------------------------------------------------------- issue 10
@pytest.mark.parametrize("value", ["-1", "2.5", "1.0000001", "-0.0001", "1e3"])
def test_roc_integral_outside_0_1_is_a_problem(tmp_path: Path, value: str) -> None:
    out = tmp_path / "a.out"
    out.write_text(f"Epoch 1/1\nROC-integral: {value}\n")
    assert read_out(out) == (True, None, f"ROC-integral value {value} is outside [0, 1]")
    assert read_roc_integral(out) is None
    (tmp_path / "a.log").write_bytes((DATA / "iso_finished.log").read_bytes())
    status = job_status(tmp_path / "a.log", out)
    assert status.state == "failed" and status.roc_integral is None
    assert status.reason == (
        f"exited with return value 0; ROC-integral value {value} is outside [0, 1]"
    )


@pytest.mark.parametrize("value", ["0", "1", "0.0", "1.0", "0.5"])
def test_roc_integral_bounds_are_results(tmp_path: Path, value: str) -> None:
    out = tmp_path / "a.out"
    out.write_text(f"ROC-integral: {value}\n")
    assert read_out(out) == (True, float(value), None)


def _deny(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """Reading ``denied`` fails as another user's 0600 file does (we may run as root)."""
    real = open

    def fake_open(path, *args, **kwargs):
        if Path(path) == denied:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(eventlog, "open", fake_open, raising=False)


@pytest.mark.parametrize(
    ("log", "out"),
    [("iso_finished.log", "ROC-integral: 0.8\n"), ("abnormal.log", "Epoch 1\n"), (None, "x\n")],
)
def test_unreadable_out_is_unreadable_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log: str | None, out: str
) -> None:
    log_path, out_path = tmp_path / "j.log", tmp_path / "j.out"
    if log:
        log_path.write_bytes((DATA / log).read_bytes())
    out_path.write_text(out)
    _deny(monkeypatch, out_path)
    status = job_status(log_path, out_path)
    assert status == eventlog.JobStatus(
        "unreadable", None, f"cannot read {out_path} (permission denied)", True
    )
    assert read_out(out_path) == (True, None, f"cannot read {out_path} (permission denied)")


def test_unreadable_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log_path, out_path = tmp_path / "j.log", tmp_path / "j.out"
    log_path.write_bytes((DATA / "abnormal.log").read_bytes())
    _deny(monkeypatch, log_path)
    assert read_log(log_path) == eventlog.LogStatus(
        "unreadable", f"cannot read {log_path} (permission denied)"
    )
    status = job_status(log_path, out_path)  # no .out: running? failed? nobody can tell
    assert (status.state, status.reason, status.has_outfile) == (
        "unreadable",
        f"cannot read {log_path} (permission denied)",
        False,
    )
    out_path.write_text("Epoch 1\n")  # a partial .out: still cannot tell
    assert job_status(log_path, out_path).state == "unreadable"
    out_path.write_text("ROC-integral: 0.7\n")  # a result needs no log
    assert job_status(log_path, out_path).state == "finished"


def test_unreadable_is_a_job_state_neither_finished_nor_failed() -> None:
    assert "unreadable" in eventlog.JOB_STATES
    assert eventlog.JOB_STATES[:6] == (
        "unstarted",
        "queued",
        "running",
        "held",
        "finished",
        "failed",
    )


def test_directory_as_out_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "j.out").mkdir()
    status = job_status(tmp_path / "j.log", tmp_path / "j.out")
    assert status.state == "unreadable" and "(is a directory)" in (status.reason or "")


def test_read_log_streams_a_big_log(tmp_path: Path) -> None:
    """A ~20 MB event log is read in a few kB: only the state is kept, not the events."""
    import tracemalloc

    log = tmp_path / "big.log"
    pad = "x" * 400  # long lines: the same bytes in fewer lines (tracemalloc is slow per line)
    block = "".join(
        f"006 (77.000.000) 2024-05-02 10:{i % 60:02d}:00 Image size of job updated: {i}\n"
        f"\t100  -  MemoryUsage of job (MB) {pad}\n...\n"
        f"028 (77.000.000) 2024-05-02 10:{i % 60:02d}:00 Job ad information event triggered.\n"
        f'\tAttribute{i} = "{pad}"\n...\n'
        for i in range(1000)
    )
    with open(log, "w") as fh:
        log_submitted(log, cluster=77)
        log_executing(log, cluster=77)
        while fh.tell() < 20_000_000:
            fh.write(block)
        fh.flush()
    log_held(log, "over the memory limit", cluster=77)
    assert log.stat().st_size > 20_000_000
    tracemalloc.start()
    try:
        status = read_log(log)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (status.state, status.reason) == ("held", "over the memory limit")
    assert peak < 2_000_000, f"peak {peak / 1e6:.1f} MB while reading a 20 MB log"


def test_read_out_streams(tmp_path: Path) -> None:
    import tracemalloc

    out = tmp_path / "big.out"
    with open(out, "w") as fh:
        for i in range(50_000):
            fh.write(f"Epoch {i}: loss 0.{i:06d} {'=' * 200}\nROC-integral: not yet\n")
        fh.write("ROC-integral: 0.625\n")
    tracemalloc.start()
    try:
        result = read_out(out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result == (True, 0.625, None)
    assert peak < 1_000_000


def test_garbage_line_without_newline_limits(tmp_path: Path) -> None:
    """A log of one huge line (no newline) is garbled, read in bounded pieces."""
    log = tmp_path / "g.log"
    log.write_bytes(b"x" * 300_000)
    status = read_log(log)
    assert status.state == "garbled" and "line 1 is not an HTCondor event" in (status.reason or "")
    events, problem = parse_events("000 (1.000.000) 2024-05-02 10:11:12 Job submitted\n...\n")
    assert [e.code for e in events] == [0] and problem is None


def test_fifo_and_devices_never_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "j.out")  # opening a FIFO for reading would wait for a writer
    (tmp_path / "j.log").symlink_to("/dev/zero")  # an endless file
    status = job_status(tmp_path / "j.log", tmp_path / "j.out")
    assert status.state == "unreadable"
    assert status.reason == f"cannot read {tmp_path / 'j.out'} (not a regular file)"
    assert read_log(tmp_path / "j.log").reason == (
        f"cannot read {tmp_path / 'j.log'} (not a regular file)"
    )
