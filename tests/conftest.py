"""Fixtures shared by the tests: the tiny synthetic dataset and its trained teachers; the model
cache and the kernel environment of the notebook tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from g2d_lite.train import train_teacher
from tests.helpers import tiny_config, tiny_data
from tests.notebook_checks import KERNEL_ENV


@pytest.fixture(scope="module")
def data():
    return tiny_data()


@pytest.fixture(scope="module")
def teachers(data):
    return {m: train_teacher(tiny_config(), data, m).model for m in data.info.modality_names}


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    """A fresh model cache for this module, or an existing one named by
    G2D_LITE_TEST_ARTIFACT_DIR (scripts/test.sh: the cache nbval reuses)."""
    existing = os.environ.get("G2D_LITE_TEST_ARTIFACT_DIR")
    return Path(existing).resolve() if existing else tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def kernel_env():
    """The notebook kernels' environment (no progress bars, one CPU thread) for a module."""
    saved = {k: os.environ.get(k) for k in KERNEL_ENV}
    os.environ.update(KERNEL_ENV)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
