"""Datasets: one contract (:mod:`g2d_lite.data.base`) and a registry of loaders by name."""

from __future__ import annotations

import inspect
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
    if not isinstance(name, str):
        raise TypeError(
            f"load_dataset takes a dataset name, e.g. 'synthetic' (cfg.dataset), got "
            f"{type(name).__name__}; for a whole config use g2d_lite.notebook.load_data(cfg)"
        )
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {sorted(DATASETS)}")
    module, function = DATASETS[name].split(":")
    return getattr(import_module(module), function)


# Loader options that change how samples are read, never their values: not part of the data's
# fingerprint.
_NOT_DATA = frozenset({"root", "in_memory"})


def _effective_options(loader: Callable[..., DatasetSplits], options: dict[str, Any]) -> dict:
    """``options`` with the loader's defaults filled in, so "unset" and "set to the default"
    fingerprint alike."""
    defaults = {
        name: p.default
        for name, p in inspect.signature(loader).parameters.items()
        if p.default is not inspect.Parameter.empty and name not in _NOT_DATA
    }
    return {**defaults, **{k: v for k, v in options.items() if k not in _NOT_DATA}}


def load_dataset(name: str, root: str | None = None, **options: Any) -> DatasetSplits:
    """Load a dataset by name. ``root`` is the prepared cache folder (unused for synthetic).

    Unknown options are errors that list the loader's options.
    """
    loader = _loader(name)
    accepted = inspect.signature(loader).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    unknown = sorted(set(options) - set(accepted) - {"root"})
    if unknown and not takes_any:
        valid = sorted(set(accepted) - {"root"})
        raise ValueError(f"unknown {name} option(s) {unknown}; valid options: {', '.join(valid)}")
    if name == "synthetic":
        if root is not None:
            raise ValueError("the synthetic dataset is generated from a seed; it takes no root")
        splits = loader(**options)
    else:
        splits = loader(root=root, **options)
    splits.source = {"dataset": name, "options": _effective_options(loader, options)}
    return splits
