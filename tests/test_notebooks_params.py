"""The numbered notebooks under other parameters and data: the CI ablation grid through the
runner, and AV-MNIST with its profile. Their models are their own (other epochs, another
dataset), so this module runs beside tests/test_notebooks.py in a parallel test run."""

from __future__ import annotations

import pandas as pd
import pytest

from g2d_lite import run
from g2d_lite.results import read_rows
from tests.data_fixtures import build_shared_avmnist, needs_shared_mnist_fsdd
from tests.notebook_checks import CHANCE, assert_no_foreign_words, notebook_metrics, rendered_text

pytestmark = pytest.mark.usefixtures("kernel_env")


@pytest.mark.slow
def test_ablation_grid_with_non_default_parameters(artifact_dir, tmp_path):
    grid_dir = tmp_path / "grid"
    status = run.main(
        ["04", "-f", str(run.PARAMS_DIR / "ablation_ci.yaml"), "-p", "ARTIFACT_DIR",
         str(artifact_dir), "--out", str(grid_dir)]
    )  # fmt: skip
    assert status == 0
    points = sorted(p.name for p in grid_dir.iterdir() if p.is_dir())
    assert points == ["SEED=0", "SEED=1"]
    for point in points:
        metrics = notebook_metrics(grid_dir / point)
        assert metrics["seeds"] == [int(point[-1])]
        rows = read_rows(grid_dir / point / "metrics.json")
        assert {r["method"] for r in rows} >= {"joint", "umt", "umt+smp", "ogm_ge", "g2d"}
    summary = pd.read_csv(grid_dir / "summary.csv")
    assert set(summary.loc[summary["method"].isin(["joint", "g2d"]), "seeds"]) == {2}
    assert summary["fused acc"].dropna().str.contains("±").any()

    # The notebook's own aggregation cell reads the same grid back.
    again = tmp_path / "aggregate"
    extra = {
        "EPOCHS": 3,
        "METHODS": "joint",
        "FUSIONS": "",
        "WINDOWS": "",
        "PEERS": "",
        "GRID_DIR": str(grid_dir),
    }
    run.run_notebook(run.find_notebook("04"), {"ARTIFACT_DIR": str(artifact_dir), **extra}, again)
    grid = notebook_metrics(again)["grid"]
    assert {row["method"] for row in grid} >= {"joint", "g2d"}


@pytest.mark.slow
@needs_shared_mnist_fsdd
def test_notebooks_run_on_real_avmnist_with_its_profile(artifact_dir, tmp_path, monkeypatch):
    """params/avmnist.yaml on a 20 % AV-MNIST-lite build: every sentence is about AV-MNIST (no
    synthetic-only words, no modality it does not have), and 02 runs on both splits."""
    cache = tmp_path / "data"
    assert build_shared_avmnist(cache / "avmnist") == 0
    monkeypatch.setenv("G2D_LITE_DATA", str(cache))  # the kernels inherit it
    params = {**run.load_params_file(run.PARAMS_DIR / "avmnist.yaml"),
              "ARTIFACT_DIR": str(artifact_dir / "avmnist")}  # fmt: skip
    for number in ("01", "02", "03"):
        executed = run.run_notebook(run.find_notebook(number), params, tmp_path / number)
        metrics = notebook_metrics(tmp_path / number)
        assert (metrics["dataset"], metrics["profile"]) == ("avmnist", "avmnist")
        assert_no_foreign_words(executed, ("audio", "image"))
        assert "What these data show" in rendered_text(executed)
    teachers = {r["method"]: r for r in read_rows(tmp_path / "03" / "metrics.json")}
    for modality in ("audio", "image"):
        assert teachers[f"teacher ({modality})"][f"acc/{modality}"] > CHANCE + 10, modality
    validation = tmp_path / "02-validation"
    executed = run.run_notebook(
        run.find_notebook("02"), {**params, "SPLIT": "validation"}, validation
    )
    assert notebook_metrics(validation)["split"] == "validation"
    assert_no_foreign_words(executed, ("audio", "image"))
    small = {"METHODS": "joint,g2d", "FUSIONS": "", "WINDOWS": "", "PEERS": "joint,g2d",
             "PEER_EPOCHS": 2}  # fmt: skip
    executed = run.run_notebook(run.find_notebook("04"), {**params, **small}, tmp_path / "04")
    assert_no_foreign_words(executed, ("audio", "image"))
    assert "What these data show" in rendered_text(executed)
