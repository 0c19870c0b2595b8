"""Shell completion with argcomplete: commands, options, choices, folders, files, dataset keys.

Enabled once per shell with ``eval "$(register-python-argcomplete fourtop)"`` (README). The
completers are attached here, from what each argument is, so command modules stay as they are:

- job folder arguments (``folders``): folders and compacted ``.jtd`` files;
- ``--backend``: the backends; ``calculate -o``: the sort keys; ``--plot-format``: the formats;
- ``-y/--year``: the dataset keys of the configuration (``--config`` on the line, else
  ``$FOURTOP_CONFIG``, else the packaged default);
- every other file, folder or name argument (type :func:`~fourtop.cli._common.nonempty`):
  files and folders;
- options with ``choices``: the choices (argcomplete's own).
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path
from typing import Any

from fourtop.cli._common import nonempty
from fourtop.env import CONFIG_ENV

__all__ = [
    "add_completers",
    "autocomplete",
    "backend_names",
    "dataset_keys",
    "plot_formats",
    "sort_keys",
]


def dataset_keys(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """The dataset keys of the configuration the command line names (none when unreadable)."""
    name = getattr(parsed_args, "config", None) or os.environ.get(CONFIG_ENV)
    try:
        if name:
            path = Path(name).expanduser()
        else:
            from fourtop.data.config import default_config_path

            path = default_config_path()
        # a Tab must answer at once: no device, pipe or huge file is read
        if not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
            return []
        datasets = tomllib.loads(path.read_text(encoding="utf-8")).get("datasets", {})
        if not isinstance(datasets, dict):
            return []
    except (OSError, UnicodeError, tomllib.TOMLDecodeError):
        return []
    return [str(k) for k in datasets if str(k).startswith(prefix)]


#: the largest configuration file completion reads (a real one is a few kB)
MAX_CONFIG_BYTES = 1_000_000


def plot_formats(prefix: str, **_: Any) -> list[str]:
    """``--plot-format``'s formats; after a comma, the formats not yet in the list."""
    from fourtop.plotting import SUPPORTED

    done, _, last = prefix.rpartition(",")
    chosen = {f.strip().lower() for f in done.split(",") if f.strip()}
    head = f"{done}," if done else ""
    return [head + f for f in SUPPORTED if f not in chosen and f.startswith(last.lower())]


def backend_names(prefix: str, **_: Any) -> list[str]:
    """The batch backends (``local``, ``condor``, ``slurm`` and any registered)."""
    from fourtop.backends import BACKENDS

    return [name for name in BACKENDS if name.startswith(prefix)]


def sort_keys(prefix: str, **_: Any) -> list[str]:
    """``calculate -o``'s sort keys."""
    from fourtop.importance.stats import SORT_KEYS

    return [key for key in SORT_KEYS if key.startswith(prefix)]


def add_completers(parser: argparse.ArgumentParser) -> None:
    """Attach a completer to each file, folder and dataset-key argument of ``parser``."""
    from argcomplete.completers import FilesCompleter

    job_folders = FilesCompleter(allowednames=("jtd",), directories=True)
    files = FilesCompleter()
    for action in parser._actions:
        if action.choices is not None:
            continue
        if action.dest == "backend":
            action.completer = backend_names  # type: ignore[attr-defined]
        elif action.dest == "plot_format":
            action.completer = plot_formats  # type: ignore[attr-defined]
        elif action.dest == "sort_order":
            action.completer = sort_keys  # type: ignore[attr-defined]
        elif action.type is not nonempty:
            continue
        elif action.dest == "year":
            action.completer = dataset_keys  # type: ignore[attr-defined]
        elif action.dest == "folders" and parser.prog.split()[-1] in _JOB_FOLDER_COMMANDS:
            action.completer = job_folders  # type: ignore[attr-defined]
        else:
            action.completer = files  # type: ignore[attr-defined]


#: commands whose positional folders are job folders (folders or .jtd files)
_JOB_FOLDER_COMMANDS = ("folders", "submit", "calculate")


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request (``_ARGCOMPLETE`` set) and exit; else return."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    argcomplete.autocomplete(parser)
