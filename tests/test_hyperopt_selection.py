"""Choosing the variables: results-file columns, -o files, -n counts and ranges."""

from __future__ import annotations

import logging

import pytest

from fourtop.errors import ParameterError, ResultsError, VariableError
from fourtop.hyperopt.selection import find_results_file, parse_count, select_variables

#: name, freq, sum, mean, rms, importance (an original file: RMS 0 gave Importance inf)
ROWS = [
    ("AK4HT", 250, 1.5, 0.0120, 0.0100, "1.200"),
    ("NJets_JetSubCalc", 254, 3.1415, 0.0123, 0.0050, "2.460"),
    ("MT_lepMet", 240, 0.2, 0.0008, 0.0200, "0.040"),
    ("minDR_lepJet", 10, 0.0, 0.0000, 0.0000, "inf"),
]


def write_results(folder, rows=ROWS, nvars=None):
    """A results file exactly in the original's format."""
    nvars = nvars or len(rows)
    lines = [
        "Weight: w",
        "Cut: c",
        "Folders:",
        " - condor_log_17.Jun.2020",
        f"Number of Variables: {nvars}",
        "Date: 2020-07-14",
        "",
        "Importance Calculation:",
        "Normalization: 3.3415",
        "Index  / Variable Name                      / Freq.  / Sum     / Mean    / RMS"
        "         / Importance",
    ]
    for i, (name, freq, s, mean, rms, imp) in enumerate(rows, 1):
        lines.append(
            f"{f'{i}.':<6} / {name:<34} / {freq:<6} / {s:<7.4f} / {mean:<7.4f} / {rms:<11.4f}"
            f" / {imp}"
        )
    path = folder / f"VariableImportanceResults_{nvars}vars.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sorted_by_each_column(tmp_path, caplog):
    write_results(tmp_path)
    with caplog.at_level(logging.WARNING):
        sel = select_variables(tmp_path)
    assert sel.variables == ["NJets_JetSubCalc", "AK4HT", "MT_lepMet", "minDR_lepJet"]
    assert "inf" in caplog.text  # the original's inf is read as 0, with a warning
    assert select_variables(tmp_path, "freq").variables[0] == "NJets_JetSubCalc"
    assert select_variables(tmp_path, "rms", increasing=True).variables[:2] == [
        "minDR_lepJet",
        "NJets_JetSubCalc",
    ]
    assert sel.order == "importance (descending)" and sel.positions == (1, 4)


def test_count_and_range(tmp_path):
    write_results(tmp_path)
    assert select_variables(tmp_path, count="2").variables == ["NJets_JetSubCalc", "AK4HT"]
    sel = select_variables(tmp_path, count="2-3")
    assert sel.variables == ["AK4HT", "MT_lepMet"] and sel.positions == (2, 3)
    assert select_variables(tmp_path, count="3-3").variables == ["MT_lepMet"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("0", "-n 0: expected at least 1 variable"),
        ("5", "-n 5: .*VariableImportanceResults_4vars.txt has only 4 variables"),
        ("3-2", r"-n 3-2: empty range \(3 is after 2\)"),
        ("0-2", "-n 0-2: positions start at 1"),
        ("2-9", "has only 4 variables"),
        ("ten", "-n 'ten': expected a number of variables"),
        ("-3", "-n '-3': expected a number"),
    ],
)
def test_bad_counts(tmp_path, spec, message):
    write_results(tmp_path)
    with pytest.raises(ParameterError, match=message):
        select_variables(tmp_path, count=spec)


def test_file_order(tmp_path):
    order = tmp_path / "custom.txt"
    order.write_text("MT_lepMet\nAK4HT\n\nNJets_JetSubCalc\n")
    sel = select_variables(tmp_path, str(order), count="2", known=["AK4HT", "MT_lepMet", "x"])
    assert sel.variables == ["MT_lepMet", "AK4HT"] and sel.order == "file order"


def test_unknown_variable_in_file(tmp_path):
    order = tmp_path / "custom.txt"
    order.write_text("AK4HT\nNJets\n")
    with pytest.raises(
        VariableError,
        match=r"custom.txt: variable 2 'NJets' is not in the "
        r"dataset configuration \(did you mean: NJets_JetSubCalc",
    ):
        select_variables(tmp_path, str(order), known=["AK4HT", "NJets_JetSubCalc"])


def test_unknown_variable_in_results(tmp_path):
    write_results(tmp_path)
    with pytest.raises(VariableError, match="variable 3 'MT_lepMet' is not in the dataset"):
        select_variables(tmp_path, known=["AK4HT", "NJets_JetSubCalc", "minDR_lepJet"])


def test_bad_order_and_missing_files(tmp_path):
    write_results(tmp_path)
    with pytest.raises(
        ParameterError,
        match=r"-o 'importnce': neither a column .*did you mean: "
        r"importance",
    ):
        select_variables(tmp_path, "importnce")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ResultsError, match=r"empty: no VariableImportanceResults_<N>vars.txt"):
        select_variables(empty)
    with pytest.raises(ResultsError, match="dataset folder not found"):
        find_results_file(tmp_path / "nope")


def test_largest_results_file_is_used(tmp_path):
    write_results(tmp_path, ROWS[:2], nvars=2)
    big = write_results(tmp_path, ROWS, nvars=12)
    assert find_results_file(tmp_path) == big


def test_parse_count_defaults_to_all(tmp_path):
    assert parse_count(None, 7, tmp_path) == (1, 7)
    assert parse_count(" 2 - 5 ", 7, tmp_path) == (2, 5)
