"""The SQLite spec file: round trips, refusals with clear messages, crash and concurrency safety."""

from __future__ import annotations

import os
import pickle
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fourtop.errors import SpecError
from fourtop.jobs import specfile as spec
from fourtop.jobs.specfile import JobRecord, delete_jobs, read_spec, update_spec, write_spec

VARS = [f"v{i}" for i in range(76)]
BIG = (1 << 76) - 1


def _rec(
    name: str,
    seed: int = BIG,
    sub: int | None = None,
    state: str = "unstarted",
    roc: float | None = None,
) -> JobRecord:
    return JobRecord(name, seed, sub, state, roc, None, False, None)


def test_round_trip_76_bit_numbers(tmp_path: Path) -> None:
    path = tmp_path / "f.jtd"
    jobs = [
        _rec("a"),
        _rec("b", BIG, BIG ^ 1, "finished", 0.8125),
        JobRecord("c", 1 << 75, 0, "held", None, "memory", True, "1:2/-"),
    ]
    write_spec(path, VARS, jobs)
    data = read_spec(path)
    assert data.variables == VARS and data.jobs == jobs
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == spec.APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == spec.SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("SELECT seed FROM jobs WHERE name='a'").fetchone()[0] == "f" * 19
    assert [p.name for p in tmp_path.iterdir()] == ["f.jtd"]


def test_write_replaces_whole_content(tmp_path: Path) -> None:
    path = tmp_path / "f.jtd"
    write_spec(path, VARS, [_rec("a"), _rec("b")])
    write_spec(path, VARS[:3], [_rec("c", 5)])
    assert read_spec(path) == spec.SpecData(VARS[:3], [_rec("c", 5)])


def test_update_touches_only_given_rows(tmp_path: Path) -> None:
    path = tmp_path / "f.jtd"
    write_spec(path, VARS, [_rec("a"), _rec("b")])
    update_spec(path, [_rec("b", state="finished", roc=0.7), _rec("c", 3)])
    data = read_spec(path)
    assert [(j.name, j.state) for j in data.jobs] == [
        ("a", "unstarted"),
        ("b", "finished"),
        ("c", "unstarted"),
    ]


def test_update_sets_variables_once_and_refuses_another_list(tmp_path: Path) -> None:
    path = tmp_path / "f.jtd"
    write_spec(path, [], [])
    update_spec(path, [_rec("a")], VARS)
    assert read_spec(path).variables == VARS
    other = [*VARS[:10], "zzz", *VARS[11:]]
    with pytest.raises(
        SpecError,
        match=r"another variable list \(position 11: 'v10' in the "
        r"spec, 'zzz' in the new jobs\)",
    ):
        update_spec(path, [_rec("b")], other)
    assert [j.name for j in read_spec(path).jobs] == ["a"]


def _make_sqlite(path: Path, app: int, version: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute(f"PRAGMA application_id = {app}")
        conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


def test_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.jtd"
    _make_sqlite(path, spec.APPLICATION_ID, spec.SCHEMA_VERSION + 1)
    with pytest.raises(SpecError) as err:
        read_spec(path)
    assert str(err.value) == (
        f"{path}: spec file has schema version 2, newer than this fourtop "
        "0.1.0 reads (up to 1); upgrade fourtop"
    )
    with pytest.raises(SpecError, match="newer"):
        update_spec(path, [_rec("a")])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a fourtop spec file (not an SQLite database)"),
        (b"hello, this is text\n", "not a fourtop spec file (not an SQLite database)"),
        (pickle.dumps({"jobs": []}), "spec file of the original tool (a pickle)"),
    ],
)
def test_non_spec_files_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.jtd"
    path.write_bytes(content)
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_spec(path)
    assert path.read_bytes() == content  # never modified


def test_other_sqlite_database_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    _make_sqlite(path, 0, 0)
    with pytest.raises(SpecError, match=r"not a fourtop spec file \(SQLite application id 0x0\)"):
        read_spec(path)


def test_missing_spec(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="spec file not found"):
        read_spec(tmp_path / "none.jtd")


def test_corrupt_spec(tmp_path: Path) -> None:
    path = tmp_path / "c.jtd"
    write_spec(path, VARS, [_rec(f"job{i}", i + 1) for i in range(2000)])
    data = bytearray(path.read_bytes())
    data[4096 * 2 :] = b"\x13" * (len(data) - 4096 * 2)  # scribble over every page but two
    path.write_bytes(bytes(data))
    with pytest.raises(SpecError) as err:
        read_spec(path)
    assert str(err.value).startswith(f"{path}: ")
    assert "\n" not in str(err.value)


def test_malformed_variables_meta(tmp_path: Path) -> None:
    path = tmp_path / "m.jtd"
    write_spec(path, VARS, [])
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value='{oops' WHERE key='variables'")
    conn.close()
    with pytest.raises(SpecError, match="no valid variable list; it is corrupt"):
        read_spec(path)


_KILLER = textwrap.dedent("""
    import os, sys
    from fourtop.jobs.specfile import JobRecord, update_spec
    def rows():
        for i in range(30000):
            if i == 29000:
                os._exit(9)  # killed mid-transaction, pages already spilled to the file
            yield JobRecord(f"new{i}", 1, None, "failed", None, "x" * 900, True, None)
    update_spec(sys.argv[1], rows())
""")


def test_killed_writer_leaves_previous_state(tmp_path: Path) -> None:
    path = tmp_path / "k.jtd"
    before = [_rec("a", 5, state="finished", roc=0.6), _rec("b", 5, 4)]
    write_spec(path, VARS, before)
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(path)], capture_output=True)
    assert proc.returncode == 9, proc.stderr
    assert Path(f"{path}-journal").exists()  # a hot journal: the file itself was half-written
    assert read_spec(path).jobs == before
    update_spec(path, [_rec("c", 1)])  # and the file is still writable
    assert [j.name for j in read_spec(path).jobs] == ["a", "b", "c"]


_WRITER = textwrap.dedent("""
    import sys
    from fourtop.jobs.specfile import JobRecord, update_spec
    path, prefix = sys.argv[1], sys.argv[2]
    for i in range(60):
        update_spec(path, [JobRecord(f"{prefix}{i}", i + 1, None, "finished", i / 100, None,
                                     True, None)])
""")


def test_two_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "two.jtd"
    write_spec(path, VARS, [])
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), p]) for p in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    names = {j.name for j in read_spec(path).jobs}
    assert names == {f"{p}{i}" for p in "ab" for i in range(60)}


# ---------------------------------------------------------------- issue 10
def _set(path: Path, name: str, column: str, value: object) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE jobs SET {column} = ? WHERE name = ?", (value, name))
    conn.close()


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("roc", 5.0, "ROC integral 5.0, outside [0, 1]"),
        ("roc", -1.0, "ROC integral -1.0, outside [0, 1]"),
        ("roc", float("inf"), "ROC integral inf, not a finite number"),
        ("roc", "high", "ROC integral 'high', not a number"),
        ("roc", None, "state 'finished' without a ROC integral"),
        ("state", "done", "unknown state 'done'"),
        ("state", "failed", "a ROC integral (0.8) with state 'failed'"),
    ],
)
def test_bad_rows_are_never_used_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, column: str, value: object, problem: str
) -> None:
    path = tmp_path / "b.jtd"
    good = JobRecord("ok", 3, None, "finished", 0.7, None, True, "1:2/3:4")
    bad = JobRecord("bad", 3, 1, "finished", 0.8, None, True, "5:6/7:8")
    write_spec(path, VARS, [good, bad])
    _set(path, "bad", column, value)
    with caplog.at_level("WARNING", logger="fourtop.jobs.specfile"):
        data = read_spec(path)
    assert data.jobs[0] == good
    assert data.jobs[1] == JobRecord(
        "bad", 3, 1, "failed", None, f"the spec file held {problem} for this job", True, None
    )
    assert f"job bad has {problem} in the spec file; not used" in caplog.text


@pytest.mark.parametrize(
    "content",
    [
        b"(ijobtracker\nJobFolder\np0\n(dp1\nS'path'\np2\nS'condor_log_x'\np3\nsb.",
        b"ccopy_reg\n_reconstructor\np0\n(cjobtracker\nJobFolder\np1\nc__builtin__\nobject\n"
        b"p2\nNtp3\nRp4\n(dp5\nS'jobs'\np6\n(lp7\nsb.",
        b"\x80\x02cjobtracker\nJobFolder\nq\x00)\x81q\x01}q\x02U\x04pathq\x03U\x01xsb.",
        pickle.dumps({"jobs": list(range(5000))}, protocol=0),  # longer than what is looked at
        pickle.dumps({"jobs": []}, protocol=1),
    ],
)
def test_python2_pickles_get_the_original_tool_hint(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "old.jtd"
    path.write_bytes(content)
    assert spec.looks_like_pickle(content[:4096])
    with pytest.raises(SpecError) as err:
        read_spec(path)
    assert str(err.value) == (
        f"{path}: spec file of the original tool (a pickle), which is not loaded for safety; "
        "re-import the folder with 'fourtop folders -i VARLIST'"
    )


@pytest.mark.parametrize(
    "content", [b"", b"hello, this is text\n", b'{"a": 1}', b"(hello world", b"SQLite format 3"]
)
def test_text_is_not_taken_for_a_pickle(content: bytes) -> None:
    assert not spec.looks_like_pickle(content)


def test_full_disk_says_so_and_keeps_the_spec(tmp_path: Path) -> None:
    from faults import fill, small_disk

    with small_disk(tmp_path / "disk", "256k") as disk:
        path = disk / "f.jtd"
        before = [_rec(f"j{i}", i + 1) for i in range(50)]
        write_spec(path, VARS, before)
        fill(disk)
        rows = [JobRecord(f"new{i}", 1, None, "failed", None, "x" * 500, True, None)
                for i in range(300)]  # fmt: skip
        with pytest.raises(spec.SpecWriteError) as err:
            update_spec(path, rows)
        assert str(err.value) == f"{path}: cannot write spec file (no space left on device)"
        assert isinstance(err.value, SpecError)
        with pytest.raises(spec.SpecWriteError, match=r"no space left on device\)$"):
            write_spec(disk / "g.jtd", VARS, rows)
        assert read_spec(path).jobs == before
        assert sorted(p.name for p in disk.iterdir()) == [".filler", "f.jtd"]


def test_write_spec_unique_temporary_names_and_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real = spec.os.replace

    def spy(src: object, dst: object) -> None:
        seen.append(Path(str(src)).name)
        real(src, dst)

    monkeypatch.setattr(spec.os, "replace", spy)
    old = os.umask(0o027)
    try:
        write_spec(tmp_path / "f.jtd", VARS, [])
        write_spec(tmp_path / "f.jtd", VARS, [_rec("a")])
    finally:
        os.umask(old)
    assert len(set(seen)) == 2
    assert all(re.fullmatch(rf"\.f\.jtd\.{os.getpid()}\.[0-9a-f]{{8}}\.tmp", n) for n in seen)
    assert (tmp_path / "f.jtd").stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["f.jtd"]


def test_write_spec_cleans_stale_temporaries_of_dead_processes(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    old = time.time() - spec.STALE_AGE - 60
    leftovers = [
        f".f.jtd.{dead.pid}.0badc0de.tmp",  # this fourtop, killed mid-write
        f".f.jtd.{dead.pid}.0badc0de.tmp-journal",
        f".f.jtd.{dead.pid}.tmp",  # fourtop before issue 10
    ]
    kept = [
        f".f.jtd.{os.getpid()}.12345678.tmp",  # a live process
        f".g.jtd.{dead.pid}.tmp",  # too young: maybe another machine's, still writing
        "notes.tmp",
    ]
    for name in leftovers + kept:
        (tmp_path / name).write_text("x")
        if name in leftovers or name.startswith(f".f.jtd.{os.getpid()}"):
            os.utime(tmp_path / name, (old, old))
    write_spec(tmp_path / "f.jtd", VARS, [])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["f.jtd", *kept])


def test_delete_jobs(tmp_path: Path) -> None:
    path = tmp_path / "d.jtd"
    write_spec(path, VARS, [_rec("a"), _rec("b"), _rec("c")])
    assert delete_jobs(path, ["b", "zzz"]) == 1
    assert [j.name for j in read_spec(path).jobs] == ["a", "c"]

    def refuse() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        delete_jobs(path, ["a", "c"], before_commit=refuse)
    assert [j.name for j in read_spec(path).jobs] == ["a", "c"]  # rolled back


def test_files_kept_in_the_spec(tmp_path: Path) -> None:
    path = tmp_path / "k.jtd"
    files = {"fourtop-varlist.txt": "a\nb\n", "fourtop-submit.json": '{"year": "2017"}\n'}
    write_spec(path, ["a", "b"], [_rec("x", 1)], files=files)
    data = read_spec(path)
    assert data.files == files and data.variables == ["a", "b"]
    assert read_spec(path) == spec.SpecData(["a", "b"], [_rec("x", 1)], files)
