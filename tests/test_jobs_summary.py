"""fourtop.jobs.summary: a folder's summary as data, and the checks around import and compaction."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from fourtop.errors import FourtopError, JobFolderError
from fourtop.jobs.folder import JobFolder
from fourtop.jobs.summary import (
    CompactionPlan,
    JobLine,
    check_compaction,
    clean_beside,
    importable_folder,
    percent,
    refresh,
    summarize,
)
from importance_folders import FAILED, make_folder
from test_jobtracker import V4, finish_all, mixed_folder


class Recorder:
    """A stand-in for ``sync_folder``: remembers the folders it was called for."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, path: str) -> None:
        self.calls.append(path)


def imported(tmp_path: Path) -> JobFolder:
    path = mixed_folder(tmp_path)
    JobFolder(path, load=False).import_folder(V4)
    return JobFolder(path)


def test_percent() -> None:
    assert percent(3, 7) == "3 (42.9%)"
    assert percent(7, 7) == "7 (100.0%)"
    assert percent(0, 7) == "0 (0.0%)"
    assert percent(0, 0) == "0" and percent(5, 0) == "5"  # no share of nothing


def test_summary_of_a_mixed_folder(tmp_path: Path) -> None:
    folder = imported(tmp_path)
    s = summarize(folder)
    assert s.title == folder.path
    assert s.columns == ["jobs", "finished", "failed", "unstarted", "held", "seeds"]
    assert s.cells == ["7", "3 (42.9%)", "1 (14.3%)", "3 (42.9%)", "1 (14.3%)", "2"]
    assert s.variable_counts == [("1", "a", "1"), ("2", "b", "1"), ("3", "c", "2"), ("4", "d", "1")]
    assert [label for label, _ in s.listings] == ["failed", "held", "unreadable"]
    failed, held, unreadable = (jobs for _, jobs in s.listings)
    assert failed == [
        JobLine(
            "Keras_4vars_Seed_14_Subseed_6",
            "killed by signal 9; no ROC-integral line in the .out file",
        )
    ]
    assert [j.name for j in held] == ["Keras_4vars_Seed_14_Subseed_10"]
    assert held[0].reason.startswith("Error from slot1_2@node17.example.org")
    assert unreadable == [] and s.unreadable == [] and s.unreadable_note is None


def test_summary_names_unreadable_jobs_in_their_own_column(tmp_path: Path) -> None:
    folder = imported(tmp_path)
    finish_all(Path(folder.path))
    out_file = Path(folder.path, "Keras_4vars_Seed_3_Subseed_1.out")
    out_file.unlink()
    out_file.mkdir()  # exists, cannot be read (even by root)
    folder.check()
    s = summarize(folder)
    assert s.columns == ["jobs", "finished", "failed", "unstarted", "held", "unreadable", "seeds"]
    assert s.cells == ["7", "6 (85.7%)", "0 (0.0%)", "0 (0.0%)", "0 (0.0%)", "1 (14.3%)", "2"]
    reason = f"cannot read {out_file} (is a directory)"
    assert s.unreadable == [JobLine("Keras_4vars_Seed_3_Subseed_1", reason)]
    assert s.unreadable_note == (
        f"1 job(s) have files this user cannot read (e.g. Keras_4vars_Seed_3_Subseed_1: {reason}); "
        "they are neither failed nor resubmitted: ask the folder's owner to make them readable"
    )


def test_summary_of_a_compacted_folder_says_so(tmp_path: Path) -> None:
    folder = imported(tmp_path)
    finish_all(Path(folder.path))
    folder.compact_folder()
    s = summarize(JobFolder(folder.path))
    assert s.title == f"{folder.path} (compacted)" and s.title.endswith(".jtd (compacted)")
    assert s.cells[1] == "7 (100.0%)"


def test_summary_needs_a_spec(tmp_path: Path) -> None:
    with pytest.raises(JobFolderError, match="has no spec file"):
        summarize(JobFolder(mixed_folder(tmp_path)))


def test_refresh_syncs_before_reading(tmp_path: Path) -> None:
    folder = imported(tmp_path)
    finish_all(Path(folder.path))
    seen: list[int] = []
    refresh(folder, lambda p: seen.append(folder.get_stats().finished_jobs))
    assert seen == [3]  # the states were not re-read before the sync
    assert folder.get_stats().finished_jobs == 7


def test_importable_folder(tmp_path: Path) -> None:
    path = mixed_folder(tmp_path)
    with pytest.raises(FourtopError, match=r"nope: no such job folder; only job folders can be"):
        importable_folder(tmp_path / "nope", V4, force=False)
    spec = tmp_path / "x.jtd"
    spec.write_text("")
    with pytest.raises(FourtopError, match=r"x\.jtd: is a compacted spec file; only job folders"):
        importable_folder(spec, V4, force=False)
    (path / "fourtop-varlist.txt").write_text("\n".join(V4) + "\n")
    with pytest.raises(JobFolderError, match="the variable list differs from the one its jobs"):
        importable_folder(path, [*V4[::-1]], force=False)
    assert importable_folder(path, [*V4[::-1]], force=True).jobs is None
    folder = importable_folder(path, V4, force=False)
    assert Path(folder.path).resolve() == path.resolve()
    assert not Path(folder.spec_path).exists()  # checked only, nothing written


def test_compaction_needs_a_spec(tmp_path: Path) -> None:
    path = mixed_folder(tmp_path)
    sync = Recorder()
    with pytest.raises(FourtopError, match=r"has no spec file; import it first with 'fourtop"):
        check_compaction(JobFolder(path), path, force=False, sync=sync)
    assert sync.calls == []


def test_compaction_refused_while_unfinished(tmp_path: Path) -> None:
    folder = imported(tmp_path)
    sync = Recorder()
    shown = Path("shown/as")
    with pytest.raises(FourtopError) as err:
        check_compaction(folder, shown, force=True, sync=sync)
    assert str(err.value) == (
        "shown/as: 4 of 7 jobs are not finished; compaction refused (nothing changed)"
    )
    assert sync.calls == [folder.path]


def test_compaction_of_failed_jobs_needs_force(tmp_path: Path) -> None:
    path = make_folder(tmp_path / "condor_log_F", V4, {"1100": (0.8, {"a": 0.7, "b": FAILED})})
    folder = JobFolder(path)
    with pytest.raises(FourtopError, match=r"1 of 3 jobs failed; 'fourtop submit -r'"):
        check_compaction(folder, path, force=False, sync=Recorder())
    plan = check_compaction(folder, path, force=True, sync=Recorder())
    assert plan == CompactionPlan(path.resolve().with_name("condor_log_F.jtd"), 1)
    assert path.is_dir() and not plan.target.exists()  # nothing changed yet


def test_compaction_plan_of_a_finished_folder(tmp_path: Path) -> None:
    folder = imported(tmp_path)
    finish_all(Path(folder.path))
    plan = check_compaction(folder, Path("x"), force=False, sync=Recorder())
    assert plan.failed == 0
    assert plan.target == Path(folder.path).with_name(Path(folder.path).name + ".jtd")


def test_clean_beside_removes_leftovers_once_per_parent(tmp_path: Path) -> None:
    (tmp_path / "a.jtd").write_text("")
    leftover = tmp_path / ".a.compacting-999999999"  # no such process
    leftover.mkdir()
    (leftover / "Keras_4vars_Seed_1.job").write_text("")
    kept = tmp_path / ".b.compacting-999999999"  # no b.jtd beside it: kept
    kept.mkdir()
    cleaning = clean_beside([tmp_path / "a.jtd", tmp_path / "b", tmp_path / "c"])
    assert inspect.isgenerator(cleaning) and leftover.exists()  # cleans when iterated
    assert list(cleaning) == [leftover]
    assert not leftover.exists() and kept.is_dir()
    assert list(clean_beside([tmp_path / "a.jtd"])) == []
