"""AGM: adaptive gradient modulation (Li et al., ICCV 2023), as the official code does it.

Source: ``Lingy12/AGM_ICCV2023`` — ``model/CREMAD_net.py`` (``GradMod``: the outputs with one
modality's input zeroed, the per-modality outputs ``m_a``/``m_v`` and the backward hooks that
scale their gradients), ``run/CREMAD_main.py`` (scores, ratios, coefficients, running means,
gradient clipping) and ``model/URFunny_net.py`` / ``run/URFunny_main.py`` (the same for three
modalities). Per batch:

1. Forward the full input (train mode) and, in eval mode with gradients, every input where a
   proper subset S of the modalities is kept and the rest are zeros: outputs f(S).
2. Modality m's output is its Shapley value plus f(∅)/k,
   u_m = Σ_{S ⊆ M∖{m}} |S|!(k−|S|−1)!/k! · (f(S ∪ {m}) − f(S)),  with f(∅) taken as 0
   (its coefficient cancels): for k = 2, u_a = (f(av) − f(v) + f(a)) / 2, the official
   ``Modality_Audio``; for k = 3 the official ``URFunny_net`` formulas. Σ_m u_m = f(M).
3. Scores s_m = mean_i −log max(softmax(u_m)[i, y_i], 1e-8); with running means s̄_m over all
   batches so far, r_m = exp(k/(k−1) · (mean_n s_n − s_m)), r̂_m the same from s̄, and the
   coefficient c_m = exp(α · min(r̂_m − r_m, cap)) (k/(k−1) = 2 for two modalities: the official
   ``exp(score_v − score_a)``). The running means then take this batch in (iteration =
   global step + 1, the official ``(epoch−1)·total_batch + step + 1``).
4. The loss is CE(Σ_m u_m, y), with the gradient reaching u_m scaled by c_m inside the window
   (the official backward hook on ``m_a_o``/``m_v_o``), so c_m reweights each modality's
   contribution through every f(S) it appears in.
5. If a fusion weight's gradient leaves [−1, 1], all gradients are clipped to total norm 1.

Defaults: α = 1 (the official ``--alpha`` default), cap 10 (``run/CREMAD_main.py``; the
three-modality script uses 7). The official window defaults (``modulation_ends`` 20 ≥ ``EPOCHS``
10) cover the whole run, so AGM's window ends at the last epoch unless ``balance_end_epoch`` is
set. Outside the window the kit uses c = 1; the official hook keeps the last coefficient set.
Costs 2^k − 1 forward passes per batch (3 for two modalities; the official code also runs the
all-zero input, whose output cancels). Classification only; any fusion, any k ≥ 2.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from g2d_lite.batches import Batch
from g2d_lite.evaluate import autocast
from g2d_lite.methods.base import StepResult, UpdateRule, in_window

if TYPE_CHECKING:
    from g2d_lite.config import Config
    from g2d_lite.data.base import DatasetInfo
    from g2d_lite.models.classifiers import MultimodalClassifier
    from g2d_lite.train import Trainer

_MIN_PROBABILITY = 1e-8  # the official score floor
_CLIP_TRIGGER = 1.0  # a fusion weight gradient beyond ±1 triggers clipping
_CLIP_NORM = 1.0


def coalitions(modalities: Sequence[str]) -> list[frozenset[str]]:
    """Every non-empty proper subset of ``modalities``: the inputs AGM keeps, zeroing the rest."""
    k = len(modalities)
    return [frozenset(c) for size in range(1, k) for c in itertools.combinations(modalities, size)]


def shapley_outputs(
    outputs: Mapping[frozenset[str], Tensor], modalities: Sequence[str]
) -> dict[str, Tensor]:
    """u_m = Σ_{S ⊆ M∖{m}} |S|!(k−|S|−1)!/k! (f(S ∪ {m}) − f(S)), f(∅) = 0.

    ``outputs`` maps every non-empty subset of ``modalities`` (the full set included) to its
    logits f(S).
    """
    k = len(modalities)
    unimodal = {}
    for m in modalities:
        others = [n for n in modalities if n != m]
        total = None
        for size in range(k):
            weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            for rest in itertools.combinations(others, size):
                with_m = outputs[frozenset((*rest, m))]
                term = with_m - outputs[frozenset(rest)] if rest else with_m
                total = weight * term if total is None else total + weight * term
        unimodal[m] = total
    return unimodal


def modality_scores(unimodal: Mapping[str, Tensor], target: Tensor) -> dict[str, float]:
    """s_m = mean_i −log max(softmax(u_m)[i, y_i], 1e-8): lower means the modality fits better."""
    index = target.long().view(-1, 1)
    scores = {}
    for m, logits in unimodal.items():
        p = F.softmax(logits.detach().float(), dim=1).gather(1, index)
        scores[m] = float(-torch.log(p.clamp_min(_MIN_PROBABILITY)).mean())
    return scores


def coefficients(
    scores: Mapping[str, float], running: Mapping[str, float], alpha: float, cap: float
) -> dict[str, float]:
    """c_m = exp(α · min(r̂_m − r_m, cap)), r_m = exp(k/(k−1) · (mean(s) − s_m)), r̂ from the
    running means."""
    k = len(scores)
    scale = k / (k - 1)
    mean, mean_running = sum(scores.values()) / k, sum(running.values()) / k
    result = {}
    for m in scores:
        ratio = math.exp(scale * (mean - scores[m]))
        optimal = math.exp(scale * (mean_running - running[m]))
        result[m] = math.exp(alpha * min(optimal - ratio, cap))
    return result


def scale_gradient(x: Tensor, scale: float) -> Tensor:
    """``x`` in the forward pass; its gradient multiplied by ``scale`` in the backward pass."""
    detached = x.detach()
    return detached + scale * (x - detached)


def clip_if_fusion_gradient_is_large(model: nn.Module) -> bool:
    """The official rule: when any fusion weight gradient lies outside [−1, 1], clip every
    gradient of the model to total norm 1. Returns whether it clipped."""
    grads = [p.grad for p in model.fusion.parameters() if p.grad is not None and p.ndim >= 2]
    if any(g.abs().max() > _CLIP_TRIGGER for g in grads):
        nn.utils.clip_grad_norm_(model.parameters(), _CLIP_NORM)
        return True
    return False


class AGM(UpdateRule):
    """Adaptive gradient modulation from Shapley-style per-modality outputs (module docstring)."""

    name = "agm"

    def __init__(
        self,
        modalities: Sequence[str],
        alpha: float = 1.0,
        ratio_cap: float = 10.0,
        window: tuple[int, int] = (0, 2**31),
    ) -> None:
        super().__init__()
        if alpha < 0 or ratio_cap <= 0:
            raise ValueError(
                f"agm_alpha must be >= 0 and agm_ratio_cap > 0, got {alpha} and {ratio_cap}"
            )
        self.modalities = tuple(modalities)
        self.alpha, self.ratio_cap, self.window = alpha, ratio_cap, window
        self.register_buffer("running_scores", torch.zeros(len(modalities), dtype=torch.float64))

    @classmethod
    def from_config(cls, cfg: Config, model: MultimodalClassifier, info: DatasetInfo) -> AGM:
        end = cfg.epochs - 1 if cfg.balance_end_epoch is None else cfg.balance_end_epoch
        window = (cfg.balance_start_epoch, end)
        return cls(model.modalities, cfg.agm_alpha, cfg.agm_ratio_cap, window)

    def running(self) -> dict[str, float]:
        return dict(zip(self.modalities, self.running_scores.tolist(), strict=True))

    def observe(self, scores: Mapping[str, float], iteration: int) -> None:
        """Fold this batch's scores into the running means (``iteration`` counts from 1)."""
        new = torch.tensor([scores[m] for m in self.modalities], dtype=torch.float64)
        old = self.running_scores.cpu()
        self.running_scores.copy_(old * (iteration - 1) / iteration + new / iteration)

    def update(
        self, trainer: Trainer, epoch: int, batch: Batch, inputs: Mapping[str, Tensor]
    ) -> StepResult:
        model = trainer.model
        with autocast(trainer.device, trainer.amp):
            out = trainer.forward_model(inputs)
        outputs = {frozenset(self.modalities): out.logits.float()}
        model.eval()  # the official pads run in eval mode (BatchNorm statistics frozen)
        try:
            for kept in coalitions(self.modalities):
                masked = {m: x if m in kept else torch.zeros_like(x) for m, x in inputs.items()}
                with autocast(trainer.device, trainer.amp):
                    outputs[kept] = trainer.forward_model(masked).logits.float()
        finally:
            model.train()
        unimodal = shapley_outputs(outputs, self.modalities)
        scores = modality_scores(unimodal, batch.targets)
        coeffs = coefficients(scores, self.running(), self.alpha, self.ratio_cap)
        self.observe(scores, trainer.global_step + 1)
        active = in_window(epoch, *self.window)
        kappa = coeffs if active else dict.fromkeys(self.modalities, 1.0)
        fused = sum(scale_gradient(unimodal[m], kappa[m]) for m in self.modalities)
        loss = F.cross_entropy(fused, batch.targets.long())
        parts = {"task": loss.detach()}
        trainer.check_finite(loss, parts, epoch)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norms = trainer.encoder_grad_norms()
        clipped = clip_if_fusion_gradient_is_large(model)
        trainer.optimizer.step()
        record = {f"agm/score/{m}": s for m, s in scores.items()}
        record |= {f"agm/coef/{m}": c for m, c in coeffs.items()}
        record["agm/clipped"] = float(clipped)
        return StepResult(out, loss, parts, norms, kappa, record)
