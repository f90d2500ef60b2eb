"""On-device frame augmentation: the CPU transform's distribution of crops and flips, its shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from g2d_lite.data.device_augment import augment_frames, crop_boxes
from g2d_lite.data.readers import frame_transform

DRAWS = 6000


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic (largest gap between the two CDFs)."""
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


def _torchvision_boxes(height: int, width: int) -> np.ndarray:
    torch.manual_seed(0)
    crop = v2.RandomResizedCrop(224)
    image = torch.zeros(3, height, width, dtype=torch.uint8)
    rows = []
    for _ in range(DRAWS):
        p = crop.make_params([image])
        rows.append([p["left"], p["top"], p["left"] + p["width"], p["top"] + p["height"]])
    return np.asarray(rows, dtype=float)


def _features(boxes: np.ndarray, height: int, width: int) -> dict[str, np.ndarray]:
    boxes = boxes.astype(np.float64)  # integer pixel boxes: compare them exactly
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return {
        "area": w * h / (height * width),
        "aspect": w / h,
        "left": boxes[:, 0] / width,
        "top": boxes[:, 1] / height,
    }


@pytest.mark.parametrize(("height", "width"), [(256, 341), (224, 224), (40, 400)])
def test_crop_boxes_follow_random_resized_crop(height, width):
    generator = torch.Generator().manual_seed(1)
    ours = _features(crop_boxes(DRAWS, height, width, generator).numpy(), height, width)
    theirs = _features(_torchvision_boxes(height, width), height, width)
    for name in ours:
        assert _ks(ours[name], theirs[name]) < 0.04, name  # p ~ 1e-3 at these sample sizes
    boxes = crop_boxes(DRAWS, height, width, generator)
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= width).all()
    assert (boxes[:, 1] >= 0).all() and (boxes[:, 3] <= height).all()


def test_augmented_frames_have_the_cpu_transform_s_shape_and_scale():
    generator = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (32, 60, 80, 3), dtype=torch.uint8, generator=generator)
    ours = augment_frames(frames, 48, generator)
    theirs = torch.stack([frame_transform(48, train=True)(f.permute(2, 0, 1)) for f in frames])
    assert ours.shape == theirs.shape == (32, 3, 48, 48) and ours.dtype == theirs.dtype
    flat = torch.full((4, 60, 80, 3), 128, dtype=torch.uint8)  # a flat frame stays flat
    expected = frame_transform(48, train=True)(flat[0].permute(2, 0, 1))
    torch.testing.assert_close(augment_frames(flat, 48, generator)[0], expected, atol=1e-5, rtol=0)


def test_half_the_frames_are_flipped_and_draws_are_seeded():
    ramp = torch.arange(64, dtype=torch.uint8).repeat(8, 2000, 1, 1).permute(1, 2, 3, 0)[..., :3]
    ramp = ramp.expand(2000, 8, 64, 3).contiguous()
    out = augment_frames(ramp, 16, torch.Generator().manual_seed(3))
    flipped = (out[:, 0, 0, 0] > out[:, 0, 0, -1]).float().mean()
    assert 0.46 < float(flipped) < 0.54
    again = augment_frames(ramp, 16, torch.Generator().manual_seed(3))
    assert torch.equal(out, again)
