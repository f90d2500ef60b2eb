"""G²D loss terms pinned to hand-computed values (plain `math`, never the code under test)."""

import math

import pytest
import torch

from g2d_lite.losses import LOSS_VARIANTS, g2d_loss, loss_weights

LN2 = math.log(2.0)


def softmax(row: list[float], temperature: float = 1.0) -> list[float]:
    exps = [math.exp(v / temperature) for v in row]
    return [e / sum(exps) for e in exps]


def kl(teacher: list[list[float]], student: list[list[float]], temperature: float) -> float:
    """Hand batchmean KL(softmax(teacher/T) || softmax(student/T)) * T^2."""
    total = 0.0
    for t_row, s_row in zip(teacher, student, strict=True):
        p, q = softmax(t_row, temperature), softmax(s_row, temperature)
        total += sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q, strict=True))
    return total / len(teacher) * temperature**2


STUDENT = [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
TEACHER_A = [[0.0, 0.0, 0.0], [LN2, 0.0, 0.0]]
TEACHER_V = [[3.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
Y = [0, 1]


def classification_inputs(requires_grad: bool = False):
    fused = torch.tensor(STUDENT, requires_grad=requires_grad)
    s_feat = {
        "audio": torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=requires_grad),
        "visual": torch.tensor([[1.0, 1.0], [1.0, 1.0]], requires_grad=requires_grad),
    }
    t_logits = {"audio": torch.tensor(TEACHER_A), "visual": torch.tensor(TEACHER_V)}
    t_feat = {"audio": torch.zeros(2, 2), "visual": torch.tensor([[0.0, 1.0], [3.0, 1.0]])}
    return fused, s_feat, t_logits, t_feat, torch.tensor(Y)


def test_classification_parts_match_hand_values():
    parts = g2d_loss(*classification_inputs())[1]
    # CE: -log softmax(l_s)[y]: row 0 -> log(e + 2) - 1, row 1 -> log(e^2 + 2) - 2
    ce = ((math.log(math.e + 2) - 1) + (math.log(math.e**2 + 2) - 2)) / 2
    assert parts["task"].item() == pytest.approx(ce, rel=1e-6)
    # element mean: (1 + 4 + 9 + 16) / 4 (a per-sample sum would give 15)
    assert parts["feature/audio"].item() == pytest.approx(7.5)
    assert parts["feature/visual"].item() == pytest.approx((1 + 0 + 4 + 0) / 4)
    assert parts["logit/audio"].item() == pytest.approx(kl(TEACHER_A, STUDENT, 1.0), rel=1e-6)
    assert parts["logit/visual"].item() == pytest.approx(kl(TEACHER_V, STUDENT, 1.0), rel=1e-6)
    assert list(parts) == ["task", "feature/audio", "logit/audio", "feature/visual", "logit/visual"]


def test_kl_is_batchmean_times_t_squared_on_fused_logits():
    temperature = 2.0
    parts = g2d_loss(*classification_inputs(), temperature=temperature)[1]
    expected = kl(TEACHER_V, STUDENT, temperature)
    value = parts["logit/visual"].item()
    assert value == pytest.approx(expected, rel=1e-6)
    # T = 2 tells the faithful form apart from the usual slips
    assert value != pytest.approx(expected / temperature**2, rel=1e-3)  # T^2 forgotten
    assert value != pytest.approx(expected / 3, rel=1e-3)  # reduction="mean" (B*C, not B)
    # the temperature leaves CE and feature terms alone
    assert parts["feature/audio"].item() == pytest.approx(7.5)


def test_weights_combine_as_documented():
    total, parts = g2d_loss(
        *classification_inputs(), feature_weight=0.5, logit_weight=2.0, task_weight=3.0
    )
    expected = (
        3.0 * parts["task"]
        + 0.5 * (parts["feature/audio"] + parts["feature/visual"])
        + 2.0 * (parts["logit/audio"] + parts["logit/visual"])
    )
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)


def test_gradients_reach_the_student_only():
    fused, s_feat, t_logits, t_feat, y = classification_inputs(requires_grad=True)
    t_logits = {m: t.clone().requires_grad_() for m, t in t_logits.items()}
    t_feat = {m: t.clone().requires_grad_() for m, t in t_feat.items()}
    total, parts = g2d_loss(fused, s_feat, t_logits, t_feat, y)
    total.backward()
    assert fused.grad is not None and s_feat["audio"].grad is not None
    assert all(t.grad is None for t in [*t_logits.values(), *t_feat.values()])
    assert all(not p.requires_grad for p in parts.values())


@pytest.mark.parametrize("variant", ["ce", "feature", "logit", "g2d"])
def test_variants_compute_only_their_terms(variant):
    feature_weight, logit_weight = loss_weights(variant)
    fused, s_feat, t_logits, t_feat, y = classification_inputs()
    total, parts = g2d_loss(
        fused,
        s_feat if feature_weight else None,
        t_logits if logit_weight else None,
        t_feat if feature_weight else None,
        y,
        feature_weight=feature_weight,
        logit_weight=logit_weight,
    )
    assert any(k.startswith("feature/") for k in parts) == (variant in ("feature", "g2d"))
    assert any(k.startswith("logit/") for k in parts) == (variant in ("logit", "g2d"))
    assert total.item() == pytest.approx(sum(p.item() for p in parts.values()), rel=1e-6)


def test_variant_names_and_aliases():
    assert LOSS_VARIANTS == {
        "ce": (0.0, 0.0),
        "feature": (1.0, 0.0),
        "logit": (0.0, 1.0),
        "g2d": (1.0, 1.0),
    }
    assert loss_weights("joint") == (0.0, 0.0)
    assert loss_weights("umt") == (1.0, 0.0)
    with pytest.raises(ValueError, match="g2d.*umt"):
        loss_weights("distill")


def test_regression_parts():
    prediction = torch.tensor([[1.0], [3.0]])
    y = torch.tensor([0.0, 1.0])  # (B,) aligned to (B, 1)
    t_logits = {"audio": torch.tensor([[2.0], [2.0]])}
    feats = {"audio": torch.tensor([[1.0, 2.0], [3.0, 4.0]])}
    t_feats = {"audio": torch.zeros(2, 2)}
    for temperature in (1.0, 3.0):  # unused for regression
        total, parts = g2d_loss(
            prediction, feats, t_logits, t_feats, y, temperature=temperature, task="regression"
        )
        assert parts["task"].item() == pytest.approx((1 + 4) / 2)
        assert parts["logit/audio"].item() == pytest.approx((1 + 1) / 2)
        assert parts["feature/audio"].item() == pytest.approx(7.5)
        assert total.item() == pytest.approx(2.5 + 1.0 + 7.5)


def test_three_modalities():
    fused = torch.zeros(2, 3)
    names = ["audio", "visual", "text"]
    s_feat = {m: torch.ones(2, 4) for m in names}
    t_feat = {m: torch.zeros(2, 4) for m in names}
    t_logits = {m: torch.zeros(2, 3) for m in names}
    total, parts = g2d_loss(fused, s_feat, t_logits, t_feat, torch.tensor([0, 2]))
    assert total.item() == pytest.approx(math.log(3) + 3 * 1.0)  # uniform CE, KL 0, MSE 1


def test_mismatched_modalities_name_the_difference():
    fused, s_feat, t_logits, t_feat, y = classification_inputs()
    del t_feat["visual"]
    with pytest.raises(ValueError, match=r"only in student_features: \['visual'\]"):
        g2d_loss(fused, s_feat, t_logits, t_feat, y)
    fused, s_feat, t_logits, t_feat, y = classification_inputs()
    t_logits["text"] = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"only in teacher_logits: \['text'\]"):
        g2d_loss(fused, s_feat, t_logits, t_feat, y)


def test_target_dtype_errors_say_how_to_fix():
    fused, s_feat, t_logits, t_feat, y = classification_inputs()
    with pytest.raises(ValueError, match=r"integer dtype.*target\.long\(\)"):
        g2d_loss(fused, s_feat, t_logits, t_feat, y.float())
    with pytest.raises(ValueError, match=r"floating point.*target\.float\(\)"):
        g2d_loss(torch.zeros(2, 1), None, None, None, y, 0.0, 0.0, task="regression")
    # any integer dtype works for classification
    assert g2d_loss(fused, s_feat, t_logits, t_feat, y.int())[0].isfinite()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "ranking"}, "valid tasks"),
        ({"feature_weight": -1.0}, "feature_weight must be a finite number >= 0"),
        ({"task_weight": -0.1}, "task_weight must be a finite number >= 0"),
        ({"temperature": 0.0}, "temperature must be a finite number > 0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        g2d_loss(*classification_inputs(), **kwargs)


def test_missing_teacher_inputs_and_shape_errors():
    fused, s_feat, t_logits, t_feat, y = classification_inputs()
    with pytest.raises(ValueError, match="teacher_features is None.*feature_weight=0"):
        g2d_loss(fused, s_feat, t_logits, None, y)
    with pytest.raises(ValueError, match="teacher_logits is None.*logit_weight=0"):
        g2d_loss(fused, s_feat, None, t_feat, y)
    t_feat["audio"] = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="feature size"):
        g2d_loss(fused, s_feat, t_logits, t_feat, y)
    with pytest.raises(ValueError, match="does not match target shape"):
        g2d_loss(torch.zeros(2, 2), None, None, None, torch.zeros(2), 0.0, 0.0, task="regression")
