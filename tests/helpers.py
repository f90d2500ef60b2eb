"""Small, fast fixtures shared by the package tests."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import torch

from g2d_lite.config import Config, resolve
from g2d_lite.data import DatasetSplits, load_dataset


def tiny_data(seed: int = 0, **knobs) -> DatasetSplits:
    """The default synthetic dataset at a size that trains in well under a second per epoch."""
    return load_dataset("synthetic", seed=seed, n_train=192, n_validation=64, n_test=64, **knobs)


def tiny_config(**overrides) -> Config:
    """The smoke profile shrunk to a few epochs of small batches."""
    values = {"epochs": 3, "batch_size": 32, "progress": False, "lr_step": 2}
    values.update(overrides)
    return resolve("smoke", **values)


def without_timing(history: pd.DataFrame) -> pd.DataFrame:
    """A run's history without its wall-clock column (the rest must reproduce exactly)."""
    return history.drop(columns=["seconds"])


def states_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    """Two state dicts with the same keys and bit-identical tensors."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def write_notebook(path: Path, parameters: str, *bodies: str, markdown: str = "") -> Path:
    """A notebook the runner can execute: an optional Markdown cell, a ``parameters`` cell and
    code cells, in the kernel the kit's runner starts."""
    from g2d_lite.run import KERNEL

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    head = [nbformat.v4.new_markdown_cell(markdown)] if markdown else []
    nb.cells = [*head, cell, *map(nbformat.v4.new_code_cell, bodies)]
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)
    return path
