"""Fusion modules: per-modality features -> fused logits (+ per-modality branch logits).

Branch logits are what "unimodal accuracy inside joint training" measures (the paper's Figure 1)
and what OGM scores. Where they come from, per fusion:

- ``late`` (default): ``l_s = mean_m head_m(f_m)``; branch m = ``head_m(f_m)`` (full bias).
- ``sum``: ``l_s = sum_m head_m(f_m)``; branch m = ``head_m(f_m)``.
- ``concat``: ``l_s = W [f_1; ...; f_k] + b``; branch m = ``W[:, slice_m] f_m + b / k`` — the weight
  slices, as the official code does (bias split evenly).
- ``film`` and ``gated``: exactly two modalities, the first conditions (FiLM) or gates the second,
  as in the official code. Their structure gives no faithful per-modality logits, so they return
  ``None`` for branches (branch accuracy and OGM are unavailable with them).

Late, sum and concat work for any number of modalities.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

FUSIONS: tuple[str, ...] = ("late", "sum", "concat", "film", "gated")

FusionOutput = tuple[torch.Tensor, dict[str, torch.Tensor] | None]


class _HeadsFusion(nn.Module):
    """One linear head per modality; subclasses say how heads combine."""

    def __init__(self, feature_dims: Mapping[str, int], num_outputs: int) -> None:
        super().__init__()
        self.heads = nn.ModuleDict({m: nn.Linear(d, num_outputs) for m, d in feature_dims.items()})

    def branches(self, features: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {m: head(features[m]) for m, head in self.heads.items()}


class LateFusion(_HeadsFusion):
    """Average of per-modality heads (the official default, ``fusion_method='late'``)."""

    def forward(self, features: Mapping[str, torch.Tensor]) -> FusionOutput:
        branches = self.branches(features)
        return torch.stack(list(branches.values())).mean(dim=0), branches


class SumFusion(_HeadsFusion):
    """Sum of per-modality heads."""

    def forward(self, features: Mapping[str, torch.Tensor]) -> FusionOutput:
        branches = self.branches(features)
        return torch.stack(list(branches.values())).sum(dim=0), branches


class ConcatFusion(nn.Module):
    """One linear layer on the concatenated features; branches from its weight slices."""

    def __init__(self, feature_dims: Mapping[str, int], num_outputs: int) -> None:
        super().__init__()
        self.order = list(feature_dims)
        self.dims = [feature_dims[m] for m in self.order]
        self.head = nn.Linear(sum(self.dims), num_outputs)

    def forward(self, features: Mapping[str, torch.Tensor]) -> FusionOutput:
        fused = self.head(torch.cat([features[m] for m in self.order], dim=1))
        weights = self.head.weight.split(self.dims, dim=1)
        share = self.head.bias / len(self.order)
        branches = {
            m: features[m] @ w.t() + share for m, w in zip(self.order, weights, strict=True)
        }
        return fused, branches


class _PairFusion(nn.Module):
    """Base for the two-modality fusions (FiLM, gated): first modality acts on the second."""

    def __init__(self, feature_dims: Mapping[str, int]) -> None:
        super().__init__()
        if len(feature_dims) != 2:
            raise ValueError(
                f"{type(self).__name__} supports exactly two modalities, got {list(feature_dims)};"
                " use late, sum or concat fusion for more"
            )
        self.first, self.second = list(feature_dims)


class FiLMFusion(_PairFusion):
    """FiLM (Perez et al.): the first modality predicts a scale and shift for the second."""

    def __init__(self, feature_dims: Mapping[str, int], num_outputs: int) -> None:
        super().__init__(feature_dims)
        second_dim = feature_dims[self.second]
        self.film = nn.Linear(feature_dims[self.first], 2 * second_dim)
        self.head = nn.Linear(second_dim, num_outputs)

    def forward(self, features: Mapping[str, torch.Tensor]) -> FusionOutput:
        gamma, beta = self.film(features[self.first]).chunk(2, dim=1)
        return self.head(gamma * features[self.second] + beta), None


class GatedFusion(_PairFusion):
    """Gated fusion: ``sigmoid(fc_x(f_first)) * fc_y(f_second)`` then a linear head."""

    def __init__(
        self, feature_dims: Mapping[str, int], num_outputs: int, hidden: int | None = None
    ) -> None:
        super().__init__(feature_dims)
        hidden = hidden or feature_dims[self.second]
        self.gate = nn.Linear(feature_dims[self.first], hidden)
        self.value = nn.Linear(feature_dims[self.second], hidden)
        self.head = nn.Linear(hidden, num_outputs)

    def forward(self, features: Mapping[str, torch.Tensor]) -> FusionOutput:
        gate = torch.sigmoid(self.gate(features[self.first]))
        return self.head(gate * self.value(features[self.second])), None


_FUSION_CLASSES: dict[str, type[nn.Module]] = {
    "late": LateFusion,
    "sum": SumFusion,
    "concat": ConcatFusion,
    "film": FiLMFusion,
    "gated": GatedFusion,
}


def build_fusion(name: str, feature_dims: Mapping[str, int], num_outputs: int) -> nn.Module:
    """Build fusion ``name`` for the given per-modality feature widths."""
    if name not in _FUSION_CLASSES:
        raise ValueError(f"unknown fusion {name!r}; valid fusions: {FUSIONS}")
    return _FUSION_CLASSES[name](feature_dims, num_outputs)
