"""A job's memory: its peak resident set (RSS) and proportional set (PSS), for its ``.out``.

RSS counts every page a process holds, also the pages it shares: two workers that map one
cache file of events (:mod:`fourtop.data.arrayfile`) each count all of it. PSS divides each
shared page among the processes that map it, so the PSS of the workers of one machine adds up
to the memory they use together. The peak RSS is the kernel's high-water mark (``VmHWM``),
reset when the watch starts, so a long-lived local worker reports each job's own peak; the
peak PSS is sampled (every :data:`INTERVAL` seconds, and at the end) by a thread. Both are
Linux figures; elsewhere only the process's lifetime peak RSS (``ru_maxrss``) is known.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from types import TracebackType

__all__ = ["INTERVAL", "MemoryWatch"]

log = logging.getLogger(__name__)

#: seconds between two samples of the PSS
INTERVAL = 0.2
_MIB = 1024 * 1024


def _proc_kib(path: str, field: str) -> int | None:
    """The ``field:  <n> kB`` value of a /proc file, in KiB (None where there is none)."""
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def current_pss() -> int | None:
    """This process's proportional set size in bytes (None where the kernel does not say)."""
    kib = _proc_kib("/proc/self/smaps_rollup", "Pss")
    return None if kib is None else kib * 1024


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak RSS of this process to its current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _lifetime_peak_rss() -> int | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


class MemoryWatch:
    """Watch this process's memory from ``__enter__`` (a context manager) on.

    Example:
        >>> with MemoryWatch() as watch:
        ...     data = b"x" * 10_000_000
        >>> watch.peak_rss() >= 10_000_000
        True
    """

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._own_peak = False
        self._peak_pss: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> MemoryWatch:
        self._own_peak = _reset_peak_rss()
        self.sample()
        if self._peak_pss is not None:  # sampling works here: keep sampling
            thread = threading.Thread(target=self._run, name="memory-watch", daemon=True)
            try:
                thread.start()
            except RuntimeError as exc:  # "can't start new thread" (a process/thread limit)
                log.debug("memory watch: no sampling thread (%s); PSS sampled at the end", exc)
            else:
                self._thread = thread
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        """Take one PSS sample now."""
        pss = current_pss()
        if pss is not None and (self._peak_pss is None or pss > self._peak_pss):
            self._peak_pss = pss

    def peak_rss(self) -> int | None:
        """The peak RSS in bytes since the watch started (or, where it could not be reset,
        in the process's life)."""
        if self._own_peak:
            kib = _proc_kib("/proc/self/status", "VmHWM")
            if kib is not None:
                return kib * 1024
        return _lifetime_peak_rss()

    def peak_pss(self) -> int | None:
        """The largest PSS sampled so far, in bytes (None where the kernel does not say)."""
        self.sample()
        return self._peak_pss

    def summary(self) -> str:
        """``peak RSS 1234 MiB, peak PSS 678 MiB`` (what a job's ``.out`` says)."""
        rss, pss = self.peak_rss(), self.peak_pss()
        parts = []
        if rss is not None:
            whose = "" if self._own_peak else " (process)"
            parts.append(f"peak RSS {rss / _MIB:.0f} MiB{whose}")
        if pss is not None:
            parts.append(f"peak PSS {pss / _MIB:.0f} MiB")
        return ", ".join(parts) or "not measured on this system"
