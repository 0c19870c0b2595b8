"""``fourtop submit --until-stable K``: rounds of seeds until the top-K ranks are settled.

The loop is checked with a stand-in for :func:`fourtop.jobs.submission.submit` that writes
seed families with known ROC differences (fast, any number of seeds); the real thing runs on
the tiny samples at the end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fourtop.jobs.submission as submission
from fourtop.cli import main
from fourtop.importance import collect_results, compute_importance, open_folders
from fourtop.importance.stability import estimate_stability
from fourtop.importance.stats import bootstrap
from fourtop.jobs.requests import SubmitOutcome, SubmitRequest
from fourtop.jobtracker import Job, JobFolder, Seed, job_name
from importance_folders import FAILED, _write_files

NAMES = tuple(f"v{i}" for i in range(6))
FILL = tuple(f"z{i}" for i in range(14))
VARIABLES = NAMES + FILL
APART = [0.025 - 0.003 * i for i in range(6)]  # importances 2.5, 2.2, ... : settles soon
CLOSE = [0.010 - 0.0003 * i for i in range(6)]  # importances 1.0, 0.97, ...: does not


class FakeSubmit:
    """Stands in for ``submit``: adds ``request.seeds`` families whose subseeds lose
    ``effects[i] + N(0, 0.01)`` when they drop ``v<i>``; records each round's size."""

    def __init__(self, effects, fail_round: int | None = None, unfinished: int = 0) -> None:
        self.effects = effects
        self.fail_round = fail_round
        self.unfinished = unfinished  # the last jobs get no files (a run killed part-way)
        self.stranded: list[str] = []
        self.rounds: list[int] = []

    def __call__(self, request: SubmitRequest, reporter=None) -> SubmitOutcome:
        self.rounds.append(request.seeds)
        path = Path(request.folder)
        folder = JobFolder.create(str(path)) if not path.exists() else JobFolder(str(path))
        start = sum(1 for j in folder.jobs or [] if j.subseed is None)
        rng = np.random.default_rng(start)
        failing = len(self.rounds) == self.fail_round
        jobs, failed = [], []
        for f in range(start, start + request.seeds):
            bits = "1" * len(NAMES) + format(f + 1, f"0{len(FILL)}b")
            seed = Seed.from_binary(bits, VARIABLES)
            name = job_name(len(VARIABLES), seed, None)
            jobs.append(Job(folder.path, name, seed, None))
            _write_files(path, name, 0.8, 100 + f)
            for i, v in enumerate(NAMES):
                sub = seed.copy()
                sub.exclude(v)
                sname = job_name(len(VARIABLES), seed, sub)
                jobs.append(Job(folder.path, sname, seed, sub))
                roc = 0.8 - self.effects[i] - 0.01 * rng.standard_normal()
                if failing and i == 0:
                    roc = FAILED
                    failed.append((sname, "training diverged"))
                if f >= start + request.seeds - self.unfinished and i == 0:
                    self.stranded.append(sname)
                    continue
                _write_files(path, sname, roc, 100 + f)
        folder.add_jobs(jobs)
        folder.save()
        folder.check()
        return SubmitOutcome(str(path), None, failed)


def _run(fake, monkeypatch, **kwargs):
    monkeypatch.setattr(submission, "submit", fake)
    Path("vars.txt").write_text("\n".join(VARIABLES) + "\n")  # the fake folders' list
    request = SubmitRequest(seeds=kwargs.pop("seeds"), folder="jobs", varlist="vars.txt")
    return submission.submit_until_stable(request, **kwargs)


def _judged(folder: str, top: int, width: float):
    table = compute_importance(collect_results(open_folders([folder])))
    bootstrap(table)
    return estimate_stability(table, target_width=width, top=top)


def test_rounds_grow_from_the_estimate_until_the_top_is_stable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake = FakeSubmit(APART)
    outcome = _run(fake, monkeypatch, seeds=10, top=6, target_width=1, max_seeds=1000)
    assert outcome.reason == "stable" and outcome.stability.stable
    assert len(fake.rounds) >= 2 and fake.rounds[0] == 10
    assert outcome.seeds == sum(fake.rounds) < 1000
    total = 10
    for size in fake.rounds[1:]:  # at least 10 % more, at most doubling, per round
        assert max(1, total // 10) <= size <= total
        total += size
    # what the loop found is what calculate finds on the folder
    assert _judged("jobs", 6, 1).stable
    assert outcome.rounds == len(fake.rounds)


def test_a_top_that_does_not_settle_stops_at_max_seeds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake = FakeSubmit(CLOSE)
    outcome = _run(fake, monkeypatch, seeds=10, top=6, target_width=1, max_seeds=60)
    assert outcome.reason == "max_seeds" and not outcome.stability.stable
    assert outcome.seeds == sum(fake.rounds) == 60
    assert fake.rounds == [10, 10, 20, 20]  # doubling, then what the limit leaves


def test_failed_jobs_stop_the_rounds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake = FakeSubmit(CLOSE, fail_round=2)
    outcome = _run(fake, monkeypatch, seeds=10, top=6, target_width=1, max_seeds=100)
    assert outcome.reason == "failed" and outcome.rounds == 2 and outcome.failed
    assert fake.rounds == [10, 10]


def test_an_interrupt_between_rounds_leaves_a_consistent_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake = FakeSubmit(CLOSE)
    calls = []

    def judge_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return estimate_stability(*args, **kwargs)

    monkeypatch.setattr("fourtop.importance.stability.estimate_stability", judge_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _run(fake, monkeypatch, seeds=10, top=6, target_width=1, max_seeds=100)
    folder = JobFolder("jobs")
    folder.check()
    stats = folder.get_stats()
    assert stats.jobs == 7 * sum(fake.rounds) == stats.finished_jobs
    assert main(["calculate", "-f", "out", "--no-plots", "jobs"]) == 0


def test_an_existing_folder_at_max_seeds_stops_at_once(tmp_path, monkeypatch):
    """Going on with a folder that reached --max-seeds reports it as the run that got it
    there did (not stable, at the limit), with no round run."""
    monkeypatch.chdir(tmp_path)
    FakeSubmit(CLOSE)(SubmitRequest(seeds=20, folder="jobs"))
    fake = FakeSubmit(CLOSE)
    outcome = _run(fake, monkeypatch, seeds=10, top=3, target_width=1, max_seeds=20)
    assert outcome.reason == "max_seeds" and outcome.rounds == 0 and outcome.seeds == 20
    assert not outcome.stability.stable and fake.rounds == []


def test_a_folder_stable_already_is_judged_before_any_new_seed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    FakeSubmit(APART)(SubmitRequest(seeds=200, folder="jobs"))
    fake = FakeSubmit(APART)
    outcome = _run(fake, monkeypatch, seeds=10, top=3, target_width=2, max_seeds=1000)
    assert outcome.reason == "stable" and outcome.rounds == 0 and outcome.seeds == 200
    assert fake.rounds == []  # nothing trained


def test_a_folder_not_stable_yet_goes_on_with_the_estimated_round(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    FakeSubmit(APART)(SubmitRequest(seeds=10, folder="jobs"))
    fake = FakeSubmit(APART)
    outcome = _run(fake, monkeypatch, seeds=50, top=6, target_width=1, max_seeds=1000)
    assert outcome.reason == "stable" and outcome.seeds == 10 + sum(fake.rounds)
    assert 1 <= fake.rounds[0] <= 10  # the estimate's round (at most doubling), not -n 50


def test_unfinished_jobs_of_an_earlier_run_run_first(tmp_path, monkeypatch):
    """A run killed or interrupted part-way leaves jobs without a result: going on with the
    folder runs them before judging or adding seeds."""
    monkeypatch.chdir(tmp_path)
    killed = FakeSubmit(APART, unfinished=5)
    killed(SubmitRequest(seeds=12, folder="jobs"))
    assert JobFolder("jobs").get_stats().unstarted_jobs == 5
    resumed = []

    def fake_resubmit(request, reporter=None):
        resumed.append(request)
        for name in killed.stranded:
            _write_files(Path("jobs"), name, 0.79, 1)
        return [SubmitOutcome(str(Path("jobs").resolve()), None, [])]

    monkeypatch.setattr("fourtop.jobs.resubmission.resubmit", fake_resubmit)
    fake = FakeSubmit(APART)
    outcome = _run(fake, monkeypatch, seeds=10, top=3, target_width=2, max_seeds=1000)
    assert len(resumed) == 1 and resumed[0].include_unstarted
    assert resumed[0].folders == ["jobs"]
    assert outcome.reason == "stable"
    assert JobFolder("jobs").get_stats().unstarted_jobs == 0


def test_without_a_folder_an_existing_default_folder_is_refused(tmp_path, monkeypatch):
    from fourtop.naming import default_job_folder_name

    monkeypatch.chdir(tmp_path)
    FakeSubmit(APART)(SubmitRequest(seeds=3, folder=default_job_folder_name()))
    monkeypatch.setattr(submission, "submit", FakeSubmit(APART))
    Path("vars.txt").write_text("\n".join(VARIABLES) + "\n")
    with pytest.raises(submission.JobFolderError, match="already exists; name it"):
        submission.submit_until_stable(SubmitRequest(seeds=10, varlist="vars.txt"), top=3)


def test_max_seeds_below_the_judging_minimum_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(submission.ParameterError, match="give at least 10"):
        _run(FakeSubmit(APART), monkeypatch, seeds=5, top=3, target_width=2, max_seeds=9)


# ------------------------------------------------------------------ the command's options


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--until-stable", "0"], "argument --until-stable: 0: must be at least 1"),
        (["--until-stable", "3", "--target-width", "0"], "argument --target-width: 0: must be"),
        (["--until-stable", "3", "--target-width", "-1"], "argument --target-width: -1: must"),
        (["--until-stable", "3", "--target-width", "inf"], "argument --target-width: inf: must"),
        (["--until-stable", "3", "--target-width", "two"], "'two' is not a number"),
        (["--until-stable", "3", "--max-seeds", "0"], "argument --max-seeds: 0: must be"),
    ],
)
def test_bad_values_are_usage_errors(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["submit", "-n", "5", *args, "jobs"])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not Path("jobs").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target-width", "3"], "--target-width goes with --until-stable K"),
        (["--max-seeds", "30"], "--max-seeds goes with --until-stable K"),
        (["--until-stable", "3", "-r"], "--until-stable adds new seeds: it does not go with -r"),
        (["--until-stable", "3", "--test"], "--until-stable and --test exclude each other"),
        (["--until-stable", "3", "--backend", "condor"], "needs the local backend: condor"),
        (["--until-stable", "3", "--backend", "slurm"], "needs the local backend: slurm"),
        (["--until-stable", "3", "--max-seeds", "4"], "--max-seeds 4 is below -n 5"),
        # started training a 76-variable folder for a top 100 that can never be judged
        (["--until-stable", "100"], "--until-stable 100: more than the 76 variables of the list"),
        (["--until-stable", "77", "-l", "all"], "more than the 76 variables of the list (all)"),
    ],
)
def test_conflicting_options_are_one_line_errors(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["submit", "-n", "5", *args, "jobs"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("fourtop submit: error: ")
    assert message in err
    assert not Path("jobs").exists()


# ------------------------------------------------------------------ the real thing

SIX = ["AK4HTpMETpLepPt", "NJets_JetSubCalc", "minMleppBjet", "centrality", "thirdcsvb_bb"]
SIX.append("MT_lepMet")


def _submit(*extra: str) -> int:
    argv = ["submit", "-y", "2017", "-l", "six.txt", "--epochs", "1", "-p", "2", "--yes"]
    return main([*argv, "--random-seed", "4", *extra, "jobs"])


@pytest.fixture
def six(sample_workdir):
    (sample_workdir / "six.txt").write_text("\n".join(SIX) + "\n")
    return sample_workdir


def test_until_stable_on_tiny_data_stops_when_the_top_is_stable(six, capsys):
    assert _submit("-n", "10", "--until-stable", "2") == 0
    err = capsys.readouterr().err
    assert "round 1: 10 new seed(s) into jobs" in err
    assert "round 1: 10 seeds: rank 68% intervals" in err
    assert "stable: the top 2 after 1 round(s), 10 seeds in jobs" in err
    assert _judged("jobs", 2, 2).stable
    assert JobFolder("jobs").get_stats().failed_jobs == 0


@pytest.mark.slow
def test_until_stable_on_tiny_data_runs_rounds_up_to_max_seeds(six, capsys):
    # all six at most 1 wide is out of reach of 20 seeds: two rounds, then the limit
    args = ["--until-stable", "6", "--target-width", "1", "--max-seeds", "20"]
    assert _submit("-n", "10", *args) == 0
    err = capsys.readouterr().err
    assert "round 2: 10 new seed(s) into jobs" in err and "round 3" not in err
    assert "not stable: stopped at the --max-seeds limit after 2 round(s), 20 seeds" in err
    folder = JobFolder("jobs")
    assert len(folder.seed_jobs) == 20 and folder.get_stats().failed_jobs == 0
    assert not _judged("jobs", 6, 1).stable


def test_the_lock_is_held_from_the_first_round_of_a_new_folder(tmp_path, monkeypatch):
    """No other process can take a new folder between its first round and the next."""
    from filelock import FileLock, Timeout

    monkeypatch.chdir(tmp_path)
    fake = FakeSubmit(APART)
    held = []

    def checking(request, reporter=None):
        other = FileLock(str(Path("jobs", ".fourtop.lock")))  # another process's view
        try:
            other.acquire(timeout=0)
            other.release()
            held.append(False)
        except Timeout:
            held.append(True)
        return fake(request, reporter)

    outcome = _run(checking, monkeypatch, seeds=10, top=6, target_width=1, max_seeds=1000)
    assert outcome.rounds >= 2 and held == [True] * outcome.rounds


def test_an_interrupted_first_round_leaves_no_new_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def interrupted(request, reporter=None):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(interrupted, monkeypatch, seeds=10, top=3, target_width=2, max_seeds=100)
    assert not Path("jobs").exists()
    Path("jobs").mkdir()  # an empty folder given: empty again
    with pytest.raises(KeyboardInterrupt):
        _run(interrupted, monkeypatch, seeds=10, top=3, target_width=2, max_seeds=100)
    assert Path("jobs").is_dir() and not any(Path("jobs").iterdir())


def test_going_on_with_another_variable_list_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    FakeSubmit(APART, unfinished=3)(SubmitRequest(seeds=12, folder="jobs"))
    ran = []
    monkeypatch.setattr("fourtop.jobs.resubmission.resubmit", lambda *a, **k: ran.append(1))
    monkeypatch.setattr(submission, "submit", FakeSubmit(APART))
    Path("vars.txt").write_text("\n".join(VARIABLES[:-1]) + "\n")
    request = SubmitRequest(seeds=10, folder="jobs", varlist="vars.txt")
    with pytest.raises(submission.JobFolderError, match="another variable list"):
        submission.submit_until_stable(request, top=3)
    assert ran == []


def test_going_on_with_other_training_settings_runs_nothing(tmp_path, monkeypatch):
    from fourtop.jobs.settings import save_settings
    from fourtop.jobs.tasks import RunSettings

    monkeypatch.chdir(tmp_path)
    FakeSubmit(APART, unfinished=3)(SubmitRequest(seeds=12, folder="jobs"))
    save_settings("jobs", RunSettings(year="2017", varlist=list(VARIABLES), params={"epochs": 1}))
    ran = []
    monkeypatch.setattr("fourtop.jobs.resubmission.resubmit", lambda *a, **k: ran.append(1))
    monkeypatch.setattr(submission, "submit", FakeSubmit(APART))
    Path("vars.txt").write_text("\n".join(VARIABLES) + "\n")
    request = SubmitRequest(seeds=10, folder="jobs", varlist="vars.txt", params={"epochs": 2})
    with pytest.raises(submission.ParameterError, match="every seed of a folder trains alike"):
        submission.submit_until_stable(request, top=3)
    assert ran == []


def test_a_folder_holding_every_distinct_seed_stops_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(submission, "_distinct_seeds", lambda n: 12)
    FakeSubmit(CLOSE)(SubmitRequest(seeds=12, folder="jobs"))
    fake = FakeSubmit(CLOSE)
    outcome = _run(fake, monkeypatch, seeds=10, top=6, target_width=1, max_seeds=1000)
    assert outcome.reason == "exhausted" and outcome.rounds == 0 and fake.rounds == []
