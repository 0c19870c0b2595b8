"""``fourtop apply``: bad inputs and faults -> one line, an exit code, nothing lost on disk.

Every row runs in an empty working directory holding, once its ``setup`` ran, a
configuration ``c.toml`` over the tiny synthetic samples (plus extra samples in ``extra/``)
and its final folder ``final``. Rows that stop the run before any file is scored change
nothing; rows with one bad input file let the other files' outputs appear in ``out``, and
the last line names the bad file. Runs use the in-process ``inline`` backend
(``finals.InlineBackend``); ``test_cli_apply.py`` runs the local pool.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from faults import Case, check_case, mount_tmpfs
from finals import inline_backend, make_final, write_config
from fourtop.apply.workflow import ApplyRequest, apply

#: the tiny samples of this session (set by the autouse fixture below)
SAMPLES: list[Path] = []
SIGNAL_0 = "TTTT_TuneCP5_PSweights_13TeV-amcatnlo-pythia8_split0.root"
RUN = ["apply", "final", "--config", "c.toml", "-o", "out", "--backend", "inline"]
OUT = ("out", "out/*")


@pytest.fixture(autouse=True)
def _world(tiny_samples):
    SAMPLES[:] = [tiny_samples]
    with inline_backend():
        yield


def _world_files(root: Path, *, extra: dict[str, list[str]] | None = None, **config) -> None:
    """``c.toml`` (signal and background of three splits, the ``extra`` samples) and ``final``."""
    cfg = write_config(root / "c.toml", SAMPLES[0], extra=extra, **config)
    make_final(root / "final", cfg)


def base(root: Path) -> None:
    _world_files(root)


def with_extra(make) -> object:
    """A world whose extra sample ``bad`` is ``extra/bad.root``, written by ``make(path)``."""

    def setup(root: Path) -> None:
        (root / "extra").mkdir()
        make(root / "extra" / "bad.root")
        _world_files(root, extra={"bad": [str(root / "extra" / "bad.root")]})

    return setup


def _tree(path: Path, drop: str, jagged: str | None = None) -> None:
    """A copy of a signal file's flat branches less ``drop``; ``jagged`` made an array."""
    with uproot.open(SAMPLES[0] / SIGNAL_0) as f:
        tree = f["ljmet"]
        names = list(tree.keys())
        keep = [b for b in names if b != drop and not b.startswith("theJet")]
        keep = [b for b in keep if b != "ntheJetPt_JetSubCalc_PtOrdered"]
        data = dict(tree.arrays(keep, library="np"))
    types = {k: v.dtype for k, v in data.items()}
    if jagged is not None:
        counts = np.arange(len(data[jagged])) % 3  # 0, 1 or 2 values per event
        data[jagged] = ak.unflatten(np.repeat(data[jagged], counts), counts)
        types[jagged] = "var * float32"
    with uproot.recreate(path) as g:
        g.mktree("ljmet", types).extend(data)


def _truncated(path: Path) -> None:
    data = (SAMPLES[0] / SIGNAL_0).read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _other_config(root: Path) -> None:
    _world_files(root)
    write_config(root / "c.toml", SAMPLES[0], selection="AK4HT > 600")


def _other_event_id(root: Path) -> None:
    _world_files(root)
    write_config(root / "c.toml", SAMPLES[0], event_id="run_CommonCalc")


def _no_event_id(root: Path) -> None:
    _world_files(root)
    write_config(root / "c.toml", SAMPLES[0], event_id=None)


def _fold_missing(root: Path) -> None:
    _world_files(root)
    (root / "final" / "model_fold1.onnx").unlink()


def _damaged_fold(root: Path) -> None:
    _world_files(root)
    (root / "final" / "model_fold2.onnx").write_bytes(b"\x00" * 64)


def _other_card(root: Path) -> None:
    """A card listing three variables beside models trained on four."""
    import json

    _world_files(root)
    card = root / "final" / "model_card.json"
    doc = json.loads(card.read_text())
    doc["variables"] = doc["variables"][:3]
    card.write_text(json.dumps(doc))


def _signal_also_extra(root: Path) -> None:
    _world_files(root, extra={"data_obs": [str(SAMPLES[0] / SIGNAL_0)]})


def _not_final(root: Path) -> None:
    _world_files(root)
    (root / "empty").mkdir()


def _earlier_run(root: Path, **kwargs) -> None:
    _world_files(root)
    apply(
        ApplyRequest(
            final_folder=str(root / "final"),
            config=str(root / "c.toml"),
            output=str(root / "out"),
            backend="inline",
            samples="signal",
            **kwargs,
        )
    )


def _foreign_output(root: Path) -> None:
    _world_files(root)
    (root / "out").mkdir()
    (root / "out" / SIGNAL_0).write_text("my own notes\n")


def _input_in_output(root: Path) -> None:
    (root / "out").mkdir()
    shutil.copyfile(SAMPLES[0] / SIGNAL_0, root / "out" / "data.root")
    _world_files(root, extra={"data": [str(root / "out" / "data.root")]})


def _collision(root: Path) -> None:
    for sub in ("a", "b"):
        (root / sub).mkdir()
        shutil.copyfile(SAMPLES[0] / SIGNAL_0, root / sub / "x.root")
    _world_files(root, extra={"x": [str(root / "a" / "x.root"), str(root / "b" / "x.root")]})


def _taken(root: Path) -> None:
    _world_files(root)
    (root / "taken").write_text("keep me\n")


def _read_only(root: Path) -> None:
    import subprocess

    _world_files(root)
    mount_tmpfs(root / "ro")
    subprocess.run(["mount", "-o", "remount,ro", str(root / "ro")], check=True)


CASES: list[Case] = [
    # --- the final folder and the configuration
    Case(
        "no-final-folder",
        ["apply", "nope", "--config", "c.toml"],
        r"nope: final folder not found",
        setup=base,
    ),
    Case(
        "not-a-final-folder",
        ["apply", "empty", "--config", "c.toml"],
        r"empty: not a final folder \(no model_card.json",
        setup=_not_final,
    ),
    Case(
        "fold-model-missing",
        RUN,
        r"model_fold1.onnx: fold 1's model is missing",
        setup=_fold_missing,
    ),
    Case(
        "fold-model-damaged",
        RUN,
        r"final/model_fold2.onnx: not a readable ONNX model \(DecodeError\)",
        setup=_damaged_fold,
    ),
    Case(
        "card-of-other-models",
        RUN,
        r"model_fold0.onnx: the model takes 4 inputs, the card lists 3 variables",
        setup=_other_card,
    ),
    Case(
        "one-file-two-samples",
        RUN,
        r"split0.root is both signal sample .* and extra sample 'data_obs': one file is scored once",
        setup=_signal_also_extra,
    ),
    Case(
        "other-configuration",
        RUN,
        r"final: trained with another configuration \(fingerprint \w+, .*c.toml has \w+\): selection: '.*' then, 'AK4HT > 600' now",
        setup=_other_config,
    ),
    Case(
        "other-event-id",
        RUN,
        r"final: trained with another event key \(.*c.toml\): event_id: 'event_CommonCalc' then, 'run_CommonCalc' now",
        setup=_other_event_id,
    ),
    Case("no-event-id", RUN, r"event_id: 'event_CommonCalc' then, None now", setup=_no_event_id),
    Case(
        "config-missing",
        ["apply", "final", "--config", "nope.toml"],
        r"nope.toml: dataset configuration not found",
        setup=base,
    ),
    Case("unknown-key", [*RUN, "-y", "2030"], r"no dataset '2030' \(have: 2017\)", setup=base),
    Case(
        "no-extra-samples",
        [*RUN, "--samples", "extra"],
        r"dataset 2017: no extra samples to score",
        setup=base,
    ),
    Case(
        "two-inputs-one-name",
        RUN,
        r"two inputs named 'x.root' \(.*/a/x.root and .*/b/x.root\): their outputs would have the same name",
        setup=_collision,
    ),
    # --- options
    Case(
        "bad-branch",
        [*RUN, "--branch", "DNN score"],
        r"--branch 'DNN score': a branch name is letters, digits and _",
        setup=base,
    ),
    Case(
        "branch-is-an-input",
        [*RUN, "--branch", "event_CommonCalc"],
        r"--branch event_CommonCalc: an input of the model \(every input tree has it\); choose another name",
        setup=base,
    ),
    Case(
        "output-is-the-final-folder",
        ["apply", "final", "--config", "c.toml", "-o", "final"],
        r"-o final: the final folder itself; choose another -o",
        setup=base,
    ),
    Case(
        "bad-samples",
        [*RUN, "--samples", "data"],
        r"argument --samples: invalid choice: 'data'",
        code=2,
        setup=base,
    ),
    Case(
        "bad-engine",
        [*RUN, "--engine", "tf"],
        r"argument --engine: invalid choice: 'tf'",
        code=2,
        setup=base,
    ),
    Case(
        "zero-processes",
        [*RUN, "-p", "0"],
        r"argument -p/--processes: 0: must be at least 1",
        code=2,
        setup=base,
    ),
    Case(
        "unknown-backend",
        ["apply", "final", "--config", "c.toml", "--backend", "pbs"],
        r"unknown backend 'pbs'",
        setup=base,
    ),
    Case(
        "unknown-option",
        ["apply", "final", "--config", "c.toml", "--option", "nicenes=3"],
        r"--option nicenes: the local backend takes no options",
        setup=base,
    ),
    Case(
        "option-without-value",
        [*RUN, "--option", "transfer"],
        r"--option 'transfer': expected KEY=VALUE",
        setup=base,
    ),
    # --- the output folder
    Case(
        "output-is-a-file",
        ["apply", "final", "--config", "c.toml", "-o", "taken"],
        r"taken: exists and is not a folder; choose another -o",
        setup=_taken,
    ),
    Case(
        "output-read-only",
        ["apply", "final", "--config", "c.toml", "-o", "ro/out"],
        r"cannot create the output folder .*/ro/out: .*read-only file system",
        setup=_read_only,
    ),
    Case(
        "resume-nothing",
        [*RUN, "-r"],
        r"out: nothing to resume \(no earlier fourtop apply run there\); leave out -r",
        setup=base,
    ),
    Case(
        "foreign-output",
        RUN,
        r"out/TTTT_\S+_split0.root: not an output of fourtop apply \(not ROOT\): not overwritten; move it away or choose another -o",
        setup=_foreign_output,
    ),
    Case(
        "other-settings-no-yes",
        [*RUN, "--samples", "signal", "--branch", "NN"],
        r"3 output\(s\) in .*out were made with other settings \(branch: 'DNN' then, 'NN' now\); pass --yes to replace them",
        setup=_earlier_run,
    ),
    Case(
        "copy-after-friend-no-yes",
        [*RUN, "--samples", "signal", "--copy"],
        r"other settings \(mode: 'friend' then, 'copy' now\)",
        setup=_earlier_run,
    ),
    Case(
        "input-in-output-folder",
        RUN,
        r"out/data.root: is in the output folder, so its output would replace it; choose another -o",
        setup=_input_in_output,
    ),
    # --- one bad input: the others are scored, the last line names it
    Case(
        "input-not-root",
        RUN,
        r"1 of 7 file\(s\) failed: .*extra/bad.root: cannot open as a ROOT file \(no ROOT file header\)$",
        setup=with_extra(lambda p: p.write_text("text\n")),
        may_change=OUT,
        code=3,  # Exit.JOBS_FAILED: the command ran to its end, files failed
    ),
    Case(
        "input-empty",
        RUN,
        r"1 of 7 file\(s\) failed: .*extra/bad.root: cannot open as a ROOT file \(empty file\)$",
        setup=with_extra(lambda p: p.write_bytes(b"")),
        may_change=OUT,
        code=3,  # Exit.JOBS_FAILED: the command ran to its end, files failed
    ),
    Case(
        "input-truncated",
        RUN,
        r"1 of 7 file\(s\) failed: .*extra/bad.root: (cannot read tree 'ljmet' \(truncated or corrupt file|cannot open as a ROOT file)",
        setup=with_extra(_truncated),
        may_change=OUT,
        code=3,  # Exit.JOBS_FAILED: the command ran to its end, files failed
    ),
    Case(
        "input-missing-variable",
        RUN,
        r"1 of 7 file\(s\) failed: .*extra/bad.root: tree 'ljmet' has no branch 'minMleppBjet' \(an input variable of the model\)",
        setup=with_extra(lambda p: _tree(p, "minMleppBjet")),
        may_change=OUT,
        code=3,  # Exit.JOBS_FAILED: the command ran to its end, files failed
    ),
    Case(
        "input-missing-event-key",
        RUN,
        r"1 of 7 file\(s\) failed: event_id 'event_CommonCalc': .*unknown branch 'event_CommonCalc' in .*extra/bad.root",
        setup=with_extra(lambda p: _tree(p, "event_CommonCalc")),
        may_change=OUT,
        code=3,  # Exit.JOBS_FAILED: the command ran to its end, files failed
    ),
    Case(
        "input-has-the-branch",
        [*RUN, "--branch", "AK4HT"],
        r"6 of 6 file\(s\) failed: .*split0.root: tree 'ljmet' already has a branch 'AK4HT'; choose another --branch \(and 5 more; every file's error: .*out/jobs/\*\.err\)",
        setup=base,
        may_change=OUT,
        code=3,  # Exit.JOBS_FAILED: the command ran to its end, files failed
    ),
    Case(
        "input-jagged-variable",
        RUN,
        r"1 of 7 file\(s\) failed: .*extra/bad.root: .*variable 'AK4HTpMETpLepPt' is a variable-length array",
        setup=with_extra(lambda p: _tree(p, "", jagged="AK4HTpMETpLepPt")),
        may_change=OUT,
        code=3,  # Exit.JOBS_FAILED: the command ran to its end, files failed
    ),
    Case(
        "input-no-tree",
        RUN,
        r"1 of 7 file\(s\) failed: .*extra/bad.root: no tree 'ljmet'",
        setup=with_extra(lambda p: uproot.recreate(p).close()),
        may_change=OUT,
        code=3,  # Exit.JOBS_FAILED: the command ran to its end, files failed
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fault(case: Case, tmp_path, capsys, monkeypatch):
    check_case(case, tmp_path, capsys, monkeypatch)


def test_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_a_bad_input_leaves_the_other_outputs_complete(tmp_path, capsys, monkeypatch):
    """The row ``input-not-root`` again: the six good files are scored, the bad one has none."""
    monkeypatch.chdir(tmp_path)
    with_extra(lambda p: p.write_text("text\n"))(tmp_path)
    from faults import run_main

    assert run_main(RUN) == 3  # Exit.JOBS_FAILED
    outputs = sorted(p.name for p in (tmp_path / "out").glob("*.root"))
    assert len(outputs) == 6 and "bad.root" not in outputs
    assert (tmp_path / "extra" / "bad.root").read_text() == "text\n"
    assert np.all([p.stat().st_size > 0 for p in (tmp_path / "out").glob("*.root")])
