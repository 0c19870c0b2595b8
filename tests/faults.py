"""The fault table's machinery: run a command on bad input, check the one-line error and
that nothing on disk changed.

Each ``tests/test_faults_<command>.py`` holds one table of :class:`Case` rows and one
parametrized test that calls :func:`check_case`. A row says what to prepare (``setup``, run
in the working directory), the argument vector, the expected exit code, and a regular
expression the last line on stderr must match (``fourtop <cmd>: error: ...`` for library
errors, argparse's line for usage errors). The whole working directory is snapshot before
and compared after, so a failed command that leaves a half-written file or deletes one is
caught; ``may_change`` lists glob patterns a row allows to change (e.g. a spec whose cached
states the command refreshed).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fourtop.cli import main


@dataclass(frozen=True)
class Case:
    """One row of a fault table."""

    id: str
    argv: Sequence[str]
    message: str  # regular expression searched in the last stderr line
    code: int = 1
    setup: Callable[[Path], object] | None = None
    env: dict[str, str] = field(default_factory=dict)
    may_change: Sequence[str] = ()
    new: bool = True  # found by the audit of issue 10 (False: it was already handled)

    def __str__(self) -> str:
        return self.id


#: a job folder's lock file stays after use (removing lock files races); it holds no data
LOCK_FILES = (".fourtop.lock",)


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """``{relative path: (kind, mode, sha256)}`` of everything under ``root`` (less lock files)."""
    state: dict[str, tuple[str, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            if name in LOCK_FILES or (name.startswith(".") and name.endswith(".jtd.lock")):
                continue
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            st = path.lstat()
            if path.is_symlink():
                state[rel] = ("link", 0, os.readlink(path))
            elif path.is_dir():
                state[rel] = ("dir", st.st_mode & 0o777, "")
            else:
                try:
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError:
                    digest = "unreadable"
                state[rel] = ("file", st.st_mode & 0o777, digest)
    return state


def changes(
    before: dict[str, tuple[str, int, str]],
    after: dict[str, tuple[str, int, str]],
    allowed: Sequence[str] = (),
) -> list[str]:
    """What differs between two snapshots, less the paths ``allowed`` (glob patterns)."""
    out = []
    for rel in sorted(set(before) | set(after)):
        if any(fnmatch.fnmatch(rel, pat) for pat in allowed):
            continue
        if rel not in after:
            out.append(f"removed {rel}")
        elif rel not in before:
            out.append(f"added {rel}")
        elif before[rel] != after[rel]:
            out.append(f"changed {rel}")
    return out


def run_main(argv: Sequence[str]) -> int:
    """``fourtop.cli.main`` with argparse's exit turned into a return code."""
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


def check_case(case: Case, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    """Prepare, run and check one row (the test's working directory is ``workdir``)."""
    monkeypatch.chdir(workdir)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    if case.setup is not None:
        case.setup(workdir)
    capsys.readouterr()
    before = snapshot(workdir)
    code = run_main(case.argv)
    err = capsys.readouterr().err
    after = snapshot(workdir)
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert code == case.code, f"exit {code}, expected {case.code}; stderr:\n{err}"
    assert lines, "nothing on stderr"
    assert re.search(case.message, lines[-1]), f"last stderr line {lines[-1]!r} !~ {case.message!r}"
    if case.code == 1:
        assert lines[-1].startswith("fourtop "), lines[-1]
    assert not changes(before, after, case.may_change), changes(before, after, case.may_change)


# ------------------------------------------------------------------ fault environments

_cleanups: list[Callable[[], object]] = []  # what rows' setups hold until their test ends


def hold(cleanup: Callable[[], object]) -> None:
    """Run ``cleanup`` when the current test ends (a lock to release, a disk to unmount)."""
    _cleanups.append(cleanup)


def release_held() -> None:
    """Run the cleanups of :func:`hold`, newest first (tests/conftest.py does, after each test)."""
    while _cleanups:
        _cleanups.pop()()


def mount_tmpfs(path: Path, options: str = "size=256k") -> Path:
    """A tmpfs at ``path`` until the test ends (root only; the test is skipped otherwise)."""
    if not is_root() or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        pytest.skip(f"cannot mount a tmpfs: {proc.stderr.strip()}")
    hold(lambda: subprocess.run(["umount", "-l", str(path)], check=False))
    return path


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@contextmanager
def small_disk(path: Path, size: str = "256k"):
    """A tmpfs of ``size`` mounted at ``path`` (root only): a disk that fills up."""
    if not is_root() or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {proc.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path, leave: int = 0) -> None:
    """Fill the file system of ``folder`` until at most ``leave`` bytes are free."""
    block = b"\0" * 4096
    with open(folder / ".filler", "wb") as fh:
        try:
            while True:
                st = os.statvfs(folder)
                if st.f_bavail * st.f_frsize <= leave:
                    break
                fh.write(block)
                fh.flush()
        except OSError:
            pass
