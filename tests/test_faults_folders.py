"""Bad inputs and faults of ``fourtop folders``: one fault table.

Every row prepares job folders, specs, variable lists, small or read-only disks, or a lock
held by "another process" in the working directory, runs ``fourtop folders`` once and
checks the exit code, the last line on stderr and that nothing in the working directory
changed (see :mod:`tests.faults`; ``may_change`` names what a row may legitimately touch,
e.g. the spec whose cached states a check refreshed). Folders are built from the sample
event logs of ``tests/data/event_logs`` (no training), with the helpers of
``test_jobtracker``: ``mixed_folder`` has a job in every state over the variables a, b, c, d.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from filelock import FileLock

from faults import Case, check_case, fill, small_disk
from fourtop.jobs import specfile as spec
from fourtop.jobtracker import JobFolder
from test_jobtracker import V4, finish_all, mixed_folder, write_job

NAME = "condor_log_17.Jun.2020"  # the folder mixed_folder makes
SPEC = f"{NAME}/{NAME}.jtd"
FAILED = "Keras_4vars_Seed_14_Subseed_6"  # killed by signal 9 in mixed_folder
LOCK = (f"{NAME}/.fourtop.lock",)
V4_MOVED = ["a", "c", "b", "d"]

_mounts: list[AbstractContextManager[Path]] = []
_locks: list[FileLock] = []


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (capsys swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


@pytest.fixture(autouse=True)
def _log_to_stderr(capsys) -> Iterator[None]:
    """Library warnings on stderr, as ``fourtop.cli.main``'s ``logging.basicConfig`` shows
    them outside pytest (whose own log handlers make that call a no-op here)."""
    handler = _CurrentStderr()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("fourtop")
    logger.addHandler(handler)
    yield
    logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def _undo() -> Iterator[None]:
    """Release the locks and unmount the disks a row's setup took."""
    yield
    while _locks:
        _locks.pop().release(force=True)
    while _mounts:
        _mounts.pop().__exit__(None, None, None)


# ---------------------------------------------------------------- setups
def _imported(root: Path, where: Path | None = None) -> Path:
    path = mixed_folder(where or root)
    JobFolder(path, load=False).import_folder(V4)
    return path


def _finished(root: Path, where: Path | None = None) -> Path:
    path = _imported(root, where)
    finish_all(path)
    JobFolder(path).check()
    return path


def _with_failed(root: Path) -> Path:
    path = _finished(root)
    Path(path, f"{FAILED}.out").write_text("Epoch 1\n")  # its log says killed by signal 9
    JobFolder(path).check()
    return path


def _out_of_range(root: Path) -> None:
    path = _finished(root)
    Path(path, "Keras_4vars_Seed_3_Subseed_1.out").write_text("Epoch 15/15\nROC-integral: 2.5\n")


def _varlist(name: str, names: list[str]) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        Path(root, name).write_text("\n".join(names) + "\n")

    return setup


def _steps(*steps: Callable[[Path], object]) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        for step in steps:
            step(root)

    return setup


def _spec_bytes(content: bytes) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = mixed_folder(root)
        Path(path, f"{NAME}.jtd").write_bytes(content)

    return setup


def _newer_schema(root: Path) -> None:
    path = _imported(root)
    with sqlite3.connect(Path(path, f"{NAME}.jtd")) as conn:
        conn.execute(f"PRAGMA user_version = {spec.SCHEMA_VERSION + 1}")
    conn.close()


def _bad_row(column: str, value: object) -> Callable[[Path], None]:
    """A compacted spec one of whose rows holds a bad value (written by hand, or corrupted)."""

    def setup(root: Path) -> None:
        path = _finished(root)
        JobFolder(path).compact_folder()
        with sqlite3.connect(root / f"{NAME}.jtd") as conn:
            conn.execute(
                f"UPDATE jobs SET {column} = ? WHERE name = ?", (value, "Keras_4vars_Seed_14")
            )
        conn.close()

    return setup


def _varlist_file(names: list[str]) -> Callable[[Path], None]:
    """A folder without a spec whose ``fourtop-varlist.txt`` (from submit) says its list."""

    def setup(root: Path) -> None:
        path = mixed_folder(root)
        Path(path, "fourtop-varlist.txt").write_text("\n".join(names) + "\n")

    return setup


def _spec_variables(names: list[str], listed: list[str] | None = None) -> Callable[[Path], None]:
    """An imported folder whose spec's variable list was changed by hand (or corrupted),
    beside the folder's own ``fourtop-varlist.txt`` (``listed``, default the true list)."""

    def setup(root: Path) -> None:
        import json

        path = _imported(root)
        Path(path, "fourtop-varlist.txt").write_text("\n".join(listed or V4) + "\n")
        with sqlite3.connect(Path(path, f"{NAME}.jtd")) as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'variables'", (json.dumps(names),))
        conn.close()

    return setup


def _varlist_dir(root: Path) -> None:
    path = mixed_folder(root)
    Path(path, "fourtop-varlist.txt").mkdir()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _leftover(with_spec: bool) -> Callable[[Path], None]:
    """What a compaction killed after renaming the folder aside leaves (51k files, in one case)."""

    def setup(root: Path) -> None:
        path = _finished(root)
        JobFolder(path).compact_folder()
        trash = root / f".{NAME}.compacting-{_dead_pid()}"
        trash.mkdir()
        (trash / "Keras_4vars_Seed_3.out").write_text("ROC-integral: 0.5\n")
        if not with_spec:
            (root / f"{NAME}.jtd").rename(root / "elsewhere.jtd")

    return setup


def _locked(root: Path) -> None:
    """Another process (a ``submit -r``) holds the folder's lock."""
    path = _finished(root)
    lock = FileLock(str(path / ".fourtop.lock"))
    lock.acquire()
    _locks.append(lock)
    Path(path, ".fourtop.lock.info").write_text("fourtop submit -r, process 4242 on node7\n")


def _disk(root: Path, size: str = "512k") -> Path:
    context = small_disk(root / "disk", size)
    path = context.__enter__()
    _mounts.append(context)
    return path


def _full_disk(make: Callable[[Path, Path], object]) -> Callable[[Path], None]:
    """``make`` a folder on a small disk, then fill the disk."""

    def setup(root: Path) -> None:
        disk = _disk(root)
        make(root, disk)
        fill(disk)

    return setup


def _read_only(root: Path, *, changed: bool = False) -> None:
    """A finished folder on a read-only disk (``changed``: a job's .out newer than its spec)."""
    disk = _disk(root)
    path = _finished(root, disk)
    if changed:
        Path(path, "Keras_4vars_Seed_3.out").write_text("ROC-integral: 0.6\n")
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)


def _changed_out(root: Path, disk: Path) -> None:
    path = _imported(root, disk)
    Path(path, "Keras_4vars_Seed_3_Subseed_2.out").write_text("Epoch 15/15\nROC-integral: 0.7\n")


def _spec_dir(root: Path) -> None:
    path = mixed_folder(root)
    Path(path, f"{NAME}.jtd").mkdir()


def _settings_dir(root: Path) -> None:
    path = _finished(root)
    Path(path, "fourtop-submit.json").mkdir()


# ---------------------------------------------------------------- the table
PICKLE_HINT = r"spec file of the original tool \(a pickle\), which is not loaded for safety; "
NOT_SPEC = r"not a fourtop spec file \(not an SQLite database\)$"
ON_DISK = ("disk/.filler",)  # fill() leaves it; it exists before the command runs

CASES: list[Case] = [
    # ------------------------------------------------ arguments
    Case("no-folders-here", ["folders"], r"no job folders given and none named condor_log\*",
         new=False),
    Case("missing-folder", ["folders", "nowhere"], r"nowhere: no such job folder or spec file$",
         new=False),
    Case("compact-and-import", ["folders", "-c", "-i", "all"], r"cannot be used together$",
         new=False),
    Case("force-alone", ["folders", "--force", NAME],
         r"--force goes with -c \(compact\) or -i \(import\)$", setup=_imported),
    Case("unknown-option", ["folders", "--bogus"], r"unrecognized arguments: --bogus", code=2,
         new=False),
    Case("folder-under-a-file", ["folders", "vars.txt/x"], r"no such job folder or spec file$",
         setup=_varlist("vars.txt", V4), new=False),
    # ------------------------------------------------ import: the variable list
    Case("import-varlist-missing", ["folders", "-i", "missing.txt", NAME],
         r"missing\.txt: variable list not found", setup=mixed_folder, new=False),
    Case("import-varlist-is-folder", ["folders", "-i", NAME, NAME],
         r"is a folder, not a variable list", setup=mixed_folder, new=False),
    Case("import-varlist-proc-mem", ["folders", "-i", "/proc/self/mem", NAME],
         r"/proc/self/mem: cannot read variable list \(input/output error\)$",
         setup=mixed_folder),
    Case("import-varlist-empty", ["folders", "-i", "e.txt", NAME], r"variable list is empty$",
         setup=_steps(mixed_folder, _varlist("e.txt", ["# nothing"])), new=False),
    Case("import-varlist-twice", ["folders", "-i", "d.txt", NAME], r"'a' is listed twice$",
         setup=_steps(mixed_folder, _varlist("d.txt", ["a", "b", "a", "d"])), new=False),
    Case("import-all-on-4-vars", ["folders", "-i", "all", NAME],
         r"job is for 4 variables but the variable list has 76$", setup=mixed_folder,
         new=False),
    Case("import-misfit-name", ["folders", "-i", "v.txt", NAME],
         r"Keras_4vars_Seed_16: seed number 16 does not fit 4 variables",
         setup=_steps(mixed_folder, lambda r: write_job(r / NAME, "Keras_4vars_Seed_16"),
                      _varlist("v.txt", V4)), new=False),
    Case("import-no-job-files", ["folders", "-i", "v.txt", "condor_log_empty"],
         r"no \.job files to import$",
         setup=_steps(lambda r: (r / "condor_log_empty").mkdir(), _varlist("v.txt", V4)),
         new=False),
    Case("import-compacted", ["folders", "-i", "all", f"{NAME}.jtd"],
         r"is a compacted spec file; only job folders can be imported$",
         setup=lambda r: (r / f"{NAME}.jtd").write_text(""), new=False),
    # issue 10: a reordered list read every seed number with the wrong bit order
    Case("import-reordered-over-spec", ["folders", "-i", "m.txt", "--yes", NAME],
         r"\(the spec condor_log_17\.Jun\.2020\.jtd\): b moved from position 2 to 3; "
         r"c moved from position 3 to 2; import refused, nothing changed .*--force'\)$",
         setup=_steps(_imported, _varlist("m.txt", V4_MOVED))),
    Case("import-reordered-over-varlist-file", ["folders", "-i", "m.txt", NAME],
         r"\(fourtop-varlist\.txt\): b moved from position 2 to 3; c moved",
         setup=_steps(_varlist_file(V4), _varlist("m.txt", V4_MOVED))),
    Case("import-renamed-variable", ["folders", "-i", "r.txt", "--yes", NAME],
         r"missing: d; not in the folder's list: e; import refused",
         setup=_steps(_imported, _varlist("r.txt", ["a", "b", "c", "e"]))),
    Case("import-own-varlist-unreadable", ["folders", "-i", "v.txt", NAME],
         r"cannot read the folder's own variable list .*import with --force$",
         setup=_steps(_varlist_dir, _varlist("v.txt", V4))),
    Case("import-reordered-forced", ["folders", "-i", "m.txt", "--yes", "--force", NAME],
         r"imported 7 jobs over 4 variables$", code=0,
         setup=_steps(_imported, _varlist("m.txt", V4_MOVED)), may_change=(SPEC,)),
    Case("import-while-locked", ["folders", "-i", "v.txt", "--yes", NAME],
         r"another fourtop process is working on this folder \(fourtop submit -r, process "
         r"4242 on node7\); wait for it to finish", setup=_steps(_locked, _varlist("v.txt", V4))),
    Case("import-spec-is-folder", ["folders", "-i", "v.txt", "--yes", NAME],
         r"\.jtd: cannot write spec file \(is a directory\)$",
         setup=_steps(_spec_dir, _varlist("v.txt", V4)), may_change=LOCK),
    Case("import-full-disk", ["folders", "-i", "v.txt", "--yes", f"disk/{NAME}"],
         r"\.jtd: cannot write spec file \(no space left on device\)$",
         setup=_steps(_varlist("v.txt", V4), _full_disk(lambda r, d: mixed_folder(d))),
         may_change=("disk/" + LOCK[0],)),
    Case("import-read-only", ["folders", "-i", "v.txt", "--yes", f"disk/{NAME}"],
         r"cannot take the folder's lock .*\.fourtop\.lock: read-only file system$",
         setup=_steps(_read_only, _varlist("v.txt", V4))),
    # ------------------------------------------------ the spec file
    Case("spec-not-sqlite", ["folders", NAME], NOT_SPEC, setup=_spec_bytes(b"hello\n"),
         new=False),
    Case("spec-empty", ["folders", NAME], NOT_SPEC, setup=_spec_bytes(b""), new=False),
    Case("spec-pickle-protocol-2", ["folders", NAME], PICKLE_HINT,
         setup=_spec_bytes(b"\x80\x02cjobtracker\nJobFolder\nq\x00)\x81q\x01}q\x02b."),
         new=False),
    Case("spec-python2-text-pickle", ["folders", NAME], PICKLE_HINT,
         setup=_spec_bytes(b"(ijobtracker\nJobFolder\np0\n(dp1\nS'path'\np2\nS'x'\np3\nsb.")),
    Case("spec-python2-copy-reg-pickle", ["folders", NAME], PICKLE_HINT,
         setup=_spec_bytes(b"ccopy_reg\n_reconstructor\np0\n(cjobtracker\nJobFolder\np1\n"
                           b"c__builtin__\nobject\np2\nNtp3\nRp4\n(dp5\nS'jobs'\np6\n(lp7\nsb.")),
    Case("spec-newer-schema", ["folders", NAME], r"newer than this fourtop .*upgrade fourtop$",
         setup=_newer_schema, new=False),
    Case("spec-is-folder", ["folders", NAME],
         r"has no spec file; import it with 'fourtop folders -i VARLIST", setup=_spec_dir,
         new=False),
    Case("spec-row-roc-5", ["folders", f"{NAME}.jtd"],
         r"job Keras_4vars_Seed_14 has ROC integral 5\.0, outside \[0, 1\] in the spec file; "
         r"not used", code=0, setup=_bad_row("roc", 5.0)),
    Case("spec-row-roc-inf", ["folders", f"{NAME}.jtd"],
         r"has ROC integral inf, not a finite number in the spec file", code=0,
         setup=_bad_row("roc", float("inf"))),
    Case("spec-row-unknown-state", ["folders", f"{NAME}.jtd"],
         r"has unknown state 'done' in the spec file; not used", code=0,
         setup=_bad_row("state", "done")),
    Case("spec-row-roc-text", ["folders", f"{NAME}.jtd"],
         r"has ROC integral 'high', not a number in the spec file", code=0,
         setup=_bad_row("roc", "high")),
    Case("info-full-disk", ["folders", f"disk/{NAME}"],
         r"job states refreshed but not stored: .*cannot write spec file \(no space left on "
         r"device\)$", code=0, setup=_full_disk(_changed_out)),
    Case("info-read-only", ["folders", f"disk/{NAME}"],
         r"job states refreshed but not stored: .*\(read-only file system\)$", code=0,
         setup=lambda r: _read_only(r, changed=True)),
    # ------------------------------------------------ compaction
    # audit of issue 11: compaction deleted the results calculate had written into the folder
    Case("compact-foreign-files", ["folders", "-c", "--yes", NAME],
         r"holds files that are not job files \(VariableImportanceResults_4vars.txt\); "
         r"compaction would delete them: move them out of the folder first; nothing changed",
         setup=_steps(_finished, lambda r: (r / NAME / "VariableImportanceResults_4vars.txt")
                      .write_text("mine\n"))),
    Case("import-plain-file", ["folders", "-i", "all", "afile"],
         r"afile: is a file, not a job folder; only job folders can be imported",
         setup=lambda r: (r / "afile").write_text("x\n")),
    Case("compact-unfinished", ["folders", "-c", "--yes", NAME],
         r"4 of 7 jobs are not finished; compaction refused \(nothing changed\)$",
         setup=_imported, new=False),
    Case("compact-no-spec", ["folders", "-c", "--yes", NAME],
         r"has no spec file; import it first with", setup=mixed_folder, new=False),
    Case("compact-target-exists", ["folders", "-c", "--yes", NAME],
         r"\.jtd: already exists; compaction refused$",
         setup=_steps(_finished, lambda r: (r / f"{NAME}.jtd").write_text("mine")), new=False),
    # issue 10: compaction forgot failed jobs
    Case("compact-failed", ["folders", "-c", "--yes", NAME],
         r"1 of 7 jobs failed; 'fourtop submit -r' resubmits them; compaction refused "
         r"\(nothing changed; --force compacts anyway", setup=_with_failed),
    Case("compact-roc-2.5", ["folders", "-c", "--yes", NAME],
         r"1 of 7 jobs failed; 'fourtop submit -r' resubmits them", setup=_out_of_range,
         may_change=(SPEC,)),
    Case("compact-while-locked", ["folders", "-c", "--yes", NAME],
         r"another fourtop process is working on this folder \(fourtop submit -r, process "
         r"4242 on node7\)", setup=_locked),
    Case("compact-full-disk", ["folders", "-c", "--yes", f"disk/{NAME}"],
         r"condor_log_17\.Jun\.2020\.jtd: cannot write spec file \(no space left on device\)$",
         setup=_full_disk(lambda r, d: _finished(r, d))),
    Case("compact-read-only", ["folders", "-c", "--yes", f"disk/{NAME}"],
         r"cannot take the folder's lock .*: read-only file system$", setup=_read_only),
    Case("compact-settings-unreadable", ["folders", "-c", "--yes", NAME],
         r"fourtop-submit\.json: cannot be kept in the compacted spec .*nothing changed$",
         setup=_settings_dir),
    # ------------------------------------------------ leftovers of killed compactions
    Case("leftover-compaction-removed", ["folders", f"{NAME}.jtd"],
         r"^removed .*/\.condor_log_17\.Jun\.2020\.compacting-\d+, left by an interrupted "
         r"compaction$", code=0, setup=_leftover(with_spec=True),
         may_change=(f".{NAME}.compacting-*",)),
    Case("leftover-compaction-without-spec", ["folders", "elsewhere.jtd"],
         r"left by an interrupted compaction, but condor_log_17\.Jun\.2020\.jtd is missing: "
         r"check the files in it and remove it by hand$", code=0,
         setup=_leftover(with_spec=False)),
    Case("spec-list-too-short", ["folders", NAME], r"has a seed number that does not fit the spec's 1 variables; the spec is corrupt", setup=_spec_variables(["x"])),
    Case("spec-list-too-short-compact", ["folders", "-c", "--yes", NAME], r"does not fit the spec's 1 variables", setup=_spec_variables(["x"])),
    Case("spec-list-reordered", ["folders", NAME], r"its variable list differs from the folder's fourtop-varlist.txt: .* moved from position", setup=_spec_variables(list(reversed(V4)))),
    Case("spec-list-reordered-calculate", ["calculate", "-f", "out", NAME], r"its variable list differs from the folder's fourtop-varlist.txt", setup=_spec_variables(list(reversed(V4)))),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
def test_folders_fault(case: Case, tmp_path: Path, capsys, monkeypatch) -> None:
    check_case(case, tmp_path, capsys, monkeypatch)


def test_case_ids_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


def test_forced_compaction_keeps_failed_job_resubmittable(tmp_path: Path, capsys, monkeypatch):
    """The way forward the refusal names: --force, then the failed job is still there."""
    monkeypatch.chdir(tmp_path)
    _with_failed(tmp_path)
    from faults import run_main

    assert run_main(["folders", "-c", "--yes", "--force", NAME]) == 0
    err = capsys.readouterr().err
    assert "(1 failed jobs kept; 'fourtop submit -r' resubmits them)" in err
    compacted = JobFolder(f"{NAME}.jtd")
    assert [j.name for j in compacted.get_resubmit_list()] == [FAILED]
    assert spec.read_spec(f"{NAME}.jtd").files == {}  # mixed_folder has no varlist/settings
