"""Evaluation: predictions of a teacher or student over a split, and their metrics.

Classification reports accuracy (%) of the fused logits and of every branch (the paper's
"unimodal accuracy inside multimodal training"); regression reports mean absolute error.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from g2d_lite.api_checks import positive_int
from g2d_lite.batches import batch_order, iterate_batches
from g2d_lite.data.base import TASKS, DatasetSplits, MultimodalDataset
from g2d_lite.data.validate import check_inputs
from g2d_lite.devices import resolve_device
from g2d_lite.models.classifiers import UnimodalClassifier


@dataclass
class Predictions:
    """Outputs over a whole split, on CPU, in dataset order."""

    logits: torch.Tensor
    branch_logits: dict[str, torch.Tensor] | None
    features: dict[str, torch.Tensor]
    targets: torch.Tensor


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when enabled; a no-op elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def predict(
    model: nn.Module,
    dataset: MultimodalDataset,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    amp: bool = False,
    num_workers: int = 0,
) -> Predictions:
    """Run ``model`` (eval mode) over ``dataset``; works for teachers and students alike."""
    positive_int("batch_size", batch_size)
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"predict and evaluate take a model, e.g. run.model, got {type(model).__name__}"
        )
    if isinstance(dataset, DatasetSplits):
        raise TypeError("predict and evaluate take one split, e.g. data.test, not DatasetSplits")
    if not hasattr(dataset, "info"):  # a split's name ("test") or arrays given for the split
        shown = repr(dataset) if isinstance(dataset, str) else type(dataset).__name__
        raise TypeError(
            f"predict and evaluate take one split of the data, e.g. data.test, got {shown}"
        )
    _check_model_fits(model, dataset)
    device = torch.device("cpu") if device is None else resolve_device(device)
    was_training = model.training
    model.eval()
    logits, targets = [], []
    features: dict[str, list[torch.Tensor]] = {}
    branches: dict[str, list[torch.Tensor]] | None = {}
    order = batch_order(len(dataset), batch_size, shuffle=False)
    for batch in iterate_batches(dataset, order, num_workers=num_workers):
        batch = batch.to(device)
        with autocast(device, amp):
            out = model(batch.inputs)
        if isinstance(model, UnimodalClassifier):
            feats, branch, fused = {model.modality: out.features}, None, out.logits
        else:
            feats, branch, fused = out.features, out.branch_logits, out.logits
        logits.append(fused.float().cpu())
        targets.append(batch.targets.cpu())
        for m, f in feats.items():
            features.setdefault(m, []).append(f.float().cpu())
        if branch is None:
            branches = None
        elif branches is not None:
            for m, b in branch.items():
                branches.setdefault(m, []).append(b.float().cpu())
    model.train(was_training)
    fused = torch.cat(logits)
    if not bool(torch.isfinite(fused).all()):
        _check_inputs_finite(dataset)
    return Predictions(
        fused,
        None if branches is None else {m: torch.cat(v) for m, v in branches.items()},
        {m: torch.cat(v) for m, v in features.items()},
        torch.cat(targets),
    )


def _check_inputs_finite(dataset: MultimodalDataset) -> None:
    """Non-finite outputs from non-finite inputs: name the inputs, not the model (checked only
    once the outputs are bad, so a healthy evaluation pays nothing)."""
    tensors = dataset.as_tensors()
    if tensors is not None:
        for name, tensor in tensors[0].items():
            check_inputs(
                name, tensor.float(), f"{dataset.info.name}/{getattr(dataset, 'split', 'data')}"
            )


def _check_model_fits(model: nn.Module, dataset: MultimodalDataset) -> None:
    """The model reads modalities the data have (a KeyError from inside forward says neither
    which model nor which data)."""
    if isinstance(model, UnimodalClassifier):
        reads = [model.modality]
    else:
        reads = list(getattr(model, "encoders", {}))
    missing = [m for m in reads if m not in dataset.info.modality_names]
    if missing:
        raise ValueError(
            f"the model reads {missing}, which {dataset.info.name} does not have (it has "
            f"{', '.join(dataset.info.modality_names)}): evaluate a model on the data it was "
            "trained on"
        )
    dtypes = sorted({str(p.dtype) for p in model.parameters() if p.dtype != torch.float32})
    if dtypes:
        raise TypeError(
            f"the model's weights are {', '.join(dtypes)}, but the kit's data are float32: "
            "call model.float() first (amp=True gives mixed precision with float32 weights)"
        )


def score(outputs: torch.Tensor, targets: torch.Tensor, task: str) -> float:
    """Accuracy in % (classification) or mean absolute error (regression)."""
    metric_name(task)  # an unknown task is refused, not scored as regression
    if not isinstance(outputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError(
            f"score takes torch tensors, got {type(outputs).__name__} outputs and "
            f"{type(targets).__name__} targets: wrap numpy arrays with torch.as_tensor"
        )
    if len(outputs) != len(targets):
        raise ValueError(
            f"{len(outputs)} outputs for {len(targets)} targets: score the predictions of one "
            "split with that split's targets"
        )
    if len(targets) == 0:
        raise ValueError("no samples to score: the split (or the selection of it) is empty")
    if task == "classification" and outputs.ndim != 2:
        raise ValueError(
            f"classification outputs are (N, classes) logits, got shape {tuple(outputs.shape)}: "
            "pass the model's logits, not its predicted labels"
        )
    if task == "classification" and targets.ndim != 1:
        raise ValueError(
            f"classification targets are (N,) class indices, got shape {tuple(targets.shape)}: "
            "for one-hot labels pass targets.argmax(1)"
        )
    if (task == "classification") == targets.is_floating_point():
        kind = "class indices (integers)" if task == "classification" else "numbers (floats)"
        raise ValueError(
            f"{task} targets are {kind}, got {targets.dtype}: is the task right for these data?"
        )
    if not bool(torch.isfinite(outputs).all()):
        raise ValueError(
            "the outputs hold NaN or inf values, which score as a plausible class; the model "
            "diverged (lower the lr) or its weights are damaged"
        )
    if task == "classification":
        return (outputs.argmax(dim=1) == targets).float().mean().item() * 100.0
    return (
        (outputs.reshape(targets.shape[0], -1) - targets.reshape(targets.shape[0], -1))
        .abs()
        .mean()
        .item()
    )


def metric_name(task: str) -> str:
    """``acc`` for classification, ``mae`` for regression: the key used in every history."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {TASKS}")
    return "acc" if task == "classification" else "mae"


def metrics(pred: Predictions, task: str) -> dict[str, float]:
    """``{"acc": fused, "acc/<m>": branch m, "loss": task loss}`` (``mae`` for regression)."""
    name = metric_name(task)
    result = {name: score(pred.logits, pred.targets, task)}
    if task == "classification":
        result["loss"] = F.cross_entropy(pred.logits, pred.targets).item()
    else:
        result["loss"] = F.mse_loss(
            pred.logits.reshape(len(pred.targets), -1), pred.targets.reshape(len(pred.targets), -1)
        ).item()
    for m, b in (pred.branch_logits or {}).items():
        result[f"{name}/{m}"] = score(b, pred.targets, task)
    return result


def evaluate(
    model: nn.Module,
    dataset: MultimodalDataset,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    amp: bool = False,
) -> dict[str, float]:
    """Metrics of ``model`` on ``dataset`` (see :func:`metrics`)."""
    return metrics(predict(model, dataset, batch_size, device, amp), dataset.info.task)
