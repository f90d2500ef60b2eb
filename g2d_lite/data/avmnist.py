"""AV-MNIST loader: audio spectrogram (1, 112, 112) + image (1, 28, 28), digits 0-9.

Build the cache first with ``python -m g2d_lite.data.prepare avmnist`` (AV-MNIST-lite from MNIST
and FSDD). The loader reads G2D's layout (``image/``, ``audio/``, ``*_labels.npy``; uint8 divided
by 255), so it also opens MultiBench's published ``avmnist`` folder: with no validation files,
the last twelfth of train becomes validation (MultiBench's 55k / 5k).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from g2d_lite.api_checks import positive_int
from g2d_lite.data.base import (
    SPLITS,
    DatasetInfo,
    DatasetSplits,
    ModalitySpec,
    MultimodalDataset,
    TensorMultimodalDataset,
)
from g2d_lite.data.cache import (
    META_FILE,
    cache_digest,
    check_kind,
    damaged_files,
    read_meta,
    why_missing,
)
from g2d_lite.data.paths import (
    check_not_being_built,
    damaged_dataset,
    missing_dataset,
    prepare_commands,
    resolve_root,
)
from g2d_lite.data.readers import MemmapDataset, ScaledRows
from g2d_lite.data.validate import DatasetError, check_labels, check_rows

SHAPES = {"audio": (1, 112, 112), "image": (1, 28, 28)}
AUDIO_NORMS = ("none", "utterance")
IN_MEMORY_BYTES = 1 << 30  # float32 size up to which splits are held as tensors


def _files(root: Path, split: str) -> dict[str, Path]:
    return {
        "audio": root / "audio" / f"{split}_data.npy",
        "image": root / "image" / f"{split}_data.npy",
        "labels": root / f"{split}_labels.npy",
    }


def _checked_rows(root: Path, split: str) -> int:
    """Rows of one file split, after checking its three files belong together."""
    fix = _repair(root)
    arrays = {}
    for kind, path in _files(root, split).items():
        try:
            arrays[kind] = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as error:
            raise DatasetError(f"avmnist: {path} cannot be read ({error}); {fix}") from None
    relative = {kind: str(path.relative_to(root)) for kind, path in _files(root, split).items()}
    n = check_rows({relative[k]: len(a) for k, a in arrays.items()}, f"avmnist at {root}", fix)
    for kind in SHAPES:
        if arrays[kind].dtype != np.uint8:
            raise DatasetError(
                f"avmnist: {relative[kind]} holds {arrays[kind].dtype}, AV-MNIST caches hold uint8 "
                f"(0-255); {fix}"
            )
        if int(np.prod(arrays[kind].shape[1:])) != int(np.prod(SHAPES[kind])):
            raise DatasetError(
                f"avmnist: {relative[kind]} rows have shape {arrays[kind].shape[1:]}, expected "
                f"{SHAPES[kind]}; {fix}"
            )
    check_labels(arrays["labels"], 10, f"avmnist: {relative['labels']}", fix)
    return n


def _repair(root: Path) -> str:
    """What to do about a damaged folder: the build into it for a kit cache; for a folder the
    kit did not build (MultiBench's release, no meta.json), which the build will not write
    over, fetching it again or a kit cache in a new folder."""
    if (root / META_FILE).is_file():
        return "the cache is damaged or mixed from two builds; rebuild it: " + prepare_commands(
            "avmnist", root
        )
    return (
        f"{root} was not built by the kit (no {META_FILE}: MultiBench's release?): fetch it "
        "again, or build a kit cache into a new folder and give data_root that: "
        + prepare_commands("avmnist", Path("<new folder>"))
    )


def _rows(root: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Per split: the file split it is read from and the rows it takes."""
    for split in ("train", "test"):
        absent = [str(p) for p in _files(root, split).values() if not p.is_file()]
        if absent:
            raise missing_dataset("avmnist", root, why_missing(root, f"missing {absent[0]}"))
    n_train, n_test = _checked_rows(root, "train"), _checked_rows(root, "test")
    rows = {"train": ("train", np.arange(n_train)), "test": ("test", np.arange(n_test))}
    if _files(root, "validation")["labels"].is_file():
        n_val = _checked_rows(root, "validation")
        rows["validation"] = ("validation", np.arange(n_val))
    else:
        cut = n_train - max(1, round(n_train / 12))
        rows["train"] = ("train", np.arange(cut))
        rows["validation"] = ("train", np.arange(cut, n_train))
    return rows


def standardise_each(x: torch.Tensor) -> torch.Tensor:
    """Zero mean and unit variance per sample (over all its values): removes each recording's
    level and noise floor, which differ between speakers far more than between digits."""
    dims = tuple(range(1, x.dim()))
    mean, std = x.mean(dim=dims, keepdim=True), x.std(dim=dims, keepdim=True)
    return (x - mean) / std.clamp_min(1e-6)


def _split(
    info: DatasetInfo,
    root: Path,
    split: str,
    source: str,
    rows: np.ndarray,
    in_memory: bool,
    audio_pool: int = 1,
    audio_norm: str = "none",
) -> MultimodalDataset:
    files = _files(root, source)
    labels = np.load(files["labels"]).astype(np.int64)
    if not in_memory:
        readers = {m: ScaledRows(files[m], SHAPES[m]) for m in SHAPES}
        if audio_norm == "utterance":
            audio = readers["audio"]
            readers["audio"] = lambda row: standardise_each(audio(row)[None])[0]
        return MemmapDataset(info, split, rows, labels, readers, deterministic=True)
    inputs = {}
    for modality, shape in SHAPES.items():
        data = np.load(files[modality], mmap_mode="r")[rows]
        inputs[modality] = torch.from_numpy(data.astype(np.float32) / 255.0).reshape(-1, *shape)
    if audio_pool > 1:
        inputs["audio"] = F.avg_pool2d(inputs["audio"], audio_pool)
    if audio_norm == "utterance":
        inputs["audio"] = standardise_each(inputs["audio"])
    return TensorMultimodalDataset(info, split, inputs, torch.from_numpy(labels[rows]))


# Written only by the kit's build: without meta.json beside them, a folder is a damaged kit
# cache, not MultiBench's release.
BUILD_ONLY_FILES = ("pairing", "recordings.txt")


def load_avmnist(
    root: str | os.PathLike[str] | None = None,
    *,
    in_memory: bool | None = None,
    audio_pool: int = 1,
    audio_norm: str = "none",
) -> DatasetSplits:
    """AV-MNIST as train/validation/test, values in [0, 1].

    ``audio_pool``: average-pool the 112×112 spectrograms by this factor (4 gives 28×28), a
    16× cheaper audio encoder for CPU runs; needs the in-memory path.

    ``audio_norm``: ``"none"`` keeps G2D's scaling (uint8 / 255); ``"utterance"`` standardises
    each spectrogram on its own (after pooling). On AV-MNIST-lite's speaker-held-out test the
    "none" scaling lets a network key on each training speaker's level and fail on new voices
    (benchmarks/RESULTS.md §4c).

    ``in_memory``: hold every split as float32 tensors (fast slicing, no DataLoader); the
    default does so when that takes at most 1 GiB (AV-MNIST-lite: ~0.5 GB) and memory-maps
    the uint8 files otherwise (the 70k build, MultiBench's release).
    """
    if in_memory is not None and not isinstance(in_memory, bool):  # "no" would switch it on
        raise TypeError(
            f"in_memory is True, False or None (in memory when the splits fit in 1 GiB), got "
            f"{in_memory!r}"
        )
    audio_pool = positive_int("audio_pool", audio_pool)
    path = resolve_root("avmnist", root)
    check_not_being_built("avmnist", path)
    meta = read_meta(path) or {}
    if meta:  # a kit-built cache (MultiBench's published folder has no meta.json)
        check_kind("avmnist", path, meta)
        problems = damaged_files(path, meta)
        if problems:
            raise damaged_dataset("avmnist", path, problems, meta)
    elif any((path / name).exists() for name in BUILD_ONLY_FILES):
        raise damaged_dataset(
            "avmnist", path, ["meta.json is missing, so its files cannot be checked"]
        )
    rows = _rows(path)
    if in_memory is None:
        per_sample = 4 * sum(int(np.prod(s)) for s in SHAPES.values())
        in_memory = per_sample * sum(len(r) for _, r in rows.values()) <= IN_MEMORY_BYTES
    if SHAPES["audio"][1] % audio_pool:
        raise ValueError(f"audio_pool must divide 112, got {audio_pool}; try 2, 4, 7 or 8")
    if audio_norm not in AUDIO_NORMS:
        raise ValueError(f"unknown audio_norm {audio_norm!r}; valid: {', '.join(AUDIO_NORMS)}")
    if audio_pool > 1 and not in_memory:
        raise ValueError("audio_pool needs the in-memory path; pass in_memory=True")
    side = SHAPES["audio"][1] // audio_pool
    if side == 1 and audio_norm == "utterance":  # one value per sample: std() is NaN
        raise ValueError(
            f"audio_pool {audio_pool} leaves 1x1 spectrograms, which audio_norm='utterance' "
            f"cannot standardise; use a pool of at most {SHAPES['audio'][1] // 2} (the avmnist "
            "profile uses 4)"
        )
    shapes = {**SHAPES, "audio": (1, side, side)}
    info = DatasetInfo(
        name="avmnist",
        modalities=tuple(
            ModalitySpec(m, s, "spectrogram" if m == "audio" else "image")
            for m, s in shapes.items()
        ),
        task="classification",
        class_names=tuple(meta.get("class_names", [str(d) for d in range(10)])),
        extra={
            "root": str(path),
            "params": meta.get("params", {}),
            "cache_sha256": cache_digest(meta) if meta else None,
        },
    )
    splits = {s: _split(info, path, s, *rows[s], in_memory, audio_pool, audio_norm) for s in SPLITS}
    return DatasetSplits(info=info, **splits)
