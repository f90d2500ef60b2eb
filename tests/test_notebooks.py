"""The numbered notebooks under papermill: every one runs under the smoke defaults, one runs with
non-default parameters (the CI ablation grid, through the runner), and typos are rejected.

Kernels run with progress bars off and one CPU thread (shared CI cores are not
oversubscribed); models are trained once into a temporary ARTIFACT_DIR shared by the module
(or reused from G2D_LITE_TEST_ARTIFACT_DIR).
nbval (``--nbval-lax`` on ``notebooks/``, see tests/nbval_sanitize.cfg) is the other check.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from g2d_lite import run
from g2d_lite.results import read_rows
from tests.data_fixtures import build_shared_avmnist, needs_shared_mnist_fsdd

NOTEBOOKS = run.numbered_notebooks()
KERNEL_ENV = {**run.RUN_ENV, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
# Keys the metrics.json of these notebooks must have; every notebook's must parse and be non-empty.
EXPECTED_KEYS: dict[str, set[str]] = {
    "01": {"notebook", "profile", "dataset", "results", "teachers", "joint", "starved_modality"},
    "04": {"notebook", "profile", "dataset", "results", "seeds", "protocol", "smp_gain", "peers"},
}
CHANCE = 10.0  # the synthetic dataset's 10 balanced classes
# The story the smoke defaults must tell: (better, worse) pairs of fused accuracy in notebook 04.
ORDERINGS = (("joint+smp", "joint"), ("g2d", "g2d_no_smp"), ("g2d", "joint"))
MIN_IMBALANCE = 15.0  # points the starved branch loses inside joint training (notebook 01)


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    """A fresh model cache for this module, or an existing one named by
    G2D_LITE_TEST_ARTIFACT_DIR (CI can point it at the cache nbval just filled)."""
    existing = os.environ.get("G2D_LITE_TEST_ARTIFACT_DIR")
    return Path(existing).resolve() if existing else tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module", autouse=True)
def kernel_env():
    saved = {k: os.environ.get(k) for k in KERNEL_ENV}
    os.environ.update(KERNEL_ENV)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _metrics(run_dir):
    path = run_dir / "metrics.json"
    assert path.is_file(), f"{path} missing: the notebook did not reach save_metrics"
    return json.loads(path.read_text())


def _check_rows(rows):
    assert rows, "metrics.json has no result rows"
    for row in rows:
        assert {"method", "seed", "protocol"} <= set(row)
        scores = {k: v for k, v in row.items() if k.split("/")[0] == "acc"}
        assert scores, f"row {row['method']} has no accuracy"
        for key, value in scores.items():
            assert not math.isnan(value) and 0.0 <= value <= 100.0, f"{row['method']} {key}={value}"
        if "acc" in scores:
            assert scores["acc"] > CHANCE + 10, f"{row['method']}: fused acc near chance"


def _check_story(number, metrics):
    """The imbalance appears in 01; SMP and the G²D loss each help in 04."""
    if number == "01":
        lost = metrics["joint"]["branches"][metrics["starved_modality"]]["lost (points)"]
        assert lost >= MIN_IMBALANCE, f"joint training starves no branch (largest loss {lost:.1f})"
    if number == "04":
        fused = {row["method"]: row["acc"] for row in metrics["results"] if "acc" in row}
        for better, worse in ORDERINGS:
            assert fused[better] > fused[worse], f"{better} {fused[better]:.1f} <= {worse}"


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem[:2] for nb in NOTEBOOKS])
def test_notebook_runs_under_smoke_defaults(notebook, artifact_dir, tmp_path):
    params = {"ARTIFACT_DIR": str(artifact_dir)}
    run.run_notebook(notebook, params, tmp_path)  # raises RunError on any failing cell
    metrics = _metrics(tmp_path)
    assert metrics, f"{notebook.name} wrote an empty metrics.json"
    missing = EXPECTED_KEYS.get(notebook.stem[:2], set()) - set(metrics)
    assert not missing, f"{notebook.name} metrics.json lacks {sorted(missing)}"
    if "results" in metrics:
        _check_rows(read_rows(tmp_path / "metrics.json"))
    _check_story(notebook.stem[:2], metrics)
    assert list(tmp_path.glob("*.png")), "no figure saved with save_figure"


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
        metrics = _metrics(grid_dir / point)
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
    grid = _metrics(again)["grid"]
    assert {row["method"] for row in grid} >= {"joint", "g2d"}


# Words that belong to the synthetic generator's story and must not reach a recorded dataset's
# notebook, plus every modality name the dataset does not have.
SYNTHETIC_ONLY = ("ripple", "glyph", "blank frame", "noise-only", "two dials")
MODALITY_NAMES = ("audio", "visual", "image", "text")  # "video": the paper's CREMA-D column


def rendered_text(notebook: Path) -> str:
    """What a reader sees: markdown cells and every text output, not the code."""
    nb = json.loads(notebook.read_text())
    parts = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for mime in ("text/markdown", "text/plain"):
                parts.append("".join(output.get("data", {}).get(mime, "")))
    return "\n".join(parts)


def assert_no_foreign_words(notebook: Path, modalities: tuple[str, ...]) -> None:
    text = rendered_text(notebook).lower()
    foreign = [w for w in SYNTHETIC_ONLY if w in text]
    foreign += [  # "\text{...}" in LaTeX is not the text modality
        m for m in MODALITY_NAMES if m not in modalities and re.search(rf"(?<!\\)\b{m}\b", text)
    ]
    assert not foreign, f"{notebook.name} talks about {foreign} on this dataset"


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
        metrics = _metrics(tmp_path / number)
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
    assert _metrics(validation)["split"] == "validation"
    assert_no_foreign_words(executed, ("audio", "image"))
    small = {"METHODS": "joint,g2d", "FUSIONS": "", "WINDOWS": "", "PEERS": "joint,g2d",
             "PEER_EPOCHS": 2}  # fmt: skip
    executed = run.run_notebook(run.find_notebook("04"), {**params, **small}, tmp_path / "04")
    assert_no_foreign_words(executed, ("audio", "image"))
    assert "What these data show" in rendered_text(executed)


def test_parameter_typo_is_rejected(capsys):
    assert run.main(["01", "-p", "EPOCH", "3"]) == 2
    error = capsys.readouterr().err
    assert "unknown parameter(s) ['EPOCH']" in error and "EPOCHS" in error


def test_unknown_notebook_lists_the_valid_ones(capsys):
    assert run.main(["07"]) == 2
    assert "01_teacher_training" in capsys.readouterr().err


def test_params_files_name_real_parameters():
    for path in sorted(run.PARAMS_DIR.glob("*.yaml")):
        fixed, axes = run.split_grid(run.load_params_file(path))
        run.check_parameter_names({**fixed, **axes}, NOTEBOOKS)


def test_smoke_params_mirror_the_notebook_defaults():
    smoke = run.load_params_file(run.PARAMS_DIR / "smoke.yaml")
    for notebook in NOTEBOOKS:
        declared = run.declared_parameters(notebook)
        for name, value in smoke.items():
            if name in declared:
                default = ast.literal_eval(declared[name]["default"])  # the literal's source
                assert default == value, f"{notebook.name}: {name} defaults to {default!r}"


def test_grid_helpers():
    axes = run.parse_grid_option(["SEED=0,1", "EPOCHS=5"])
    assert axes == {"SEED": [0, 1], "EPOCHS": [5]}
    points = run.grid_points(axes)
    assert points == [{"SEED": 0, "EPOCHS": 5}, {"SEED": 1, "EPOCHS": 5}]
    assert run.point_name(points[1]) == "SEED=1_EPOCHS=5"
    assert [run.parse_value(v) for v in ("True", "None", "3", "0.5", "g2d")] == [
        True, None, 3, 0.5, "g2d"
    ]  # fmt: skip
