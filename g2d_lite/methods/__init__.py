"""The paper's comparison methods as update rules: the trainer's hook (``UpdateRule``).

``balance`` names the method: ``agm``, ``mla``, ``reconboost``, ``mmpareto``, ``pmr`` (one module
each, with the official code it follows). :func:`build_update_rule` checks that a config suits
the method before any training, with errors that name the valid choices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from g2d_lite.methods.agm import AGM
from g2d_lite.methods.base import StepResult, UpdateRule
from g2d_lite.methods.mla import MLA
from g2d_lite.methods.mmpareto import MMPareto
from g2d_lite.methods.pmr import PMR
from g2d_lite.methods.reconboost import ReconBoost

if TYPE_CHECKING:
    from g2d_lite.config import Config
    from g2d_lite.data.base import DatasetInfo
    from g2d_lite.models.classifiers import MultimodalClassifier

_RULES: dict[str, type[UpdateRule]] = {
    rule.name: rule for rule in (AGM, MLA, ReconBoost, MMPareto, PMR)
}
UPDATE_RULES: tuple[str, ...] = tuple(_RULES)


def build_update_rule(
    cfg: Config, model: MultimodalClassifier, info: DatasetInfo, distributed: bool = False
) -> UpdateRule:
    """The update rule ``cfg.balance`` names, for ``model`` on the dataset ``info`` describes.

    Raises a one-line ValueError when the method cannot run as configured: distillation
    weights (these methods have their own objectives), a task, fusion or modality count it does
    not support, or a torchrun launch (the rules step the optimizer themselves, outside DDP).
    """
    if cfg.balance not in _RULES:
        raise ValueError(f"unknown update rule {cfg.balance!r}; valid: {', '.join(_RULES)}")
    rule = _RULES[cfg.balance]
    label = cfg.balance
    if any(w > 0 for w in cfg.distillation_weights):
        raise ValueError(
            f"{label} trains with its own objective and no distillation; use loss 'ce' (or"
            f" 'joint'), not {cfg.loss!r} with feature/logit weights {cfg.distillation_weights}"
        )
    if info.task not in rule.tasks:
        raise ValueError(
            f"{label} is defined for {' and '.join(rule.tasks)} only, not {info.task};"
            " valid methods for regression: mmpareto, or the G²D family"
        )
    if rule.fusions is not None and cfg.fusion not in rule.fusions:
        raise ValueError(
            f"{label} cannot use fusion {cfg.fusion!r}; valid fusions for it: "
            + ", ".join(rule.fusions)
        )
    if len(model.modalities) < 2:
        raise ValueError(
            f"{label} balances modalities and needs at least two, got {model.modalities}"
        )
    if distributed:
        raise ValueError(
            f"{label} steps the optimizer outside DistributedDataParallel; run it in one process"
            " (without torchrun)"
        )
    return rule.from_config(cfg, model, info)


__all__ = [
    "AGM",
    "MLA",
    "MMPareto",
    "PMR",
    "UPDATE_RULES",
    "ReconBoost",
    "StepResult",
    "UpdateRule",
    "build_update_rule",
]
