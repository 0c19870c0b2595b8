"""Variable-importance statistics from seed and subseed ROC integrals.

The statistics follow the original ``calculate.py`` exactly:

1. every seed job with a result adds one to the *frequency* of each variable it includes;
2. for every subseed job with a result whose seed has a result, the difference
   ``ROC(seed) - ROC(subseed)`` is recorded for each variable the subseed drops
   (included in the seed, not in the subseed);
3. per variable: *Sum*, *Mean*, *RMS* (population standard deviation, ``ddof=0``) and
   *Importance* = Mean / RMS; the *Normalization* is the sum of all differences.

Choices where the original was silent (see ``docs/calculate.md``):

* a job is identified by its variable list, seed bits and subseed bits (the job name, made
  safe against two variable lists of the same length); when it appears in several inputs
  the first input that holds a result for it wins, so a folder given twice (or a folder and
  its compacted ``.jtd``) is counted once;
* a variable with fewer than two differences, or an RMS of zero, gets Importance ``0`` and is
  flagged (``importance_defined = False``) instead of ``inf``/``nan``;
* variables without any difference are *never tested*: they are listed, and sorted after
  every tested variable whatever the order asked for.

On top of the original, :func:`bootstrap` resamples whole seed families (a seed with its
subseeds) to give intervals for each variable's importance and for its rank.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from fourtop.errors import ResultsError, did_you_mean

__all__ = [
    "MAX_BOOTSTRAP",
    "RMS_ZERO",
    "SORT_KEYS",
    "Family",
    "ImportanceTable",
    "JobResult",
    "VariableStats",
    "bootstrap",
    "build_families",
    "compute_importance",
]

log = logging.getLogger(__name__)

#: ``-o`` choices, as in the original manual
SORT_KEYS: tuple[str, ...] = ("importance", "freq", "sum", "mean", "rms")

#: an RMS at or below this is treated as zero (importance undefined)
RMS_ZERO = 1e-12

#: most bootstrap replicates (``--bootstrap``): 100 times the default, far past any need
MAX_BOOTSTRAP = 100_000

#: family draws per bootstrap chunk (bounds the memory of the resampling: 8 MB per array)
CHUNK_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class JobResult:
    """One job as the statistics see it: which variables it trained on and its ROC integral.

    Attributes:
        name: the job name (``Keras_<N>vars_Seed_<n>[_Subseed_<m>]``), for messages.
        source: the folder or ``.jtd`` file it was read from.
        variables: the ordered variable list of the job's seed.
        seed_bits: the seed as a bit string over ``variables``.
        subseed_bits: the subseed's bit string, or ``None`` for a seed job.
        roc: the ROC integral, or ``None`` when the job has no result (unfinished, failed).
    """

    name: str
    source: str
    variables: tuple[str, ...]
    seed_bits: str
    subseed_bits: str | None
    roc: float | None

    @property
    def key(self) -> tuple[tuple[str, ...], str, str | None]:
        return (self.variables, self.seed_bits, self.subseed_bits)

    @property
    def family_key(self) -> tuple[tuple[str, ...], str]:
        return (self.variables, self.seed_bits)


def _included(variables: Sequence[str], bits: str) -> list[str]:
    return [v for v, b in zip(variables, bits, strict=True) if b == "1"]


@dataclass
class Family:
    """A seed job with a result and the differences its subseeds with a result give.

    Attributes:
        seed: the seed job.
        included: the variables the seed includes, in list order.
        differences: ``(variable, ROC(seed) - ROC(subseed))`` per dropped variable.
    """

    seed: JobResult
    included: list[str]
    differences: list[tuple[str, float]] = field(default_factory=list)


def build_families(results: Iterable[JobResult]) -> tuple[list[Family], dict[str, int]]:
    """Deduplicate jobs and pair every subseed result with its seed result.

    Returns:
        The families (in the order their seeds were first seen) and counts of what was
        skipped: ``duplicates``, ``no_result``, ``orphan_subseeds`` (subseed with a result
        whose seed has none), ``bad_roc`` (a ROC integral outside [0, 1] or not finite: a
        crashed or hand-edited job, counted as without a result).
    """
    chosen: dict[tuple, JobResult] = {}
    counts = {"duplicates": 0, "no_result": 0, "orphan_subseeds": 0, "bad_roc": 0}
    for job in results:
        if len(job.seed_bits) != len(job.variables) or (
            job.subseed_bits is not None and len(job.subseed_bits) != len(job.variables)
        ):
            raise ResultsError(
                f"{job.source}: job {job.name}: seed bits do not match its "
                f"{len(job.variables)} variables"
            )
        if job.roc is not None and not (math.isfinite(job.roc) and 0.0 <= job.roc <= 1.0):
            log.warning(
                "%s: job %s has ROC integral %s, outside [0, 1]; counted as failed",
                job.source,
                job.name,
                job.roc,
            )
            counts["bad_roc"] += 1
            job = JobResult(
                job.name, job.source, job.variables, job.seed_bits, job.subseed_bits, None
            )
        previous = chosen.get(job.key)
        if previous is None:
            chosen[job.key] = job
            continue
        counts["duplicates"] += 1
        if previous.roc is None and job.roc is not None:
            chosen[job.key] = job
        log.info("job %s appears again in %s; the first result is used", job.name, job.source)
    if counts["duplicates"]:
        log.warning(
            "%d duplicated job(s) counted once (first result in input order)", counts["duplicates"]
        )

    families: dict[tuple, Family] = {}
    for job in chosen.values():
        if job.roc is None:
            counts["no_result"] += 1
        elif job.subseed_bits is None:
            families[job.family_key] = Family(job, _included(job.variables, job.seed_bits))
    for job in chosen.values():
        if job.subseed_bits is None or job.roc is None:
            continue
        family = families.get(job.family_key)
        if family is None:
            counts["orphan_subseeds"] += 1
            continue
        seed_roc = family.seed.roc
        assert seed_roc is not None
        for var, s, b in zip(job.variables, job.seed_bits, job.subseed_bits, strict=True):
            if s == "1" and b == "0":
                family.differences.append((var, seed_roc - job.roc))
    return list(families.values()), counts


@dataclass
class VariableStats:
    """One row of the results table, plus the uncertainty fields the original lacked."""

    name: str
    freq: int
    differences: np.ndarray
    sum: float
    mean: float
    rms: float
    importance: float
    importance_defined: bool
    sem: float | None = None
    importance_ci68: tuple[float, float] | None = None
    importance_ci95: tuple[float, float] | None = None
    rank_ci68: tuple[float, float] | None = None
    rank_ci95: tuple[float, float] | None = None
    importance_rank: int | None = None

    @property
    def n(self) -> int:
        return int(self.differences.size)

    @property
    def tested(self) -> bool:
        return self.n > 0


@dataclass
class ImportanceTable:
    """Per-variable statistics for every variable of the inputs, in variable-list order."""

    variables: list[str]
    rows: dict[str, VariableStats]
    normalization: float
    families: list[Family]
    counts: dict[str, int]

    @property
    def never_tested(self) -> list[str]:
        return [v for v in self.variables if not self.rows[v].tested]

    @property
    def undefined(self) -> list[str]:
        """Tested variables whose importance is set to 0 (one difference, or RMS 0)."""
        return [
            v for v in self.variables if self.rows[v].tested and not self.rows[v].importance_defined
        ]

    def ordered(self, key: str = "importance", increasing: bool = False) -> list[VariableStats]:
        """Rows sorted by ``key`` (descending unless ``increasing``); never-tested last.

        Ties keep the variable-list order.

        Raises:
            ResultsError: ``key`` is not one of :data:`SORT_KEYS`.
        """
        if key not in SORT_KEYS:
            raise ResultsError(
                f"unknown sort order {key!r}: choose one of {', '.join(SORT_KEYS)}"
                + did_you_mean(key, SORT_KEYS)
            )
        tested = [self.rows[v] for v in self.variables if self.rows[v].tested]
        untested = [self.rows[v] for v in self.variables if not self.rows[v].tested]
        sign = 1.0 if increasing else -1.0
        tested.sort(key=lambda r: sign * float(getattr(r, key)))
        return tested + untested


def _importance(mean: float, rms: float, n: int) -> tuple[float, bool]:
    if n < 2 or rms <= RMS_ZERO:
        return 0.0, False
    return mean / rms, True


def compute_importance(
    results: Iterable[JobResult], variables: Sequence[str] | None = None
) -> ImportanceTable:
    """Compute the original's statistics from job results.

    Args:
        results: every job of the input folders, in input order.
        variables: the variables to report (default: union of the jobs' variable lists, in
            order of first appearance).

    Raises:
        ResultsError: no seed job with a result among ``results``.
    """
    results = list(results)
    if variables is None:
        seen: dict[str, None] = {}
        for job in results:
            seen.update(dict.fromkeys(job.variables))
        variables = list(seen)
    variables = list(variables)
    families, counts = build_families(results)
    if not families:
        raise ResultsError("no seed job with a ROC-integral result in the input folders")
    freq = dict.fromkeys(variables, 0)
    diffs: dict[str, list[float]] = {v: [] for v in variables}
    for fam in families:
        for v in fam.included:
            freq[v] = freq.get(v, 0) + 1
        for v, d in fam.differences:
            diffs.setdefault(v, []).append(d)
    rows: dict[str, VariableStats] = {}
    for v in variables:
        arr = np.asarray(diffs[v], dtype=np.float64)
        n = arr.size
        mean = float(arr.mean()) if n else 0.0
        rms = float(arr.std()) if n else 0.0  # population std, as the original
        imp, ok = _importance(mean, rms, n)
        sem = float(arr.std(ddof=1) / math.sqrt(n)) if n >= 2 else None
        rows[v] = VariableStats(v, freq[v], arr, float(arr.sum()), mean, rms, imp, ok, sem=sem)
    normalization = float(sum(r.sum for r in rows.values()))
    counts["families"] = len(families)
    counts["differences"] = sum(r.n for r in rows.values())
    return ImportanceTable(variables, rows, normalization, families, counts)


def rank_by_importance(imp: np.ndarray) -> np.ndarray:
    """Ranks 1..V along the last axis, highest importance first, ties by list order."""
    order = np.argsort(-imp, axis=-1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, imp.shape[-1] + 1), axis=-1)
    return ranks


def family_sums(
    table: ImportanceTable, tested: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per family and tested variable: the number of differences, their sum and sum of squares.

    Rows follow ``table.families``, columns ``tested``; a resampled table is these arrays
    weighted by how often each family was drawn (:func:`weighted_importance`).
    """
    col = {v: i for i, v in enumerate(tested)}
    cnt = np.zeros((len(table.families), len(tested)))
    s1 = np.zeros_like(cnt)
    s2 = np.zeros_like(cnt)
    for f, fam in enumerate(table.families):
        for v, d in fam.differences:
            cnt[f, col[v]] += 1
            s1[f, col[v]] += d
            s2[f, col[v]] += d * d
    return cnt, s1, s2


def weighted_importance(
    weights: np.ndarray, cnt: np.ndarray, s1: np.ndarray, s2: np.ndarray
) -> np.ndarray:
    """Importance of each tested variable in each resampled table (one row of ``weights``
    per table: how often each family was drawn), with the rules of the observed table
    (0 where fewer than two differences or RMS 0)."""
    n = weights @ cnt
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (weights @ s1) / n
        var = np.clip((weights @ s2) / n - mean**2, 0.0, None)
        rms = np.sqrt(var)
        return np.where((n >= 2) & (rms > RMS_ZERO), mean / rms, 0.0)


def bootstrap(table: ImportanceTable, n_boot: int = 1000, rng_seed: int = 20200617) -> None:
    """Fill each tested row's intervals by resampling seed families with replacement.

    Every replicate draws as many families as there are, recomputes mean, RMS and
    importance with the same rules as the table (importance 0 where undefined), and ranks
    the tested variables by importance. The 68 % and 95 % intervals are the central
    percentiles of the replicates. ``importance_rank`` is the observed importance rank
    (set even with ``n_boot=0``, which skips the resampling).

    The replicates are computed in chunks of about :data:`CHUNK_ELEMENTS` family draws, so
    the memory is ``12 * n_boot * tested variables`` bytes for the kept replicates plus a
    fixed amount, whatever the number of families (about 90 MB for the largest ``n_boot``
    over 76 variables). The numbers do not depend on the chunking.

    Raises:
        ResultsError: ``n_boot`` is negative or more than :data:`MAX_BOOTSTRAP`.
    """
    if not 0 <= n_boot <= MAX_BOOTSTRAP:
        raise ResultsError(
            f"--bootstrap {n_boot}: the number of bootstrap replicates must be 0 to "
            f"{MAX_BOOTSTRAP} (the default is 1000)"
        )
    tested = [v for v in table.variables if table.rows[v].tested]
    if not tested:
        return
    observed = rank_by_importance(np.array([table.rows[v].importance for v in tested]))
    for i, v in enumerate(tested):
        table.rows[v].importance_rank = int(observed[i])
    if n_boot <= 0:
        return
    cnt, s1, s2 = family_sums(table, tested)
    n_fam = cnt.shape[0]
    rng = np.random.default_rng(rng_seed)
    imp = np.empty((n_boot, len(tested)))
    ranks = np.empty((n_boot, len(tested)), dtype=np.int32)
    chunk = max(1, CHUNK_ELEMENTS // max(n_fam, len(tested)))
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        # the same stream as one (n_boot, n_fam) draw: reruns give the same numbers
        draws = rng.integers(0, n_fam, size=(m, n_fam))
        flat = (np.arange(m)[:, None] * n_fam + draws).ravel()
        weights = np.bincount(flat, minlength=m * n_fam).reshape(m, n_fam).astype(np.float64)
        del draws, flat
        block = weighted_importance(weights, cnt, s1, s2)
        imp[start : start + m] = block
        ranks[start : start + m] = rank_by_importance(block)
    for i, v in enumerate(tested):
        row = table.rows[v]
        lo68, hi68, lo95, hi95 = np.percentile(imp[:, i], [16, 84, 2.5, 97.5])
        row.importance_ci68 = (float(lo68), float(hi68))
        row.importance_ci95 = (float(lo95), float(hi95))
        r = np.percentile(ranks[:, i], [16, 84, 2.5, 97.5])
        row.rank_ci68 = (float(r[0]), float(r[1]))
        row.rank_ci95 = (float(r[2]), float(r[3]))
