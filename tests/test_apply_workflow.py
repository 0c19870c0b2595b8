"""``fourtop apply`` as a library call: every file once, reruns skip complete outputs, one bad
file does not stop the others, outputs of other settings or not fourtop's are never
overwritten silently, batch backends never run a file twice, and the score histograms."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import uproot

from finals import inline_backend, make_final, standardization, write_config
from fourtop.apply.hists import BINS
from fourtop.apply.plan import JOBS_DIR, PLAN_FILE
from fourtop.apply.task import read_events
from fourtop.apply.workflow import ApplyRequest, apply
from fourtop.data.formula import Formula
from fourtop.errors import (
    BackendError,
    JobFolderError,
    ModelError,
    OutputError,
    ParameterError,
)


class Answers:
    """A reporter that records notes and answers every question with ``answer``."""

    def __init__(self, answer: bool = False) -> None:
        self.answer = answer
        self.notes: list[str] = []
        self.questions: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)

    warn = note

    def status(self, message: str):
        from contextlib import nullcontext

        return nullcontext()

    def progress(self, total: int):
        from contextlib import nullcontext

        return nullcontext(lambda done, failed: None)

    def failures(self, failed) -> None:
        pass

    def confirm(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer


@pytest.fixture
def world(tiny_samples, tmp_path):
    """A configuration (signal, background, two extra samples) and its final folder."""
    extra = tmp_path / "extra"
    extra.mkdir()
    source = tiny_samples / "TTTT_TuneCP5_PSweights_13TeV-amcatnlo-pythia8_split0.root"
    shutil.copyfile(source, extra / "TTTT_JECup.root")
    shutil.copyfile(
        tiny_samples / "TTTo2L2Nu_TuneCP5_PSweights_13TeV-powheg-pythia8_ttbb_split1.root",
        extra / "data_2017.root",
    )
    config = write_config(
        tmp_path / "c.toml",
        tiny_samples,
        extra={
            "data_obs": [str(extra / "data_2017.root")],
            "TTTT_JECup": [str(extra / "TTTT_JECup.root")],
        },
    )
    mean, std = standardization(config)
    final = make_final(tmp_path / "final", config, mean=mean, std=std)
    with inline_backend() as backend:
        yield SimpleNamespace(config=config, final=final, extra=extra, backend=backend)


def _request(world, **kwargs) -> ApplyRequest:
    args = {"final_folder": str(world.final), "config": str(world.config.path)}
    args["backend"] = world.backend
    return ApplyRequest(**{**args, **kwargs})


def _stamps(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.root")}


def test_every_file_scored_once_and_a_rerun_skips_them(world):
    outcome = apply(_request(world), Answers())
    out = world.final / "apply_2017"  # the default: beside the models, per dataset key
    assert outcome.output_dir == out and len(outcome.done) == 8 and not outcome.failed
    assert sorted(os.listdir(out)) == sorted([*(Path(p).name for p in outcome.done), JOBS_DIR])
    entries = sum(uproot.open(p)["ljmet"].num_entries for p in out.glob("*.root"))
    assert outcome.events == entries > 0
    jobs = out / JOBS_DIR
    assert (jobs / PLAN_FILE).is_file()
    plan = json.loads((jobs / PLAN_FILE).read_text())
    assert [f["kind"] for f in plan["files"]].count("extra") == 2
    for item in plan["files"]:
        assert (
            read_events(jobs / f"{item['job']}.out")
            == uproot.open(out / item["output"])["ljmet"].num_entries
        )
    before = _stamps(out)
    again = apply(_request(world), Answers())
    assert len(again.complete) == 8 and not again.done and _stamps(out) == before


def test_a_changed_input_is_scored_again_alone(world):
    apply(_request(world), Answers())
    out = world.final / "apply_2017"
    before = _stamps(out)
    changed = world.extra / "TTTT_JECup.root"
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    outcome = apply(_request(world), Answers())
    assert outcome.done == [str(changed)] and len(outcome.complete) == 7
    after = _stamps(out)
    assert after.pop("TTTT_JECup.root") != before.pop("TTTT_JECup.root")
    assert after == before


def test_one_bad_file_fails_alone_and_is_retried_by_the_rerun(world):
    bad = world.extra / "data_2017.root"
    bad.write_text("not a ROOT file\n")
    outcome = apply(_request(world), Answers())
    assert len(outcome.done) == 7
    reason = f"{bad}: cannot open as a ROOT file (no ROOT file header)"
    assert outcome.failed == [(str(bad), reason)]
    out = world.final / "apply_2017"
    assert not (out / "data_2017.root").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
    err = (out / JOBS_DIR / "apply_data_2017.err").read_text()
    assert "no ROOT file header" in err
    again = apply(_request(world), Answers())
    assert len(again.complete) == 7 and [f for f, _ in again.failed] == [str(bad)]


def test_a_truncated_output_is_scored_again(world):
    apply(_request(world), Answers())
    out = world.final / "apply_2017" / "TTTT_JECup.root"
    whole = out.read_bytes()
    out.write_bytes(whole[: len(whole) - 200])  # header, record and keys still there
    outcome = apply(_request(world), Answers())
    assert outcome.done == [str(world.extra / "TTTT_JECup.root")] and len(outcome.complete) == 7
    assert out.stat().st_size == len(whole)
    assert uproot.open(out)["ljmet"].num_entries > 0


def test_outputs_of_other_settings_are_replaced_only_when_agreed(world):
    apply(_request(world, samples="signal"), Answers())
    out = world.final / "apply_2017"
    before = _stamps(out)
    plan_before = (out / JOBS_DIR / PLAN_FILE).read_bytes()
    no = Answers(answer=False)
    with pytest.raises(ParameterError, match=r"3 output\(s\) .* other settings \(branch: 'DNN' "):
        apply(_request(world, samples="signal", branch="NN"), no)
    assert no.questions and _stamps(out) == before
    assert (out / JOBS_DIR / PLAN_FILE).read_bytes() == plan_before
    outcome = apply(_request(world, samples="signal", branch="NN"), Answers(answer=True))
    assert len(outcome.done) == 3
    assert all(uproot.open(p)["ljmet"].keys() == ["NN"] for p in out.glob("*.root"))


def test_a_file_that_is_not_fourtops_is_never_overwritten(world):
    out = world.final / "apply_2017"
    out.mkdir()
    mine = out / "TTTT_JECup.root"
    mine.write_text("my own notes\n")
    with pytest.raises(OutputError, match=r"TTTT_JECup.root: not an output of fourtop apply"):
        apply(_request(world), Answers())
    assert mine.read_text() == "my own notes\n" and os.listdir(out) == ["TTTT_JECup.root"]


def test_an_input_in_the_output_folder_is_refused(world):
    with pytest.raises(Exception, match="is in the output folder, so its output would replace"):
        apply(_request(world, output=str(world.extra)), Answers())


def test_resume_needs_an_earlier_run_and_leaves_no_folder(world):
    with pytest.raises(ParameterError, match="nothing to resume"):
        apply(_request(world, resume=True), Answers())
    assert not (world.final / "apply_2017").exists()
    apply(_request(world, samples="extra"), Answers())
    outcome = apply(_request(world, resume=True), Answers())
    assert len(outcome.complete) == 2 and len(outcome.done) == 6


def test_a_final_folder_of_another_configuration_is_refused(world, tmp_path):
    other = write_config(
        tmp_path / "other.toml", Path(world.config.base_dir), selection="AK4HT > 600"
    )
    with pytest.raises(ModelError, match=r"trained with another configuration .*selection: "):
        apply(_request(world, config=str(other.path)), Answers())
    assert not (world.final / "apply_2017").exists()


def test_a_final_folder_retrained_since_the_plan_fails_its_jobs(world):
    from fourtop.apply.task import run_jobs

    apply(_request(world, samples="extra"), Answers())
    jobs = world.final / "apply_2017" / JOBS_DIR
    card = world.final / "model_card.json"
    card.write_text(card.read_text().replace('"accuracy": 0.5', '"accuracy": 0.75'))
    results = run_jobs(jobs / PLAN_FILE, ["apply_TTTT_JECup"], jobs)
    assert (
        "the final folder changed since this apply run was planned" in results["apply_TTTT_JECup"]
    )


def _expected_hist(world, files: list[Path], outputs: Path) -> np.ndarray:
    """The mean over the files (each a split of one sample) of the weighted, selected scores."""
    sel, wgt = Formula(world.config.selection), Formula(world.config.weight)
    total = np.zeros(BINS)
    for path in files:
        with uproot.open(path) as f:
            tree = f["ljmet"]
            jagged = sel.indexed | wgt.indexed
            data = {
                b: tree[b].array() if b in jagged else tree[b].array(library="np")
                for b in {*sel.branches, *wgt.branches}
            }
        s, ok = sel.evaluate(data)
        w, _ = wgt.evaluate(data)
        x = uproot.open(outputs / path.name)["ljmet"]["DNN"].array(library="np")
        keep = ok & (s != 0)
        total += np.histogram(x[keep], bins=np.linspace(0, 1, BINS + 1), weights=w[keep])[0]
    return total / len(files)


def test_hists_one_th1_per_sample_the_mean_of_its_splits(world):
    outcome = apply(_request(world, hists=True), Answers())
    out = world.final / "apply_2017"
    root, png, pdf = outcome.hist_files  # the plot as PNG and PDF by default
    assert root == out / "hists" / "DNN_hists.root" and png.stat().st_size > 10_000
    assert png.suffix == ".png" and pdf == png.with_suffix(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    with uproot.open(root) as f:
        names = sorted(k.split(";")[0] for k in f.keys())  # noqa: SIM118 - an uproot file
        assert names == sorted(h.name for h in outcome.hists)
        assert "data_obs" in names and "TTTT_JECup" in names
        signal = next(h for h in outcome.hists if h.kind == "signal")
        th1 = f[signal.name]
        assert th1.classname == "TH1D" and len(th1.values()) == BINS
        files = world.config.files
        expected = _expected_hist(world, [files("2017", s).signal[0] for s in range(3)], out)
        np.testing.assert_allclose(th1.values(), expected, rtol=1e-6)
        assert th1.values().sum() > 0 and signal.entries > 0
    # an incomplete run makes no histograms, and says why
    (out / "data_2017.root").unlink()
    (world.extra / "data_2017.root").write_text("broken\n")
    again = apply(_request(world, hists=True), Answers())
    assert again.failed and "1 of 8 output(s) are not complete" in again.hists_skipped
    assert not again.hist_files


def test_slurm_jobs_queued_are_not_submitted_twice(world, slurm_tools):
    request = _request(world, samples="signal", backend="slurm")
    first = apply(request, Answers())
    assert len(first.submitted) == 3 and not first.done
    reporter = Answers()
    second = apply(request, reporter)  # still queued: not again
    assert len(second.busy) == 3 and not second.submitted
    assert len(slurm_tools.sbatch_calls) == 1 and "3 still queued or running" in reporter.notes[0]
    slurm_tools.run_all()
    third = apply(_request(world, samples="signal", backend="slurm", hists=True), Answers())
    assert len(third.complete) == 3 and third.hist_files
    assert len(slurm_tools.sbatch_calls) == 1


def test_condor_runs_each_file_as_one_job(world, schedd):
    request = _request(world, samples="signal", backend="condor")
    first = apply(request, Answers())
    assert len(first.submitted) == 3
    schedd.run_all()
    jobs = world.final / "apply_2017" / JOBS_DIR
    outs = sorted(jobs.glob("*.out"))
    assert len(outs) == 3 and all(read_events(p) for p in outs)
    assert len(apply(request, Answers()).complete) == 3


def test_condor_transfer_is_refused_before_anything_is_made(world, schedd):
    with pytest.raises(BackendError, match=r"--option transfer=yes: .* shared filesystem"):
        apply(_request(world, backend="condor", options={"transfer": "yes"}), Answers())
    assert not (world.final / "apply_2017").exists()


def test_one_run_at_a_time_per_output_folder(world):
    apply(_request(world, samples="extra"), Answers())
    lock = world.final / "apply_2017" / JOBS_DIR / ".fourtop.lock"
    code = (
        "import time\n"
        "from pathlib import Path\n"
        "from fourtop.jobs.lock import hold\n"
        f"with hold(Path({str(lock)!r}), 'x', what='another apply'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        with pytest.raises(JobFolderError, match=r"another fourtop process .*another apply"):
            apply(_request(world), Answers())
    finally:
        other.kill()
        other.wait()


def test_an_extra_sample_with_its_own_weight(world, tmp_path):
    """Data is not weighted like simulation: ``data_obs = {files = [...], weight = "1"}``
    counts its selected events."""
    data = str(world.extra / "data_2017.root")
    same = world.extra / "same_events.root"
    shutil.copyfile(data, same)
    config = write_config(
        tmp_path / "w.toml",
        world.config.base_dir,
        extra={"data_obs": {"files": [data], "weight": "1"}, "plain": [str(same)]},
    )
    assert config.sample_weights("2017") == {"data_obs": "1"}
    request = _request(world, config=str(config.path), samples="extra", hists=True)
    request.output_dir = str(tmp_path / "out")
    outcome = apply(request, Answers())
    hists = {h.name: h for h in outcome.hists}
    data_hist, plain = hists["data_obs"], hists["plain"]
    assert data_hist.entries == plain.entries > 0
    assert data_hist.total == pytest.approx(data_hist.entries)  # every selected event once
    assert plain.total != pytest.approx(plain.entries)  # the configuration's weight
