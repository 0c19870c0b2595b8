"""Where the default samples and the cache of selected arrays live."""

from __future__ import annotations

import os
from pathlib import Path

from fourtop.env import CACHE_ENV, CONFIG_ENV, DATA_ENV, XDG_CACHE_ENV, XDG_DATA_ENV

__all__ = ["CACHE_ENV", "CONFIG_ENV", "DATA_ENV", "default_cache_dir", "default_data_dir"]


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def default_data_dir() -> Path:
    """Folder of the synthetic samples that the packaged default configuration reads.

    ``$FOURTOP_DATA``, else ``$XDG_DATA_HOME/fourtop/samples``, else
    ``~/.local/share/fourtop/samples``.
    """
    value = os.environ.get(DATA_ENV)
    if value:
        return Path(value).expanduser()
    return _xdg(XDG_DATA_ENV, ".local/share") / "fourtop" / "samples"


def default_cache_dir() -> Path:
    """Folder of cached selected arrays.

    ``$FOURTOP_CACHE``, else ``$XDG_CACHE_HOME/fourtop``, else ``~/.cache/fourtop``.
    """
    value = os.environ.get(CACHE_ENV)
    if value:
        return Path(value).expanduser()
    return _xdg(XDG_CACHE_ENV, ".cache") / "fourtop"
