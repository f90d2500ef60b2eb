"""AGM's arithmetic on small fixed tensors, against the official formulas (methods/agm.py)."""

import math

import pytest
import torch
from torch import nn

from g2d_lite.methods.agm import (
    AGM,
    clip_if_fusion_gradient_is_large,
    coalitions,
    coefficients,
    modality_scores,
    scale_gradient,
    shapley_outputs,
)

A, V, T = "audio", "visual", "text"


def test_coalitions_are_the_nonempty_proper_subsets():
    assert coalitions([A, V]) == [frozenset({A}), frozenset({V})]
    assert len(coalitions([A, V, T])) == 6


def test_two_modality_outputs_are_the_official_m_a_and_m_v():
    f_av, f_a, f_v = (
        torch.tensor([[2.0, 0.0]]),
        torch.tensor([[1.0, 1.0]]),
        torch.tensor([[0.0, 3.0]]),
    )
    outputs = {frozenset({A, V}): f_av, frozenset({A}): f_a, frozenset({V}): f_v}
    u = shapley_outputs(outputs, [A, V])
    # official Modality_Audio: 0.5 * (total - pad_audio_out + pad_visual_out)
    torch.testing.assert_close(u[A], torch.tensor([[1.5, -1.0]]))
    torch.testing.assert_close(u[V], torch.tensor([[0.5, 1.0]]))
    torch.testing.assert_close(u[A] + u[V], f_av)


def test_three_modality_outputs_are_the_official_urfunny_formulas():
    values = {
        frozenset({A, V, T}): 7.0,
        frozenset({V, T}): 1.0,  # pad_audio_out
        frozenset({A, T}): 2.0,  # pad_visual_out
        frozenset({A, V}): 3.0,  # pad_text_out
        frozenset({T}): 0.5,  # pad_visual_audio_out
        frozenset({A}): 4.0,  # pad_visual_text_out
        frozenset({V}): -1.0,  # pad_audio_text_out
    }
    u = shapley_outputs({s: torch.tensor([v]) for s, v in values.items()}, [A, V, T])
    # (total - pad_a + pad_vt)/3 + (pad_v - pad_at + pad_t - pad_va)/6, official Modality_Audio
    audio = (7.0 - 1.0 + 4.0) / 3 + (2.0 - (-1.0) + 3.0 - 0.5) / 6
    text = (7.0 - 3.0 + 0.5) / 3 + (2.0 - (-1.0) + 1.0 - 4.0) / 6
    assert u[A].item() == pytest.approx(audio)
    assert u[T].item() == pytest.approx(text)
    assert (u[A] + u[V] + u[T]).item() == pytest.approx(7.0)


def test_scores_are_the_clipped_true_class_log_loss():
    logits = {A: torch.tensor([[math.log(3.0), 0.0]]), V: torch.tensor([[0.0, 100.0]])}
    scores = modality_scores(logits, torch.tensor([0]))
    assert scores[A] == pytest.approx(0.287682, abs=1e-6)  # -log 0.75
    assert scores[V] == pytest.approx(18.420681, abs=1e-5)  # p < 1e-8 -> -log 1e-8


def test_coefficients_follow_the_official_ratios():
    # ratio_a = exp(s_v - s_a) = e^0.5, optimal_a = exp(run_v - run_a) = e^-0.2
    c = coefficients({A: 0.5, V: 1.0}, {A: 0.8, V: 0.6}, alpha=1.0, cap=10.0)
    assert c[A] == pytest.approx(0.436053, abs=1e-6)  # exp(e^-0.2 - e^0.5)
    assert c[V] == pytest.approx(1.849420, abs=1e-6)  # exp(e^0.2 - e^-0.5)
    capped = coefficients({A: 0.5, V: 1.0}, {A: 0.8, V: 0.6}, alpha=2.0, cap=0.1)
    assert capped[V] == pytest.approx(math.exp(0.2))
    assert capped[A] == pytest.approx(math.exp(2 * -0.829991), abs=1e-6)


def test_running_scores_are_a_mean_over_all_iterations():
    agm = AGM([A, V])
    agm.observe({A: 1.0, V: 2.0}, iteration=1)
    agm.observe({A: 3.0, V: 0.0}, iteration=2)
    assert agm.running() == {A: 2.0, V: 1.0}


def test_gradient_scaling_reweights_each_modality_through_every_output():
    f = {s: torch.randn(3, 4, generator=torch.Generator().manual_seed(i)).requires_grad_()
         for i, s in enumerate([frozenset({A, V}), frozenset({A}), frozenset({V})])}  # fmt: skip
    u = shapley_outputs(f, [A, V])
    c_a, c_v = 0.4, 1.7
    fused = scale_gradient(u[A], c_a) + scale_gradient(u[V], c_v)
    torch.testing.assert_close(fused, f[frozenset({A, V})])  # the value is the full output
    target = torch.tensor([0, 1, 3])
    nn.functional.cross_entropy(fused, target).backward()
    z = f[frozenset({A, V})].detach().requires_grad_()
    nn.functional.cross_entropy(z, target).backward()
    g = z.grad
    torch.testing.assert_close(f[frozenset({A, V})].grad, 0.5 * (c_a + c_v) * g)
    torch.testing.assert_close(f[frozenset({A})].grad, 0.5 * (c_a - c_v) * g)
    torch.testing.assert_close(f[frozenset({V})].grad, 0.5 * (c_v - c_a) * g)


def test_clipping_triggers_on_a_large_fusion_weight_gradient():
    model = nn.Module()
    model.fusion, model.encoder = nn.Linear(2, 2), nn.Linear(2, 2)
    for p, value in zip(model.parameters(), [0.5, 0.5, 3.0, 0.0], strict=True):
        p.grad = torch.full_like(p, value)
    assert not clip_if_fusion_gradient_is_large(model)  # fusion grads within [-1, 1]
    model.fusion.weight.grad.fill_(1.5)
    assert clip_if_fusion_gradient_is_large(model)
    total = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert total.item() == pytest.approx(1.0, rel=1e-5)
