"""The embedded default dataset: synthetic, imbalanced, multimodal, generated from a seed.

It rebuilds the CREMA-D imbalance mechanism (``docs/method.md`` §6) from two dials per
modality: ``amplitude`` (signal against unit noise: how *easy* it is to learn) and
``informative`` (fraction of samples carrying the class: how *informative* it is).

- **audio** (``ripple``): a spectro-temporal ripple with a random phase. Easy, but only 55 % of
  samples carry it; the rest are pure noise, which a small CNN memorises. Its teacher therefore
  ends up *more confident on train* than the visual one, which is what SMP keys on.
- **visual** (``glyph``): a weak 5x5 class glyph at a random position in noise. Informative
  (85 %) but slow to learn; uninformative samples are blank (all-zero) frames, which cannot be
  memorised because identical inputs carry different labels.
- **vector**: Gaussian clusters around unit-norm class means (tabular / embedding-like).

A per-seed "world" (ripple wave vectors, glyphs and colours, cluster means) is shared by the
splits; train, validation and test are independent draws from it. Every random draw comes from
an explicit ``numpy.random.Generator`` keyed by (seed, split, modality name), so moving one
modality's knob never changes another modality's samples.

Regression (``task="regression"``) keeps the same mechanism (informative flags, noise / blank
uninformative samples) with a latent target ``z ~ U[0, 1]`` (float32, shape ``(N,)``) in place of
the class: the ripple's orientation is ``0.8 * pi * z`` at density 1/4 cycle per pixel; the glyph
morphs linearly from world glyph 0 (``z = 0``) to glyph 1 (``z = 1``); the vector lies at
``(1 - z) * mu_0 + z * mu_1``. Uninformative ``random_class`` samples encode an independent
``z'``. The best achievable MSE is ``prod_m (1 - p_m) / 12`` (see :func:`mse_floors`).
"""

from __future__ import annotations

import difflib
import math
import os
import warnings
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import torch

from g2d_lite.data.base import (
    SPLITS,
    UNTRAINED_FIX,
    DatasetInfo,
    DatasetSplits,
    ModalitySpec,
    TensorMultimodalDataset,
)

PATTERNS: tuple[str, ...] = ("ripple", "glyph", "vector")
UNINFORMATIVE: tuple[str, ...] = ("noise", "blank", "random_class")
_DEFAULT_KIND = {"ripple": "spectrogram", "glyph": "image", "vector": "vector"}
_WORLD_OFFSET = 10_000  # the world's RNG is seeded from seed + 10 000, as in the recipe
_REGRESSION_RIPPLE_DENSITY = 0.25  # cycles per pixel
_REGRESSION_RIPPLE_SPAN = 0.8 * math.pi  # orientation range; < pi so z = 0 and z = 1 differ
# Glyph draws in a row that may miss before the glyphs that fit are all there are: at the
# defaults (20 glyphs of 5x5) a miss streak stays under 100, near 350 of them it passes 20,000.
GLYPH_TRIES = 20_000


@dataclass(frozen=True)
class SyntheticModality:
    """One synthetic modality. Each field is a knob ``<name>_<field>`` of :func:`make_synthetic`."""

    name: str  # modality name, the key in each sample's input dict
    pattern: str = "ripple"  # class signal: "ripple" (texture), "glyph" (local 5x5 mark), "vector"
    amplitude: float = 1.5  # signal strength against unit noise: how EASY the modality is
    informative: float = 0.55  # fraction of samples that carry the class: how INFORMATIVE it is
    uninformative: str = "noise"  # other samples: "noise" only, "blank" zeros, "random_class"
    size: int = 16  # side length of the square ripple / glyph input
    channels: int = 1  # input channels; glyphs get a random colour per class across channels
    glyph_size: int = 5  # side length of a glyph
    distractors: int = 0  # distractor glyphs (clutter) added to every non-blank glyph frame
    distractor_pool: int = 10  # number of distinct distractor glyphs in the world
    dim: int = 16  # feature dimension of a "vector" modality
    kind: str | None = None  # ModalitySpec kind; None: spectrogram / image / vector by pattern

    def __post_init__(self) -> None:
        where = f"synthetic modality {self.name!r}"
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"{where}: name must be a non-empty string")
        if self.pattern not in PATTERNS:
            raise ValueError(f"{where}: pattern {self.pattern!r} not in {PATTERNS}")
        if self.uninformative not in UNINFORMATIVE:
            raise ValueError(
                f"{where}: uninformative {self.uninformative!r} not in {UNINFORMATIVE}"
            )
        if not 0.0 <= self.informative <= 1.0:
            raise ValueError(f"{where}: informative must be in [0, 1], got {self.informative}")
        if not (math.isfinite(self.amplitude) and self.amplitude >= 0):  # NaN fails < 0 too
            raise ValueError(
                f"{where}: amplitude ({self.name}_amplitude) must be a finite number >= 0, got "
                f"{self.amplitude}"
            )
        for name in ("size", "channels", "glyph_size", "dim", "distractor_pool"):
            if getattr(self, name) < 1:
                raise ValueError(f"{where}: {name} must be >= 1, got {getattr(self, name)}")
        if self.distractors < 0:
            raise ValueError(f"{where}: distractors must be >= 0, got {self.distractors}")
        if self.pattern == "glyph" and self.glyph_size > self.size:
            raise ValueError(f"{where}: glyph_size {self.glyph_size} > size {self.size}")
        if (self.spec_kind == "vector") != (self.pattern == "vector"):
            raise ValueError(f"{where}: kind 'vector' goes with pattern 'vector' only")

    @property
    def spec_kind(self) -> str:
        return self.kind if self.kind is not None else _DEFAULT_KIND[self.pattern]

    @property
    def shape(self) -> tuple[int, ...]:
        """Per-sample tensor shape."""
        if self.pattern == "vector":
            return (self.dim,)
        return (self.channels, self.size, self.size)

    def spec(self) -> ModalitySpec:
        return ModalitySpec(self.name, self.shape, self.spec_kind)

    def knobs(self) -> dict[str, Any]:
        """The flat knobs that matter for this pattern, e.g. ``{"audio_amplitude": 1.5, ...}``."""
        keys = ["pattern", "amplitude", "informative", "uninformative"]
        if self.pattern == "vector":
            keys.append("dim")
        else:
            keys += ["size", "channels"]
        if self.pattern == "glyph":
            keys += ["glyph_size", "distractors", "distractor_pool"]
        return {f"{self.name}_{k}": getattr(self, k) for k in keys}


DEFAULT_MODALITIES: tuple[SyntheticModality, ...] = (
    SyntheticModality("audio", "ripple", amplitude=1.5, informative=0.55, uninformative="noise"),
    SyntheticModality("visual", "glyph", amplitude=1.6, informative=0.85, uninformative="blank"),
)

# make_synthetic's dataset-wide options, beside the per-modality knobs.
SYNTHETIC_OPTIONS = ("seed", "n_train", "n_validation", "n_test", "n_classes", "task", "modalities")

SYNTHETIC_DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "n_train": 2000,
    "n_validation": 1000,
    "n_test": 2000,
    "n_classes": 10,
    "task": "classification",
    **{k: v for m in DEFAULT_MODALITIES for k, v in m.knobs().items()},
}


# --------------------------------------------------------------------------------------------
# Knobs


def _coerce(modality: SyntheticModality, field_name: str, value: Any) -> Any:
    """Slider / papermill values arrive as floats or strings; bring them to the field's type.
    A bool is refused, not read as 1 or 0 (True would make every sample informative), and so
    is a value that is no number, naming the knob."""
    default = getattr(modality, field_name)
    if isinstance(default, bool) or field_name in ("name", "pattern", "uninformative", "kind"):
        return value
    whole = isinstance(default, int)
    refused = ValueError(
        f"{modality.name}_{field_name} must be {'a whole number' if whole else 'a number'}, "
        f"got {value!r}"
    )
    if isinstance(value, bool):
        raise refused
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise refused from None
    if whole and not number.is_integer():
        raise refused
    return int(number) if whole else number


def _closest_knob(typed: str, valid: Iterable[str]) -> str | None:
    """The knob a typo most likely meant: one the typed name begins (audio_amp is
    audio_amplitude, not the nearer audio_dim by edit distance), else the nearest spelling."""
    started = sorted(k for k in valid if k.startswith(typed))
    if len(started) == 1:
        return started[0]
    return next(iter(difflib.get_close_matches(typed, list(valid), n=1)), None)


def apply_knobs(
    modalities: Sequence[SyntheticModality],
    knobs: Mapping[str, Any],
    options: Sequence[str] = (),
) -> tuple[SyntheticModality, ...]:
    """``modalities`` with the per-modality ``knobs`` applied; a name that is no knob is refused
    with the nearest one among the knobs and the dataset-wide ``options`` (a typo in n_validation
    must not read as if split sizes could not be set)."""
    valid = {
        f"{m.name}_{f.name}": (i, f.name)
        for i, m in enumerate(modalities)
        for f in fields(SyntheticModality)
        if f.name != "name"
    }
    unknown = sorted(set(knobs) - set(valid))
    if unknown:
        close = [_closest_knob(k, [*options, *valid]) for k in unknown]
        close = [c for c in close if c]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        also = f"valid options: {list(options)}; " if options else ""
        raise ValueError(
            f"unknown synthetic knob(s) {unknown}{hint}; {also}valid knobs: {sorted(valid)}"
        )
    changes: list[dict[str, Any]] = [{} for _ in modalities]
    for key, value in knobs.items():
        i, field_name = valid[key]
        changes[i][field_name] = _coerce(modalities[i], field_name, value)
    result = tuple(replace(m, **c) if c else m for m, c in zip(modalities, changes, strict=True))
    for before, after, change in zip(modalities, result, changes, strict=True):
        _refuse_idle_knobs(before, after, change, result)
    return result


def _refuse_idle_knobs(
    before: SyntheticModality,
    after: SyntheticModality,
    change: Mapping[str, Any],
    modalities: Sequence[SyntheticModality],
) -> None:
    """Refuse a knob moved off its value that does nothing for the modality's pattern
    (``audio_distractors`` on a ripple): the data would be unchanged while the options say
    the knob was applied."""
    matters = {key.removeprefix(f"{after.name}_") for key in after.knobs()} | {"kind"}
    for field_name, value in change.items():
        if field_name in matters or value == getattr(before, field_name):
            continue
        users = [m for m in modalities if f"{m.name}_{field_name}" in m.knobs()]
        patterns = sorted({m.pattern for m in users}) or [
            p for p in PATTERNS if f"x_{field_name}" in SyntheticModality("x", p).knobs()
        ]
        where = f" ({', '.join(f'{m.name}_{field_name}' for m in users)})" if users else ""
        raise ValueError(
            f"{after.name}_{field_name} does nothing for {after.name} (pattern "
            f"{after.pattern!r}); {field_name} applies to {' and '.join(map(repr, patterns))} "
            f"modalities{where}"
        )


def _as_modality(m: SyntheticModality | Mapping[str, Any]) -> SyntheticModality:
    """A modality given as a dict, its keys checked first: a misspelt field would otherwise
    be a bare dataclass TypeError naming neither the modality nor the valid fields."""
    if isinstance(m, SyntheticModality):
        return m
    if not isinstance(m, Mapping):
        raise TypeError(
            f"each modality is a SyntheticModality or a dict of its fields, got {type(m).__name__}"
        )
    valid = [f.name for f in fields(SyntheticModality)]
    unknown = [key for key in m if key not in valid]
    if unknown:
        near = _closest_knob(str(unknown[0]), valid)
        hint = f" (did you mean {near!r}?)" if near else ""
        raise ValueError(
            f"modality {m.get('name', '?')!r}: unknown field {unknown[0]!r}{hint}; valid fields: "
            f"{', '.join(valid)}"
        )
    return SyntheticModality(**m)


# --------------------------------------------------------------------------------------------
# Ceilings


def bayes_ceilings(modalities: Sequence[SyntheticModality], n_classes: int) -> dict[str, float]:
    """Upper bounds on test accuracy: each modality alone, and all together (key ``"all"``).

    An uninformative sample can only be guessed (1/C), so one modality is capped at
    ``p + (1 - p) / C`` and all of them at ``1 - (1 - 1/C) * prod(1 - p_m)``. The bound is
    reached by an ideal observer when the signal is strong enough to decode every informative
    sample (true at the defaults: glyph template energy 25 * 1.6^2 = 64).
    """
    chance = 1.0 / n_classes
    out = {m.name: m.informative + (1 - m.informative) * chance for m in modalities}
    out["all"] = 1 - (1 - chance) * math.prod(1 - m.informative for m in modalities)
    return out


def mse_floors(modalities: Sequence[SyntheticModality]) -> dict[str, float]:
    """Lower bounds on regression MSE for ``z ~ U[0, 1]``: an uninformative sample costs 1/12."""
    out = {m.name: (1 - m.informative) / 12 for m in modalities}
    out["all"] = math.prod(1 - m.informative for m in modalities) / 12
    return out


# --------------------------------------------------------------------------------------------
# The per-seed world


def _rng(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(key))))


def _name_key(name: str) -> int:
    return zlib.crc32(name.encode())  # stable across runs, unlike hash()


def _draw_glyphs(
    rng: np.random.Generator, count: int, g: int, earlier: list[np.ndarray]
) -> list[np.ndarray]:
    """Bernoulli(0.5) glyphs with 35-65 % pixels on and >= 30 % pixels from every earlier glyph.

    Only so many fit (about 350 of 5x5): once ``GLYPH_TRIES`` draws in a row miss, the glyphs
    found so far are returned (fewer than ``count``; :func:`_check_glyphs` refuses them), rather
    than drawing on for minutes.
    """
    lo, hi, min_dist = math.ceil(0.35 * g * g), math.floor(0.65 * g * g), math.ceil(0.3 * g * g)
    taken = np.asarray(earlier, dtype=bool).reshape(-1, g, g)  # compared at once, not in a loop
    out: list[np.ndarray] = []
    misses = 0
    while len(out) < count and misses < GLYPH_TRIES:
        glyph = rng.random((g, g)) < 0.5
        if lo <= glyph.sum() <= hi and bool(((taken != glyph).sum(axis=(1, 2)) >= min_dist).all()):
            out.append(glyph)
            taken = np.concatenate([taken, glyph[None]])
            misses = 0
        else:
            misses += 1
    return out


def _check_glyphs(m: SyntheticModality, fitted: int, needed: int, what: str) -> None:
    """Refuse a glyph world short of glyphs, naming the knobs that ask for them and the one
    that makes room."""
    if fitted < needed:
        raise ValueError(
            f"synthetic modality {m.name!r}: {what} = {needed} needs as many distinct "
            f"{m.glyph_size}x{m.glyph_size} glyphs, and only {fitted} fit ({GLYPH_TRIES:,} draws "
            f"in a row came too close to the others); raise {m.name}_glyph_size (now "
            f"{m.glyph_size}) or lower {what}"
        )


def _colours(rng: np.random.Generator, count: int, channels: int) -> np.ndarray:
    """u ~ N(0, I) rescaled to norm sqrt(channels): a random sign when there is one channel."""
    u = rng.standard_normal((count, channels))
    return u / np.linalg.norm(u, axis=1, keepdims=True) * math.sqrt(channels)


def _ripple_wave_vectors(n_classes: int) -> np.ndarray:
    """Class c = n_orient * j + i: orientation i * 180 / n_orient deg, density (1/6, 1/3)[j]."""
    n_orient = math.ceil(n_classes / 2)
    c = np.arange(n_classes)
    theta = (c % n_orient) * math.pi / n_orient
    nu = np.where(c // n_orient == 0, 1 / 6, 1 / 3)
    return np.stack([nu * np.cos(theta), nu * np.sin(theta)], axis=1)


def _world(seed: int, m: SyntheticModality, n_classes: int) -> dict[str, np.ndarray]:
    """Class templates of one modality, shared by all splits of a seed."""
    rng = _rng(seed + _WORLD_OFFSET, _name_key(m.name))
    if m.pattern == "ripple":
        return {"wave_vectors": _ripple_wave_vectors(n_classes)}
    if m.pattern == "vector":
        means = rng.standard_normal((n_classes, m.dim))
        return {"means": means / np.linalg.norm(means, axis=1, keepdims=True)}
    drawn = _draw_glyphs(rng, n_classes, m.glyph_size, [])
    _check_glyphs(m, len(drawn), n_classes, "n_classes")
    glyphs = np.stack(drawn)
    colours = _colours(rng, n_classes, m.channels)
    drawn = _draw_glyphs(rng, m.distractor_pool, m.glyph_size, drawn)
    pool_knobs = f"n_classes + {m.name}_distractor_pool"
    _check_glyphs(m, n_classes + len(drawn), n_classes + m.distractor_pool, pool_knobs)
    pool = np.stack(drawn)
    pool_colours = _colours(rng, m.distractor_pool, m.channels)
    return {
        "glyphs": glyphs,
        "colours": colours,
        "templates": _signed(glyphs, colours),
        "pool_templates": _signed(pool, pool_colours),
    }


def _signed(glyphs: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """The +-1 glyph pattern in each glyph's colour, ``u (2 G - 1)``: ``(count, C, g, g)``."""
    return colours[:, :, None, None] * (2.0 * glyphs[:, None] - 1.0)


# --------------------------------------------------------------------------------------------
# Per-split generation


def _ripples(wave_vectors: np.ndarray, phase: np.ndarray, size: int) -> np.ndarray:
    """cos(2 pi (k1 f + k2 t) + phi) for each sample's wave vector: ``(N, size, size)``."""
    f = np.arange(size, dtype=np.float64)
    arg = (
        wave_vectors[:, 0, None, None] * f[None, :, None]
        + wave_vectors[:, 1, None, None] * f[None, None, :]
    )
    return np.cos(2 * math.pi * arg + phase[:, None, None])


def _place(x: np.ndarray, patches: np.ndarray, corners: np.ndarray) -> None:
    """Add ``patches (N, C, g, g)`` into ``x (N, C, S, S)`` at top-left ``corners (N, 2)``."""
    g = patches.shape[-1]
    rows = corners[:, 0, None, None] + np.arange(g)[None, :, None]
    cols = corners[:, 1, None, None] + np.arange(g)[None, None, :]
    n = np.arange(len(x))[:, None, None]
    x.transpose(0, 2, 3, 1)[n, rows, cols] += patches.transpose(0, 2, 3, 1)


def _generate(
    m: SyntheticModality,
    world: Mapping[str, np.ndarray],
    target: np.ndarray,
    n_classes: int,
    task: str,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One modality of one split: ``(inputs float32, informative flags bool)``.

    The draws come in a fixed order (flags, other targets, noise, positions, distractors) so a
    knob changes only what it is about: e.g. raising ``informative`` keeps earlier flags set.
    """
    n = len(target)
    informative = rng.random(n) < m.informative
    other = rng.random(n) if task == "regression" else rng.integers(0, n_classes, n)
    noise = rng.standard_normal((n, *m.shape), dtype=np.float32).astype(np.float64)
    signal_target = np.where(informative, target, other)
    has_signal = informative | (m.uninformative == "random_class")
    amp = m.amplitude * has_signal  # per-sample amplitude, 0 where there is no signal

    if m.pattern == "ripple":
        phase = rng.random(n) * 2 * math.pi
        if task == "regression":
            theta = _REGRESSION_RIPPLE_SPAN * signal_target
            k = _REGRESSION_RIPPLE_DENSITY * np.stack([np.cos(theta), np.sin(theta)], axis=1)
        else:
            k = world["wave_vectors"][signal_target]
        x = noise + (amp[:, None, None] * _ripples(k, phase, m.size))[:, None]
    elif m.pattern == "vector":
        if task == "regression":
            mu = world["means"]
            centre = (1 - signal_target)[:, None] * mu[0] + signal_target[:, None] * mu[1]
        else:
            centre = world["means"][signal_target]
        x = noise + amp[:, None] * centre
    else:
        x = noise
        corners = rng.integers(0, m.size - m.glyph_size + 1, (n, 2))
        signs = world["templates"]
        if task == "regression":
            zz = signal_target[:, None, None, None]
            patches = (1 - zz) * signs[0] + zz * signs[1]
        else:
            patches = signs[signal_target]
        _place(x, amp[:, None, None, None] * patches, corners)
        pool = world["pool_templates"]
        for _ in range(m.distractors):
            which = rng.integers(0, len(pool), n)
            where = rng.integers(0, m.size - m.glyph_size + 1, (n, 2))
            _place(x, m.amplitude * pool[which], where)

    if m.uninformative == "blank":
        x[~informative] = 0.0
    return x.astype(np.float32), informative


def memory_bytes() -> int | None:
    """This machine's physical memory, or None where the OS does not say (Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_memory(mods: Sequence[SyntheticModality], sizes: Mapping[str, int]) -> None:
    """Refuse, before drawing, data larger than this machine's memory: numpy's MemoryError (or
    the kernel's out-of-memory kill) would name no knob. Counted: every split's float32
    inputs, plus the float64 work arrays (about three) of the largest split's largest draw."""
    values = {m.name: math.prod(m.shape) for m in mods}
    samples = sum(int(n) for n in sizes.values())
    need = 4 * samples * sum(values.values()) + 24 * max(values.values()) * max(sizes.values())
    total = memory_bytes()
    if total is None or need <= total:
        return
    m = max(mods, key=lambda mod: values[mod.name])
    side = "dim" if m.pattern == "vector" else "size"
    raise ValueError(
        f"synthetic data of this size needs about {need / 2**30:,.1f} GiB, more than this "
        f"machine's {total / 2**30:,.1f} GiB of memory ({m.name}: {samples:,} samples of shape "
        f"{m.shape}); lower {m.name}_{side} (now {getattr(m, side)}) or the sample counts "
        "n_train, n_validation, n_test"
    )


def _warn_untrained_classes(targets: torch.Tensor, n_classes: int) -> None:
    """Labels are drawn, not stratified, so a small n_train can miss a class: say so, since a
    model cannot learn it and the test score still counts it."""
    missing = sorted(set(range(n_classes)) - set(targets.tolist()))
    if missing:
        warnings.warn(
            f"synthetic: the train split ({len(targets)} samples) holds no sample of class(es) "
            f"{missing[:10]}, which a model cannot learn and the test score still counts; raise "
            "n_train",
            stacklevel=3,
        )


def _whole(value: Any) -> bool:
    """An integral number (2000 or 2000.0), not a bool: True is an int in Python, not a size."""
    return not isinstance(value, bool) and int(value) == value


# --------------------------------------------------------------------------------------------
# Public entry point


def make_synthetic(
    seed: int = 0,
    n_train: int = 2000,
    n_validation: int = 1000,
    n_test: int = 2000,
    n_classes: int = 10,
    task: str = "classification",
    modalities: Sequence[SyntheticModality | Mapping[str, Any]] | None = None,
    **knobs: Any,
) -> DatasetSplits:
    """Generate the synthetic dataset's three splits from ``seed``, with no files.

    ``modalities`` defaults to the calibrated audio (ripple) + visual (glyph) pair.
    ``knobs`` are flat per-modality overrides ``<modality>_<field>`` (``visual_amplitude=1.75``)
    so papermill parameters and sliders can move them; :data:`SYNTHETIC_DEFAULTS` lists them.
    ``info.extra`` holds the parameters, per-split ``informative`` flags, the class templates and
    the Bayes ceilings (classification) or MSE floors (regression).
    """
    if not _whole(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    sizes = {"train": n_train, "validation": n_validation, "test": n_test}
    for split, n in sizes.items():
        if not _whole(n) or n < 1:
            raise ValueError(f"n_{split} must be a positive integer, got {n!r}")
    if not _whole(n_classes) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    n_classes = int(n_classes)
    if task not in ("classification", "regression"):
        raise ValueError(f"unknown task {task!r}; valid tasks: ('classification', 'regression')")
    base = DEFAULT_MODALITIES if modalities is None else tuple(map(_as_modality, modalities))
    if not base:
        raise ValueError("need at least one modality")
    names = [m.name for m in base]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate modality names: {names}")
    mods = apply_knobs(base, knobs, SYNTHETIC_OPTIONS)
    _check_memory(mods, sizes)

    worlds = {m.name: _world(seed, m, n_classes) for m in mods}
    generated: dict[str, tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor]]] = {}
    for split_index, split in enumerate(SPLITS):
        n = int(sizes[split])
        label_rng = _rng(seed, split_index)
        if task == "regression":
            target = label_rng.random(n)
            targets = torch.from_numpy(target.astype(np.float32))
        else:
            target = label_rng.integers(0, n_classes, n)
            targets = torch.from_numpy(target).long()
        inputs, flags = {}, {}
        for m in mods:
            x, inf = _generate(
                m,
                worlds[m.name],
                target,
                n_classes,
                task,
                _rng(seed, split_index, _name_key(m.name)),
            )
            inputs[m.name], flags[m.name] = torch.from_numpy(x), torch.from_numpy(inf)
        generated[split] = (inputs, targets, flags)

    extra: dict[str, Any] = {
        "generator": "g2d_lite.data.synthetic",
        "params": {
            "seed": seed,
            **{f"n_{s}": int(n) for s, n in sizes.items()},
            "n_classes": n_classes,
            "task": task,
            **{k: v for m in mods for k, v in m.knobs().items()},
        },
        "modalities": tuple(asdict(m) for m in mods),
        "informative": {split: generated[split][2] for split in SPLITS},
        "templates": {
            name: {k: torch.from_numpy(v) for k, v in w.items()} for name, w in worlds.items()
        },
    }
    if task == "classification":
        extra["bayes_ceilings"] = bayes_ceilings(mods, n_classes)
    else:
        extra["mse_floors"] = mse_floors(mods)
    info = DatasetInfo(
        name="synthetic",
        modalities=tuple(m.spec() for m in mods),
        task=task,  # type: ignore[arg-type]
        class_names=tuple(f"class {c}" for c in range(n_classes))
        if task == "classification"
        else (),
        target_dim=1,
        extra=extra,
    )
    if task == "classification":
        _warn_untrained_classes(generated["train"][1], n_classes)
    datasets = {
        s: TensorMultimodalDataset(info, s, generated[s][0], generated[s][1]) for s in SPLITS
    }
    with warnings.catch_warnings():  # the missing class was named above, with its own fix
        warnings.filterwarnings("ignore", message=f".*{UNTRAINED_FIX}")
        return DatasetSplits(info, datasets["train"], datasets["validation"], datasets["test"])
