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
