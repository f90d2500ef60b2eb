"""AVE, Kinetics-Sounds and VGGSound loaders: audio log-STFT + video frames, one cache format.

Build a cache first with ``python -m g2d_lite.data.prepare clips --dataset <name>``. Audio is
stored as 10 s log-STFTs (16 kHz, n_fft 256, hop 128: 129 x 1251); a sample shows a 5 s window
(129 x 626), random in training as in the official VGGSound loader and centred otherwise.
Frames (3 stored per clip by default) get the paper's transforms, like CREMA-D's.
"""

from __future__ import annotations

import os

from g2d_lite.data.base import DatasetSplits
from g2d_lite.data.paths import resolve_root
from g2d_lite.data.readers import load_av_cache

AUDIO_WINDOW = 626  # STFT frames in 5 s at 16 kHz with hop 128 (1 + 80000 // 128)


def _load(name: str, root: str | os.PathLike[str] | None, frames: int, size: int) -> DatasetSplits:
    return load_av_cache(name, resolve_root(name, root), "official", frames, AUDIO_WINDOW, size)


def load_ave(
    root: str | os.PathLike[str] | None = None, *, frames: int = 3, image_size: int = 224
) -> DatasetSplits:
    """AVE (28 event classes), with its official train/validation/test split."""
    return _load("ave", root, frames, image_size)


def load_kinetics_sounds(
    root: str | os.PathLike[str] | None = None, *, frames: int = 3, image_size: int = 224
) -> DatasetSplits:
    """Kinetics-Sounds (31 classes), official train/test lists, validation carved from train."""
    return _load("kinetics_sounds", root, frames, image_size)


def load_vggsound(
    root: str | os.PathLike[str] | None = None, *, frames: int = 3, image_size: int = 224
) -> DatasetSplits:
    """VGGSound (309 classes), official train/test split, validation carved from train."""
    return _load("vggsound", root, frames, image_size)
