"""``--plot-format``: every plot as PNG and PDF by default, or in the formats asked for.

The parsing (:func:`fourtop.plotting.parse_formats`), :func:`fourtop.plotting.save_figure`,
then each command that draws plots (calculate, hyperopt, final, explain, apply --hists) on the
cheapest inputs: job folders made with the job-tracker API, a stand-in objective for hyperopt,
one tiny final training for final and explain, a fabricated final folder for apply.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from fourtop.cli import main
from fourtop.errors import ParameterError
from fourtop.plotting import (
    FORMATS,
    SUPPORTED,
    check_formats,
    parse_formats,
    remove_other_formats,
    save_figure,
)

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<?xml"}


def formats_of(folder: Path, stem: str) -> list[str]:
    """The formats ``stem`` is in ``folder``, each file checked to be of its format."""
    found = []
    for ext in SUPPORTED:
        path = folder / f"{stem}.{ext}"
        if path.exists():
            data = path.read_bytes()
            assert data.startswith(MAGIC[ext]) and len(data) > 1000, path
            found.append(ext)
    return found


def flat(text: str) -> str:
    """Printed text with its line breaks (rich wraps long lines) as spaces."""
    return " ".join(text.split())


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "formats"),
    [
        ("png", ("png",)),
        ("pdf", ("pdf",)),
        ("svg", ("svg",)),
        ("png,pdf", ("png", "pdf")),
        ("pdf,png", ("pdf", "png")),
        (" PDF , Png ", ("pdf", "png")),
        ("png,pdf,png", ("png", "pdf")),
        ("png,pdf,svg", ("png", "pdf", "svg")),
    ],
)
def test_formats_are_read_in_order_each_once(text, formats):
    assert parse_formats(text) == formats


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("jpg", "--plot-format 'jpg': unknown format (choose from png, pdf, svg)"),
        ("png,jpg", "--plot-format 'png,jpg': unknown format 'jpg' (choose from png, pdf, svg)"),
        ("", "--plot-format '': expected formats like png,pdf (choose from png, pdf, svg)"),
        ("png,,pdf", "--plot-format 'png,,pdf': expected formats like png,pdf"),
        ("pdf,", "--plot-format 'pdf,': expected formats like png,pdf"),
        (" , ", "--plot-format ' , ': expected formats like png,pdf"),
    ],
)
def test_bad_formats_are_refused_in_one_line(text, message):
    with pytest.raises(ParameterError) as err:
        parse_formats(text)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_the_default_is_png_and_pdf_and_svg_is_supported():
    assert FORMATS == ("png", "pdf") and set(FORMATS) < set(SUPPORTED) and "svg" in SUPPORTED


def test_formats_from_a_library_caller_are_checked():
    assert check_formats(["pdf", "png", "pdf"]) == ("pdf", "png")
    assert check_formats("svg") == ("svg",)
    for bad in ([], ["png", "gif"], [""], [None]):
        with pytest.raises(ParameterError, match="choose from png, pdf, svg"):
            check_formats(bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------- save_figure


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 0, 2], label="a line")
    ax.legend()
    return fig


def test_a_figure_is_written_in_each_format_and_closed(tmp_path):
    import matplotlib.pyplot as plt

    fig = _figure()
    written = save_figure(fig, tmp_path, "plot")
    assert written == [tmp_path / "plot.png", tmp_path / "plot.pdf"]
    assert formats_of(tmp_path, "plot") == ["png", "pdf"]
    assert not plt.fignum_exists(fig.number)
    save_figure(_figure(), tmp_path, "other", ("svg",))
    assert formats_of(tmp_path, "other") == ["svg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "other.svg",
        "plot.pdf",
        "plot.png",
    ]  # no temporary file left


def test_the_same_plot_gives_the_same_pdf(tmp_path):
    save_figure(_figure(), tmp_path, "a", ("pdf",))
    save_figure(_figure(), tmp_path, "b", ("pdf",))
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_a_plot_drawn_again_in_fewer_formats_replaces_the_others_when_asked(tmp_path):
    save_figure(_figure(), tmp_path, "plot", ("png", "pdf", "svg"))
    (tmp_path / "plot_notes.txt").write_text("mine\n")
    save_figure(_figure(), tmp_path, "plot", ("pdf",))  # not asked: the others stay
    assert formats_of(tmp_path, "plot") == ["png", "pdf", "svg"]
    save_figure(_figure(), tmp_path, "plot", ("pdf",), replace_others=True)
    assert formats_of(tmp_path, "plot") == ["pdf"]
    assert (tmp_path / "plot_notes.txt").read_text() == "mine\n"
    assert remove_other_formats(tmp_path, "plot", ("pdf",)) == []


# ---------------------------------------------------------------- the commands' options

#: each command that draws plots, with the arguments it needs to get as far as its options
COMMANDS = {
    "calculate": ["calculate"],
    "hyperopt": ["hyperopt", "ds"],
    "final": ["final"],
    "explain": ["explain", "fin"],
    "apply": ["apply", "fin", "--hists"],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("jpg", "'jpg': unknown format (choose from png, pdf, svg)"),
        ("png,gif", "'png,gif': unknown format 'gif' (choose from png, pdf, svg)"),
        ("png,", "'png,': expected formats like png,pdf (choose from png, pdf, svg)"),
    ],
)
def test_a_bad_plot_format_is_a_usage_error(command, value, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main([*COMMANDS[command], "--plot-format", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"fourtop {command}: error: argument --plot-format: {message}"
    assert sum("error" in line for line in err) == 1
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command", COMMANDS)
def test_every_plotting_command_documents_the_option(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = flat(capsys.readouterr().out)
    assert "--plot-format LIST" in text and "png, pdf, svg (default png,pdf)" in text


# ---------------------------------------------------------------- calculate

V = ["a", "b", "c", "d", "e"]
FAMILIES = {
    "11100": (0.80, {"a": 0.75, "b": 0.78, "c": 0.79}),
    "11010": (0.82, {"a": 0.79, "b": 0.81, "d": 0.80}),
    "01110": (0.70, {"b": 0.60, "c": 0.66, "d": 0.69}),
}
CALCULATE_PLOTS = ("VariableImportanceRanking_5vars", "ROC_differences_5vars")


def test_calculate_writes_pdf_beside_png_or_the_formats_asked_for(tmp_path, monkeypatch, capsys):
    from importance_folders import make_folder

    monkeypatch.chdir(tmp_path)
    make_folder(tmp_path / "condor_log_A", V, FAMILIES)
    run = ["calculate", "--bootstrap", "0", "-f", "out", "condor_log_A"]
    out = tmp_path / "out"

    assert main(run) == 0
    printed = flat(capsys.readouterr().out)
    for stem in CALCULATE_PLOTS:
        assert formats_of(out, stem) == ["png", "pdf"]
        assert f"{out / stem}.png" in printed and f"{out / stem}.pdf" in printed

    assert main([*run, "--plot-format", "pdf"]) == 0  # the PNG of the earlier run goes
    printed = flat(capsys.readouterr().out)
    for stem in CALCULATE_PLOTS:
        assert formats_of(out, stem) == ["pdf"]
        assert f"{out / stem}.pdf" in printed and f"{stem}.png" not in printed

    assert main([*run, "--plot-format", "png"]) == 0
    for stem in CALCULATE_PLOTS:
        assert formats_of(out, stem) == ["png"]

    assert main([*run, "--plot-format", "svg,png", "--no-plots"]) == 0  # no plots: as before
    for stem in CALCULATE_PLOTS:
        assert formats_of(out, stem) == ["png"]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------- hyperopt


@pytest.fixture
def hyperopt_folder(tmp_path, monkeypatch):
    """A dataset folder with importance results, and hyperopt's data loading and training
    replaced by a stand-in (the plot is what is tested, not the trainings)."""
    from fourtop.hyperopt import TrialOutcome
    from test_hyperopt_selection import write_results

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "ds"
    folder.mkdir()
    write_results(folder)
    (tmp_path / "p.json").write_text(json.dumps({"n_calls": 2, "n_starts": 2, "epochs": 1}))

    def training_objective(data, **kwargs):
        def objective(network, variables):
            roc = 0.9 - 0.01 * (math.log10(network["learning_rate"]) + 3) ** 2
            return TrialOutcome(roc, model={"state_dict": {}}, epochs=1)

        return objective

    monkeypatch.setattr(
        "fourtop.hyperopt.objective.load_optimization_data", lambda config, year: (None, None)
    )
    monkeypatch.setattr("fourtop.hyperopt.objective.training_objective", training_objective)
    return folder


def test_hyperopt_writes_pdf_beside_png_or_the_formats_asked_for(hyperopt_folder, capsys):
    run = ["hyperopt", "-n", "2", "-y", "2018", "-p", "p.json", str(hyperopt_folder)]
    assert main([*run, "--tag", "a"]) == 0
    printed = capsys.readouterr().out
    assert formats_of(hyperopt_folder, "optimize_history_a") == ["png", "pdf"]
    for ext in ("png", "pdf"):
        assert str(hyperopt_folder / f"optimize_history_a.{ext}") in printed

    assert main([*run, "--tag", "b", "--plot-format", "pdf"]) == 0
    printed = capsys.readouterr().out
    assert formats_of(hyperopt_folder, "optimize_history_b") == ["pdf"]
    assert "optimize_history_b.pdf" in printed and "optimize_history_b.png" not in printed

    # tag a again (its study is finished): the plot is drawn again, in PNG only
    assert main([*run, "--tag", "a", "--plot-format", "png"]) == 0
    printed = capsys.readouterr().out
    assert formats_of(hyperopt_folder, "optimize_history_a") == ["png"]
    assert "optimize_history_a.png" in printed and "optimize_history_a.pdf" not in printed


def test_the_library_takes_the_formats_with_the_parameters(tmp_path):
    from fourtop.hyperopt import TrialOutcome, resolve_parameters, run_hyperopt

    with pytest.raises(ParameterError, match="unknown format 'gif'"):
        resolve_parameters({"tag": "t"}, num_vars=3, plot_formats=("png", "gif"))
    params = resolve_parameters(
        {"n_calls": 2, "n_starts": 2, "tag": "t"}, num_vars=3, plot_formats=("svg",)
    )
    assert params.plot_formats == ("svg",) and "plot_formats" not in params.to_dict()
    result = run_hyperopt(tmp_path, ["a", "b", "c"], params, lambda n, v: TrialOutcome(0.8))
    assert result.files.plots == (tmp_path / "optimize_history_t.svg",)
    assert formats_of(tmp_path, "optimize_history_t") == ["svg"]


# ---------------------------------------------------------------- final and explain

FINAL_PLOTS = ("roc_folds", "overtraining", "training_history")
EXPLAIN = ["--methods", "permutation", "--repeats", "2", "--events", "1000", "--yes"]


def _run_in(work: Path, *args: str, data: Path) -> int:
    """``fourtop ARGS`` in ``work`` over the samples ``data``, with its own cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FOURTOP_DATA", str(data))
    mp.setenv("FOURTOP_CACHE", str(work / "cache"))
    mp.chdir(work)
    try:
        return main(list(args))
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def trained(tiny_samples, tmp_path_factory):
    """A final folder (2 folds, 2 epochs on the tiny samples) with PNG plots only."""
    from finals import inline_backend
    from test_final import optimized

    work = tmp_path_factory.mktemp("plot-format")
    optimized(work / "ds", tag="best")
    with inline_backend() as backend:
        rc = _run_in(
            work,
            *("final", "ds", "-k", "2", "--random-seed", "5", "-f", "fin"),
            *("--backend", backend, "--device", "cpu", "--plot-format", "png"),
            data=tiny_samples,
        )
    assert rc == 0
    return work / "fin"


def test_final_writes_only_the_formats_asked_for(trained):
    for stem in FINAL_PLOTS:
        assert formats_of(trained, stem) == ["png"]


@pytest.mark.parametrize(
    ("option", "formats"), [([], ["png", "pdf"]), (["--plot-format", "pdf"], ["pdf"])]
)
def test_final_draws_the_plots_again_in_the_formats_asked_for(
    option, formats, trained, tiny_samples, tmp_path, capsys
):
    """Without its card, the folder's card, summary and plots are written again: the plots
    of the earlier card in a format left out go."""
    from fourtop.final.model import CARD_FILE

    folder = tmp_path / "fin"
    shutil.copytree(trained, folder)
    (folder / CARD_FILE).unlink()
    assert _run_in(tmp_path, "final", "-f", "fin", *option, data=tiny_samples) == 0
    for stem in FINAL_PLOTS:
        assert formats_of(folder, stem) == formats
    shown = " ".join(f".{ext}" for ext in formats).replace(" ", ", ")
    assert f"training_history ({shown})" in flat(capsys.readouterr().err)


def test_a_finished_final_folder_gets_the_formats_it_lacks(trained, tiny_samples, tmp_path):
    """The card is kept (what was applied with it stays valid): the plots it has stay too."""
    from fourtop.final.model import CARD_FILE

    folder = tmp_path / "fin"
    shutil.copytree(trained, folder)
    card = (folder / CARD_FILE).read_bytes()
    png = (folder / "roc_folds.png").read_bytes()
    assert (
        _run_in(tmp_path, "final", "-f", "fin", "--plot-format", "pdf,svg", data=tiny_samples) == 0
    )
    for stem in FINAL_PLOTS:
        assert formats_of(folder, stem) == ["png", "pdf", "svg"]
    assert (folder / CARD_FILE).read_bytes() == card
    assert (folder / "roc_folds.png").read_bytes() == png


@pytest.mark.parametrize(
    ("option", "formats"),
    [
        ([], ["png", "pdf"]),
        (["--plot-format", "pdf"], ["pdf"]),
        (["--plot-format", "png"], ["png"]),
    ],
)
def test_explain_writes_pdf_beside_png_or_the_formats_asked_for(
    option, formats, trained, tiny_samples, tmp_path, capsys
):
    work = trained.parent
    out = tmp_path / "explained"
    assert (
        _run_in(work, "explain", "fin", "-f", str(out), *EXPLAIN, *option, data=tiny_samples) == 0
    )
    for stem in ("ranking", "importance"):
        assert formats_of(out, stem) == formats
    shown = ", ".join(f".{ext}" for ext in formats)
    assert f"plots ranking, importance ({shown})" in flat(capsys.readouterr().err)


def test_an_explain_output_in_any_format_is_replaced(trained, tiny_samples, tmp_path):
    work = trained.parent
    out = tmp_path / "explained"
    run = ["explain", "fin", "-f", str(out), *EXPLAIN]
    assert _run_in(work, *run, "--plot-format", "svg", data=tiny_samples) == 0
    assert formats_of(out, "ranking") == ["svg"]
    assert _run_in(work, *run, "--plot-format", "pdf", data=tiny_samples) == 0
    assert formats_of(out, "ranking") == ["pdf"]  # the folder replaced whole: no SVG left


# ---------------------------------------------------------------- apply --hists


@pytest.fixture
def applied(tiny_samples, tmp_path, monkeypatch):
    """A fabricated final folder over the tiny samples, scored (signal and background)."""
    from finals import inline_backend, make_final, standardization, write_config

    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "c.toml", tiny_samples)
    mean, std = standardization(config)
    make_final(tmp_path / "final", config, mean=mean, std=std)
    with inline_backend() as backend:
        yield ["apply", "final", "--config", "c.toml", "--backend", backend, "--hists"]


def test_apply_hists_writes_pdf_beside_png_or_the_formats_asked_for(applied, capsys):
    hists = Path("final", "apply_2017", "hists").absolute()
    assert main(applied) == 0
    printed = capsys.readouterr().out
    assert formats_of(hists, "DNN_stack") == ["png", "pdf"]
    assert str(hists / "DNN_stack.png") in printed and str(hists / "DNN_stack.pdf") in printed

    assert main([*applied, "--plot-format", "pdf"]) == 0  # the earlier PNG goes
    printed = capsys.readouterr().out
    assert formats_of(hists, "DNN_stack") == ["pdf"]
    assert "DNN_stack.pdf" in printed and "DNN_stack.png" not in printed

    assert main([*applied, "--plot-format", "png"]) == 0
    assert formats_of(hists, "DNN_stack") == ["png"]
    assert (hists / "DNN_hists.root").is_file()
