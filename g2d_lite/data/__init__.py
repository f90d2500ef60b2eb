"""Datasets: one contract (:mod:`g2d_lite.data.base`) and a registry of loaders by name."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from g2d_lite.data.base import (
    DatasetInfo,
    DatasetSplits,
    MissingDatasetError,
    ModalitySpec,
    MultimodalDataset,
    TensorMultimodalDataset,
)

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "DatasetSplits",
    "MissingDatasetError",
    "ModalitySpec",
    "MultimodalDataset",
    "TensorMultimodalDataset",
    "load_dataset",
]

# name -> "module:function". Loaders import lazily so the synthetic default never pulls in
# video or audio decoding libraries.
DATASETS: dict[str, str] = {
    "synthetic": "g2d_lite.data.synthetic:make_synthetic",
    "avmnist": "g2d_lite.data.avmnist:load_avmnist",
    "cremad": "g2d_lite.data.cremad:load_cremad",
    "ave": "g2d_lite.data.clips:load_ave",
    "kinetics_sounds": "g2d_lite.data.clips:load_kinetics_sounds",
    "vggsound": "g2d_lite.data.clips:load_vggsound",
}


def _loader(name: str) -> Callable[..., DatasetSplits]:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {sorted(DATASETS)}")
    module, function = DATASETS[name].split(":")
    return getattr(import_module(module), function)


def load_dataset(name: str, root: str | None = None, **options: Any) -> DatasetSplits:
    """Load a dataset by name. ``root`` is the prepared cache folder (unused for synthetic)."""
    loader = _loader(name)
    if name == "synthetic":
        if root is not None:
            raise ValueError("the synthetic dataset is generated from a seed; it takes no root")
        return loader(**options)
    return loader(root=root, **options)
