"""Writing figures: every plot as PNG (for screens) and PDF (for notes and papers).

Each file is written aside and renamed (:func:`fourtop.fileio.atomic_output`), so a full disk
or a kill leaves the previous plot, never half of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fourtop.errors import OutputError
from fourtop.fileio import atomic_output, describe_os_error

__all__ = ["FORMATS", "save_figure"]

#: the formats every plot is written in
FORMATS = ("png", "pdf")


def save_figure(fig: Any, folder: Path, stem: str, formats: Sequence[str] = FORMATS) -> None:
    """Write ``fig`` as ``folder/stem.<format>`` for each format, then close it.

    Raises:
        OutputError: a file cannot be written (the message says why: no space, permission).
    """
    import matplotlib.pyplot as plt

    try:
        for ext in formats:
            path = Path(folder) / f"{stem}.{ext}"
            try:
                with atomic_output(path, what="plot") as tmp:
                    fig.savefig(tmp, format=ext, bbox_inches="tight")
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
    finally:
        plt.close(fig)
