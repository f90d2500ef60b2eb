"""Mini-batches with the sample indices attached (cached teacher outputs are looked up by index).

In-memory datasets are sliced as whole tensors (no per-sample Python work, no DataLoader);
on-disk datasets go through a DataLoader that follows the same index order. Under
torch.distributed each rank takes an equal share of every global batch, padding the order by
wrapping around as ``DistributedSampler`` does, so gathered batches always line up.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset

from g2d_lite.data.base import MultimodalDataset
from g2d_lite.seeding import epoch_generator


class Batch(NamedTuple):
    """Inputs by modality, targets, and the samples' dataset indices (for cached teachers)."""

    inputs: dict[str, torch.Tensor]
    targets: torch.Tensor
    indices: torch.Tensor

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        """Move inputs and targets to ``device`` (indices stay on CPU for cache lookups)."""
        return Batch(
            {m: x.to(device, non_blocking=non_blocking) for m, x in self.inputs.items()},
            self.targets.to(device, non_blocking=non_blocking),
            self.indices,
        )


def batch_order(
    n: int,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    epoch: int = 0,
    drop_last: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> list[torch.Tensor]:
    """This rank's index batches for one epoch; depends only on the arguments."""
    order = (
        torch.randperm(n, generator=epoch_generator(seed, epoch)) if shuffle else torch.arange(n)
    )
    global_batch = batch_size * world_size
    if drop_last:
        order = order[: (n // global_batch) * global_batch]
    elif world_size > 1 and n % world_size:
        order = torch.cat([order, order[: world_size - n % world_size]])
    batches = []
    for start in range(0, len(order), global_batch):
        chunk = order[start : start + global_batch]
        batches.append(chunk[rank::world_size])
    return [b for b in batches if len(b)]


class _Indexed(Dataset):
    """Adds the sample index to each item so DataLoader batches carry it."""

    def __init__(self, dataset: MultimodalDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[dict[str, torch.Tensor], torch.Tensor, int]:
        inputs, target = self.dataset[index]
        return inputs, target, index


def iterate_batches(
    dataset: MultimodalDataset,
    batches: Sequence[torch.Tensor],
    num_workers: int = 0,
    pin_memory: bool = False,
) -> Iterator[Batch]:
    """Yield :class:`Batch` es for precomputed index ``batches`` (from :func:`batch_order`)."""
    tensors = dataset.as_tensors()
    if tensors is not None:
        inputs, targets = tensors
        for idx in batches:
            yield Batch({m: x[idx] for m, x in inputs.items()}, targets[idx], idx)
        return
    loader = DataLoader(
        _Indexed(dataset),
        batch_sampler=[b.tolist() for b in batches],
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=False,
    )
    for inputs, targets, idx in loader:
        yield Batch(inputs, targets, idx)
