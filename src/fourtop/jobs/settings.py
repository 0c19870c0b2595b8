"""A job folder's submission settings: how its jobs were first trained.

``fourtop submit`` keeps the training settings of a folder's first submission in
``fourtop-submit.json`` (year, configuration, network parameters, random seed) and never
overwrites them; a resubmission takes the settings not given again from there, so a
resubmitted job trains exactly as its seed family did.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fourtop.errors import FourtopError, JobFolderError
from fourtop.fileio import atomic_write_text
from fourtop.jobs.layout import SETTINGS_FILE
from fourtop.jobs.tasks import RunSettings

__all__ = ["RANDOM_SEED_MAX", "SETTING_KEYS", "load_settings", "merge_settings", "save_settings"]

log = logging.getLogger(__name__)

#: random seeds are 32-bit unsigned integers everywhere (numpy, torch and Optuna all take them)
RANDOM_SEED_MAX = 2**32 - 1
#: the settings a folder keeps
SETTING_KEYS = ("year", "config", "params", "random_seed")


def save_settings(folder: str | Path, settings: RunSettings) -> bool:
    """Keep the training settings of the folder's first submission (never overwritten).

    Returns:
        True if the file was written now, False if the folder had it already.

    Raises:
        OutputError: the file cannot be written.
    """
    path = Path(folder, SETTINGS_FILE)
    if path.exists():
        return False
    text = json.dumps(
        {
            "year": settings.year,
            "config": str(settings.config) if settings.config else None,
            "params": settings.params,
            "random_seed": settings.random_seed,
        },
        indent=1,
        sort_keys=True,
    )
    atomic_write_text(path, text + "\n", what="submission settings")
    return True


def load_settings(folder: str | Path) -> dict[str, Any] | None:
    """The folder's first-submission settings, checked; None if the folder has none.

    Raises:
        JobFolderError: the file exists but is unreadable or holds a bad value (the message
            names the key and says how to fix it).
    """
    from fourtop.train.params import NetworkParams

    path = Path(folder, SETTINGS_FILE)
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        return None  # an imported or older folder
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "msg", None) or exc
        raise JobFolderError(f"{path}: unreadable submission settings ({reason})") from None
    if not isinstance(saved, dict):
        raise JobFolderError(f"{path}: unreadable submission settings (not a JSON object)")

    def bad(key: str, expected: str) -> JobFolderError:
        return JobFolderError(
            f"{path}: {key} is {saved[key]!r}, expected {expected}; fix or delete the file "
            "and pass the settings explicitly"
        )

    year = saved.get("year")
    if isinstance(year, int) and not isinstance(year, bool):
        saved["year"] = str(year)  # "year": 2017 written by hand means the key "2017"
    elif year is not None and not isinstance(year, str):
        raise bad("year", 'a dataset key such as "2017"')
    if saved.get("config") is not None and not isinstance(saved["config"], str):
        raise bad("config", "a file path or null")
    if saved.get("params") is not None:
        if not isinstance(saved["params"], dict):
            raise bad("params", "a JSON object of network parameters or null")
        try:  # every key, defaults filled in: compared as the trainings will see them
            saved["params"] = NetworkParams.from_dict(saved["params"]).to_dict()
        except FourtopError as exc:
            raise JobFolderError(f"{path}: params: {exc}") from None
    seed = saved.get("random_seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= RANDOM_SEED_MAX
    ):
        raise bad("random_seed", f"a whole number from 0 to {RANDOM_SEED_MAX} or null")
    return {k: saved.get(k) for k in SETTING_KEYS}


def merge_settings(
    given: Mapping[str, Any], saved: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The settings given now, with those not given taken from ``saved``.

    Returns:
        The merged settings, and for each setting given now that differs from the saved
        one what differs (jobs trained with it would not match the folder's others).

    Example:
        >>> merge_settings({"year": None, "random_seed": 3}, {"year": "2018", "random_seed": 1})
        ({'year': '2018', 'random_seed': 3}, ['random_seed 3 (the folder has 1)'])
        >>> merge_settings({"params": {"epochs": 2, "dropout_rate": 0.5}},
        ...                {"params": {"epochs": 1, "dropout_rate": 0.5}})[1]
        ['params: epochs 2 (the folder has 1)']
    """
    merged = dict(given)
    differences = []
    for key, value in given.items():
        if value is None and saved.get(key) is not None:
            merged[key] = saved[key]
        elif value is not None and key in saved and saved[key] != value:
            differences.append(_difference(key, value, saved[key]))
    return merged, differences


def _difference(key: str, value: Any, saved: Any) -> str:
    """``epochs 2 (the folder has 1)``: the keys of two parameter sets that differ."""
    if isinstance(value, dict) and isinstance(saved, dict):
        keys = sorted(k for k in {*value, *saved} if value.get(k) != saved.get(k))
        parts = [f"{k} {value.get(k)!r} (the folder has {saved.get(k)!r})" for k in keys]
        return f"{key}: " + ", ".join(parts)
    return f"{key} {value!r} (the folder has {saved!r})"
