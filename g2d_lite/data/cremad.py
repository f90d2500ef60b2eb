"""CREMA-D loader: audio log-STFT (1, 257, 188) + face video (3, T, 224, 224), 6 emotions.

Build the cache first with ``python -m g2d_lite.data.prepare cremad`` (see data_scripts/README.md).
Transforms are the paper's: train frames get RandomResizedCrop(224) + horizontal flip,
validation/test frames Resize(224, 224), all ImageNet-normalised. Which stored frames a clip
shows follows the official quirk (``np.random.seed(999)`` then ``choice``), so it is fixed per
clip; see :func:`g2d_lite.data.readers.official_frame_picks`.
"""

from __future__ import annotations

import os

from g2d_lite.data.base import DatasetSplits
from g2d_lite.data.paths import resolve_root
from g2d_lite.data.readers import load_av_cache


def load_cremad(
    root: str | os.PathLike[str] | None = None,
    split: str = "paper",
    *,
    frames: int = 1,
    image_size: int = 224,
) -> DatasetSplits:
    """CREMA-D as train/validation/test.

    ``split``: "paper" (the official train/test lists, validation carved from train) or
    "stratified" (a seeded split by sample). ``frames``: frames per clip, T (the paper uses 1).
    """
    return load_av_cache("cremad", resolve_root("cremad", root), split, frames, None, image_size)
