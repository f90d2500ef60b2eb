"""The loader side of prepared caches: a memory-mapped dataset and its per-modality readers.

A reader turns one cache row into one modality's tensor. Readers hold paths (via
:class:`~g2d_lite.data.cache.LazyArray`), not arrays, so a dataset pickles cheaply into
DataLoader workers. Random augmentation draws from torch's generator, which the DataLoader
seeds per worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torchvision.transforms import v2

from g2d_lite.api_checks import positive_int
from g2d_lite.data.base import (
    SPLITS,
    DatasetInfo,
    DatasetSplits,
    ModalitySpec,
    MultimodalDataset,
)
from g2d_lite.data.cache import LazyArray, cache_digest, require_meta
from g2d_lite.data.paths import prepare_commands, recorded_options
from g2d_lite.data.validate import DatasetError, check_labels, check_rows
from g2d_lite.errors import KitError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The official loaders call np.random.seed(999) before drawing frames, on every access.
OFFICIAL_FRAME_SEED = 999


class Reader(Protocol):
    def __call__(self, row: int) -> torch.Tensor: ...


class MemmapDataset(MultimodalDataset):
    """Samples read on demand from memory-mapped cache files, one reader per modality."""

    def __init__(
        self,
        info: DatasetInfo,
        split: str,
        rows: np.ndarray,
        labels: np.ndarray,
        readers: Mapping[str, Reader],
        deterministic: bool,
    ) -> None:
        if set(readers) != set(info.modality_names):
            raise ValueError(f"readers {sorted(readers)} != modalities {info.modality_names}")
        self.info = info
        self.split = split
        self.rows = np.asarray(rows, dtype=np.int64)
        self._targets = torch.as_tensor(np.asarray(labels)[self.rows], dtype=torch.long)
        self.readers = dict(readers)
        self.deterministic = deterministic

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        row = int(self.rows[index])
        return {name: read(row) for name, read in self.readers.items()}, self._targets[index]

    @property
    def targets(self) -> torch.Tensor:
        return self._targets


class ScaledRows:
    """Row ``i`` of a uint8 array as float32 ``/ 255`` in a given shape (AV-MNIST's arrays)."""

    def __init__(self, path: Path, shape: tuple[int, ...]) -> None:
        self.source = LazyArray(path)
        self.shape = shape

    def __call__(self, row: int) -> torch.Tensor:
        values = np.asarray(self.source.array[row], dtype=np.float32) / 255.0
        return torch.from_numpy(values).reshape(self.shape)


class Spectrograms:
    """Row ``i`` of an ``(N, F, T)`` float16 spectrogram array as float32 ``(1, F, width)``.

    With ``width`` shorter than ``T``, training takes a random crop in time (the official
    VGGSound loader's random 5 s window) and evaluation the centre crop.
    """

    def __init__(self, path: Path, width: int | None, train: bool) -> None:
        self.source = LazyArray(path)
        self.width = width
        self.train = train

    def __call__(self, row: int) -> torch.Tensor:
        spec = self.source.array[row]
        total = spec.shape[-1]
        if self.width is not None and self.width < total:
            slack = total - self.width
            start = int(torch.randint(slack + 1, ())) if self.train else slack // 2
            spec = spec[:, start : start + self.width]
        return torch.from_numpy(np.asarray(spec, dtype=np.float32))[None]


def frame_transform(size: int, train: bool) -> v2.Compose:
    """The paper's per-frame transform on a uint8 ``(3, H, W)`` tensor.

    Train: RandomResizedCrop + horizontal flip; evaluation: Resize to ``size x size``; both
    then ImageNet normalisation.
    """
    geometry = (
        [v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip()]
        if train
        else [v2.Resize((size, size), antialias=True)]
    )
    scale = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return v2.Compose(geometry + scale)


class Frames:
    """The frames of clip ``i`` as ``(3, T, size, size)``, each frame transformed on its own."""

    def __init__(self, path: Path, picks: np.ndarray, size: int, train: bool) -> None:
        self.source = LazyArray(path)
        self.picks = picks
        self.size = size
        self.transform = frame_transform(size, train)

    def __call__(self, row: int) -> torch.Tensor:
        clip = torch.from_numpy(np.ascontiguousarray(self.source.array[self.picks[row]]))
        frames = [self.transform(frame.permute(2, 0, 1)) for frame in clip]
        return torch.stack(frames, dim=1)


def official_frame_picks(counts: np.ndarray, frames: int) -> np.ndarray:
    """Which stored frames each clip shows: ``(N, frames)`` indices into the frame array.

    Reproduces the official quirk on purpose: ``np.random.seed(999)`` then ``choice`` before
    every draw, so a clip always shows the same frames (train and test alike) and the choice
    depends only on how many frames the clip has. Clips with fewer frames than asked repeat
    some (the official code would fail on them).
    """
    counts = np.asarray(counts, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    memo: dict[int, np.ndarray] = {}
    for count in np.unique(counts):
        rng = np.random.RandomState(OFFICIAL_FRAME_SEED)
        memo[int(count)] = rng.choice(int(count), size=frames, replace=bool(count < frames))
    return np.stack([offsets[i] + memo[int(c)] for i, c in enumerate(counts)]).astype(np.int64)


def _check_frames_stored(
    name: str, counts: np.ndarray, frames: int, recipe: dict[str, object]
) -> None:
    """Refuse more frames than every clip stores: the repeat rule is for the odd short clip,
    and a whole cache of 1-frame clips would train a 3-frame model on 3 copies of each."""
    most = int(counts.max()) if len(counts) else frames
    if frames <= most:
        return
    kept = recipe.get("frames_per_clip")
    rebuild = f" or rebuild it with --frames-per-clip {frames}" if kept is not None else ""
    how = f" (--frames-per-clip {kept})" if kept is not None else " at most"
    raise DatasetError(
        f"{name}: this cache keeps {most} frame(s) per clip{how}, and frames={frames} was asked "
        f"for; load it with frames={most}{rebuild}"
    )


def _add_split_hint(name: str, root: Path, meta: Mapping[str, object], scheme: str) -> str:
    """How to add a split scheme the build recorded a hint for (CREMA-D's paper split), with
    the command that does it: the cache's own options, the lists, and --force, which a cache
    built without the lists needs to be rebuilt with them."""
    hint = meta.get("split_hints", {}).get(scheme, "")
    if not hint or scheme in meta.get("split_schemes", ()):
        return hint
    try:
        options = recorded_options(meta.get("identity"))
    except KitError:  # a video build's options need PyAV to be read
        options = []
    return f"{hint} The command: {prepare_commands(name, root, [*options, '--force'])}"


def load_av_cache(
    name: str, root: Path, scheme: str, frames: int, audio_width: int | None, image_size: int
) -> DatasetSplits:
    """An audio + video cache (CREMA-D, AVE, Kinetics-Sounds, VGGSound) as DatasetSplits."""
    frames = positive_int("frames", frames)
    image_size = positive_int("image_size", image_size)
    if audio_width is not None:
        audio_width = positive_int("audio_width", audio_width)
    meta = require_meta(name, root)
    schemes = meta["split_schemes"]
    if scheme not in schemes:
        raise ValueError(
            f"{name}: unknown split {scheme!r}; this cache has {schemes}. "
            + _add_split_hint(name, root, meta, scheme)
        )
    labels = np.load(root / "labels.npy")
    counts = np.load(root / "frame_counts.npy")
    fix = (
        f"the cache is damaged or mixed from two builds; rebuild it: {prepare_commands(name, root)}"
    )
    where = f"{name} at {root}"
    n = check_rows(
        {
            "audio.npy": len(np.load(root / "audio.npy", mmap_mode="r")),
            "labels.npy": len(labels),
            "frame_counts.npy": len(counts),
        },
        where,
        fix,
    )
    check_rows(
        {
            "frames.npy": len(np.load(root / "frames.npy", mmap_mode="r")),
            "sum of frame_counts.npy": int(counts.sum()),
        },
        where,
        fix,
    )
    check_labels(labels, len(meta["class_names"]), f"{where}: labels.npy", fix)
    _check_frames_stored(name, counts, frames, meta["params"].get("recipe", {}))
    bins, steps = meta["audio_shape"]
    width = steps if audio_width is None else min(audio_width, steps)
    info = DatasetInfo(
        name=name,
        modalities=(
            ModalitySpec("audio", (1, bins, width), "spectrogram"),
            ModalitySpec("visual", (3, frames, image_size, image_size), "video"),
        ),
        task="classification",
        class_names=tuple(meta["class_names"]),
        extra={
            "root": str(root),
            "split_scheme": scheme,
            "params": meta["params"],
            "cache_sha256": cache_digest(meta),
        },
    )
    picks = official_frame_picks(counts, frames)
    splits = {}
    for split in SPLITS:
        train = split == "train"
        readers = {
            "audio": Spectrograms(root / "audio.npy", audio_width, train),
            "visual": Frames(root / "frames.npy", picks, image_size, train),
        }
        rows = np.load(root / "splits" / f"{scheme}_{split}.npy")
        if len(rows) and (rows.min() < 0 or rows.max() >= n):
            raise DatasetError(
                f"{where}: splits/{scheme}_{split}.npy points at row {int(rows.max())} "
                f"of {n}; {fix}"
            )
        splits[split] = MemmapDataset(info, split, rows, labels, readers, deterministic=not train)
    return DatasetSplits(info=info, **splits)
