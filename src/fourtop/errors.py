"""One root for every error the library raises.

Library code raises these with a one-line message that names the file, the
expression or the variable at fault; only :mod:`fourtop.cli` turns them into
printed messages and exit codes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FourtopError(Exception):
    """Root of all fourtop errors; ``str(err)`` is a complete one-line message."""


class SpecError(FourtopError):
    """A spec file (.jtd) is missing, corrupt, from a newer version or not a spec."""


class JobFolderError(FourtopError):
    """A job folder cannot be imported, compacted or read."""


class VariableError(FourtopError):
    """A variable list is malformed or names an unknown variable."""


class ConfigError(FourtopError):
    """A dataset configuration file is missing or malformed."""


class ExpressionError(ConfigError):
    """A selection or weight expression cannot be parsed or evaluated."""


class DataError(FourtopError):
    """An ntuple, tree or branch is missing, or a selection keeps no events."""


class TrainingError(FourtopError):
    """A network could not be built or trained."""


class BackendError(FourtopError):
    """A batch backend is unknown, unavailable, or a submission failed."""


class ResultsError(FourtopError):
    """A variable-importance results file is missing or malformed."""


class ModelError(FourtopError):
    """A final folder (``fourtop final``'s models and card) is missing, incomplete or made
    for another configuration."""


class OutputError(FourtopError):
    """An output file or folder cannot be written (no space left, permission, read-only)."""


class ParameterError(FourtopError):
    """Hyperparameter settings are malformed (unknown key, wrong type, empty range)."""


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """Return ``" (did you mean: a, b?)"`` for the nearest candidates, or ``""``.

    Example:
        >>> did_you_mean("NJets", ["NJets_JetSubCalc", "AK4HT"])
        ' (did you mean: NJets_JetSubCalc?)'
    """
    pool = list(candidates)
    close = difflib.get_close_matches(name, pool, n=n, cutoff=0.5)
    if not close:
        lowered = name.lower()
        close = [c for c in pool if lowered in c.lower() or c.lower() in lowered][:n]
    return f" (did you mean: {', '.join(close)}?)" if close else ""
