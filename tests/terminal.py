"""Running the ``fourtop`` console script as a user would: in a pipe, or on a terminal (a pty
of a given width), and reading what the terminal got."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections.abc import Mapping, Sequence
from pathlib import Path

#: the console script beside this Python (the installed package, as a user runs it)
FOURTOP = str(Path(sys.executable).with_name("fourtop"))

#: ANSI escape sequences (colours, styles, cursor moves)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def colour_codes(text: str) -> list[str]:
    """The escape sequences of ``text`` that set a colour (not bold, italic or a reset)."""
    found = []
    for match in _SGR.finditer(text):
        params = [int(p) for p in match.group(1).split(";") if p]
        if any(30 <= p <= 49 or 90 <= p <= 107 for p in params):
            found.append(match.group(0))
    return found


def plain(text: str) -> str:
    """``text`` as read on screen: escape sequences removed, and of a line redrawn after a
    carriage return (a progress bar) only its last drawing."""
    lines = ANSI.sub("", text).replace("\r\n", "\n").split("\n")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in lines)


def user_env(base: Mapping[str, str], **extra: str) -> dict[str, str]:
    """The environment of a person at a terminal: not CI, no NO_COLOR unless given."""
    env = {k: v for k, v in base.items() if k not in ("CI", "NO_COLOR", "COLUMNS", "LINES")}
    env.update(extra)
    return env


def in_pipe(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``fourtop ARGV`` with stdout and stderr pipes and no terminal on stdin."""
    return subprocess.run(
        [FOURTOP, *argv],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def on_terminal(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    columns: int = 100,
    timeout: float = 300,
) -> tuple[int, str]:
    """``fourtop ARGV`` with stdout and stderr on a terminal ``columns`` wide; returns the exit
    code and everything the terminal received."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(
        [FOURTOP, *argv],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: the command has ended
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=timeout)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")
