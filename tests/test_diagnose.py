"""Diagnostics pinned to hand-made inputs: CKA's invariances, gap arithmetic, modality drop,
informative groups, SMP leader timelines and what the synthetic knobs predict."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

from g2d_lite import diagnose
from g2d_lite.config import Config
from g2d_lite.data.base import DatasetInfo, DatasetSplits, ModalitySpec, TensorMultimodalDataset
from g2d_lite.data.synthetic import make_synthetic
from g2d_lite.evaluate import Predictions
from g2d_lite.models.classifiers import MultimodalClassifier, UnimodalClassifier
from g2d_lite.models.fusion import LateFusion
from g2d_lite.train import TrainResult

# --- linear CKA --------------------------------------------------------------------------------


@pytest.fixture
def features() -> torch.Tensor:
    return torch.randn(500, 12, generator=torch.Generator().manual_seed(0))


def test_cka_of_identical_features_is_one(features):
    assert diagnose.linear_cka(features, features) == pytest.approx(1.0, abs=1e-12)


def test_cka_is_invariant_to_rotation_and_isotropic_scaling(features):
    q, _ = torch.linalg.qr(torch.randn(12, 12, generator=torch.Generator().manual_seed(1)))
    assert diagnose.linear_cka(features, features @ q) == pytest.approx(1.0, abs=1e-10)
    assert diagnose.linear_cka(features, 3.7 * features + 5.0) == pytest.approx(1.0, abs=1e-10)


def test_cka_is_near_zero_for_independent_features(features):
    other = torch.randn(500, 20, generator=torch.Generator().manual_seed(2))
    assert diagnose.linear_cka(features, other) < 0.08


def test_cka_is_symmetric_and_not_invariant_to_anisotropic_scaling(features):
    stretched = features * torch.linspace(0.1, 10.0, 12)
    value = diagnose.linear_cka(features, stretched)
    assert value == pytest.approx(diagnose.linear_cka(stretched, features))
    assert value < 0.9


def test_cka_rejects_mismatched_samples_and_constant_features(features):
    with pytest.raises(ValueError, match="same samples"):
        diagnose.linear_cka(features, features[:10])
    with pytest.raises(ValueError, match="constant"):
        diagnose.linear_cka(features, torch.ones(500, 3))


# --- gap and recovery ----------------------------------------------------------------------------


def test_gap_and_recovery_arithmetic():
    table = diagnose.gap_table(
        {"audio": 60.0, "visual": 70.0},
        {"audio": 59.0, "visual": 40.0},
        {"audio": 58.0, "visual": 64.0},
    ).set_index("modality")
    assert list(table.columns) == ["teacher", "joint", "g2d", "gap", "recovery"]
    assert table.loc["visual", "gap"] == pytest.approx(30.0)
    assert table.loc["visual", "recovery"] == pytest.approx(80.0)
    assert table.loc["audio", "gap"] == pytest.approx(1.0)
    assert math.isnan(table.loc["audio", "recovery"])  # under MIN_GAP: no share of noise
    small = diagnose.gap_table({"a": 60.0}, {"a": 59.0}, {"a": 58.0}, min_gap=0.5)
    assert small["recovery"].item() == pytest.approx(-100.0)


def test_gap_without_student_and_no_gap_gives_nan_recovery():
    plain = diagnose.gap_table({"a": 50.0}, {"a": 40.0})
    assert list(plain.columns) == ["modality", "teacher", "joint", "gap"]
    none = diagnose.gap_table({"a": 50.0}, {"a": 55.0}, {"a": 56.0})
    assert none["gap"].item() == pytest.approx(-5.0)
    assert math.isnan(none["recovery"].item())


def test_gap_for_an_error_metric_counts_a_higher_error_as_the_gap():
    table = diagnose.gap_table({"a": 0.1}, {"a": 0.3}, {"a": 0.15}, metric="mae")
    assert table["gap"].item() == pytest.approx(0.2)
    assert table["recovery"].item() == pytest.approx(75.0)


def _run(history=None, steps=None, test=None, modality=None) -> TrainResult:
    metrics = {"metric": "acc", "modality": modality, "test": test or {}}
    return TrainResult(
        nn.Identity(),
        history if history is not None else pd.DataFrame(),
        steps if steps is not None else pd.DataFrame(),
        metrics,
        Config(),
    )


def test_score_table_and_gap_from_runs_read_the_selected_metrics():
    teachers = {"audio": _run(test={"acc": 60.0}), "visual": _run(test={"acc": 70.0})}
    joint = _run(test={"acc": 69.0, "acc/audio": 59.0, "acc/visual": 38.0})
    g2d = _run(test={"acc": 85.0, "acc/audio": 58.0, "acc/visual": 68.0})
    scores = diagnose.score_table(teachers, {"joint": joint, "G²D": g2d})
    assert len(scores) == 2 + 2 * 3
    fused = scores[scores["output"] == "fused"].set_index("model")["score"]
    assert fused.to_dict() == {"joint": 69.0, "G²D": 85.0}
    gaps = diagnose.gap_from_runs(teachers, joint, g2d).set_index("modality")
    assert gaps.loc["visual", "gap"] == pytest.approx(32.0)
    assert gaps.loc["visual", "recovery"] == pytest.approx(100 * 30 / 32)


# --- histories -----------------------------------------------------------------------------------


def _history(visual_norms=(1.0, 3.0, 0.6)) -> pd.DataFrame:
    n = len(visual_norms)
    return pd.DataFrame(
        {
            "epoch": range(n),
            "train/task": [1.0, 0.5, 0.1][:n],
            "grad_norm/audio": [2.0] * n,
            "grad_norm/visual": list(visual_norms),
            "val/acc": [30.0, 50.0, 60.0][:n],
            "val/acc/audio": [20.0, 40.0, 50.0][:n],
            "val/acc/visual": [10.0, 20.0, 25.0][:n],
        }
    )


def test_learning_curves_name_outputs_after_branches_or_the_teachers_modality():
    teacher = _run(
        pd.DataFrame({"epoch": [0, 1], "val/acc": [10.0, 20.0], "train/task": [2.0, 1.0]}),
        modality="visual",
    )
    curves = diagnose.learning_curves({"joint": _run(_history()), "visual teacher": teacher})
    assert set(curves.loc[curves["run"] == "joint", "output"]) == {"fused", "audio", "visual"}
    assert set(curves.loc[curves["run"] == "visual teacher", "output"]) == {"visual"}
    assert len(curves) == 3 * 3 + 2
    losses = diagnose.task_loss_curves({"joint": _run(_history())})
    assert losses["loss"].tolist() == [1.0, 0.5, 0.1]


def test_gradient_norm_summary():
    summary = diagnose.gradient_norm_summary({"joint": _run(_history())}).set_index("modality")
    visual = summary.loc["visual"]
    assert (visual["first"], visual["peak"], visual["peak_epoch"], visual["last"]) == (1, 3, 1, 0.6)
    assert visual["last_over_peak"] == pytest.approx(0.2)
    assert summary.loc["audio", "last_over_peak"] == pytest.approx(1.0)


# --- modality drop -------------------------------------------------------------------------------


class _Identity(nn.Identity):
    def __init__(self, feature_dim: int) -> None:
        super().__init__()
        self.feature_dim = feature_dim


def _vector_dataset(n: int = 40) -> TensorMultimodalDataset:
    info = DatasetInfo(
        "toy",
        (ModalitySpec("audio", (2,), "vector"), ModalitySpec("visual", (2,), "vector")),
        class_names=("a", "b"),
    )
    targets = torch.arange(n) % 2
    inputs = {"audio": torch.ones(n, 2), "visual": nn.functional.one_hot(targets, 2).float()}
    return TensorMultimodalDataset(info, "test", inputs, targets)


def test_modality_drop_on_a_model_that_reads_only_one_modality():
    fusion = LateFusion({"audio": 2, "visual": 2}, 2)
    with torch.no_grad():
        fusion.heads["audio"].weight.zero_()
        fusion.heads["audio"].bias.zero_()
        fusion.heads["visual"].weight.copy_(10 * torch.eye(2))
        fusion.heads["visual"].bias.zero_()
    model = MultimodalClassifier({"audio": _Identity(2), "visual": _Identity(2)}, fusion)
    drop = diagnose.modality_drop(model, _vector_dataset()).set_index("modality")
    assert drop["full"].tolist() == [100.0, 100.0]
    assert drop.loc["audio", "contribution"] == pytest.approx(0.0)
    # The mean visual feature ties both classes: argmax picks class 0, half the samples.
    assert drop.loc["visual", "without"] == pytest.approx(50.0)
    assert drop.loc["visual", "contribution"] == pytest.approx(50.0)


def test_feature_alignment_of_a_student_with_its_own_teacher_encoder_is_one():
    dataset = _vector_dataset()
    dataset.inputs["audio"] = torch.randn(
        len(dataset), 2, generator=torch.Generator().manual_seed(3)
    )
    teachers = {m: UnimodalClassifier(m, _Identity(2), 2) for m in ("audio", "visual")}
    student = MultimodalClassifier(
        {m: _Identity(2) for m in ("audio", "visual")}, LateFusion({"audio": 2, "visual": 2}, 2)
    )
    table = diagnose.feature_alignment(teachers, {"G²D": student}, dataset)
    assert table["cka"].tolist() == pytest.approx([1.0, 1.0])


@pytest.mark.filterwarnings("ignore:toy. the (validation|test) split is the train split")
def test_teacher_confidence_table_is_the_mean_true_class_probability():
    dataset = _vector_dataset(4)
    teacher = UnimodalClassifier("visual", _Identity(2), 2)
    with torch.no_grad():
        teacher.head.weight.copy_(torch.eye(2) * math.log(3.0))
        teacher.head.bias.zero_()
    splits = DatasetSplits(dataset.info, dataset, dataset, dataset)
    table = diagnose.teacher_confidence_table({"visual": teacher}, splits, ("test",))
    assert table["score"].item() == pytest.approx(100.0)
    assert table["confidence"].item() == pytest.approx(0.75)


# --- informative groups -------------------------------------------------------------------------


def test_accuracy_by_informative_groups_samples_by_their_flags():
    targets = torch.tensor([0, 1, 0, 1])
    right = nn.functional.one_hot(targets, 2).float()
    wrong = right.flip(1)
    pred = Predictions(
        logits=torch.stack([right[0], right[1], wrong[2], right[3]]),
        branch_logits={
            "audio": torch.stack([right[0], wrong[1], wrong[2], wrong[3]]),
            "visual": right,
        },
        features={"audio": torch.zeros(4, 1), "visual": torch.zeros(4, 1)},
        targets=targets,
    )
    flags = {
        "audio": torch.tensor([True, False, True, False]),
        "visual": torch.tensor([True, True, False, False]),
    }
    assert diagnose.informative_groups(flags) == ["audio+visual", "visual", "audio", "none"]
    table = diagnose.accuracy_by_informative(pred, flags, model="joint")
    assert table["informative"].unique().tolist() == ["audio+visual", "audio", "visual", "none"]
    fused = table[table["output"] == "fused"].set_index("informative")["score"]
    assert fused.to_dict() == {"audio+visual": 100.0, "audio": 0.0, "visual": 100.0, "none": 100.0}
    assert (table["n"] == 1).all() and set(table["model"]) == {"joint"}


def test_informative_flags_need_the_synthetic_dataset():
    with pytest.raises(ValueError, match="only the synthetic dataset"):
        diagnose.informative_flags(_vector_dataset().info, "test")


# --- SMP timelines ------------------------------------------------------------------------------


@pytest.fixture
def steps() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "step": [0, 1, 2, 3, 4, 5],
            "epoch": [0, 0, 0, 1, 1, 1],
            "rho/audio": [0.2, 0.9, 0.5, 0.9, 0.95, 0.9],
            "rho/visual": [0.6, 0.4, 0.5, 0.3, 0.2, 0.1],
            "kappa/audio": [1.0, 0.0, 1.0, 0.0, 1.0, 0.3],
            "kappa/visual": [0.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        }
    )


def test_leaders_name_the_only_unsuppressed_modality_or_all(steps):
    assert diagnose.leaders(steps).tolist() == ["audio", "visual", "all", "visual", "all", "visual"]


def test_leader_share_overall_and_by_epoch(steps):
    overall = diagnose.leader_share(steps).set_index("leader")
    assert overall["steps"].to_dict() == {"all": 2, "audio": 1, "visual": 3}
    assert overall["share"].sum() == pytest.approx(100.0)
    by_epoch = diagnose.leader_share(steps, by_epoch=True).set_index(["epoch", "leader"])["share"]
    assert by_epoch[(1, "visual")] == pytest.approx(200 / 3)
    assert by_epoch[(0, "audio")] == pytest.approx(100 / 3)


def test_confidence_timeline_is_long_with_the_leader(steps):
    timeline = diagnose.confidence_timeline(steps)
    assert len(timeline) == 12
    assert list(timeline.columns) == ["step", "epoch", "modality", "rho", "kappa", "leader"]
    visual = timeline[timeline["modality"] == "visual"]
    assert visual["rho"].tolist() == steps["rho/visual"].tolist()


def test_steps_without_kappa_are_a_clear_error():
    with pytest.raises(ValueError, match="no SMP or OGM"):
        diagnose.leaders(pd.DataFrame({"step": [0], "epoch": [0], "rho/audio": [0.5]}))


# --- synthetic expectations ---------------------------------------------------------------------

SMALL = {"n_train": 50, "n_validation": 20, "n_test": 20}


def test_blank_frames_cap_the_visual_teachers_train_confidence():
    table = diagnose.synthetic_expectations(make_synthetic(**SMALL).info).set_index("modality")
    assert table.loc["visual", "train_confidence_cap"] == pytest.approx(0.85 + 0.15 / 10)
    assert table.loc["audio", "train_confidence_cap"] == 1.0
    assert table.loc["visual", "bayes_ceiling"] == pytest.approx(86.5)
    assert diagnose.expected_leader(table.reset_index()) == "visual"


def test_memorisable_visual_noise_leaves_the_leader_undetermined():
    info = make_synthetic(visual_uninformative="noise", **SMALL).info
    assert diagnose.expected_leader(diagnose.synthetic_expectations(info)) is None
