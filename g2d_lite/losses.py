"""The G²D loss (docs/method.md §1) and the ablation variants built from it.

    L = task_weight · L_task + Σ_m feature_weight · L_feat^m + Σ_m logit_weight · L_logit^m

Classification follows the official code (`student.py`) term for term: cross-entropy on the
fused logits, ``F.mse_loss`` between student and teacher features, and
``F.kl_div(log_softmax(l_s/T), softmax(l_t^m/T), "batchmean") · T²`` with the **fused** student
logits l_s on the student side. All weights default to 1 and T to 1, the official values.

Regression is ours (the paper claims it, the official code has none): the task loss is
MSE(ŷ_s, y), logit distillation is MSE(ŷ_s, ŷ_t^m) and feature distillation is unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from numbers import Real

import torch
import torch.nn.functional as F
from torch import Tensor

from g2d_lite.data.base import TASKS

# (feature_weight, logit_weight); "feature" is UMT, "ce" is joint training.
LOSS_VARIANTS: dict[str, tuple[float, float]] = {
    "ce": (0.0, 0.0),
    "feature": (1.0, 0.0),
    "logit": (0.0, 1.0),
    "g2d": (1.0, 1.0),
}
LOSS_ALIASES: dict[str, str] = {"joint": "ce", "umt": "feature"}


def loss_weights(name: str) -> tuple[float, float]:
    """Return ``(feature_weight, logit_weight)`` for a variant name or alias ("joint", "umt")."""
    key = LOSS_ALIASES.get(name, name)
    if key not in LOSS_VARIANTS:
        valid = sorted([*LOSS_VARIANTS, *LOSS_ALIASES])
        raise ValueError(f"unknown loss variant {name!r}; valid names: {valid}")
    return LOSS_VARIANTS[key]


def check_target(target: Tensor, task: str) -> None:
    """Raise a ValueError that says how to fix a task name or a target dtype that will not work.

    Classification needs class indices (an integer dtype, ideally torch.long); regression needs
    floating-point targets.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {TASKS}")
    is_index = not (target.is_floating_point() or target.is_complex() or target.dtype == torch.bool)
    if task == "classification" and not is_index:
        raise ValueError(
            f"classification targets must be class indices of an integer dtype (torch.long), "
            f"got {target.dtype}; pass target.long() (soft or one-hot targets are not supported)"
        )
    if task == "regression" and not target.is_floating_point():
        raise ValueError(
            f"regression targets must be floating point, got {target.dtype}; pass target.float()"
        )


def align_regression(
    prediction: Tensor, target: Tensor, name: str = "target"
) -> tuple[Tensor, Tensor]:
    """View regression outputs and targets as (B, d), turning (B,) into (B, 1), and check that
    the shapes agree (``F.mse_loss`` would otherwise broadcast silently to a wrong value)."""
    prediction = prediction.unsqueeze(1) if prediction.ndim == 1 else prediction
    target = target.unsqueeze(1) if target.ndim == 1 else target
    if prediction.shape != target.shape:
        raise ValueError(
            f"regression output shape {tuple(prediction.shape)} does not match {name} shape "
            f"{tuple(target.shape)}; expected (B, d) outputs for (B,) or (B, d) targets"
        )
    return prediction, target


def _check_features_not_swapped(
    student: Mapping[str, Tensor] | None, teacher: Mapping[str, Tensor] | None
) -> None:
    """Teacher features that carry a gradient beside student features that do not are the two
    swapped (they are the 2nd and 4th arguments): the loss would read the same, but the
    teacher side is detached, so the students' encoders would learn nothing from it."""
    for m, value in (teacher or {}).items():
        theirs = (student or {}).get(m)
        if value.requires_grad and isinstance(theirs, Tensor) and not theirs.requires_grad:
            raise ValueError(
                f"teacher_features[{m!r}] carries a gradient and student_features[{m!r}] does "
                "not: the two look swapped (the order is fused_logits, student_features, "
                "teacher_logits, teacher_features, target); with them swapped the students' "
                "encoders get no gradient from feature distillation"
            )


def g2d_loss(
    fused_logits: Tensor,
    student_features: Mapping[str, Tensor] | None,
    teacher_logits: Mapping[str, Tensor] | None,
    teacher_features: Mapping[str, Tensor] | None,
    target: Tensor,
    feature_weight: float = 1.0,
    logit_weight: float = 1.0,
    temperature: float = 1.0,
    task: str = "classification",
    task_weight: float = 1.0,
    *,
    check_teachers: bool = True,
) -> tuple[Tensor, dict[str, Tensor]]:
    """G²D loss: task loss on the fused output plus per-modality feature and logit distillation.

    Returns ``(total, parts)``. ``parts`` holds the detached, *unweighted* terms ``"task"``,
    ``"feature/<m>"`` and ``"logit/<m>"``. A family whose weight is 0 is not computed at all,
    so its teacher inputs (and ``student_features`` when ``feature_weight == 0``) may be None.
    Teacher tensors are detached: teachers are frozen constants, as in the official code.

    Classification: ``task = CE(l_s, y)``, ``feature/m = MSE(f_s^m, f_t^m)`` (element mean, as
    ``F.mse_loss``), ``logit/m = KL(softmax(l_t^m/T) ‖ softmax(l_s/T))`` with batchmean and T².
    Regression (the kit's definition): ``task = MSE(ŷ_s, y)``, ``logit/m = MSE(ŷ_s, ŷ_t^m)``
    (``temperature`` is unused), features as above; (B,) targets are compared with (B, 1) outputs.

    CPU teacher outputs holding NaN or inf, or logits that look like probabilities (they would
    be softmaxed twice), are refused; the trainer, whose teachers are the kit's models, passes
    ``check_teachers=False``, as the check reads values back (a host sync in the sync-free
    step).
    """
    weights = {"feature_weight": feature_weight, "logit_weight": logit_weight}
    for name, value in {**weights, "task_weight": task_weight}.items():
        _check_number(name, value, ">= 0", lambda v: v >= 0)
    _check_number("temperature", temperature, "> 0", lambda v: v > 0)
    _check_order(fused_logits, target, task)
    check_target(target, task)

    inputs: dict[str, Mapping[str, Tensor] | None] = {}
    if feature_weight > 0:
        inputs |= {"student_features": student_features, "teacher_features": teacher_features}
    if logit_weight > 0:
        inputs["teacher_logits"] = teacher_logits
    modalities = _same_modalities(inputs)
    if inputs and not modalities:
        raise ValueError(
            "the modality dicts are empty, so nothing would be distilled although "
            f"{' and '.join(n for n, w in weights.items() if w > 0)} > 0; pass "
            "{modality: tensor} for each modality, or set the weights to 0 for plain CE"
        )
    for name, outputs in inputs.items():
        for m, value in (outputs or {}).items():
            if not isinstance(value, Tensor):
                kind = f"{type(value).__module__}.{type(value).__qualname__}"
                raise TypeError(
                    f"{name}[{m!r}] is a {kind}, not a tensor: pass torch tensors "
                    "(torch.from_numpy(x) for a NumPy array)"
                )
    if feature_weight > 0:
        _check_features_not_swapped(student_features, teacher_features)
    if check_teachers:
        _check_teacher_values(
            teacher_logits if logit_weight > 0 else None,
            teacher_features if feature_weight > 0 else None,
            task,
        )

    if task == "classification":
        try:
            task_loss = F.cross_entropy(fused_logits, target.long())
        except IndexError as error:  # torch's "Target 3 is out of bounds" (CPU) names no fix
            raise _label_out_of_range(target, fused_logits.shape[1]) from error
    else:
        task_loss = F.mse_loss(*align_regression(fused_logits, target))
    total = task_weight * task_loss
    parts = {"task": task_loss.detach()}
    for m in modalities:
        if feature_weight > 0:
            term = _feature_kd(student_features[m], teacher_features[m].detach(), m)
            total = total + feature_weight * term
            parts[f"feature/{m}"] = term.detach()
        if logit_weight > 0:
            term = _logit_kd(fused_logits, teacher_logits[m].detach(), temperature, task, m)
            total = total + logit_weight * term
            parts[f"logit/{m}"] = term.detach()
    return total, parts


ORDER = "g2d_loss(fused_logits, student_features, teacher_logits, teacher_features, target)"


def _check_order(fused_logits: Tensor, target: Tensor, task: str) -> None:
    """Tensors where tensors go, with the shapes of one batch: arguments given in another
    order would otherwise fail far from the slip, or get a fix meant for another argument."""
    for name, value in (("fused_logits", fused_logits), ("target", target)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name} must be a tensor, got {type(value).__name__}; call {ORDER}")
    shapes = f"{tuple(fused_logits.shape)} and {tuple(target.shape)}"
    if task == "classification" and (fused_logits.ndim != 2 or target.ndim != 1):
        raise ValueError(
            "classification takes fused_logits of shape (B, C) and target of shape (B,), got "
            f"{shapes}; call {ORDER}"
        )
    if len(fused_logits) != len(target):
        raise ValueError(f"fused_logits and target hold different batch sizes ({shapes})")
    if len(target) == 0:
        raise ValueError("the batch is empty: a loss over no samples is NaN; pass at least one")


def _check_number(name: str, value: object, bound: str, within: Callable[[float], bool]) -> None:
    """A weight or temperature is a finite real number within its bound (NaN fails every
    comparison, and a string would fail inside math with a message naming no argument)."""
    if not isinstance(value, Real) or isinstance(value, bool):
        raise TypeError(
            f"{name} must be a finite number {bound}, got {value!r} (a {type(value).__name__})"
        )
    if not (math.isfinite(value) and within(value)):
        raise ValueError(f"{name} must be a finite number {bound}, got {value}")


def _check_teacher_values(
    logits: Mapping[str, Tensor] | None, features: Mapping[str, Tensor] | None, task: str
) -> None:
    """Teachers are frozen inputs: a non-finite value there is a damaged teacher (the loss would
    be NaN with no word why). Checked on the CPU only, like :func:`refuse_probabilities`."""
    for kind, outputs in (("logits", logits), ("features", features)):
        for m, value in (outputs or {}).items():
            if value.device.type == "cpu" and not bool(torch.isfinite(value).all()):
                raise ValueError(
                    f"the teacher {kind} of {m!r} hold NaN or inf: that teacher diverged or its "
                    "weights are damaged; retrain it (or pass the outputs of a sound one)"
                )
            if kind == "logits" and task == "classification":
                refuse_probabilities(m, value)


def refuse_probabilities(modality: str, logits: Tensor) -> None:
    """Probabilities given for logits would be put through a softmax a second time, which
    flattens them (a wrong distillation target, a wrong SMP ranking). Checked on the CPU only,
    where it is free; a GPU check would sync every batch."""
    if logits.device.type != "cpu" or logits.ndim != 2 or logits.shape[1] < 2:
        return
    if not logits.is_floating_point():
        return
    rows = logits.detach().sum(dim=1)
    in_range = bool(((logits >= 0) & (logits <= 1)).all())
    if in_range and bool(torch.allclose(rows, torch.ones_like(rows), atol=1e-4)):
        raise ValueError(
            f"the teacher outputs of {modality!r} look like probabilities (in [0, 1], each row "
            "summing to 1): pass the teacher's logits, the softmax is applied inside"
        )


def _label_out_of_range(target: Tensor, classes: int) -> ValueError:
    """Named only once cross_entropy fails: checking every batch up front would sync a GPU."""
    low, high = int(target.min()), int(target.max())
    return ValueError(
        f"target holds label {low if low < 0 else high}, but fused_logits has {classes} classes "
        f"(0..{classes - 1}); pass the labels of this batch, or a model with as many outputs as "
        "classes"
    )


def _same_modalities(inputs: Mapping[str, Mapping[str, Tensor] | None]) -> list[str]:
    """Modality names shared by every input dict, in the first dict's order; errors otherwise."""
    for name, value in inputs.items():
        family = "feature_weight" if "features" in name else "logit_weight"
        if value is None:
            raise ValueError(f"{name} is None but {family} > 0; pass it or set {family}=0")
        if not isinstance(value, Mapping):
            raise TypeError(
                f"{name} must be a dict {{modality: tensor}}, got {type(value).__name__}; "
                f"call {ORDER}"
            )
    if not inputs:
        return []
    (first, reference), *others = inputs.items()
    for name, value in others:
        if set(value) != set(reference):
            raise ValueError(
                f"{first} and {name} name different modalities: only in {first}: "
                f"{sorted(set(reference) - set(value))}, only in {name}: "
                f"{sorted(set(value) - set(reference))}"
            )
    return list(reference)


def _feature_kd(student: Tensor, teacher: Tensor, modality: str) -> Tensor:
    if student.shape != teacher.shape:
        raise ValueError(
            f"features of {modality!r}: student shape {tuple(student.shape)} != teacher shape "
            f"{tuple(teacher.shape)}; the student encoder must output the teacher's feature size"
        )
    return F.mse_loss(student, teacher)


def _logit_kd(student: Tensor, teacher: Tensor, temperature: float, task: str, m: str) -> Tensor:
    if task == "regression":
        return F.mse_loss(*align_regression(student, teacher, f"teacher output of {m!r}"))
    if len(student) != len(teacher):
        raise ValueError(
            f"the teacher logits of {m!r} are for {len(teacher)} samples, the fused logits for "
            f"{len(student)}: pass the teacher outputs of this batch"
        )
    if student.shape != teacher.shape:
        raise ValueError(
            f"logits of {m!r}: fused student shape {tuple(student.shape)} != teacher shape "
            f"{tuple(teacher.shape)}; student and teachers must predict the same classes"
        )
    log_p_student = F.log_softmax(student / temperature, dim=1)
    p_teacher = F.softmax(teacher / temperature, dim=1)
    return F.kl_div(log_p_student, p_teacher, reduction="batchmean") * temperature**2
