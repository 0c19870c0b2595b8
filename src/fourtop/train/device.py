"""Choosing the torch device: ``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fourtop.errors import TrainingError, did_you_mean

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICES", "resolve_device"]

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto") -> torch.device:
    """Turn ``auto``/``cpu``/``cuda`` (or ``cuda:N``) into a :class:`torch.device`.

    Raises:
        TrainingError: an unknown name, or ``cuda`` asked for where no CUDA device exists.
    """
    import torch

    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise TrainingError(f"device {name!r}: no CUDA device is available (use auto or cpu)")
        return torch.device(name)
    raise TrainingError(
        f"device {name!r}: expected one of {', '.join(DEVICES)}" + did_you_mean(name, DEVICES)
    )
