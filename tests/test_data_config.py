"""Dataset configuration: the packaged default, user files, and every malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from fourtop.data.config import load_config
from fourtop.data.paths import default_cache_dir, default_data_dir
from fourtop.errors import ConfigError, ExpressionError
from fourtop.variables import default_variables

MINIMAL = """
tree = "ljmet"
weight = "xsecEff"
selection = "AK4HT > 510"
{extra}
[datasets.2017]
signal = ["sig_split{{split}}.root"]
background = ["bkg_split{{split}}.root"]
"""
BASE = MINIMAL.format(extra="")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dataset.toml"
    path.write_text(text)
    return path


def test_default_config_has_original_names_and_strings(monkeypatch, tmp_path):
    monkeypatch.setenv("FOURTOP_DATA", str(tmp_path))
    config = load_config()
    assert config.is_default and config.tree == "ljmet"
    assert config.variable_names() == default_variables()
    assert config.keys() == ["2017", "2018"]
    assert config.weight.endswith("(MCWeight_MultiLepCalc / abs(MCWeight_MultiLepCalc) ) * xsecEff")
    assert "&&( NJets_JetSubCalc >= 6 )" in config.selection
    files = config.files("2017", 0)
    assert files.signal == (
        tmp_path.resolve() / "TTTT_TuneCP5_PSweights_13TeV-amcatnlo-pythia8_split0.root",
    )
    assert len(files.background) == 10
    assert all(p.name.endswith("_split0.root") for p in files.background)
    assert (
        config.files("2018", 2).signal[0].name == "TTTT_TuneCP5_13TeV-amcatnlo-pythia8_split2.root"
    )


def test_env_variables_choose_folders_and_config(monkeypatch, tmp_path):
    monkeypatch.setenv("FOURTOP_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("FOURTOP_CACHE", str(tmp_path / "c"))
    assert default_data_dir() == tmp_path / "d"
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("FOURTOP_DATA")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "fourtop" / "samples"
    path = _write(tmp_path, MINIMAL.format(extra=""))
    monkeypatch.setenv("FOURTOP_CONFIG", str(path))
    config = load_config()
    assert not config.is_default
    assert config.files("2017", 1).signal == (tmp_path.resolve() / "sig_split1.root",)


def test_user_config_base_dir_variables_and_split_tables(tmp_path):
    text = (
        MINIMAL.format(
            extra='base_dir = "ntuples"\n'
            'variables = ["AK4HT", {name = "myVar", label = "x", unit = "GeV"}]\n'
        )
        + '[datasets.2017.split2]\nsignal = ["/abs/final_sig.root"]\nbackground = ["b.root"]\n'
    )
    config = load_config(_write(tmp_path, text))
    assert config.variable_names() == ["AK4HT", "myVar"]
    assert config.variables[0].unit == "GeV" and config.variables[1].label == "x"
    assert config.files("2017", 0).background == (tmp_path.resolve() / "ntuples/bkg_split0.root",)
    assert config.files("2017", 2).signal == (Path("/abs/final_sig.root"),)


def test_fingerprint_follows_what_decides_the_arrays(tmp_path):
    a = load_config(_write(tmp_path, BASE))
    assert a.fingerprint() == load_config(a.path).fingerprint()
    b = load_config(_write(tmp_path, BASE.replace("510", "500")))
    assert a.fingerprint() != b.fingerprint()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (MINIMAL.format(extra='variables = ["AK4HT", "NJets"]'),
         "variables[1]: unknown variable 'NJets' (did you mean: NJetsWtagged"),
        (MINIMAL.format(extra='variables = ["AK4HT", "AK4HT"]'),
         "variable 'AK4HT' is listed twice"),
        (MINIMAL.format(extra="variables = []"), "'variables' must be \"all\" or a non-empty list"),
        (MINIMAL.format(extra='tre = "x"'), "unknown key 'tre' (did you mean: tree"),
        (BASE.replace('tree = "ljmet"', ""), "missing key 'tree'"),
        (BASE.replace('"xsecEff"', "3"), "'weight' must be a non-empty string"),
        (BASE.replace("[datasets.2017]", "[datasets.2017]\nsignl = []"),
         "datasets.2017: unknown key 'signl' (did you mean: signal"),
        (BASE.replace('signal = ["sig_split{split}.root"]', "signal = []"),
         "datasets.2017.signal must be a non-empty list of file names"),
        (BASE.replace("{split}", "{year}"), "bad file name pattern 'sig_split{year}.root'"),
        ("tree = [", "not valid TOML"),
        (BASE.split("[datasets")[0], "'datasets' must be a table"),
        (BASE.replace('"xsecEff"', "1"),
         "'weight' must be a non-empty string (a constant is a string too: weight = \"1\")"),
        (BASE.replace('"AK4HT > 510"', "true"), "'selection' must be a non-empty string"),
        (BASE.replace("sig_split{split}", "sig\\u0000{split}"),
         "datasets.2017: bad file name 'sig\\x000.root' (a NUL character)"),
        (MINIMAL.format(extra='base_dir = "a\\u0000b"'),
         "base_dir: bad file name 'a\\x00b' (a NUL character)"),
        (BASE.split("[datasets")[0] + "[datasets]\n2017 = 5\n", "datasets.2017 must be a table"),
        (BASE.split("[datasets")[0] + "datasets = 5\n", "'datasets' must be a table"),
        (BASE.replace('"sig_split{split}.root"', "1"),
         "datasets.2017.signal must be a non-empty list of file names"),
    ],
)  # fmt: skip
def test_malformed_config_names_file_and_key(tmp_path, text, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert fragment in str(info.value)


def test_bad_expression_in_config_names_file_and_column(tmp_path):
    path = _write(tmp_path, MINIMAL.format(extra="").replace("AK4HT > 510", "AK4HT > > 510"))
    with pytest.raises(ExpressionError, match=r"dataset.toml: selection 'AK4HT > > 510': "
                       r"unexpected '>' at column 9"):  # fmt: skip
        load_config(path)


def test_missing_config_and_unknown_key_or_split(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: dataset configuration not found"):
        load_config(tmp_path / "nope.toml")
    config = load_config(_write(tmp_path, MINIMAL.format(extra="")))
    with pytest.raises(ConfigError, match="no dataset '2019' \\(have: 2017\\)"):
        config.files("2019", 0)
    with pytest.raises(ConfigError, match="split must be 0, 1 or 2, not 3"):
        config.files("2017", 3)


def test_config_that_is_a_folder_or_not_text(tmp_path):
    folder = tmp_path / "dataset.toml"
    folder.mkdir()
    with pytest.raises(
        ConfigError, match=r"dataset\.toml: is a folder, not a dataset configuration"
    ):
        load_config(folder)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b'tree = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match=r"binary\.toml: cannot read \(not UTF-8 text"):
        load_config(binary)


def test_constant_weight_and_selection_are_valid(tmp_path):
    text = BASE.replace('"xsecEff"', '"1"').replace('"AK4HT > 510"', '"1"')
    config = load_config(_write(tmp_path, text))
    assert config.weight == "1" and config.selection == "1"
