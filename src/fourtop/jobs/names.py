"""Importance job names: ``Keras_<N>vars_Seed_<n>[_Subseed_<m>]``, as in the original tool.

A name holds the number of variables and the seed (and subseed) numbers; with the ordered
variable list it decodes to the job's seeds.

Example:
    >>> from fourtop.jobs.seed import Seed
    >>> seed = Seed.from_binary("110", ["a", "b", "c"])
    >>> job_name(3, seed, seed.subseeds()[0])
    'Keras_3vars_Seed_6_Subseed_2'
    >>> parse_numbers("Keras_3vars_Seed_6_Subseed_2", 3)
    (6, 2)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from fourtop.errors import JobFolderError, VariableError
from fourtop.jobs.seed import Seed, check_variables

__all__ = ["NAME_HELP", "job_name", "parse_job_name", "parse_numbers"]

#: ASCII digits without leading zeros: one job, one name (``Seed_03`` would be a second name)
_NUMBER = r"(0|[1-9][0-9]*)"
_NAME = re.compile(rf"^Keras_{_NUMBER}vars_Seed_{_NUMBER}(?:_Subseed_{_NUMBER})?$")
NAME_HELP = "expected Keras_<N>vars_Seed_<n>[_Subseed_<m>]"


def job_name(nvars: int, seed: Seed, subseed: Seed | None) -> str:
    """``Keras_<nvars>vars_Seed_<n>``, or ``..._Subseed_<m>`` for a subseed job.

    Raises:
        VariableError: ``nvars`` is not a whole number, or ``seed``/``subseed`` is not a Seed.
    """
    if isinstance(nvars, bool) or not isinstance(nvars, int):
        raise VariableError(f"job_name: nvars must be a whole number, not {nvars!r}")
    if not isinstance(seed, Seed) or not (subseed is None or isinstance(subseed, Seed)):
        raise VariableError(
            "job_name: seed must be a Seed and subseed a Seed or None, not "
            f"{type(seed).__name__} and {type(subseed).__name__}"
        )
    name = f"Keras_{nvars}vars_Seed_{seed.number}"
    return name if subseed is None else f"{name}_Subseed_{subseed.number}"


def parse_numbers(name: str, nvars: int) -> tuple[int, int | None]:
    """(seed number, subseed number or None) of a job name for ``nvars`` variables.

    Raises:
        JobFolderError: as :func:`parse_job_name`.
    """
    if not isinstance(name, str):
        raise JobFolderError(f"{name!r}: not a job name ({NAME_HELP})")
    match = _NAME.match(name)
    if match is None:
        raise JobFolderError(f"{name}: not a job name ({NAME_HELP})")
    n, seed = int(match[1]), int(match[2])
    sub = None if match[3] is None else int(match[3])
    if n != nvars:
        raise JobFolderError(f"{name}: job is for {n} variables but the variable list has {nvars}")
    if seed >= 1 << n:
        raise JobFolderError(
            f"{name}: seed number {seed} does not fit {n} variables (largest is 2^{n}-1)"
        )
    if sub is not None and (sub & ~seed or (seed ^ sub).bit_count() != 1):
        raise JobFolderError(
            f"{name}: subseed {sub} is not seed {seed} with exactly one "
            "included variable switched off"
        )
    return seed, sub


def parse_job_name(name: str, variables: Sequence[str]) -> tuple[Seed, Seed | None]:
    """Seed and subseed (or None) of a job name, checked against ``variables``.

    Raises:
        JobFolderError: the name is not a job name, is for another number of
            variables, has a seed number too large, or a subseed that is not
            the seed with one included variable switched off.
    """
    names = check_variables(variables, "parse_job_name")
    seed, sub = parse_numbers(name, len(names))
    return Seed(names, seed), None if sub is None else Seed(names, sub)
