"""Bad data inputs through ``fourtop submit`` and ``fourtop run-job``: one fault table.

Every row prepares a dataset configuration (``c.toml``), a bad ntuple, a bad cache or arrays
file in the working directory of :func:`sample_workdir` (the tiny synthetic 2017 samples,
``vars.txt`` with four variables), runs one command and checks the exit code, the last line
on stderr and that nothing in the working directory changed (see :mod:`tests.faults`).
``submit`` loads the importance split (for the correlation matrix) before it creates the
job folder, so a data error leaves no folder behind; ``run-job`` without ``--job-dir``
writes nothing. The cache rows succeed: a cache that cannot be read is rebuilt, one that
cannot be written is skipped with a warning.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import pytest
import uproot

from faults import Case, check_case, fill, run_main, small_disk

VARS = ["AK4HTpMETpLepPt", "NJets_JetSubCalc", "minMleppBjet", "centrality"]
JOB = "Keras_4vars_Seed_15"  # all four variables
SIGNAL = "TTTT_TuneCP5_PSweights_13TeV-amcatnlo-pythia8_split{split}.root"
BACKGROUND = [
    "TTToSemiLeptonic_TuneCP5_PSweights_13TeV-powheg-pythia8_ttjj_split{split}.root",
    "TTTo2L2Nu_TuneCP5_PSweights_13TeV-powheg-pythia8_ttbb_split{split}.root",
]
COMMON = ["-y", "2017", "-l", "vars.txt", "--config", "c.toml"]
SUBMIT = ["submit", *COMMON, "--epochs", "1", "-p", "1", "--yes", "-n", "1", "--random-seed", "1",
          "jobs"]  # fmt: skip
RUN_JOB = ["run-job", *COMMON, "--params", '{"epochs": 1, "batch_size": 256}', JOB]
ARRAYS = ["run-job", "-y", "2017", "-l", "vars.txt", "--params", '{"epochs": 1}',
          "--arrays", "arrays.npz", JOB]  # fmt: skip
#: a finished submit's last line; the job folder is what it legitimately creates
SUBMITTED = r"jobs: (\d+) jobs, \1 finished, 0 failed, 0 unstarted$"
JOB_FOLDER = ("jobs", "jobs/*")

_mounts: list[AbstractContextManager[Path]] = []


@pytest.fixture(autouse=True)
def _unmount() -> Iterator[None]:
    """Unmount the small disks a row's setup mounted."""
    yield
    while _mounts:
        _mounts.pop().__exit__(None, None, None)


def _samples() -> Path:
    return Path(os.environ["FOURTOP_DATA"])


def _toml(value: object) -> str:
    return json.dumps(value)  # a JSON string or list of strings is a TOML one


def config(
    weight: str = "xsecEff",
    selection: str = "AK4HT > 510",
    *,
    tree: str = "ljmet",
    variables: list[object] | None = None,
    signal: list[str] | None = None,
    background: list[str] | None = None,
    raw: dict[str, str] | None = None,
    then: Callable[[Path], object] | None = None,
) -> Callable[[Path], None]:
    """A setup writing ``c.toml`` over the tiny samples (``bad.root`` = the row's bad file).

    ``raw`` replaces the TOML text of a key's value (``{"tree": "3"}``).
    """

    def setup(workdir: Path) -> None:
        def where(name: str) -> str:
            return str(workdir / name) if name == "bad.root" else name

        values = {
            "tree": _toml(tree),
            "weight": _toml(weight),
            "selection": _toml(selection),
            "base_dir": _toml(str(_samples())),
            "variables": _toml(VARS) if variables is None else _inline(variables),
            "signal": _toml([where(n) for n in signal or [SIGNAL]]),
            "background": _toml([where(n) for n in background or BACKGROUND]),
        }
        values.update(raw or {})
        lines = [f"{k} = {v}" for k, v in values.items()]
        lines.insert(5, "[datasets.2017]")
        (workdir / "c.toml").write_text("\n".join(lines) + "\n")
        if then is not None:
            then(workdir)

    return setup


def _inline(variables: list[object]) -> str:
    items = []
    for v in variables:
        if isinstance(v, dict):
            items.append("{" + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + "}")
        else:
            items.append(_toml(v))
    return "[" + ", ".join(items) + "]"


# ------------------------------------------------------------------ bad files


def _folder(workdir: Path) -> None:
    (workdir / "bad.root").mkdir()


def _empty(workdir: Path) -> None:
    (workdir / "bad.root").write_bytes(b"")


def _text(workdir: Path) -> None:
    (workdir / "bad.root").write_text("run,event,AK4HT\n1,2,600\n")


def _truncated(workdir: Path) -> None:
    data = (_samples() / SIGNAL.format(split=0)).read_bytes()
    (workdir / "bad.root").write_bytes(data[: len(data) // 4])  # the baskets are cut off


def _zeroed(workdir: Path) -> None:
    data = bytearray((_samples() / SIGNAL.format(split=0)).read_bytes())
    a, b = len(data) // 10, len(data) // 5
    data[a:b] = bytes(b - a)  # a block of the baskets overwritten
    (workdir / "bad.root").write_bytes(bytes(data))


def _histogram(workdir: Path) -> None:
    with uproot.recreate(workdir / "bad.root") as f:
        f["ljmet"] = np.histogram([1.0, 2.0, 3.0])


def _tree(workdir: Path, n: int, drop: str | None = None, tree: str = "ljmet") -> None:
    rng = np.random.default_rng(0)
    branches = {name: rng.uniform(1, 2, n).astype(np.float32) for name in VARS}
    branches.update(AK4HT=np.full(n, 600.0, np.float32), xsecEff=np.full(n, 0.5))
    if drop is not None:
        del branches[drop]
    with uproot.recreate(workdir / "bad.root") as f:
        f.mktree(tree, {k: v.dtype for k, v in branches.items()})
        if n:
            f[tree].extend(branches)


def _arrays(
    n: int = 200,
    signal_weight: float = 1.0,
    background_weight: float = 1.0,
    drop: str = "",
    replace: dict[str, np.ndarray] | None = None,
) -> Callable[[Path], None]:
    """A setup writing ``arrays.npz`` as ``load_split`` caches it (``replace`` changes keys)."""

    def setup(workdir: Path) -> None:
        rng = np.random.default_rng(1)
        doc: dict[str, object] = {
            "variables": np.asarray(VARS),
            "signal": rng.normal(0.5, 1, (n, 4)).astype(np.float32),
            "signal_weight": np.full(n, signal_weight, np.float32),
            "background": rng.normal(0, 1, (n, 4)).astype(np.float32),
            "background_weight": np.full(n, background_weight, np.float32),
        }
        doc.update(replace or {})
        with open(workdir / "arrays.npz", "wb") as fh:
            np.savez(fh, **{k: v for k, v in doc.items() if k != drop})

    return setup


def _cache_file(content: bytes) -> Callable[[Path], None]:
    """Put ``content`` where the split's cache file goes (``FOURTOP_CACHE=cache``)."""

    def then(workdir: Path) -> None:
        from fourtop.data.config import load_config
        from fourtop.data.ntuples import cache_path

        path = cache_path(load_config(workdir / "c.toml"), "2017", 0, workdir / "cache")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    return then


def _full_cache_disk(workdir: Path) -> None:
    cm = small_disk(workdir / "cache", "512k")
    cm.__enter__()
    _mounts.append(cm)
    fill(workdir / "cache", leave=8192)


W = "weight"
CASES: list[Case] = [
    # ---- weights: constant, not finite in float32, all zero, negative
    Case("weight-1e39-submit", SUBMIT,
         r"weight expression '1e39' gives values that are not finite in float32 in "
         r"\S+TTTT\S+split0\.root", setup=config("1e39")),
    Case("weight-1e39-run-job", RUN_JOB,
         r"error: Keras_4vars_Seed_15: weight expression '1e39' gives values that are not "
         r"finite in float32 in \S+TTTT\S+split0\.root", setup=config("1e39")),
    Case("weight-inf", SUBMIT,
         r"weight expression 'exp\(700\) \* 1e10' gives values that are not finite \(NaN or "
         r"infinite\) in \S+split0\.root", setup=config("exp(700) * 1e10")),
    Case("weight-nan", RUN_JOB,
         r"weight expression 'TMath::Sqrt\(-xsecEff\)' gives values that are not finite \(NaN",
         setup=config("TMath::Sqrt(-xsecEff)")),
    Case("weight-0-submit", SUBMIT,
         r"the weights of the signal are all zero \(weight '0', dataset 2017 split 0, 1 file: "
         r"\S+TTTT", setup=config("0")),
    Case("weight-0-run-job", RUN_JOB, r"the weights of the signal are all zero",
         setup=config("0")),
    Case("weight-1/0", SUBMIT, r"the weights of the signal are all zero \(weight '1/0'",
         setup=config("1/0")),  # ROOT: x / 0 = 0
    Case("weight-zero-for-background", RUN_JOB,
         r"the weights of the background are all zero \(weight 'xsecEff \* \(AK4HT != 600\)', "
         r"dataset 2017 split 0, 1 file: \S+/bad\.root\): no event to train on",
         setup=config("xsecEff * (AK4HT != 600)", background=["bad.root"],
                      then=lambda w: _tree(w, 50))),
    Case("weight-negative-submit", SUBMIT,
         r"the weights of the signal are all negative \(weight '-1', dataset 2017 split 0",
         setup=config("-1")),
    Case("weight-negative-run-job", RUN_JOB, r"the weights of the signal are all negative",
         setup=config("-xsecEff")),
    Case("weight-sum-negative-signal", SUBMIT,
         r"the weights of the signal sum to -[0-9.e+]+ \(<= 0\)",
         setup=config("MCWeight_MultiLepCalc / abs(MCWeight_MultiLepCalc) - 0.9")),
    Case("weight-sum-negative-background", RUN_JOB,
         r"the weights of the background sum to -[0-9.e+]+ \(<= 0\)",
         setup=config("MCWeight_MultiLepCalc / abs(MCWeight_MultiLepCalc) - 0.9",
                      signal=BACKGROUND[:1], background=[SIGNAL])),
    Case("weight-index-past-the-end", SUBMIT,
         r"weight 'theJetPt_JetSubCalc_PtOrdered\[40\]' has no value for any of the \d+ "
         r"signal events the selection keeps \(an index past the end",
         setup=config("theJetPt_JetSubCalc_PtOrdered[40]")),
    Case("weight-unknown-branch", RUN_JOB,
         r"weight 'xsecEf': unknown branch 'xsecEf' in \S+TTTT\S+ \(did you mean: xsecEff",
         setup=config("xsecEf"), new=False),
    Case("weight-syntax-error", SUBMIT,
         r"c\.toml: weight 'xsecEff \*': unexpected end at column 10",
         setup=config("xsecEff *"), new=False),
    Case("weight-number-not-string", SUBMIT, r"c\.toml: 'weight' must be a non-empty string",
         setup=config(raw={"weight": "1"}), new=False),
    # ---- selections: constant, bad, unknown
    Case("selection-0", SUBMIT,
         r"selection keeps no signal events in dataset 2017 split 0 \(1 file\(s\), first \S+TTTT",
         setup=config(selection="0"), new=False),
    Case("selection-1/0", RUN_JOB, r"selection keeps no signal events",
         setup=config(selection="1/0"), new=False),
    Case("selection-syntax-error", RUN_JOB,
         r"c\.toml: selection 'AK4HT > > 510': unexpected '>' at column 9",
         setup=config(selection="AK4HT > > 510"), new=False),
    Case("selection-unknown-branch", SUBMIT,
         r"selection 'AK4HT > 510 && nJets > 5': unknown branch 'nJets' in \S+TTTT",
         setup=config(selection="AK4HT > 510 && nJets > 5"), new=False),
    Case("selection-index-of-a-number", SUBMIT,
         r"selection 'AK4HT\[0\] > 510': branch 'AK4HT' is not an array at column 1",
         setup=config(selection="AK4HT[0] > 510")),
    Case("selection-unindexed-vector", SUBMIT,
         r"branch 'theJetPt_JetSubCalc_PtOrdered' is a variable-length array; index it",
         setup=config(selection="theJetPt_JetSubCalc_PtOrdered > 30"), new=False),
    # ---- ntuple files
    Case("ntuple-missing", SUBMIT, r"\S+/absent\.root: ntuple not found$",
         setup=config(background=[BACKGROUND[0], "absent.root"]), new=False),
    Case("ntuple-is-a-folder", RUN_JOB, r"\S+/bad\.root: is a folder, not an ntuple",
         setup=config(background=[BACKGROUND[0], "bad.root"], then=_folder)),
    Case("ntuple-empty", SUBMIT, r"\S+/bad\.root: cannot open as a ROOT file \(empty file\)",
         setup=config(background=[BACKGROUND[0], "bad.root"], then=_empty)),
    Case("ntuple-not-root", SUBMIT, r"\S+/bad\.root: cannot open as a ROOT file",
         setup=config(background=[BACKGROUND[0], "bad.root"], then=_text), new=False),
    Case("ntuple-truncated", RUN_JOB,
         r"\S+/bad\.root: cannot read tree 'ljmet' \(truncated or corrupt file",
         setup=config(background=[BACKGROUND[0], "bad.root"], then=_truncated)),
    Case("ntuple-truncated-submit", SUBMIT, r"\S+/bad\.root: cannot read tree 'ljmet'",
         setup=config(signal=["bad.root"], then=_truncated)),
    Case("ntuple-corrupt-baskets", SUBMIT,
         r"\S+/bad\.root: cannot read tree 'ljmet' \(truncated or corrupt file: "
         r"DeserializationError\)", setup=config(signal=["bad.root"], then=_zeroed)),
    Case("tree-missing", SUBMIT, r"TTTT\S+: no tree 'Events' \(trees: ljmet\)",
         setup=config(tree="Events"), new=False),
    Case("tree-is-a-histogram", RUN_JOB,
         r"\S+/bad\.root: 'ljmet' is a TH1D, not a tree",
         setup=config(background=[BACKGROUND[0], "bad.root"], then=_histogram)),
    Case("tree-without-entries", SUBMIT,
         r"no background events in dataset 2017 split 0: the tree 'ljmet' of its 1 file\(s\) "
         r"has no entries \(first \S+/bad\.root\)",
         setup=config(background=["bad.root"], then=lambda w: _tree(w, 0))),
    Case("variable-missing-in-one-file", SUBMIT,
         r"\S+/bad\.root: tree 'ljmet' has no branch 'centrality'",
         setup=config(background=[BACKGROUND[0], "bad.root"],
                      then=lambda w: _tree(w, 50, drop="centrality")), new=False),
    Case("variable-is-a-vector", RUN_JOB,
         r"branch 'theJetPt_JetSubCalc_PtOrdered' is a variable-length array",
         setup=config(variables=[*VARS, {"name": "theJetPt_JetSubCalc_PtOrdered"}]), new=False),
    # ---- the configuration file
    Case("config-missing", [*SUBMIT[:6], "none.toml", *SUBMIT[7:]],
         r"none\.toml: dataset configuration not found", new=False),
    Case("config-is-a-folder", RUN_JOB, r"c\.toml: (is a folder|cannot read)",
         setup=lambda w: (w / "c.toml").mkdir(), new=False),
    Case("config-not-toml", SUBMIT, r"c\.toml: not valid TOML",
         setup=lambda w: (w / "c.toml").write_text("tree = [\n"), new=False),
    Case("config-tree-number", SUBMIT, r"c\.toml: 'tree' must be a non-empty string",
         setup=config(raw={"tree": "3"}), new=False),
    Case("config-files-not-a-list", SUBMIT,
         r"c\.toml: datasets\.2017\.signal must be a non-empty list of file names",
         setup=config(raw={"signal": '"a.root"'}), new=False),
    Case("config-dataset-not-a-table", SUBMIT, r"c\.toml: datasets\.2017 must be a table",
         setup=lambda w: (w / "c.toml").write_text(
             'tree = "t"\nweight = "1"\nselection = "1"\n[datasets]\n2017 = 5\n'),
         new=False),
    Case("config-variables-number", RUN_JOB,
         r"c\.toml: 'variables' must be \"all\" or a non-empty list",
         setup=config(raw={"variables": "5"}), new=False),
    Case("config-label-number", SUBMIT,
         r"c\.toml: variables\[0\]: label and unit must be strings",
         setup=config(variables=[{"name": "AK4HTpMETpLepPt", "label": 3}, *VARS[1:]]),
         new=False),
    Case("config-base-dir-number", SUBMIT, r"c\.toml: 'base_dir' must be a non-empty string",
         setup=config(raw={"base_dir": "3"}), new=False),
    Case("config-nul-in-file-name", SUBMIT,
         r"c\.toml: datasets\.2017: bad file name 'a\\x00\.root' \(a NUL character\)",
         setup=config(raw={"signal": '["a\\u0000.root"]'})),
    Case("config-unknown-year", [*SUBMIT[:2], "2019", *SUBMIT[3:]],
         r"c\.toml: no dataset '2019' \(have: 2017\)", setup=config(), new=False),
    # ---- the cache: rebuilt when unreadable, skipped (with a warning) when not writable
    Case("cache-garbage", SUBMIT, SUBMITTED, code=0, env={"FOURTOP_CACHE": "cache"},
         setup=config(then=_cache_file(b"PK\x03\x04 not really a zip")),
         may_change=(*JOB_FOLDER, "cache/arrays_*"), new=False),
    Case("cache-empty-file", SUBMIT, SUBMITTED, code=0, env={"FOURTOP_CACHE": "cache"},
         setup=config(then=_cache_file(b"")), may_change=(*JOB_FOLDER, "cache/arrays_*")),
    Case("cache-under-a-file", SUBMIT, SUBMITTED, code=0,
         env={"FOURTOP_CACHE": "vars.txt/cache"}, setup=config(), may_change=JOB_FOLDER,
         new=False),
    Case("cache-cannot-be-created", SUBMIT, SUBMITTED, code=0,
         env={"FOURTOP_CACHE": "/proc/fourtop-cache"}, setup=config(), may_change=JOB_FOLDER,
         new=False),
    Case("cache-disk-full", SUBMIT, SUBMITTED, code=0, env={"FOURTOP_CACHE": "cache"},
         setup=config(then=_full_cache_disk), may_change=JOB_FOLDER, new=False),
    # ---- run-job --arrays (a shipped cache file)
    Case("arrays-empty-file", ARRAYS, r"arrays\.npz: not a fourtop arrays file \(empty file\)",
         setup=lambda w: (w / "arrays.npz").write_bytes(b"")),
    Case("arrays-not-npz", ARRAYS, r"arrays\.npz: not a fourtop arrays file",
         setup=lambda w: (w / "arrays.npz").write_text("hello"), new=False),
    Case("arrays-missing-key", ARRAYS,
         r"arrays\.npz: not a fourtop arrays file \(no 'signal_weight'\)",
         setup=_arrays(drop="signal_weight"), new=False),
    Case("arrays-wrong-shape", ARRAYS,
         r"arrays\.npz: not a fourtop arrays file \(signal: expected 4 columns",
         setup=_arrays(replace={"signal": np.zeros((10, 3), np.float32)})),
    Case("arrays-weights-length", ARRAYS,
         r"arrays\.npz: not a fourtop arrays file \(background_weight: 7 values for 200 "
         r"background events\)",
         setup=_arrays(replace={"background_weight": np.ones(7, np.float32)})),
    Case("arrays-negative-weights", ARRAYS,
         r"the weights of the background are all negative \(\S*arrays\.npz\)",
         setup=_arrays(background_weight=-1.0)),
    Case("arrays-zero-weights", ARRAYS, r"the weights of the signal are all zero \(\S*arrays",
         setup=_arrays(signal_weight=0.0)),
    Case("arrays-inf-weights", ARRAYS,
         r"arrays\.npz: the signal weights are not finite \(NaN or infinite\)",
         setup=_arrays(signal_weight=np.inf)),
]  # fmt: skip


#: rows that train (a whole submit, ~6 s each) beyond the two kept in the default suite; the
#: library side of each is tested quickly in tests/test_data_ntuples.py
SLOW = {"cache-empty-file", "cache-under-a-file", "cache-cannot-be-created"}


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=pytest.mark.slow) if c.id in SLOW else c for c in CASES], ids=str
)
def test_bad_data_input(case, sample_workdir, capsys, monkeypatch):
    check_case(case, sample_workdir, capsys, monkeypatch)


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and set(ids) >= SLOW


# ------------------------------------------------------------------ a constant weight works


def _roc(text: str) -> float:
    match = re.search(r"^ROC-integral: (\S+)$", text, re.M)
    assert match, text
    return float(match.group(1))


def test_unit_weight_trains_in_submit(sample_workdir, capsys):
    config("1", "1")(sample_workdir)  # unweighted, every event
    assert run_main(SUBMIT) == 0, capsys.readouterr().err
    outs = sorted((sample_workdir / "jobs").glob("*.out"))
    assert len(outs) >= 2  # a seed and its subseeds
    for path in outs:
        assert 0.0 <= _roc(path.read_text()) <= 1.0


@pytest.mark.parametrize("selection", ["AK4HT > 510", "1"])
def test_unit_weight_trains_in_run_job(sample_workdir, capsys, selection):
    config("1", selection)(sample_workdir)
    assert run_main(RUN_JOB) == 0, capsys.readouterr().err
    assert 0.5 < _roc(capsys.readouterr().out) <= 1.0


def test_unwritable_cache_warns_and_goes_on(sample_workdir, capsys, monkeypatch, caplog):
    config()(sample_workdir)
    monkeypatch.setenv("FOURTOP_CACHE", str(sample_workdir / "vars.txt" / "cache"))
    assert run_main(RUN_JOB) == 0
    assert 0.0 <= _roc(capsys.readouterr().out) <= 1.0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(m.startswith("not caching the arrays: cannot write") for m in warnings), warnings
