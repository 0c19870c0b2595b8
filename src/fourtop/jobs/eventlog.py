"""Reading and writing HTCondor job event logs (``.log``) and job results (``.out``).

A job leaves ``<name>.log`` (HTCondor's job event log) and ``<name>.out`` (its
standard output, with a ``ROC-integral: <float>`` line when it obtained a
result). This module turns those two files into one job state, and writes
HTCondor-format events so that local runs look like Condor jobs.

Reading never raises on bad content: empty, truncated or garbage files give a
state with a reason. Both timestamp formats HTCondor has written are read:
``2024-05-02 10:11:12`` (the default today) and the older ``05/02 10:11:12``.
Files are read line by line, so a 100 MB event log costs a few kB of memory.

A ROC integral is a probability: an ``.out`` whose last ``ROC-integral:`` value is not
a number in [0, 1] has no result (the job failed, with the value in the reason). A
``.out`` or ``.log`` that exists but cannot be read (permissions) makes the job
``unreadable``: neither finished nor failed, so it is never resubmitted or deleted.

Example:
    >>> from fourtop.jobs.eventlog import parse_events
    >>> events, problem = parse_events(
    ...     "000 (12.000.000) 05/02 10:11:12 Job submitted from host: <1.2.3.4:9618>\\n...\\n")
    >>> events[0].code, events[0].cluster, problem
    (0, 12, None)
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from fourtop.fileio import describe_os_error

__all__ = [
    "JOB_STATES",
    "JobStatus",
    "LogEvent",
    "LogStatus",
    "job_status",
    "log_aborted",
    "log_executing",
    "log_held",
    "log_released",
    "log_submitted",
    "log_terminated",
    "parse_events",
    "read_log",
    "read_out",
    "read_roc_integral",
    "write_event",
]

#: Every value ``Job.state`` can take. ``unreadable``: a ``.out`` or ``.log`` exists but
#: cannot be read (permissions); not finished, not failed, not unstarted.
JOB_STATES = ("unstarted", "queued", "running", "held", "finished", "failed", "unreadable")

SUBMITTED, EXECUTING, EVICTED, TERMINATED, IMAGE_SIZE, ABORTED, HELD, RELEASED = (
    0,
    1,
    4,
    5,
    6,
    9,
    12,
    13,
)

_HEADER = re.compile(
    r"^(?P<code>\d{3}) \((?P<cluster>\d+)\.(?P<proc>\d+)\.(?P<sub>\d+)\) "
    r"(?P<when>\d{2}/\d{2} \d{2}:\d{2}:\d{2}"
    r"|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
    r"(?: (?P<text>.*))?$"
)
_RETURN = re.compile(r"Normal termination \(return value (-?\d+)\)")
_SIGNAL = re.compile(r"Abnormal termination \(signal (\d+)\)")
_ROC = re.compile(rb"^[ \t]*ROC-integral:[ \t]*(\S*)")
#: events whose body the state needs (hold/abort reason, exit status)
_STATE_BODIES = frozenset({HELD, ABORTED, TERMINATED})
#: longest line kept whole, and most body lines kept per event (real events have a few
#: dozen; a garbage file cannot make a reader hold more than this)
_MAX_LINE = 1 << 16
_MAX_BODY = 1000


@dataclass(frozen=True)
class LogEvent:
    """One event of a job event log.

    Attributes:
        code: event number (0 submitted, 1 executing, 5 terminated, ...).
        cluster: the HTCondor cluster id.
        proc: the process id in the cluster.
        timestamp: the time as written (either date format), not interpreted.
        text: the rest of the header line, e.g. ``Job was held.``.
        body: the indented lines before the ``...`` terminator, stripped.
    """

    code: int
    cluster: int
    proc: int
    timestamp: str
    text: str
    body: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class LogStatus:
    """What a job event log says about the job's last submission.

    ``state`` is ``"missing"`` (no file), ``"empty"``, ``"unreadable"`` (the file
    exists but cannot be read, e.g. permission denied), ``"garbled"`` (no complete
    event), ``"queued"``, ``"running"``, ``"held"``, ``"terminated"`` or
    ``"aborted"``; ``reason`` explains held, aborted, terminated and bad logs.
    """

    state: str
    reason: str | None = None
    return_value: int | None = None
    signal: int | None = None


@dataclass(frozen=True)
class JobStatus:
    """A job's state derived from its ``.log`` and ``.out``: see :func:`job_status`."""

    state: str
    roc_integral: float | None
    reason: str | None
    has_outfile: bool


class _Scanner:
    """Complete events of a stream of lines, one at a time (nothing else is kept).

    ``bodies``: the event codes whose body lines are kept (None: all). After the stream is
    consumed, ``problem`` describes the first garbage line or a truncated last event (or is
    None) and ``content`` says whether any line was not blank.
    """

    def __init__(self, bodies: frozenset[int] | None = None) -> None:
        self.problem: str | None = None
        self.content = False
        self._bodies = bodies

    def events(self, lines: Iterable[str]) -> Iterator[LogEvent]:
        current: re.Match[str] | None = None
        code = 0
        body: list[str] = []
        keep = True
        header = _HEADER.match
        bodies = self._bodies
        for lineno, line in enumerate(lines, 1):
            if current is None:
                if not line or line.isspace():
                    continue
                self.content = True
                match = header(line)
                if match is None:
                    if self.problem is None:
                        self.problem = f"line {lineno} is not an HTCondor event: {line[:60]!r}"
                    continue
                current, code, body = match, int(match["code"]), []
                keep = bodies is None or code in bodies
            elif line.startswith("...") and line.rstrip() == "...":
                yield LogEvent(
                    code=code,
                    cluster=int(current["cluster"]),
                    proc=int(current["proc"]),
                    timestamp=current["when"],
                    text=(current["text"] or "").strip(),
                    body=tuple(b.strip() for b in body if b.strip()),
                )
                current = None
            elif keep and len(body) < _MAX_BODY:
                body.append(line)
        if current is not None and self.problem is None:
            self.problem = f"truncated: the last event ({current['code']}) has no '...' terminator"


def _file_lines(text: TextIO) -> Iterator[str]:
    """The lines of a text file without their newline, one at a time, at most _MAX_LINE long."""
    while line := text.readline(_MAX_LINE):
        yield line.rstrip("\n")


def _open_regular(path: str, flags: int) -> int:
    """``os.open`` that never blocks on a FIFO and refuses what is not a regular file
    (a ``.out`` that is a FIFO or ``/dev/zero`` would hang the reader)."""
    fd = os.open(path, flags | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise OSError(errno.EISDIR, "is a directory", path)
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _why(exc: OSError) -> str:
    """``permission denied``, ``is a directory``, ...: the OS error in words, no path."""
    return describe_os_error(exc, "")


def parse_events(text: str) -> tuple[list[LogEvent], str | None]:
    """Split event log text into complete events.

    Returns:
        The complete events in file order, and a problem description (or None):
        a final event without its ``...`` terminator is left out and reported as
        truncated; lines that belong to no event are reported as garbage.
    """
    scanner = _Scanner()
    events = list(scanner.events(text.splitlines()))
    return events, scanner.problem


def _status_from_events(events: Iterable[LogEvent]) -> LogStatus | None:
    """The state after the last submission's events; None if there was no event at all."""
    state, reason, status = "queued", None, None
    for ev in events:
        if ev.code == SUBMITTED:  # a resubmission appends to the same log: start over
            state, reason = "queued", None
        elif ev.code == EXECUTING:
            state, reason = "running", None
        elif ev.code in (EVICTED, RELEASED, 7):  # back to idle (7: shadow exception)
            state, reason = "queued", None
        elif ev.code == HELD:
            state = "held"
            reason = ev.body[0] if ev.body else "held (no reason given)"
        elif ev.code == ABORTED:
            state = "aborted"
            reason = "aborted " + ev.body[0] if ev.body else "aborted"
        elif ev.code == TERMINATED:
            state = "terminated"
            joined = " ".join(ev.body)
            ret, sig = _RETURN.search(joined), _SIGNAL.search(joined)
            if ret:
                status = LogStatus(state, f"exited with return value {ret[1]}", int(ret[1]))
            elif sig:
                status = LogStatus(state, f"killed by signal {sig[1]}", signal=int(sig[1]))
            else:
                status = LogStatus(state, "terminated (no exit status in the log)")
            continue
        else:  # 006 image size, 040 transfers, 028 job ad, ...: no change of state
            if status is None:
                status = LogStatus(state, reason)
            continue
        status = LogStatus(state, reason)
    return status


def read_log(path: str | os.PathLike[str]) -> LogStatus:
    """Read a job event log line by line; never raises (a bad file gives a state with a reason).

    Only the state is kept while reading, so memory does not grow with the log's size.
    """
    scanner = _Scanner(bodies=_STATE_BODIES)
    try:
        with open(
            path, encoding="utf-8", errors="replace", newline=None, opener=_open_regular
        ) as text:
            status = _status_from_events(scanner.events(_file_lines(text)))
    except FileNotFoundError:
        return LogStatus("missing", "no job event log")
    except OSError as exc:
        return LogStatus("unreadable", f"cannot read {os.fspath(path)} ({_why(exc)})")
    if not scanner.content:
        return LogStatus("empty", "the job event log is empty")
    if status is None:
        return LogStatus("garbled", f"job event log has no complete event ({scanner.problem})")
    return status


@dataclass(frozen=True)
class _Out:
    exists: bool
    roc: float | None
    problem: str | None
    unreadable: bool = False


def _read_out(path: str | os.PathLike[str]) -> _Out:
    last: bytes | None = None
    try:
        with open(path, "rb", opener=_open_regular) as fh:
            while raw := fh.readline(_MAX_LINE):
                if b"ROC-integral" in raw and (match := _ROC.match(raw)):
                    last = match[1]
    except FileNotFoundError:
        return _Out(False, None, None)
    except OSError as exc:
        return _Out(True, None, f"cannot read {os.fspath(path)} ({_why(exc)})", unreadable=True)
    if last is None:
        return _Out(True, None, "no ROC-integral line in the .out file")
    value = last.decode("utf-8", errors="replace")
    try:
        roc = float(value)
    except ValueError:
        return _Out(True, None, f"malformed ROC-integral value {value!r} in the .out file")
    if not math.isfinite(roc):
        return _Out(True, None, f"ROC-integral value {value!r} is not a finite number")
    if not 0.0 <= roc <= 1.0:
        return _Out(True, None, f"ROC-integral value {value} is outside [0, 1]")
    return _Out(True, roc, None)


def read_out(path: str | os.PathLike[str]) -> tuple[bool, float | None, str | None]:
    """Read a job's ``.out``: ``(exists, roc_integral or None, problem or None)``.

    The last ``ROC-integral:`` line counts; a value that is not a finite number
    in [0, 1] is a problem, not a result. A file that exists but cannot be read
    gives ``(True, None, "cannot read <file> (permission denied)")``.
    """
    out = _read_out(path)
    return out.exists, out.roc, out.problem


def read_roc_integral(path: str | os.PathLike[str]) -> float | None:
    """The result of a job's ``.out`` (last ``ROC-integral:`` line), or None."""
    return _read_out(path).roc


def job_status(log_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> JobStatus:
    """Combine a job's ``.log`` and ``.out`` into one state.

    Rules: a ROC-integral line with a value in [0, 1] means ``finished``; a
    ``.out`` or ``.log`` that exists but cannot be read means ``unreadable`` (with
    ``cannot read <file> (permission denied)`` as reason: the result may be there,
    so the job is neither failed nor unstarted); a log ending in terminated (005)
    or aborted (009) without a result means ``failed``; held (012 not followed by a
    release) is ``held`` with the hold reason; otherwise the log gives ``queued``
    or ``running``. A job with neither file is ``unstarted``. A ``.out`` without a
    result next to a missing or garbled log is ``failed`` (nothing will ever
    complete it), with both problems as reason.
    """
    out = _read_out(out_path)
    if out.roc is not None:
        return JobStatus("finished", out.roc, None, True)
    if out.unreadable:
        return JobStatus("unreadable", None, out.problem, True)
    log = read_log(log_path)
    if log.state == "unreadable":
        return JobStatus("unreadable", None, log.reason, out.exists)
    if log.state in ("terminated", "aborted"):
        reason = log.reason or log.state
        if log.state == "terminated":
            reason += "; " + (out.problem or "no .out file")
        return JobStatus("failed", None, reason, out.exists)
    if log.state in ("queued", "running", "held"):
        return JobStatus(log.state, None, log.reason, out.exists)
    if out.exists:
        return JobStatus("failed", None, f"{out.problem}; {log.reason}", True)
    if log.state == "garbled":
        return JobStatus("failed", None, f"{log.reason}; no .out file", False)
    return JobStatus("unstarted", None, None if log.state == "missing" else log.reason, False)


# --------------------------------------------------------------------------- writing

_USAGE = "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  {} Usage\n"
_BYTES = "\t0  -  {} Bytes {} By Job\n"
_DEFAULT_TEXT = {
    SUBMITTED: "Job submitted from host: <127.0.0.1:0>",
    EXECUTING: "Job executing on host: <127.0.0.1:0>",
    RELEASED: "Job was released.\n\tvia fourtop",
}


def write_event(
    log_path: str | os.PathLike[str],
    code: int,
    *,
    cluster: int,
    proc: int = 0,
    text: str = "",
    when: datetime | None = None,
) -> None:
    """Append one event to a job event log in HTCondor's format.

    Args:
        log_path: the ``.log`` file (created if missing).
        code: the event number.
        cluster: HTCondor cluster id (any positive number for local runs).
        proc: process id within the cluster.
        text: the header text after the time and any body lines (indented with
            a tab); empty means the standard text for ``code`` where one exists.
        when: event time (default now), written as ``YYYY-MM-DD HH:MM:SS``.

    The event goes out in one ``write`` on a file opened for appending, then is
    flushed and fsynced, so writers of different files never interfere and a
    reader never sees half an event without noticing (no ``...``).
    """
    when = when or datetime.now()
    body = text or _DEFAULT_TEXT.get(code, "")
    event = f"{code:03d} ({cluster:03d}.{proc:03d}.000) {when:%Y-%m-%d %H:%M:%S} {body}\n...\n"
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, event.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def log_submitted(
    log_path: str | os.PathLike[str],
    *,
    cluster: int,
    proc: int = 0,
    host: str = "<127.0.0.1:0>",
    when: datetime | None = None,
) -> None:
    """Append a ``000 Job submitted`` event."""
    write_event(
        log_path,
        SUBMITTED,
        cluster=cluster,
        proc=proc,
        text=f"Job submitted from host: {host}",
        when=when,
    )


def log_executing(
    log_path: str | os.PathLike[str],
    *,
    cluster: int,
    proc: int = 0,
    host: str = "<127.0.0.1:0>",
    when: datetime | None = None,
) -> None:
    """Append a ``001 Job executing`` event."""
    write_event(
        log_path,
        EXECUTING,
        cluster=cluster,
        proc=proc,
        text=f"Job executing on host: {host}",
        when=when,
    )


def log_terminated(
    log_path: str | os.PathLike[str],
    return_value: int,
    *,
    cluster: int,
    proc: int = 0,
    signal: int | None = None,
    when: datetime | None = None,
) -> None:
    """Append a ``005 Job terminated`` event: normal with ``return_value``, or by ``signal``."""
    if signal is None:
        status = f"\t(1) Normal termination (return value {return_value})\n"
    else:
        status = f"\t(0) Abnormal termination (signal {signal})\n\t(0) No core file\n"
    text = (
        "Job terminated.\n"
        + status
        + "".join(
            _USAGE.format(k) for k in ("Run Remote", "Run Local", "Total Remote", "Total Local")
        )
        + "".join(_BYTES.format(k, d) for k in ("Run", "Total") for d in ("Sent", "Received"))
    ).rstrip("\n")
    write_event(log_path, TERMINATED, cluster=cluster, proc=proc, text=text, when=when)


def log_aborted(
    log_path: str | os.PathLike[str],
    reason: str,
    *,
    cluster: int,
    proc: int = 0,
    when: datetime | None = None,
) -> None:
    """Append a ``009 Job was aborted`` event with a one-line ``reason``."""
    write_event(
        log_path,
        ABORTED,
        cluster=cluster,
        proc=proc,
        text=f"Job was aborted.\n\t{_one_line(reason)}",
        when=when,
    )


def log_held(
    log_path: str | os.PathLike[str],
    reason: str,
    *,
    cluster: int,
    proc: int = 0,
    code: int = 0,
    subcode: int = 0,
    when: datetime | None = None,
) -> None:
    """Append a ``012 Job was held`` event with a one-line hold ``reason``."""
    write_event(
        log_path,
        HELD,
        cluster=cluster,
        proc=proc,
        when=when,
        text=f"Job was held.\n\t{_one_line(reason)}\n\tCode {code} Subcode {subcode}",
    )


def log_released(
    log_path: str | os.PathLike[str],
    *,
    cluster: int,
    proc: int = 0,
    when: datetime | None = None,
) -> None:
    """Append a ``013 Job was released`` event."""
    write_event(log_path, RELEASED, cluster=cluster, proc=proc, when=when)


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no reason given)"
