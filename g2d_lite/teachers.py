"""A frozen bank of unimodal teachers and a cache of their outputs.

The official code reloads the teachers every epoch and runs them on every batch. When the
training inputs are deterministic (no random augmentation), each teacher's features and logits
for a sample never change, so the kit computes them once per split and looks them up by sample
index. Under augmentation the bank runs online. Both paths feed the same loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from g2d_lite.batches import batch_order, iterate_batches
from g2d_lite.data.base import MultimodalDataset
from g2d_lite.models.classifiers import MultimodalClassifier, UnimodalClassifier

TeacherOutputs = tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]


@dataclass
class TeacherCache:
    """Per-sample teacher features and logits for one split, indexed like the dataset."""

    features: dict[str, torch.Tensor]
    logits: dict[str, torch.Tensor]

    def to(self, device: torch.device) -> TeacherCache:
        """The cache on ``device`` (on a GPU, lookups then never copy from host memory)."""
        return TeacherCache(
            {m: f.to(device) for m, f in self.features.items()},
            {m: lg.to(device) for m, lg in self.logits.items()},
        )

    def lookup(self, indices: torch.Tensor, device: torch.device | None = None) -> TeacherOutputs:
        """Teacher outputs for the samples at ``indices``."""
        features = {m: f[indices.to(f.device)].to(device) for m, f in self.features.items()}
        logits = {m: lg[indices.to(lg.device)].to(device) for m, lg in self.logits.items()}
        return features, logits


class TeacherBank(nn.Module):
    """Unimodal teachers, frozen (eval mode, no gradients), addressed by modality."""

    def __init__(self, teachers: Mapping[str, UnimodalClassifier]) -> None:
        super().__init__()
        for modality, teacher in teachers.items():
            if not isinstance(teacher, UnimodalClassifier):
                kind = (
                    "a multimodal model (a joint or student run)"
                    if isinstance(teacher, MultimodalClassifier)
                    else f"a {type(teacher).__name__}"
                )
                raise TypeError(
                    f"the teacher for {modality!r} is {kind}, not a unimodal teacher: pass the "
                    "runs load_or_train_teachers returns (or `teacher --out` folders)"
                )
            if teacher.modality != modality:
                raise ValueError(
                    f"teacher for {modality!r} was trained on modality {teacher.modality!r}"
                )
        self.teachers = nn.ModuleDict(dict(teachers))
        self.requires_grad_(False)
        self.eval()

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.teachers.keys())

    def train(self, mode: bool = True) -> TeacherBank:
        """Teachers stay in eval mode whatever the caller asks (BatchNorm statistics frozen)."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, inputs: Mapping[str, torch.Tensor]) -> TeacherOutputs:
        """Features and logits of every teacher on a batch."""
        features, logits = {}, {}
        for modality, teacher in self.teachers.items():
            out = teacher(inputs[modality])
            features[modality], logits[modality] = out.features.float(), out.logits.float()
        return features, logits

    @torch.no_grad()
    def precompute(
        self, dataset: MultimodalDataset, batch_size: int = 256, device: torch.device | None = None
    ) -> TeacherCache:
        """Run every teacher once over ``dataset`` (in index order) and keep the outputs on CPU."""
        if not dataset.deterministic:
            raise ValueError(
                f"{dataset.info.name}/{dataset.split} applies random augmentation; teacher outputs"
                " differ per epoch and cannot be cached (run the teachers online instead)"
            )
        feats: dict[str, list[torch.Tensor]] = {m: [] for m in self.modalities}
        logits: dict[str, list[torch.Tensor]] = {m: [] for m in self.modalities}
        order = batch_order(len(dataset), batch_size, shuffle=False)
        for batch in iterate_batches(dataset, order):
            f, lg = self(batch.to(device or torch.device("cpu")).inputs)
            for m in self.modalities:
                feats[m].append(f[m].cpu())
                logits[m].append(lg[m].cpu())
        return TeacherCache(
            {m: torch.cat(v) for m, v in feats.items()},
            {m: torch.cat(v) for m, v in logits.items()},
        )
