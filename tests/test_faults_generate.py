"""``fourtop generate``: bad inputs and faults -> one line, an exit code, nothing changed on disk.

Rows run in an empty working directory and write (when they get that far) a hundred
events of the 2017 samples; a row's ``setup`` prepares a read-only or full file system (a
tmpfs, as root) or earlier samples that must survive. Below the table: Ctrl-C and SIGKILL
part-way, and the plain progress lines written where no terminal watches.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faults import Case, check_case, fill, mount_tmpfs, snapshot
from fourtop.cli import main
from fourtop.data.generate import sample_files

RUN = ["generate", "-n", "100", "-y", "2017"]
FIRST = sample_files(["2017"])[0][2]


def earlier_samples(folder: Path) -> None:
    """Stand-ins for the samples of an earlier run (which must survive a failed one)."""
    folder.mkdir(parents=True, exist_ok=True)
    for _, _, name in sample_files(["2017"])[:3]:
        (folder / name).write_bytes(b"earlier sample\n")


def _read_only(root: Path) -> None:
    earlier_samples(mount_tmpfs(root / "ro", "size=1m"))
    subprocess.run(["mount", "-o", "remount,ro", str(root / "ro")], check=True)


def _full(root: Path) -> None:
    fill(mount_tmpfs(root / "disk", "size=1m"), leave=64 * 1024)


def _full_with_earlier(root: Path) -> None:
    earlier_samples(mount_tmpfs(root / "disk", "size=1m"))
    fill(root / "disk", leave=64 * 1024)


def _file(root: Path) -> None:
    (root / "taken").write_text("keep me\n")


CASES: list[Case] = [
    Case(
        "events-beyond-reason",
        ["generate", "-n", "100000000000000", "-y", "2017", "-o", "s"],
        r"at most 100000000 events per sample",
        code=2,
    ),
    Case(
        "seed-negative",
        [*RUN, "-o", "s", "-s", "-1"],
        r"argument --seed/-s: -1 is outside 0 to 4294967295",
        code=2,
    ),
    Case(
        "seed-too-large",
        [*RUN, "-o", "s", "-s", "4294967296"],
        r"argument --seed/-s: 4294967296 is outside 0 to 4294967295",
        code=2,
    ),
    Case(
        "seed-not-a-number",
        [*RUN, "-o", "s", "-s", "one"],
        r"argument --seed/-s: 'one' is not a whole number",
        code=2,
        new=False,
    ),
    Case(
        "events-zero",
        ["generate", "-o", "s", "-n", "0"],
        r"argument --events/-n: 0: must be at least 1",
        code=2,
        new=False,
    ),
    Case(
        "events-negative",
        ["generate", "-o", "s", "-n", "-300"],
        r"argument --events/-n: -300: must be at least 1",
        code=2,
        new=False,
    ),
    Case(
        "events-not-a-number",
        ["generate", "-o", "s", "-n", "many"],
        r"argument --events/-n: 'many' is not a whole number",
        code=2,
        new=False,
    ),
    Case(
        "year-unknown",
        ["generate", "-o", "s", "-y", "2019"],
        r"unknown dataset key '2019': the synthetic samples are 2017 and 2018",
        new=False,
    ),
    Case("output-empty", [*RUN, "-o", ""], r"--output: the folder name is empty"),
    Case(
        "output-in-proc",
        [*RUN, "-o", "/proc/xx"],
        r"cannot create the output folder /proc/xx: /proc: does not accept new files",
        new=False,
    ),
    Case(
        "output-is-a-file",
        [*RUN, "-o", "taken"],
        r"taken: exists and is not a folder; choose another --output",
        setup=_file,
        new=False,
    ),
    Case(
        "output-under-a-file",
        [*RUN, "-o", "taken/s"],
        r"cannot create the output folder .*/taken/s: .*/taken is not a folder",
        setup=_file,
        new=False,
    ),
    Case(
        "output-name-too-long",
        [*RUN, "-o", "x" * 300],
        r"cannot create the output folder .*: 'x+': name too long",
        new=False,
    ),
    Case(
        "output-read-only",
        [*RUN, "-o", "ro"],
        r"cannot write into .*/ro: .*read-only file system",
        setup=_read_only,
        new=False,
    ),
    Case(
        "output-under-read-only",
        [*RUN, "-o", "ro/s"],
        r"cannot create the output folder .*/ro/s: .*read-only file system",
        setup=_read_only,
        new=False,
    ),
    Case(
        "full-disk-new-folder",
        [*RUN, "-o", "disk/s"],
        r"cannot write sample file .*/disk/s/\S+\.root: no space left on device; "
        r".*/disk/s was left as it was",
        setup=_full,
    ),
    Case(
        "full-disk-earlier-samples-kept",
        [*RUN, "-o", "disk"],
        r"cannot write sample file .*/disk/\S+\.root: no space left on device; "
        r".*/disk was left as it was",
        setup=_full_with_earlier,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fault(case: Case, tmp_path, capsys, monkeypatch):
    check_case(case, tmp_path, capsys, monkeypatch)


def test_case_ids_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------- beyond the table


def test_ctrl_c_part_way_leaves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    earlier_samples(tmp_path / "s")
    before = snapshot(tmp_path)
    import fourtop.data.generate as generate

    real = generate.write_sample
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(generate, "write_sample", interrupted)
    assert main([*RUN, "-o", "s"]) == 130
    calls.clear()
    assert main([*RUN, "-o", "new/s"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_plain_progress_without_a_terminal(tmp_path, capsys):
    assert main([*RUN, "-o", str(tmp_path / "s")]) == 0
    err = capsys.readouterr().err.splitlines()
    lines = [ln for ln in err if ln.startswith("generating: ")]
    assert lines and lines[-1].startswith("generating: 3300/3300 events (100%), ")
    assert not any("failed" in ln for ln in lines)  # events do not fail: no done/failed count
    assert len(lines) >= 10  # a line every 5 %, not one at the end
    assert err[-1].startswith("wrote 33 files (100 events generated each, seed 1)")


@pytest.mark.slow
def test_killed_run_leaves_no_half_written_file(tmp_path, monkeypatch, caplog):
    """SIGKILL while a file is written: no sample appears half-written, nothing replaced;
    the next run names the dead run's staging folder and removes it once it is stale."""
    monkeypatch.chdir(tmp_path)
    earlier_samples(tmp_path / "s")
    before = snapshot(tmp_path / "s")
    script = (
        "import sys, time\n"
        "import fourtop.data.generate as g\n"
        "real, n = g.write_sample, []\n"
        "def slow(*args, **kwargs):\n"
        "    n.append(1)\n"
        "    if len(n) == 4:\n"
        "        print('writing 4', flush=True)\n"
        "        time.sleep(120)\n"
        "    return real(*args, **kwargs)\n"
        "g.write_sample = slow\n"
        "from fourtop.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *RUN, "-o", "s"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while "writing 4" not in proc.stdout.readline():
        assert time.monotonic() < deadline and proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = snapshot(tmp_path / "s")
    assert {k: v for k, v in after.items() if not k.startswith(".generate.")} == before
    left = [p for p in (tmp_path / "s").iterdir() if p.name.startswith(".")]
    assert len(left) == 1 and left[0].name.endswith(".tmpdir")
    old = time.time() - 120
    os.utime(left[0], (old, old))
    assert main([*RUN, "-o", "s"]) == 0
    assert not [p for p in (tmp_path / "s").iterdir() if p.name.startswith(".")]
    assert (tmp_path / "s" / FIRST).read_bytes()[:4] == b"root"


def test_long_folder_name_still_works(tmp_path, monkeypatch):
    """A name too long for a staging name beside it: staged inside, as before this check."""
    monkeypatch.chdir(tmp_path)
    name = "x" * 250
    assert main([*RUN, "-o", name]) == 0
    assert len(list((tmp_path / name).iterdir())) == 33
