"""fourtop.importance.request: what ``fourtop calculate`` checks before reading any folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from fourtop.errors import JobFolderError, OutputError, ResultsError
from fourtop.importance.request import (
    CalculationRequest,
    check_sort_key,
    import_question,
    prepare_calculation,
    weight_and_cut,
)
from fourtop.naming import default_dataset_folder_name
from fourtop.variables import default_variables


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "condor_log_A").mkdir()
    return tmp_path


@pytest.mark.parametrize("key", ["importance", "freq", "sum", "mean", "rms"])
def test_known_sort_keys(key: str) -> None:
    check_sort_key(key)


def test_unknown_sort_key_names_the_option_and_a_guess() -> None:
    with pytest.raises(ResultsError) as err:
        check_sort_key("imp")
    assert str(err.value) == (
        "unknown sort order 'imp' for -o: choose one of importance, freq, sum, mean, rms "
        "(did you mean: importance?)"
    )


def test_request_with_defaults(here: Path) -> None:
    from fourtop.data.config import load_config

    request = prepare_calculation([Path("condor_log_A")], sort_key="freq", output_folder=None)
    cfg = load_config()
    assert request == CalculationRequest(
        [Path("condor_log_A")], here / default_dataset_folder_name(), cfg.weight, cfg.selection
    )
    assert request.output.is_absolute() and not request.output.exists()  # nothing created


def test_request_output_folder_given(here: Path) -> None:
    request = prepare_calculation([Path("condor_log_A")], sort_key="rms", output_folder="o/p")
    assert request.output == here / "o" / "p"


def test_checks_in_order(here: Path) -> None:
    # the sort key first, then the output name, then the inputs, then the output folder
    with pytest.raises(ResultsError, match="unknown sort order"):
        prepare_calculation([], sort_key="x", output_folder=" ")
    with pytest.raises(OutputError, match=r"^-f: the output folder name is empty$"):
        prepare_calculation([], sort_key="sum", output_folder=" ")
    with pytest.raises(JobFolderError) as err:
        prepare_calculation([], sort_key="sum", output_folder="out")
    assert str(err.value) == (
        f"{here}: no condor_log* folders or .jtd files here; name the job folders"
    )
    (here / "afile").write_text("")
    with pytest.raises(JobFolderError, match=r"^nope: no such job folder or \.jtd file$"):
        prepare_calculation(
            [Path("condor_log_A"), Path("nope")], sort_key="sum", output_folder="afile"
        )
    with pytest.raises(OutputError, match="afile: exists and is not a folder; choose another -f"):
        prepare_calculation([Path("condor_log_A")], sort_key="sum", output_folder="afile")


def test_weight_and_cut_from_a_config(tmp_path: Path) -> None:
    from fourtop.data.config import load_config

    cfg = load_config()
    assert weight_and_cut(None) == (cfg.weight, cfg.selection)


def test_import_question(tmp_path: Path) -> None:
    folder = tmp_path / "condor_log_X"
    folder.mkdir()
    n = len(default_variables())
    assert import_question(folder) == (
        f"{folder} has no spec file. Import it with the default {n} variables?"
    )
    (folder / "fourtop-varlist.txt").write_text("a\nb\n")
    assert import_question(folder) == (
        f"{folder} has no spec file. Import it with its fourtop-varlist.txt?"
    )
