"""Comparison methods in the one trainer: determinism, resume, reuse, k modalities, errors."""

import pandas as pd
import pytest
import torch

from g2d_lite.checkpoint import load_checkpoint
from g2d_lite.config import resolve
from g2d_lite.data import load_dataset
from g2d_lite.data.synthetic import SyntheticModality
from g2d_lite.evaluate import evaluate
from g2d_lite.methods import UPDATE_RULES
from g2d_lite.models import build_student
from g2d_lite.store import load_or_train_student, load_run
from g2d_lite.train import Trainer, train_student
from tests.helpers import states_equal, tiny_data, without_timing

FAST = {"batch_size": 64, "progress": False, "reconboost_boost_epochs": 1}


def _cfg(method: str, **overrides):
    return resolve("smoke", method=method, **(FAST | overrides))


@pytest.fixture(scope="module")
def data():
    return tiny_data()


@pytest.mark.parametrize("method", UPDATE_RULES)
def test_two_seeded_epochs_reproduce_bit_for_bit(data, method):
    runs = [train_student(_cfg(method, epochs=2), data) for _ in range(2)]
    pd.testing.assert_frame_equal(without_timing(runs[0].history), without_timing(runs[1].history))
    assert states_equal(runs[0].model.state_dict(), runs[1].model.state_dict())
    assert runs[0].metrics["test"]["acc"] >= 0


@pytest.mark.parametrize("method", UPDATE_RULES)
def test_a_killed_run_resumes_with_the_methods_state(data, method, tmp_path):
    cfg = _cfg(method, epochs=3)
    reference = train_student(cfg, data, run_dir=tmp_path / "reference")

    def kill_after_epoch_1(trainer: Trainer, epoch: int) -> None:
        if epoch == 1:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        train_student(cfg, data, run_dir=tmp_path / "run", callbacks=[kill_after_epoch_1])
    resumed = train_student(cfg, data, run_dir=tmp_path / "run")
    pd.testing.assert_frame_equal(
        without_timing(resumed.history), without_timing(reference.history)
    )
    final = [
        load_checkpoint(tmp_path / d / "checkpoints" / "last.pt") for d in ("run", "reference")
    ]
    assert states_equal(final[0]["model"], final[1]["model"])


def test_the_methods_state_is_in_the_checkpoint_and_inference_models_ignore_it(data, tmp_path):
    run = load_or_train_student(_cfg("mmpareto", epochs=1), data, None, tmp_path)
    state = load_checkpoint(run.run_dir / "checkpoints" / "last.pt")["model"]
    assert {"training_parts.mmpareto.heads.audio.weight"} <= set(state)
    reloaded = load_run(run.run_dir)
    assert not len(reloaded.model.training_parts)
    assert evaluate(reloaded.model, data.test)["acc"] == pytest.approx(run.metrics["test"]["acc"])


def test_agm_keeps_running_scores_across_epochs(data):
    result = train_student(_cfg("agm", epochs=2), data)
    steps = result.steps
    assert {"agm/score/audio", "agm/coef/visual", "kappa/audio"} <= set(steps.columns)
    running = result.model.training_parts["agm"].running_scores
    expected = steps[["agm/score/audio", "agm/score/visual"]].mean().to_numpy()
    torch.testing.assert_close(running, torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize("method", UPDATE_RULES)
def test_every_method_takes_three_modalities(method):
    modalities = [
        SyntheticModality("audio"),
        SyntheticModality("visual", pattern="glyph"),
        SyntheticModality("text", "vector", dim=12),
    ]
    data = load_dataset(
        "synthetic", seed=0, n_train=128, n_validation=64, n_test=64, modalities=modalities
    )
    result = train_student(_cfg(method, epochs=1), data)
    assert {"acc/audio", "acc/visual", "acc/text"} <= set(result.metrics["test"])


def test_mmpareto_trains_regression_and_the_others_say_they_cannot(data):
    regression = tiny_data(task="regression")
    result = train_student(_cfg("mmpareto", epochs=1), regression)
    assert "mae" in result.metrics["test"]
    with pytest.raises(ValueError, match="agm is defined for classification only"):
        train_student(_cfg("agm", epochs=1), regression)


@pytest.mark.parametrize(
    ("method", "overrides", "message"),
    [
        ("mla", {"fusion": "late"}, "mla cannot use fusion 'late'; valid fusions for it: shared"),
        ("reconboost", {"fusion": "concat"}, "valid fusions for it: boost, sum"),
        ("agm", {"loss": "g2d"}, "agm trains with its own objective and no distillation"),
        ("reconboost", {"reconboost_init": "pretrained"}, "valid choices: scratch, teachers"),
        ("pmr", {"pmr_momentum": 1.0}, r"pmr_momentum in \[0, 1\)"),
    ],
)
def test_bad_settings_get_one_line_errors_naming_the_valid_choices(
    data, method, overrides, message
):
    with pytest.raises(ValueError, match=message):
        Trainer(_cfg(method, epochs=1, **overrides), data, "student")


@pytest.mark.parametrize("fusion", ["shared", "boost"])
def test_shared_heads_need_equal_feature_widths(data, fusion):
    with pytest.raises(ValueError, match="every feature width must match"):
        build_student(data.info, {"audio": "resnet18", "visual": "small_cnn"}, fusion)


def test_a_single_modality_student_is_refused(data):
    with pytest.raises(ValueError, match="needs at least two"):
        Trainer(_cfg("pmr", epochs=1, modalities=("audio",)), data, "student")
