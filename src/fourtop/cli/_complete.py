"""Shell completion with argcomplete: commands, options, choices, folders, files, dataset keys.

Enabled once per shell with ``eval "$(register-python-argcomplete fourtop)"`` (README). The
completers are attached here, from what each argument is, so command modules stay as they are:

- job folder arguments (``folders``): folders and compacted ``.jtd`` files;
- ``--backend``: the backends; ``calculate -o``: the sort keys;
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
    "sort_keys",
]


def dataset_keys(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """The dataset keys of the configuration the command line names (none when unreadable)."""
    path = getattr(parsed_args, "config", None) or os.environ.get(CONFIG_ENV)
    try:
        if path:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        else:
            from fourtop.data.config import default_config_path

            text = default_config_path().read_text(encoding="utf-8")
        datasets = tomllib.loads(text).get("datasets", {})
    except (OSError, UnicodeError, tomllib.TOMLDecodeError):
        return []
    return [str(k) for k in datasets if str(k).startswith(prefix)]


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
