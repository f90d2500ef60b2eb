"""torch.distributed support: launched by ``torchrun``, a no-op in a single process.

Every rank sees an equal slice of each global batch. SMP and OGM decide on the whole global
batch (their inputs are gathered from all ranks first), so every rank masks the same encoder
and the replicas never drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in a (possibly single-process) job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistContext:
    """Join the process group torchrun describes in the environment (gloo on CPU, NCCL on CUDA)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistContext()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def gather_cat(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Concatenate equally shaped tensors from every rank, in rank order (identity when alone)."""
    if not ctx.enabled:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(ctx.world_size)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op when alone)."""
    if ctx.enabled:
        dist.barrier()


def broadcast_buffers(module: torch.nn.Module, ctx: DistContext) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP syncs buffers at the start of each forward, so after an epoch every rank holds the
    statistics of its own last batch; syncing before evaluation keeps the replicas identical.
    """
    if ctx.enabled:
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)
