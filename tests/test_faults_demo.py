"""``fourtop demo``: bad inputs and faults -> one line, an exit code, nothing changed on disk.

Every option is checked before any work: a nonsense value is refused before samples are
generated, jobs trained or ``--workdir`` created. The demo stops at the first step that
fails. Rows run in an empty working directory over the tiny generated samples (so the
samples are "present" unless a row says otherwise). Below the table: a step-2 run with failed
trainings (the demo says how many and stops before the ranking) and a whole tiny demo.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from faults import Case, check_case, is_root
from fourtop.cli import main
from importance_folders import FAILED, make_folder

_mounts: list[Path] = []


@pytest.fixture(autouse=True)
def _unmount():
    yield
    while _mounts:
        subprocess.run(["umount", "-l", str(_mounts.pop())], check=False)


def _read_only(root: Path) -> None:
    if not is_root():
        pytest.skip("mounting a tmpfs needs root")
    (root / "ro").mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(root / "ro")],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        pytest.skip(f"cannot mount a tmpfs: {proc.stderr.strip()}")
    _mounts.append(root / "ro")


def _file(root: Path) -> None:
    (root / "taken").write_text("keep me\n")


def _jobs_is_a_file(root: Path) -> None:
    (root / "fourtop_demo").mkdir()
    (root / "fourtop_demo" / "condor_log_demo").write_text("not a job folder\n")


DEMO = ["demo", "-n", "1", "--epochs", "1", "-p", "1"]

CASES: list[Case] = [
    Case(
        "seeds-beyond-reason",
        ["demo", "-n", "99999999999", "--epochs", "1", "-p", "1"],
        r"at most 100000 seeds per submission",
        code=2,
    ),
    Case(
        "workdir-in-proc",
        [*DEMO, "--workdir", "/proc/xx"],
        r"cannot create the output folder /proc/xx: /proc: does not accept new files",
    ),
    Case(
        "workdir-is-a-file",
        [*DEMO, "--workdir", "taken"],
        r"taken: exists and is not a folder; choose another --workdir",
        setup=_file,
    ),
    Case(
        "workdir-under-a-file",
        [*DEMO, "--workdir", "taken/demo"],
        r"cannot create the output folder .*/taken/demo: .*/taken is not a folder",
        setup=_file,
    ),
    Case(
        "workdir-read-only",
        [*DEMO, "--workdir", "ro/demo"],
        r"cannot create the output folder .*/ro/demo: .*read-only file system",
        setup=_read_only,
    ),
    Case("workdir-empty", [*DEMO, "--workdir", ""], r"--workdir: the folder name is empty"),
    Case(
        "job-folder-is-a-file",
        [*DEMO],
        r"condor_log_demo: exists and is not a folder; choose another --workdir",
        setup=_jobs_is_a_file,
    ),
    Case("top-zero", [*DEMO, "--top", "0"], r"argument --top: 0: must be at least 1", code=2),
    Case(
        "top-not-a-number",
        [*DEMO, "--top", "ten"],
        r"argument --top: 'ten' is not a whole number",
        code=2,
        new=False,
    ),
    Case("seeds-zero", ["demo", "-n", "0"], r"argument -n/--seeds: 0: must be at least 1", code=2),
    Case(
        "seeds-negative",
        ["demo", "-n", "-4"],
        r"argument -n/--seeds: -4: must be at least 1",
        code=2,
    ),
    Case(
        "epochs-zero",
        ["demo", "--epochs", "0"],
        r"argument --epochs: 0: must be at least 1",
        code=2,
    ),
    Case(
        "processes-zero",
        ["demo", "-p", "0"],
        r"argument -p/--processes: 0: must be at least 1",
        code=2,
    ),
    Case(
        "events-zero",
        ["demo", "--events", "0"],
        r"argument --events: 0: must be at least 1",
        code=2,
    ),
    Case(
        "random-seed-negative",
        ["demo", "--random-seed", "-1"],
        r"argument --random-seed: -1 is outside 0 to 4294967295",
        code=2,
    ),
    Case(
        "random-seed-too-large",
        ["demo", "--random-seed", "4294967296"],
        r"argument --random-seed: 4294967296 is outside 0 to 4294967295",
        code=2,
    ),
    Case(
        "random-seed-not-a-number",
        ["demo", "--random-seed", "x"],
        r"argument --random-seed: 'x' is not a whole number",
        code=2,
        new=False,
    ),
    Case("year-unknown", [*DEMO, "-y", "2019"], r"-y '2019': the demo's synthetic samples are"),
    Case(
        "samples-folder-unwritable",
        [*DEMO],
        r"cannot create the output folder /proc/samples: /proc: does not accept new files",
        env={"FOURTOP_DATA": "/proc/samples"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fault(case: Case, tmp_path, capsys, monkeypatch, tiny_samples):
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    check_case(case, tmp_path, capsys, monkeypatch)


def test_case_ids_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------- beyond the table


def test_failed_trainings_stop_the_demo_before_the_ranking(
    tmp_path, capsys, monkeypatch, tiny_samples
):
    """Step 2 ends with failed trainings: say how many, how to finish them, exit 3 (jobs failed), and do
    not calculate a ranking from a partial run."""
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    import fourtop.cli.demo as demo

    real = demo._step
    steps: list[str] = []

    def step(argv):
        steps.append(argv[0])
        if argv[0] == "submit":  # a run in which two of five trainings failed
            variables = ["a", "b", "c", "d", "e"]
            make_folder(
                Path(argv[-1]), variables, {"11100": (0.8, {"a": FAILED, "b": FAILED, "c": 0.7})}
            )
            return 1
        return real(argv)

    monkeypatch.setattr(demo, "_step", step)
    assert main(DEMO) == 3
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("fourtop demo: error: 2 of 4 trainings did not finish")
    assert "Run 'fourtop demo' again with the same --workdir to finish them" in err
    assert steps == ["submit"]  # samples present; no calculate
    assert not (tmp_path / "fourtop_demo" / "dataset_demo").exists()


def test_a_failing_step_is_the_demos_one_line_error(tmp_path, capsys, monkeypatch, tiny_samples):
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    import fourtop.cli.demo as demo
    from fourtop.errors import OutputError

    def step(argv):
        raise OutputError("cannot write file x: no space left on device")

    monkeypatch.setattr(demo, "_step", step)
    assert main(DEMO) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "fourtop demo: error: cannot write file x: no space left on device"


@pytest.mark.slow
def test_tiny_demo_end_to_end(tmp_path, capsys, monkeypatch, tiny_samples):
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    assert main([*DEMO, "--top", "3"]) == 0
    cap = capsys.readouterr()
    assert "Demo finished" in cap.out
    assert (
        tmp_path / "fourtop_demo" / "dataset_demo" / "VariableImportanceResults_76vars.txt"
    ).is_file()
    assert main([*DEMO, "--top", "3"]) == 0  # again: nothing left to train, the same ranking
    assert "exists: finishing its unfinished jobs" in " ".join(capsys.readouterr().err.split())


@pytest.mark.slow
def test_tiny_full_demo_end_to_end(tmp_path, capsys, monkeypatch, tiny_samples):
    """``--full``: the ranking, then the final folds on the top variables and the score in
    every ntuple of the key; run again, it finishes nothing and rewrites nothing."""
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    assert main([*DEMO, "--top", "4", "--full"]) == 0
    demo = tmp_path / "fourtop_demo"
    card = (demo / "final_demo" / "model_card.json").read_text()
    assert '"k": 5' in card
    outputs = sorted((demo / "apply_demo").glob("*.root"))
    assert len(outputs) == 33  # 11 samples x 3 splits of 2017
    assert (demo / "apply_demo" / "hists" / "DNN_hists.root").is_file()
    assert "friend trees with the DNN score" in capsys.readouterr().out
    stamps = {p: p.stat().st_mtime_ns for p in outputs}
    assert main([*DEMO, "--top", "4", "--full"]) == 0
    assert "exists: finishing its final training" in " ".join(capsys.readouterr().err.split())
    assert {p: p.stat().st_mtime_ns for p in outputs} == stamps
