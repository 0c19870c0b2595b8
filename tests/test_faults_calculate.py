"""``fourtop calculate``: bad inputs and faults -> one line, an exit code, nothing changed on disk.

Every row runs in an empty working directory; its ``setup`` builds what it needs: tiny job
folders with known results (``importance_folders``), an output folder holding an earlier
run's files, a read-only or a full file system (a tmpfs, as root). Below the table: what
cannot be a row (three runs into one folder at once, a run killed part-way, Ctrl-C, the
memory of a large ``--bootstrap``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faults import Case, check_case, fill, mount_tmpfs, snapshot
from fourtop.cli import main
from importance_folders import FAILED, make_folder, make_unimported_folder

V = ["a", "b", "c", "d", "e"]
FAMILIES = {
    "11100": (0.80, {"a": 0.75, "b": 0.78, "c": 0.79}),
    "11010": (0.82, {"a": 0.79, "b": 0.81, "d": 0.80}),
    "01110": (0.70, {"b": 0.60, "c": 0.66, "d": 0.69}),
}
OUTPUTS = (
    "VariableImportanceResults_5vars.txt",
    "VariableImportanceOrder_5vars.txt",
    "ROC_hists_5vars.root",
    "VariableImportance_5vars.json",
    "VariableImportance_5vars.csv",
    "VariableImportanceRanking_5vars.png",
    "VariableImportanceRanking_5vars.pdf",
    "ROC_differences_5vars.png",
    "ROC_differences_5vars.pdf",
)
RUN = ["calculate", "--bootstrap", "20"]


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def jobs(root: Path) -> Path:
    """A compacted folder with three finished seed families (``condor_log_A.jtd``)."""
    return make_folder(root / "condor_log_A", V, FAMILIES, compact=True)


def earlier_results(folder: Path) -> None:
    """An output folder holding the files of an earlier run (which must survive)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        (folder / name).write_bytes(f"earlier {name}\n".encode())


def _file(root: Path) -> None:
    jobs(root)
    (root / "taken").write_text("keep me\n")


def _read_only_folder(root: Path) -> None:
    jobs(root)
    earlier_results(mount_tmpfs(root / "ro"))
    remount_read_only(root / "ro")


def _full_new(root: Path) -> None:
    jobs(root)
    fill(mount_tmpfs(root / "disk"), leave=8192)


def _full_existing(root: Path) -> None:
    jobs(root)
    earlier_results(mount_tmpfs(root / "disk", "size=512k"))
    fill(root / "disk", leave=16384)


def _no_result(root: Path) -> None:
    make_folder(root / "condor_log_bad", V, {"11000": (FAILED, {"a": FAILED})})


def _out_of_range(root: Path) -> None:
    make_folder(root / "condor_log_bad", V, {"11000": (2.5, {"a": 0.7}), "10100": (-1.0, {})})


def _not_a_spec(root: Path) -> None:
    (root / "notes.txt").write_text("not a spec\n")


def _corrupt_spec(root: Path) -> None:
    (root / "condor_log_X.jtd").write_bytes(b"\x00garbage" * 20)


def _unimported(root: Path) -> None:
    from fourtop.variables import default_variables

    names = default_variables()
    bits = "1" * 3 + "0" * (len(names) - 3)
    make_unimported_folder(root / "condor_log_old", names, {bits: (0.8, {names[0]: 0.7})})


def _unimported_read_only(root: Path) -> None:
    _unimported(mount_tmpfs(root / "ro", "size=4m"))
    remount_read_only(root / "ro")


def _bad_config(root: Path) -> None:
    jobs(root)
    (root / "cfg.toml").write_text("tree = \n")


JTD = "condor_log_A.jtd"
LONG = "x" * 300  # past the 255 bytes of a file name

CASES: list[Case] = [
    # audit of issue 11: results written into a job folder, which compaction then deleted
    Case(
        "output-in-job-folder",
        [*RUN, "-f", "condor_log_B/ds", JTD],
        r"results must not go into the job folder .*condor_log_B \(compacting it would delete",
        setup=lambda r: (jobs(r), make_folder(r / "condor_log_B", V, FAMILIES)),
    ),
    # --- where the results go
    Case(
        "output-in-proc",
        [*RUN, "-f", "/proc/ds", JTD],
        r"cannot create the output folder /proc/ds: /proc: does not accept new files",
        setup=jobs,
    ),
    Case(
        "output-is-proc-folder",
        [*RUN, "-f", "/proc/self", JTD],
        r"cannot write into /proc/self: ",
        setup=jobs,
    ),
    Case(
        "output-read-only",
        [*RUN, "-f", "ro", JTD],
        r"cannot write into .*/ro: .*read-only file system",
        setup=_read_only_folder,
    ),
    Case(
        "output-under-read-only",
        [*RUN, "-f", "ro/new/out", JTD],
        r"cannot create the output folder .*/ro/new/out: .*read-only file system",
        setup=_read_only_folder,
    ),
    Case(
        "output-under-a-file",
        [*RUN, "-f", "taken/out", JTD],
        r"cannot create the output folder .*/taken/out: .*/taken is not a folder",
        setup=_file,
    ),
    Case(
        "output-is-a-file",
        [*RUN, "-f", "taken", JTD],
        r"taken: exists and is not a folder; choose another -f",
        setup=_file,
        new=False,
    ),
    Case(
        "output-empty-name",
        [*RUN, "-f", "", JTD],
        r"-f: the output folder name is empty",
        setup=jobs,
    ),
    Case(
        "output-name-too-long",
        [*RUN, "-f", f"a/b/{LONG}", JTD],
        r"cannot create the output folder .*: 'x+': name too long",
        setup=jobs,
    ),
    Case(
        "full-disk-new-folder",
        [*RUN, "-f", "disk/out", JTD],
        r"cannot write .*/disk/out/\S+: no space left on device; .*/disk/out was left as it was",
        setup=_full_new,
    ),
    Case(
        "full-disk-earlier-results-kept",
        [*RUN, "-f", "disk", JTD],
        r"cannot write .*/disk/\S+: no space left on device; .*/disk was left as it was",
        setup=_full_existing,
    ),
    # --- options
    Case(
        "bootstrap-huge",
        [*RUN, "--bootstrap", "100000000000", JTD],
        r"argument --bootstrap: 100000000000: the number of replicates must be 0 to 100000",
        code=2,
        setup=jobs,
    ),
    Case(
        "bootstrap-negative",
        [*RUN, "--bootstrap", "-1", JTD],
        r"argument --bootstrap: -1: the number of replicates must be 0 to 100000",
        code=2,
        setup=jobs,
        new=False,
    ),
    Case(
        "bootstrap-not-a-number",
        [*RUN, "--bootstrap", "many", JTD],
        r"argument --bootstrap: 'many' is not a whole number",
        code=2,
        setup=jobs,
        new=False,
    ),
    Case(
        "top-zero",
        [*RUN, "--top", "0", JTD],
        r"argument --top: 0: must be at least 1",
        code=2,
        setup=jobs,
        new=False,
    ),
    Case(
        "top-not-a-number",
        [*RUN, "--top", "ten", JTD],
        r"argument --top: 'ten' is not a whole number",
        code=2,
        setup=jobs,
        new=False,
    ),
    Case(
        "sort-order-unknown",
        [*RUN, "-o", "importnce", JTD],
        r"unknown sort order 'importnce' for -o: .*\(did you mean: importance\?\)",
        setup=jobs,
        new=False,
    ),
    Case(
        "sort-order-empty",
        [*RUN, "-o", "", JTD],
        r"unknown sort order '' for -o",
        setup=jobs,
        new=False,
    ),
    Case(
        "config-missing",
        [*RUN, "--config", "nowhere.toml", JTD],
        r"nowhere.toml: dataset configuration not found",
        setup=jobs,
        new=False,
    ),
    Case(
        "config-not-toml",
        [*RUN, "--config", "cfg.toml", JTD],
        r"cfg.toml: not valid TOML",
        setup=_bad_config,
        new=False,
    ),
    # --- the inputs
    Case(
        "folder-missing",
        [*RUN, JTD, "nowhere"],
        r"nowhere: no such job folder or .jtd file",
        setup=jobs,
        new=False,
    ),
    Case("no-folders-here", [*RUN], r"no condor_log\* folders or .jtd files here", new=False),
    Case(
        "input-not-a-spec",
        [*RUN, "notes.txt"],
        r"notes.txt: not a fourtop spec file",
        setup=_not_a_spec,
        new=False,
    ),
    Case(
        "input-corrupt-spec",
        [*RUN, "condor_log_X.jtd"],
        r"condor_log_X.jtd: not a fourtop spec file",
        setup=_corrupt_spec,
        new=False,
    ),
    Case(
        "no-results",
        [*RUN, "-f", "out", "condor_log_bad"],
        r"no seed job with a ROC-integral result in the input folders",
        setup=_no_result,
        new=False,
    ),
    Case(
        "roc-outside-0-1-is-no-result",
        [*RUN, "-f", "out", "condor_log_bad"],
        r"no seed job with a ROC-integral result in the input folders",
        setup=_out_of_range,
    ),
    Case(
        "unimported-without-yes",
        [*RUN, "-f", "out", "condor_log_old"],
        r"condor_log_old: has no spec file; import it with 'fourtop folders -i all",
        setup=_unimported,
        new=False,
    ),
    Case(
        "unimported-read-only",
        [*RUN, "--yes", "-f", "out", "ro/condor_log_old"],
        r"ro/condor_log_old.*read-only file system",
        setup=_unimported_read_only,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fault(case: Case, tmp_path, capsys, monkeypatch):
    check_case(case, tmp_path, capsys, monkeypatch)


def test_case_ids_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------- beyond the table


def _outputs(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


#: runs ``fourtop`` after every run has reached the writing (a barrier on files in the
#: working directory), with each rename slowed down: the writes of the runs overlap for sure
_TOGETHER = """
import os, sys, time
import fourtop.importance.calculation as c
real_write, real_replace, n = c.write_results, os.replace, int(os.environ["RUNS"])
def write_together(*args, **kwargs):
    open(f"ready.{os.getpid()}", "w").close()
    while len([p for p in os.listdir(".") if p.startswith("ready.")]) < n:
        time.sleep(0.01)
    return real_write(*args, **kwargs)
def slow_replace(src, dst, **kwargs):
    time.sleep(0.1)
    return real_replace(src, dst, **kwargs)
c.write_results, os.replace = write_together, slow_replace
from fourtop.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _cli(*args: str, cwd: Path, runs: int = 1) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "RUNS": str(runs)}
    return subprocess.Popen(
        [sys.executable, "-c", _TOGETHER, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_three_runs_into_one_folder_at_once(tmp_path, monkeypatch):
    """Unique temporary names: three runs at once all succeed and leave one complete set."""
    monkeypatch.chdir(tmp_path)
    jobs(tmp_path)
    args = ["calculate", "--bootstrap", "50", "-f", "out", JTD]
    procs = [_cli(*args, cwd=tmp_path, runs=3) for _ in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    for ready in tmp_path.glob("ready.*"):
        ready.unlink()
    together = _outputs(tmp_path / "out")
    assert sorted(together) == sorted(OUTPUTS)  # no temporary file left, nothing missing
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # each file is the one a single run writes (the runs computed the same numbers)
    assert main([*args[:-3], "-f", "alone", JTD]) == 0
    alone = _outputs(tmp_path / "alone")
    for name in ("VariableImportanceResults_5vars.txt", "VariableImportance_5vars.csv"):
        assert together[name] == alone[name], name
    import uproot

    with uproot.open(tmp_path / "out" / "ROC_hists_5vars.root") as f:
        assert set(f.keys(cycle=False)) == set(V)


@pytest.mark.slow
def test_killed_run_leaves_no_partial_output_and_the_next_run_cleans(tmp_path, monkeypatch):
    """kill -9 part-way: the output folder keeps the earlier files; the staging folder of
    the dead run is named by the next run, and removed once it is older than a minute."""
    monkeypatch.chdir(tmp_path)
    jobs(tmp_path)
    earlier_results(tmp_path / "out")
    before = snapshot(tmp_path / "out")
    # a slow writer: the ROOT file waits so the kill lands between two outputs
    script = (
        "import sys, time\n"
        "import fourtop.importance.calculation as c\n"
        "real = c.write_roc_hists\n"
        "def slow(path, rows):\n"
        "    real(path, rows)\n"
        "    print('staged', flush=True)\n"
        "    time.sleep(60)\n"
        "c.write_roc_hists = slow\n"
        "from fourtop.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "calculate", "--bootstrap", "10", "-f", "out", JTD],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while "staged" not in proc.stdout.readline():
        assert time.monotonic() < deadline and proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = snapshot(tmp_path / "out")
    assert {k: v for k, v in after.items() if not k.startswith(".calculate.")} == before
    left = [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    assert len(left) == 1 and left[0].endswith(".tmpdir")  # no half-written output file
    # at once: named, kept (a process on another machine could own it)
    capsys_args = ["calculate", "--bootstrap", "10", "--no-plots", "-f", "out", JTD]
    assert main(capsys_args) == 0
    assert (tmp_path / "out" / left[0]).exists()
    # a minute later: removed
    old = time.time() - 120
    os.utime(tmp_path / "out" / left[0], (old, old))
    assert main(capsys_args) == 0
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_ctrl_c_while_writing_changes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    jobs(tmp_path)
    earlier_results(tmp_path / "out")
    before = snapshot(tmp_path)

    def interrupted(path, rows):
        Path(path).write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr("fourtop.importance.calculation.write_roc_hists", interrupted)
    assert main([*RUN, "-f", "out", JTD]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert snapshot(tmp_path) == before
    assert main([*RUN, "-f", "new", JTD]) == 130
    assert snapshot(tmp_path) == before  # no half-made folder either


def test_young_leftover_of_a_dead_process_is_named(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    jobs(tmp_path)
    dead = tmp_path / "out" / ".calculate.999999999.0123abcd.tmpdir"
    dead.mkdir(parents=True)
    assert main([*RUN, "--no-plots", "-f", "out", JTD]) == 0
    assert dead.exists()
    assert f"{dead}: left by a fourtop process that stopped" in caplog.text


@pytest.mark.slow
def test_bootstrap_memory_is_bounded():
    """The largest --bootstrap over 76 variables and 500 seeds stays far below a gigabyte
    (the unchunked version took 1.3 GB there; 2 TiB for --bootstrap 100000000000)."""
    code = (
        "import resource, numpy as np\n"
        "from fourtop.importance.stats import JobResult, compute_importance, bootstrap\n"
        "rng = np.random.default_rng(1)\n"
        "V = tuple(f'v{i}' for i in range(76))\n"
        "res = []\n"
        "for s in range(500):\n"
        "    bits = ''.join('1' if rng.random() < 0.5 else '0' for _ in V)\n"
        "    res.append(JobResult('s', 'x', V, bits, None, 0.8))\n"
        "    for i, b in enumerate(bits):\n"
        "        if b == '1':\n"
        "            sub = bits[:i] + '0' + bits[i + 1:]\n"
        "            res.append(JobResult('t', 'x', V, bits, sub, 0.8 - 0.01 * rng.random()))\n"
        "t = compute_importance(res)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "bootstrap(t, 100000)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    grown_kib = int(proc.stdout.split()[-1])
    assert grown_kib < 400 * 1024, grown_kib


def test_bootstrap_bound_is_one_number():
    from fourtop.cli.calculate import MAX_BOOTSTRAP as CLI_MAX
    from fourtop.errors import ResultsError
    from fourtop.importance.stats import MAX_BOOTSTRAP, bootstrap

    assert CLI_MAX == MAX_BOOTSTRAP
    with pytest.raises(ResultsError, match="must be 0 to 100000"):
        bootstrap(None, MAX_BOOTSTRAP + 1)  # type: ignore[arg-type]


def test_long_folder_name_still_works(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    jobs(tmp_path)
    name = "x" * 250
    assert main([*RUN, "--no-plots", "-f", name, JTD]) == 0
    assert len(list((tmp_path / name).iterdir())) == 5
    before = snapshot(tmp_path)

    def failing(path, rows):
        raise KeyboardInterrupt

    monkeypatch.setattr("fourtop.importance.calculation.write_roc_hists", failing)
    assert main([*RUN, "--no-plots", "-f", "y" * 250, JTD]) == 130
    assert snapshot(tmp_path) == before  # the folder made for the staging is gone again


def test_an_output_encoding_without_plus_minus_does_not_fail_a_finished_run(tmp_path):
    """``LANG=C`` / ``PYTHONIOENCODING=ascii``: the table's ``±`` is replaced, exit 0."""
    jobs(tmp_path)
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    cmd = [sys.executable, "-m", "fourtop.cli", "calculate", "--bootstrap", "5", "--no-plots"]
    proc = subprocess.run(
        [*cmd, "-f", "out", "condor_log_A.jtd"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    err = proc.stderr.decode("ascii", "replace")
    assert proc.returncode == 0, err
    assert b"Traceback" not in proc.stderr
    assert b"mean ? sem" in proc.stdout
