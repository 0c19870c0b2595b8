"""``fourtop final`` as a library call: plan, run the folds on a backend, write the card.

:func:`final` makes a new final folder (or finishes one given with ``-f``): it chooses the
variables and network (:mod:`fourtop.final.source`), writes the plan, runs every fold that is
not complete as a job of the task kind ``final-fold`` on the chosen backend, and once every
fold is complete writes the plots (in the formats of ``plot_formats``), ``final_summary.txt``
and ``model_card.json``. On a batch
backend it returns after submitting; running it again with ``-f`` (once the folds finished)
writes the card, and resubmits the folds that failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fourtop.errors import ConfigError, ModelError, ParameterError
from fourtop.final.fold import (
    PLAN_FILE,
    FinalPlan,
    fold_complete,
    fold_name,
    read_plan,
    write_plan,
)
from fourtop.final.model import CARD_FILE
from fourtop.final.task import JOBS_DIR
from fourtop.jobs.requests import Reporter
from fourtop.naming import date_tag
from fourtop.plotting import FORMATS, check_formats
from fourtop.splits import Split

__all__ = ["FinalOutcome", "FinalRequest", "final"]

log = logging.getLogger(__name__)

#: largest k (a fold needs events to test on; more folds than this is a typo)
MAX_FOLDS = 100


@dataclass
class FinalRequest:
    """What ``fourtop final`` asks for (None: not given)."""

    datasets: list[str] = field(default_factory=list)
    year: str | None = None
    config: str | None = None
    k: int | None = None
    count: str | None = None
    params: dict[str, Any] | None = None
    epochs: int | None = None
    folder: str | None = None
    backend: str = "local"
    processes: int = 2
    device: str = "auto"
    random_seed: int | None = None
    options: dict[str, str] = field(default_factory=dict)
    yes: bool = False
    plot_formats: tuple[str, ...] = FORMATS


@dataclass
class FinalOutcome:
    """What a run left: the folder, the card when complete, the folds failed or pending."""

    folder: Path
    card: dict[str, Any] | None = None
    failed: list[tuple[str, str]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    submitted: bool = False


@dataclass
class _Folder:
    """What a backend needs of a job folder."""

    path: str
    name: str


def final(request: FinalRequest, reporter: Reporter) -> FinalOutcome:
    """Run (or finish) a final training; see the module documentation.

    Raises:
        ResultsError: no hyperopt result (and no ``-n``), or an unreadable one.
        ConfigError: no ``event_id`` in the configuration, an unknown dataset key.
        ModelError: ``-f`` names a folder that is not a final folder, or options that
            differ from its plan.
        ParameterError, BackendError, OutputError: bad options, an unusable backend, an
            unwritable folder.
        JobFolderError: another process works on the folder.
    """
    from fourtop.backends import get_backend
    from fourtop.jobs.layout import LOCK_FILE
    from fourtop.jobs.lock import hold

    if request.processes < 1:
        raise ParameterError(f"-p must be at least 1, got {request.processes}")
    formats = check_formats(request.plot_formats, "--plot-format")
    backend = get_backend(request.backend)
    folder = Path(request.folder) if request.folder else _new_default_folder()
    resuming = (folder / PLAN_FILE).exists()
    if resuming:
        plan = read_plan(folder)
        _check_same(request, plan, folder)
        notes = [f"{folder}: finishing the final training ({plan.k} folds)"]
    else:
        _check_new_folder(folder)
        plan, notes = _new_plan(request)
        n = len(plan.variables)
        notes.append(
            f"{folder}: final training of {plan.k} folds on {n} variable{'s' * (n != 1)} "
            f"(dataset {plan.dataset})"
        )
    settings = _settings(plan, request)
    if not all(fold_complete(folder, fold) for fold in range(plan.k)):
        _preflight(backend, settings, folder, plan)  # before anything is made
    _make_folder(folder)  # (also the jobs folder a killed run may not have made)
    with hold(folder / JOBS_DIR / LOCK_FILE, str(folder), what="fourtop final"):
        if not resuming:  # under the lock: a second run on the same new folder writes nothing
            if (folder / PLAN_FILE).exists():
                raise ModelError(
                    f"{folder}: another fourtop final made this folder meanwhile; run "
                    f"'fourtop final -f {folder}' to finish it, or choose another -f"
                )
            write_plan(folder, plan)
        for note in notes:
            reporter.note(note)
        return _run(folder, plan, settings, backend, reporter, formats)


def _new_default_folder() -> Path:
    """``final_<day>.<Mon>.<year>``, or ``..._2``, ``_3``, ... when that exists (a second
    training the same day is a new folder; ``-f`` finishes an existing one)."""
    base = f"final_{date_tag()}"
    folder, n = Path(base), 1
    while folder.exists():
        n += 1
        folder = Path(f"{base}_{n}")
    return folder


def _settings(plan: FinalPlan, request: FinalRequest) -> Any:
    from fourtop.jobs.tasks import RunSettings

    return RunSettings(
        year=plan.dataset,
        varlist=list(plan.variables),
        config=Path(plan.config) if plan.config else None,
        params=dict(plan.network),
        processes=request.processes,
        random_seed=plan.random_seed,
        families=False,
        device=request.device,
        options=dict(request.options),
        task="final-fold",
    )


def _preflight(backend: Any, settings: Any, folder: Path, plan: FinalPlan) -> None:
    """The backend, device, ntuples, event key and storage must do before a fold is run."""
    from fourtop.jobs.running import check_data, check_device
    from fourtop.jobs.tasks import get_task_kind

    backend.check(settings)
    check_device(settings, backend)
    check_data(settings, backend, Split.FINAL)
    if backend.capabilities.runs_here:  # (a batch node may see other files)
        from fourtop.data.config import load_config
        from fourtop.data.ntuples import check_event_id

        config = load_config(settings.config)
        check_event_id(config, config.files(settings.year, Split.FINAL).signal[0], plan.k)
    transfer = bool(getattr(backend.read_options(settings), "transfer", False))
    get_task_kind("final-fold").input_files(settings, folder / JOBS_DIR, transfer=transfer)


def _new_plan(request: FinalRequest) -> tuple[FinalPlan, list[str]]:
    import numpy as np

    from fourtop.data.config import load_config
    from fourtop.final.source import find_source

    k = 5 if request.k is None else request.k
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= MAX_FOLDS:
        raise ParameterError(f"-k {k}: the number of folds must be 2 to {MAX_FOLDS}")
    config = load_config(request.config)
    year = request.year or "2017"
    config.files(year, Split.FINAL)  # an unknown key: refused with a suggestion
    if config.event_id is None:
        raise ConfigError(
            f"{config.path}: no 'event_id': k-fold training needs an event key to put each "
            'event in a fold; add event_id = "event_CommonCalc" (your event number branch, '
            "or an expression of branches) at the top of the configuration"
        )
    folders = [Path(d) for d in request.datasets]
    source, notes = find_source(
        folders, count=request.count, params=request.params, epochs=request.epochs
    )
    notes.append(f"variables and network: {source.description}")
    known = config.variable_names()
    unknown = [v for v in source.variables if v not in known]
    if unknown:
        from fourtop.errors import VariableError, did_you_mean

        raise VariableError(
            f"{source.origin}: variable {unknown[0]!r} is not in {config.path}"
            f"{did_you_mean(unknown[0], known)}"
        )
    seed = request.random_seed
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    plan = FinalPlan(
        dataset=year,
        config=str(Path(request.config).resolve()) if request.config else None,
        variables=source.variables,
        network=source.network,
        k=k,
        event_id=config.event_id,
        random_seed=seed,
        fingerprint=config.fingerprint(),
        fingerprint_doc=config.fingerprint_doc(),
        source=source.to_dict(),
    )
    return plan, notes


def _check_same(request: FinalRequest, plan: FinalPlan, folder: Path) -> None:
    """Options given again must agree with the folder's plan (every fold trains alike)."""
    given = {
        "-k": (request.k, plan.k),
        "-y": (request.year, plan.dataset),
        "--random-seed": (request.random_seed, plan.random_seed),
        "--epochs": (request.epochs, plan.network.get("epochs")),
    }
    for option, (now, then) in given.items():
        if now is not None and str(now) != str(then):
            raise ModelError(
                f"{folder}: {option} {now} differs from its training ({option} {then}); "
                "leave the option out to finish this training, or choose a new -f folder"
            )
    if request.count is not None or request.params or request.datasets:
        raise ModelError(
            f"{folder}: its variables and network are chosen (see {PLAN_FILE}); leave out "
            "DATASET, -n and --params to finish it, or choose a new -f folder"
        )
    if request.config is not None:
        config = str(Path(request.config).resolve())
        if config != (plan.config or ""):
            raise ModelError(
                f"{folder}: --config {request.config} differs from its training's "
                f"({plan.config or 'the default configuration'})"
            )


def _check_new_folder(folder: Path) -> None:
    """A new final folder must be creatable and, if it exists, empty."""
    from fourtop.staging import check_output_folder

    check_output_folder(folder, option="-f")
    if folder.exists() and any(folder.iterdir()):
        raise ModelError(
            f"{folder}: exists and is not a final folder (no {PLAN_FILE}); choose another -f"
        )


def _make_folder(folder: Path) -> None:
    try:
        (folder / JOBS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from fourtop.errors import OutputError
        from fourtop.fileio import describe_os_error

        raise OutputError(f"cannot create {describe_os_error(exc, folder)}") from None


def _run(
    folder: Path,
    plan: FinalPlan,
    settings: Any,
    backend: Any,
    reporter: Reporter,
    formats: tuple[str, ...] = FORMATS,
) -> FinalOutcome:
    from fourtop.backends import sync_folder
    from fourtop.final.card import write_outputs
    from fourtop.jobs import eventlog
    from fourtop.jobs.tasks import WorkUnit

    jobs_dir = folder / JOBS_DIR
    outcome = FinalOutcome(folder)
    sync_folder(jobs_dir)
    todo, pending = [], []
    for fold in range(plan.k):
        if fold_complete(folder, fold):
            continue
        name = fold_name(fold)
        state = eventlog.read_log(jobs_dir / f"{name}.log").state
        if state in ("queued", "running") and not backend.capabilities.runs_here:
            pending.append(name)  # still on a batch system
        elif state in ("queued", "running") and _batch_submitted(jobs_dir):
            pending.append(name)
        else:
            todo.append(name)
    if pending:
        outcome.pending = pending
        reporter.note(
            f"{len(pending)} fold(s) still queued or running: {', '.join(pending)}; run "
            f"'fourtop final -f {folder}' again when they finish"
        )
    if todo:
        # a fold trained again changes the models: the card of the old ones goes first
        (folder / CARD_FILE).unlink(missing_ok=True)
        for name in todo:  # a failed attempt's output goes; the log keeps its history
            for ext in (".out", ".err"):
                (jobs_dir / f"{name}{ext}").unlink(missing_ok=True)
        units = [WorkUnit((name,)) for name in todo]
        job_folder = _Folder(str(jobs_dir), folder.resolve().name)
        if backend.capabilities.waits:
            with reporter.progress(len(units)) as progress:
                report = backend.submit(job_folder, units, settings, progress)
        else:
            report = backend.submit(job_folder, units, settings)
            outcome.submitted = bool(report.submitted)
            if report.submitted:
                reporter.note(
                    f"submitted {len(report.submitted)} fold(s) to {backend.name}; run "
                    f"'fourtop final -f {folder}' again when they finish, to write the model card"
                )
        outcome.failed = list(report.failed)
        if report.failed:
            reporter.failures(report.failed)
    if all(fold_complete(folder, fold) for fold in range(plan.k)):
        outcome.card = _existing_card(folder, plan, formats) or write_outputs(
            folder, plan, formats=formats
        )
    elif not outcome.submitted and not outcome.pending and not todo:
        raise ModelError(f"{folder}: folds are missing and none could be run")
    return outcome


def _batch_submitted(jobs_dir: Path) -> bool:
    """True when a batch system's submission files are in the jobs folder."""
    from fourtop.backends import BACKENDS

    return any(entry.marker and any(jobs_dir.glob(entry.marker)) for entry in BACKENDS.values())


def _existing_card(
    folder: Path, plan: FinalPlan, formats: tuple[str, ...] = FORMATS
) -> dict[str, Any] | None:
    """The card of a folder finished before, or None when there is none or it is damaged.

    The card is kept as it is (what was applied with it stays valid); a summary or plot
    that is missing (a plot in one of ``formats``) is written again from it and the folds'
    metrics; plots in other formats stay (they show the same folds).
    """
    from fourtop.final.card import complete_card, write_outputs
    from fourtop.final.model import load_final_model

    try:
        card = load_final_model(folder).card
    except ModelError:
        return None
    if not complete_card(card):
        return None
    write_outputs(folder, plan, card=card, only_missing=True, formats=formats)
    return card
