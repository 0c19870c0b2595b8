"""``fourtop generate``: files, determinism, and bad options."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import uproot

from fourtop.cli import main
from fourtop.data.config import load_config
from fourtop.data.generate import sample_files
from fourtop.variables import default_variables


def _digest(path):
    with uproot.open(path) as f:
        arrays = f["ljmet"].arrays(["AK4HT", "MCWeight_MultiLepCalc"], library="np")
    return hashlib.sha256(arrays["AK4HT"].tobytes() + arrays["MCWeight_MultiLepCalc"].tobytes())


def test_generate_writes_every_default_file_deterministically(tmp_path, monkeypatch, capsys):
    out = tmp_path / "s"
    assert main(["generate", "--output", str(out), "--events", "400", "-y", "2018"]) == 0
    names = {name for _, _, name in sample_files(["2018"])}
    assert {p.name for p in out.iterdir()} == names and len(names) == 33
    assert "wrote 33 files" in capsys.readouterr().err
    monkeypatch.setenv("FOURTOP_DATA", str(out))
    signal = load_config().files("2018", 0).signal[0]
    with uproot.open(signal) as f:
        tree = f["ljmet"]
        assert set(default_variables()) <= set(tree.keys())
        jets = tree["theJetPt_JetSubCalc_PtOrdered"].array()
        njets = tree["NJets_JetSubCalc"].array(library="np")
        five = tree["fifthJetPt"].array(library="np")
        assert tree["PtFifthJet"].array(library="np").tolist() == five.tolist()
        assert np.array_equal(np.asarray([len(j) for j in jets]), njets)
        assert (tree["L1NonPrefiringProb_CommonCalc"].array(library="np") == 1).all()  # 2018
    first = _digest(signal)
    again = tmp_path / "again"
    assert main(["generate", "-o", str(again), "-n", "400", "-y", "2018", "-s", "1"]) == 0
    assert _digest(again / signal.name).digest() == first.digest()
    assert main(["generate", "-o", str(again), "-n", "400", "-y", "2018", "-s", "2"]) == 0
    assert _digest(again / signal.name).digest() != first.digest()


def test_bad_options_fail_with_one_line_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "s"
    with pytest.raises(SystemExit) as exc:
        main(["generate", "-o", str(out), "-n", "0"])
    assert exc.value.code == 2
    assert "fourtop generate: error: argument --events/-n: 0: must be at least 1" in (
        capsys.readouterr().err
    )
    assert main(["generate", "-o", str(out), "-y", "2019"]) == 1
    assert "unknown dataset key '2019'" in capsys.readouterr().err
    assert not out.exists()
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    assert main(["generate", "-o", str(blocker / "x"), "-n", "10"]) == 1
    assert "cannot create the output folder" in capsys.readouterr().err
    assert blocker.read_text() == "keep me"


def test_library_refuses_bad_events_and_seeds(tmp_path):
    from fourtop.data.generate import generate_samples
    from fourtop.errors import DataError

    for kwargs, message in (
        ({"events": 0}, "number of events must be positive, not 0"),
        ({"events": 10, "seed": -1}, "random seed must be a whole number from 0 to 4294967295"),
        ({"events": 10, "seed": 2**32}, "random seed must be a whole number"),
    ):
        with pytest.raises(DataError, match=message):
            generate_samples(tmp_path / "s", keys=("2017",), **kwargs)
    assert not (tmp_path / "s").exists()


def test_preset_and_split_options(tmp_path, monkeypatch, capsys):
    """``--preset`` names the sizes (signal and background files apart); ``--split`` picks
    splits. The generator is replaced: the analysis preset takes hours."""
    import fourtop.data.generate as generate
    from fourtop.data.generate import PRESETS, SampleSize

    calls = []

    def fake(out_dir, events, seed, keys, progress, advance, splits):
        calls.append((events, keys, splits))
        return [out_dir / name for _, _, name in sample_files(keys, splits)]

    monkeypatch.setattr(generate, "generate_samples", fake)
    out = str(tmp_path / "s")
    assert main(["generate", "-o", out, "--preset", "analysis", "-y", "2017", "--split", "0"]) == 0
    assert calls.pop() == (PRESETS["analysis"], ("2017",), (0,))
    err = capsys.readouterr().err
    assert "wrote 11 files (preset analysis: 16000000 events generated per signal file, " in err
    assert main(["generate", "-o", out, "-n", "7", "--split", "2", "--split", "1"]) == 0
    assert calls.pop() == (SampleSize(7, 7), ("2017", "2018"), (1, 2))
    assert main(["generate", "-o", out, "--preset", "default"]) == 0
    assert calls.pop()[0] == SampleSize(80_000, 80_000) and "80000 events generated each" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--preset", "analysis", "-n", "5"], "argument --events/-n: not allowed with argument "
         "--preset"),
        (["-n", "5", "--preset", "default"], "argument --preset: not allowed with argument "
         "--events/-n"),
        (["--preset", "huge"], "argument --preset: invalid choice: 'huge' (choose from "),
        (["--split", "3"], "argument --split: invalid choice: 3 (choose from "),
        (["--split", "one"], "argument --split: invalid int value: 'one'"),
    ],
)  # fmt: skip
def test_conflicting_or_bad_size_options_exit_2(tmp_path, capsys, argv, message):
    out = tmp_path / "s"
    with pytest.raises(SystemExit) as exc:
        main(["generate", "-o", str(out), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"fourtop generate: error: {message}" in err
    assert err.strip().splitlines()[-1].startswith("fourtop generate: error: ")
    assert not out.exists()


def test_one_split_leaves_the_others(tmp_path):
    from fourtop.data.generate import SampleSize, generate_samples

    out = tmp_path / "s"
    out.mkdir()
    other = out / sample_files(["2017"], (1,))[0][2]
    other.write_bytes(b"split 1 of an earlier run\n")
    done = []
    written = generate_samples(
        out, SampleSize(300, 100), seed=2, keys=("2017",), splits=(0,), advance=done.append
    )
    assert sorted(p.name for p in written) == sorted(n for _, _, n in sample_files(["2017"], (0,)))
    assert sum(done) == 300 + 10 * 100  # the signal file gets the signal size
    assert other.read_bytes() == b"split 1 of an earlier run\n"
    assert {p.name for p in out.iterdir()} == {p.name for p in written} | {other.name}


def test_event_numbers_of_large_files_do_not_overlap():
    import itertools
    import zlib

    from fourtop.data.generate import PRESETS, first_event_number

    names = sample_files(["2017", "2018"])
    for events in (80_000, PRESETS["analysis"].signal, 100_000_000):
        starts = sorted(first_event_number(k, s, n, events) for k, s, n in names)
        assert all(b - a >= events for a, b in itertools.pairwise(starts))
    key, split, name = names[0]  # files up to 10^7 events keep the numbers they had
    old = 1 + (zlib.crc32(f"{key}/{split}/{name}".encode()) % 100_000) * 10_000_000
    assert first_event_number(key, split, name, 80_000) == old


def test_library_refuses_bad_splits_and_sizes(tmp_path):
    from fourtop.data.generate import SampleSize, generate_samples
    from fourtop.errors import DataError

    with pytest.raises(DataError, match="split 3: the splits are 0, 1 and 2"):
        generate_samples(tmp_path / "s", 10, keys=("2017",), splits=(3,))
    with pytest.raises(DataError, match="number of events must be positive, not 0"):
        generate_samples(tmp_path / "s", SampleSize(10, 0), keys=("2017",))
    assert not (tmp_path / "s").exists()
