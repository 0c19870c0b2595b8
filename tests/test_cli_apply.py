"""``fourtop apply`` and ``fourtop apply-file`` on the command line, with the local pool:
outputs, reruns, histograms, the node command, and a run killed with SIGKILL part-way."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import uproot

from finals import make_final, standardization, write_config
from fourtop.apply.plan import JOBS_DIR, PLAN_FILE, read_plan
from fourtop.apply.record import output_state
from fourtop.apply.task import read_events
from fourtop.cli import main

SIGNAL_0 = "TTTT_TuneCP5_PSweights_13TeV-amcatnlo-pythia8_split0.root"


@pytest.fixture
def workdir(tiny_samples, tmp_path, monkeypatch):
    """``c.toml`` (signal and background of three splits) and ``final`` in the working dir."""
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "c.toml", tiny_samples)
    mean, std = standardization(config)
    make_final(tmp_path / "final", config, mean=mean, std=std)
    return tmp_path


def _plan_inline(workdir: Path) -> Path:
    """The signal files scored in this process (the ``inline`` backend); returns the job folder."""
    from finals import inline_backend
    from fourtop.apply.workflow import ApplyRequest, apply

    with inline_backend() as backend:
        request = ApplyRequest("final", config="c.toml", samples="signal", backend=backend)
        return apply(request).output_dir / JOBS_DIR


def test_apply_scores_every_file_then_skips_them_and_makes_hists(workdir, capsys):
    run = ["apply", "final", "--config", "c.toml", "-p", "1"]
    assert main(run) == 0  # the local pool: one worker process
    captured = capsys.readouterr()
    out = workdir / "final" / "apply_2017"
    assert "0 complete, 6 to score" in captured.err and "scored 6 file(s)" in captured.err
    assert f"Outputs: {out}" in captured.out
    assert len(list(out.glob("*.root"))) == 6
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*.root")}
    assert main([*run, "--hists"]) == 0
    captured = capsys.readouterr()
    assert "6 complete, 0 to score" in captured.err
    assert "Selected events per sample" in captured.out and "DNN_hists.root" in captured.out
    assert {p: p.stat().st_mtime_ns for p in out.glob("*.root")} == stamps
    assert (out / "hists" / "DNN_stack.png").is_file()


def test_apply_file_prints_the_result_or_writes_the_job_files(workdir, capsys):
    jobs = _plan_inline(workdir)
    plan = read_plan(jobs / PLAN_FILE)
    item = plan.files[0]
    plan.output_path(item).unlink()
    capsys.readouterr()
    assert main(["apply-file", "--plan", str(jobs / PLAN_FILE), item.job]) == 0
    printed = capsys.readouterr().out
    n = uproot.open(plan.output_path(item))["ljmet"].num_entries
    assert f"Events-scored: {float(n)!r}" in printed and f"Input: {item.input}" in printed
    (jobs / f"{item.job}.out").unlink()
    assert main(["apply-file", "--plan", str(jobs / PLAN_FILE), "--job-dir", str(jobs),
                 item.job, plan.files[1].job]) == 0  # fmt: skip
    assert read_events(jobs / f"{item.job}.out") == n
    assert output_state(plan, item).state == "complete"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--plan", "nope.json", "x"], r"nope.json: no apply plan"),
        (["--plan", "PLAN", "apply_nope"], r"no job 'apply_nope' in the apply plan"),
        (["--plan", "PLAN", "JOB", "JOB"], r"2 job names given: several jobs need --job-dir"),
        (["--plan", "PLAN", "--job-dir", "nowhere", "JOB"], r"nowhere: job folder not found"),
    ],
)
def test_apply_file_bad_arguments_are_one_line(workdir, capsys, args, message):
    import re

    jobs = _plan_inline(workdir)
    job = read_plan(jobs / PLAN_FILE).files[0].job
    args = [str(jobs / PLAN_FILE) if a == "PLAN" else job if a == "JOB" else a for a in args]
    capsys.readouterr()
    assert main(["apply-file", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("fourtop apply-file: error: ") and "\n" not in err
    assert re.search(message, err), err


def test_apply_file_failure_exits_1_with_the_file_named(workdir, capsys):
    jobs = _plan_inline(workdir)
    plan = read_plan(jobs / PLAN_FILE)
    broken = workdir / "broken.root"
    broken.write_text("text\n")
    plan.files[0] = type(plan.files[0])(**{**plan.files[0].__dict__, "input": str(broken)})
    (jobs / PLAN_FILE).write_text(plan.to_json())
    capsys.readouterr()
    assert main(["apply-file", "--plan", str(jobs / PLAN_FILE), plan.files[0].job]) == 1
    err = capsys.readouterr().err.strip()
    reason = f"{broken}: cannot open as a ROOT file (no ROOT file header)"
    assert err == f"fourtop apply-file: error: {reason}"


def test_condor_transfer_is_refused_in_one_line(workdir, capsys, schedd):
    args = ["apply", "final", "--config", "c.toml", "--backend", "condor"]
    assert main([*args, "--option", "transfer=yes"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("fourtop apply: error: --option transfer=yes: fourtop apply reads")
    assert "\n" not in err and not (workdir / "final" / "apply_2017").exists()


#: ``fourtop apply`` in a child process with the in-process backend (no worker to start)
INLINE_MAIN = """
import sys
sys.path.insert(0, {tests!r})
from finals import inline_backend
from fourtop.cli import main
with inline_backend():
    sys.exit(main(sys.argv[1:]))
"""


def _copies(workdir: Path, samples: Path, n: int) -> list[str]:
    """``n`` copies of a signal file as the extra sample ``more`` of ``c.toml``."""
    copies = workdir / "copies"
    copies.mkdir()
    names = [f"copy{i:02d}.root" for i in range(n)]
    for name in names:
        shutil.copyfile(samples / SIGNAL_0, copies / name)
    write_config(workdir / "c.toml", samples, extra={"more": [str(copies / m) for m in names]})
    return names


def _kill_part_way(proc: subprocess.Popen[str], out: Path, total: int) -> dict:
    """SIGKILL ``proc`` once some outputs are there; the complete ones' (inode, mtime)."""
    deadline = time.monotonic() + 120
    while not list(out.glob("copy*.root")):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"apply ended or stalled before it could be killed: {proc.stderr.read()}")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # a worker of the local pool dies with its parent (PR_SET_PDEATHSIG)
    done = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("copy*.root")}
    assert 0 < len(done) < total, "the run was not killed part-way"
    return done


def _check_resumed(workdir: Path, names: list[str], done: dict) -> None:
    out = workdir / "out"
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("copy*.root")}
    assert sorted(after) == names
    for name, stamp in done.items():
        assert after[name] == stamp, f"{name} was written twice"
    plan = read_plan(out / JOBS_DIR / PLAN_FILE)
    assert all(output_state(plan, item).state == "complete" for item in plan.files)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary file
    n = uproot.open(workdir / "copies" / names[0])["ljmet"].num_entries
    assert all(uproot.open(out / name)["ljmet"].num_entries == n for name in names)


def test_a_run_killed_part_way_is_completed_by_a_rerun_with_no_file_twice(workdir, tiny_samples):
    """kill -9 of ``fourtop apply`` once some outputs are there: the rerun scores the rest,
    leaves the complete ones as they are (no file written twice) and no temporary file."""
    from finals import inline_backend

    names = _copies(workdir, tiny_samples, 8)
    script = INLINE_MAIN.format(tests=str(Path(__file__).parent))
    args = ["apply", "final", "--config", "c.toml", "--samples", "extra", "-o", "out"]
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args, "--backend", "inline"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    done = _kill_part_way(proc, workdir / "out", len(names))
    with inline_backend():
        assert main([*args, "--backend", "inline"]) == 0
    _check_resumed(workdir, names, done)


@pytest.mark.slow
def test_a_local_pool_run_killed_part_way_is_completed_by_a_rerun(workdir, tiny_samples):
    """The same with the local pool: its worker dies with ``apply``, the rerun takes over."""
    names = _copies(workdir, tiny_samples, 16)
    args = ["apply", "final", "--config", "c.toml", "--copy", "--samples", "extra", "-o", "out"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fourtop.cli", *args, "-p", "1"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    done = _kill_part_way(proc, workdir / "out", len(names))
    assert main([*args, "-p", "2"]) == 0
    _check_resumed(workdir, names, done)
