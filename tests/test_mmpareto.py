"""MMPareto: the min-norm weights, the combined gradient, and the gradients a step really uses."""

import pytest
import torch

from g2d_lite.batches import batch_order, iterate_batches
from g2d_lite.config import resolve
from g2d_lite.methods.base import task_loss
from g2d_lite.methods.mmpareto import min_norm_weight, pareto_gradient, pareto_weights
from g2d_lite.train import Trainer
from tests.helpers import tiny_data


def test_min_norm_weight_cases_of_the_official_solver():
    assert min_norm_weight(1.0, 2.0, 5.0) == 0.999  # <x1, x2> >= |x1|^2
    assert min_norm_weight(5.0, 2.0, 1.0) == 0.001  # <x1, x2> >= |x2|^2
    assert min_norm_weight(4.0, -1.0, 1.0) == pytest.approx(2 / 7)  # (1 + 1) / (4 + 1 + 2)


def test_agreeing_gradients_are_averaged_conflicting_ones_take_the_min_norm_point():
    agree = pareto_weights([torch.tensor([1.0, 0.0])], [torch.tensor([1.0, 1.0])])
    assert agree == (0.5, 0.5)
    c_mm, c_uni = pareto_weights([torch.tensor([2.0, 0.0])], [torch.tensor([-1.0, 1.0])])
    assert c_mm == pytest.approx(0.4) and c_uni == pytest.approx(0.6)  # (2 + 2) / (4 + 2 + 4)


def test_combined_gradient_keeps_the_pareto_direction_with_the_larger_magnitude():
    g_mm, g_uni = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    grad = pareto_gradient(g_mm, g_uni, (0.4, 0.6), gamma=1.5)
    # 2(0.4 g_mm + 0.6 g_uni) = [0.4, 1.2], rescaled to |g_mm + g_uni| = sqrt 2, times 1.5
    torch.testing.assert_close(grad, torch.tensor([0.670820, 2.012461]), atol=1e-6, rtol=0)
    same = pareto_gradient(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.0]), (0.5, 0.5), 1.5)
    torch.testing.assert_close(same, torch.tensor([3.0, 0.0]))  # |sum| = |combined|: no rescale
    zero = pareto_gradient(torch.zeros(2), torch.zeros(2), (0.5, 0.5), 1.5)
    assert torch.equal(zero, torch.zeros(2))


def test_a_step_applies_the_rule_to_each_encoder_and_leaves_the_heads_their_own_losses():
    cfg = resolve("smoke", method="mmpareto", epochs=1, batch_size=64, progress=False)
    data = tiny_data()
    trainer = Trainer(cfg, data, "student")
    model, rule = trainer.model, trainer.update_rule
    batch = next(iter(_batches(data)))
    out = model(batch.inputs)
    losses = {
        m: task_loss(rule.heads[m](f), batch.targets, "classification")
        for m, f in out.features.items()
    }
    multimodal = task_loss(out.logits, batch.targets, "classification")
    expected = {}
    for m, encoder in model.encoders.items():
        params = list(encoder.parameters())
        g_mm = torch.autograd.grad(multimodal, params, retain_graph=True)
        g_uni = torch.autograd.grad(losses[m], params, retain_graph=True)
        weights = pareto_weights(g_mm, g_uni)
        expected[m] = [
            pareto_gradient(a, b, weights, 1.5) for a, b in zip(g_mm, g_uni, strict=True)
        ]
    head_grad = torch.autograd.grad(losses["audio"], rule.heads["audio"].weight, retain_graph=True)[
        0
    ]
    fusion_grad = torch.autograd.grad(multimodal, model.fusion.heads["audio"].weight)[0]
    seen = {}

    def capture(optimizer, args, kwargs):
        seen.update({id(p): p.grad.clone() for p in model.parameters() if p.grad is not None})

    trainer.optimizer.register_step_pre_hook(capture)
    model.train()
    trainer.update_rule.step(trainer, 0, batch, batch.inputs)
    for m, encoder in model.encoders.items():
        for p, g in zip(encoder.parameters(), expected[m], strict=True):
            torch.testing.assert_close(seen[id(p)], g)
    torch.testing.assert_close(seen[id(rule.heads["audio"].weight)], head_grad)
    torch.testing.assert_close(seen[id(model.fusion.heads["audio"].weight)], fusion_grad)


def _batches(data):
    return iterate_batches(data.train, batch_order(len(data.train), 64, shuffle=False))
