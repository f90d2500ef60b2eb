"""The training step without host synchronisation: balancing decisions made on the device.

On a GPU a step that reads one number back (``loss.item()``, ``if not torch.isfinite(loss)``, a
Python ``min`` over confidences) waits for every queued kernel before the next launch, so at the
paper's batch of 16 the GPU idles while Python decides. Here SMP's and OGM's coefficients κ are
device tensors computed with the same arithmetic as :mod:`g2d_lite.smp` (so the decisions, and
the weights, are the same bit for bit), applied to the gradients with foreach ops; the NaN/inf
check is a device flag read once per epoch (:class:`NonFiniteWatch`); per-step logs stay device
tensors until the epoch ends (:func:`materialise`).

What cannot be decided on the device falls outside: ``smp_mode="skip"`` (whether a gradient
exists is host state) and OGM-GE's ``noise="modulated"`` (which gradients draw noise depends on
κ) need the eager step; :func:`check_supported` says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from g2d_lite.smp import _TINY, OGM, SMP, scoped_parameters, teacher_confidence_sums


def check_supported(smp: SMP | None, ogm: OGM | None) -> None:
    """Refuse, with the fix, settings whose decisions need the host."""
    if smp is not None and smp.mode == "skip":
        raise ValueError(
            "step_mode='sync_free' needs smp_mode='zero' (with 'skip' the host decides which "
            "gradients to drop); use step_mode='eager'"
        )
    if ogm is not None and ogm.gradient_noise and ogm.noise != "both":
        raise ValueError(
            "step_mode='sync_free' needs ogm_noise='both' (with 'modulated' the host decides "
            "which gradients draw noise); use step_mode='eager'"
        )


def confidence(
    logits: Mapping[str, Tensor], target: Tensor, task: str = "classification"
) -> Tensor:
    """ρ^m of every modality as one float64 device tensor, as
    :func:`g2d_lite.smp.confidence_from_sums` computes it."""
    sums, count = teacher_confidence_sums(logits, target, task)
    means = torch.stack([s.detach().double() for s in sums.values()]) / float(count)
    return 1.0 / (1.0 + means) if task == "regression" else means


def smp_kappa(smp: SMP, rho: Tensor | None, names: Sequence[str], epoch: int) -> Tensor:
    """:meth:`SMP.coefficients` as a device tensor: the least confident modality leads, a tie
    keeps every modality active, the others are suppressed completely or partially."""
    device = rho.device if rho is not None else torch.device("cpu")
    if smp.schedule == "staged":  # decided by the epoch alone: host values, copied over
        kappa = smp.coefficients(None, epoch)
        return torch.tensor([kappa[m] for m in names], dtype=torch.float64, device=device)
    ones = torch.ones(len(names), dtype=torch.float64, device=device)
    if rho is None or len(names) < 2 or not smp.active(epoch):
        return ones
    lowest = rho.min()
    leaders = rho == lowest
    if smp.suppression == "complete":
        chosen = leaders.double()
    else:
        lead = lowest.clamp_min(_TINY)
        chosen = torch.where(leaders, ones, 1.0 - torch.tanh(smp.alpha * rho / lead))
    return torch.where(leaders.sum() > 1, ones, chosen)


def ogm_kappa(ogm: OGM, branch_logits: Mapping[str, Tensor], target: Tensor, epoch: int) -> Tensor:
    """:meth:`OGM.coefficients` as a device tensor: every modality whose score exceeds the mean
    of the others' is damped by 1 − tanh(α · ratio)."""
    names = list(branch_logits)
    device = target.device
    ones = torch.ones(len(names), dtype=torch.float64, device=device)
    if len(names) < 2 or not ogm.active(epoch):
        return ones
    sums, _ = teacher_confidence_sums(branch_logits, target)
    scores = torch.stack(list(sums.values())).double()
    others = []
    for m in range(len(names)):  # summed in the eager rule's order, so the values match bitwise
        total = torch.zeros((), dtype=torch.float64, device=device)
        for n in range(len(names)):
            if n != m:
                total = total + scores[n]
        others.append(total / (len(names) - 1))
    ratio = scores / torch.stack(others).clamp_min(_TINY)
    return torch.where(ratio > 1, 1.0 - torch.tanh(ogm.alpha * ratio), ones)


def _grads(module: nn.Module, scope: str) -> list[Tensor]:
    return [p.grad for p in scoped_parameters(module, scope) if p.grad is not None]


def scale_gradients(encoders: Mapping[str, nn.Module], kappa: Tensor, scope: str) -> None:
    """Multiply each encoder's scoped gradients by its κ (a device scalar; κ = 1 is exact)."""
    for i, module in enumerate(encoders.values()):
        grads = _grads(module, scope)
        if grads:
            torch._foreach_mul_(grads, kappa[i].to(grads[0].dtype))


def ogm_apply(
    ogm: OGM,
    encoders: Mapping[str, nn.Module],
    kappa: Tensor,
    epoch: int,
    generator: torch.Generator | None,
) -> None:
    """:meth:`OGM.apply` with a device κ: scale, and with GE add N(0, std(grad) + 1e-8) noise to
    every modality, drawing in the eager rule's order."""
    if not ogm.active(epoch):
        return
    for i, module in enumerate(encoders.values()):
        for grad in _grads(module, ogm.scope):
            if ogm.gradient_noise:
                std = grad.std() + 1e-8
                noise = torch.randn(
                    grad.shape, generator=generator, device=grad.device, dtype=grad.dtype
                )
                grad.mul_(kappa[i]).add_(noise.mul_(std))
            else:
                grad.mul_(kappa[i])


class NonFiniteWatch:
    """The first step of an epoch whose loss was NaN or infinite, kept on the device and read
    once, when the epoch ends."""

    def __init__(self, device: torch.device) -> None:
        self.first_bad = torch.full((), -1, dtype=torch.long, device=device)
        self.step = torch.zeros((), dtype=torch.long, device=device)

    def observe(self, loss: Tensor) -> None:
        """Note this step's loss, without a host sync."""
        bad = ~torch.isfinite(loss.detach())
        self.first_bad = torch.where(bad & (self.first_bad < 0), self.step, self.first_bad)
        self.step += 1

    def first_bad_step(self) -> int | None:
        """The epoch's first non-finite step, counted from the epoch's first step (the one read
        of the epoch), or ``None``; the watch then starts over for the next epoch."""
        bad = int(self.first_bad)
        self.first_bad.fill_(-1)
        self.step.zero_()
        return None if bad < 0 else bad


def materialise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-step log rows with device-tensor values turned into floats, in one transfer."""
    tensors = [
        (i, k) for i, row in enumerate(records) for k, v in row.items() if isinstance(v, Tensor)
    ]
    if not tensors:
        return records
    values = torch.stack([records[i][k].detach().double() for i, k in tensors]).cpu().tolist()
    rows = [dict(row) for row in records]
    for (i, k), value in zip(tensors, values, strict=True):
        rows[i][k] = value
    return rows
