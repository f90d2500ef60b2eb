"""The training loop: roles, determinism, teacher caching, resume, NaN handling, run folders."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from g2d_lite.checkpoint import load_checkpoint
from g2d_lite.rundir import RunFolderError
from g2d_lite.store import load_or_train_student, load_or_train_teacher, load_run
from g2d_lite.teachers import TeacherBank
from g2d_lite.train import NonFiniteLossError, Trainer, train_student, train_teacher
from tests.helpers import tiny_config, tiny_data


def _without_timing(history: pd.DataFrame) -> pd.DataFrame:
    return history.drop(columns=["seconds"])


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_teacher_history_and_metrics(data):
    result = train_teacher(tiny_config(), data, "visual")
    assert list(result.history.epoch) == [0, 1, 2]
    assert {"train/loss", "train/acc", "val/acc", "test/acc", "grad_norm/visual"} <= set(
        result.history.columns
    )
    assert result.metrics["role"] == "teacher" and result.metrics["modality"] == "visual"
    assert set(result.metrics["protocols"]) == {"honest", "paper", "last"}


def test_cpu_runs_reproduce_bit_for_bit(data, teachers):
    cfg = tiny_config()
    first = train_student(cfg, data, teachers)
    second = train_student(cfg, data, teachers)
    pd.testing.assert_frame_equal(_without_timing(first.history), _without_timing(second.history))
    assert _states_equal(first.model.state_dict(), second.model.state_dict())


def test_smp_records_confidences_and_masks_the_more_confident_encoder(data, teachers):
    result = train_student(tiny_config(epochs=2, balance_end_epoch=0), data, teachers)
    steps = result.steps
    assert {"rho/audio", "rho/visual", "kappa/audio", "kappa/visual"} <= set(steps.columns)
    window = steps[steps.epoch == 0]
    leader_is_least_confident = (window["rho/audio"] < window["rho/visual"]) == (
        window["kappa/audio"] == 1.0
    )
    assert leader_is_least_confident.all()
    assert (steps[steps.epoch == 1][["kappa/audio", "kappa/visual"]] == 1.0).all().all()


def test_cached_and_online_teachers_give_the_same_loss(data, teachers):
    bank = TeacherBank(teachers)
    cache = bank.precompute(data.train, batch_size=50)
    idx = torch.tensor([3, 17, 42, 100])
    inputs = {m: x[idx] for m, x in data.train.inputs.items()}
    online_features, online_logits = bank(inputs)
    cached_features, cached_logits = cache.lookup(idx)
    for m in data.info.modality_names:
        torch.testing.assert_close(cached_features[m], online_features[m])
        torch.testing.assert_close(cached_logits[m], online_logits[m])
    cached = train_student(tiny_config(epochs=1), data, teachers)
    online = train_student(tiny_config(epochs=1, teacher_cache="never"), data, teachers)
    losses = ["train/loss", "train/task", "train/feature/audio", "train/logit/visual"]
    pd.testing.assert_frame_equal(cached.history[losses], online.history[losses], atol=1e-5, rtol=0)


def test_killed_run_resumes_to_identical_weights_and_history(data, teachers, tmp_path):
    cfg = tiny_config(epochs=4, balance="ogm_ge")  # GE noise: RNG must resume exactly too
    reference = train_student(cfg, data, teachers, run_dir=tmp_path / "reference")

    def kill_after_epoch_1(trainer: Trainer, epoch: int) -> None:
        if epoch == 1:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        train_student(cfg, data, teachers, run_dir=tmp_path / "run", callbacks=[kill_after_epoch_1])
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["epoch"] == 1
    resumed = train_student(cfg, data, teachers, run_dir=tmp_path / "run")
    pd.testing.assert_frame_equal(
        _without_timing(resumed.history), _without_timing(reference.history)
    )
    pd.testing.assert_frame_equal(resumed.steps, reference.steps)
    final = [
        load_checkpoint(tmp_path / d / "checkpoints" / "last.pt") for d in ("run", "reference")
    ]
    assert _states_equal(final[0]["model"], final[1]["model"])


def test_resuming_with_a_different_config_is_refused(data, tmp_path):
    train_teacher(tiny_config(epochs=1), data, "audio", run_dir=tmp_path)
    with pytest.raises(RunFolderError, match=r"another run \(changed: lr\).*--no-resume"):
        train_teacher(tiny_config(epochs=1, lr=0.01), data, "audio", run_dir=tmp_path)


def test_non_finite_loss_stops_loudly_and_keeps_the_last_good_checkpoint(tmp_path):
    data = tiny_data()

    def poison_inputs(trainer: Trainer, epoch: int) -> None:
        data.train.inputs["audio"][:] = float("nan")

    with pytest.raises(NonFiniteLossError, match="epoch 1.*last good checkpoint"):
        train_teacher(tiny_config(), data, "audio", run_dir=tmp_path, callbacks=[poison_inputs])
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert state["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_run_folder_and_store_reuse(data, tmp_path):
    cfg = tiny_config(epochs=2)
    first = load_or_train_teacher(cfg, data, "audio", tmp_path)
    files = {p.name for p in first.run_dir.iterdir()}
    assert {"config.json", "history.csv", "steps.csv", "metrics.json", "checkpoints"} <= files
    again = load_or_train_teacher(cfg, data, "audio", tmp_path)
    assert again.run_dir == first.run_dir
    assert _states_equal(again.model.state_dict(), first.model.state_dict())
    other = load_or_train_teacher(cfg.replace(lr=0.02), data, "audio", tmp_path)
    assert other.run_dir != first.run_dir
    joint = load_or_train_student(cfg.replace(loss="ce", balance="none"), data, None, tmp_path)
    metrics = json.loads((joint.run_dir / "metrics.json").read_text())
    assert metrics["test"] == load_run(joint.run_dir).metrics["test"]


def test_selection_protocols_pick_their_epochs(data, teachers):
    result = train_student(tiny_config(epochs=3, selection="test"), data, teachers)
    history = result.history
    assert result.metrics["selected_epoch"] == result.metrics["protocols"]["paper"]["epoch"]
    best_test = history["test/acc"].max()
    assert result.metrics["test"]["acc"] == pytest.approx(best_test)


def test_students_need_matching_teachers(data, teachers):
    with pytest.raises(ValueError, match="needs unimodal teachers"):
        train_student(tiny_config(), data, None)
    with pytest.raises(ValueError, match="teachers cover modalities"):
        train_student(tiny_config(), data, {"audio": teachers["audio"]})
    with pytest.raises(ValueError, match="OGM needs per-modality branch logits"):
        train_student(tiny_config(balance="ogm", fusion="film"), data, teachers)


@pytest.mark.parametrize("method", ["joint", "umt", "logit_kd", "g2d_partial", "ogm"])
def test_every_method_trains(data, teachers, method):
    from g2d_lite.config import resolve

    cfg = resolve("smoke", method=method, epochs=1, batch_size=64, progress=False)
    result = train_student(cfg, data, teachers)
    assert 0.0 <= result.metrics["test"]["acc"] <= 100.0


def test_regression_trains_with_mae(tmp_path):
    data = tiny_data(task="regression")
    cfg = tiny_config(epochs=2)
    teachers = {m: train_teacher(cfg, data, m).model for m in data.info.modality_names}
    result = train_student(cfg, data, teachers)
    assert {"mae", "mae/audio", "mae/visual"} <= set(result.metrics["test"])
    assert "rho/audio" in result.steps.columns


def test_teachers_keep_their_last_epoch_unless_told_otherwise(data):
    last = train_teacher(tiny_config(selection="validation"), data, "audio")
    assert last.metrics["selection"] == "last"
    assert last.metrics["selected_epoch"] == 2
    by_val = train_teacher(tiny_config(teacher_selection="validation"), data, "audio")
    assert by_val.metrics["selected_epoch"] == by_val.metrics["protocols"]["honest"]["epoch"]


def test_teachers_are_shared_across_student_settings(data, tmp_path):
    cfg = tiny_config(epochs=1)
    first = load_or_train_teacher(cfg, data, "audio", tmp_path)
    again = load_or_train_teacher(
        cfg.replace(loss="ce", balance="ogm", fusion="concat"), data, "audio", tmp_path
    )
    assert again.run_dir == first.run_dir


def test_without_a_run_folder_the_model_holds_the_selected_epoch(data):
    from g2d_lite.evaluate import evaluate

    result = train_teacher(tiny_config(epochs=4, teacher_selection="test"), data, "visual")
    assert evaluate(result.model, data.test)["acc"] == pytest.approx(result.metrics["test"]["acc"])
