"""MMPareto: Pareto integration of multimodal and unimodal gradients (Wei & Hu, ICML 2024).

Source: ``GeWu-Lab/MMPareto_ICML2024`` — ``code/MMPareto.py`` (``train_epoch``),
``code/min_norm_solvers.py`` (``MinNormSolver._min_norm_element_from2``) and
``code/models/models.py`` (the fused head plus one extra linear head per modality). Per batch,
with the multimodal loss L_mm (on the fused logits) and each modality's unimodal loss L_m (on
its own extra head):

1. For modality m's encoder, g_mm = ∂L_mm/∂θ_m and g_m = ∂L_m/∂θ_m (one backward pass per loss).
2. If cos(g_mm, g_m) > 0 (all of the encoder's parameters flattened), the weights are
   (½, ½); otherwise the min-norm point of their convex hull, c g_mm + (1−c) g_m, with
   c = (g_m·g_m − g_mm·g_m) / ‖g_mm − g_m‖² (0.999 when g_mm·g_m ≥ ‖g_mm‖², 0.001 when
   g_mm·g_m ≥ ‖g_m‖²).
3. Each encoder parameter's gradient becomes γ · (2c g_mm + 2(1−c) g_m), rescaled to the norm
   of the summed gradient g_mm + g_m when that is larger: the Pareto direction, with at least
   the magnitude of the plain sum (per parameter tensor, as the official loop).
4. The fusion module keeps ∂L_mm, each extra head ∂L_m; one optimizer step.

γ = 1.5 (official ``gamma``). The extra heads are training parts (in checkpoints, unused at test
time; the kit's branch accuracies come from the fusion, as for every method). The official
model concatenates features (``fusion=concat`` reproduces it); any fusion works. Classification
and regression (MSE losses); any k ≥ 2 (each encoder balances its two losses); k + 1 backward
passes per batch (the official code runs one more, for the summed loss).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from g2d_lite.batches import Batch
from g2d_lite.evaluate import autocast
from g2d_lite.methods.base import StepResult, UpdateRule, task_loss
from g2d_lite.models.encoders import init_official

if TYPE_CHECKING:
    from g2d_lite.config import Config
    from g2d_lite.data.base import DatasetInfo
    from g2d_lite.models.classifiers import MultimodalClassifier
    from g2d_lite.train import Trainer


def min_norm_weight(v11: float, v12: float, v22: float) -> float:
    """c minimising ‖c x1 + (1−c) x2‖² from the inner products (the official 2-vector solver)."""
    if v12 >= v11:
        return 0.999
    if v12 >= v22:
        return 0.001
    return -(v12 - v22) / (v11 + v22 - 2 * v12)


def pareto_weights(multimodal: Sequence[Tensor], unimodal: Sequence[Tensor]) -> tuple[float, float]:
    """(weight of g_mm, weight of g_m) for one encoder: ½ each when the gradients agree."""
    a = torch.cat([g.flatten() for g in multimodal])
    b = torch.cat([g.flatten() for g in unimodal])
    if F.cosine_similarity(a, b, dim=0) > 0:
        return 0.5, 0.5
    c = min_norm_weight(float(a @ a), float(a @ b), float(b @ b))
    return c, 1.0 - c


def pareto_gradient(
    multimodal: Tensor, unimodal: Tensor, weights: tuple[float, float], gamma: float
) -> Tensor:
    """γ · (2 w_mm g_mm + 2 w_m g_m), scaled up to ‖g_mm + g_m‖ when that is the larger norm."""
    combined = 2 * weights[0] * multimodal + 2 * weights[1] * unimodal
    norm = torch.linalg.norm(combined)
    if norm == 0:  # nothing to rescale (the official division would give NaN)
        return combined
    ratio = torch.linalg.norm(multimodal + unimodal) / norm
    return combined * gamma * (ratio if ratio > 1 else 1.0)


class MMPareto(UpdateRule):
    """Per-encoder Pareto combination of the multimodal and unimodal gradients."""

    name = "mmpareto"
    tasks = ("classification", "regression")

    def __init__(self, feature_dims: Mapping[str, int], num_outputs: int, gamma: float = 1.5):
        super().__init__()
        if gamma <= 0:
            raise ValueError(f"mmpareto_gamma must be > 0, got {gamma}")
        self.gamma = gamma
        self.heads = nn.ModuleDict({m: nn.Linear(d, num_outputs) for m, d in feature_dims.items()})
        init_official(self.heads)

    @classmethod
    def from_config(cls, cfg: Config, model: MultimodalClassifier, info: DatasetInfo) -> MMPareto:
        dims = {m: encoder.feature_dim for m, encoder in model.encoders.items()}
        return cls(dims, info.num_outputs, cfg.mmpareto_gamma)

    def update(
        self, trainer: Trainer, epoch: int, batch: Batch, inputs: Mapping[str, Tensor]
    ) -> StepResult:
        model, task, target = trainer.model, trainer.task, batch.targets
        with autocast(trainer.device, trainer.amp):
            out = trainer.forward_model(inputs)
            unimodal = {m: self.heads[m](f) for m, f in out.features.items()}
        multimodal = task_loss(out.logits.float(), target, task)
        losses = {m: task_loss(u.float(), target, task) for m, u in unimodal.items()}
        total = multimodal + sum(losses.values())
        parts = {"task": multimodal.detach()} | {f"task/{m}": v.detach() for m, v in losses.items()}
        trainer.check_finite(total, parts, epoch)
        encoders = {
            m: [p for p in e.parameters() if p.requires_grad] for m, e in model.encoders.items()
        }
        fusion = [p for p in model.fusion.parameters() if p.requires_grad]
        shared = [p for params in encoders.values() for p in params] + fusion
        g_mm = dict(zip(shared, _grads(multimodal, shared, retain=True), strict=True))
        new: dict[nn.Parameter, Tensor] = {p: g_mm[p] for p in fusion}
        record = {}
        last = list(encoders)[-1]
        for m, params in encoders.items():
            own = params + list(self.heads[m].parameters())
            g_m = dict(zip(own, _grads(losses[m], own, retain=m != last), strict=True))
            weights = pareto_weights([g_mm[p] for p in params], [g_m[p] for p in params])
            for p in params:
                new[p] = pareto_gradient(g_mm[p], g_m[p], weights, self.gamma)
            new |= {p: g_m[p] for p in self.heads[m].parameters()}
            record[f"mmpareto/weight/{m}"] = weights[0]
        trainer.optimizer.zero_grad(set_to_none=True)
        for p, g in new.items():
            p.grad = g
        norms = trainer.encoder_grad_norms()
        trainer.optimizer.step()
        return StepResult(out, total, parts, norms, record=record)


def _grads(loss: Tensor, params: list[nn.Parameter], retain: bool) -> list[Tensor]:
    """∂loss/∂p for each parameter, zeros where the loss does not reach it."""
    grads = torch.autograd.grad(loss, params, retain_graph=retain, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]
