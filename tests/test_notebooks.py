"""The numbered notebooks under papermill: every one runs under the smoke defaults, and typos
are rejected (tests/test_notebooks_params.py runs them with other parameters and data).

Kernels run with progress bars off and one CPU thread (shared CI cores are not
oversubscribed); models are trained once into a temporary ARTIFACT_DIR shared by the module
(or reused from G2D_LITE_TEST_ARTIFACT_DIR).
nbval (``--nbval-lax`` on ``notebooks/``, see tests/nbval_sanitize.cfg) is the other check.
"""

from __future__ import annotations

import ast
import math

import pytest

from g2d_lite import run
from g2d_lite.results import read_rows
from tests.notebook_checks import CHANCE, notebook_metrics

pytestmark = pytest.mark.usefixtures("kernel_env")

NOTEBOOKS = run.numbered_notebooks()
# Keys the metrics.json of these notebooks must have; every notebook's must parse and be non-empty.
EXPECTED_KEYS: dict[str, set[str]] = {
    "01": {"notebook", "profile", "dataset", "results", "teachers", "joint", "starved_modality"},
    "04": {"notebook", "profile", "dataset", "results", "seeds", "protocol", "smp_gain", "peers"},
}
# The story the smoke defaults must tell: (better, worse) pairs of fused accuracy in notebook 04.
ORDERINGS = (("joint+smp", "joint"), ("g2d", "g2d_no_smp"), ("g2d", "joint"))
MIN_IMBALANCE = 15.0  # points the starved branch loses inside joint training (notebook 01)


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
    metrics = notebook_metrics(tmp_path)
    assert metrics, f"{notebook.name} wrote an empty metrics.json"
    missing = EXPECTED_KEYS.get(notebook.stem[:2], set()) - set(metrics)
    assert not missing, f"{notebook.name} metrics.json lacks {sorted(missing)}"
    if "results" in metrics:
        _check_rows(read_rows(tmp_path / "metrics.json"))
    _check_story(notebook.stem[:2], metrics)
    assert list(tmp_path.glob("*.png")), "no figure saved with save_figure"


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


@pytest.mark.slow
def test_an_exercise_runs_through_the_runner_without_a_metrics_table(tmp_path, capsys):
    """The exercises write no metrics.json: the runner once ran one to the end, then failed on
    the missing file (and papermill warned of the OUTPUT_DIR it does not declare)."""
    assert run.main(["ex01", "--out", str(tmp_path / "ex01")]) == 0
    out, err = capsys.readouterr()
    assert (tmp_path / "ex01" / "ex01_distillation_losses.ipynb").is_file()
    assert "metrics.json" not in out + err and "unknown parameter" not in out + err
