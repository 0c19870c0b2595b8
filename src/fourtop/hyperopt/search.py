"""The search: Gaussian-process Bayesian optimization of ``log(1 - ROC)`` with Optuna.

``n_starts`` points are drawn at random, then Optuna's :class:`~optuna.samplers.GPSampler`
(a Gaussian-process surrogate with an expected-improvement acquisition, the method of the
original's ``gp_minimize``) proposes the rest, up to ``n_calls`` trainings in all. The study is
stored as it goes in ``hyperopt_<tag>.journal`` (Optuna's append-only journal storage) in the
dataset folder: running again with the same tag continues the count where it stopped.

The study is ``hyperopt_<tag>``, minimising ``log(1-ROC)`` (its metric name); each trial's
parameters are the manual's hyperparameter names (``hidden_layers`` ... ``activation_function``)
and its user attributes are ``call`` (the training number of the log), ``roc_integral``,
``epochs`` and ``seconds`` (``error`` for a failed training). ``optuna-dashboard`` and
``optuna.load_study`` open the journal as it is written: reading takes no lock.

The objective is injectable: any callable ``(network, variables) -> TrialOutcome | float``
where ``network`` is a dict for :meth:`fourtop.train.params.NetworkParams.from_dict`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fourtop.hyperopt.outputs as outputs
from fourtop.errors import OutputError, ParameterError, ResultsError, TrainingError
from fourtop.fileio import clean_stale, describe_os_error
from fourtop.hyperopt.lock import TagLock
from fourtop.hyperopt.outputs import HyperoptFiles
from fourtop.hyperopt.params import Choice, HyperoptParameters, IntRange, LogRange

if TYPE_CHECKING:
    import optuna

__all__ = [
    "HyperoptResult",
    "Objective",
    "TrialOutcome",
    "TrialRecord",
    "objective_value",
    "run_hyperopt",
]

log = logging.getLogger(__name__)

#: smallest ``1 - ROC`` fed to the logarithm (a perfect ROC would be ``-inf``)
_MIN_ONE_MINUS_ROC = 1e-12

#: the name of the minimised value in the study (what optuna-dashboard labels it)
METRIC_NAME = "log(1-ROC)"

#: temporaries of a stopped process untouched this long (seconds) are removed at the start
STALE_AGE = 60.0


@dataclass(frozen=True)
class TrialOutcome:
    """What one training returns to the search.

    Attributes:
        roc_integral: ROC integral on the held-out half.
        model: what to save (``torch.save``) as the best model if this training is the best.
        epochs: epochs trained (early stopping may stop before ``epochs``).
    """

    roc_integral: float
    model: Mapping[str, Any] | None = None
    epochs: int | None = None


Objective = Callable[[dict[str, Any], list[str]], "TrialOutcome | float"]


@dataclass(frozen=True)
class TrialRecord:
    """One training of the search, as logged and reported.

    Attributes:
        call: 1-based training number (interrupted trainings are not counted).
        hyperparameters: the searched values of this training.
        roc_integral: its ROC integral, None if it failed.
        objective: ``log(1 - roc_integral)``, None if it failed.
        best_roc: best ROC integral up to and including this training.
        best_call: the training that holds ``best_roc``.
        seconds: wall time of the training.
        epochs: epochs trained, if known.
        error: why it failed, else None.
    """

    call: int
    hyperparameters: dict[str, Any]
    roc_integral: float | None
    objective: float | None
    best_roc: float | None
    best_call: int | None
    seconds: float
    epochs: int | None = None
    error: str | None = None


@dataclass
class HyperoptResult:
    """The finished search: every training, the best one, and the files written."""

    records: list[TrialRecord]
    best: TrialRecord
    files: HyperoptFiles
    resumed_from: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def objective_value(roc: float) -> float:
    """The minimised metric, ``log(1 - ROC)`` (clipped so a perfect ROC stays finite)."""
    return math.log(max(1.0 - roc, _MIN_ONE_MINUS_ROC))


def _distributions(params: HyperoptParameters) -> dict[str, Any]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    dists: dict[str, Any] = {}
    for name, dim in params.space.items():
        if isinstance(dim, IntRange):
            dists[name] = IntDistribution(dim.low, dim.high)
        elif isinstance(dim, LogRange):
            dists[name] = FloatDistribution(dim.low, dim.high, log=True)
        elif isinstance(dim, Choice):
            dists[name] = CategoricalDistribution(dim.options)
    return dists


def _counted(trial: optuna.trial.FrozenTrial) -> bool:
    """Finished trainings count towards ``n_calls``; interrupted ones do not."""
    from optuna.trial import TrialState

    return trial.state == TrialState.COMPLETE or (
        trial.state == TrialState.FAIL and "error" in trial.user_attrs
    )


def _records(study: optuna.Study) -> list[TrialRecord]:
    from optuna.trial import TrialState

    records: list[TrialRecord] = []
    best: tuple[float, int] | None = None
    trials = [t for t in study.get_trials(deepcopy=False) if _counted(t)]
    for call, t in enumerate(sorted(trials, key=lambda t: t.number), 1):
        roc = t.user_attrs.get("roc_integral") if t.state == TrialState.COMPLETE else None
        if roc is not None and (best is None or roc > best[0]):
            best = (roc, call)
        records.append(
            TrialRecord(
                call=call,
                hyperparameters=dict(t.params),
                roc_integral=roc,
                objective=t.value if roc is not None else None,
                best_roc=best[0] if best else None,
                best_call=best[1] if best else None,
                seconds=float(t.user_attrs.get("seconds", 0.0)),
                epochs=t.user_attrs.get("epochs"),
                error=t.user_attrs.get("error"),
            )
        )
    return records


def _open_study(
    files: HyperoptFiles,
    params: HyperoptParameters,
    variables: Sequence[str],
    context: Mapping[str, Any],
    seed: int,
) -> tuple[optuna.Study, int]:
    """Create or reopen the study; refuse to resume with other variables or another space."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    resuming = files.journal.exists()
    if resuming:
        _check_journal(files.journal)
    name = f"hyperopt_{params.tag}"
    try:
        # the tag's lock already keeps other runs away: no journal lock file of Optuna's
        backend = JournalFileBackend(str(files.journal), lock_obj=_NoJournalLock())
        storage = JournalStorage(backend)
        if any(s.study_name == name for s in storage.get_all_studies()):
            study = optuna.load_study(study_name=name, storage=storage)
        else:
            study = optuna.create_study(study_name=name, storage=storage, direction="minimize")
    except OSError:
        raise
    except Exception as exc:  # Optuna reports a damaged journal in many ways
        detail = str(exc) if isinstance(exc, ValueError) and str(exc) else "an unknown record"
        raise ParameterError(
            f"{files.journal}: the study file is damaged and cannot be resumed ({detail}); "
            "move it away to start this tag afresh, or choose another tag"
        ) from None
    attrs = {
        "variables": list(variables),
        "search": params.search_signature(),
        **{k: v for k, v in context.items() if v is not None},
    }
    if resuming and study.user_attrs:
        for key, value in attrs.items():
            old = study.user_attrs.get(key)
            if old is not None and old != value:
                raise ParameterError(
                    f"{files.journal}: tag {params.tag!r} was started with another "
                    f"{_LABELS.get(key, key)} "
                    f"({_difference(old, value)}); rerun with the same settings "
                    f"({files.parameters.name}) or choose another tag"
                )
    for key, value in attrs.items():
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)
    if study.metric_names != [METRIC_NAME]:  # the viewers' label of the objective value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([METRIC_NAME])
    # A trial still RUNNING was cut off (the lock rules out a live run): close it, uncounted.
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        log.info("closing training %d interrupted in an earlier run", t.number)
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
    done = sum(1 for t in study.get_trials(deepcopy=False) if _counted(t))
    # Reseed by the number of finished trials so a resumed run draws fresh random starts.
    study.sampler = optuna.samplers.GPSampler(
        seed=seed + len(study.get_trials(deepcopy=False)),
        n_startup_trials=params.n_starts,
    )
    return study, done


class _NoJournalLock:
    """Optuna's journal lock, unneeded under the tag's lock (and never left behind).

    Readers (``optuna-dashboard``, ``optuna.load_study``) take no lock either: Optuna reads a
    journal without one and skips a record still being written, so they can watch a run.
    Their writes (a dashboard note) take Optuna's ``<journal>.lock``, which this run ignores:
    each record is one appending write, which a local file system keeps whole.
    """

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        return None


def _check_journal(path: Path) -> None:
    """Refuse a damaged journal before Optuna appends to it; cut a half-written last record.

    A killed run or a full disk can leave the last record without its newline. Optuna
    skips such a line when reading but would append the next record to it, which damages
    the journal for good: it is cut (and said). Any other unreadable record is an error.

    Raises:
        ParameterError: a record is not a JSON object.
    """
    with open(path, "rb+") as fh:
        data = fh.read()
        complete = data.rfind(b"\n") + 1
        for lineno, line in enumerate(data[:complete].splitlines(), 1):
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ParameterError(
                    f"{path}: the study file is damaged and cannot be resumed (line {lineno}: "
                    f"{exc}); move it away to start this tag afresh, or choose another tag"
                ) from None
            if not isinstance(record, dict) or "op_code" not in record:
                raise ParameterError(
                    f"{path}: the study file is damaged and cannot be resumed (line {lineno}: "
                    "not a study record); move it away to start this tag afresh, or choose "
                    "another tag"
                )
        if complete < len(data):
            fh.truncate(complete)
            log.warning("%s: removed a half-written last record (from an interrupted run)", path)


_LABELS = {"variables": "variable list", "search": "search space", "config": "configuration"}


def _difference(old: Any, new: Any) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        return "differs in: " + ", ".join(keys)
    if isinstance(old, list) and isinstance(new, list):
        return (
            f"{len(old)} variables then, {len(new)} now"
            if len(old) != len(new)
            else ("not the same variables")
        )
    return f"{old!r} then, {new!r} now"


def run_hyperopt(
    folder: str | Path,
    variables: Sequence[str],
    params: HyperoptParameters,
    objective: Objective,
    *,
    seed: int = 0,
    context: Mapping[str, Any] | None = None,
    notes: Mapping[str, Any] | None = None,
    on_trial: Callable[[TrialRecord, HyperoptParameters], None] | None = None,
) -> HyperoptResult:
    """Run (or resume) the optimization and write its files in ``folder``.

    Args:
        folder: the dataset folder (must exist).
        variables: the input variables of every training.
        params: checked parameters (see :mod:`fourtop.hyperopt.params`).
        objective: trains one network, returns its ROC integral (or a :class:`TrialOutcome`).
        seed: seeds the random starts and the sampler.
        context: facts recorded in the study and the results (e.g. year, config); a resumed
            run must match them.
        notes: more facts for the results files only (e.g. the default network's ROC).
        on_trial: called after each training with its record (progress lines).

    A run that stops before its first training is finished (an error, a full disk, Ctrl-C)
    on a new tag leaves no files: its journal is removed, and the parameters and log files
    are written only once a training is in the study. A run that stops later keeps the study
    for resuming.

    Raises:
        ResultsError: the folder does not exist.
        ParameterError: the tag is in use by another run, was started with other settings,
            or its journal is damaged.
        OutputError: a file cannot be written (unwritable folder, no space left on device).
        TrainingError: every training failed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ResultsError(f"{folder}: dataset folder not found")
    files = HyperoptFiles.for_tag(folder, params)
    outputs.check_writable(files)
    state = {"done": 0}  # trainings finished by this run
    with TagLock(files.lock, tag=params.tag):
        for place in {path.parent for path in files.outputs()}:
            clean_stale(place, min_age=STALE_AGE)  # temporaries of killed runs
        fresh = not files.journal.exists()
        before = {path for path in (*files.outputs(), files.journal) if path.exists()}
        try:
            return _run_locked(
                files,
                variables,
                params,
                objective,
                seed,
                dict(context or {}),
                dict(notes or {}),
                on_trial,
                state,
            )
        except BaseException as exc:
            if fresh and state["done"] == 0:
                # nothing worth resuming: a failed first run leaves no files of its own
                _remove_new(files, before)
            if not isinstance(exc, OSError | OutputError):
                raise
            what = str(exc)
            if isinstance(exc, OSError):
                what = f"cannot write the study files in {folder}: {describe_os_error(exc)}"
            if state["done"]:
                what += (
                    f" (the {state['done']} trainings of this run are kept in "
                    f"{files.journal.name}: free some space and run again with --tag "
                    f"{params.tag} to resume)"
                )
            elif fresh:
                what += " (nothing was kept)"
            raise OutputError(what) from None


def _study_gone(study: optuna.Study) -> bool:
    """Whether the study was deleted (or renamed) in its storage by another process."""
    try:
        study.user_attrs  # noqa: B018 (the storage's KeyError is the answer)
    except KeyError:
        return True
    return False


def _remove_new(files: HyperoptFiles, before: set[Path]) -> None:
    """Remove the files this run made (never one that was there before, e.g. the ``-p`` file)."""
    for path in (*files.outputs(), files.journal):
        if path in before:
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.warning("%s: could not remove it; remove it by hand", path)


def _run_locked(
    files: HyperoptFiles,
    variables: Sequence[str],
    params: HyperoptParameters,
    objective: Objective,
    seed: int,
    context: dict[str, Any],
    notes: dict[str, Any],
    on_trial: Callable[[TrialRecord, HyperoptParameters], None] | None,
    state: dict[str, int],
) -> HyperoptResult:
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    study, done = _open_study(files, params, variables, context, seed)
    extra = {**context, **notes}
    resumed_from = done
    if done:
        log.info("resuming tag %s after %d of %d trainings", params.tag, done, params.n_calls)
    dists = _distributions(params)
    records = _records(study)
    best_roc = max((r.roc_integral for r in records if r.roc_integral is not None), default=None)
    if best_roc is not None and not files.model.exists():
        log.warning("%s: the best model of the earlier run is missing", files.model)

    try:
        while done < params.n_calls:
            trial = study.ask(dists)
            point = dict(trial.params)
            network = params.network(point)
            start = time.perf_counter()
            try:
                raw = objective(network, list(variables))
            except TrainingError as err:
                trial.set_user_attr("call", done + 1)
                trial.set_user_attr("error", str(err))
                trial.set_user_attr("seconds", time.perf_counter() - start)
                study.tell(trial, state=TrialState.FAIL)
                log.warning("training %d failed: %s", done + 1, err)
            except BaseException:
                with contextlib.suppress(KeyError):  # the study deleted meanwhile
                    study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                raise
            else:
                outcome = raw if isinstance(raw, TrialOutcome) else TrialOutcome(float(raw))
                roc = float(outcome.roc_integral)
                trial.set_user_attr("call", done + 1)
                trial.set_user_attr("seconds", time.perf_counter() - start)
                if not math.isfinite(roc):
                    trial.set_user_attr("error", f"ROC integral is {roc}")
                    study.tell(trial, state=TrialState.FAIL)
                else:
                    trial.set_user_attr("roc_integral", roc)
                    if outcome.epochs is not None:
                        trial.set_user_attr("epochs", int(outcome.epochs))
                    if outcome.model is not None and (best_roc is None or roc > best_roc):
                        payload = {
                            **outcome.model,
                            "roc_integral": roc,
                            "hyperparameters": {**params.fixed, **point},
                            "tag": params.tag,
                        }
                        outputs.save_model(files.model, payload)
                    study.tell(trial, objective_value(roc))
                    best_roc = roc if best_roc is None else max(best_roc, roc)
            done += 1
            state["done"] += 1
            records = _records(study)
            if state["done"] == 1:  # written once a training is in the study
                outputs.write_parameters(files, params)
            outputs.write_log(files, params, variables, records)
            if records[-1].best_roc is not None:
                best_record = records[records[-1].best_call - 1]
                outputs.write_optimized(files, params, variables, best_record, done, extra)
            if on_trial is not None:
                on_trial(records[-1], params)
    except UpdateFinishedTrialError:
        # e.g. "Mark as failed" in optuna-dashboard: the study no longer takes this result
        raise ParameterError(
            f"{files.journal}: training {done + 1} was ended from outside this run (in "
            "optuna-dashboard?) while it trained, so its result cannot be recorded; run the "
            "same command again to resume (a viewer must only look while a run is going)"
        ) from None
    except KeyError:
        if not _study_gone(study):
            raise
        raise ParameterError(
            f"{files.journal}: study {study.study_name} was deleted or renamed from outside "
            "this run (in optuna-dashboard?); run the same command again to start tag "
            f"{params.tag} afresh, or choose another tag"
        ) from None

    if state["done"] == 0:  # nothing trained now (a finished study run again)
        outputs.write_parameters(files, params)
        outputs.write_log(files, params, variables, records)
    if best_roc is None:
        raise TrainingError(f"all {done} trainings failed; see {files.log}")
    best = records[records[-1].best_call - 1]
    outputs.write_optimized(files, params, variables, best, done, extra)
    outputs.plot_history(files, params, records)
    return HyperoptResult(
        records=records, best=best, files=files, resumed_from=resumed_from, extra=extra
    )
