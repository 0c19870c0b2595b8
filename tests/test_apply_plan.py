"""The files an apply run scores: selection by --samples, one output per input, job names."""

from __future__ import annotations

from pathlib import Path

import pytest

from finals import BACKGROUND, SIGNAL, write_config
from fourtop.apply.plan import (
    ApplyPlan,
    check_branch_name,
    job_name,
    plan_files,
    read_plan,
    sample_name,
    write_plan,
)
from fourtop.backends.batch import check_names
from fourtop.errors import ConfigError, ParameterError
from fourtop.jobs.tasks import WorkUnit


def _config(tmp_path: Path, **kwargs):
    return write_config(tmp_path / "c.toml", tmp_path / "samples", **kwargs)


def test_every_split_and_extra_sample_once_in_config_order(tmp_path):
    config = _config(tmp_path, extra={"data_obs": ["SingleMuon.root"], "TTTT_JECup": ["up.root"]})
    files = plan_files(config, "2017")
    kinds = [(f.kind, f.sample, f.splits) for f in files]
    tttt = sample_name(Path(SIGNAL.format(split=0)))
    ttbb = sample_name(Path(BACKGROUND.format(split=0)))
    assert kinds == [
        ("signal", tttt, (0,)),
        ("signal", tttt, (1,)),
        ("signal", tttt, (2,)),
        ("background", ttbb, (0,)),
        ("background", ttbb, (1,)),
        ("background", ttbb, (2,)),
        ("extra", "data_obs", ()),
        ("extra", "TTTT_JECup", ()),
    ]
    assert [f.output for f in files] == [Path(f.input).name for f in files]
    assert all(Path(f.input).is_absolute() for f in files)
    check_names([WorkUnit((f.job,)) for f in files])  # every batch system takes the names
    assert len({f.job for f in files}) == len(files)


@pytest.mark.parametrize(
    ("samples", "kinds"),
    [("signal", {"signal"}), ("background", {"background"}), ("extra", {"extra"})],
)
def test_samples_selects_one_kind(tmp_path, samples, kinds):
    config = _config(tmp_path, extra={"data_obs": ["SingleMuon.root"]})
    assert {f.kind for f in plan_files(config, "2017", samples)} == kinds


def test_a_file_listed_for_every_split_is_scored_once(tmp_path):
    config = _config(tmp_path, signal=["TTTT_all.root"])
    signal = [f for f in plan_files(config, "2017") if f.kind == "signal"]
    assert len(signal) == 1 and signal[0].splits == (0, 1, 2)
    assert signal[0].sample == "TTTT_all"


def test_two_inputs_of_one_name_are_refused(tmp_path):
    config = _config(tmp_path, extra={"data": ["a/x.root", "b/x.root"]})
    with pytest.raises(ConfigError, match=r"two inputs named 'x.root' \(.*a/x.root and .*b/x.root"):
        plan_files(config, "2017")


def test_no_extra_samples_and_unknown_key_are_one_line_errors(tmp_path):
    config = _config(tmp_path)
    with pytest.raises(ConfigError, match="dataset 2017: no extra samples to score"):
        plan_files(config, "2017", "extra")
    with pytest.raises(ConfigError, match="no dataset '2018'"):
        plan_files(config, "2018")
    with pytest.raises(ParameterError, match="--samples 'data'"):
        plan_files(config, "2017", "data")


def test_names_are_safe_and_unique():
    assert sample_name(Path("TTTT_split2_v2.root")) == "TTTT_v2"
    assert sample_name(Path("tt bar.root")) == "tt_bar"
    assert job_name("x;rm -rf.root") == "apply_x_rm_-rf"
    assert len(job_name("a" * 300 + ".root")) == 200


@pytest.mark.parametrize("name", ["", "1DNN", "DNN score", "a.b", "DNN-2"])
def test_bad_branch_names_are_refused(name):
    with pytest.raises(ParameterError, match="--branch"):
        check_branch_name(name)


def test_plan_round_trip_and_bad_plan_files(tmp_path):
    config = _config(tmp_path)
    plan = ApplyPlan(
        model_folder="/f", model_id="abc", engine="onnx", tree="ljmet", event_id="e",
        branch="DNN", copy=True, key="2017", config=str(config.path), output_dir="/o",
        files=plan_files(config, "2017"),
    )  # fmt: skip
    path = write_plan(tmp_path, plan)
    assert read_plan(path) == plan
    mtime = path.stat().st_mtime_ns
    write_plan(tmp_path, plan)  # unchanged: not rewritten
    assert path.stat().st_mtime_ns == mtime
    with pytest.raises(ParameterError, match="no job 'nope'"):
        plan.entry("nope")
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    with pytest.raises(ParameterError, match="not a fourtop apply plan"):
        read_plan(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text('{"format": "fourtop-apply-plan", "files": 3}')
    with pytest.raises(ParameterError, match="not a readable apply plan"):
        read_plan(tmp_path / "broken.json")
    with pytest.raises(ParameterError, match="no apply plan"):
        read_plan(tmp_path / "missing.json")
