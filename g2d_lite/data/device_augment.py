"""The paper's train-time frame augmentation for a whole batch at once, on the batch's device.

The CPU path (:func:`g2d_lite.data.readers.frame_transform`) crops, flips and normalises each
frame in a DataLoader worker: at the paper's batch of 16 the GPU then waits on Python. Here the
same transform is vectorised: crop boxes drawn as torchvision's ``RandomResizedCrop`` draws them
(ten tries of a random area and log-uniform aspect ratio, the first that fits wins, else the
centre crop of the clamped ratio), cut and resized in one ``roi_align`` call, half the frames
flipped, ImageNet-normalised. Resizing is bilinear without antialiasing, so pixels differ from
the CPU transform's (whose resize antialiases); the distribution of crops and flips is the same
(tests/test_device_augment.py).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchvision.ops import roi_align

from g2d_lite.data.readers import IMAGENET_MEAN, IMAGENET_STD

SCALE = (0.08, 1.0)  # torchvision's RandomResizedCrop defaults
RATIO = (3 / 4, 4 / 3)
TRIES = 10


def crop_boxes(
    n: int, height: int, width: int, generator: torch.Generator | None = None, device=None
) -> Tensor:
    """``(n, 4)`` boxes ``(left, top, right, bottom)`` in pixels, one per frame, drawn like
    ``RandomResizedCrop.make_params`` (without a host sync: all ten tries are drawn at once)."""
    device = device or torch.device("cpu")
    area = height * width
    shape = (n, TRIES)
    target = area * torch.empty(shape, device=device).uniform_(*SCALE, generator=generator)
    log_ratio = torch.empty(shape, device=device).uniform_(
        math.log(RATIO[0]), math.log(RATIO[1]), generator=generator
    )
    aspect = torch.exp(log_ratio)
    w = torch.round(torch.sqrt(target * aspect))
    h = torch.round(torch.sqrt(target / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = torch.argmax(fits.int(), dim=1)  # the first try that fits (0 if none does)
    take = first[:, None]
    w, h = w.gather(1, take)[:, 0], h.gather(1, take)[:, 0]
    found = fits.any(dim=1)
    uniform = torch.rand((n, 2), device=device, generator=generator)
    top = torch.floor(uniform[:, 0] * (height - h + 1))
    left = torch.floor(uniform[:, 1] * (width - w + 1))
    centre_w, centre_h = _centre_crop(height, width)
    w = torch.where(found, w, torch.full_like(w, centre_w))
    h = torch.where(found, h, torch.full_like(h, centre_h))
    top = torch.where(found, top, torch.full_like(top, (height - centre_h) // 2))
    left = torch.where(found, left, torch.full_like(left, (width - centre_w) // 2))
    return torch.stack([left, top, left + w, top + h], dim=1)


def _centre_crop(height: int, width: int) -> tuple[int, int]:
    """The fallback crop's ``(width, height)``: the whole frame clamped to the ratio range."""
    ratio = width / height
    if ratio < RATIO[0]:
        return width, int(round(width / RATIO[0]))
    if ratio > RATIO[1]:
        return int(round(height * RATIO[1])), height
    return width, height


def augment_frames(frames: Tensor, size: int, generator: torch.Generator | None = None) -> Tensor:
    """uint8 frames ``(N, H, W, 3)`` -> float ``(N, 3, size, size)``: random resized crop,
    horizontal flip with probability 1/2, ImageNet normalisation; on ``frames``' device."""
    n, height, width, _ = frames.shape
    images = frames.permute(0, 3, 1, 2).float().div_(255.0)
    boxes = crop_boxes(n, height, width, generator, frames.device)
    indexed = torch.cat(
        [torch.arange(n, device=frames.device, dtype=boxes.dtype)[:, None], boxes], 1
    )
    out = roi_align(
        images, indexed, output_size=size, spatial_scale=1.0, sampling_ratio=2, aligned=True
    )
    flip = torch.rand(n, device=frames.device, generator=generator) < 0.5
    out = torch.where(flip[:, None, None, None], out.flip(-1), out)
    mean = torch.tensor(IMAGENET_MEAN, device=frames.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=frames.device).view(1, 3, 1, 1)
    return (out - mean) / std
