"""``fourtop calculate`` end to end on job folders built with the real job-tracker API."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from fourtop.cli import main
from fourtop.naming import default_dataset_folder_name
from fourtop.variables import default_variables
from importance_folders import FAILED, UNSTARTED, make_folder, make_unimported_folder

V = ["a", "b", "c", "d", "e"]

# folder A (a job folder): seed bits -> (seed ROC, {dropped variable: subseed ROC})
FOLDER_A = {
    "11100": (0.80, {"a": 0.75, "b": 0.78, "c": FAILED}),
    "11010": (0.82, {"a": 0.79, "b": 0.81, "d": 0.80}),
    "01110": (FAILED, {"b": 0.60, "c": 0.60, "d": 0.6}),  # failed seed: subseeds ignored
    "10100": (UNSTARTED, {"a": 0.70, "c": UNSTARTED}),  # missing seed result
}
# folder B (compacted): repeats seed 11100 (ignored, A comes first), e has one difference
FOLDER_B = {
    "11100": (0.90, {"a": 0.50, "b": 0.85}),
    "10001": (0.77, {"a": 0.70, "e": 0.76}),
    "00011": (0.70, {"d": 0.71, "e": FAILED}),
}


def expected(*folders):
    """Independent computation: first result of each job name wins."""
    seeds, subs = {}, {}
    for fams in folders:
        for bits, (sroc, dropped) in fams.items():
            if isinstance(sroc, float):
                seeds.setdefault(bits, sroc)
            for var, roc in dropped.items():
                if isinstance(roc, float):
                    subs.setdefault((bits, var), roc)
    freq = {v: sum(b[i] == "1" for b in seeds) for i, v in enumerate(V)}
    diffs = {v: [] for v in V}
    for (bits, var), roc in subs.items():
        if bits in seeds:
            diffs[var].append(seeds[bits] - roc)
    return freq, diffs


def compacted(path: Path, variables, families) -> Path:
    """A compacted folder that keeps its failed jobs (compaction forced past them)."""
    from fourtop.jobtracker import JobFolder

    JobFolder(str(make_folder(path, variables, families))).compact_folder(force=True)
    return path.with_name(path.name + ".jtd")


@pytest.fixture
def folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = make_folder(tmp_path / "condor_log_A", V, FOLDER_A)
    b = compacted(tmp_path / "condor_log_B", V, FOLDER_B)
    return a, b


def table_rows(path: Path) -> list[dict[str, str]]:
    lines = path.read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Index"))
    keys = [k.strip().lower().replace(".", "") for k in lines[start].split("/")]
    return [
        dict(zip(keys, (c.strip() for c in ln.split("/")), strict=True))
        for ln in lines[start + 1 :]
        if ln.strip()
    ]


def test_numbers_from_mixed_folders(folders, tmp_path, capsys):
    a, b = folders
    assert main(["calculate", "-f", "out", "--bootstrap", "100", str(a), str(b)]) == 0
    stdout = capsys.readouterr().out
    results = tmp_path / "out" / "VariableImportanceResults_5vars.txt"
    rows = {r["variable name"]: r for r in table_rows(results)}
    freq, diffs = expected(FOLDER_A, FOLDER_B)
    assert diffs["a"] == pytest.approx([0.05, 0.03, 0.07])  # B's duplicate seed ignored
    assert diffs["c"] == [] and len(diffs["e"]) == 1
    for v in V:
        row = rows[v]
        assert int(row["freq"]) == freq[v]
        d = diffs[v]
        assert float(row["sum"]) == pytest.approx(math.fsum(d), abs=5e-5)
        if len(d) >= 2 and statistics.pstdev(d) > 0:
            assert float(row["mean"]) == pytest.approx(statistics.fmean(d), abs=5e-5)
            assert float(row["rms"]) == pytest.approx(statistics.pstdev(d), abs=5e-5)
            assert float(row["importance"]) == pytest.approx(
                statistics.fmean(d) / statistics.pstdev(d), abs=5e-4
            )
        else:  # never tested (c) or one difference (e): importance 0, never inf
            assert row["importance"] == "0.000"
    text = results.read_text()
    norm = float(text.split("Normalization: ")[1].split()[0])
    assert norm == pytest.approx(sum(math.fsum(d) for d in diffs.values()))
    assert f" - {a.resolve()}\n - {b.resolve()}\n" in text
    assert "Never Tested: c\n" in text and "Importance Undefined: e\n" in text
    assert table_rows(results)[-1]["variable name"] == "c"
    from fourtop.data.config import load_config

    cfg = load_config()
    assert text.startswith(f"Weight: {cfg.weight}\nCut: {cfg.selection}\nFolders:\n")
    # screen: ranking, never tested, undefined, where the files are
    assert "Variable importance" in stdout and "Never tested (1): c" in stdout
    assert "Importance undefined" in stdout and str(results) in " ".join(stdout.split())
    for name in (
        "VariableImportanceOrder_5vars.txt",
        "ROC_hists_5vars.root",
        "VariableImportance_5vars.json",
        "VariableImportance_5vars.csv",
        "VariableImportanceRanking_5vars.png",
        "ROC_differences_5vars.png",
    ):
        assert (tmp_path / "out" / name).is_file()


def test_defaults_folders_and_output_name(folders, tmp_path):
    assert main(["calculate", "--no-plots", "--bootstrap", "0"]) == 0
    out = tmp_path / default_dataset_folder_name()
    text = (out / "VariableImportanceResults_5vars.txt").read_text()
    assert "condor_log_A\n" in text and "condor_log_B.jtd\n" in text


@pytest.mark.parametrize("key", ["importance", "freq", "sum", "mean", "rms"])
@pytest.mark.parametrize("increasing", [False, True])
def test_every_sort_order(folders, tmp_path, key, increasing):
    args = ["calculate", "-f", "o", "-o", key, "--no-plots", "--bootstrap", "0"]
    assert (
        main(args + (["--sort-increasing"] if increasing else []) + [str(f) for f in folders]) == 0
    )
    rows = table_rows(tmp_path / "o" / "VariableImportanceResults_5vars.txt")
    assert rows[-1]["variable name"] == "c"  # never tested stays last
    values = [float(r[key]) for r in rows[:-1]]
    assert values == sorted(values, reverse=not increasing)
    order = (tmp_path / "o" / "VariableImportanceOrder_5vars.txt").read_text().split()
    assert order == [r["variable name"] for r in rows]


def test_unimported_folder_needs_yes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    names = default_variables()
    bits = "1" * 3 + "0" * (len(names) - 3)
    seed_bits_2 = "1" * 4 + "0" * (len(names) - 4)
    folder = make_unimported_folder(
        tmp_path / "condor_log_old",
        names,
        {
            bits: (0.8, {names[0]: 0.7, names[1]: 0.79}),
            seed_bits_2: (0.81, {names[0]: 0.75, names[1]: 0.8, names[3]: 0.805}),
        },
    )
    before = sorted(p.name for p in folder.iterdir())
    assert main(["calculate", "-f", "out", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "no terminal" in err
    assert f"fourtop calculate: error: {folder}: has no spec file; import it" in err
    assert sorted(p.name for p in folder.iterdir()) == before
    assert not (tmp_path / "out").exists()
    assert main(["calculate", "-f", "out", "--yes", "--no-plots", str(folder)]) == 0
    rows = table_rows(tmp_path / "out" / "VariableImportanceResults_76vars.txt")
    assert rows[0]["variable name"] == names[0] and len(rows) == 76
    assert (folder / "condor_log_old.jtd").is_file()


def _assert_fails(args, message, capsys, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(args) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    err = lines[-1]  # before it, at most the plain progress lines ("reading job folders ...")
    assert err.startswith("fourtop calculate: error: ")
    assert all(line.endswith(" ...") for line in lines[:-1]), lines
    assert message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_missing_folder(folders, tmp_path, capsys):
    _assert_fails(
        ["calculate", "-f", "out", str(folders[0]), "nowhere"],
        "nowhere: no such job folder or .jtd file",
        capsys,
        tmp_path,
    )


def test_unknown_sort_key(folders, tmp_path, capsys):
    _assert_fails(
        ["calculate", "-o", "importnce"],
        "unknown sort order 'importnce' for -o: choose one of importance, freq, sum, "
        "mean, rms (did you mean: importance?)",
        capsys,
        tmp_path,
    )


def test_folder_without_results(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make_folder(tmp_path / "condor_log_bad", V, {"11000": (FAILED, {"a": FAILED})})
    _assert_fails(
        ["calculate", "-f", "out"],
        "no seed job with a ROC-integral result in the input folders",
        capsys,
        tmp_path,
    )


def test_no_folders_here(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _assert_fails(["calculate"], "no condor_log* folders or .jtd files here", capsys, tmp_path)


def test_output_is_a_file(folders, tmp_path, capsys):
    (tmp_path / "taken").write_text("keep me\n")
    _assert_fails(
        ["calculate", "-f", "taken", "--no-plots"],
        "taken: exists and is not a folder",
        capsys,
        tmp_path,
    )
    assert (tmp_path / "taken").read_text() == "keep me\n"
