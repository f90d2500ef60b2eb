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


def test_a_resident_in_memory_split_trains_bit_for_bit_like_the_host_one():
    from g2d_lite.train import train_teacher
    from tests.helpers import tiny_config, tiny_data

    data = tiny_data()
    host = train_teacher(tiny_config(data_on_device="never"), data, "visual")
    resident = train_teacher(tiny_config(data_on_device="always"), data, "visual")
    state, reference = resident.model.state_dict(), host.model.state_dict()
    assert all(torch.equal(state[k], reference[k]) for k in reference)


def test_a_resident_cache_split_augments_frames_and_crops_spectrograms(tmp_path):
    from g2d_lite.data.clips import load_vggsound
    from g2d_lite.data.resident import ResidentSplit
    from tests.test_data_clips import build, make_vggsound

    root = make_vggsound(tmp_path / "vggsound")
    assert build("vggsound", root, tmp_path / "cache", "--annotations", str(root)) == 0
    data = load_vggsound(tmp_path / "cache", image_size=32)
    resident = ResidentSplit(data.train, torch.device("cpu"))
    inputs, _ = resident.as_tensors()
    assert inputs["visual"].dtype == torch.uint8 and inputs["audio"].dtype == torch.float16
    batch = {m: x[:2] for m, x in inputs.items()}
    out = resident.transform_batch(batch, torch.Generator().manual_seed(0))
    sample, _ = data.train[0]  # the CPU readers' shapes and dtypes, per sample
    for m in ("audio", "visual"):
        assert out[m].shape[1:] == sample[m].shape and out[m].dtype == sample[m].dtype
    from g2d_lite.config import resolve
    from g2d_lite.notebook import load_data
    from g2d_lite.train import train_student

    cfg = resolve(
        "smoke", method="joint", dataset="vggsound", data_root=str(tmp_path / "cache"), epochs=2,
        batch_size=4, progress=False, data_on_device="always", data_options={"image_size": 32},
    )  # fmt: skip
    result = train_student(cfg, load_data(cfg))
    assert result.history["train/loss"].notna().all() and len(result.history) == 2
