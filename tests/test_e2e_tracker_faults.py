"""Job-tracker faults end to end, with real tiny trainings (``fourtop submit`` on the tiny
samples): a re-import with a reordered variable list, compaction of a folder with a failed
job, and job files that another user cannot read.

Each test failed before issue 10's fixes: the reordered list was imported (swapping the
variables' results), the folder with a failed job (``ROC-integral: 2.5``, counted as a
result) was compacted, and ``.out``/``.err`` were written 0600, so another user's
``fourtop folders`` counted every job as failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import fourtop
from fourtop.cli import main
from fourtop.jobs.specfile import read_spec
from fourtop.jobtracker import JobFolder

VARS = ["AK4HTpMETpLepPt", "NJets_JetSubCalc", "minMleppBjet", "centrality"]
SUBMIT = ["submit", "-y", "2017", "-l", "vars.txt", "--epochs", "1", "-p", "1", "--yes"]


def _submit(capsys: pytest.CaptureFixture[str]) -> JobFolder:
    code = main([*SUBMIT, "-n", "2", "--random-seed", "1", "jobs"])
    err = capsys.readouterr().err
    assert code == 0, err
    folder = JobFolder("jobs")
    folder.check()
    assert len(folder.result_jobs) == len(folder) > 2
    return folder


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _ranking(capsys: pytest.CaptureFixture[str], out: str) -> str:
    code, _, err = _run(capsys, "calculate", "-f", out, "--no-plots", "--bootstrap", "0", "jobs")
    assert code == 0, err
    [table] = Path(out).glob("VariableImportanceResults_*vars.txt")
    return table.read_text()


# ---------------------------------------------------------------- (a) reordered list
def test_reordered_varlist_refused_unless_forced(sample_workdir, capsys):
    _submit(capsys)
    spec = Path("jobs", "jobs.jtd")
    before = _ranking(capsys, "before")
    spec_bytes = spec.read_bytes()
    Path("moved.txt").write_text("\n".join([VARS[0], VARS[2], VARS[1], VARS[3]]) + "\n")

    code, _, err = _run(capsys, "folders", "-i", "moved.txt", "--yes", "jobs")
    last = err.strip().splitlines()[-1]
    assert code == 1, err
    assert last.startswith("fourtop folders: error: ")
    assert f"{VARS[1]} moved from position 2 to 3; {VARS[2]} moved from position 3 to 2" in last
    assert "--force" in last
    assert spec.read_bytes() == spec_bytes  # nothing written
    assert _ranking(capsys, "after") == before  # the same variables get the same results

    code, _, err = _run(capsys, "folders", "-i", "moved.txt", "--yes", "--force", "jobs")
    assert code == 0, err
    assert read_spec(spec).variables == [VARS[0], VARS[2], VARS[1], VARS[3]]


# ---------------------------------------------------------------- (b) compaction, failed job
def test_compaction_with_failed_job_refused_then_forced_and_extracted(sample_workdir, capsys):
    folder = _submit(capsys)
    victim = folder.jobs[1].name
    out = Path("jobs", f"{victim}.out")
    out.write_text(out.read_text().replace("ROC-integral:", "ROC-integral: 2.5\n#"))
    total = len(folder)

    code, _, err = _run(capsys, "folders", "-c", "--yes", "jobs")
    last = err.strip().splitlines()[-1]
    assert code == 1, err
    assert f"1 of {total} jobs failed; 'fourtop submit -r' resubmits them" in last
    assert Path("jobs").is_dir() and not Path("jobs.jtd").exists()

    code, out_text, err = _run(capsys, "folders", "-v", "jobs")
    assert code == 0, err
    assert f"  {victim}: exited with return value 0; ROC-integral value 2.5 is outside [0, 1]" in (
        out_text
    )

    code, _, err = _run(capsys, "folders", "-c", "--yes", "--force", "jobs")
    assert code == 0, err
    assert not Path("jobs").exists()
    compacted = JobFolder("jobs.jtd")
    [failed] = compacted.get_resubmit_list()
    assert failed.name == victim and "outside [0, 1]" in (failed.reason or "")
    assert len(compacted) == total
    assert victim not in {j.name for j in compacted.result_jobs}

    restored = compacted.extract_failed()
    assert Path(restored.path) == sample_workdir / "jobs" and not restored.compacted
    assert [j.name for j in restored.get_resubmit_list()] == [victim]
    assert [j.name for j in restored.jobs] == [victim]
    assert Path(restored.path, "fourtop-varlist.txt").read_text().split() == VARS
    assert Path(restored.path, "fourtop-submit.json").is_file()  # kept through compaction
    reopened = JobFolder("jobs.jtd")
    assert len(reopened) == total - 1 and reopened.get_resubmit_list() == []
    assert victim not in {j.name for j in reopened.jobs}


# ---------------------------------------------------------------- (c) permissions
@contextmanager
def _nobody_python() -> Iterator[list[str]]:
    """The command prefix that runs this Python as uid/gid 65534 (skips where impossible)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running as another user needs root and setpriv")
    as_nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    src = str(Path(fourtop.__file__).resolve().parents[1])
    direct = subprocess.run(
        [*as_nobody, sys.executable, "-c", "import rich, filelock"],
        env=dict(os.environ, PYTHONPATH=src),
        capture_output=True,
        check=False,
    )
    if direct.returncode == 0:
        yield [*as_nobody, "env", f"PYTHONPATH={src}", sys.executable]
        return
    # the interpreter lives where 65534 cannot go (e.g. under /root): show it through a bind
    # mount, never changing the permissions of the real folders
    if sys.prefix != sys.base_prefix or shutil.which("mount") is None:
        pytest.skip("this Python cannot be run as another user")
    base = Path(sys.base_prefix).resolve()
    view = Path(tempfile.mkdtemp(prefix="fourtop-pyview-"))
    view.chmod(0o755)
    mounted = subprocess.run(["mount", "--bind", str(base), str(view)], check=False)
    if mounted.returncode != 0:
        view.rmdir()
        pytest.skip("cannot bind-mount the Python installation")
    try:
        exe = view / Path(sys.executable).resolve().relative_to(base)
        purelib = view / Path(sysconfig.get_paths()["purelib"]).resolve().relative_to(base)
        yield [*as_nobody, "env", f"PYTHONPATH={src}:{purelib}", "HOME=/tmp", str(exe)]
    finally:
        subprocess.run(["umount", str(view)], check=False)
        view.rmdir()


_STATS = """
import json, sys
from fourtop.jobtracker import JobFolder
folder = JobFolder(sys.argv[1])
folder.check()
print(json.dumps({
    "stats": {k: v for k, v in folder.get_stats().items() if k != "variable_counts"},
    "resubmit": [j.name for j in folder.get_resubmit_list()],
    "unstarted": [j.name for j in folder.unstarted_jobs],
    "unreadable": {j.name: j.reason for j in folder.jobs if j.state == "unreadable"},
}))
"""


def test_other_user_reads_results_and_unreadable_is_not_failed(sample_workdir, capsys):
    import json

    old = os.umask(0o022)
    try:
        folder = _submit(capsys)
    finally:
        os.umask(old)
    for job in folder.jobs:
        for ext in (".out", ".err"):
            mode = Path("jobs", job.name + ext).stat().st_mode & 0o777
            assert mode == 0o644, f"{job.name}{ext} is {mode:o}"
    shared = Path(tempfile.mkdtemp(prefix="fourtop-shared-"))
    try:
        shared.chmod(0o755)
        copy = shared / "jobs"
        shutil.copytree("jobs", copy, symlinks=True)
        with _nobody_python() as python:

            def folders(*argv: str) -> subprocess.CompletedProcess[str]:
                cmd = [*python, "-m", "fourtop.cli", "folders", *argv]
                return subprocess.run(cmd, cwd=shared, capture_output=True, text=True)

            def stats() -> dict:
                cmd = [*python, "-c", _STATS, str(copy)]
                proc = subprocess.run(cmd, cwd=shared, capture_output=True, text=True)
                assert proc.returncode == 0, proc.stderr
                return json.loads(proc.stdout)

            shown = folders("-v", "jobs")
            assert shown.returncode == 0, shown.stderr
            assert "Traceback" not in shown.stderr
            assert "failed jobs (" not in shown.stdout and "unreadable" not in shown.stdout
            assert stats()["stats"]["failed_jobs"] == 0

            victim = folder.jobs[0].name
            out = copy / f"{victim}.out"
            out.chmod(0o600)
            st = out.stat()
            os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # rewritten since
            shown = folders("-v", "jobs")
            assert shown.returncode == 0, shown.stderr
            assert "failed jobs (" not in shown.stdout
            assert "unreadable jobs (1):" in shown.stdout
            assert f"  {victim}: cannot read {out} (permission denied)" in shown.stdout
            seen = stats()
            assert seen["stats"]["failed_jobs"] == 0 and seen["stats"]["unreadable_jobs"] == 1
            assert seen["resubmit"] == [] and seen["unstarted"] == []
            assert list(seen["unreadable"]) == [victim]
            assert out.exists()  # never deleted
    finally:
        shutil.rmtree(shared, ignore_errors=True)
