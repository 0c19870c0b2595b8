"""Writing figures: every plot in the formats asked for, by default PNG (for screens) and PDF
(for notes and papers).

:data:`SUPPORTED` is the one list of formats a plot can be written in, :data:`FORMATS` the
default, :func:`parse_formats` reads a ``--plot-format`` value and :func:`check_formats`
checks formats a library caller gives. :func:`save_figure` writes a figure in each format:
each file is written aside and renamed (:func:`fourtop.fileio.atomic_output`), so a full disk
or a kill leaves the previous plot, never half of one. A PDF carries no creation date, so the
same plot gives the same bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from fourtop.errors import OutputError, ParameterError
from fourtop.fileio import atomic_output, describe_os_error

__all__ = [
    "FORMATS",
    "SUPPORTED",
    "check_formats",
    "describe_formats",
    "parse_formats",
    "remove_other_formats",
    "save_figure",
]

log = logging.getLogger(__name__)

#: every format a plot can be written in (what ``--plot-format`` accepts)
SUPPORTED = ("png", "pdf", "svg")
#: the formats every plot is written in unless asked otherwise
FORMATS = ("png", "pdf")

#: what each format's file carries that would differ between two writes of the same plot
_NO_DATE: dict[str, dict[str, Any]] = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}


def _choices() -> str:
    return f"choose from {', '.join(SUPPORTED)}"


def parse_formats(text: str, option: str = "--plot-format") -> tuple[str, ...]:
    """The formats of a ``--plot-format`` value: one format or a comma-separated list.

    Case and spaces around the names do not matter, and a format named twice counts once;
    the order is kept.

    Example:
        >>> parse_formats("pdf"), parse_formats(" PNG, pdf,png")
        (('pdf',), ('png', 'pdf'))

    Raises:
        ParameterError: an unknown format, an empty name (``png,,pdf``, ``pdf,``) or none
            (a one-line message naming ``option`` and the formats to choose from).
    """
    items = [item.strip().lower() for item in text.split(",")]
    if not all(items):
        raise ParameterError(f"{option} {text!r}: expected formats like png,pdf ({_choices()})")
    unknown = [item for item in items if item not in SUPPORTED]
    if unknown:
        which = "" if len(items) == 1 else f" {unknown[0]!r}"
        raise ParameterError(f"{option} {text!r}: unknown format{which} ({_choices()})")
    return tuple(dict.fromkeys(items))


def check_formats(formats: Iterable[str], option: str = "plot formats") -> tuple[str, ...]:
    """``formats`` (each of :data:`SUPPORTED`, at least one) as a tuple, each once, in order.

    For formats a library caller gives (a string is read as :func:`parse_formats` reads it).

    Raises:
        ParameterError: an unknown format, or none.
    """
    if isinstance(formats, str):
        return parse_formats(formats, option)
    given = tuple(formats)
    if not given or not all(isinstance(f, str) and f.strip() for f in given):
        raise ParameterError(f"{option} {list(given)!r}: expected format names ({_choices()})")
    return parse_formats(",".join(given), option)


def describe_formats(formats: Sequence[str]) -> str:
    """The formats as a printed list of outputs shows them.

    Example:
        >>> describe_formats(("png", "pdf"))
        '(.png, .pdf)'
    """
    return "(" + ", ".join(f".{ext}" for ext in formats) + ")"


def remove_other_formats(folder: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    """Remove ``folder/stem.<format>`` for each supported format not in ``formats``.

    After a plot is drawn again in fewer formats, the file of a format left out would show the
    earlier plot beside the new one. Returns the files removed; a file that cannot be removed
    is left (no error: the new plot is written).
    """
    removed = []
    for ext in SUPPORTED:
        if ext in formats:
            continue
        path = Path(folder) / f"{stem}.{ext}"
        try:
            if path.is_file() and not path.is_symlink():
                path.unlink()
                removed.append(path)
        except OSError as exc:
            log.warning("%s: an earlier plot, not removed: %s", path, describe_os_error(exc))
    return removed


def save_figure(
    fig: Any,
    folder: Path,
    stem: str,
    formats: Sequence[str] = FORMATS,
    *,
    dpi: float | None = None,
    replace_others: bool = False,
) -> list[Path]:
    """Write ``fig`` as ``folder/stem.<format>`` for each format, then close it; returns the
    files written.

    ``dpi``: of the PNG (None: the figure's). ``replace_others``: also remove the files of this
    plot in the other supported formats (:func:`remove_other_formats`), once every format is
    written: for a plot drawn anew in a folder that may hold an earlier one.

    Raises:
        OutputError: a file cannot be written (the message says why: no space, permission).
    """
    import matplotlib.pyplot as plt

    written = []
    try:
        for ext in formats:
            path = Path(folder) / f"{stem}.{ext}"
            extra: dict[str, Any] = {"metadata": _NO_DATE[ext]} if ext in _NO_DATE else {}
            if dpi is not None:
                extra["dpi"] = dpi
            try:
                with atomic_output(path, what="plot") as tmp:
                    fig.savefig(tmp, format=ext, bbox_inches="tight", **extra)
            except OutputError:
                raise
            except Exception as exc:  # a backend's own error after a failed write (zlib)
                cause = exc
                while cause is not None and not isinstance(cause, OSError):
                    cause = cause.__context__
                why = (
                    describe_os_error(cause)
                    if isinstance(cause, OSError)
                    else exc.__class__.__name__
                )
                raise OutputError(f"cannot write the plot {path}: {why}") from None
            written.append(path)
    finally:
        plt.close(fig)
    if replace_others:
        remove_other_formats(Path(folder), stem, formats)
    return written
