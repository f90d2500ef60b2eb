"""MLA: the head-gradient modification, the alternation order and the dynamic fusion."""

import math

import pytest
import torch

from g2d_lite.config import resolve
from g2d_lite.methods.mla import modify_head_gradient, projection_strength
from g2d_lite.models.fusion import certainty_weights
from g2d_lite.train import Trainer
from tests.helpers import tiny_data


def test_projection_strength_decays_over_the_epoch():
    assert projection_strength(0, 10) == pytest.approx(0.1)
    assert projection_strength(5, 10) == pytest.approx(0.0316228, abs=1e-7)


def test_head_gradient_modification_is_the_official_element_wise_update():
    projector = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    features = torch.tensor([[1.0, 2.0]])  # r = [1, 2], k = P r^T = [1, 4]^T
    grad = torch.tensor([[1.0, 0.0]])
    new_projector, new_grad = modify_head_gradient(projector, grad, features, strength=0.1)
    # P - k k^T / (0.1 + k r) element-wise: [[1 - 1/1.1, -4/2.1], [-4/4.1, 2 - 16/8.1]],
    # then divided by its Frobenius norm 2.142150
    expected = torch.tensor([[0.042438, -0.889182], [-0.455435, 0.011526]])
    torch.testing.assert_close(new_projector, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(new_grad, torch.tensor([[0.042438, -0.455435]]), atol=1e-6, rtol=0)


def test_dynamic_fusion_weights_the_more_certain_modality():
    branches = {"audio": torch.tensor([[0.0, 0.0]]), "visual": torch.tensor([[10.0, 0.0]])}
    weights = certainty_weights(branches)
    # entropies ln 2 and 0.000499: w = exp(-H) / sum exp(-H)
    torch.testing.assert_close(weights, torch.tensor([[0.333444], [0.666556]]), atol=1e-6, rtol=0)
    assert math.isclose(weights.sum().item(), 1.0, rel_tol=1e-6)


def _trainer(**overrides) -> Trainer:
    cfg = resolve("smoke", method="mla", epochs=1, batch_size=64, progress=False, **overrides)
    return Trainer(cfg, tiny_data(), "student")


def test_each_batch_steps_once_per_modality_in_order_through_the_shared_head():
    trainer = _trainer()
    order, unmodified = [], []

    def record(optimizer, args, kwargs):
        encoders = trainer.model.encoders.items()
        order.append([m for m, e in encoders if any(p.grad is not None for p in e.parameters())])
        unmodified.append(torch.equal(trainer.update_rule.projector, torch.eye(64)))

    trainer.optimizer.register_step_pre_hook(record)
    before = {m: [p.clone() for p in e.parameters()] for m, e in trainer.model.encoders.items()}
    trainer.fit(resume=False)
    batches = trainer.global_step
    assert order == [["audio"], ["visual"]] * batches
    assert int(trainer.update_rule.head_updates) == 2 * batches
    # the official GSPlugin skips its very first update (exp_count == 0), then always projects
    assert unmodified == [True] + [False] * (2 * batches - 1)
    for m, encoder in trainer.model.encoders.items():
        assert any(
            not torch.equal(a, b) for a, b in zip(before[m], encoder.parameters(), strict=True)
        )


def test_switching_the_modification_off_leaves_the_projector_alone():
    trainer = _trainer(mla_gradient_modification=False)
    trainer.fit(resume=False)
    assert torch.equal(trainer.update_rule.projector, torch.eye(64))
