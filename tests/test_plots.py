"""Every plot function returns a titled Figure with labelled axes on small fake data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # unit tests only: notebooks keep the inline backend

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from g2d_lite import diagnose, plots  # noqa: E402
from g2d_lite.data.synthetic import make_synthetic  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _check(fig: Figure, panels: int = 1) -> None:
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_xlabel() or ax.get_ylabel()]
    assert len(axes) >= panels
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def _grid_check(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    assert fig.get_suptitle()
    assert any(ax.get_ylabel() for ax in fig.axes)


@pytest.fixture
def scores() -> pd.DataFrame:
    rows = [
        ("teacher", "audio", 60.0),
        ("teacher", "visual", 70.0),
        ("joint", "fused", 69.0),
        ("joint", "audio", 59.0),
        ("joint", "visual", 38.0),
        ("G²D", "fused", 85.0),
        ("G²D", "audio", 58.0),
        ("G²D", "visual", 68.0),
    ]
    return pd.DataFrame(rows, columns=["model", "output", "score"]).assign(metric="acc")


@pytest.fixture
def steps() -> pd.DataFrame:
    n = 12
    return pd.DataFrame(
        {
            "step": range(n),
            "epoch": [i // 4 for i in range(n)],
            "rho/audio": [0.9] * n,
            "rho/visual": [0.5 + 0.03 * i for i in range(n)],
            "kappa/audio": [0.0] * 8 + [1.0] * 4,
            "kappa/visual": [1.0] * n,
        }
    )


def _history(offset: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "epoch": [0, 1, 2],
            "train/task": [1.0, 0.4, 0.1],
            "grad_norm/audio": [1.0, 0.8, 0.5],
            "grad_norm/visual": [0.5, 0.6, 0.2],
            "val/acc": [40 + offset, 60 + offset, 70 + offset],
            "val/acc/audio": [50.0, 55.0, 58.0],
            "val/acc/visual": [20 + offset, 30 + offset, 35 + offset],
        }
    )


@pytest.fixture
def runs():
    from g2d_lite.config import Config
    from g2d_lite.train import TrainResult

    def run(offset):
        return TrainResult(None, _history(offset), pd.DataFrame(), {"metric": "acc"}, Config())

    return {"joint": run(0.0), "G²D": run(20.0)}


def test_figure1(scores):
    _check(plots.figure1(scores))


def test_results_bars_mean_and_std_over_seeds():
    results = pd.DataFrame(
        {"method": ["joint", "joint", "G²D", "G²D"], "seed": [0, 1, 0, 1], "acc": [70, 72, 85, 86]}
    )
    fig = plots.results_bars(results, title="Fused test accuracy")
    _check(fig)
    assert "2 seeds" in fig.axes[0].get_title()


def test_cka_and_modality_drop_and_informative_bars():
    alignment = pd.DataFrame(
        {
            "student": ["joint", "G²D"] * 2,
            "modality": ["audio"] * 2 + ["visual"] * 2,
            "cka": [0.8, 0.9, 0.3, 0.85],
        }
    )
    _check(plots.cka_bars(alignment))
    drops = pd.DataFrame(
        {
            "model": ["joint", "G²D"] * 2,
            "modality": ["audio"] * 2 + ["visual"] * 2,
            "metric": "acc",
            "contribution": [30.0, 20.0, 5.0, 25.0],
        }
    )
    _check(plots.modality_drop_bars(drops))
    informative = pd.DataFrame(
        {
            "model": ["joint", "G²D"] * 2,
            "informative": ["audio"] * 2 + ["visual"] * 2,
            "output": "fused",
            "metric": "acc",
            "score": [90.0, 91.0, 40.0, 80.0],
            "n": 5,
        }
    )
    _check(plots.informative_bars(informative))


def test_learning_curves_and_gradient_norms(runs):
    curves = diagnose.learning_curves(runs)
    _check(plots.learning_curves(curves))
    _check(plots.learning_curves(curves, diagnose.task_loss_curves(runs)), panels=2)
    _check(plots.gradient_norms(diagnose.gradient_norms(runs)))


def test_confidence_timeline_and_leader_share(steps):
    _check(plots.confidence_timeline(diagnose.confidence_timeline(steps), window=(0, 1)))
    _check(plots.leader_share(diagnose.leader_share(steps, by_epoch=True)))


def test_sample_grid_shows_signal_and_no_signal_rows():
    data = make_synthetic(n_train=60, n_validation=10, n_test=10)
    fig = plots.sample_grid(data.train, n_classes=4)
    _grid_check(fig)
    assert len(fig.axes) == 4 * 4
    assert [ax.get_ylabel() for ax in fig.axes[::4]] == [
        "audio\nsignal",
        "audio\nno signal",
        "visual\nsignal",
        "visual\nno signal",
    ]
