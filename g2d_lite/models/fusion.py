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
- ``shared`` (MLA's model): one linear head for every modality; branch m = ``head(f_m)``; the fused
  logits weight each branch, sample by sample, by its prediction certainty (MLA's test-time
  dynamic fusion, :func:`certainty_weights`).
- ``boost`` (ReconBoost's model): one two-layer head for every modality and a learnable boost
  rate; ``l_s = rate · sum_m head(f_m)``; branch m = ``head(f_m)``.

All but film and gated work for any number of modalities; shared and boost need every modality's
features to have the same width (their head is shared).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

FUSIONS: tuple[str, ...] = ("late", "sum", "concat", "film", "gated", "shared", "boost")

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

    def combine(self, branches: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The fused logits of any subset of branches (an additive ensemble, for ReconBoost)."""
        return torch.stack(list(branches.values())).sum(dim=0)

    def forward(self, features: Mapping[str, torch.Tensor]) -> FusionOutput:
        branches = self.branches(features)
        return self.combine(branches), branches


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


def _shared_width(feature_dims: Mapping[str, int], name: str) -> int:
    widths = set(feature_dims.values())
    if len(widths) != 1:
        raise ValueError(
            f"{name} fusion shares one head across modalities, so every feature width must match;"
            f" got {dict(feature_dims)}; pick encoders with equal widths or another fusion"
        )
    return widths.pop()


def certainty_weights(branches: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """MLA's dynamic-fusion weights, shape (k, B): for each sample, modality m gets
    exp(max_n H_n − H_m) / Σ_n exp(max_n H_n − H_m), where H_m is the entropy of
    softmax(branch m); the most certain modality weighs most.

    Per sample, as the paper describes. The released code takes the softmax over the batch
    dimension and sums the entropy over the whole batch, so its weights are one pair per test
    batch and depend on how the test set is batched; the kit's do not. Detached: a test-time rule.
    """
    logits = torch.stack([b.detach().float() for b in branches.values()])  # (k, B, C)
    entropy = -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1)  # (k, B)
    return torch.softmax(-entropy, dim=0)


class SharedHeadFusion(nn.Module):
    """MLA: one linear head trained by every modality in turn, fused at test time by
    :func:`certainty_weights` (the released code's ``--dynamic`` fusion)."""

    def __init__(self, feature_dims: Mapping[str, int], num_outputs: int) -> None:
        super().__init__()
        self.order = list(feature_dims)
        self.head = nn.Linear(_shared_width(feature_dims, "shared"), num_outputs)

    @staticmethod
    def fuse(branches: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Σ_m w_m · branch_m with the certainty weights w (MLA's dynamic fusion)."""
        stacked = torch.stack(list(branches.values()))
        return (certainty_weights(branches).to(stacked.dtype).unsqueeze(-1) * stacked).sum(dim=0)

    def forward(self, features: Mapping[str, torch.Tensor]) -> FusionOutput:
        branches = {m: self.head(features[m]) for m in self.order}
        return self.fuse(branches), branches


class BoostFusion(nn.Module):
    """ReconBoost's ensemble with ``common_space=True`` (its default): one head
    Linear(d, 256) → ReLU → Linear(256, C) shared by every modality, and a learnable
    ``boost_rate`` (initial value 1, the official ``--boost_rate``) scaling the sum."""

    hidden = 256

    def __init__(self, feature_dims: Mapping[str, int], num_outputs: int) -> None:
        super().__init__()
        self.order = list(feature_dims)
        width = _shared_width(feature_dims, "boost")
        self.head = nn.Sequential(
            nn.Linear(width, self.hidden), nn.ReLU(), nn.Linear(self.hidden, num_outputs)
        )
        self.boost_rate = nn.Parameter(torch.tensor(1.0))

    def combine(self, branches: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``boost_rate · Σ`` over any subset of branches (the ensemble without some learners)."""
        return self.boost_rate * torch.stack(list(branches.values())).sum(dim=0)

    def forward(self, features: Mapping[str, torch.Tensor]) -> FusionOutput:
        branches = {m: self.head(features[m]) for m in self.order}
        return self.combine(branches), branches


_FUSION_CLASSES: dict[str, type[nn.Module]] = {
    "late": LateFusion,
    "sum": SumFusion,
    "concat": ConcatFusion,
    "film": FiLMFusion,
    "gated": GatedFusion,
    "shared": SharedHeadFusion,
    "boost": BoostFusion,
}


def build_fusion(name: str, feature_dims: Mapping[str, int], num_outputs: int) -> nn.Module:
    """Build fusion ``name`` for the given per-modality feature widths."""
    if name not in _FUSION_CLASSES:
        raise ValueError(f"unknown fusion {name!r}; valid fusions: {FUSIONS}")
    return _FUSION_CLASSES[name](feature_dims, num_outputs)
