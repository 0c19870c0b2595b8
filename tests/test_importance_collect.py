"""fourtop.importance.collect: records, and the unreadable jobs left out of them."""

from __future__ import annotations

from pathlib import Path

from fourtop.importance.collect import collect_results, open_folders, unreadable_jobs
from importance_folders import make_folder

V = ["a", "b", "c"]


def test_unreadable_jobs_are_named_and_have_no_result(tmp_path: Path) -> None:
    a = make_folder(tmp_path / "condor_log_A", V, {"110": (0.8, {"a": 0.7, "b": 0.75})})
    b = make_folder(tmp_path / "condor_log_B", V, {"011": (0.7, {"b": 0.6, "c": 0.65})})
    assert unreadable_jobs(open_folders([a, b])) == []
    for folder, name in ((b, "Keras_3vars_Seed_3_Subseed_1"), (a, "Keras_3vars_Seed_6")):
        out = folder / f"{name}.out"
        out.unlink()
        out.mkdir()  # exists, cannot be read (even by root)
    folders = open_folders([a, b])
    found = unreadable_jobs(folders)
    assert [(Path(f.path).name, j.name) for f, j in found] == [
        ("condor_log_A", "Keras_3vars_Seed_6"),
        ("condor_log_B", "Keras_3vars_Seed_3_Subseed_1"),
    ]
    assert "cannot read" in (found[0][1].reason or "")
    rocs = {r.name: r.roc for r in collect_results(folders)}
    assert rocs["Keras_3vars_Seed_6"] is None and rocs["Keras_3vars_Seed_3_Subseed_1"] is None
