"""``fourtop submit``: bad inputs and faults -> one line, an exit code, nothing changed on disk.

Rows run in a working directory over the tiny generated samples (``sample_workdir``) with a
4-variable ``vars.txt``; a row's ``setup`` prepares what it needs (a job folder with a failed
job, a held lock, a full disk).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from faults import Case, check_case, fill, hold, mount_tmpfs
from fourtop.cli import main
from fourtop.jobs.eventlog import log_executing, log_submitted, log_terminated

BASE = ["submit", "-y", "2017", "-l", "vars.txt", "--epochs", "1", "-p", "1", "--yes"]
NO_LIST = ["submit", "-y", "2017", "--epochs", "1", "-p", "1", "--yes"]


def folder_with_failed_job(root: Path, *, settings: dict | None = None, name: str = "jobs") -> Path:
    """A real job folder (submitted with a fake trainer: no training) with one failed job."""
    from fourtop.jobtracker import JobFolder, Seed, job_name

    variables = (root / "vars.txt").read_text().split()
    folder = JobFolder.create(str(root / name))
    seed = Seed.from_binary("1100", variables)
    jobs = [(job_name(4, seed, None), seed, None)]
    jobs += [(job_name(4, seed, s), seed, s) for s in seed.subseeds()]
    from fourtop.jobtracker import Job

    folder.add_jobs([Job(folder.path, n, a, b) for n, a, b in jobs])
    folder.save()
    for i, (job, *_) in enumerate(jobs):
        base = Path(folder.path, job)
        base.with_suffix(".job").write_text("# job\n")
        log_submitted(f"{base}.log", cluster=1, proc=i)
        log_executing(f"{base}.log", cluster=1, proc=i)
        if i == 0:
            Path(f"{base}.out").write_text("Failed: boom\n")
            log_terminated(f"{base}.log", 1, cluster=1, proc=i)
        else:
            Path(f"{base}.out").write_text("ROC-integral: 0.75\n")
            log_terminated(f"{base}.log", 0, cluster=1, proc=i)
    if settings is not None:
        Path(folder.path, "fourtop-submit.json").write_text(json.dumps(settings))
    folder.check()
    return Path(folder.path)


def _no_settings(root: Path) -> None:
    folder_with_failed_job(root)


def _bad_year(root: Path) -> None:
    folder_with_failed_job(root, settings={"year": [2017], "params": {"epochs": 1}})


def _bad_params(root: Path) -> None:
    folder_with_failed_job(root, settings={"year": "2017", "params": {"epoch": 1}})


def _bad_json(root: Path) -> None:
    folder = folder_with_failed_job(root)
    (folder / "fourtop-submit.json").write_text("{not json")


def _locked(root: Path) -> None:
    from filelock import FileLock

    folder = folder_with_failed_job(root, settings={"year": "2017", "params": {"epochs": 1}})
    lock = FileLock(str(folder / ".fourtop.lock"))
    lock.acquire()
    (folder / ".fourtop.lock.info").write_text("fourtop submit -r, process 1 on elsewhere\n")
    hold(lock.release)


def _file(root: Path) -> None:
    (root / "jobs").write_text("not a folder\n")


def _dir_without_spec(root: Path) -> None:
    (root / "jobs").mkdir()
    (root / "jobs" / "notes.txt").write_text("mine\n")


def _compacted(root: Path) -> None:
    from fourtop.jobtracker import JobFolder

    folder = folder_with_failed_job(root, settings={"year": "2017"})
    (folder / f"{folder.name}.out").unlink(missing_ok=True)
    for job in JobFolder(str(folder)).jobs or []:  # make every job finished with a result
        Path(folder, job.name + ".out").write_text("ROC-integral: 0.7\n")
    jf = JobFolder(str(folder))
    jf.check()
    jf.compact_folder()


def _dup_varlist(root: Path) -> None:
    (root / "dup.txt").write_text("AK4HT\nAK4HT\n")


def _unknown_var(root: Path) -> None:
    (root / "bad.txt").write_text("AK4HTpMETpLepPt\nNJets_JetSubCalcc\n")


def _params_list(root: Path) -> None:
    (root / "p.json").write_text("[1, 2]")


def _full_disk(root: Path) -> None:
    fill(mount_tmpfs(root / "disk", "size=128k"))


def _no_path(root: Path) -> None:
    (root / "bin").mkdir()


def _other_list(root: Path) -> None:
    folder_with_failed_job(root, settings={"year": "2017", "params": {"epochs": 1}})
    names = (root / "vars.txt").read_text().split()
    (root / "other.txt").write_text("\n".join(reversed(names)) + "\n")


def _first_epochs_1(root: Path) -> None:
    folder_with_failed_job(root, settings={"year": "2017", "params": {"epochs": 1}})


def _data_2018(root: Path) -> None:  # the tiny samples hold 2017 only
    folder_with_failed_job(root, settings={"year": "2018", "params": {"epochs": 1}})


def _compacted_with_failed(root: Path) -> None:
    from fourtop.jobtracker import JobFolder

    folder = folder_with_failed_job(root, settings={"year": "2017", "params": {"epochs": 1}})
    JobFolder(str(folder)).compact_folder(force=True)
    (root / "bin").mkdir()


# audit of issue 11: each row failed (a rewritten list, a traceback, a split spec, ...) before
AUDIT_11 = [
    Case("other-varlist", [*NO_LIST, "-l", "other.txt", "-n", "1", "jobs"], r"jobs: its jobs were made with another variable list \(.*moved from position.*\); nothing changed", setup=_other_list),
    Case("other-settings", [*BASE, "--epochs", "2", "-n", "1", "jobs"], r"params: epochs 2 \(the folder has 1\); every seed of a folder trains alike", setup=_first_epochs_1),
    Case("option-retry-inf", [*BASE, "-n", "1", "--backend", "condor", "--option", "retry_delay=inf", "jobs"], r"--option retry_delay='inf': expected a finite number"),
    Case("option-retry-huge", [*BASE, "-n", "1", "--backend", "condor", "--option", "retry_delay=1e9", "jobs"], r"--option retry_delay='1e9': must be at most 3600"),
    Case("option-reserved-condor", [*BASE, "-n", "1", "--backend", "condor", "--option", "queue=5", "jobs"], r"--option queue: fourtop sets this itself"),
    Case("option-reserved-slurm", [*BASE, "-n", "1", "--backend", "slurm", "--option", "array=0-5", "jobs"], r"--option array: fourtop sets this itself", setup=lambda r: _fake_sbatch(r), env={"PATH": "bin"}),
    Case("option-cpus-text", [*BASE, "-n", "1", "--backend", "condor", "--option", "request_cpus=abc", "jobs"], r"--option request_cpus='abc': expected a whole number"),
    Case("r-no-data", ["submit", "-r", "-p", "1", "jobs"], r"TTTT.*: ntuple not found \(dataset 2018, importance split\)", setup=_data_2018, may_change=["jobs/jobs.jtd"]),
    Case("r-compacted-no-sbatch", ["submit", "-r", "--backend", "slurm", "jobs.jtd"], r"sbatch not found", setup=_compacted_with_failed, env={"PATH": "bin"}),
    Case("correlated-all", [*BASE, "-n", "2", "-c", "0", "jobs"], r"could only draw 0 distinct seeds .* correlated groups, of which a seed keeps one each: raise -c"),
    Case("params-dev-zero", [*BASE, "--params", "/dev/zero", "jobs"], r"/dev/zero: not a parameters file \(more than 1024 kB\)"),
    Case("backend-nonsense", [*BASE, "--backend", "nonsense", "jobs"], r"unknown backend 'nonsense' \(known: local, condor, slurm\)"),
]  # fmt: skip


def _fake_sbatch(root: Path) -> None:
    """A PATH whose sbatch exists (the options are checked after it is found)."""
    (root / "bin").mkdir()
    (root / "bin" / "sbatch").write_text("#!/bin/sh\nexit 1\n")
    (root / "bin" / "sbatch").chmod(0o755)


CASES = [*AUDIT_11,
    Case("n-zero", [*BASE, "-n", "0", "jobs"], r"-n/--seeds: 0: must be at least 1", 2, new=False),
    Case("n-huge", [*BASE, "-n", "99999999999999999999", "jobs"], r"at most 100000 seeds per submission", 2),
    Case("n-more-than-exist", [*BASE, "-n", "12", "jobs"], r"-n 12: only 11 distinct seeds of at least 2 variables exist over 4 variables"),
    Case("params-inline-list", [*BASE, "--params", "[1]", "jobs"], r"--params: expected a JSON object"),
    Case("params-empty", [*BASE, "--params", "", "jobs"], r"argument --params: the value is empty", 2),
    Case("year-empty", [*BASE, "-y", "", "jobs"], r"argument -y/--year: the value is empty", 2),
    Case("config-empty", [*BASE, "--config", "", "jobs"], r"argument --config: the value is empty", 2),
    Case("batch-size-one", [*BASE, "--params", '{"batch_size": 1}', "jobs"], r"batch_size=1: batch normalization .* needs at least 2 events"),
    Case("c-150", [*BASE, "-c", "150", "jobs"], r"-c must be a percentage", new=False),
    Case("p-zero", [*BASE, "-p", "0", "jobs"], r"-p must be at least 1", new=False),
    Case("backend", [*BASE, "--backend", "slrum", "jobs"], r"did you mean: slurm", new=False),
    Case("year", [*BASE, "-y", "2031", "-n", "1", "jobs"], r"2031", new=False),
    Case("seed-negative", [*BASE, "--random-seed", "-1", "jobs"], r"-1 is outside 0 to", 2),
    Case("seed-2**32", [*BASE, "--random-seed", "4294967296", "jobs"], r"outside 0 to", 2),
    Case("seed-text", [*BASE, "--random-seed", "x", "jobs"], r"not a whole number", 2, new=False),
    Case("epochs-zero", [*BASE, "--epochs", "0", "jobs"], r"--epochs: 0: must be at least 1", 2),
    Case("params-missing", [*BASE, "--params", "nope.json", "jobs"], r"nope.json: parameters file not found \(--params takes a JSON file or an inline"),
    Case("params-bad-json", [*BASE, "--params", "{bad", "jobs"], r"--params: not valid JSON"),
    Case("params-list", [*BASE, "--params", "p.json", "jobs"], r"p.json: expected a JSON object", setup=_params_list, new=False),
    Case("params-unknown", [*BASE, "--params", '{"epoch": 2}', "jobs"], r"unknown network parameter 'epoch'"),
    Case("option-local", [*BASE, "-n", "1", "--option", "foo=bar", "jobs"], r"--option foo: the local backend takes no options"),
    Case("option-no-equals", [*BASE, "-n", "1", "--option", "foo", "jobs"], r"expected KEY=VALUE", new=False),
    Case("slurm-missing", [*BASE, "-n", "1", "--backend", "slurm", "jobs"], r"sbatch not found", setup=_no_path, env={"PATH": "bin"}),
    Case("condor-missing", [*BASE, "-n", "1", "--backend", "condor", "--option", "submit_method=command", "jobs"], r"HTCondor is not available here", setup=_no_path, env={"PATH": "bin"}),
    Case("varlist-missing", [*NO_LIST, "-l", "none.txt", "jobs"], r"none.txt: variable list not found", new=False),
    Case("varlist-dup", [*NO_LIST, "-l", "dup.txt", "jobs"], r"listed twice", setup=_dup_varlist, new=False),
    Case("varlist-unknown", [*NO_LIST, "-l", "bad.txt", "jobs"], r"did you mean: NJets_JetSubCalc", setup=_unknown_var, new=False),
    Case("unstarted-without-r", [*BASE, "--include-unstarted", "jobs"], r"--include-unstarted is for resubmission"),
    Case("two-folders", [*BASE, "a", "b"], r"at most one job folder", new=False),
    Case("folder-is-file", [*BASE, "-n", "1", "jobs"], r"jobs: exists and is not a job folder", setup=_file),
    Case("folder-in-proc", [*BASE, "-n", "1", "/proc/fourtop-jobs"], r"cannot create the job folder /proc/fourtop-jobs"),
    Case("folder-no-spec", [*BASE, "-n", "1", "jobs"], r"jobs: has no spec file; import it first", setup=_dir_without_spec),
    Case("folder-compacted", [*BASE, "-n", "1", "jobs.jtd"], r"is a compacted folder", setup=_compacted, new=False),
    Case("config-missing", [*BASE, "--config", "none.toml", "jobs"], r"none.toml", new=False),
    Case("cuda-absent", [*BASE, "-n", "1", "--device", "cuda", "jobs"], r"--device cuda: no CUDA device"),
    Case("full-disk", [*BASE, "-n", "1", "disk/jobs"], r"no space left on device", setup=_full_disk),
    Case("r-missing", ["submit", "-r", "nowhere"], r"nowhere: no such job folder", new=False),
    Case("r-none-here", ["submit", "-r"], r"no job folders given", new=False),
    Case("r-no-settings", ["submit", "-r", "jobs"], r"has no fourtop-submit.json .* pass the first submission's settings explicitly", setup=_no_settings, may_change=["jobs/jobs.jtd"]),
    Case("r-settings-year-list", ["submit", "-r", "jobs"], r"fourtop-submit.json: year is \[2017\], expected a dataset key", setup=_bad_year, may_change=["jobs/jobs.jtd"]),
    Case("r-settings-params", ["submit", "-r", "jobs"], r"fourtop-submit.json: params: unknown network parameter 'epoch'", setup=_bad_params, may_change=["jobs/jobs.jtd"]),
    Case("r-settings-not-json", ["submit", "-r", "jobs"], r"fourtop-submit.json: unreadable submission settings", setup=_bad_json, may_change=["jobs/jobs.jtd"], new=False),
    Case("r-locked", ["submit", "-r", "jobs"], r"another fourtop process is working on this folder \(fourtop submit -r, process 1 on elsewhere\)", setup=_locked),
    Case("r-random-seed", ["submit", "-r", "--random-seed", "-5", "jobs"], r"outside 0 to", 2),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
def test_submit_fault(case, sample_workdir, capsys, monkeypatch):
    check_case(case, sample_workdir, capsys, monkeypatch)


# ------------------------------------------------------------------ what must simply work


def test_inline_params_work_as_in_run_job(sample_workdir):
    argv = ["submit", "-y", "2017", "-l", "vars.txt", "-p", "1", "--yes", "-n", "1"]
    assert main([*argv, "--params", '{"epochs": 1}', "--random-seed", "2", "jobs"]) == 0
    saved = json.loads(Path("jobs/fourtop-submit.json").read_text())
    assert saved["params"]["epochs"] == 1


def test_year_written_as_a_number_in_the_settings_is_read(sample_workdir, capsys):
    folder = folder_with_failed_job(
        sample_workdir, settings={"year": 2017, "params": {"epochs": 1}}
    )
    assert main(["submit", "-r", "-p", "1", "jobs"]) == 0, capsys.readouterr().err
    assert "ROC-integral" in next(folder.glob("*.out")).read_text()


def test_missing_settings_given_explicitly_resubmit_with_a_warning_and_are_kept(
    sample_workdir, capsys
):
    folder = folder_with_failed_job(sample_workdir)
    assert main(["submit", "-r", "-p", "1", "-y", "2017", "--epochs", "1", "jobs"]) == 0
    err = capsys.readouterr().err
    assert "no fourtop-submit.json; resubmitting with the settings given now" in err
    saved = json.loads((folder / "fourtop-submit.json").read_text())
    assert saved["year"] == "2017" and saved["params"]["epochs"] == 1


def test_resubmission_keeps_the_earlier_log_history(sample_workdir):
    from fourtop.jobs.eventlog import parse_events

    folder = folder_with_failed_job(
        sample_workdir, settings={"year": "2017", "params": {"epochs": 1}}
    )
    failed = next(p for p in folder.glob("*.out") if "Failed" in p.read_text())
    log = failed.with_suffix(".log")
    before = log.read_text()
    assert main(["submit", "-r", "-p", "1", "jobs"]) == 0
    after = log.read_text()
    assert after.startswith(before)  # appended to, as docs/jobtracker.md says
    codes = [e.code for e in parse_events(after)[0]]
    assert codes.count(0) == 2 and codes[-1] == 5
    assert "ROC-integral" in failed.read_text()


def test_plain_progress_lines_without_a_terminal(sample_workdir, capsys):
    assert main([*BASE, "-n", "2", "--random-seed", "3", "jobs"]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("training: ")]
    assert lines, err
    assert "jobs (100%)" in lines[-1] and "failed" in lines[-1] and "jobs/s" in lines[-1]


def test_failed_jobs_of_a_forced_compaction_are_resubmitted_from_the_spec(sample_workdir, capsys):
    from fourtop.jobtracker import JobFolder

    argv = ["submit", "-y", "2017", "-l", "vars.txt", "--epochs", "1", "-p", "1", "--yes"]
    assert main([*argv, "-n", "1", "--random-seed", "5", "jobs"]) == 0
    victim = JobFolder("jobs").jobs[1].name
    Path("jobs", f"{victim}.out").write_text("Failed: node lost\n")
    log_terminated(Path("jobs", f"{victim}.log"), 1, cluster=1)
    assert main(["folders", "-c", "--yes", "jobs"]) == 1  # refused: a failed job
    assert main(["folders", "-c", "--force", "--yes", "jobs"]) == 0
    assert not Path("jobs").exists() and Path("jobs.jtd").is_file()
    capsys.readouterr()

    assert main(["submit", "-r", "-p", "1", "jobs.jtd"]) == 0
    err = capsys.readouterr().err
    assert "1 failed job(s); moved them into the job folder" in err
    restored = JobFolder("jobs")
    restored.check()
    assert [j.name for j in restored.jobs] == [victim]
    assert restored.jobs[0].has_result
    settings = json.loads(Path("jobs", "fourtop-submit.json").read_text())
    assert settings["random_seed"] == 5 and settings["params"]["epochs"] == 1
    compacted = JobFolder("jobs.jtd")
    assert victim not in {j.name for j in compacted.jobs}  # one place for each job
    assert main(["submit", "-r", "jobs.jtd"]) == 0
    assert "nothing to resubmit" in capsys.readouterr().err


@pytest.mark.slow
def test_sigterm_stops_submit_like_ctrl_c(sample_workdir):
    """A batch system's SIGTERM: exit 143, jobs in flight aborted (resubmittable), no traceback."""
    import signal
    import sys
    import time

    from fourtop.jobtracker import JobFolder

    cmd = [sys.executable, "-m", "fourtop.cli", *BASE, "-n", "8", "--epochs", "30", "jobs"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(Path("jobs").glob("*.log")):
        time.sleep(0.2)
    time.sleep(3.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    folder = JobFolder("jobs")
    folder.check()
    aborted = folder.get_resubmit_list()
    assert aborted and all("SIGTERM" in (j.reason or "") for j in aborted)


def test_a_run_refused_the_lock_leaves_the_folder_another_run_took(sample_workdir, monkeypatch):
    """Two submits into one new folder: the one that made the folder but lost the lock to
    the other must not remove what the other is filling (it once removed the whole folder)."""
    from filelock import FileLock

    import fourtop.jobs.submission as submission

    opened = submission._open_or_create

    def made_then_taken(path, varlist):
        folder, made = opened(path, varlist)
        assert made == "created"
        other = FileLock(str(Path(folder.path, ".fourtop.lock")))
        other.acquire()  # the other run takes the lock and starts filling the folder
        hold(other.release)
        Path(folder.path, "the-other-runs-job.job").write_text("# job\n")
        return folder, made

    monkeypatch.setattr(submission, "_open_or_create", made_then_taken)
    assert main([*BASE, "-n", "1", "jobs"]) == 1
    assert Path("jobs", "the-other-runs-job.job").is_file()
