"""``fourtop hyperopt``: bad inputs and faults -> one line, an exit code, nothing changed on disk.

Rows run in an empty working directory over the tiny generated samples (``tiny_samples``),
with a dataset folder ``ds`` holding a results file of four variables and a tiny parameters
file ``p.json`` (two trainings of one epoch). A row's ``setup`` prepares what it needs: a
read-only or full file system (a tmpfs, as root), a damaged journal, a held lock, an earlier
run. A run that fails before its first training leaves nothing (no journal, no lock file, no
parameters or log file). Below the table: what cannot be a row (Ctrl-C during the first
training, a run killed with SIGKILL and resumed, a half-written journal record).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faults import Case, check_case, fill, hold, mount_tmpfs, snapshot
from fourtop.cli import main
from test_hyperopt_selection import write_results

TINY = {
    "n_calls": 2,
    "n_starts": 1,
    "epochs": 1,
    "patience": 1,
    "initial_nodes": [2, 8],
    "batch_power": [5, 6],
}
RUN = ["hyperopt", "-p", "p.json", "--tag", "t", "--device", "cpu"]


def dataset(root: Path, **params) -> Path:
    """``ds`` with a results file, and ``p.json`` with the tiny parameters (updated)."""
    folder = root / "ds"
    folder.mkdir(exist_ok=True)
    write_results(folder)
    (root / "p.json").write_text(json.dumps({**TINY, **params}))
    return folder


def _with(**params):
    return lambda root: dataset(root, **params)


def _read_only(root: Path) -> None:
    dataset(root)
    folder = root / "ds"
    mount_tmpfs(folder, "size=512k")
    write_results(folder)
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)


def _full(root: Path) -> None:
    dataset(root)
    folder = mount_tmpfs(root / "ds", "size=512k")
    write_results(folder)
    fill(folder, leave=0)


def _garbage_journal(root: Path) -> None:
    dataset(root)
    (root / "ds" / "hyperopt_t.journal").write_text("garbage{\n")


def _unknown_record(root: Path) -> None:
    dataset(root)
    (root / "ds" / "hyperopt_t.journal").write_text(
        '{"op_code":0,"worker_id":"w","study_name":"hyperopt_t","directions":[1]}\n{"op_code":99}\n'
    )


def _lock_held(root: Path) -> None:
    import fcntl

    dataset(root)
    fd = os.open(root / "ds" / ".hyperopt_t.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    hold(lambda: os.close(fd))


def _earlier_run(root: Path) -> None:
    dataset(root)
    assert main([*RUN, "-n", "2", "ds"]) == 0


def _order_file(root: Path) -> None:
    (root / "order.txt").write_text("AK4HT\nMT_lepMet\n")
    (root / "p.json").write_text(json.dumps(TINY))


def _empty_order(root: Path) -> None:
    dataset(root)
    (root / "order.txt").write_text("# nothing\n")
    (root / "folder").mkdir()


def _not_json(root: Path) -> None:
    dataset(root)
    (root / "p.json").write_text("{n_calls: 2")


def _results_only(root: Path) -> None:
    dataset(root)
    (root / "p.json").unlink()


def _without_cuda(root: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    dataset(root)


def _file_as_dataset(root: Path) -> None:
    dataset(root)
    (root / "notafolder").write_text("x\n")


LONG = "t" * 250

CASES: list[Case] = [
    # --- found by the audit
    Case(
        "batch-power-zero",
        [*RUN, "ds"],
        r"p.json: batch_power: expected an integer >= 1",
        setup=lambda root: dataset(root, batch_power=[0, 0]),
    ),
    Case(
        "tag-with-slash",
        ["hyperopt", "-p", "p.json", "--tag", "a/b", "--device", "cpu", "ds"],
        r"--tag: expected a non-empty name without '/'",
        setup=dataset,
    ),
    Case(
        "dataset-empty",
        [*RUN, ""],
        r"argument DATASET_FOLDER: the value is empty",
        code=2,
        setup=dataset,
    ),
    # --- options
    Case(
        "random-seed-negative",
        [*RUN, "--random-seed", "-1", "ds"],
        r"argument --random-seed: -1 is outside 0 to 4294967295",
        code=2,
        setup=dataset,
    ),
    Case(
        "random-seed-too-large",
        [*RUN, "--random-seed", "4294967296", "ds"],
        r"argument --random-seed: 4294967296 is outside 0 to 4294967295",
        code=2,
        setup=dataset,
    ),
    Case(
        "random-seed-not-a-number",
        [*RUN, "--random-seed", "seven", "ds"],
        r"argument --random-seed: 'seven' is not a whole number",
        code=2,
        setup=dataset,
        new=False,
    ),
    Case(
        "num-vars-negative",
        [*RUN, "-n", "-1", "ds"],
        r"-n '-1': expected a number of variables",
        setup=dataset,
        new=False,
    ),
    Case(
        "num-vars-zero",
        [*RUN, "-n", "0", "ds"],
        r"-n 0: expected at least 1",
        setup=dataset,
        new=False,
    ),
    Case(
        "num-vars-empty-range",
        [*RUN, "-n", "3-1", "ds"],
        r"-n 3-1: empty range \(3 is after 1\)",
        setup=dataset,
        new=False,
    ),
    Case(
        "num-vars-too-many",
        [*RUN, "-n", "2-99999999999999999999", "ds"],
        r"has only 4 variables",
        setup=dataset,
        new=False,
    ),
    Case(
        "num-vars-words",
        [*RUN, "-n", "ten", "ds"],
        r"-n 'ten': expected a number of variables",
        setup=dataset,
        new=False,
    ),
    Case(
        "order-unknown",
        [*RUN, "-o", "importnce", "ds"],
        r"-o 'importnce': neither a column .* \(did you mean: importance\?\)",
        setup=dataset,
        new=False,
    ),
    Case(
        "order-file-empty",
        [*RUN, "-o", "order.txt", "ds"],
        r"order.txt: variable list is empty",
        setup=_empty_order,
        new=False,
    ),
    Case(
        "order-is-a-folder",
        [*RUN, "-o", "folder", "ds"],
        r"-o 'folder': neither a column",
        setup=_empty_order,
        new=False,
    ),
    Case(
        "parameters-missing",
        [*RUN, "ds"],
        r"p.json: parameters file not found",
        setup=_results_only,
        new=False,
    ),
    Case(
        "parameters-a-folder",
        ["hyperopt", "-p", "ds", "ds"],
        r"ds: (is a folder, expected a JSON file|cannot read)",
        setup=dataset,
        new=False,
    ),
    Case(
        "parameters-not-json", [*RUN, "ds"], r"p.json: not valid JSON", setup=_not_json, new=False
    ),
    Case(
        "tag-empty",
        [*RUN, "--tag", "", "ds"],
        r"tag: expected a non-empty name",
        setup=dataset,
        new=False,
    ),
    Case(
        "tag-control-character",
        [*RUN, "--tag", "a\nb", "ds"],
        r"tag: expected a non-empty name without '/' or control characters",
        setup=dataset,
    ),
    Case(
        "tag-too-long",
        [*RUN, "--tag", LONG, "ds"],
        r"cannot write .*: file name too long \(shorten the tag\)",
        setup=dataset,
    ),
    Case(
        "year-unknown", [*RUN, "-y", "2019", "ds"], r"no dataset '2019'", setup=dataset, new=False
    ),
    Case(
        "config-missing",
        [*RUN, "--config", "none.toml", "ds"],
        r"none.toml: dataset configuration not found",
        setup=dataset,
        new=False,
    ),
    Case(
        "device-cuda-missing",
        [*RUN, "--device", "cuda", "ds"],
        r"device 'cuda': no CUDA device is available \(use auto or cpu\)",
        setup=_without_cuda,
    ),
    Case(
        "device-unknown",
        [*RUN, "--device", "gpu", "ds"],
        r"argument --device: invalid choice",
        code=2,
        setup=dataset,
        new=False,
    ),
    # --- parameters file values
    Case(
        "nodes-absurd",
        [*RUN, "ds"],
        r"initial_nodes: expected an integer <= 100000",
        setup=_with(initial_nodes=[2, 10**9]),
    ),
    Case(
        "layers-absurd",
        [*RUN, "ds"],
        r"hidden_layers: expected an integer <= 100",
        setup=_with(hidden_layers=[1, 5000]),
    ),
    Case(
        "model-name-is-log-file",
        [*RUN, "ds"],
        r"model_name or log_file names the same file as another output",
        setup=_with(model_name="same.txt", log_file="same.txt"),
    ),
    Case(
        "model-name-is-results-file",
        [*RUN, "ds"],
        r"VariableImportanceResults_4vars.txt: is the importance results file",
        setup=_with(model_name="VariableImportanceResults_4vars.txt"),
    ),
    Case(
        "log-file-in-missing-folder",
        [*RUN, "ds"],
        r"cannot write ds/logs/x.txt: ds/logs: no such folder",
        setup=_with(log_file="logs/x.txt"),
    ),
    Case(
        "model-name-in-proc",
        [*RUN, "ds"],
        r"cannot write in /proc: /proc: does not accept new files",
        setup=_with(model_name="/proc/best.pt"),
    ),
    # --- the dataset folder and the data
    Case(
        "dataset-missing",
        [*RUN, "nowhere"],
        r"nowhere: dataset folder not found",
        setup=dataset,
        new=False,
    ),
    Case(
        "dataset-is-a-file",
        [*RUN, "notafolder"],
        r"notafolder: dataset folder not found",
        setup=_file_as_dataset,
        new=False,
    ),
    Case(
        "dataset-without-results",
        [*RUN, "."],
        r"no VariableImportanceResults_<N>vars.txt",
        setup=_order_file,
        new=False,
    ),
    Case(
        "dataset-in-proc",
        [*RUN, "-o", "order.txt", "/proc"],
        r"cannot write in /proc: /proc: does not accept new files",
        setup=_order_file,
    ),
    Case(
        "dataset-read-only",
        [*RUN, "ds"],
        r"cannot write in ds: ds: read-only file system",
        setup=_read_only,
    ),
    Case(
        "samples-missing",
        [*RUN, "ds"],
        r"ntuple not found \(make the synthetic samples with `fourtop generate`\)",
        setup=dataset,
        env={"FOURTOP_DATA": "/nonexistent/samples"},
        new=False,
    ),
    Case(
        "full-disk",
        [*RUN, "ds"],
        r"no space left on device.*\(nothing was kept\)",
        setup=_full,
    ),
    # --- the study
    Case(
        "journal-garbage",
        [*RUN, "ds"],
        r"hyperopt_t.journal: the study file is damaged and cannot be resumed .*choose another tag",
        setup=_garbage_journal,
    ),
    Case(
        "journal-unknown-record",
        [*RUN, "ds"],
        r"hyperopt_t.journal: the study file is damaged and cannot be resumed",
        setup=_unknown_record,
    ),
    Case(
        "tag-in-use",
        [*RUN, "ds"],
        r"another fourtop hyperopt run is using tag 't'",
        setup=_lock_held,
        new=False,
    ),
    Case(
        "resume-with-other-variables",
        [*RUN, "-n", "3", "ds"],
        r"tag 't' was started with another variable list \(2 variables then, 3 now\)",
        setup=_earlier_run,
        new=False,
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


def test_ctrl_c_in_the_first_training_leaves_nothing(tmp_path, capsys, monkeypatch, tiny_samples):
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    dataset(tmp_path)
    before = snapshot(tmp_path)

    def interrupted(data, **kwargs):
        def objective(network, variables):
            raise KeyboardInterrupt

        return objective

    monkeypatch.setattr("fourtop.hyperopt.objective.training_objective", interrupted)
    assert main([*RUN, "ds"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_failure_after_a_training_keeps_the_study(tmp_path, capsys, monkeypatch, tiny_samples):
    """A full disk after the first training: the study stays, and the same command resumes."""
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    dataset(tmp_path)
    import fourtop.hyperopt.outputs as outputs

    real = outputs.write_log
    calls = []

    def full_disk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            from fourtop.errors import OutputError

            raise OutputError("cannot write file ds/optimize_log_t.txt: no space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(outputs, "write_log", full_disk)
    assert main([*RUN, "ds"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "no space left on device (the 2 trainings of this run are kept" in err
    assert "run again with --tag t to resume" in err
    monkeypatch.setattr(outputs, "write_log", real)
    assert main([*RUN, "ds"]) == 0  # nothing left to train: the files are written
    assert "Best ROC-integral" in capsys.readouterr().out
    assert not (tmp_path / "ds" / ".hyperopt_t.lock").exists()


def test_half_written_journal_record_is_cut_and_the_run_resumes(
    tmp_path, capsys, caplog, monkeypatch, tiny_samples
):
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    dataset(tmp_path)
    assert main([*RUN, "ds"]) == 0
    journal = tmp_path / "ds" / "hyperopt_t.journal"
    with open(journal, "ab") as fh:
        fh.write(b'{"op_code":5,"worker_id":"w","tri')  # a killed append
    (tmp_path / "p.json").write_text(json.dumps({**TINY, "n_calls": 3}))
    assert main([*RUN, "ds"]) == 0
    err = capsys.readouterr().err
    assert "removed a half-written last record" in caplog.text
    assert re.search(r"^\[3/3\]", err, re.M) and "resumed after 2 trainings" in err


@pytest.mark.slow
def test_killed_run_resumes(tmp_path, monkeypatch, tiny_samples):
    """SIGKILL in the middle of a training: the lock file is stale but free, the cut-off
    training is not counted, and the same command finishes the study."""
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    dataset(tmp_path, n_calls=3)
    script = (
        "import sys, time\n"
        "import fourtop.hyperopt.objective as o\n"
        "real = o.training_objective\n"
        "def slow(data, **kw):\n"
        "    inner, n = real(data, **kw), []\n"
        "    def objective(network, variables):\n"
        "        n.append(1)\n"
        "        if len(n) == 2:\n"
        "            print('training 2', flush=True)\n"
        "            time.sleep(120)\n"
        "        return inner(network, variables)\n"
        "    return objective\n"
        "o.training_objective = slow\n"
        "from fourtop.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *RUN, "ds"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 240
    while "training 2" not in proc.stdout.readline():
        assert time.monotonic() < deadline and proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    dead = tmp_path / "ds" / f".optimize_log_t.txt.{proc.pid}.0123abcd.tmp"
    dead.write_text("half a log")  # as if killed while writing
    old = time.time() - 120
    os.utime(dead, (old, old))
    assert main([*RUN, "ds"]) == 0
    rows = [
        ln
        for ln in (tmp_path / "ds" / "optimize_log_t.txt").read_text().splitlines()
        if re.match(r"\d+\. / ", ln)
    ]
    assert len(rows) == 3
    assert not (tmp_path / "ds" / ".hyperopt_t.lock").exists()
    assert not [p for p in (tmp_path / "ds").iterdir() if p.name.endswith(".tmp")]


def test_out_of_memory_is_a_failed_training(monkeypatch):
    """torch's allocators raise RuntimeError (CPU) or its subclass (CUDA) when a network does
    not fit: that training fails and counts, the search goes on; other errors still surface."""
    from fourtop.errors import TrainingError
    from fourtop.hyperopt.objective import training_objective

    def no_memory(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 40 GB")

    monkeypatch.setattr("fourtop.train.fit.train_network", no_memory)
    objective = training_objective(None, random_seed=0, device="cpu")  # type: ignore[arg-type]
    network = {"hidden_layers": 3, "initial_nodes": 5000, "batch_size": 64}
    with pytest.raises(TrainingError, match="out of memory for a network of 3 layers"):
        objective(network, ["AK4HT"])

    def other(*args, **kwargs):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr("fourtop.train.fit.train_network", other)
    objective = training_objective(None, random_seed=0, device="cpu")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="shape mismatch"):
        objective(network, ["AK4HT"])


def test_failed_restart_keeps_the_parameters_file_it_was_given(
    tmp_path, capsys, monkeypatch, tiny_samples
):
    """A study restarted from its parameters file (journal moved away) that fails at once
    leaves that file as it was."""
    monkeypatch.setenv("FOURTOP_DATA", str(tiny_samples))
    monkeypatch.chdir(tmp_path)
    dataset(tmp_path)
    assert main([*RUN, "ds"]) == 0
    (tmp_path / "ds" / "hyperopt_t.journal").rename(tmp_path / "old.journal")
    before = snapshot(tmp_path)

    def interrupted(data, **kwargs):
        def objective(network, variables):
            raise KeyboardInterrupt

        return objective

    monkeypatch.setattr("fourtop.hyperopt.objective.training_objective", interrupted)
    args = ["hyperopt", "-p", "ds/parameters_t.json", "--device", "cpu", "ds"]
    assert main(args) == 130
    assert snapshot(tmp_path) == before
