"""Job folders for the backend tests: seed families over a few variables, no files yet.

The ``new_folder`` fixture of ``conftest.py`` builds them under the test's ``tmp_path``;
code that runs outside a test (the live SLURM checks, module-scoped fixtures) calls
:func:`new_folder` directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fourtop.backends import WorkUnit
from fourtop.jobtracker import Job, JobFolder, Seed, job_name

#: the variables of every test folder (they only name the jobs: nothing is trained)
VARS = ["alpha", "beta", "gamma"]


def new_folder(
    path: Path, seeds: Sequence[str | int], variables: Sequence[str] = VARS
) -> tuple[JobFolder, list[WorkUnit]]:
    """Create the job folder ``path`` with each seed's job and its subseed jobs.

    Args:
        path: the folder to create (it must not exist, or be empty).
        seeds: each seed as a bit string (``"110"``: the first two variables) or a number.
        variables: the folder's variable list.

    Returns:
        The folder (its spec saved) and one unit per seed family, the seed job first.
    """
    folder = JobFolder.create(str(path))
    jobs: list[Job] = []
    units: list[WorkUnit] = []
    for bits in seeds:
        seed = Seed(list(variables), int(bits, 2) if isinstance(bits, str) else bits)
        members = [Job(folder.path, job_name(len(variables), seed, None), seed, None)]
        members += [
            Job(folder.path, job_name(len(variables), seed, s), seed, s) for s in seed.subseeds()
        ]
        jobs += members
        units.append(WorkUnit(tuple(j.name for j in members)))
    folder.add_jobs(jobs)
    folder.save()
    return folder, units


def singles(unit: WorkUnit) -> list[WorkUnit]:
    """The jobs of ``unit`` as one single-job unit each."""
    return [WorkUnit((name,)) for name in unit.names]
