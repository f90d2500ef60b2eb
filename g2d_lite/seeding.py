"""Seeds everywhere: CPU runs reproduce bit for bit on the same machine."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; with ``deterministic``, ask torch for deterministic kernels.

    ``warn_only`` keeps CUDA ops without a deterministic variant usable (they warn instead).
    Without it (the paper profile on a GPU), cuDNN may autotune its fastest kernels.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = not deterministic


def epoch_generator(
    seed: int, epoch: int, stream: int = 0, device: torch.device | str = "cpu"
) -> torch.Generator:
    """A generator that depends only on (seed, epoch, stream): shuffling needs no saved state,
    so a resumed run draws exactly the batches an uninterrupted one would."""
    return torch.Generator(device=device).manual_seed(((seed * 1_000_003) + epoch) * 7 + stream)
