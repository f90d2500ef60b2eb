"""Modality encoders: input tensor -> pooled feature vector.

Every encoder exposes ``feature_dim`` and returns ``(batch, feature_dim)``. Video inputs
``(B, C, T, H, W)`` are handled by folding the T frames into the batch, encoding each frame
with the 2-D network and average-pooling over time and space, as the official G2D code does.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18

from g2d_lite.data.base import ModalitySpec

ENCODERS: tuple[str, ...] = ("resnet18", "small_cnn", "mlp")


def init_official(module: nn.Module) -> None:
    """The official code's ``weight_init``: Kaiming-normal (fan_out, ReLU) convs, Xavier-normal
    linears with zero bias, BatchNorm weight 1 and bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class _FrameEncoder(nn.Module):
    """Shared pooling logic for 2-D CNN trunks on images, spectrograms and video clips."""

    trunk: nn.Module
    feature_dim: int

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 5:  # (B, C, T, H, W): fold frames into the batch
            b, c, t, h, w = x.shape
            maps = self.trunk(x.transpose(1, 2).reshape(b * t, c, h, w))
            maps = maps.reshape(b, t, *maps.shape[1:])  # (B, T, D, h, w)
            return maps.mean(dim=(1, 3, 4))
        if x.dim() != 4:
            raise ValueError(
                f"expected (B, C, H, W) or (B, C, T, H, W) input, got {tuple(x.shape)}"
            )
        return self.trunk(x).mean(dim=(2, 3))


class ResNet18Encoder(_FrameEncoder):
    """The paper's encoder: torchvision ResNet-18 from scratch, conv1 adapted to the input
    channels, no final pooling/fc inside the trunk (pooling happens outside, 512-d)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        net = resnet18(weights=None)
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.trunk = nn.Sequential(
            net.conv1,
            net.bn1,
            net.relu,
            net.maxpool,
            net.layer1,
            net.layer2,
            net.layer3,
            net.layer4,
        )
        self.feature_dim = 512
        init_official(self)


class SmallCNNEncoder(_FrameEncoder):
    """A ~23k-parameter CNN for CPU and classroom runs: three 3x3 conv-BN-ReLU blocks
    (stride 1, 2, 2), global average pooling."""

    def __init__(self, in_channels: int, widths: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers += [
                nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            channels = width
        self.trunk = nn.Sequential(*layers)
        self.feature_dim = widths[-1]
        init_official(self)


class MLPEncoder(nn.Module):
    """For vector modalities (text embeddings, tabular features): Linear-BN-ReLU blocks."""

    def __init__(self, in_features: int, hidden: tuple[int, ...] = (128, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True)]
            width = h
        self.trunk = nn.Sequential(*layers)
        self.feature_dim = width
        init_official(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x.flatten(1))


def default_encoder(spec: ModalitySpec) -> str:
    """The CPU-friendly default for a modality kind: MLP for vectors, small CNN otherwise."""
    return "mlp" if spec.kind == "vector" else "small_cnn"


def build_encoder(name: str, spec: ModalitySpec) -> nn.Module:
    """Build encoder ``name`` ("resnet18" | "small_cnn" | "mlp" | "auto") for one modality."""
    if name == "auto":
        name = default_encoder(spec)
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; valid encoders: {ENCODERS + ('auto',)}")
    if name == "mlp":
        size = 1
        for dim in spec.shape:
            size *= dim
        return MLPEncoder(size)
    if spec.kind == "vector":
        raise ValueError(
            f"modality {spec.name!r} is a vector of shape {spec.shape}; "
            f"use encoder 'mlp' (or 'auto'), not {name!r}"
        )
    if name == "resnet18":
        return ResNet18Encoder(spec.channels)
    return SmallCNNEncoder(spec.channels)
