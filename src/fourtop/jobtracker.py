"""The job tracker: ``Seed``, ``Job`` and ``JobFolder``, as in the original manual.

The manual's library, kept as a facade over the job engine :mod:`fourtop.jobs`, where
each piece lives in a module named for what it holds (:mod:`~fourtop.jobs.seed`,
:mod:`~fourtop.jobs.job`, :mod:`~fourtop.jobs.folder`, :mod:`~fourtop.jobs.specfile`, ...).

A job folder holds ``<name>.job/.out/.err/.log`` per job and the spec file
``<folder>/<folder name>.jtd`` (see :mod:`fourtop.jobs.specfile`). A compacted folder is
the spec file alone, ``<folder name>.jtd`` beside where the folder was.

Both ``import fourtop.jobtracker as jt`` and ``from fourtop.jobtracker import *``
work (the spec file is SQLite, not pickle, so the import style no longer matters).
``jt.LOG = False`` quiets the library's progress messages (they go to DEBUG).

Wrong argument types (``JobFolder(None)``, ``Seed.from_binary(None, ...)``) raise
:class:`~fourtop.errors.FourtopError` subclasses with a one-line message, like every
other bad input.

Example:
    >>> import fourtop.jobtracker as jt
    >>> seed = jt.Seed.from_binary("110", ["a", "b", "c"])
    >>> jt.job_name(3, seed, seed.subseeds()[0])
    'Keras_3vars_Seed_6_Subseed_2'
"""

from __future__ import annotations

import sys
import types

from fourtop.jobs import verbosity
from fourtop.jobs.compaction import clean_leftovers
from fourtop.jobs.folder import FolderStats, JobFolder  # noqa: F401
from fourtop.jobs.importing import import_command  # noqa: F401
from fourtop.jobs.job import Job
from fourtop.jobs.layout import (  # noqa: F401 - importable from here too
    KEPT_FILES,
    LOCK_FILE,
    SETTINGS_FILE,
    SPEC_SUFFIX,
    VARLIST_FILE,
)
from fourtop.jobs.names import job_name, parse_job_name
from fourtop.jobs.seed import Seed

__all__ = [  # noqa: F822 - LOG is a property of the module (see _Facade)
    "LOG",
    "Job",
    "JobFolder",
    "Seed",
    "clean_leftovers",
    "job_name",
    "parse_job_name",
]


class _Facade(types.ModuleType):
    """This module, with ``LOG`` read from and written to :mod:`fourtop.jobs.verbosity`."""

    @property
    def LOG(self) -> bool:
        """True logs the library's progress at INFO level, False only at DEBUG."""
        return verbosity.LOG

    @LOG.setter
    def LOG(self, value: bool) -> None:
        verbosity.LOG = bool(value)


sys.modules[__name__].__class__ = _Facade
