"""Date-stamped default names the original tool used for folders and tags."""

from __future__ import annotations

from datetime import datetime


def date_tag(now: datetime | None = None) -> str:
    """``<day>.<Mon>.<year>``, e.g. ``28.Nov.2026``, as in ``condor_log_28.Nov.2026``."""
    return (now or datetime.now()).strftime("%d.%b.%Y")


def hour_tag(now: datetime | None = None) -> str:
    """``<day>.<Mon>.<year>_<hour>``, the hyperopt default tag, e.g. ``28.Nov.2026_14``."""
    return (now or datetime.now()).strftime("%d.%b.%Y_%H")


def default_job_folder_name(now: datetime | None = None) -> str:
    return f"condor_log_{date_tag(now)}"


def default_dataset_folder_name(now: datetime | None = None) -> str:
    return f"dataset_{date_tag(now)}"
