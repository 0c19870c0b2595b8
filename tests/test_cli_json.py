"""``--json`` outputs (``folders``, ``calculate``): strict JSON on stdout, valid against the
packaged schemas (``fourtop/schemas``), with the values the tables show."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from fourtop.cli import main
from fourtop.jobtracker import JobFolder
from test_jobtracker import V4, finish_all, mixed_folder


def schema(kind: str) -> dict:
    text = resources.files("fourtop").joinpath(f"schemas/{kind}.schema.json").read_text()
    doc = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(doc)
    return doc


def validated(kind: str, stdout: str) -> dict:
    """``stdout`` parsed as strict JSON (NaN refused) and checked against the schema."""

    def refuse(name: str) -> None:
        raise AssertionError(f"not strict JSON: {name}")

    doc = json.loads(stdout, parse_constant=refuse)
    jsonschema.validate(doc, schema(kind), cls=jsonschema.Draft202012Validator)
    return doc


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def folders_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main(["folders", "--json", *argv])
    captured = capsys.readouterr()
    return code, validated("folders", captured.out), captured.err


def test_folders_json_counts_failed_and_held(work: Path, capsys: pytest.CaptureFixture[str]):
    path = mixed_folder(work)
    JobFolder(path, load=False).import_folder(V4)
    code, doc, err = folders_json(capsys, str(path))
    assert code == 0, err
    assert doc["schema"] == "fourtop-folders/1"
    (record,) = doc["folders"]
    assert record["path"] == str(path) and record["compacted"] is False and record["error"] is None
    assert record["jobs"] == 7 and record["seeds"] == 2
    states = record["states"]
    assert sum(states.values()) == 7
    assert states["failed"] == 1 and states["held"] == 1
    # the table's "finished" (3) is finished + failed here
    assert states["finished"] + states["failed"] == 3
    (failed,) = record["failed_jobs"]
    assert failed["name"] == "Keras_4vars_Seed_14_Subseed_6"
    assert failed["reason"].startswith("killed by signal 9")
    (held,) = record["held_jobs"]
    assert held["name"] == "Keras_4vars_Seed_14_Subseed_10"
    assert "slot1_2@node17.example.org" in held["reason"]
    assert set(record["variables"]) == set(V4)
    # what the table shows, from the same folder
    assert main(["folders", str(path)]) == 0
    table = capsys.readouterr().out
    assert "3 (42.9%)" in table and "1 (14.3%)" in table


def test_folders_json_compacted_and_unreadable(work: Path, capsys: pytest.CaptureFixture[str]):
    path = mixed_folder(work)
    JobFolder(path, load=False).import_folder(V4)
    finish_all(path)
    out_file = path / "Keras_4vars_Seed_3_Subseed_1.out"
    out_file.unlink()
    out_file.mkdir()  # exists, cannot be read
    code, doc, err = folders_json(capsys, str(path))
    assert code == 0, err
    (record,) = doc["folders"]
    assert record["states"]["unreadable"] == 1
    assert record["unreadable_jobs"][0]["name"] == "Keras_4vars_Seed_3_Subseed_1"


def test_folders_json_bad_folder_is_an_error_record(work: Path, capsys: pytest.CaptureFixture[str]):
    path = mixed_folder(work)
    JobFolder(path, load=False).import_folder(V4)
    (work / "second").mkdir()
    unimported = mixed_folder(work / "second")
    code, doc, err = folders_json(capsys, str(path), "nothere", str(unimported))
    assert code == 1
    good, missing, no_spec = doc["folders"]
    assert good["error"] is None
    assert missing == {"path": "nothere", "error": "nothere: no such job folder or spec file"}
    assert "has no spec file; import it with 'fourtop folders -i" in no_spec["error"]
    # each error is one line on stderr too
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("fourtop folders: error: ") for line in lines)


def test_folders_json_refuses_compact_and_import(work: Path, capsys: pytest.CaptureFixture[str]):
    for extra in (["-c"], ["-i", "all"]):
        assert main(["folders", "--json", *extra, "x"]) == 1
        err = capsys.readouterr().err
        assert err.strip() == (
            "fourtop folders: error: --json shows folders: it does not go with -c or -i"
        )


def test_schema_refuses_a_wrong_document() -> None:
    """The schema check can fail: a record without its states is refused."""
    doc = {
        "schema": "fourtop-folders/1",
        "fourtop_version": "0",
        "folders": [{"path": "x", "spec": "x/x.jtd", "compacted": False, "jobs": 1}],
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema("folders"))


# ---------------------------------------------------------------- calculate --json
CALC_VARS = ["a", "b", "c", "d", "e"]
CALC_FAMILIES = {
    "11100": (0.80, {"a": 0.75, "b": 0.78, "c": 0.79}),
    "11010": (0.82, {"a": 0.79, "b": 0.81, "d": 0.80}),
    "10110": (0.78, {"a": 0.70, "c": 0.77, "d": 0.775}),
    "01101": (0.76, {"b": 0.70, "c": 0.745, "e": 0.76}),
}


def test_calculate_json_is_the_ranking_and_its_files(work: Path, capsys):
    from importance_folders import make_folder

    folder = make_folder(work / "condor_log_A", CALC_VARS, CALC_FAMILIES)
    code = main(["calculate", "--json", "--bootstrap", "50", "--yes", "-f", "out", str(folder)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = validated("calculate", captured.out)
    assert doc["schema"] == "fourtop-calculate/1"
    assert Path(doc["output_folder"]) == (work / "out").resolve()
    # the document is the results JSON file, with the files written beside it
    on_disk = json.loads(Path(doc["files"]["json"]).read_text())
    assert {k: v for k, v in doc.items() if k in on_disk} == json.loads(
        json.dumps(on_disk), parse_constant=lambda _: None
    )
    for kind in ("results", "order", "roc_hists", "csv", "ranking_png", "ranking_pdf"):
        assert Path(doc["files"][kind]).is_file(), kind
    # the order of the order file; e was tested once (importance undefined)
    ranked = [v["variable"] for v in doc["variables"]]
    assert ranked == Path(doc["files"]["order"]).read_text().split()
    assert sorted(ranked) == CALC_VARS
    assert "e" in doc["importance_undefined"]
    assert doc["counts"]["families"] == 4
    # no table on stdout: the JSON document alone
    assert "┃" not in captured.out and "Files:" not in captured.out


def test_calculate_json_nan_is_null(work: Path, capsys):
    """A variable tested once has no standard error: null in the JSON, never NaN."""
    from importance_folders import make_folder

    folder = make_folder(work / "condor_log_A", CALC_VARS, CALC_FAMILIES)
    assert (
        main(["calculate", "--json", "--bootstrap", "0", "--no-plots", "-f", "o", str(folder)]) == 0
    )
    doc = validated("calculate", capsys.readouterr().out)
    (e,) = [v for v in doc["variables"] if v["variable"] == "e"]
    assert e["n_differences"] == 1 and e["sem"] is None
    assert "ranking_png" not in doc["files"]


def test_calculate_json_error_is_one_line_and_no_json(work: Path, capsys):
    assert main(["calculate", "--json", "-f", "o", "nothere"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("fourtop calculate: error: ")
