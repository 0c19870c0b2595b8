"""What ``fourtop calculate`` checks and settles before it reads any job folder.

:func:`prepare_calculation` refuses an unknown sort key, an empty output folder name, no
inputs or a missing one, and an output folder that cannot be written, then reads the dataset's
weight and cut: a :class:`CalculationRequest`. :func:`import_question` is what to ask before a
folder without a spec file is imported, and :func:`unreadable_jobs` the jobs left out because
their files cannot be read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fourtop.errors import JobFolderError, OutputError, ResultsError, did_you_mean
from fourtop.jobs.layout import SPEC_SUFFIX, VARLIST_FILE

__all__ = [
    "CalculationRequest",
    "check_sort_key",
    "import_question",
    "prepare_calculation",
    "weight_and_cut",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalculationRequest:
    """A checked calculation: its inputs, the absolute output folder, the dataset's weight and
    cut (for the results file's header)."""

    paths: list[Path]
    output: Path
    weight: str
    cut: str


def check_sort_key(key: str) -> None:
    """Refuse a sort order that is not one of :data:`~fourtop.importance.stats.SORT_KEYS`.

    Raises:
        ResultsError: an unknown key (with a "did you mean" hint).
    """
    from fourtop.importance.stats import SORT_KEYS

    if key not in SORT_KEYS:
        raise ResultsError(
            f"unknown sort order {key!r} for -o: choose one of "
            f"{', '.join(SORT_KEYS)}" + did_you_mean(key, SORT_KEYS)
        )


def prepare_calculation(
    paths: Sequence[Path],
    *,
    sort_key: str,
    output_folder: str | None,
    config: str | None = None,
) -> CalculationRequest:
    """Check a calculation before any folder is read (an import would write a spec file).

    Args:
        paths: the job folders and ``.jtd`` files, given or found in the working directory.
        sort_key: the ``-o`` sort order.
        output_folder: the ``-f`` folder; None for ``dataset_<date>`` in the working directory.
        config: the dataset configuration file (None: ``$FOURTOP_CONFIG`` or the default).

    Raises:
        ResultsError: an unknown sort key.
        OutputError: an empty output folder name, or one the results cannot be written into.
        JobFolderError: no inputs, or one that does not exist.
        ConfigError: the dataset configuration cannot be read.
    """
    from fourtop import naming
    from fourtop.staging import check_output_folder

    check_sort_key(sort_key)
    if output_folder is not None and not output_folder.strip():
        raise OutputError("-f: the output folder name is empty")
    if not paths:
        raise JobFolderError(
            f"{Path.cwd()}: no condor_log* folders or .jtd files here; name the job folders"
        )
    for p in paths:
        if not p.exists():
            raise JobFolderError(f"{p}: no such job folder or .jtd file")
    output = check_output_folder(output_folder or naming.default_dataset_folder_name())
    for folder in (output, *output.parents):
        if Path(folder, folder.name + SPEC_SUFFIX).is_file():
            raise OutputError(
                f"-f {output}: results must not go into the job folder {folder} (compacting "
                "it would delete them); choose another output folder"
            )
    weight, cut = weight_and_cut(config)
    return CalculationRequest(list(paths), output, weight, cut)


def weight_and_cut(config: str | None) -> tuple[str, str]:
    """The event weight and selection of the dataset configuration (empty without one)."""
    try:
        from fourtop.data.config import load_config
    except ImportError:  # the data package is optional for reading results
        log.warning("dataset configuration unavailable; Weight and Cut left empty")
        return "", ""
    cfg = load_config(config)
    return cfg.weight, cfg.selection


def import_question(path: Path) -> str:
    """The question to ask before importing ``path``, a job folder without a spec file: with
    its own variable list when it has one, else with the default variables."""
    from fourtop.variables import default_variables

    own = Path(path, VARLIST_FILE)
    which = (
        f"its {own.name}" if own.is_file() else f"the default {len(default_variables())} variables"
    )
    return f"{path} has no spec file. Import it with {which}?"
