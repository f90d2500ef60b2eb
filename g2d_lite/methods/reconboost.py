"""ReconBoost: alternating boosting with reconcilement (Hua et al., ICML 2024), as officially run.

Source: ``huacong/ReconBoost`` — ``train.py`` (stages, the boosting loss, the memory-consolidation
term, global rectification), ``models/dynamic_net.py`` (``DynamicNet``: the ensemble
``boost_rate · Σ_m f_m`` with one head shared in a common space) and ``schedule.py`` (fixed
order: stage s trains modality s mod k). Training runs in stages of ``boost_epochs`` +
``rectify_epochs`` epochs (README, CREMA-D: 4 + 4):

- Boosting (the first ``boost_epochs`` of a stage): only modality m = order[s mod k] learns, with
  the reconcilement-regularised boosting loss (the paper's KL-based reconcilement, which makes
  the update a gradient-boosting step against the other learners' ensemble F_{−m}):

      ℓ_i = mean_c[ −w1 · t_ic · log p_m,ic  +  w2 · t_ic · q_ic · log p_m,ic ]
          = (−w1 + w2 · q_i,y) · log p_m,i,y / C,     q = softmax(F_{−m}) (no gradient)

  so samples the ensemble already gets right weigh less. F_{−m} holds the learners trained in
  earlier stages; before any (stage 0 from scratch) the official ensemble is a constant whose
  softmax over its single column is 1, so q = 1. From stage 1 the memory-consolidation term
  α · MSE(softmax(l_m), softmax(l_prev)) of the previous stage's modality is added, detached
  on both sides as in the official code: it changes the reported loss, never a gradient.
- Global rectification (the last ``rectify_epochs``): every learner trained so far, the shared
  head and the boost rate learn together from CE(boost_rate · Σ_m f_m, y).

Each phase starts with fresh optimizer state (the official code builds a new SGD per phase);
the learning rate follows the kit's schedule (the official one decays ×0.1 every 30 stages).
``reconboost_init="teachers"`` starts each encoder from its unimodal teacher (the README's
``--use_pretrain``); every learner then counts as trained from stage 0. The official network
of the modality before the current one runs twice per batch (ensemble and consolidation);
the kit runs each network once. Classification only; fusions ``boost`` (the official
``common_space=True``) and ``sum`` (``common_space=False``); any k ≥ 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from g2d_lite.batches import Batch
from g2d_lite.evaluate import autocast
from g2d_lite.methods.base import StepResult, UpdateRule
from g2d_lite.models.classifiers import StudentOutput
from g2d_lite.models.fusion import BoostFusion

if TYPE_CHECKING:
    from g2d_lite.config import Config
    from g2d_lite.data.base import DatasetInfo
    from g2d_lite.models.classifiers import MultimodalClassifier
    from g2d_lite.train import Trainer

INITS: tuple[str, ...] = ("scratch", "teachers")


def boosting_loss(
    logits: Tensor, ensemble: Tensor | None, target: Tensor, w1: float, w2: float
) -> Tensor:
    """The official boosting loss, averaged over the batch (``ensemble`` None: q = 1)."""
    num_classes = logits.shape[1]
    log_p = F.log_softmax(logits, dim=1).gather(1, target.long().view(-1, 1)).squeeze(1)
    if ensemble is None:
        q = torch.ones_like(log_p)
    else:
        q = F.softmax(ensemble.detach(), dim=1).gather(1, target.long().view(-1, 1)).squeeze(1)
    return ((-w1 + w2 * q) * log_p / num_classes).mean()


def consolidation(logits: Tensor, previous: Tensor) -> Tensor:
    """MSE between the two modalities' predicted distributions, detached as officially."""
    return F.mse_loss(F.softmax(logits.detach(), dim=1), F.softmax(previous.detach(), dim=1))


class ReconBoost(UpdateRule):
    """Stage-wise alternating boosting and global rectification (module docstring)."""

    name = "reconboost"
    fusions = ("boost", "sum")

    def __init__(
        self,
        modalities: Sequence[str],
        boost_epochs: int = 4,
        rectify_epochs: int = 4,
        w1: float = 5.0,
        w2: float = 1.0,
        consolidation_weight: float = 0.5,
        init: str = "scratch",
    ) -> None:
        super().__init__()
        if init not in INITS:
            raise ValueError(f"unknown reconboost_init {init!r}; valid choices: {', '.join(INITS)}")
        if boost_epochs < 1 or rectify_epochs < 0:
            raise ValueError(
                "reconboost_boost_epochs must be >= 1 and reconboost_rectify_epochs >= 0, got "
                f"{boost_epochs} and {rectify_epochs}"
            )
        self.modalities = tuple(modalities)
        self.boost_epochs, self.rectify_epochs = boost_epochs, rectify_epochs
        self.w1, self.w2, self.consolidation_weight, self.init = w1, w2, consolidation_weight, init

    @classmethod
    def from_config(cls, cfg: Config, model: MultimodalClassifier, info: DatasetInfo) -> ReconBoost:
        return cls(
            model.modalities,
            cfg.reconboost_boost_epochs,
            cfg.reconboost_rectify_epochs,
            cfg.reconboost_w1,
            cfg.reconboost_w2,
            cfg.reconboost_consolidation,
            cfg.reconboost_init,
        )

    def schedule(self, epoch: int) -> tuple[int, str, bool]:
        """(stage, the stage's modality, whether the epoch boosts rather than rectifies)."""
        stage, within = divmod(epoch, self.boost_epochs + self.rectify_epochs)
        return stage, self.modalities[stage % len(self.modalities)], within < self.boost_epochs

    def trained(self, stage: int) -> list[str]:
        """Learners in the ensemble when ``stage`` begins (all of them when teacher-initialised)."""
        if self.init == "teachers":
            return list(self.modalities)
        return list(self.modalities[: min(stage, len(self.modalities))])

    def start_epoch(self, trainer: Trainer, epoch: int) -> None:
        if epoch == 0 and self.init == "teachers":
            for m, encoder in trainer.model.encoders.items():
                encoder.load_state_dict(trainer.teachers.teachers[m].encoder.state_dict())
        within = epoch % (self.boost_epochs + self.rectify_epochs)
        if within in (0, self.boost_epochs):  # a new phase: a fresh optimizer, as officially
            trainer.optimizer.state.clear()

    def update(
        self, trainer: Trainer, epoch: int, batch: Batch, inputs: Mapping[str, Tensor]
    ) -> StepResult:
        stage, current, boosting = self.schedule(epoch)
        members = [m for m in self.modalities if m in self.trained(stage) or m == current]
        if boosting:
            return self._boost(trainer, epoch, batch, inputs, stage, current, members)
        return self._rectify(trainer, epoch, batch, inputs, members)

    def _branch(self, fusion: nn.Module, m: str, feature: Tensor) -> Tensor:
        return (fusion.head if isinstance(fusion, BoostFusion) else fusion.heads[m])(feature)

    def _boost(
        self,
        trainer: Trainer,
        epoch: int,
        batch: Batch,
        inputs: Mapping[str, Tensor],
        stage: int,
        current: str,
        members: list[str],
    ) -> StepResult:
        model = trainer.model
        features, branches = {}, {}
        with autocast(trainer.device, trainer.amp):
            for m in members:
                with torch.set_grad_enabled(m == current):
                    features[m] = model.encoders[m](inputs[m])
                    branches[m] = self._branch(model.fusion, m, features[m]).float()
        others = {m: b for m, b in branches.items() if m != current}
        ensemble = model.fusion.combine(others).detach() if others else None
        target = batch.targets
        boost = boosting_loss(branches[current], ensemble, target, self.w1, self.w2)
        loss, parts = boost, {"boost": boost.detach()}
        if stage > 0:
            previous = self.modalities[(stage - 1) % len(self.modalities)]
            term = consolidation(branches[current], branches[previous])
            loss, parts["consolidation"] = loss + self.consolidation_weight * term, term
        trainer.check_finite(loss, parts, epoch)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norms = trainer.encoder_grad_norms()
        trainer.optimizer.step()
        kappa = {m: float(m == current) for m in self.modalities}
        return StepResult(self._outputs(model, features, branches), loss, parts, norms, kappa)

    def _rectify(
        self,
        trainer: Trainer,
        epoch: int,
        batch: Batch,
        inputs: Mapping[str, Tensor],
        members: list[str],
    ) -> StepResult:
        model = trainer.model
        with autocast(trainer.device, trainer.amp):
            features = {m: model.encoders[m](inputs[m]) for m in members}
            branches = {m: self._branch(model.fusion, m, f).float() for m, f in features.items()}
        loss = F.cross_entropy(model.fusion.combine(branches), batch.targets.long())
        parts = {"task": loss.detach()}
        trainer.check_finite(loss, parts, epoch)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norms = trainer.encoder_grad_norms()
        trainer.optimizer.step()
        kappa = {m: float(m in members) for m in self.modalities}
        return StepResult(self._outputs(model, features, branches), loss, parts, norms, kappa)

    @staticmethod
    def _outputs(model: nn.Module, features: dict, branches: dict) -> StudentOutput:
        detached = {m: b.detach() for m, b in branches.items()}
        fused = model.fusion.combine(detached).detach()
        return StudentOutput({m: f.detach() for m, f in features.items()}, detached, fused)
