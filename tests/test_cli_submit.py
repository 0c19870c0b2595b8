"""``fourtop submit`` end to end on generated data: submit, stats, results, resubmission."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fourtop.cli import main
from fourtop.jobs.eventlog import job_status, log_terminated, read_roc_integral
from fourtop.jobtracker import JobFolder

VARS = ["AK4HTpMETpLepPt", "NJets_JetSubCalc", "minMleppBjet", "centrality"]


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    from fourtop.data.generate import generate_samples

    out = tmp_path_factory.mktemp("samples")
    generate_samples(out, 4000, seed=3, keys=("2017",))
    return out


@pytest.fixture
def workdir(samples, tmp_path, monkeypatch):
    monkeypatch.setenv("FOURTOP_DATA", str(samples))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vars.txt").write_text("\n".join(VARS) + "\n")
    return tmp_path


def _submit(*extra: str) -> int:
    argv = ["submit", "-y", "2017", "-l", "vars.txt", "--epochs", "1", "-p", "2", "--yes"]
    return main([*argv, *extra])


def _outs(folder: Path) -> dict[str, tuple[str, int]]:
    return {p.stem: (p.read_text(), p.stat().st_mtime_ns) for p in folder.glob("*.out")}


def test_submit_runs_every_job_and_the_folder_shows_it(workdir, capsys):
    assert _submit("-n", "3", "--random-seed", "1", "jobs") == 0
    folder = JobFolder("jobs")
    seeds = folder.seed_jobs
    assert len(seeds) == 3
    expected = sum(1 + sum(s.seed.states.values()) for s in seeds)
    stats = folder.get_stats()
    assert stats["jobs"] == expected == len(folder)
    assert stats["failed_jobs"] == 0 and stats["unstarted_jobs"] == 0
    assert len(folder.result_jobs) == expected
    for job in folder.jobs:
        assert 0.0 < job.roc_integral <= 1.0
        assert Path("jobs", job.name + ".job").is_file()
        assert "fourtop-varlist.txt" in Path("jobs", job.name + ".job").read_text()
        assert Path("jobs", job.name + ".err").is_file()
        assert "005 (" in Path("jobs", job.name + ".log").read_text()
    # the variable list each .job file runs with exists (condor_submit <name>.job works)
    assert Path("jobs", "fourtop-varlist.txt").read_text().split() == VARS
    # every subseed drops exactly one variable of its seed
    for seed_job in seeds:
        subs = folder.subseed_jobs(seed_job.seed)
        assert len(subs) == sum(seed_job.seed.states.values())

    assert main(["folders", "jobs"]) == 0
    text = capsys.readouterr().out
    assert str(expected) in text


def test_resubmit_reruns_only_failed_jobs(workdir):
    assert _submit("-n", "2", "--random-seed", "2", "jobs") == 0
    folder = Path("jobs")
    before = _outs(folder)
    victim = sorted(before)[1]
    (folder / f"{victim}.out").write_text("Traceback: something broke\n")
    log_terminated(folder / f"{victim}.log", return_value=1, cluster=1, proc=0)
    assert JobFolder("jobs").get_stats()["failed_jobs"] in (0, 1)  # spec not refreshed yet
    assert _submit("-r", "jobs") == 0
    after = _outs(folder)
    assert set(after) == set(before)
    for name, (text, mtime) in before.items():
        if name != victim:
            assert after[name] == (text, mtime), f"{name} was run again"
    assert read_roc_integral(folder / f"{victim}.out") is not None
    jf = JobFolder("jobs")
    jf.check()
    assert jf.get_stats()["failed_jobs"] == 0


def test_resubmit_of_a_partial_family_reuses_the_first_submission_settings(workdir):
    # the seed job keeps its result; a failed subseed resubmitted with a bare 'submit -r'
    # must train as in its family (same epochs, random seed, year), not with the defaults
    argv = ["submit", "-l", "vars.txt", "--epochs", "1", "--random-seed", "5", "-n", "1"]
    assert main([*argv, "--params", _params_file(workdir), "-p", "1", "--yes", "jobs"]) == 0
    folder = JobFolder("jobs")
    seed_job = folder.seed_jobs[0]
    victim = folder.subseed_jobs(seed_job.seed)[0]
    family_value = victim.roc_integral
    seed_out = _outs(Path("jobs"))[seed_job.name]
    Path("jobs", f"{victim.name}.out").write_text("Failed: boom\n")
    log_terminated(Path("jobs", f"{victim.name}.log"), return_value=1, cluster=1, proc=0)
    assert main(["submit", "-r", "--yes", "jobs"]) == 0
    text = Path("jobs", f"{victim.name}.out").read_text()
    assert "Epochs: 1\n" in text and "Trained with: 1 network(s)" in text
    assert read_roc_integral(Path("jobs", f"{victim.name}.out")) == pytest.approx(
        family_value, abs=1e-4
    )
    assert _outs(Path("jobs"))[seed_job.name] == seed_out  # the seed job is not retrained


def _params_file(workdir: Path) -> str:
    path = workdir / "params.json"
    path.write_text('{"batch_size": 256}')
    return str(path)


def test_test_flag_submits_one_job(workdir):
    assert _submit("--test", "jobs") == 0
    assert len(JobFolder("jobs")) == 1


def test_unknown_variable_in_the_list_is_a_one_line_error(workdir, capsys):
    Path("bad.txt").write_text("AK4HTpMETpLepPt\nNJets_JetSubCalcc\n")
    code = main(["submit", "-y", "2017", "-l", "bad.txt", "-n", "1", "jobs"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.count("\n") == 0
    assert "NJets_JetSubCalcc" in err and "did you mean: NJets_JetSubCalc" in err
    assert not Path("jobs").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "150"], "-c must be a percentage"),
        (["-p", "0"], "-p must be at least 1"),
        (["--backend", "slrum"], "unknown backend 'slrum' (did you mean: slurm?)"),
        (["-y", "2031"], "2031"),
    ],
)
def test_bad_options_are_one_line_errors(workdir, capsys, args, message):
    code = main(["submit", "-l", "vars.txt", *args, "jobs"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert message in err and err.count("\n") == 0
    assert not Path("jobs").exists()


def test_resubmit_of_a_missing_folder_is_an_error(workdir, capsys):
    assert main(["submit", "-r", "nowhere"]) == 1
    assert "nowhere: no such job folder" in capsys.readouterr().err


def _start_and_wait_for_results(
    random_seed: int, results: int, *, running: bool = False
) -> subprocess.Popen[str]:
    """Start an 8-seed ``submit`` in a child process; return once ``results`` jobs are done
    (and with ``running``, once a job is also in flight: not between two families).

    Four epochs make each family take a few seconds, so the run is still going when the test
    acts (with one epoch a loaded machine could let it finish before the test polls again).
    """
    cmd = [sys.executable, "-m", "fourtop.cli", "submit", "-y", "2017", "-l", "vars.txt"]
    cmd += ["--epochs", "4", "-p", "1", "-n", "8", "--random-seed", str(random_seed)]
    cmd += ["--yes", "jobs"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # a test run started in the background of a script inherits an ignored SIGINT, which
        # Python then keeps ignoring: the child gets the Ctrl-C a terminal would deliver
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        done = [p for p in Path("jobs").glob("*.out") if read_roc_integral(p) is not None]
        if len(done) >= results and (not running or _a_job_running(Path("jobs"))):
            return proc
        if proc.poll() is not None:
            pytest.fail(f"submit ended before it could be interrupted: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no job finished in time")


@pytest.mark.slow
def test_killed_run_is_completed_by_resubmission_with_every_job_once(workdir):
    proc = _start_and_wait_for_results(random_seed=4, results=3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    folder = Path("jobs")
    time.sleep(1.0)  # workers die with their parent (PR_SET_PDEATHSIG)
    before = {n: v for n, v in _outs(folder).items() if read_roc_integral(folder / f"{n}.out")}
    total = len(JobFolder("jobs"))
    assert 0 < len(before) < total

    assert main(["submit", "-r", "--include-unstarted", "-p", "2", "--yes", "jobs"]) == 0
    after = _outs(folder)
    assert len(after) == total
    for name, value in before.items():
        assert after[name] == value, f"{name} ran twice"
    for name, (text, _) in after.items():
        assert text.count("ROC-integral:") == 1, name
    jf = JobFolder("jobs")
    jf.check()
    stats = jf.get_stats()
    assert stats["failed_jobs"] == 0 and stats["unstarted_jobs"] == 0
    assert len(jf.result_jobs) == total


def _a_job_running(folder: Path) -> bool:
    return any(
        job_status(log, log.with_suffix(".out")).state == "running" for log in folder.glob("*.log")
    )


@pytest.mark.slow
def test_ctrl_c_keeps_finished_results_and_marks_jobs_in_flight_failed(workdir):
    # a unit in flight when Ctrl-C comes (between two families nothing is, rightly, aborted)
    proc = _start_and_wait_for_results(random_seed=5, results=3, running=True)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("fourtop submit: interrupted; the finished jobs in jobs are kept")
    assert last.endswith("'fourtop submit -r --include-unstarted jobs' runs the rest")
    jf = JobFolder("jobs")
    jf.check()
    finished = {j.name for j in jf.result_jobs}
    assert finished
    aborted = {j.name for j in jf.get_resubmit_list()}
    assert aborted, "the unit in flight should be failed (aborted), not lost"
    assert not finished & aborted
    assert main(["submit", "-r", "--include-unstarted", "-p", "2", "--yes", "jobs"]) == 0
    jf = JobFolder("jobs")
    jf.check()
    assert len(jf.result_jobs) == len(jf)


def test_refused_condor_submission_is_reported_once_and_keeps_the_folder(
    workdir, capsys, monkeypatch
):
    htcondor2 = pytest.importorskip("htcondor2")

    class RefusingSchedd:
        def submit(self, *_, **__):
            raise htcondor2.HTCondorException("Failed to connect to schedd")

    monkeypatch.setattr(htcondor2, "Schedd", RefusingSchedd)
    argv = ["--backend", "condor", "--option", "retry_delay=0", "-n", "2", "--random-seed", "4"]
    assert _submit(*argv, "jobs") == 3  # Exit.JOBS_FAILED: the jobs failed, the folder is kept
    err = capsys.readouterr().err
    # every job failed for the same reason: one line says so, not one line per job, for the
    # attempt and for the one unattended (--yes) retry
    failed = [line.strip() for line in err.splitlines() if line.strip().startswith("failed:")]
    assert len(failed) == 2
    assert "still failed after the retry; 'fourtop submit -r' resubmits them" in err
    assert all("Failed to connect to schedd" in line for line in failed)
    assert all(line.startswith("failed: ") and "job(s): " in line for line in failed)
    folder = JobFolder("jobs")
    folder.check()
    assert len(folder) > 2 and all(Path("jobs", j.name + ".job").is_file() for j in folder.jobs)
    assert {j.state for j in folder.jobs} == {"failed"}  # resubmittable with -r


def test_no_schedd_is_refused_before_any_folder_exists(workdir, capsys, monkeypatch):
    htcondor2 = pytest.importorskip("htcondor2")

    class NoSchedd:
        def __init__(self, *_, **__):
            raise htcondor2.HTCondorException("Unable to locate local daemon")

    monkeypatch.setattr(htcondor2, "Schedd", NoSchedd)
    assert _submit("--backend", "condor", "-n", "2", "jobs") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTCondor is not reachable from here" in err
    assert "Unable to locate local daemon" in err and not Path("jobs").exists()


def test_an_existing_empty_folder_takes_the_jobs(workdir):
    Path("empty").mkdir()
    assert _submit("--test", "--random-seed", "3", "empty") == 0
    folder = JobFolder("empty")
    folder.check()
    assert len(folder) == 1 and folder.get_stats()["finished_jobs"] == 1


def test_nothing_to_resubmit_says_how_to_take_unstarted_jobs(workdir, capsys):
    assert _submit("--test", "--random-seed", "3", "jobs") == 0
    job = JobFolder("jobs").jobs[0]
    for ext in (".out", ".err", ".log"):  # as if killed before it started
        Path("jobs", job.name + ext).unlink()
    capsys.readouterr()
    assert main(["submit", "-r", "jobs"]) == 0
    err = capsys.readouterr().err
    assert "nothing to resubmit (1 job(s) have not started" in err
    assert "--include-unstarted resubmits them" in err


def test_get_stats_is_the_manuals_dict(workdir):
    import json

    assert _submit("--test", "--random-seed", "3", "jobs") == 0
    stats = JobFolder("jobs").get_stats()
    assert isinstance(stats, dict) and json.loads(json.dumps(stats)) == dict(stats)
    assert stats.finished_jobs == stats["finished_jobs"] == 1
