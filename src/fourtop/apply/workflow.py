"""``fourtop apply`` as a library call: plan the files, skip the complete ones, run the rest.

:func:`apply` checks everything it can before it writes anything (the final folder, the
configuration against the model's, the dataset key, the backend and its options, the output
folder, name collisions, outputs that are not fourtop's or were made with other settings),
then, holding the output folder's lock, writes the plan into ``<output>/jobs`` and runs one
job per input file that has no complete output on the backend. Backends that wait (the
local pool) have run every job when it returns; batch backends have queued them (run
``apply`` again when they are done: complete outputs are skipped, and jobs still queued or
running are not submitted twice). With ``hists`` and every output complete, the score
histograms are written too (:mod:`fourtop.apply.hists`; the stacked plot in each of
``plot_formats``).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fourtop.apply.hists import SampleHist, make_hists
from fourtop.apply.plan import (
    JOBS_DIR,
    PLAN_FILE,
    ApplyPlan,
    InputFile,
    check_branch_name,
    plan_files,
)
from fourtop.apply.record import OutputState, model_id, output_state
from fourtop.apply.task import ApplySettings, read_events
from fourtop.errors import ConfigError, OutputError, ParameterError
from fourtop.fileio import clean_stale, describe_os_error
from fourtop.jobs.requests import LogReporter, Reporter
from fourtop.plotting import FORMATS, check_formats

if TYPE_CHECKING:
    from fourtop.data.config import DatasetConfig

__all__ = ["ApplyOutcome", "ApplyRequest", "apply"]

log = logging.getLogger(__name__)

#: leftovers of a dead writer in an output folder a batch system shares are removed after this
#: (seconds): its process id means nothing on another machine
STALE_AGE = 3600.0
_LOCK = ".fourtop.lock"
_BUSY = ("queued", "running", "held")


@dataclass
class ApplyRequest:
    """What ``fourtop apply`` is asked for (the command's options)."""

    final_folder: str
    key: str | None = None  # None: the dataset the models were trained on
    config: str | None = None
    output: str | None = None  # None: <final folder>/apply_<key>
    copy: bool = False
    branch: str = "DNN"
    samples: str = "all"
    backend: str = "local"
    options: dict[str, str] = field(default_factory=dict)
    processes: int = 2
    engine: str = "onnx"
    resume: bool = False
    hists: bool = False
    plot_formats: tuple[str, ...] = FORMATS  # of the stacked plot (with ``hists``)


@dataclass
class ApplyOutcome:
    """What a run did, by input file."""

    output_dir: Path
    plan: ApplyPlan | None = None
    complete: list[str] = field(default_factory=list)  # complete before this run: skipped
    done: list[str] = field(default_factory=list)  # scored by this run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, one-line reason)
    submitted: list[str] = field(default_factory=list)  # queued on a batch system
    busy: list[str] = field(default_factory=list)  # still queued or running from before
    events: int = 0  # events scored and written by this run
    hists: list[SampleHist] = field(default_factory=list)
    hist_files: list[Path] = field(default_factory=list)
    hists_skipped: str = ""  # why the histograms were not made (with ``hists``)


@dataclass(frozen=True)
class _Folder:
    """The job folder as a backend sees it."""

    path: str

    @property
    def name(self) -> str:
        return Path(self.path).name


def apply(request: ApplyRequest, reporter: Reporter | None = None) -> ApplyOutcome:
    """Score every input file of the request (see the module documentation).

    Raises:
        ModelError: no final folder, or one trained with another configuration.
        ConfigError: an unknown key, no files, two inputs of one name, an input in the
            output folder.
        ParameterError: a bad option; ``resume`` without an earlier run; outputs made with
            other settings that the reporter did not agree to replace.
        BackendError: an unknown backend or option, ``transfer=yes``.
        OutputError: the output folder cannot be written, or holds files that are not
            fourtop's under an output's name.
    """
    from fourtop.backends import get_backend
    from fourtop.data.config import load_config
    from fourtop.final.model import CARD_FILE, ENGINES, load_final_model
    from fourtop.staging import check_output_folder

    reporter = reporter or LogReporter()
    check_branch_name(request.branch)
    formats = check_formats(request.plot_formats, "--plot-format")
    if request.engine not in ENGINES:
        raise ParameterError(f"--engine {request.engine!r}: choose from {', '.join(ENGINES)}")
    if request.processes < 1:
        raise ParameterError(f"-p must be at least 1, got {request.processes}")
    model = load_final_model(request.final_folder)
    final = model.folder.resolve()
    config = load_config(request.config)
    model.check_config(config)
    model.verify()  # a damaged model: refused once, not once per file
    from fourtop.data.formula import Formula

    taken = {*model.variables, *Formula(model.event_id, "event_id").branches}
    if request.branch in taken:
        raise ParameterError(
            f"--branch {request.branch}: an input of the model (every input tree has it); "
            "choose another name"
        )
    key = str(request.key or model.dataset)
    files = plan_files(config, key, request.samples)
    backend = get_backend(request.backend)
    settings = ApplySettings(
        year=key,
        varlist=model.variables,
        config=config.path,
        processes=request.processes,
        families=False,
        device="cpu",
        options=dict(request.options),
        task="apply",
    )
    backend.check(settings)
    out_dir = check_output_folder(
        Path(request.output) if request.output else final / f"apply_{key}", option="-o"
    )
    if out_dir.resolve() == final:
        raise ParameterError(f"-o {request.output}: the final folder itself; choose another -o")
    jobs_dir = out_dir / JOBS_DIR
    if request.resume and not (jobs_dir / PLAN_FILE).is_file():
        raise ParameterError(
            f"{out_dir}: nothing to resume (no earlier fourtop apply run there); leave out -r "
            "to start one"
        )
    _refuse_self(files, out_dir)
    plan = ApplyPlan(
        model_folder=str(final),
        model_id=model_id(final / CARD_FILE),
        engine=request.engine,
        tree=config.tree,
        event_id=str(model.event_id),
        branch=request.branch,
        copy=request.copy,
        key=key,
        config=str(config.path),
        output_dir=str(out_dir),
        files=files,
    )
    states = _states(plan, reporter)
    made = not out_dir.exists()
    try:
        jobs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {describe_os_error(exc, jobs_dir)}") from None
    outcome = ApplyOutcome(out_dir, plan)
    from fourtop.jobs.lock import hold
    from fourtop.jobs.tasks import get_task_kind

    with hold(jobs_dir / _LOCK, str(out_dir), what="fourtop apply"):
        started = False
        try:
            clean_stale(out_dir, min_age=0.0 if backend.capabilities.runs_here else STALE_AGE)
            for item in plan.files:  # completed by a run that ended while this one started
                if states[item.job].state != "complete":
                    now = output_state(plan, item)
                    if now.state == "complete":
                        states[item.job] = now
            settings.plan = plan
            get_task_kind("apply").prepare(jobs_dir, settings)
            started = True
            try:
                _run(plan, states, backend, settings, jobs_dir, reporter, outcome)
            except KeyboardInterrupt:  # the workers are killed: remove what they left
                clean_stale(out_dir, min_age=0.0)
                raise
        except BaseException:
            if made and not started:  # nothing ran: leave no folder behind
                shutil.rmtree(out_dir, ignore_errors=True)
            raise
    if request.hists:
        _hists(plan, config, reporter, outcome, formats)
    return outcome


def _refuse_self(files: list[InputFile], out_dir: Path) -> None:
    for item in files:
        target = out_dir / item.output
        if os.path.realpath(target) == os.path.realpath(item.input):
            raise ConfigError(
                f"{item.input}: is in the output folder, so its output would replace it; "
                "choose another -o"
            )


def _states(plan: ApplyPlan, reporter: Reporter) -> dict[str, OutputState]:
    """Each job's output state; files that are not fourtop's are refused, outputs of other
    settings replaced only if the reporter agrees."""
    states = {item.job: output_state(plan, item) for item in plan.files}
    foreign = [s for s in states.values() if s.state == "foreign"]
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise OutputError(
            f"{foreign[0].reason}{more}: not overwritten; move it away or choose another -o"
        )
    other = [s for s in states.values() if s.state == "other"]
    if other:
        what = f"{len(other)} output(s) in {plan.output_dir} were made with other settings"
        if not reporter.confirm(f"{what} ({other[0].reason}). Replace them?"):
            raise ParameterError(
                f"{what} ({other[0].reason}); pass --yes to replace them, or choose another -o"
            )
    return states


def _run(
    plan: ApplyPlan,
    states: dict[str, OutputState],
    backend: object,
    settings: ApplySettings,
    jobs_dir: Path,
    reporter: Reporter,
    outcome: ApplyOutcome,
) -> None:
    from fourtop.backends.base import Backend
    from fourtop.jobs.eventlog import read_log
    from fourtop.jobs.tasks import WorkUnit

    assert isinstance(backend, Backend)
    by_job = {item.job: item for item in plan.files}
    todo = [item for item in plan.files if states[item.job].state != "complete"]
    outcome.complete = [i.input for i in plan.files if states[i.job].state == "complete"]
    waits = backend.capabilities.waits
    if not waits and todo:
        backend.sync(str(jobs_dir))
        busy = [i for i in todo if read_log(jobs_dir / f"{i.job}.log").state in _BUSY]
        outcome.busy = [i.input for i in busy]
        todo = [i for i in todo if i not in busy]
    note = f"{plan.output_dir}: {len(plan.files)} file(s) of dataset {plan.key}"
    note += f", {len(outcome.complete)} complete, {len(todo)} to score"
    if outcome.busy:
        note += f", {len(outcome.busy)} still queued or running on {backend.name}"
    reporter.note(note)
    if not todo:
        return
    for item in todo:  # a failed attempt's output (never a result: the outputs hold those)
        for ext in (".out", ".err"):
            (jobs_dir / f"{item.job}{ext}").unlink(missing_ok=True)
    units = [WorkUnit((item.job,)) for item in todo]
    if waits:
        with reporter.progress(len(units)) as progress:
            report = backend.submit(_Folder(str(jobs_dir)), units, settings, progress)
    else:
        report = backend.submit(_Folder(str(jobs_dir)), units, settings)
    for name, reason in report.failed:
        where = by_job[name].input
        line = " ".join(str(reason).split())
        outcome.failed.append((where, line if where in line else f"{where}: {line}"))
    if waits:
        outcome.done = [by_job[name].input for name in report.submitted]
        outcome.events = int(
            sum(read_events(jobs_dir / f"{name}.out") or 0 for name in report.submitted)
        )
    else:
        outcome.submitted = [by_job[name].input for name in report.submitted]


def _hists(
    plan: ApplyPlan,
    config: DatasetConfig,
    reporter: Reporter,
    outcome: ApplyOutcome,
    formats: tuple[str, ...],
) -> None:
    missing = [i for i in plan.files if output_state(plan, i).state != "complete"]
    if missing:
        outcome.hists_skipped = (
            f"{len(missing)} of {len(plan.files)} output(s) are not complete (first "
            f"{missing[0].input}); run fourtop apply again with --hists once they are"
        )
        return
    with reporter.status("filling the score histograms"):
        outcome.hists, outcome.hist_files = make_hists(
            plan, config.selection, config.weight, config.sample_weights(plan.key), formats
        )
