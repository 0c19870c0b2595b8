"""Running one work unit (a job, or a seed family) and writing its jobs' files.

This is what a batch node or a local worker runs: decode the job names with the full variable
list, load the data once, train (a family as one batched model), and leave for every job the files
the job tracker reads: ``<name>.out`` (written atomically at the end, with a ``ROC-integral:``
line on success, after information lines such as ``Memory: peak RSS 812 MiB, peak PSS 431
MiB``, the unit's peak resident and proportional memory, :mod:`fourtop.jobs.memory`),
``<name>.err`` (the error text, empty on success) and HTCondor events in ``<name>.log``
(executing, then terminated with return value 0, or 1 on failure).
A failure never escapes as an exception: it becomes that job's error.
"""

from __future__ import annotations

import logging
import platform
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fourtop.errors import FourtopError, JobFolderError
from fourtop.fileio import describe_os_error
from fourtop.jobs.jobfiles import JobFiles
from fourtop.jobs.memory import MemoryWatch
from fourtop.splits import Split

if TYPE_CHECKING:
    from fourtop.data.ntuples import SplitArrays
    from fourtop.jobs.seed import Seed

__all__ = ["derive_random_seed", "run_unit"]

log = logging.getLogger(__name__)


def derive_random_seed(base: int | None, seed_number: int) -> int:
    """The random seed of the jobs of one seed (a family and its members alone agree).

    Mixes the base random seed (None = 0) with the seed number (up to 2**76) through
    :class:`numpy.random.SeedSequence`; returns a 32-bit integer.

    Example:
        >>> derive_random_seed(None, 5) == derive_random_seed(0, 5) != derive_random_seed(0, 6)
        True
    """
    entropy = [int(base or 0), int(seed_number)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def run_unit(
    names: Sequence[str],
    *,
    job_dir: Path | None,
    variables: list[str],
    year: str,
    config_path: Path | None,
    params: dict[str, Any] | None,
    random_seed: int | None,
    arrays_path: Path | None = None,
    device: str = "auto",
    log_events: bool = True,
) -> dict[str, float | str]:
    """Train one job or seed family(ies) and record each job's result.

    Names that share a seed number are trained as one batched family; names of different seeds
    (unusual) are trained family after family on the data loaded once.

    Args:
        names: job names (``Keras_<N>vars_Seed_<n>[_Subseed_<m>]``), the seed job first.
        job_dir: the job folder to write ``.out``/``.err``/``.log`` into; None writes nothing.
        variables: the full ordered variable list that decodes the names.
        year: dataset key of the configuration.
        config_path: dataset configuration (None = the default).
        params: network hyperparameters (``NetworkParams.to_dict()``), None = the default.
        random_seed: base random seed; each seed's jobs use
            ``derive_random_seed(random_seed, seed.number)``.
        arrays_path: a cache file of the split's arrays to read instead of the ntuples.
        device: ``auto``, ``cpu`` or ``cuda``.
        log_events: write executing/terminated events (off where a batch system writes them).

    Returns:
        name -> ROC integral (float) or the error text (str), for every name.

    Raises:
        JobFolderError: ``job_dir`` is given but is not a folder (nothing can be recorded).
    """
    if job_dir is not None and not Path(job_dir).is_dir():
        what = "is not a folder" if Path(job_dir).exists() else "job folder does not exist"
        raise JobFolderError(f"{job_dir}: {what}")
    names = list(dict.fromkeys(names))
    writer = JobFiles(Path(job_dir), log_events) if job_dir is not None else None
    if writer is not None:
        for name in names:
            try:
                writer.executing(name)
            except OSError as exc:
                where = Path(job_dir, f"{name}.log")
                raise JobFolderError(
                    f"cannot write the job event log {describe_os_error(exc, where)}"
                ) from None
    results: dict[str, float | str] = {}

    def finish(name: str, value: float | str, info: list[str]) -> None:
        results[name] = value
        if writer is None:
            return
        try:
            writer.finish(name, value, info)
        except (OSError, FourtopError) as exc:  # e.g. a full disk: the result is not recorded
            where = Path(job_dir, f"{name}.out") if job_dir is not None else None
            text = describe_os_error(exc, where) if isinstance(exc, OSError) else str(exc)
            log.error("%s: could not record the job's result: %s", name, text)
            results[name] = f"could not record the result: {text}"

    with MemoryWatch() as memory:
        started = time.monotonic()
        try:
            from fourtop.train.params import NetworkParams

            network = NetworkParams.from_dict(params)
            families = _group_by_seed(names, variables, finish)
            data = _load(year, config_path, arrays_path) if families else None
        except Exception as exc:  # everything left fails with the same reason
            for name in names:
                if name not in results:
                    finish(name, _error_text(exc), [])
            return results
        load_s = time.monotonic() - started
        for seed, members in families:
            _run_family(seed, members, data, network, random_seed, device, load_s, finish, memory)
    return results


def _group_by_seed(
    names: list[str], variables: list[str], finish: Callable[[str, float | str, list[str]], None]
) -> list[tuple[Seed, list[tuple[str, list[str]]]]]:
    """Decode names; returns [(seed, [(name, its variables), ...]), ...]; bad names fail."""
    from fourtop.jobs.names import parse_job_name

    groups: dict[int, tuple[Seed, list[tuple[str, list[str]]]]] = {}
    for name in names:
        try:
            seed, subseed = parse_job_name(name, variables)
            own = (subseed or seed).included
            if not own:
                raise JobFolderError(f"{name}: the job includes no variable")
        except FourtopError as exc:
            finish(name, _error_text(exc), [])
            continue
        groups.setdefault(seed.number, (seed, []))[1].append((name, own))
    return list(groups.values())


def _load(year: str, config_path: Path | None, arrays_path: Path | None) -> SplitArrays:
    from fourtop.data import ntuples

    if arrays_path is not None:
        return ntuples.read_cache_file(Path(arrays_path))
    from fourtop.data.config import load_config

    return ntuples.load_split(load_config(config_path), year, Split.IMPORTANCE)


def _run_family(
    seed: Seed,
    members: list[tuple[str, list[str]]],
    data: Any,
    params: Any,
    base_seed: int | None,
    device: str,
    load_s: float,
    finish: Callable[[str, float | str, list[str]], None],
    memory: MemoryWatch,
) -> None:
    from fourtop.train.fit import train_members

    random_seed = derive_random_seed(base_seed, seed.number)
    started = time.monotonic()
    try:
        outcomes = train_members(
            data,
            seed.included,
            [v for _, v in members],
            params,
            random_seed=random_seed,
            device=device,
        )
    except Exception as exc:
        for name, _ in members:
            finish(name, _error_text(exc), [])
        return
    train_s = time.monotonic() - started
    used = memory.summary()
    for (name, own), outcome in zip(members, outcomes, strict=True):
        info = [
            f"Job: {name}",
            f"Variables ({len(own)}): {' '.join(own)}",
            f"Trained with: {len(members)} network(s) of seed {seed.number} as one batch",
            f"Random seed: {random_seed}",
            f"Device: {outcome.device}",
            f"Events: {outcome.n_train} training, {outcome.n_test} test",
            f"Epochs: {outcome.epochs_trained}",
            f"Time: {load_s:.3f} s loading data, {train_s:.1f} s training",
            f"Memory: {used}",
            f"Host: {platform.node()}",
        ]
        value: float | str = outcome.error or outcome.roc_integral
        finish(name, value, info)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, FourtopError):
        return str(exc)
    log.debug("unexpected error", exc_info=exc)
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {Path(last[0].filename).name}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"
