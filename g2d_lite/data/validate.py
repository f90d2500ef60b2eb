"""The one validation layer at the dataset boundary.

Every loader and :class:`~g2d_lite.data.base.TensorMultimodalDataset` pass their arrays through
these checks, so a damaged or mismatched dataset fails when it is loaded, in one line that
names the file or split and the fix, rather than at the first training step with a torch error
(or, worse, silently: validation on the first 100 of 160 rows).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from g2d_lite.errors import KitError


class DatasetError(KitError, ValueError):
    """A dataset that cannot be trained on as it is; the message names where and the fix."""


def check_rows(counts: Mapping[str, int], where: str, fix: str) -> int:
    """All named arrays must hold the same number of rows; returns that number."""
    distinct = sorted(set(counts.values()))
    if len(distinct) > 1:
        listing = ", ".join(f"{name} has {n:,}" for name, n in counts.items())
        raise DatasetError(f"{where}: row counts disagree ({listing}); {fix}")
    return distinct[0] if distinct else 0


def check_labels(labels: np.ndarray | torch.Tensor, classes: int, where: str, fix: str) -> None:
    """Class labels must be integers in ``0 .. classes - 1``."""
    array = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if array.size == 0:
        return
    if not np.issubdtype(array.dtype, np.integer):
        raise DatasetError(f"{where}: labels are {array.dtype}, not integers; {fix}")
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise DatasetError(
            f"{where}: label {bad} is outside 0..{classes - 1} ({classes} classes); {fix}"
        )


def check_dense(what: str, tensor: torch.Tensor, where: str) -> None:
    """A dataset tensor must hold its values densely on a real device: a sparse or meta tensor
    fails later in torch errors naming neither the modality nor the fix."""
    if tensor.layout != torch.strided:
        raise DatasetError(
            f"{where}: {what} is a sparse tensor (layout {tensor.layout}); pass a dense one "
            "(.to_dense())"
        )
    if tensor.is_meta:
        raise DatasetError(
            f"{where}: {what} is on the meta device (shapes, no data); load its values first"
        )


def check_inputs(name: str, tensor: torch.Tensor, where: str) -> None:
    """Model inputs must be float32 (what the encoders' weights are) and finite."""
    if tensor.dtype != torch.float32:
        raise DatasetError(
            f"{where}: modality {name!r} is {tensor.dtype}; the encoders expect torch.float32 "
            "(convert it with .float())"
        )
    if tensor.numel() and not bool(torch.isfinite(tensor).all()):
        count = int((~torch.isfinite(tensor)).sum())
        raise DatasetError(
            f"{where}: modality {name!r} holds {count:,} NaN or infinite values; "
            "clean or drop those samples"
        )


def check_targets(targets: torch.Tensor, task: str, outputs: int, where: str) -> None:
    """Targets: int64 class labels in ``0 .. outputs - 1`` (classification); finite float32
    with ``outputs`` values per sample (regression: the model's output width, target_dim)."""
    expected = torch.long if task == "classification" else torch.float32
    if targets.dtype != expected:
        raise DatasetError(
            f"{where}: {task} targets must be {expected}, got {targets.dtype} "
            f"(convert them with .to({expected}))"
        )
    if task == "classification":
        if targets.dim() != 1:
            raise DatasetError(
                f"{where}: classification targets must be one class index per sample (shape "
                f"(N,)), got shape {tuple(targets.shape)}; flatten them with .reshape(-1) (or "
                ".argmax(1) for one-hot rows)"
            )
        check_labels(targets, outputs, where, "relabel them or fix the class list")
        return
    if targets.dim() not in (1, 2):
        raise DatasetError(
            f"{where}: regression targets must have shape (N,) or (N, target_dim), got "
            f"{tuple(targets.shape)}; reshape them"
        )
    width = targets.shape[1] if targets.dim() == 2 else 1
    if width != outputs:
        raise DatasetError(
            f"{where}: regression targets have {width} value(s) per sample (shape "
            f"{tuple(targets.shape)}), info.target_dim is {outputs}; pass target_dim={width} to "
            f"DatasetInfo (or give targets of shape (N, {outputs}))"
        )
    if targets.numel() and not bool(torch.isfinite(targets).all()):
        raise DatasetError(f"{where}: regression targets hold NaN or infinite values")


def check_not_empty(sizes: Mapping[str, int], dataset: str, fix: str) -> None:
    """Every split needs samples: the honest protocol selects on validation and tests on test."""
    empty = [split for split, n in sizes.items() if n == 0]
    if empty:
        raise DatasetError(f"{dataset}: the {', '.join(empty)} split(s) have no samples; {fix}")
