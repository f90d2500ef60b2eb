"""Encoders, fusion modules and the teacher/student models."""

import pytest
import torch

from g2d_lite.data.base import DatasetInfo, ModalitySpec
from g2d_lite.models import build_encoder, build_fusion, build_student, build_teacher

INFO = DatasetInfo(
    "toy",
    (
        ModalitySpec("audio", (1, 16, 16), "spectrogram"),
        ModalitySpec("visual", (3, 2, 16, 16), "video"),
        ModalitySpec("text", (12,), "vector"),
    ),
    class_names=("a", "b", "c"),
)


def _inputs(batch: int = 4) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {
        "audio": torch.randn(batch, 1, 16, 16),
        "visual": torch.randn(batch, 3, 2, 16, 16),
        "text": torch.randn(batch, 12),
    }


@pytest.mark.parametrize("fusion", ["late", "sum", "concat"])
def test_fusions_give_fused_and_branch_logits_for_three_modalities(fusion):
    out = build_student(INFO, fusion=fusion)(_inputs())
    assert out.logits.shape == (4, 3)
    assert set(out.branch_logits) == {"audio", "visual", "text"}
    assert all(b.shape == (4, 3) for b in out.branch_logits.values())
    assert out.features["text"].shape[0] == 4


def test_late_fusion_logits_are_the_mean_of_branch_logits():
    out = build_student(INFO, fusion="late")(_inputs())
    torch.testing.assert_close(out.logits, torch.stack(list(out.branch_logits.values())).mean(0))


def test_sum_fusion_logits_are_the_sum_of_branch_logits():
    out = build_student(INFO, fusion="sum")(_inputs())
    torch.testing.assert_close(out.logits, torch.stack(list(out.branch_logits.values())).sum(0))


def test_concat_branches_are_weight_slices_with_shared_bias():
    fusion = build_fusion("concat", {"a": 2, "b": 3}, 2)
    feats = {"a": torch.randn(5, 2), "b": torch.randn(5, 3)}
    fused, branches = fusion(feats)
    # the branches add up to the fused logits: each takes its weight slice and bias / k
    torch.testing.assert_close(branches["a"] + branches["b"], fused)
    expected_a = feats["a"] @ fusion.head.weight[:, :2].t() + fusion.head.bias / 2
    torch.testing.assert_close(branches["a"], expected_a)


@pytest.mark.parametrize("fusion", ["film", "gated"])
def test_pair_fusions_need_exactly_two_modalities(fusion):
    out = build_student(INFO, fusion=fusion, modalities=["audio", "visual"])(_inputs())
    assert out.logits.shape == (4, 3) and out.branch_logits is None
    with pytest.raises(ValueError, match="exactly two modalities"):
        build_student(INFO, fusion=fusion)


def test_resnet18_encoder_adapts_conv1_and_pools_video_frames():
    encoder = build_encoder("resnet18", INFO.spec("visual"))
    assert encoder.trunk[0].in_channels == 3 and encoder.feature_dim == 512
    clip = torch.randn(2, 3, 2, 32, 32)
    frames = clip.transpose(1, 2).reshape(4, 3, 32, 32)
    encoder.eval()
    per_frame = encoder(frames).reshape(2, 2, 512).mean(1)
    torch.testing.assert_close(encoder(clip), per_frame)


def test_official_init_is_kaiming_fan_out_for_convs():
    torch.manual_seed(0)
    conv = build_encoder("resnet18", INFO.spec("audio")).trunk[4][0].conv1  # 64->64, 3x3
    fan_out = conv.out_channels * 9
    assert conv.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.1)


def test_teacher_returns_features_and_logits():
    teacher = build_teacher(INFO, "text")
    out = teacher(_inputs())
    assert out.features.shape == (4, teacher.encoder.feature_dim) and out.logits.shape == (4, 3)


def test_bad_names_list_the_valid_choices():
    with pytest.raises(ValueError, match="valid encoders"):
        build_encoder("vgg", INFO.spec("audio"))
    with pytest.raises(ValueError, match="valid fusions"):
        build_student(INFO, fusion="attention")
    with pytest.raises(KeyError, match="unknown modality 'depth'"):
        build_teacher(INFO, "depth")
    with pytest.raises(ValueError, match="use encoder 'mlp'"):
        build_encoder("small_cnn", INFO.spec("text"))


def test_shared_fusion_weights_branches_by_certainty():
    fusion = build_fusion("shared", {"a": 2, "b": 2}, 2)
    feats = {"a": torch.randn(5, 2), "b": torch.randn(5, 2)}
    fused, branches = fusion(feats)
    torch.testing.assert_close(branches["a"], fusion.head(feats["a"]))  # one head for both
    assert torch.all(torch.minimum(branches["a"], branches["b"]) <= fused + 1e-6)
    assert torch.all(fused <= torch.maximum(branches["a"], branches["b"]) + 1e-6)


def test_boost_fusion_is_a_scaled_sum_of_one_shared_head():
    fusion = build_fusion("boost", {"a": 4, "b": 4}, 3)
    with torch.no_grad():
        fusion.boost_rate.fill_(0.5)
    feats = {"a": torch.randn(2, 4), "b": torch.randn(2, 4)}
    fused, branches = fusion(feats)
    torch.testing.assert_close(branches["b"], fusion.head(feats["b"]))
    torch.testing.assert_close(fused, 0.5 * (branches["a"] + branches["b"]))


def test_training_parts_ride_in_the_state_dict_and_are_skipped_on_inference_loads():
    student = build_student(INFO)
    student.training_parts["extra"] = torch.nn.Linear(3, 2)
    state = student.state_dict()
    assert "training_parts.extra.weight" in state
    fresh = build_student(INFO)
    fresh.load_state_dict(state)  # strict: the unknown part's entries are skipped
    assert not len(fresh.training_parts)
    torch.testing.assert_close(fresh(_inputs()).logits, student(_inputs()).logits)
