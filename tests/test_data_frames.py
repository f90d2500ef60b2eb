"""Which video frames the caches keep (the official ``video2frame_update`` rule and the older
first-of-second rule) and which one the loaders then show, and exact split quotas."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from g2d_lite.data.readers import official_frame_picks
from g2d_lite.data.splits import stratified_split
from g2d_lite.data.video import FRAME_RULES, frame_step, frames_per_second
from tests.data_fixtures import write_video

NTSC = Fraction(30000, 1001)  # 29.97 fps
WIDTH = 16  # frame i carries a white bar i % WIDTH pixels wide
# (rate, frames in the clip) -> frames kept by (official, first-of-second)
COUNTS = {
    (25, 24): (1, 1),
    (25, 25): (1, 1),
    (25, 26): (2, 2),
    (25, 60): (3, 3),
    (25, 75): (3, 3),
    (NTSC, 29): (1, 1),
    (NTSC, 30): (2, 1),
    (NTSC, 58): (2, 2),
    (NTSC, 59): (3, 2),
    (NTSC, 60): (3, 2),
    (NTSC, 90): (4, 3),
    (30, 30): (1, 1),
    (30, 31): (2, 2),
    (30, 60): (2, 2),
    (30, 90): (3, 3),
}


def clip(folder: Path, rate: int | Fraction, frames: int) -> Path:
    path = folder / f"clip_{float(rate):.2f}_{frames}.mp4"
    if not path.exists():
        write_video(path, frames / float(rate), 1, fps=rate, size=(WIDTH, WIDTH))
    return path


def bar_width(frame: np.ndarray) -> int:
    """Which source frame a stored frame was (modulo WIDTH), read from its white bar."""
    return int((frame[WIDTH // 2, :, 0] > 200).sum())


@pytest.mark.parametrize(
    ("rate", "frames"), list(COUNTS), ids=[f"{float(r):.2f}fps-{n}" for r, n in COUNTS]
)
def test_frames_kept_per_rule(tmp_path_factory, rate, frames):
    path = clip(tmp_path_factory.getbasetemp(), rate, frames)
    kept = {rule: frames_per_second(path, (WIDTH, WIDTH), rule) for rule in FRAME_RULES}
    assert (len(kept["official"]), len(kept["first-of-second"])) == COUNTS[(rate, frames)]
    step = frame_step(float(rate))
    assert [bar_width(f) for f in kept["official"]] == [i % WIDTH for i in range(0, frames, step)]


def test_official_rule_then_seeded_choice_shows_frame_29_of_an_ntsc_clip(tmp_path):
    """60 frames at 29.97 fps: the official rule keeps frames 0, 29, 58, and the loader's
    seeded choice (np.random.seed(999); choice over 3) shows frame 29; the first-of-second rule
    keeps 0 and 30, and the same choice over 2 shows frame 30."""
    path = clip(tmp_path, NTSC, 60)
    for rule, source in (("official", [0, 29, 58]), ("first-of-second", [0, 30])):
        frames = frames_per_second(path, (WIDTH, WIDTH), rule)
        np.random.seed(999)
        official_pick = int(np.random.choice(len(source), size=1, replace=False)[0])
        shown = frames[official_frame_picks(np.array([len(frames)]), 1)[0, 0]]
        assert bar_width(shown) == source[official_pick] % WIDTH, rule
    assert frame_step(float(NTSC)) == 29


def test_unknown_rule_and_sub_1_fps_are_refused(tmp_path):
    path = clip(tmp_path, 25, 25)
    with pytest.raises(ValueError, match="valid rules: official, first-of-second"):
        frames_per_second(path, (WIDTH, WIDTH), "every-frame")
    with pytest.raises(ValueError, match="below 1"):
        frame_step(0.5)


@pytest.mark.parametrize("seed", range(5))
def test_split_quotas_are_exact_on_small_inputs(seed):
    rng = np.random.default_rng(seed)
    cases = [
        ([0, 0, 1], [0.34, 0.33]),
        ([0, 1, 2, 3, 4], [0.2, 0.2, 0.2]),
        ([5] * 7 + [6], [0.45, 0.45]),
    ]
    cases += [
        (rng.integers(0, 6, int(rng.integers(3, 40))).tolist(), [0.3, 0.3]) for _ in range(40)
    ]
    for labels, fractions in cases:
        parts = stratified_split(labels, fractions, seed)
        n = len(labels)
        assert [len(p) for p in parts[:-1]] == [round(f * n) for f in fractions], (
            labels,
            fractions,
        )
        assert sorted(np.concatenate(parts).tolist()) == list(range(n))


def test_split_keeps_class_shares_and_refuses_fractions_that_round_past_n():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    validation, test, train = stratified_split(labels, [0.1, 0.2], seed=0)
    assert [np.bincount(labels[p], minlength=3).tolist() for p in (validation, test)] == [
        [5, 3, 2],
        [10, 6, 4],
    ]
    assert len(train) == 70
    with pytest.raises(ValueError, match="give smaller fractions"):
        stratified_split([0, 1, 2, 3, 4], [0.3, 0.3, 0.3], seed=0)
