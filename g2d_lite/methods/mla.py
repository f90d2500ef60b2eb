"""MLA: multimodal learning with alternating unimodal adaptation (Zhang et al., CVPR 2024).

Source: ``Cecile-hi/Multimodal-Learning-with-Alternating-Unimodal-Adaptation`` — ``main.py``
(``train_epoch`` with ``--gs_flag``; ``valid`` with ``--dynamic``; ``calculate_gating_weights``)
and ``utils/utils.py`` (``GSPlugin.before_update``). Per batch, for each modality m in turn:
encode m alone, classify it with the head shared by all modalities, take CE, backward, modify
the head's weight gradient, and step the optimizer. So a batch makes k optimizer steps, and no
gradient ever mixes two modalities; the head is what they share.

Gradient modification (``GSPlugin``): one projector P (d × d, initially I) for the whole run.
Before every head update but the first of the run, with r the mean of the batch's features of
the modality being trained (1 × d), k = P rᵀ and a = 0.1^(1 + b/B) (b the batch's index in the
epoch, B the number of batches):

    P ← P − (k kᵀ) ⊘ (a + k r);   P ← P / ‖P‖_F;   ∇W ← ∇W Pᵀ

with ⊘ element-wise and k r the d × d outer product, exactly as the code writes it (an
orthogonal-weight-modification step would divide by the scalar a + r k). The released code
compares the head's parameter names with ``"module.weight"`` while ``named_parameters()`` of a
``Linear`` yields ``"weight"``, so there the modification never runs;
``mla_gradient_modification=False`` reproduces that, the default applies it as written.

Test-time fusion is the ``shared`` fusion's certainty weighting (models/fusion.py), per sample;
the released code weights whole test batches. The reported loss is the mean of the k unimodal
losses (the official ``loss_a · 0.5 + loss_v · 0.5`` for two). Optimizer steps leave parameters
without gradients untouched (``zero_grad(set_to_none=True)``, PyTorch's default since 2.0).
Classification only; fusion ``shared`` only (MLA's head); any k ≥ 2, equal feature widths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from g2d_lite.batches import Batch, batch_order
from g2d_lite.evaluate import autocast
from g2d_lite.methods.base import StepResult, UpdateRule
from g2d_lite.models.classifiers import StudentOutput

if TYPE_CHECKING:
    from g2d_lite.config import Config
    from g2d_lite.data.base import DatasetInfo
    from g2d_lite.models.classifiers import MultimodalClassifier
    from g2d_lite.train import Trainer


def projection_strength(batch_index: int, batches: int) -> float:
    """a = 0.1^(1 + b/B), from 0.1 at an epoch's first batch towards 0.01 at its last."""
    return 0.1 ** (batch_index / batches + 1)


def modify_head_gradient(
    projector: Tensor, grad: Tensor, features: Tensor, strength: float
) -> tuple[Tensor, Tensor]:
    """One ``GSPlugin.before_update``: the updated projector and the head's new weight gradient."""
    r = features.detach().float().mean(dim=0, keepdim=True)  # (1, d)
    k = projector @ r.t()  # (d, 1)
    projector = projector - (k @ k.t()) / (strength + k @ r)
    projector = projector / torch.linalg.norm(projector)
    return projector, grad @ projector.t()


class MLA(UpdateRule):
    """Alternating unimodal steps through a shared head (module docstring)."""

    name = "mla"
    fusions = ("shared",)

    def __init__(self, modalities: tuple[str, ...], width: int, modify: bool = True) -> None:
        super().__init__()
        self.modalities, self.modify = modalities, modify
        self.register_buffer("projector", torch.eye(width))
        self.register_buffer("head_updates", torch.zeros((), dtype=torch.long))
        self._batch, self._batches = 0, 1

    @classmethod
    def from_config(cls, cfg: Config, model: MultimodalClassifier, info: DatasetInfo) -> MLA:
        width = model.fusion.head.in_features
        return cls(model.modalities, width, cfg.mla_gradient_modification)

    def start_epoch(self, trainer: Trainer, epoch: int) -> None:
        cfg = trainer.cfg
        order = batch_order(len(trainer.data.train), cfg.batch_size, False, drop_last=cfg.drop_last)
        self._batch, self._batches = 0, len(order)

    def update(
        self, trainer: Trainer, epoch: int, batch: Batch, inputs: Mapping[str, Tensor]
    ) -> StepResult:
        model, optimizer = trainer.model, trainer.optimizer
        head = model.fusion.head
        strength = projection_strength(self._batch, self._batches)
        features, branches, losses, norms = {}, {}, {}, {}
        for m in self.modalities:
            with autocast(trainer.device, trainer.amp):
                feature = model.encoders[m](inputs[m])
                logits = head(feature)
            loss = F.cross_entropy(logits.float(), batch.targets.long())
            trainer.check_finite(loss, {f"task/{m}": loss.detach()}, epoch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norms[m] = trainer.encoder_grad_norms()[m]
            if self.modify and int(self.head_updates) > 0:
                projector, grad = modify_head_gradient(
                    self.projector, head.weight.grad, feature, strength
                )
                self.projector.copy_(projector)
                head.weight.grad.copy_(grad)
            optimizer.step()
            self.head_updates += 1
            features[m], branches[m], losses[m] = feature.detach(), logits.detach(), loss.detach()
        self._batch += 1
        out = StudentOutput(features, branches, model.fusion.fuse(branches))
        total = torch.stack(list(losses.values())).mean()
        parts = {f"task/{m}": value for m, value in losses.items()}
        return StepResult(out, total, parts, norms)
