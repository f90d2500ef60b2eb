"""Seeded, stratified splits: the same labels and seed always give the same index arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stratified_split(
    labels: Sequence[int] | np.ndarray, fractions: Sequence[float], seed: int
) -> list[np.ndarray]:
    """Split ``range(len(labels))`` into ``len(fractions) + 1`` parts, class proportions kept.

    Part ``i`` gets ``round(fractions[i] * N)`` samples overall (so a small dataset still gets
    a non-empty validation part), shared out over classes by largest remainder; the last part
    takes the rest. Each part's indices are sorted, so arrays never depend on class order.
    """
    labels = np.asarray(labels)
    if sum(fractions) >= 1 or min(fractions, default=0) < 0:
        raise ValueError(f"fractions must be non-negative and sum to less than 1, got {fractions}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    shuffled = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    taken = dict.fromkeys(classes, 0)
    parts: list[np.ndarray] = []
    for fraction in fractions:
        quota = _largest_remainder(counts * fraction, round(fraction * len(labels)))
        chosen = []
        for c, n in zip(classes, quota, strict=True):
            chosen.append(shuffled[c][taken[c] : taken[c] + n])
            taken[c] += n
        parts.append(np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64))
    rest = [shuffled[c][taken[c] :] for c in classes]
    parts.append(np.sort(np.concatenate(rest)) if rest else np.zeros(0, np.int64))
    return [p.astype(np.int64) for p in parts]


def _largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    """Integers that sum to ``total``, each within one of the matching real-valued share."""
    floor = np.floor(shares).astype(np.int64)
    short = total - int(floor.sum())
    if short > 0:
        # Stable sort: ties go to the class listed first, so the result is deterministic.
        order = np.argsort(-(shares - floor), kind="stable")
        floor[order[:short]] += 1
    return floor
