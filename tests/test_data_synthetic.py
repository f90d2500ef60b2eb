"""The synthetic default dataset: contract, determinism, knobs, and the imbalance it is built on."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from g2d_lite.data import load_dataset
from g2d_lite.data.base import TensorMultimodalDataset
from g2d_lite.data.synthetic import (
    SYNTHETIC_DEFAULTS,
    SyntheticModality,
    bayes_ceilings,
    make_synthetic,
)

SMALL = {"n_train": 600, "n_validation": 200, "n_test": 400}


@pytest.fixture(scope="module")
def default_splits():
    return make_synthetic(seed=0)


def test_defaults_follow_the_contract(default_splits):
    info = default_splits.info
    assert info.name == "synthetic"
    assert info.task == "classification"
    assert info.class_names == tuple(f"class {c}" for c in range(10))
    assert [(m.name, m.shape, m.kind) for m in info.modalities] == [
        ("audio", (1, 16, 16), "spectrogram"),
        ("visual", (1, 16, 16), "image"),
    ]
    assert default_splits.sizes() == {"train": 2000, "validation": 1000, "test": 2000}
    for split in ("train", "validation", "test"):
        ds = default_splits[split]
        assert isinstance(ds, TensorMultimodalDataset)
        inputs, targets = ds.as_tensors()
        assert targets.dtype == torch.long and targets.min() >= 0 and targets.max() < 10
        assert all(x.dtype == torch.float32 for x in inputs.values())
        flags = info.extra["informative"][split]
        assert set(flags) == {"audio", "visual"}
        assert all(f.dtype == torch.bool and len(f) == len(targets) for f in flags.values())
    assert info.extra["params"]["visual_amplitude"] == 1.6


def test_same_seed_is_bit_identical_and_seeds_differ(default_splits):
    again = make_synthetic(seed=0)
    other = make_synthetic(seed=1)
    for split in ("train", "validation", "test"):
        a, b, c = default_splits[split], again[split], other[split]
        assert torch.equal(a.targets, b.targets)
        for m in ("audio", "visual"):
            assert torch.equal(a.inputs[m], b.inputs[m])
            assert not torch.equal(a.inputs[m], c.inputs[m])
    # Splits are independent draws from the same world.
    assert not torch.equal(
        default_splits.train.inputs["audio"][:1000], default_splits.validation.inputs["audio"]
    )
    world = default_splits.info.extra["templates"]["visual"]["templates"]
    assert not torch.equal(world, other.info.extra["templates"]["visual"]["templates"])


def test_informative_fractions_match_the_knobs():
    splits = make_synthetic(seed=3, n_train=8000, audio_informative=0.3, visual_informative=0.7)
    flags = splits.info.extra["informative"]["train"]
    assert abs(flags["audio"].float().mean().item() - 0.3) < 0.03
    assert abs(flags["visual"].float().mean().item() - 0.7) < 0.03


def test_uninformative_visual_frames_are_blank_and_audio_is_noise(default_splits):
    x = default_splits.train.inputs
    flags = default_splits.info.extra["informative"]["train"]
    assert (~flags["visual"]).sum() > 100
    assert torch.all(x["visual"][~flags["visual"]] == 0)
    assert torch.all(x["visual"][flags["visual"]].abs().flatten(1).amax(1) > 0)
    noise = x["audio"][~flags["audio"]]
    assert abs(noise.std().item() - 1.0) < 0.05 and abs(noise.mean().item()) < 0.05
    # Informative audio carries ripple energy A^2 / 2 on top of unit noise.
    assert abs(x["audio"][flags["audio"]].var().item() - (1 + 1.5**2 / 2)) < 0.1


def test_knobs_override_one_modality_only(default_splits):
    moved = make_synthetic(seed=0, visual_amplitude=1.75, visual_informative=0.95)
    assert torch.equal(moved.train.inputs["audio"], default_splits.train.inputs["audio"])
    assert torch.equal(moved.train.targets, default_splits.train.targets)
    assert not torch.equal(moved.train.inputs["visual"], default_splits.train.inputs["visual"])
    before = default_splits.info.extra["informative"]["train"]["visual"]
    after = moved.info.extra["informative"]["train"]["visual"]
    assert torch.all(after[before])  # raising `informative` only adds informative samples
    assert moved.info.extra["params"]["visual_amplitude"] == 1.75
    assert moved.info.extra["bayes_ceilings"]["visual"] == pytest.approx(0.95 + 0.05 / 10)


def test_defaults_dict_round_trips(default_splits):
    assert SYNTHETIC_DEFAULTS["audio_informative"] == 0.55
    assert SYNTHETIC_DEFAULTS["visual_uninformative"] == "blank"
    again = make_synthetic(**SYNTHETIC_DEFAULTS)
    assert torch.equal(again.test.inputs["visual"], default_splits.test.inputs["visual"])


def test_unknown_knob_lists_the_valid_ones():
    with pytest.raises(ValueError, match="visual_amp") as err:
        make_synthetic(visual_amp=2.0, **SMALL)
    assert "visual_amplitude" in str(err.value) and "audio_informative" in str(err.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"audio_informative": 1.2},
        {"visual_informative": -0.1},
        {"audio_amplitude": -1.0},
        {"n_classes": 1},
        {"n_train": 0},
        {"seed": -1},
        {"task": "ranking"},
        {"visual_uninformative": "zeros"},
        {"audio_pattern": "spiral"},
        {"visual_glyph_size": 20},
        {"audio_size": 2.5},
    ],
)
def test_invalid_values_raise(kwargs):
    with pytest.raises(ValueError):
        make_synthetic(**{**SMALL, **kwargs})


def test_three_modalities_with_a_vector_one():
    mods = [
        SyntheticModality("audio", "ripple", amplitude=1.5, informative=0.55),
        SyntheticModality("visual", "glyph", 1.6, 0.85, "blank", channels=3, distractors=2),
        SyntheticModality("text", "vector", amplitude=2.0, informative=0.7, dim=12),
    ]
    splits = make_synthetic(seed=2, n_classes=5, modalities=mods, text_informative=0.6, **SMALL)
    info = splits.info
    assert [(m.name, m.shape, m.kind) for m in info.modalities] == [
        ("audio", (1, 16, 16), "spectrogram"),
        ("visual", (3, 16, 16), "image"),
        ("text", (12,), "vector"),
    ]
    assert info.class_names == tuple(f"class {c}" for c in range(5))
    assert splits.train.inputs["text"].shape == (600, 12)
    flags = info.extra["informative"]["train"]
    assert abs(flags["text"].float().mean().item() - 0.6) < 0.06
    assert torch.all(splits.train.inputs["visual"][~flags["visual"]] == 0)
    ceilings = info.extra["bayes_ceilings"]
    assert ceilings["text"] == pytest.approx(0.6 + 0.4 / 5)
    assert ceilings["all"] == pytest.approx(1 - 0.8 * 0.45 * 0.15 * 0.4)
    # Class-mean clusters: nearest template mean classifies informative vectors well.
    means = info.extra["templates"]["text"]["means"].float()
    x, y = splits.test.inputs["text"], splits.test.targets
    pred = (x @ means.T).argmax(1)
    inf = info.extra["informative"]["test"]["text"]
    assert (pred[inf] == y[inf]).float().mean() > 0.7


def test_single_modality_and_registry():
    splits = load_dataset("synthetic", seed=4, modalities=[SyntheticModality("audio")], **SMALL)
    assert splits.info.modality_names == ("audio",)
    assert splits.info.extra["bayes_ceilings"]["audio"] == pytest.approx(0.595)


def test_bayes_ceilings_match_the_recipe():
    mods = [SyntheticModality("a", informative=0.55), SyntheticModality("v", informative=0.85)]
    assert bayes_ceilings(mods, 10) == pytest.approx({"a": 0.595, "v": 0.865, "all": 0.93925})


def test_regression_variant():
    mods = [
        SyntheticModality("audio"),
        SyntheticModality("visual", "glyph", 1.6, 0.85, "blank"),
        SyntheticModality("tab", "vector", amplitude=6.0, informative=0.8, dim=8),
    ]
    splits = make_synthetic(seed=0, task="regression", modalities=mods, **SMALL)
    info = splits.info
    assert info.task == "regression" and info.class_names == () and info.target_dim == 1
    assert info.num_outputs == 1
    z = splits.train.targets
    assert z.dtype == torch.float32 and z.shape == (600,) and z.min() >= 0 and z.max() <= 1
    flags = info.extra["informative"]["train"]
    assert torch.all(splits.train.inputs["visual"][~flags["visual"]] == 0)
    assert info.extra["mse_floors"]["all"] == pytest.approx(0.45 * 0.15 * 0.2 / 12)
    # The vector encodes z linearly: least squares on informative samples explains most of it.
    inf = flags["tab"]
    x = torch.cat([splits.train.inputs["tab"][inf], torch.ones(int(inf.sum()), 1)], 1).double()
    coef = torch.linalg.lstsq(x, z[inf].double()[:, None]).solution
    residual = z[inf].double() - (x @ coef).squeeze(1)
    assert 1 - residual.var() / z[inf].double().var() > 0.75


def test_audio_alone_is_learnable_by_a_tiny_cnn(default_splits):
    """Audio is easy: a few epochs reach its informative samples, the noise ones stay at chance."""
    torch.manual_seed(0)
    x, y = default_splits.train.inputs["audio"], default_splits.train.targets
    model = nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    shuffle = torch.Generator().manual_seed(0)
    for _ in range(4):
        for idx in torch.randperm(len(y), generator=shuffle).split(64):
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    with torch.no_grad():
        right = model(default_splits.test.inputs["audio"]).argmax(1) == default_splits.test.targets
    inf = default_splits.info.extra["informative"]["test"]["audio"]
    assert right.float().mean() > 0.4  # chance 0.1, ceiling 0.595
    assert right[inf].float().mean() > 0.7
    assert right[~inf].float().mean() < 0.2


def test_informative_visual_samples_are_distinguishable(default_splits):
    """An ideal matched filter (max correlation over positions) decodes visible glyphs."""
    templates = default_splits.info.extra["templates"]["visual"]["templates"].float()
    x, y = default_splits.test.inputs["visual"], default_splits.test.targets
    inf = default_splits.info.extra["informative"]["test"]["visual"]
    scores = F.conv2d(x[inf], templates).flatten(2).amax(2)
    assert (scores.argmax(1) == y[inf]).float().mean() > 0.95


def test_random_class_uninformative_samples_carry_a_wrong_signal():
    splits = make_synthetic(
        seed=5, audio_uninformative="random_class", visual_uninformative="random_class", **SMALL
    )
    flags = splits.info.extra["informative"]["train"]
    audio = splits.train.inputs["audio"][~flags["audio"]]
    assert abs(audio.var().item() - (1 + 1.5**2 / 2)) < 0.15  # a ripple, not pure noise
    templates = splits.info.extra["templates"]["visual"]["templates"].float()
    uninf = ~flags["visual"]
    visual = splits.train.inputs["visual"][uninf]
    decoded = F.conv2d(visual, templates).flatten(2).amax(2).argmax(1)
    assert (decoded == splits.train.targets[uninf]).float().mean() < 0.3  # mostly another class


@pytest.mark.parametrize(
    ("knob", "value", "applies"),
    [
        ("audio_distractors", 5, "distractors applies to 'glyph' modalities (visual_distractors)"),
        ("audio_glyph_size", 3, "glyph_size applies to 'glyph' modalities (visual_glyph_size)"),
        ("visual_dim", 64, "dim applies to 'vector' modalities"),
    ],
)
def test_a_knob_without_effect_on_its_pattern_is_refused(knob, value, applies):
    """Probe 26 AB13: such knobs were accepted and left the data bit-identical."""
    with pytest.raises(
        ValueError, match=rf"{knob} does nothing for .* \(pattern '.*'\); {re.escape(applies)}"
    ):
        make_synthetic(n_train=50, n_validation=10, n_test=10, **{knob: value})


def test_a_knob_that_matters_once_the_pattern_changes_is_accepted():
    """The pattern set in the same call decides which knobs matter (probe 26 AB13)."""
    data = make_synthetic(
        n_train=50, n_validation=10, n_test=10, audio_pattern="glyph", audio_distractors=2
    )
    assert data.info.extra["params"]["audio_distractors"] == 2
