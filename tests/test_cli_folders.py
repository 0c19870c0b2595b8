"""``fourtop folders``: import, compact and information modes through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from fourtop.cli import main
from fourtop.jobtracker import JobFolder
from test_jobtracker import V4, _snapshot, finish_all, mixed_folder


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "4vars.txt").write_text("\n".join(V4) + "\n")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["folders", *argv])
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())


def test_import_then_info(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mixed_folder(work)
    code, out, err = run(capsys, "-i", "4vars.txt", str(path))
    assert code == 0, err
    assert f"{path}: imported 7 jobs over 4 variables" in err
    assert Path(path, f"{path.name}.jtd").is_file()
    code, out, err = run(capsys, str(path))
    assert code == 0, err
    for cell in ("7", "3 (42.9%)", "1 (14.3%)", "2"):
        assert cell in out
    assert "Keras_4vars_Seed_14_Subseed_6" not in out  # names only with -v


def test_info_verbose_lists_variables_failed_and_held(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = mixed_folder(work)
    JobFolder(path, load=False).import_folder(V4)
    code, out, err = run(capsys, "-v", str(path))
    assert code == 0, err
    assert "seeds including each variable" in out
    assert "failed jobs (1):" in out
    assert (
        "  Keras_4vars_Seed_14_Subseed_6: killed by signal 9; no ROC-integral line in the .out file"
    ) in out
    assert "held jobs (1):" in out
    assert "Keras_4vars_Seed_14_Subseed_10: Error from slot1_2@node17.example.org" in out


def test_default_folders_include_compacted(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mixed_folder(work)
    JobFolder(path, load=False).import_folder(V4)
    finish_all(path)
    other = work / "condor_log_other"
    other.mkdir()
    (other / "Keras_4vars_Seed_1.job").write_text("")
    finish_all(other)
    JobFolder(other, load=False).import_folder(V4)
    JobFolder(other).compact_folder()
    code, out, err = run(capsys)
    assert code == 0, err
    assert "(compacted)" in out and "condor_log_17.Jun.2020" in out


def test_no_folders(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 1
    assert err == (
        f"fourtop folders: error: no job folders given and none named condor_log* in {work}"
    )


def test_info_without_spec_warns(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mixed_folder(work)
    code, _, err = run(capsys, str(path))
    assert code == 1
    assert f"warning: {path}: has no spec file; import it with 'fourtop folders -i" in err


def test_info_on_bad_spec(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "condor_log_bad.jtd").write_text("not a database")
    code, _, err = run(capsys, "condor_log_bad.jtd")
    assert code == 1
    assert err == (
        "fourtop folders: error: "
        f"{work / 'condor_log_bad.jtd'}: not a fourtop spec file (not an SQLite "
        "database)"
    )
    code, _, err = run(capsys, "nowhere")
    assert (code, err) == (1, "fourtop folders: error: nowhere: no such job folder or spec file")


def test_import_existing_spec_prompt(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mixed_folder(work)
    JobFolder(path, load=False).import_folder(["a", "b", "c", "d"])
    spec = Path(path, f"{path.name}.jtd")
    before = spec.read_bytes()
    (path / "Keras_4vars_Seed_1.job").write_text("")
    code, _, err = run(capsys, "-i", "4vars.txt", str(path))  # pytest's stdin is no terminal
    assert code == 0
    assert "a spec file exists" in err and "no terminal: answering 'no'" in err
    assert "spec file kept, folder not imported" in err
    assert spec.read_bytes() == before
    code, _, err = run(capsys, "-i", "4vars.txt", "--yes", str(path))
    assert code == 0 and "imported 8 jobs" in err
    assert len(JobFolder(path)) == 8


def test_import_bad_inputs(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mixed_folder(work)
    snapshot = _snapshot(path)
    code, _, err = run(capsys, "-i", "missing.txt", str(path))
    assert code == 1
    assert err == (
        "fourtop folders: error: missing.txt: variable list not found (use 'all' "
        "for the default 76)"
    )
    code, _, err = run(capsys, "-i", "all", str(path))
    assert code == 1
    assert err == (
        f"fourtop folders: error: {path}: Keras_4vars_Seed_14: job is for 4 "
        "variables but the variable list has 76"
    )
    (work / "3vars.txt").write_text("a\nb\nc\n")
    code, _, err = run(capsys, "-i", "3vars.txt", str(path))
    assert code == 1 and "job is for 4 variables but the variable list has 3" in err
    assert _snapshot(path) == snapshot  # nothing written
    code, _, err = run(capsys, "-c", "-i", "all", str(path))
    assert (code, err) == (
        1,
        "fourtop folders: error: -c (compact) and -i (import) cannot be used together",
    )


def test_import_refuses_compacted(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "condor_log_x.jtd").write_text("")
    code, _, err = run(capsys, "-i", "all", "condor_log_x.jtd")
    assert code == 1
    assert err == (
        "fourtop folders: error: condor_log_x.jtd: is a compacted spec file; only "
        "job folders can be imported"
    )


def test_compact_refused_then_done(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mixed_folder(work)
    JobFolder(path, load=False).import_folder(V4)
    snapshot = _snapshot(path)
    code, _, err = run(capsys, "-c", "--yes", path.name)
    assert code == 1
    assert err == (
        f"fourtop folders: error: {path.name}: 4 of 7 jobs are not finished; "
        "compaction refused (nothing changed)"
    )
    assert _snapshot(path) == snapshot
    finish_all(path)
    code, _, err = run(capsys, "-c", path.name)  # no terminal, no --yes: the safe answer
    assert code == 0 and "no terminal: answering 'no'" in err and "not compacted" in err
    assert path.is_dir()
    code, _, err = run(capsys, "-c", "--yes", path.name)
    assert code == 0, err
    assert f"{path.name}: compacted into {work / (path.name + '.jtd')}" in err
    assert not path.exists()
    code, _, err = run(capsys, "-c", path.name + ".jtd")
    assert code == 0 and "already compacted" in err
    code, out, err = run(capsys, path.name + ".jtd")
    assert code == 0 and "7 (100.0%)" in out


def test_compact_without_spec(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mixed_folder(work)
    code, _, err = run(capsys, "-c", "--yes", path.name)
    assert code == 1
    assert err == (
        f"fourtop folders: error: {path.name}: has no spec file; import it first "
        f"with 'fourtop folders -i VARLIST {path.name}'"
    )
    assert path.is_dir()


# ---------------------------------------------------------------- issue 10
def test_unreadable_jobs_shown(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mixed_folder(work)
    JobFolder(path, load=False).import_folder(V4)
    finish_all(path)
    out_file = path / "Keras_4vars_Seed_3_Subseed_1.out"
    out_file.unlink()
    out_file.mkdir()  # exists, cannot be read (even by root)
    code, out, err = run(capsys, str(path))
    assert code == 0, err
    assert "┃ unreadable ┃" in out and "1 (14.3%)" in out
    assert "1 job(s) have files this user cannot read (e.g. Keras_4vars_Seed_3_Subseed_1: " in (
        " ".join(out.split())
    )
    code, out, err = run(capsys, "-v", str(path))
    assert "unreadable jobs (1):" in out and "failed jobs" not in out
    assert f"  Keras_4vars_Seed_3_Subseed_1: cannot read {out_file} (is a directory)" in out


def test_no_unreadable_column_without_unreadable_jobs(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = mixed_folder(work)
    JobFolder(path, load=False).import_folder(V4)
    code, out, _ = run(capsys, str(path))
    assert code == 0 and "┃ unreadable" not in out and "cannot read" not in out


def test_import_reordered_needs_force(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mixed_folder(work)
    JobFolder(path, load=False).import_folder(V4)
    (work / "moved.txt").write_text("b\na\nc\nd\n")
    code, _, err = run(capsys, "-i", "moved.txt", str(path))  # refused before any prompt
    assert code == 1 and "a spec file exists" not in err
    assert "a moved from position 1 to 2; b moved from position 2 to 1; import refused" in err
    code, _, err = run(capsys, "-i", "moved.txt", "--force", "--yes", str(path))
    assert code == 0, err
    assert JobFolder(path).variables == ["b", "a", "c", "d"]


def test_compact_failed_needs_force(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mixed_folder(work)
    JobFolder(path, load=False).import_folder(V4)
    finish_all(path)
    (path / "Keras_4vars_Seed_3.out").write_text("ROC-integral: 2.5\n")  # evicted.log: queued
    (path / "Keras_4vars_Seed_3.log").write_text("")  # no log: a .out without a result failed
    code, _, err = run(capsys, "-c", "--yes", path.name)
    assert (code, err) == (
        1,
        f"fourtop folders: error: {path.name}: 1 of 7 jobs failed; 'fourtop submit -r' "
        "resubmits them; compaction refused (nothing changed; --force compacts anyway, keeping "
        "them as failed jobs in the .jtd)",
    )
    code, out, err = run(capsys, "-v", path.name)
    assert "  Keras_4vars_Seed_3: ROC-integral value 2.5 is outside [0, 1]; " in out
    code, _, err = run(capsys, "-c", "--yes", "--force", path.name)
    assert code == 0, err
    assert "(1 failed jobs kept; 'fourtop submit -r' resubmits them)" in err
    code, out, err = run(capsys, "-v", path.name + ".jtd")
    assert code == 0 and "failed jobs (1):" in out and "Keras_4vars_Seed_3:" in out


def test_leftover_of_a_killed_compaction_removed(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess

    path = mixed_folder(work)
    JobFolder(path, load=False).import_folder(V4)
    finish_all(path)
    JobFolder(path).compact_folder()
    dead = subprocess.Popen(["true"])
    dead.wait()
    trash = work / f".{path.name}.compacting-{dead.pid}"
    trash.mkdir()
    code, _, err = run(capsys)
    assert code == 0, err
    assert f"removed {trash}, left by an interrupted compaction" in err
    assert not trash.exists()
