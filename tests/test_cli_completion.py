"""Shell completion: the completer of the console script, invoked as bash's hook does
(``register-python-argcomplete fourtop``): ``_ARGCOMPLETE`` and ``COMP_LINE`` set, the
candidates read back (from a file instead of file descriptor 8)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from terminal import FOURTOP


def complete(line: str, cwd: Path, **env: str) -> list[str]:
    """What Tab after ``line`` offers, as the shell would see it."""
    answer = cwd / ".completions"
    environ = {
        **{k: v for k, v in os.environ.items() if k != "FOURTOP_CONFIG"},
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_IFS": "\n",
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "COMP_TYPE": "9",
        **env,
    }
    result = subprocess.run(
        [FOURTOP], cwd=cwd, env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    words = answer.read_text().split("\n") if answer.exists() else []
    answer.unlink(missing_ok=True)
    return sorted(w.strip() for w in words if w.strip())


@pytest.fixture
def here(tmp_path: Path) -> Path:
    (tmp_path / "condor_log_A").mkdir()
    (tmp_path / "condor_log_B.jtd").write_text("")
    (tmp_path / "condor_log_notes.txt").write_text("")
    (tmp_path / "my.toml").write_text('[datasets.run3]\nsignal = ["s.root"]\n')
    return tmp_path


def test_commands(here: Path) -> None:
    from fourtop.cli import COMMANDS

    assert set(COMMANDS) <= set(complete("fourtop ", here))
    assert complete("fourtop fi", here) == ["final", "final-fold"]


def test_options_of_a_command(here: Path) -> None:
    offered = complete("fourtop calculate --", here)
    for option in ("--json", "--quiet", "--no-color", "--plot-format", "--top", "--bootstrap"):
        assert option in offered
    assert complete("fourtop folders --js", here) == ["--json"]


def test_choices_and_known_values(here: Path) -> None:
    assert complete("fourtop submit --backend ", here) == ["condor", "local", "slurm"]
    assert complete("fourtop final --device c", here) == ["cpu", "cuda"]
    assert complete("fourtop calculate -o ", here) == ["freq", "importance", "mean", "rms", "sum"]


def test_plot_formats(here: Path) -> None:
    assert complete("fourtop final --plot-format ", here) == ["pdf", "png", "svg"]
    assert complete("fourtop calculate --plot-format png,", here) == ["png,pdf", "png,svg"]


def test_a_configuration_that_is_no_file_is_not_read(here: Path) -> None:
    """Tab must answer at once: a device, a pipe or a huge file offers no keys."""
    os.mkfifo(here / "pipe.toml")
    (here / "huge.toml").write_text("# " + "x" * 2_000_000 + "\n[datasets.big]\n")
    for config in ("/dev/zero", "pipe.toml", "huge.toml", "."):
        assert complete(f"fourtop submit --config {config} -y ", here) == []


def test_dataset_keys_from_the_configuration(here: Path) -> None:
    assert complete("fourtop submit -y ", here) == ["2017", "2018"]
    assert complete("fourtop submit -y 201", here) == ["2017", "2018"]
    # --config on the line, then $FOURTOP_CONFIG
    assert complete("fourtop submit --config my.toml -y ", here) == ["run3"]
    assert complete("fourtop final -y ", here, FOURTOP_CONFIG=str(here / "my.toml")) == ["run3"]
    # an unreadable configuration offers nothing (and no traceback)
    assert complete("fourtop submit --config nothere.toml -y ", here) == []


def test_job_folders_are_folders_and_spec_files(here: Path) -> None:
    offered = complete("fourtop folders cond", here)
    assert offered == ["condor_log_A/", "condor_log_B.jtd"]  # not the .txt file
    assert complete("fourtop calculate condor_log_B", here) == ["condor_log_B.jtd"]


def test_files_for_file_arguments(here: Path) -> None:
    assert complete("fourtop submit --config my", here) == ["my.toml"]
    assert "condor_log_notes.txt" in complete("fourtop submit -l cond", here)


def test_without_the_hook_nothing_changes(here: Path) -> None:
    """No ``_ARGCOMPLETE``: the command runs as usual."""
    result = subprocess.run(
        [FOURTOP, "--version"], cwd=here, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.startswith("fourtop ")
