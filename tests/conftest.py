"""Fixtures shared by the training tests: the tiny synthetic dataset and its trained teachers."""

from __future__ import annotations

import pytest

from g2d_lite.train import train_teacher
from tests.helpers import tiny_config, tiny_data


@pytest.fixture(scope="module")
def data():
    return tiny_data()


@pytest.fixture(scope="module")
def teachers(data):
    return {m: train_teacher(tiny_config(), data, m).model for m in data.info.modality_names}
