"""Which torch device a run or an evaluation uses, refused in one line when it is not there.

Its own module because both the training loop and ``evaluate`` resolve devices, and the loop
imports ``evaluate``.
"""

from __future__ import annotations

import torch

from g2d_lite.errors import KitError


class DeviceError(KitError, RuntimeError):
    """The requested device is not available on this machine."""


def resolve_device(name: str | torch.device) -> torch.device:
    """``auto`` picks CUDA when available; an explicit ``cuda`` without a GPU is a clear error."""
    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(
            f"unknown device {name!r}; use cpu, cuda, cuda:<n>, mps or auto"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            f"device {name!r} requested but no CUDA GPU is visible; use device=cpu (or auto)"
        )
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise DeviceError(
            f"device {name!r} requested but this machine has {torch.cuda.device_count()} GPU(s); "
            f"use cuda:0 .. cuda:{torch.cuda.device_count() - 1}"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {name!r} is not available on this machine; use device=cpu")
    return device
