"""The conventions every command follows, checked on each command's real output through the
console script: ``-q/--quiet`` (no notes, no progress: stderr stays empty on success, results
still on stdout), ``NO_COLOR`` and ``--no-color`` (no colour codes on a terminal), tables that
fit the terminal, a closed pipe, and the documented exit codes.

One small pipeline (tiny samples, 4 variables, 1-4 epochs) is run once per module, command after
command; each command then runs again with ``-q`` in a pipe and on a terminal without colour,
into its own outputs. The commands that train networks are marked slow.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fourtop.cli import COMMANDS, build_parser
from fourtop.cli._common import Exit
from terminal import FOURTOP, colour_codes, in_pipe, on_terminal, plain, user_env
from test_cli_hyperopt import TINY_SEARCH

VARS = ["AK4HTpMETpLepPt", "NJets_JetSubCalc", "minMleppBjet", "centrality"]
APPLY_JOB = "apply_TTTT_TuneCP5_PSweights_13TeV-amcatnlo-pythia8_split0"


@dataclass
class Step:
    """One command of the pipeline: ``line`` (its arguments) with ``{v}`` for the variant's
    output suffix."""

    line: str
    needs: tuple[str, ...] = ()
    #: what its output shows when it worked (stdout in a pipe, the screen on a terminal)
    shows: str = ""
    #: files it writes, relative to the work folder (with ``{v}``)
    writes: tuple[str, ...] = ()
    #: whether it prints notes or progress on stderr without --quiet
    noisy: bool = True
    slow: bool = False
    outputs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)


STEPS: dict[str, Step] = {
    "generate": Step(
        "generate --events {events} -y 2017 --output samples{v}",
        writes=("samples{v}/TTTT_TuneCP5_PSweights_13TeV-amcatnlo-pythia8_split0.root",),
    ),
    "submit": Step(
        "submit -y 2017 -l vars.txt -n 2 --epochs 1 -p 2 --random-seed 9 --yes jobs{v}",
        needs=("generate",),
        writes=("jobs{v}/jobs{v}.jtd",),
    ),
    "folders": Step("folders jobs", needs=("submit",), shows="finished", noisy=False),
    "calculate": Step(
        "calculate --yes --bootstrap 50 -f results{v} jobs",
        needs=("submit",),
        shows="Variable importance",
        writes=("results{v}/VariableImportanceResults_4vars.txt",),
    ),
    "run-job": Step(
        "run-job -y 2017 -l vars.txt --random-seed 1 Keras_4vars_Seed_15",
        needs=("generate",),
        shows="ROC-integral:",
        noisy=False,
    ),
    "hyperopt": Step(
        "hyperopt -n 4 -y 2017 -p p.json --tag t{v} results",
        needs=("calculate",),
        shows="Best ROC-integral",
        writes=("results/optimize_history_t{v}.png", "results/optimize_history_t{v}.pdf"),
        slow=True,
    ),
    "final": Step(
        "final results -n 4 -k 2 --epochs 4 -y 2017 -f final{v} --yes",
        needs=("calculate",),
        shows="ROC-integral",
        writes=("final{v}/model_card.json", "final{v}/roc_folds.pdf"),
        slow=True,
    ),
    "final-fold": Step(
        "final-fold --folder final fold0",
        needs=("final",),
        shows="ROC-integral:",
        noisy=False,
        slow=True,
    ),
    "explain": Step(
        "explain final --methods permutation --events 3000 --results results -f expl{v} --yes",
        needs=("final",),
        shows="ROC-integral on these events",
        writes=("expl{v}/explain.json", "expl{v}/ranking.pdf"),
        slow=True,
    ),
    "apply": Step(
        "apply final -y 2017 -o applied{v} --hists --yes",
        needs=("final",),
        shows="Selected events per sample",
        writes=("applied{v}/jobs/apply-plan.json",),
        slow=True,
    ),
    "apply-file": Step(
        f"apply-file --plan applied/jobs/apply-plan.json {APPLY_JOB}",
        needs=("apply",),
        shows="Events-scored",
        noisy=False,
        slow=True,
    ),
    "demo": Step(
        "demo --workdir demo{v} -n 1 --epochs 1 -p 2 --top 3",
        needs=("generate",),
        shows="Demo finished",
        writes=("demo{v}/dataset_demo/VariableImportanceResults_76vars.txt",),
        slow=True,
    ),
}


def argv_of(step: Step, variant: str) -> list[str]:
    events = "6000" if variant == "" else "300"  # the pipeline's data; variants write less
    return step.line.format(v=variant, events=events).split()


class Pipeline:
    """The work folder and each command's plain run (in a pipe), made on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = user_env(
            os.environ,
            FOURTOP_DATA=str(root / "samples"),
            FOURTOP_CACHE=str(root / "cache"),
            OMP_NUM_THREADS="1",
        )
        (root / "vars.txt").write_text("\n".join(VARS) + "\n")
        (root / "p.json").write_text(json.dumps({"tag": "t", **TINY_SEARCH}))
        self.runs: dict[str, subprocess.CompletedProcess[str]] = {}

    def ready(self, name: str) -> subprocess.CompletedProcess[str]:
        """The command's plain run (and before it, the runs it needs)."""
        if name not in self.runs:
            step = STEPS[name]
            for need in step.needs:
                self.ready(need)
            result = in_pipe(argv_of(step, ""), self.root, self.env)
            assert result.returncode == 0, f"{name}: {result.stderr}"
            self.runs[name] = result
        return self.runs[name]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Pipeline:
    return Pipeline(tmp_path_factory.mktemp("conventions"))


def each_command(test: Callable) -> Callable:
    params = [
        pytest.param(name, marks=[pytest.mark.slow] if step.slow else [], id=name)
        for name, step in STEPS.items()
    ]
    return pytest.mark.parametrize("name", params)(test)


def test_every_command_is_in_the_pipeline() -> None:
    """A new command gets its conventions checked too (batch-node commands included)."""
    assert set(STEPS) == set(COMMANDS)


@each_command
def test_quiet(pipeline: Pipeline, name: str) -> None:
    step = STEPS[name]
    loud = pipeline.ready(name)
    if step.noisy:  # the check below can fail: without -q this command speaks on stderr
        assert loud.stderr.strip(), f"{name} printed no notes without --quiet"
    quiet = in_pipe([*argv_of(step, "q"), "-q"], pipeline.root, pipeline.env)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "", f"{name} -q printed on stderr: {quiet.stderr[:500]}"
    assert step.shows in quiet.stdout
    for path in step.writes:
        assert (pipeline.root / path.format(v="q")).is_file(), path


@each_command
def test_no_color_on_a_terminal(pipeline: Pipeline, name: str) -> None:
    """On a terminal, NO_COLOR (odd steps) or --no-color (even steps) leaves colour out; the
    tables fit the terminal's 100 columns."""
    step = STEPS[name]
    pipeline.ready(name)
    by_env = list(STEPS).index(name) % 2 == 1
    env = {**pipeline.env, "NO_COLOR": "1"} if by_env else pipeline.env
    argv = argv_of(step, "c") + ([] if by_env else ["--no-color"])
    code, screen = on_terminal(argv, pipeline.root, env, columns=100)
    assert code == 0, plain(screen)[-2000:]
    assert colour_codes(screen) == [], f"{name}: colour on the terminal"
    assert step.shows in plain(screen)
    table_lines = [line for line in plain(screen).split("\n") if set(line) & set("│┃━─")]
    too_wide = [line for line in table_lines if len(line) > 100]
    assert too_wide == [], f"{name}: a table wider than the terminal"


def test_the_terminal_gets_colour_otherwise(pipeline: Pipeline) -> None:
    """The colour checks can fail: on a terminal, without NO_COLOR, submit's spinner and bar
    are coloured."""
    pipeline.ready("generate")
    code, screen = on_terminal(argv_of(STEPS["submit"], "plain"), pipeline.root, pipeline.env)
    assert code == 0, plain(screen)[-2000:]
    assert colour_codes(screen)


def test_calculate_table_in_a_narrow_terminal(pipeline: Pipeline) -> None:
    """60 columns: the ranking loses its optional columns (and says so), never a cell."""
    pipeline.ready("submit")
    argv = ["calculate", "--yes", "--bootstrap", "50", "--no-plots", "-f", "narrow", "jobs"]
    code, screen = on_terminal(argv, pipeline.root, pipeline.env, columns=60)
    text = plain(screen)
    assert code == 0, text
    table_lines = [line for line in text.split("\n") if set(line) & set("│┃━─")]
    assert table_lines and all(len(line) <= 60 for line in table_lines)
    assert "not shown, for the terminal's width: n, freq" in text
    assert "…" not in text
    for variable in VARS:
        assert variable in text


def test_closed_pipe_ends_quietly(pipeline: Pipeline) -> None:
    """``fourtop folders -v | head -1``: the reader leaves; exit 141, no message, no traceback."""
    pipeline.ready("submit")
    proc = subprocess.Popen(
        [FOURTOP, "folders", "-v", "jobs"],
        cwd=pipeline.root,
        env=pipeline.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command writes anything
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == Exit.BROKEN_PIPE == 141
    assert err == b""


def test_every_command_has_quiet_and_no_color() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    for name, command in sub.choices.items():
        options = {s for action in command._actions for s in action.option_strings}
        assert {"-q", "--quiet", "--no-color"} <= options, name


def test_exit_codes_documented() -> None:
    """docs/cli.md's exit-code table lists every code of ``Exit``, with its number."""
    doc = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    table = {int(m.group(1)) for m in re.finditer(r"^\| `(\d+)` \|", doc, flags=re.MULTILINE)}
    assert table == {int(code) for code in Exit}


#: stdout and stderr as Python sets them by default, and unbuffered (Docker images, CI)
BUFFERING = [
    pytest.param({"PYTHONUNBUFFERED": ""}, id="buffered"),
    pytest.param({"PYTHONUNBUFFERED": "1"}, id="unbuffered"),
]


@pytest.mark.parametrize("buffering", BUFFERING)
def test_results_that_cannot_be_written_are_one_error_line(pipeline: Pipeline, buffering) -> None:
    """stdout on a full disk (/dev/full): exit 1 and one line, never a traceback or Python's
    "Exception ignored" at exit."""
    pipeline.ready("submit")
    env = {**pipeline.env, **buffering}
    for argv, who in (
        (["folders", "jobs"], "fourtop folders"),
        (["folders", "--json", "jobs"], "fourtop folders"),
        (["calculate", "--json", "-q", "--yes", "--no-plots", "-f", "full", "jobs"],
         "fourtop calculate"),
        (["--help"], "fourtop"),
    ):  # fmt: skip
        with open("/dev/full", "w") as full:
            result = subprocess.run(
                [FOURTOP, *argv],
                cwd=pipeline.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
            )
        assert result.returncode == Exit.ERROR, (argv, result.stderr)
        assert result.stderr == (
            f"{who}: error: cannot write the results to stdout: no space left on device\n"
        )
    # a command with nothing for stdout is not failed by it
    argv = ["generate", "-q", "--events", "300", "-y", "2017", "--output", "fullout"]
    with open("/dev/full", "w") as full:
        result = subprocess.run([FOURTOP, *argv], cwd=pipeline.root, env=env, stdout=full)
    assert result.returncode == 0


@pytest.mark.parametrize("buffering", BUFFERING)
def test_closed_or_full_stderr_and_closed_stdout_do_not_stop_the_work(
    pipeline: Pipeline, buffering
) -> None:
    pipeline.ready("submit")
    env = {**pipeline.env, **buffering}
    tag = "u" if buffering["PYTHONUNBUFFERED"] else "b"
    shell = [
        (f"closedout{tag}", f"{FOURTOP} calculate --yes --no-plots -f closedout{tag} jobs >&-"),
        (f"fullerr{tag}", f"{FOURTOP} calculate --yes --no-plots -f fullerr{tag} jobs 2>/dev/full"),
        (f"closederr{tag}", f"{FOURTOP} calculate --yes --no-plots -f closederr{tag} jobs 2>&-"),
    ]
    for folder, line in shell:
        result = subprocess.run(["bash", "-c", line], cwd=pipeline.root, env=env, timeout=120)
        assert result.returncode == 0, line
        assert (pipeline.root / folder / "VariableImportanceResults_4vars.txt").is_file()


def test_quiet_still_says_what_was_not_done(pipeline: Pipeline) -> None:
    """-q: a question answered 'no' for want of a terminal, and the library's warnings, show."""
    pipeline.ready("submit")
    result = in_pipe(["folders", "-q", "-i", "vars.txt", "jobs"], pipeline.root, pipeline.env)
    assert "a spec file exists" in result.stderr
    assert "[no terminal: answering 'no'; pass --yes to override]" in result.stderr
    result = in_pipe(
        ["calculate", "-q", "--yes", "--no-plots", "-f", "twice", "jobs", "jobs"],
        pipeline.root,
        pipeline.env,
    )
    assert result.returncode == 0
    assert result.stderr.startswith("warning: 7 duplicated job(s) counted once")


def test_failed_jobs_exit_3_and_show_with_quiet(pipeline: Pipeline) -> None:
    """Trainings that diverge: exit 3; the failures and the retry's outcome show under -q."""
    pipeline.ready("generate")
    argv = ["submit", "-q", "-y", "2017", "-l", "vars.txt", "-n", "1", "--epochs", "1"]
    argv += ["--params", '{"learning_rate": 1e9}', "--random-seed", "3", "--yes", "diverged"]
    result = in_pipe(argv, pipeline.root, pipeline.env)
    assert result.returncode == Exit.JOBS_FAILED == 3, result.stderr
    assert "  failed: " in result.stderr and "training diverged" in result.stderr
    assert "still failed after the retry; 'fourtop submit -r' resubmits them" in result.stderr


def test_an_unknown_option_is_the_command_s_usage_error(capsys) -> None:
    """Exit 2 with the command's own usage and name, not the top level's."""
    from fourtop.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["folders", "--bogus"])
    assert stop.value.code == Exit.USAGE == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: fourtop folders ")
    assert err.rstrip().endswith("fourtop folders: error: unrecognized arguments: --bogus")
