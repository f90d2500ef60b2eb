"""PMR: prototypical modal rebalance (Fan et al., CVPR 2023), as the released code does it.

Source: ``fanyunfeng-bit/Modal-Imbalance-PMR`` — ``main_Prototype_grad.py`` (``train_epoch``,
``calculate_prototype``, ``EU_dist``) and ``bash.sh`` (the runs' settings). Each modality's
class prototypes are the mean encoder features of each class, recomputed before every epoch
in eval mode from a random tenth of the training batches (at least one batch), optionally
smoothed with momentum μ from the third prototype computation on (the official skips it while
the finished epoch index is ≤ 0). Per batch, with −‖f_m − P_m,c‖ as modality m's logits over
classes c:

    s_m = Σ_i softmax(−dist(f_m, P_m))[i, y_i]     (the prototype classifier's score)
    L = CE(l_s, y) + Σ_m β_m · CE(−dist(f_m, P_m), y),   β = α for the modality with the
                                                          lowest s, 0 for the others

inside the window (outside it, L = CE): the prototype cross-entropy accelerates the slowest
modality alone. The official rule is for two modalities (ratio s_a / s_v: > 1 → visual gets
α, < 1 → audio, = 1 → neither); the kit's "lowest score, none on a tie" is that rule for k = 2
and extends it to any k. The paper's prototype entropy regularisation of the dominant modality
is not in the released code and not here. A class with no sample in the prototype batches
keeps its previous prototype (the official division by zero would give NaN).

Defaults: α = 2, μ = 0 (the released CREMA-D runs with concat fusion, window 0–70 of 130
epochs; the kit's window is its balance window, by default the first half). Classification
only; any fusion, any k ≥ 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from g2d_lite.batches import Batch, batch_order, iterate_batches
from g2d_lite.evaluate import autocast
from g2d_lite.methods.base import StepResult, UpdateRule, in_window
from g2d_lite.seeding import epoch_generator

if TYPE_CHECKING:
    from g2d_lite.config import Config
    from g2d_lite.data.base import DatasetInfo
    from g2d_lite.models.classifiers import MultimodalClassifier
    from g2d_lite.train import Trainer

_PROTOTYPE_STREAM = 2  # its own random stream: the batches differ from the epoch's training order
_FRACTION = 10  # prototypes from 1/10 of the training batches, as the official loop breaks


def prototype_logits(features: Tensor, prototypes: Tensor) -> Tensor:
    """−Euclidean distance of each sample to each class prototype, (B, C) (official ``EU_dist``)."""
    return -torch.cdist(features, prototypes, compute_mode="donot_use_mm_for_euclid_dist")


def prototype_scores(logits: Mapping[str, Tensor], target: Tensor) -> dict[str, float]:
    """s_m = Σ_i softmax(prototype logits)[i, y_i]."""
    index = target.long().view(-1, 1)
    return {m: float(F.softmax(lg.detach(), 1).gather(1, index).sum()) for m, lg in logits.items()}


def acceleration(scores: Mapping[str, float], alpha: float) -> dict[str, float]:
    """β_m: α for the single lowest-scoring modality, 0 for the others (and for all on a tie)."""
    lowest = min(scores.values())
    slowest = [m for m, s in scores.items() if s == lowest]
    return {m: alpha if slowest == [m] else 0.0 for m in scores}


def class_means(features: Tensor, target: Tensor, previous: Tensor) -> Tensor:
    """Per-class mean features; classes absent from ``target`` keep their ``previous`` row."""
    num_classes = previous.shape[0]
    sums = torch.zeros_like(previous).index_add_(0, target.long(), features.to(previous.dtype))
    counts = torch.bincount(target.long(), minlength=num_classes).to(previous.dtype)
    means = sums / counts.clamp_min(1).unsqueeze(1)
    return torch.where(counts.unsqueeze(1) > 0, means, previous)


class PMR(UpdateRule):
    """Prototype cross-entropy on the slowest modality (module docstring)."""

    name = "pmr"

    def __init__(
        self,
        feature_dims: Mapping[str, int],
        num_classes: int,
        alpha: float = 2.0,
        momentum: float = 0.0,
        window: tuple[int, int] = (0, 2**31),
        seed: int = 0,
    ) -> None:
        super().__init__()
        if alpha < 0 or not 0 <= momentum < 1:
            raise ValueError(
                f"pmr_alpha must be >= 0 and pmr_momentum in [0, 1), got {alpha}, {momentum}"
            )
        self.modalities = tuple(feature_dims)
        self.alpha, self.momentum, self.window, self.seed = alpha, momentum, window, seed
        for m, d in feature_dims.items():
            self.register_buffer(f"prototypes_{m}", torch.zeros(num_classes, d))

    @classmethod
    def from_config(cls, cfg: Config, model: MultimodalClassifier, info: DatasetInfo) -> PMR:
        dims = {m: encoder.feature_dim for m, encoder in model.encoders.items()}
        window = (cfg.balance_start_epoch, cfg.window_end)
        return cls(dims, info.num_outputs, cfg.pmr_alpha, cfg.pmr_momentum, window, cfg.seed)

    def prototypes(self, m: str) -> Tensor:
        return getattr(self, f"prototypes_{m}")

    @torch.no_grad()
    def start_epoch(self, trainer: Trainer, epoch: int) -> None:
        """Recompute the prototypes from a random tenth of the training batches."""
        cfg, data = trainer.cfg, trainer.data.train
        batches = batch_order(len(data), cfg.batch_size, False, drop_last=cfg.drop_last)
        count = max(1, len(batches) // _FRACTION) * cfg.batch_size
        generator = epoch_generator(self.seed, epoch, _PROTOTYPE_STREAM)
        order = torch.randperm(len(data), generator=generator)[:count]
        features: dict[str, list[Tensor]] = {m: [] for m in self.modalities}
        targets = []
        trainer.model.eval()
        try:
            for batch in iterate_batches(data, order.split(cfg.batch_size)):
                batch = batch.to(trainer.device)
                with autocast(trainer.device, trainer.amp):
                    out = trainer.model(batch.inputs)
                for m in self.modalities:
                    features[m].append(out.features[m].float())
                targets.append(batch.targets)
        finally:
            trainer.model.train()
        target = torch.cat(targets)
        for m in self.modalities:
            old = self.prototypes(m)
            new = class_means(torch.cat(features[m]), target, old)
            if epoch >= 2 and self.momentum > 0:
                new = (1 - self.momentum) * new + self.momentum * old
            old.copy_(new)

    def update(
        self, trainer: Trainer, epoch: int, batch: Batch, inputs: Mapping[str, Tensor]
    ) -> StepResult:
        with autocast(trainer.device, trainer.amp):
            out = trainer.forward_model(inputs)
        target = batch.targets.long()
        logits = {
            m: prototype_logits(out.features[m].float(), self.prototypes(m))
            for m in self.modalities
        }
        scores = prototype_scores(logits, target)
        task = F.cross_entropy(out.logits.float(), target)
        proto = {m: F.cross_entropy(lg, target) for m, lg in logits.items()}
        active = in_window(epoch, *self.window)
        beta = acceleration(scores, self.alpha) if active else dict.fromkeys(self.modalities, 0.0)
        loss = task + sum(beta[m] * proto[m] for m in self.modalities)
        parts = {"task": task.detach()} | {f"prototype/{m}": v.detach() for m, v in proto.items()}
        trainer.check_finite(loss, parts, epoch)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norms = trainer.encoder_grad_norms()
        trainer.optimizer.step()
        record = {f"pmr/score/{m}": s for m, s in scores.items()}
        record |= {f"pmr/beta/{m}": b for m, b in beta.items()}
        return StepResult(out, loss, parts, norms, record=record)
