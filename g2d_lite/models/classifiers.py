"""Models addressed by modality name: a unimodal teacher and a multimodal student.

Both return their pooled encoder features (taken before fusion: what feature distillation
matches) along with logits. For regression, "logits" are the predictions.

A student also holds ``training_parts``: what a comparison method adds for training only (the
unimodal heads MMPareto trains, the running statistics AGM, MLA and PMR keep). They live in the
model so that its ``state_dict``, and so every checkpoint and resume, carries them; the forward
pass never uses them, and a student rebuilt for inference without them loads such a checkpoint
by ignoring those entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
from torch import nn

from g2d_lite.data.base import DatasetInfo
from g2d_lite.models.encoders import build_encoder, init_official
from g2d_lite.models.fusion import build_fusion


class TeacherOutput(NamedTuple):
    """A teacher's pooled features and logits."""

    features: torch.Tensor
    logits: torch.Tensor


class StudentOutput(NamedTuple):
    """Per-modality features, per-modality branch logits (None for FiLM/gated), fused logits."""

    features: dict[str, torch.Tensor]
    branch_logits: dict[str, torch.Tensor] | None
    logits: torch.Tensor


class UnimodalClassifier(nn.Module):
    """One modality's encoder plus a linear head: the paper's unimodal teacher T^m."""

    def __init__(self, modality: str, encoder: nn.Module, num_outputs: int) -> None:
        super().__init__()
        self.modality = modality
        self.encoder = encoder
        self.head = nn.Linear(encoder.feature_dim, num_outputs)
        init_official(self.head)

    @property
    def encoders(self) -> dict[str, nn.Module]:
        """``{modality: encoder}``, the same shape as the student's, for gradient diagnostics."""
        return {self.modality: self.encoder}

    def forward(self, inputs: Mapping[str, torch.Tensor] | torch.Tensor) -> TeacherOutput:
        x = inputs[self.modality] if isinstance(inputs, Mapping) else inputs
        features = self.encoder(x)
        return TeacherOutput(features, self.head(features))


class TrainingParts(nn.ModuleDict):
    """Training-only modules of a student, by name; entries of a checkpoint for parts this
    container does not hold are skipped on load (an inference model has none)."""

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        for key in [k for k in state_dict if k.startswith(prefix)]:
            if key[len(prefix) :].split(".", 1)[0] not in self:
                del state_dict[key]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class MultimodalClassifier(nn.Module):
    """One encoder per modality and a fusion module: the student S (and the joint baseline)."""

    def __init__(self, encoders: Mapping[str, nn.Module], fusion: nn.Module) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(dict(encoders))
        self.fusion = fusion
        self.training_parts = TrainingParts()

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.encoders.keys())

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> StudentOutput:
        missing = set(self.encoders) - set(inputs)
        if missing:
            raise KeyError(f"inputs lack modalities {sorted(missing)}; model has {self.modalities}")
        features = {m: enc(inputs[m]) for m, enc in self.encoders.items()}
        logits, branches = self.fusion(features)
        return StudentOutput(features, branches, logits)


def _encoder_name(encoder: str | Mapping[str, str], modality: str) -> str:
    return encoder if isinstance(encoder, str) else encoder.get(modality, "auto")


def build_teacher(
    info: DatasetInfo, modality: str, encoder: str | Mapping[str, str] = "auto"
) -> UnimodalClassifier:
    """A unimodal model for ``modality`` of the dataset described by ``info``."""
    spec = info.spec(modality)
    return UnimodalClassifier(
        modality, build_encoder(_encoder_name(encoder, modality), spec), info.num_outputs
    )


def build_student(
    info: DatasetInfo,
    encoder: str | Mapping[str, str] = "auto",
    fusion: str = "late",
    modalities: Sequence[str] | None = None,
) -> MultimodalClassifier:
    """A multimodal model over ``modalities`` (default: all of the dataset's)."""
    names = tuple(modalities) if modalities else info.modality_names
    encoders = {m: build_encoder(_encoder_name(encoder, m), info.spec(m)) for m in names}
    head = build_fusion(fusion, {m: e.feature_dim for m, e in encoders.items()}, info.num_outputs)
    init_official(head)
    return MultimodalClassifier(encoders, head)
