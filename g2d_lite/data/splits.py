"""Seeded, stratified splits: the same labels and seed always give the same index arrays."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real

import numpy as np


def stratified_split(
    labels: Sequence[int] | np.ndarray, fractions: Sequence[float], seed: int
) -> list[np.ndarray]:
    """Split ``range(len(labels))`` into ``len(fractions) + 1`` parts, class proportions kept.

    Part ``i`` gets exactly ``round(fractions[i] * N)`` samples (so a small dataset still gets
    a non-empty validation part), shared out over classes by largest remainder among the
    classes that still have samples left; the last part takes the rest. Each part's indices are
    sorted, so arrays never depend on class order.
    """
    labels = np.asarray(labels)
    if not all(isinstance(f, Real) and f >= 0 for f in fractions) or sum(fractions) >= 1:
        raise ValueError(f"fractions must be non-negative and sum to less than 1, got {fractions}")
    sizes = [round(fraction * len(labels)) for fraction in fractions]
    if sum(sizes) > len(labels):
        raise ValueError(
            f"fractions {list(fractions)} ask for {sum(sizes)} of {len(labels)} samples "
            "once rounded; give smaller fractions"
        )
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    shuffled = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    taken = np.zeros(len(classes), dtype=np.int64)
    parts: list[np.ndarray] = []
    for fraction, size in zip(fractions, sizes, strict=True):
        quota = _apportion(counts * fraction, size, counts - taken)
        chosen = [
            shuffled[c][start : start + n]
            for c, start, n in zip(classes, taken, quota, strict=True)
        ]
        taken += quota
        parts.append(np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64))
    rest = [shuffled[c][start:] for c, start in zip(classes, taken, strict=True)]
    parts.append(np.sort(np.concatenate(rest)) if rest else np.zeros(0, np.int64))
    return [p.astype(np.int64) for p in parts]


def _apportion(shares: np.ndarray, total: int, room: np.ndarray) -> np.ndarray:
    """Integers summing to ``total``, none above its class's ``room``: the floors of the
    real-valued ``shares``, then one more at a time by largest remainder (ties to the class
    listed first, so the result is deterministic), skipping classes that are full."""
    floor = np.floor(shares).astype(np.int64)
    quota = np.minimum(floor, room)
    order = np.argsort(-(shares - floor), kind="stable")
    short = total - int(quota.sum())
    while short > 0:
        for c in order:
            if short and quota[c] < room[c]:
                quota[c] += 1
                short -= 1
    return quota
