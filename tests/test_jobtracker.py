"""The job tracker library: Seed, Job, JobFolder as the original manual documents them."""

from __future__ import annotations

import os
import pickle
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fourtop.jobtracker as jt
from fourtop.errors import JobFolderError, SpecError, VariableError
from fourtop.jobs import compaction
from fourtop.jobs import folder as folder_module
from fourtop.jobs.specfile import SpecWriteError, read_spec
from fourtop.jobtracker import Job, JobFolder, Seed, job_name, parse_job_name

DATA = Path(__file__).parent / "data" / "event_logs"
V4 = ["a", "b", "c", "d"]
V76 = [f"var{i:02d}" for i in range(76)]


# ---------------------------------------------------------------- helpers
def write_job(folder: Path, name: str, *, log: str | None = None, out: str | None = None) -> None:
    """Leave the files the original tool's jobs left: .job always, the others if given."""
    (folder / f"{name}.job").write_text(f"universe = vanilla\narguments = {name}\nqueue 1\n")
    if log is not None:
        (folder / f"{name}.log").write_bytes((DATA / log).read_bytes())
    if out is not None:
        (folder / f"{name}.out").write_text(out)
        (folder / f"{name}.err").write_text("")


def mixed_folder(root: Path) -> Path:
    """Seeds 1110 and 0011 over a,b,c,d with jobs in every state, both log date formats."""
    folder = root / "condor_log_17.Jun.2020"
    folder.mkdir()
    write_job(folder, "Keras_4vars_Seed_14", log="iso_finished.log", out="ROC-integral: 0.8\n")
    write_job(folder, "Keras_4vars_Seed_14_Subseed_6", log="abnormal.log", out="Epoch 1\n")
    write_job(folder, "Keras_4vars_Seed_14_Subseed_10", log="held.log")
    write_job(folder, "Keras_4vars_Seed_14_Subseed_12")
    write_job(folder, "Keras_4vars_Seed_3", log="evicted.log")
    write_job(
        folder,
        "Keras_4vars_Seed_3_Subseed_1",
        log="old_finished.log",
        out="Epoch 15/15\nROC-integral: 0.75\n",
    )
    write_job(
        folder, "Keras_4vars_Seed_3_Subseed_2", log="held_released_running.log", out="Epoch 3/15\n"
    )
    return folder


def states(folder: JobFolder) -> dict[str, str]:
    return {j.name: j.state for j in folder.jobs or []}


# ---------------------------------------------------------------- module surface
def test_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from fourtop.jobtracker import *", namespace)
    for name in ("LOG", "Seed", "Job", "JobFolder", "job_name", "parse_job_name"):
        assert name in namespace
    assert jt.LOG is True


# ---------------------------------------------------------------- Seed
def test_seed_bit_order_leftmost_is_first_variable() -> None:
    seed = Seed.from_binary("1000", V4)
    assert seed.number == 8 and seed.included == ["a"]
    assert seed.states == {"a": True, "b": False, "c": False, "d": False}
    assert list(seed.states) == V4
    assert Seed(V4, 1).binary == "0001" and Seed(V4, 1).included == ["d"]


def test_seed_include_exclude_includes_states() -> None:
    seed = Seed(V4)
    assert seed.binary == "0000" and seed.variables == V4
    seed.include("b")
    seed.include("not-a-variable")  # the manual: only variables of the seed are changed
    assert seed.binary == "0100" and seed.includes("b") and not seed.includes("nope")
    seed.states["d"] = True
    assert seed.binary == "0101"
    seed.exclude("b")
    assert seed.binary == "0001"
    with pytest.raises(
        VariableError,
        match=r"'dd' is not a variable of this seed "
        r"\(did you mean: d\?\)",
    ):
        seed.states["dd"] = True
    with pytest.raises(KeyError):
        seed.states["zz"]


def test_seed_76_bits() -> None:
    full = Seed.from_binary("1" * 76, V76)
    assert full.number == (1 << 76) - 1 and len(full.binary) == 76
    first = Seed.from_binary("1" + "0" * 75, V76)
    assert first.number == 1 << 75 and first.included == ["var00"]
    assert Seed(V76, 1).included == ["var75"]
    assert len(full.subseeds()) == 76
    with pytest.raises(
        VariableError, match="seed number 75557863725914323419136 does not fit 76 variables"
    ):
        Seed(V76, 1 << 76)


def test_seed_subseeds_in_list_order() -> None:
    seed = Seed.from_binary("1101", V4)
    assert [s.binary for s in seed.subseeds()] == ["0101", "1001", "1100"]
    assert all(s.variables == V4 for s in seed.subseeds())


def test_seed_equality_hash_copy() -> None:
    a, b = Seed.from_binary("0110", V4), Seed(V4, 6)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Seed(["a", "b", "c", "e"], 6)
    c = a.copy()
    c.include("a")
    assert a.binary == "0110" and c.binary == "1110"
    assert repr(a) == "Seed(4 variables, binary='0110')"


def test_seed_random() -> None:
    seeds = [Seed.random(V76, random.Random(7)) for _ in range(2)]
    assert seeds[0] == seeds[1] and seeds[0].variables == V76
    assert all(Seed.random(["x"]).number == 1 for _ in range(5))  # never empty
    with pytest.raises(VariableError, match="empty variable list"):
        Seed.random([])


@pytest.mark.parametrize(
    ("bits", "message"),
    [
        ("101", "bit string of length 3 for 4 variables"),
        ("10x1", "bit string has 'x' at position 3, expected 0 or 1"),
    ],
)
def test_seed_from_binary_errors(bits: str, message: str) -> None:
    with pytest.raises(VariableError, match=message):
        Seed.from_binary(bits, V4)


def test_seed_duplicate_variable() -> None:
    with pytest.raises(VariableError, match="variable 'a' appears twice"):
        Seed(["a", "b", "a"])


def test_seed_save_load(tmp_path: Path) -> None:
    seed = Seed.random(V76, random.Random(3))
    seed.save_to(tmp_path / "s.seed")
    assert Seed.load_from(tmp_path / "s.seed") == seed
    assert '"format": "fourtop-seed"' in (tmp_path / "s.seed").read_text()
    (tmp_path / "p.seed").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(SpecError, match="pickled seed of the original tool; not loaded"):
        Seed.load_from(tmp_path / "p.seed")
    (tmp_path / "g.seed").write_text("{}")
    with pytest.raises(SpecError, match=r"g\.seed: not a fourtop seed file"):
        Seed.load_from(tmp_path / "g.seed")
    with pytest.raises(SpecError, match="cannot read seed file"):
        Seed.load_from(tmp_path / "none.seed")


# ---------------------------------------------------------------- names
def test_job_name_round_trip_76() -> None:
    seed = Seed.from_binary("1" * 76, V76)
    sub = seed.subseeds()[0]
    name = job_name(76, seed, sub)
    assert name == f"Keras_76vars_Seed_{(1 << 76) - 1}_Subseed_{(1 << 75) - 1}"
    assert parse_job_name(name, V76) == (seed, sub)
    assert parse_job_name(job_name(76, seed, None), V76) == (seed, None)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Keras_4vars_Seed", "Keras_4vars_Seed: not a job name (expected Keras_<N>vars_Seed_<n>"),
        (
            "Keras_5vars_Seed_3",
            "Keras_5vars_Seed_3: job is for 5 variables but the variable list has 4",
        ),
        ("Keras_4vars_Seed_16", "Keras_4vars_Seed_16: seed number 16 does not fit 4 variables"),
        (
            "Keras_4vars_Seed_3_Subseed_0",
            "subseed 0 is not seed 3 with exactly one included variable switched off",
        ),
        ("Keras_4vars_Seed_3_Subseed_4", "subseed 4 is not seed 3"),
        ("Keras_4vars_Seed_3_Subseed_3", "subseed 3 is not seed 3"),
    ],
)
def test_parse_job_name_errors(name: str, message: str) -> None:
    with pytest.raises(JobFolderError) as err:
        parse_job_name(name, V4)
    assert message in str(err.value)


# ---------------------------------------------------------------- Job
def test_job_properties(tmp_path: Path) -> None:
    seed = Seed.from_binary("0011", V4)
    job = Job(str(tmp_path), "Keras_4vars_Seed_3", seed, None)
    assert job.folder == str(tmp_path) and job.name == "Keras_4vars_Seed_3"
    assert job.path == str(tmp_path / "Keras_4vars_Seed_3.job")
    assert job.seed is seed and job.subseed is None
    assert not job.finished and job.roc_integral == -1 and not job.has_result
    assert not job.has_outfile and job.state == "unstarted"
    (tmp_path / "Keras_4vars_Seed_3.out").write_text("ROC-integral: 0.9\n")
    assert job.check_finished() is True
    assert job.finished and job.roc_integral == 0.9 and job.has_result and job.has_outfile
    compacted = Job(None, "x", seed, None)
    assert compacted.path is None and compacted.has_outfile


# ---------------------------------------------------------------- JobFolder
def test_create_default_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = JobFolder.create()
    name = Path(folder.path).name
    assert name.startswith("condor_log_") and Path(folder.path).is_dir()
    assert folder.jobs == [] and len(folder) == 0 and not folder.compacted
    assert Path(folder.spec_path) == Path(folder.path) / f"{name}.jtd"
    assert JobFolder(name).jobs == []
    (tmp_path / name / "x.job").write_text("")
    with pytest.raises(JobFolderError, match="already exists; choose another folder name"):
        JobFolder.create(name)


def test_add_jobs_save_reopen(tmp_path: Path) -> None:
    folder = JobFolder.create(str(tmp_path / "condor_log_new"))
    seed = Seed.from_binary("1" * 76, V76)
    jobs = [Job(folder.path, job_name(76, seed, None), seed, None)]
    jobs += [Job(folder.path, job_name(76, seed, s), seed, s) for s in seed.subseeds()]
    folder.add_jobs(jobs)
    folder.save()
    again = JobFolder(tmp_path / "condor_log_new")
    assert len(again) == 77 and again.variables == V76
    assert [j.name for j in again.jobs] == [j.name for j in jobs]
    assert again.subseed_jobs(seed) == again.jobs[1:]
    assert [j.subseed for j in again.subseed_jobs(seed)] == seed.subseeds()
    assert again.subseed_jobs(Seed(V76, 5)) == []
    with pytest.raises(JobFolderError, match=f"job {jobs[0].name} is already in the folder"):
        again.add_jobs([Job(None, jobs[0].name, seed, None)])
    other = Seed.from_binary("11", ["x", "y"])
    with pytest.raises(JobFolderError, match="uses a variable list of 2 variables that differs"):
        again.add_jobs([Job(None, "Keras_2vars_Seed_3", other, None)])


def test_mixed_folder_stats(tmp_path: Path) -> None:
    folder = JobFolder(mixed_folder(tmp_path), load=False)
    assert folder.jobs is None and len(folder) == 0
    folder.import_folder(V4)
    assert states(folder) == {
        "Keras_4vars_Seed_14": "finished",
        "Keras_4vars_Seed_14_Subseed_10": "held",
        "Keras_4vars_Seed_14_Subseed_12": "unstarted",
        "Keras_4vars_Seed_14_Subseed_6": "failed",
        "Keras_4vars_Seed_3": "queued",
        "Keras_4vars_Seed_3_Subseed_1": "finished",
        "Keras_4vars_Seed_3_Subseed_2": "running",
    }
    stats = folder.get_stats()
    assert stats == {
        "jobs": 7,
        "finished_jobs": 3,
        "failed_jobs": 1,
        "unstarted_jobs": 3,
        "unreadable_jobs": 0,
        "seeds": 2,
        "variable_counts": {"a": 1, "b": 1, "c": 2, "d": 1},
    }
    assert len(folder) == 7 and folder.variables == V4
    assert sorted(j.roc_integral for j in folder.result_jobs) == [0.75, 0.8]
    assert {j.name for j in folder.unstarted_jobs} == {
        "Keras_4vars_Seed_14_Subseed_10",
        "Keras_4vars_Seed_14_Subseed_12",
        "Keras_4vars_Seed_3",
    }
    [failed] = folder.get_resubmit_list()
    assert failed.name == "Keras_4vars_Seed_14_Subseed_6"
    assert failed.reason == "killed by signal 9; no ROC-integral line in the .out file"
    [held] = folder.held_jobs
    assert not held.finished and "cgroup memory limit of 2048 megabytes" in (held.reason or "")
    assert [j.name for j in folder.seed_jobs] == ["Keras_4vars_Seed_14", "Keras_4vars_Seed_3"]
    assert len(folder.variable_jobs("a")) == 7 and folder.variable_jobs("zz") == []
    seed3 = Seed.from_binary("0011", V4)
    assert {j.subseed.binary for j in folder.subseed_jobs(seed3)} == {"0001", "0010"}
    assert list(iter(folder)) == folder.jobs


def test_states_cached_in_spec_and_check_rereads_changes(tmp_path: Path) -> None:
    path = mixed_folder(tmp_path)
    JobFolder(path, load=False).import_folder(V4)
    out = path / "Keras_4vars_Seed_3_Subseed_2.out"
    out.write_text("Epoch 15/15\nROC-integral: 0.7\n")
    cached = JobFolder(path)
    assert states(cached)["Keras_4vars_Seed_3_Subseed_2"] == "running"  # no re-read yet
    cached.check(cached.jobs[:1])  # a subset that does not contain it
    assert states(cached)["Keras_4vars_Seed_3_Subseed_2"] == "running"
    cached.check()
    assert states(cached)["Keras_4vars_Seed_3_Subseed_2"] == "finished"
    assert states(JobFolder(path))["Keras_4vars_Seed_3_Subseed_2"] == "finished"  # saved


def test_import_both_date_formats_and_replaces_spec(tmp_path: Path) -> None:
    path = mixed_folder(tmp_path)
    folder = JobFolder(path, load=False)
    folder.import_folder(V4)
    first = {j.name: (j.state, j.roc_integral) for j in folder.jobs}
    assert first["Keras_4vars_Seed_14"] == ("finished", 0.8)  # ISO dates
    assert first["Keras_4vars_Seed_3_Subseed_1"] == ("finished", 0.75)  # MM/DD dates
    folder.import_folder(V4)  # again: replaces, no duplicates
    assert len(JobFolder(path)) == 7


@pytest.mark.parametrize(
    ("extra", "variables", "message"),
    [
        (
            "Keras_4vars_Seed_3",
            V4[:3],
            "Keras_4vars_Seed_14: job is for 4 variables but the variable list has 3",
        ),
        ("Keras_4vars_Seed_16", V4, "Keras_4vars_Seed_16: seed number 16 does not fit 4 variables"),
        (
            "Keras_4vars_Seed_3_Subseed_4",
            V4,
            "Keras_4vars_Seed_3_Subseed_4: subseed 4 is not seed 3",
        ),
    ],
)
def test_import_rejects_misfit_variable_list(
    tmp_path: Path, extra: str, variables: list[str], message: str
) -> None:
    path = mixed_folder(tmp_path)
    write_job(path, extra)
    folder = JobFolder(path, load=False)
    with pytest.raises(JobFolderError) as err:
        folder.import_folder(variables)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert not Path(folder.spec_path).exists() and folder.jobs is None


def test_import_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "condor_log_empty").mkdir()
    with pytest.raises(JobFolderError, match=r"condor_log_empty: no \.job files to import"):
        JobFolder(tmp_path / "condor_log_empty").import_folder(V4)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(JobFolderError, match="nowhere: no such job folder or spec file"):
        JobFolder(tmp_path / "nowhere")
    (tmp_path / "condor_log_x").mkdir()
    blank = JobFolder(tmp_path / "condor_log_x")
    with pytest.raises(JobFolderError, match="has no spec file; import it first"):
        blank.get_stats()
    (tmp_path / "condor_log_x" / "condor_log_x.jtd").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(SpecError, match=r"spec file of the original tool \(a pickle\)"):
        JobFolder(tmp_path / "condor_log_x")
    assert JobFolder(tmp_path / "condor_log_x", load=False).jobs is None


# ---------------------------------------------------------------- compaction
def finish_all(path: Path) -> None:
    for job in path.glob("*.job"):
        out = job.with_suffix(".out")
        if not out.exists() or "ROC" not in out.read_text():
            out.write_text("ROC-integral: 0.5\n")


def test_compaction_refused_while_unfinished(tmp_path: Path) -> None:
    path = mixed_folder(tmp_path)
    folder = JobFolder(path, load=False)
    folder.import_folder(V4)
    snapshot = _snapshot(path)
    with pytest.raises(
        JobFolderError,
        match=r"4 of 7 jobs are not finished .*compaction "
        "refused",
    ):
        folder.compact_folder()
    assert _snapshot(path) == snapshot and len(snapshot) == 23  # 21 job files, spec, lock
    assert not path.with_name(path.name + ".jtd").exists()


def test_compaction(tmp_path: Path) -> None:
    path = mixed_folder(tmp_path)
    folder = JobFolder(path, load=False)
    folder.import_folder(V4)
    finish_all(path)
    before = {j.name: (j.seed, j.subseed) for j in folder.jobs}
    folder.compact_folder()
    target = path.with_name(path.name + ".jtd")
    assert not path.exists() and target.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    assert folder.compacted and folder.path == str(target)
    for reopened in (JobFolder(target), JobFolder(path)):
        assert reopened.compacted and reopened.path == str(target)
        assert {j.name: (j.seed, j.subseed) for j in reopened.jobs} == before
        assert all(j.folder is None and j.path is None and j.has_outfile for j in reopened.jobs)
        assert reopened.get_stats()["finished_jobs"] == 7
        assert reopened.get_stats()["unstarted_jobs"] == 0
        reopened.check()  # nothing to read, nothing changes
    with pytest.raises(JobFolderError, match="is already compacted"):
        JobFolder(target).compact_folder()
    with pytest.raises(JobFolderError, match="is compacted; jobs cannot be added"):
        JobFolder(target).add_jobs([])


def test_compaction_to_dest_and_existing_dest(tmp_path: Path) -> None:
    path = mixed_folder(tmp_path)
    JobFolder(path, load=False).import_folder(V4)
    finish_all(path)
    (tmp_path / "taken.jtd").write_text("mine")
    with pytest.raises(JobFolderError, match=r"taken\.jtd: already exists; compaction refused"):
        JobFolder(path).compact_folder(tmp_path / "taken.jtd")
    assert (tmp_path / "taken.jtd").read_text() == "mine" and path.is_dir()
    with pytest.raises(JobFolderError, match="is inside the folder being compacted"):
        JobFolder(path).compact_folder(path / "x.jtd")
    JobFolder(path).compact_folder(tmp_path / "elsewhere.jtd")
    assert not path.exists() and len(JobFolder(tmp_path / "elsewhere.jtd")) == 7


def _snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.mark.parametrize("failure", ["readback", "rename", "write"])
def test_compaction_failure_leaves_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    path = mixed_folder(tmp_path)
    JobFolder(path, load=False).import_folder(V4)
    finish_all(path)
    folder = JobFolder(path)
    folder.check()
    snapshot = _snapshot(path)
    if failure == "readback":
        real = compaction.read_spec

        def wrong(p: object) -> object:
            data = real(p)
            return type(data)(data.variables, data.jobs[:-1])

        monkeypatch.setattr(compaction, "read_spec", wrong)
        match = "does not read back identical"
    elif failure == "rename":

        def no_rename(*_: object) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(compaction.os, "rename", no_rename)
        match = "compaction failed, folder kept"
    else:

        def disk_full(*_: object, **__: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(compaction, "write_spec", disk_full)
        match = "No space left"
    with pytest.raises((JobFolderError, OSError), match=match):
        folder.compact_folder()
    assert _snapshot(path) == snapshot
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert not folder.compacted and folder.path == str(path)


def test_compaction_rmtree_failure_keeps_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = mixed_folder(tmp_path)
    JobFolder(path, load=False).import_folder(V4)
    finish_all(path)

    def half_delete(p: object) -> None:
        raise OSError(16, "Device or resource busy")

    monkeypatch.setattr(compaction.shutil, "rmtree", half_delete)
    JobFolder(path).compact_folder()
    assert len(JobFolder(path.with_name(path.name + ".jtd"))) == 7
    assert "could not all be deleted" in caplog.text
    leftover = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert [p.name for p in leftover] == [f".{path.name}.compacting-{os.getpid()}"]
    monkeypatch.undo()
    shutil.rmtree(leftover[0])


# ---------------------------------------------------------------- two processes
_UPDATER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from fourtop.jobtracker import JobFolder
    path, parity = sys.argv[1], int(sys.argv[2])
    folder = JobFolder(path)
    for i, job in enumerate(folder.jobs):
        if i % 2 == parity:
            Path(path, job.name + ".out").write_text("ROC-integral: 0.6\\n")
            job.check_finished()
            folder.save()
""")


def test_two_processes_update_different_jobs(tmp_path: Path) -> None:
    folder = JobFolder.create(str(tmp_path / "condor_log_two"))
    seed = Seed.from_binary("1" * 40, V76[:40])
    folder.add_jobs([Job(None, job_name(40, seed, s), seed, s) for s in seed.subseeds()])
    folder.save()
    procs = [subprocess.Popen([sys.executable, "-c", _UPDATER, folder.path, p]) for p in ("0", "1")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert all(j.state == "finished" for j in JobFolder(folder.path).jobs)


# ---------------------------------------------------------------- issue 10
def _finished_folder(root: Path) -> Path:
    path = mixed_folder(root)
    JobFolder(path, load=False).import_folder(V4)
    finish_all(path)
    JobFolder(path).check()
    return path


FAILED_JOB = "Keras_4vars_Seed_14_Subseed_6"


def _with_failed(root: Path) -> Path:
    path = _finished_folder(root)
    (path / f"{FAILED_JOB}.out").write_text("Epoch 1\n")  # its log: killed by signal 9
    JobFolder(path).check()
    return path


def test_out_of_range_roc_fails_the_job(tmp_path: Path) -> None:
    path = _finished_folder(tmp_path)
    (path / "Keras_4vars_Seed_3_Subseed_1.out").write_text("ROC-integral: -1\n")
    folder = JobFolder(path)
    folder.check()
    [failed] = folder.get_resubmit_list()
    assert failed.name == "Keras_4vars_Seed_3_Subseed_1" and not failed.has_result
    assert failed.reason == "exited with return value 0; ROC-integral value -1 is outside [0, 1]"
    assert failed.roc_integral == -1 and failed not in folder.result_jobs


def test_bad_spec_row_in_a_folder_is_read_again(tmp_path: Path) -> None:
    path = _finished_folder(tmp_path)
    with sqlite3.connect(path / f"{path.name}.jtd") as conn:
        conn.execute("UPDATE jobs SET roc = 5.0 WHERE name = 'Keras_4vars_Seed_14'")
    conn.close()
    folder = JobFolder(path)
    job = next(j for j in folder.jobs if j.name == "Keras_4vars_Seed_14")
    assert job.state == "failed" and "ROC integral 5.0" in (job.reason or "")
    folder.check()  # the stamp was dropped: the files are read again
    assert (job.state, job.roc_integral) == ("finished", 0.8)
    again = next(j for j in JobFolder(path).jobs if j.name == "Keras_4vars_Seed_14")
    assert (again.state, again.roc_integral) == ("finished", 0.8)  # and stored


def test_bad_spec_row_in_a_compacted_spec_stays_failed(tmp_path: Path) -> None:
    path = _finished_folder(tmp_path)
    JobFolder(path).compact_folder()
    spec = tmp_path / f"{path.name}.jtd"
    with sqlite3.connect(spec) as conn:
        conn.execute("UPDATE jobs SET state = 'done' WHERE name = 'Keras_4vars_Seed_14'")
    conn.close()
    folder = JobFolder(spec)
    folder.check()
    failed = folder.get_resubmit_list()
    assert [j.name for j in failed] == ["Keras_4vars_Seed_14"]
    assert failed[0].reason == "the spec file held unknown state 'done' for this job"
    assert folder.get_stats()["failed_jobs"] == 1 and len(folder.result_jobs) == 6


def test_unreadable_jobs_counted_apart(tmp_path: Path) -> None:
    path = _finished_folder(tmp_path)
    victim = path / "Keras_4vars_Seed_3_Subseed_1.out"
    victim.unlink()
    victim.mkdir()  # a file that cannot be read, even by root
    (path / "Keras_4vars_Seed_14_Subseed_12.log").mkdir()  # no .out, unreadable log
    (path / "Keras_4vars_Seed_14_Subseed_12.out").unlink()
    folder = JobFolder(path)
    folder.check()
    names = {j.name for j in folder.unreadable_jobs}
    assert names == {"Keras_4vars_Seed_3_Subseed_1", "Keras_4vars_Seed_14_Subseed_12"}
    assert folder.get_resubmit_list() == [] and folder.unstarted_jobs == []
    assert not any(j.finished for j in folder.unreadable_jobs)
    stats = folder.get_stats()
    assert (stats["unreadable_jobs"], stats["failed_jobs"], stats["unstarted_jobs"]) == (2, 0, 0)
    assert stats["finished_jobs"] == 5
    with pytest.raises(JobFolderError, match="2 of 7 jobs are not finished"):
        folder.compact_folder()
    assert victim.is_dir()


def test_check_keeps_going_when_the_spec_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from fourtop.jobs.specfile import SpecWriteError

    path = _finished_folder(tmp_path)
    (path / "Keras_4vars_Seed_3.out").write_text("ROC-integral: 0.55\n")

    def read_only(*_: object, **__: object) -> None:
        raise SpecWriteError(f"{path}: cannot write spec file (read-only file system)")

    monkeypatch.setattr(folder_module, "update_spec", read_only)
    folder = JobFolder(path)
    folder.check()
    job = next(j for j in folder.jobs if j.name == "Keras_4vars_Seed_3")
    assert job.roc_integral == 0.55
    assert "job states refreshed but not stored" in caplog.text


def test_import_refuses_a_reordered_list(tmp_path: Path) -> None:
    path = mixed_folder(tmp_path)
    JobFolder(path, load=False).import_folder(V4)
    spec = Path(path, f"{path.name}.jtd")
    before = spec.read_bytes()
    with pytest.raises(JobFolderError) as err:
        JobFolder(path, load=False).import_folder(["b", "a", "c", "d"])
    assert "a moved from position 1 to 2; b moved from position 2 to 1" in str(err.value)
    assert spec.read_bytes() == before
    JobFolder(path, load=False).import_folder(["b", "a", "c", "d"], force=True)
    assert JobFolder(path).variables == ["b", "a", "c", "d"]


def test_import_uses_the_folders_varlist_file(tmp_path: Path) -> None:
    path = mixed_folder(tmp_path)
    (path / jt.VARLIST_FILE).write_text("\n".join(V4) + "\n")
    with pytest.raises(JobFolderError, match=r"\(fourtop-varlist\.txt\): missing: d; not in"):
        JobFolder(path).import_folder(["a", "b", "c", "e"])
    assert not Path(path, f"{path.name}.jtd").exists()
    JobFolder(path).import_folder(V4)  # the same list: fine
    assert len(JobFolder(path)) == 7


def test_import_accepts_a_varlist_path_or_all(tmp_path: Path) -> None:
    path = mixed_folder(tmp_path)
    (tmp_path / "v.txt").write_text("# my list\n" + "\n".join(V4) + "\n")
    JobFolder(path).import_folder(tmp_path / "v.txt")
    assert JobFolder(path).variables == V4
    with pytest.raises(JobFolderError, match="job is for 4 variables but the variable list has 76"):
        JobFolder(path).import_folder("all", force=True)


def test_compaction_refuses_failed_jobs_unless_forced(tmp_path: Path) -> None:
    path = _with_failed(tmp_path)
    (path / jt.VARLIST_FILE).write_text("\n".join(V4) + "\n")
    (path / jt.SETTINGS_FILE).write_text('{"year": "2017"}\n')
    snapshot = _snapshot(path)
    with pytest.raises(JobFolderError) as err:
        JobFolder(path).compact_folder()
    assert str(err.value) == (
        f"{path}: 1 of 7 jobs failed (e.g. {FAILED_JOB}); 'fourtop submit -r' resubmits them; "
        "compaction refused (force keeps them as failed jobs in the compacted spec)"
    )
    assert _snapshot(path) == snapshot
    JobFolder(path).compact_folder(force=True)
    compacted = JobFolder(tmp_path / f"{path.name}.jtd")
    assert [j.name for j in compacted.get_resubmit_list()] == [FAILED_JOB]
    assert read_spec(compacted.spec_path).files == {
        jt.VARLIST_FILE: "a\nb\nc\nd\n",
        jt.SETTINGS_FILE: '{"year": "2017"}\n',
    }


def test_extract_failed(tmp_path: Path) -> None:
    path = _with_failed(tmp_path)
    (path / jt.SETTINGS_FILE).write_text('{"year": "2017"}\n')
    reason = next(j.reason for j in JobFolder(path).jobs if j.name == FAILED_JOB)
    JobFolder(path).compact_folder(force=True)
    compacted = JobFolder(tmp_path / f"{path.name}.jtd")
    with compacted.lock(what="fourtop submit -r"):  # re-entrant: submit -r holds it around
        restored = compacted.extract_failed()
    assert restored.path == str(path) and not restored.compacted
    [job] = restored.jobs
    assert (job.name, job.state) == (FAILED_JOB, "failed")
    assert job.reason == f"failed before compaction: {reason}"
    assert job.seed == Seed.from_binary("1110", V4) and job.subseed == Seed.from_binary("0110", V4)
    assert restored.get_resubmit_list() == [job]
    assert sorted(p.name for p in path.iterdir()) == sorted(
        [f"{path.name}.jtd", jt.VARLIST_FILE, jt.SETTINGS_FILE]
    )
    assert (path / jt.VARLIST_FILE).read_text() == "a\nb\nc\nd\n"
    restored.check()  # no files yet: it stays failed, ready for submit -r
    assert [j.name for j in JobFolder(path).get_resubmit_list()] == [FAILED_JOB]
    assert len(compacted) == 6 and compacted.get_resubmit_list() == []
    assert len(JobFolder(tmp_path / f"{path.name}.jtd")) == 6  # each job in one place
    with pytest.raises(JobFolderError, match="has no failed jobs to extract"):
        compacted.extract_failed()


def test_extract_failed_names_and_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _with_failed(tmp_path)
    JobFolder(path).compact_folder(force=True)
    spec = tmp_path / f"{path.name}.jtd"
    path.mkdir()  # the old name is taken again
    (tmp_path / f"{path.name}_resubmit").mkdir()
    real = compaction.os.rename

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(compaction.os, "rename", fail)
    before = spec.read_bytes()
    with pytest.raises(SpecWriteError, match=r"_resubmit_2: no space left on device; nothing"):
        JobFolder(spec).extract_failed()
    assert spec.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == sorted(
        [path.name, f"{path.name}_resubmit", spec.name]
    )
    monkeypatch.setattr(compaction.os, "rename", real)
    restored = JobFolder(spec).extract_failed()
    assert Path(restored.path).name == f"{path.name}_resubmit_2"
    assert [j.name for j in restored.jobs] == [FAILED_JOB]


def test_lock_is_reentrant_in_one_process_only(tmp_path: Path) -> None:
    path = _finished_folder(tmp_path)
    folder = JobFolder(path)
    with folder.lock(what="outer"), JobFolder(path).lock(what="inner"):
        code = (
            "import sys\nfrom fourtop.jobtracker import JobFolder\n"
            "from fourtop.errors import JobFolderError\n"
            "try:\n    JobFolder(sys.argv[1]).compact_folder()\n"
            "except JobFolderError as e:\n    print(e)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
        )
        assert "another fourtop process is working on this folder (outer, process" in proc.stdout
    assert path.is_dir()
    folder.compact_folder()  # released
    assert not path.exists()


def test_clean_leftovers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "done.jtd").write_text("")
    garbage = tmp_path / f".done.compacting-{dead.pid}"
    busy = tmp_path / f".busy.compacting-{os.getpid()}"  # a compaction still running
    lost = tmp_path / f".lost.compacting-{dead.pid}"  # its .jtd is not there
    for folder in (garbage, busy, lost):
        folder.mkdir()
        (folder / "Keras_4vars_Seed_1.out").write_text("ROC-integral: 0.5\n")
    (tmp_path / "busy.jtd").write_text("")
    assert jt.clean_leftovers(tmp_path) == [garbage]
    assert not garbage.exists() and busy.is_dir() and lost.is_dir()
    assert "lost.jtd is missing: check the files in it and remove it by hand" in caplog.text
    assert jt.clean_leftovers(tmp_path / "nowhere") == []


def test_compaction_cleans_what_a_killed_one_left(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    other = _finished_folder(tmp_path)
    JobFolder(other).compact_folder()
    trash = tmp_path / f".{other.name}.compacting-{dead.pid}"
    trash.mkdir()
    (trash / "x.out").write_text("")
    fresh = tmp_path / "condor_log_new"
    fresh.mkdir()
    write_job(fresh, "Keras_4vars_Seed_1", out="ROC-integral: 0.5\n")
    JobFolder(fresh).import_folder(V4)
    JobFolder(fresh).compact_folder()
    assert not trash.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{other.name}.jtd", "condor_log_new.jtd"]
