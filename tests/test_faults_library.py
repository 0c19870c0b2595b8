"""Bad arguments and faults of the job-tracker library (``Seed``, ``Job``, ``JobFolder`` and the
spec file): one fault table.

Each row calls the library once in a fresh folder (prepared by ``setup``) and checks that it
raises the named :class:`~fourtop.errors.FourtopError` subclass with a one-line message
matching the row, and that nothing under the folder changed. Rows marked ``disk`` run with
``tmp/disk`` a small, full tmpfs (root only). ``new=False`` marks rows that were already
handled before issue 10.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest

from faults import changes, fill, small_disk, snapshot
from fourtop.errors import FourtopError, JobFolderError, OutputError, SpecError, VariableError
from fourtop.jobs.specfile import (
    JobRecord,
    SpecWriteError,
    delete_jobs,
    read_spec,
    update_spec,
    write_spec,
)
from fourtop.jobtracker import Job, JobFolder, Seed, job_name, parse_job_name
from test_jobtracker import V4, finish_all, mixed_folder

NAME = "condor_log_17.Jun.2020"
PY2_PICKLE = b"(ijobtracker\nJobFolder\np0\n(dp1\nS'path'\np2\nS'x'\np3\nsb."
PY2_SEED = (
    b"ccopy_reg\n_reconstructor\np0\n(cjobtracker\nSeed\np1\nc__builtin__\nobject\np2\nNtp3\nRp4\n."
)


@dataclass(frozen=True)
class LibCase:
    """One row: ``call(folder)`` must raise ``error`` with a message matching ``message``."""

    id: str
    call: Callable[[Path], object]
    error: type[FourtopError]
    message: str
    setup: Callable[[Path], object] | None = None
    disk: bool = False  # tmp/disk is a small tmpfs, filled before the call
    new: bool = True

    def __str__(self) -> str:
        return self.id


# ---------------------------------------------------------------- setups and calls
def _imported(root: Path) -> Path:
    path = mixed_folder(root)
    JobFolder(path, load=False).import_folder(V4)
    return path


def _finished(root: Path) -> Path:
    path = _imported(root)
    finish_all(path)
    JobFolder(path).check()
    return path


def _with_failed(root: Path) -> Path:
    path = _finished(root)
    Path(path, "Keras_4vars_Seed_14_Subseed_6.out").write_text("Epoch 1\n")
    JobFolder(path).check()
    return path


def _compacted(root: Path) -> None:
    JobFolder(_finished(root)).compact_folder()


def _file(name: str, content: bytes | str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return setup


def _seed_doc(**change: object) -> str:
    doc = {"format": "fourtop-seed", "version": 1, "variables": V4, "binary": "0101"}
    doc.update(change)
    return json.dumps(doc)


def _folder(root: Path) -> JobFolder:
    return JobFolder(root / NAME)


def _disk_spec(root: Path) -> None:
    write_spec(root / "disk" / "a.jtd", V4, [_rec("j1")])


def _rec(name: str) -> JobRecord:
    return JobRecord(name, 5, None, "failed", None, "x" * 400, True, None)


def _many(n: int) -> list[JobRecord]:
    return [_rec(f"job{i}") for i in range(n)]


def _read_only_dir(root: Path) -> None:
    (root / "disk").mkdir(exist_ok=True)
    subprocess.run(["mount", "-o", "remount,ro", str(root / "disk")], check=True)


SEED = Seed.from_binary("0101", V4)

LIB_CASES: list[LibCase] = [
    # ------------------------------------------------ Seed
    LibCase("seed-from-binary-none", lambda r: Seed.from_binary(None, V4), VariableError,
            r"^bit string must be a string of 0 and 1, not None$"),
    LibCase("seed-from-binary-int", lambda r: Seed.from_binary(101, V4), VariableError,
            r"bit string must be a string of 0 and 1, not int$"),
    LibCase("seed-from-binary-variables-none", lambda r: Seed.from_binary("0101", None),
            VariableError, r"^Seed\.from_binary: variables must be a list of names, not None$"),
    LibCase("seed-from-binary-variables-string", lambda r: Seed.from_binary("0101", "abcd"),
            VariableError, r"variables must be a list of names, not the string 'abcd'$"),
    LibCase("seed-from-binary-bad-bit", lambda r: Seed.from_binary("01x1", V4), VariableError,
            r"bit string has 'x' at position 3", new=False),
    LibCase("seed-variables-none", lambda r: Seed(None), VariableError,
            r"^Seed: variables must be a list of names, not None$"),
    LibCase("seed-variable-not-a-string", lambda r: Seed(["a", None, "c"]), VariableError,
            r"variable names must be non-empty strings, not None$"),
    LibCase("seed-number-text", lambda r: Seed(V4, "3"), VariableError,
            r"^seed number must be a whole number, not the string '3'$"),
    LibCase("seed-number-float", lambda r: Seed(V4, 3.0), VariableError,
            r"seed number must be a whole number, not float$"),
    LibCase("seed-number-too-large", lambda r: Seed.from_number(16, V4), VariableError,
            r"seed number 16 does not fit 4 variables", new=False),
    LibCase("seed-duplicate-variable", lambda r: Seed(["a", "b", "a"]), VariableError,
            r"variable 'a' appears twice", new=False),
    LibCase("seed-random-bad-rng", lambda r: Seed.random(V4, rng="x"), VariableError,
            r"Seed\.random: rng must be a random\.Random, not the string 'x'$"),
    LibCase("seed-random-empty", lambda r: Seed.random([]), VariableError,
            r"empty variable list", new=False),
    LibCase("seed-include-list", lambda r: SEED.copy().include(["a"]), VariableError,
            r"^Seed\.include: a variable name is a string, not list$"),
    LibCase("seed-states-set-none", lambda r: SEED.copy().states.__setitem__(None, True),
            VariableError, r"^a seed's variable names are strings, not None$"),
    LibCase("seed-save-to-missing-folder", lambda r: SEED.save_to(r / "nowhere" / "s.seed"),
            OutputError, r"^cannot write seed file .*/nowhere/s\.seed: no such file or folder$"),
    LibCase("seed-save-to-none", lambda r: SEED.save_to(None), OutputError,
            r"^Seed\.save_to: path must be a path \(str or os\.PathLike\), not None$"),
    LibCase("seed-save-to-full-disk", lambda r: SEED.save_to(r / "disk" / "s.seed"), OutputError,
            r"^cannot write seed file .*/disk/s\.seed: no space left on device$", disk=True),
    LibCase("seed-load-version-99", lambda r: Seed.load_from(r / "s.seed"), SpecError,
            r"s\.seed: seed file format version 99 is newer than this fourtop reads \(up to 1\); "
            r"upgrade fourtop$", setup=_file("s.seed", _seed_doc(version=99))),
    LibCase("seed-load-version-text", lambda r: Seed.load_from(r / "s.seed"), SpecError,
            r"not a fourtop seed file \(format version '1'\)$",
            setup=_file("s.seed", _seed_doc(version="1"))),
    LibCase("seed-load-not-json", lambda r: Seed.load_from(r / "s.seed"), SpecError,
            r"s\.seed: not a fourtop seed file \(not JSON\)$", setup=_file("s.seed", "{oops"),
            new=False),
    LibCase("seed-load-json-list", lambda r: Seed.load_from(r / "s.seed"), SpecError,
            r"not a fourtop seed file \(no \"format\": \"fourtop-seed\"\)$",
            setup=_file("s.seed", "[1, 2]"), new=False),
    LibCase("seed-load-bad-variables", lambda r: Seed.load_from(r / "s.seed"), SpecError,
            r"not a fourtop seed file: Seed\.from_binary: variables must be a list of names, "
            r"not the string 'abcd'$", setup=_file("s.seed", _seed_doc(variables="abcd"))),
    LibCase("seed-load-missing", lambda r: Seed.load_from(r / "none.seed"), SpecError,
            r"none\.seed: cannot read seed file \(no such file or folder\)$", new=False),
    LibCase("seed-load-none", lambda r: Seed.load_from(None), SpecError,
            r"^Seed\.load_from: path must be a path \(str or os\.PathLike\), not None$"),
    LibCase("seed-load-python2-pickle", lambda r: Seed.load_from(r / "s.seed"), SpecError,
            r"pickled seed of the original tool; not loaded for safety$",
            setup=_file("s.seed", PY2_SEED)),
    LibCase("seed-load-pickle", lambda r: Seed.load_from(r / "s.seed"), SpecError,
            r"pickled seed of the original tool", setup=_file("s.seed", pickle.dumps([1])),
            new=False),
    # ------------------------------------------------ names, Job
    LibCase("job-name-seed-none", lambda r: job_name(4, None, None), VariableError,
            r"job_name: seed must be a Seed and subseed a Seed or None, not NoneType"),
    LibCase("job-name-nvars-text", lambda r: job_name("4", SEED, None), VariableError,
            r"job_name: nvars must be a whole number, not '4'$"),
    LibCase("parse-job-name-none", lambda r: parse_job_name(None, V4), JobFolderError,
            r"^None: not a job name \(expected Keras_<N>vars_Seed_<n>"),
    LibCase("parse-job-name-variables-none", lambda r: parse_job_name("Keras_4vars_Seed_3", None),
            VariableError, r"parse_job_name: variables must be a list of names, not None$"),
    LibCase("parse-job-name-misfit", lambda r: parse_job_name("Keras_4vars_Seed_16", V4),
            JobFolderError, r"seed number 16 does not fit 4 variables", new=False),
    LibCase("job-all-none", lambda r: Job(None, None, None, None), JobFolderError,
            r"^Job: name must be a job name \(a string\), not None$"),
    LibCase("job-seed-text", lambda r: Job(None, "Keras_4vars_Seed_5", "0101", None),
            JobFolderError, r"^Job Keras_4vars_Seed_5: seed must be a Seed, not str$"),
    LibCase("job-subseed-number", lambda r: Job(None, "Keras_4vars_Seed_5", SEED, 4),
            JobFolderError, r"subseed must be a Seed or None, not int$"),
    LibCase("job-folder-number", lambda r: Job(42, "Keras_4vars_Seed_5", SEED, None),
            JobFolderError, r"^Job: folder must be a path \(str or os\.PathLike\), not int$"),
    # ------------------------------------------------ JobFolder
    LibCase("folder-none", lambda r: JobFolder(None), JobFolderError,
            r"^JobFolder: path must be a path \(str or os\.PathLike\), not None$"),
    LibCase("folder-number", lambda r: JobFolder(42), JobFolderError,
            r"JobFolder: path must be a path \(str or os\.PathLike\), not int$"),
    LibCase("folder-empty-path", lambda r: JobFolder(""), JobFolderError,
            r"^JobFolder: path is an empty path$"),
    LibCase("folder-nul", lambda r: JobFolder("a\0b"), JobFolderError,
            r"contains a NUL character$"),
    LibCase("folder-missing", lambda r: JobFolder(r / "nowhere"), JobFolderError,
            r"nowhere: no such job folder or spec file$", new=False),
    LibCase("folder-create-none", lambda r: JobFolder.create(None), JobFolderError,
            r"^JobFolder\.create: name must be a path \(str or os\.PathLike\), not None$"),
    LibCase("import-all-string", lambda r: _folder(r).import_folder("all"), JobFolderError,
            r"Keras_4vars_Seed_14: job is for 4 variables but the variable list has 76$",
            setup=mixed_folder),
    LibCase("import-missing-varlist-path", lambda r: _folder(r).import_folder(r / "v.txt"),
            VariableError, r"v\.txt: variable list not found", setup=mixed_folder),
    LibCase("import-none", lambda r: _folder(r).import_folder(None), VariableError,
            r"^import_folder: variables must be a list of names, not None$", setup=mixed_folder),
    LibCase("import-number-in-list", lambda r: _folder(r).import_folder(["a", 1, "c", "d"]),
            VariableError, r"variable names must be non-empty strings, not 1$",
            setup=mixed_folder),
    LibCase("import-reordered", lambda r: _folder(r).import_folder(["a", "c", "b", "d"]),
            JobFolderError, r"b moved from position 2 to 3; c moved from position 3 to 2; "
            r"import refused, nothing changed", setup=_imported),
    LibCase("add-jobs-none", lambda r: _folder(r).add_jobs(None), JobFolderError,
            r"^add_jobs: expected a list of Job, not NoneType$", setup=_imported),
    LibCase("add-jobs-strings", lambda r: _folder(r).add_jobs(["Keras_4vars_Seed_1"]),
            JobFolderError, r"^add_jobs: expected a list of Job, found str$", setup=_imported),
    LibCase("check-subset-number", lambda r: _folder(r).check(5), JobFolderError,
            r"^check: expected a list of Job, not int$", setup=_imported),
    LibCase("subseed-jobs-none", lambda r: _folder(r).subseed_jobs(None), JobFolderError,
            r"^subseed_jobs: seed must be a Seed, not NoneType$", setup=_imported),
    LibCase("lock-wait-text", lambda r: _folder(r).lock(wait="5").__enter__(), JobFolderError,
            r"^lock: wait must be a number of seconds >= 0, not '5'$", setup=_imported),
    LibCase("compact-dest-none", lambda r: _folder(r).compact_folder(None), JobFolderError,
            r"^compact_folder: dest must be a path \(str or os\.PathLike\), not None$",
            setup=_finished),
    LibCase("compact-failed", lambda r: _folder(r).compact_folder(), JobFolderError,
            r"1 of 7 jobs failed \(e\.g\. Keras_4vars_Seed_14_Subseed_6\); 'fourtop submit -r' "
            r"resubmits them; compaction refused", setup=_with_failed),
    LibCase("compact-unfinished", lambda r: _folder(r).compact_folder(), JobFolderError,
            r"4 of 7 jobs are not finished", setup=_imported, new=False),
    LibCase("extract-not-compacted", lambda r: _folder(r).extract_failed(), JobFolderError,
            r"is a job folder, not a compacted spec; 'fourtop submit -r' resubmits its failed "
            r"jobs in place$", setup=_finished),
    LibCase("extract-nothing-failed", lambda r: JobFolder(r / f"{NAME}.jtd").extract_failed(),
            JobFolderError, r"\.jtd: has no failed jobs to extract$", setup=_compacted),
    LibCase("extract-dest-exists", lambda r: JobFolder(r / f"{NAME}.jtd").extract_failed(r),
            JobFolderError, r": already exists; choose another folder$",
            setup=lambda r: JobFolder(_with_failed(r)).compact_folder(force=True)),
    # ------------------------------------------------ the spec file
    LibCase("spec-python2-pickle", lambda r: read_spec(r / "x.jtd"), SpecError,
            r"x\.jtd: spec file of the original tool \(a pickle\), which is not loaded for "
            r"safety; re-import the folder with 'fourtop folders -i VARLIST'$",
            setup=_file("x.jtd", PY2_PICKLE)),
    LibCase("spec-pickle-protocol-2", lambda r: read_spec(r / "x.jtd"), SpecError,
            r"spec file of the original tool \(a pickle\)",
            setup=_file("x.jtd", pickle.dumps({"jobs": []}, protocol=2)), new=False),
    LibCase("spec-text", lambda r: read_spec(r / "x.jtd"), SpecError,
            r"not a fourtop spec file \(not an SQLite database\)$",
            setup=_file("x.jtd", "hello\n"), new=False),
    LibCase("spec-update-full-disk", lambda r: update_spec(r / "disk" / "a.jtd", _many(300)),
            SpecWriteError, r"a\.jtd: cannot write spec file \(no space left on device\)$",
            setup=_disk_spec, disk=True),
    LibCase("spec-write-full-disk", lambda r: write_spec(r / "disk" / "b.jtd", V4, _many(300)),
            SpecWriteError, r"b\.jtd: cannot write spec file \(no space left on device\)$",
            disk=True),
    LibCase("spec-delete-full-disk",
            lambda r: delete_jobs(r / "disk" / "a.jtd", [f"job{i}" for i in range(300)]),
            SpecWriteError, r"a\.jtd: cannot write spec file \(no space left on device\)$",
            setup=lambda r: write_spec(r / "disk" / "a.jtd", V4, _many(300)), disk=True),
    LibCase("spec-write-read-only", lambda r: write_spec(r / "disk" / "b.jtd", V4, []),
            SpecWriteError, r"b\.jtd: cannot write spec file \(read-only file system\)$",
            setup=_read_only_dir, disk=True),
    LibCase("spec-write-onto-folder", lambda r: write_spec(r / "d.jtd", V4, []),
            SpecWriteError, r"d\.jtd: cannot write spec file \(is a directory\)$",
            setup=lambda r: (r / "d.jtd").mkdir()),
    LibCase("spec-delete-missing", lambda r: delete_jobs(r / "none.jtd", ["a"]), SpecError,
            r"none\.jtd: spec file not found$"),
]  # fmt: skip

_mounts: list[AbstractContextManager[Path]] = []


@pytest.fixture(autouse=True)
def _unmount() -> Iterator[None]:
    yield
    while _mounts:
        _mounts.pop().__exit__(None, None, None)


@pytest.mark.parametrize("case", LIB_CASES, ids=str)
def test_library_fault(case: LibCase, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    if case.disk:
        context = small_disk(tmp_path / "disk", "512k")
        context.__enter__()
        _mounts.append(context)
    if case.setup is not None:
        case.setup(tmp_path)
    if case.disk and os.access(tmp_path / "disk", os.W_OK):  # (not a read-only one)
        fill(tmp_path / "disk")
    before = snapshot(tmp_path)
    with pytest.raises(FourtopError) as info:
        case.call(tmp_path)
    message = str(info.value)
    assert isinstance(info.value, case.error), f"{type(info.value).__name__}: {message}"
    assert "\n" not in message, message
    assert re.search(case.message, message), f"{message!r} !~ {case.message!r}"
    assert not changes(before, snapshot(tmp_path)), changes(before, snapshot(tmp_path))


def test_case_ids_unique() -> None:
    assert len({c.id for c in LIB_CASES}) == len(LIB_CASES)


def test_a_temporary_of_an_ended_but_unreaped_process_is_stale(tmp_path: Path) -> None:
    """A worker whose parent was killed is adopted by the container's first process, which may
    reap it seconds later: a zombie has ended, and what it left is removed at once."""
    from fourtop.fileio import clean_stale, pid_alive

    child = subprocess.Popen(["sleep", "30"])
    try:
        leftover = tmp_path / f".out.root.{child.pid}.0123abcd.tmp"
        leftover.write_bytes(b"partial")
        assert pid_alive(child.pid) and clean_stale(tmp_path) == []
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped: a zombie
        assert not pid_alive(child.pid)
        assert clean_stale(tmp_path) == [leftover] and not leftover.exists()
    finally:
        child.kill()
        child.wait()
