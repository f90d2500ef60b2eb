"""Sequential Modality Prioritization (SMP, docs/method.md §2) and the OGM / OGM-GE baselines (§3).

Both work in two steps each batch. ``coefficients`` turns per-modality confidences into
coefficients κ^m. ``apply``, called after ``loss.backward()`` and before ``optimizer.step()``,
multiplies each encoder's scoped gradients by its κ^m.

SMP ranks modalities by the frozen *teachers'* true-class confidence and lets the least
confident one lead (κ = 1) while the others are suppressed. OGM ranks them by the *student
branches'* scores and damps the dominant ones softly.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import ItemsView, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from g2d_lite.data.base import TASKS
from g2d_lite.losses import align_regression, check_target, refuse_probabilities

SCOPES: tuple[str, ...] = ("conv", "all")
MODES: tuple[str, ...] = ("zero", "skip")
SCHEDULES: tuple[str, ...] = ("batch", "staged")
SUPPRESSIONS: tuple[str, ...] = ("complete", "partial")
OGM_NOISES: tuple[str, ...] = ("both", "modulated")

_TINY = 1e-12  # keeps confidence ratios finite when a confidence underflows to 0


def _check_choice(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid {name}s: {valid}")


def scoped_parameters(module: nn.Module, scope: str) -> list[nn.Parameter]:
    """Parameters of ``module`` whose gradients SMP/OGM modulate.

    "conv" (faithful): the 4-D parameters, i.e. convolution kernels including 1×1 downsample
    convolutions, exactly the official code's ``p.dim() == 4`` test; BatchNorm and linear layers
    keep learning. A module without any 4-D parameter (an MLP encoder for vector modalities)
    falls back to its 2-D weight matrices, biases excluded. Conv1d/Conv3d kernels are not 4-D:
    use "all" for such encoders. "all": every parameter of the module.
    """
    _check_choice("scope", scope, SCOPES)
    params = list(module.parameters())
    if scope == "all":
        return params
    return [p for p in params if p.ndim == 4] or [p for p in params if p.ndim == 2]


def teacher_confidence_sums(
    teacher_logits: Mapping[str, Tensor], target: Tensor, task: str = "classification"
) -> tuple[dict[str, Tensor], int]:
    """Per-modality confidence *sums* and their count, ready to be all-reduced across DDP ranks.

    Classification: the sum over the batch of softmax(l^m)[i, y_i] (vectorised with gather),
    count = batch size. Regression: the sum of squared errors (ŷ^m − y)², count = target
    elements. Finish with :func:`confidence_from_sums` once sums and counts are reduced, so that
    every rank sees the same confidences and makes the same SMP decision.
    """
    check_target(target, task)
    sums = {}
    for m, logits in teacher_logits.items():
        logits = logits.detach().float()
        if task == "classification":
            index = target.long().view(-1, 1)
            sums[m] = F.softmax(logits, dim=1).gather(1, index).sum()
        else:
            prediction, y = align_regression(logits, target.float(), "target")
            sums[m] = (prediction - y).pow(2).sum()
    count = target.shape[0] if task == "classification" else target.numel()
    return sums, count


def confidence_from_sums(
    sums: Mapping[str, Tensor], count: int | Tensor, task: str = "classification"
) -> dict[str, float]:
    """Turn (reduced) sums into ρ^m: the mean true-class probability for classification (the
    paper's ρ), and 1 / (1 + mean squared error) for regression (the kit's definition)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {TASKS}")
    if isinstance(count, int) and count < 1:  # a tensor count is on the device: not read here
        raise ValueError(f"count is the number of samples the sums cover, at least 1; got {count}")
    means = (torch.stack([s.detach().double() for s in sums.values()]) / float(count)).tolist()
    if task == "regression":
        means = [1.0 / (1.0 + mse) for mse in means]
    return dict(zip(sums, means, strict=True))


def teacher_confidence(
    teacher_logits: Mapping[str, Tensor], target: Tensor, task: str = "classification"
) -> dict[str, float]:
    """Per-batch teacher confidence ρ^m (docs/method.md §2).

    Classification: ρ^m = mean_i softmax(l_t^m)[i, y_i] (the official code sums instead of
    averaging; the ordering is the same). Regression: ρ^m = 1 / (1 + mean_i (ŷ_t^m,i − y_i)²).
    """
    _check_confidence_inputs(teacher_logits, target, task)
    sums, count = teacher_confidence_sums(teacher_logits, target, task)
    rho = confidence_from_sums(sums, count, task)
    unknown = [m for m, r in rho.items() if not math.isfinite(r)]
    if unknown:
        raise ValueError(
            f"the logits of {unknown} hold NaN or inf, so their confidence is unknown and SMP "
            "could not choose a leader; that teacher diverged or its weights are damaged"
        )
    return rho


def _check_confidence_inputs(teacher_logits: object, target: object, task: str) -> None:
    """A dict of (B, C) logits and (B,) labels within C, or say which part is not."""
    call = "teacher_confidence({modality: logits (B, C)}, target (B,))"
    if not isinstance(teacher_logits, Mapping) or not isinstance(target, Tensor):
        raise TypeError(
            f"got {type(teacher_logits).__name__} and {type(target).__name__}; call {call}"
        )
    check_target(target, task)
    if len(target) == 0:
        raise ValueError("the batch is empty: a confidence needs at least one sample")
    if not teacher_logits:
        raise ValueError(f"teacher_logits names no modality; call {call} with one per modality")
    # the label range once per batch, on the CPU only (free there); a GPU run's labels were
    # checked where its data was made
    labels = None
    if task == "classification" and target.device.type == "cpu" and len(target):
        labels = int(target.min()), int(target.max())
    for m, logits in teacher_logits.items():
        if not isinstance(logits, Tensor) or len(logits) != len(target):
            shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
            raise ValueError(f"logits of {m!r}: {shape} for {len(target)} targets; call {call}")
        if task != "classification":
            continue
        if logits.ndim != 2 or target.ndim != 1:
            raise ValueError(
                f"logits of {m!r} {tuple(logits.shape)} and target {tuple(target.shape)}: "
                f"call {call}"
            )
        if logits.shape[1] == 0:
            raise ValueError(
                f"the logits of {m!r} have no class column (shape {tuple(logits.shape)}): a "
                "classifier gives one logit per class; check the slice or the model's head"
            )
        if labels is None:
            continue
        refuse_probabilities(m, logits)
        (low, high), classes = labels, logits.shape[1]
        if low < 0 or high >= classes:
            raise ValueError(
                f"labels range over {low}..{high}, but the logits of {m!r} have {classes} "
                f"classes; labels must be class indices 0..{classes - 1}"
            )


def _matched(encoders: Mapping[str, nn.Module], kappa: Mapping[str, float]) -> ItemsView:
    for name, value in (("encoders", encoders), ("kappa", kappa)):
        if not isinstance(value, Mapping | nn.ModuleDict):
            raise TypeError(
                f"{name} must be a dict keyed by modality (e.g. model.encoders), got "
                f"{type(value).__name__}"
            )
    unknown, missing = sorted(set(kappa) - set(encoders)), sorted(set(encoders) - set(kappa))
    if unknown or missing:
        raise ValueError(
            f"kappa and encoders name different modalities: kappa for unknown encoders "
            f"{unknown}, encoders without kappa {missing}; encoders: {sorted(encoders)}"
        )
    kappa = {m: _scalar("kappa", m, k) for m, k in kappa.items()}  # a 0-d tensor kept on the device
    for m, k in kappa.items():  # NaN would spoil the gradients, -1 turn them uphill
        if isinstance(k, bool) or not isinstance(k, numbers.Real) or not 0 <= k <= 1:
            raise ValueError(
                f"kappa of {m!r} is {k!r}: a gradient coefficient is a number in [0, 1] "
                "(what coefficients() returns)"
            )
    return kappa.items()


def _modulated(
    encoders: Mapping[str, nn.Module],
    kappa: Mapping[str, float],
    scope: str,
    every_encoder: bool = False,
) -> Iterator[tuple[nn.Parameter, float]]:
    """``(parameter, κ)`` for each in-scope parameter with a gradient, of every encoder whose
    κ != 1 (or of every encoder with ``every_encoder``): the gradients SMP and OGM rescale."""
    for m, k in _matched(encoders, kappa):
        if k == 1 and not every_encoder:
            continue
        for p in scoped_parameters(encoders[m], scope):
            if p.grad is not None:
                yield p, k


def _require_epoch(name: str, value: object) -> None:
    """An epoch is a whole number; "3" or 2.5 would fail inside a comparison or count wrong."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number of epochs, got {value!r}")
    if value < 0:  # an off-by-one (epoch - 1 in a loop) would silently fall outside the window
        raise ValueError(f"{name} must be >= 0 (epochs count from 0), got {value}")


@dataclass
class _Window:
    """Epoch window [start_epoch, end_epoch], inclusive at both ends like the official code."""

    start_epoch: int = 0
    end_epoch: int = 150

    def __post_init__(self) -> None:
        for name in ("start_epoch", "end_epoch"):
            _require_epoch(name, getattr(self, name))
        if self.end_epoch < self.start_epoch:
            raise ValueError(
                f"end_epoch ({self.end_epoch}) must be >= start_epoch ({self.start_epoch})"
            )

    def active(self, epoch: int) -> bool:
        """Whether ``epoch`` lies inside the window (both ends included)."""
        _require_epoch("epoch", epoch)
        return self.start_epoch <= epoch <= self.end_epoch


def _scalar(name: str, modality: str, value: object) -> object:
    """A one-element number tensor as a float (what ``teacher_confidence_sums`` gives, divided by
    the batch size, is one); a tensor of several values is refused by name."""
    if not isinstance(value, Tensor) or value.dtype == torch.bool or value.is_complex():
        return value
    if value.numel() != 1:
        raise TypeError(
            f"{name}[{modality!r}] is a tensor of shape {tuple(value.shape)}: give one number "
            f"per modality (a batch's mean, e.g. {name}.mean().item())"
        )
    return float(value)


@dataclass
class SMP(_Window):
    """Sequential Modality Prioritization: the least confident modality leads, the others wait.

    Defaults are the official code's: per-batch decisions in epochs 0–150 inclusive, complete
    suppression (κ ∈ {0, 1}) of the 4-D conv-weight gradients by multiplying them with 0.

    - ``schedule="batch"`` (official code): each batch, κ = 1 for argmin_m ρ^m and the others are
      suppressed. A tie for the minimum keeps every modality active (the official code raises).
    - ``schedule="staged"`` (the paper's text): :meth:`rank` fixes the order weakest first from
      train-set confidences; stage j (``stage_epochs[j]`` epochs from ``start_epoch``) trains
      only the j-th weakest; after the stages, and outside the window, all modalities train.
      Default: one stage, the whole window, for the weakest.
    - ``suppression="complete"``: κ = 0 for non-leaders (G²D). ``"partial"`` (our choice; the
      paper does not state its form): κ^m = 1 − tanh(alpha · ρ^m / ρ_leader), OGM-GE's form on
      teacher confidences, where ρ_leader = ρ_min for the batch schedule and the stage leader's
      train confidence for the staged one.
    - ``mode="zero"`` (faithful) multiplies gradients by κ, so SGD momentum and weight decay still
      move "frozen" weights; ``"skip"`` sets ``grad = None`` when κ = 0 so the optimizer leaves
      those weights and their momentum untouched.
    """

    scope: str = "conv"
    mode: str = "zero"
    schedule: str = "batch"
    suppression: str = "complete"
    alpha: float = 1.0
    stage_epochs: Sequence[int] | None = None
    order: tuple[str, ...] | None = field(default=None, init=False)
    _rho_train: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_choice("scope", self.scope, SCOPES)
        _check_choice("mode", self.mode, MODES)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("suppression", self.suppression, SUPPRESSIONS)
        if not isinstance(self.alpha, numbers.Real) or not self.alpha >= 0:  # NaN too
            raise ValueError(f"alpha must be a number >= 0, got {self.alpha!r}")
        if self.stage_epochs is None:
            return
        if self.schedule != "staged":
            raise ValueError(
                "stage_epochs (smp_stage_epochs in a config) only applies to schedule='staged' "
                "(smp_schedule='staged')"
            )
        if not self.stage_epochs or any(int(n) != n or n < 1 for n in self.stage_epochs):
            raise ValueError(
                "stage_epochs (smp_stage_epochs) must be positive whole numbers, got "
                f"{self.stage_epochs}"
            )
        window = self.end_epoch - self.start_epoch + 1
        if sum(self.stage_epochs) > window:
            raise ValueError(
                f"stage_epochs (smp_stage_epochs) {list(self.stage_epochs)} add up to "
                f"{sum(self.stage_epochs)} epochs, more than the {window}-epoch SMP window "
                f"[{self.start_epoch}, {self.end_epoch}] (balance_start_epoch, balance_end_epoch; "
                "by default the first half of training); shorten the stages or widen the window"
            )

    def rank(self, rho_train: Mapping[str, float]) -> tuple[str, ...]:
        """Staged schedule: fix the modality order, weakest (lowest ρ) first, from train-set
        teacher confidences; ties keep the given order. Returns the order."""
        if self.schedule != "staged":
            raise ValueError("rank() is only used by schedule='staged'")
        stages = self._stage_lengths()
        if len(stages) > len(rho_train):
            raise ValueError(
                f"{len(stages)} stages but only {len(rho_train)} modalities {list(rho_train)}"
            )
        self._rho_train = {m: float(r) for m, r in rho_train.items()}
        self.order = tuple(sorted(self._rho_train, key=self._rho_train.__getitem__))
        return self.order

    def coefficients(self, rho: Mapping[str, float] | None, epoch: int) -> dict[str, float]:
        """κ^m for this batch from its teacher confidences ρ^m (ignored by the staged schedule)."""
        if self.schedule == "staged":
            return self._staged(rho, epoch)
        if rho is None:
            raise ValueError("schedule='batch' needs this batch's teacher confidences rho")
        if not isinstance(rho, Mapping):
            raise TypeError(f"rho must map each modality to its confidence, got {rho!r}")
        rho = {m: _scalar("rho", m, r) for m, r in rho.items()}
        not_numbers = {m: r for m, r in rho.items() if not isinstance(r, numbers.Real)}
        if not_numbers:
            raise TypeError(f"rho must hold one number per modality, got {not_numbers}")
        ones = dict.fromkeys(rho, 1.0)
        unknown = [m for m, r in rho.items() if not math.isfinite(r)]
        if unknown:
            raise ValueError(
                f"teacher confidence rho of {unknown} is {rho[unknown[0]]}: no modality can be "
                "chosen to lead; that teacher's logits hold NaN or inf (damaged weights?), or "
                "the batch is empty"
            )
        if len(rho) < 2 or not self.active(epoch):
            return ones
        lowest = min(rho.values())
        leaders = [m for m, r in rho.items() if r == lowest]
        return ones if len(leaders) > 1 else self._suppress(rho, leaders[0])

    def _staged(self, rho: Mapping[str, float] | None, epoch: int) -> dict[str, float]:
        if self.order is None:
            raise RuntimeError("schedule='staged' needs smp.rank(rho_train) before coefficients()")
        if rho is not None and set(rho) != set(self.order):
            raise ValueError(f"rho names {sorted(rho)}, but rank() was given {sorted(self.order)}")
        if self.active(epoch):
            elapsed = epoch - self.start_epoch
            for leader, length in zip(self.order, self._stage_lengths(), strict=False):
                if elapsed < length:
                    return self._suppress(self._rho_train, leader)
                elapsed -= length
        return dict.fromkeys(self.order, 1.0)

    def _stage_lengths(self) -> list[int]:
        return list(self.stage_epochs or [self.end_epoch - self.start_epoch + 1])

    def _suppress(self, rho: Mapping[str, float], leader: str) -> dict[str, float]:
        if self.suppression == "complete":
            return {m: float(m == leader) for m in rho}
        lead = max(rho[leader], _TINY)
        return {
            m: 1.0 if m == leader else 1.0 - math.tanh(self.alpha * r / lead)
            for m, r in rho.items()
        }

    def apply(self, encoders: Mapping[str, nn.Module], kappa: Mapping[str, float]) -> None:
        """Scale the scoped gradients of every encoder whose κ != 1 (mode "zero"), or drop them
        when κ == 0 (mode "skip"). Call after ``backward()`` and before ``optimizer.step()``."""
        for p, k in _modulated(encoders, kappa, self.scope):
            if self.mode == "skip" and k == 0:
                p.grad = None
            else:
                p.grad.mul_(k)


@dataclass
class OGM(_Window):
    """On-the-fly Gradient Modulation (Peng et al., CVPR 2022) as in the official OGM-GE code.

    Scores are the student branches' summed true-class probabilities s^m. For two modalities
    ratio = s_a / s_v; the dominant modality (ratio > 1) gets κ = 1 − tanh(alpha · ratio) on its
    conv-weight gradients, the other κ = 1. For k modalities ratio^m = s^m / mean_{n≠m} s^n and
    every modality with ratio^m > 1 is damped, which for k = 2 is exactly the original rule
    (except an exact tie, where the original damps audio and we damp nobody).
    ``gradient_noise=True`` is OGM-GE: Gaussian noise with the gradient's std is added, inside
    the window, to every modality's scoped gradients (``noise="both"``, what the official OGM-GE
    code and the official G²D code's ``update_model_with_OGM_GE`` do, so what the G²D paper's
    OGM-GE row ran) or only to the modulated ones (``noise="modulated"``, the kit's earlier rule).
    """

    alpha: float = 0.8
    gradient_noise: bool = False
    scope: str = "conv"
    noise: str = "both"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_choice("scope", self.scope, SCOPES)
        _check_choice("noise", self.noise, OGM_NOISES)
        if not isinstance(self.alpha, numbers.Real) or not self.alpha >= 0:  # NaN too
            raise ValueError(f"alpha must be a number >= 0, got {self.alpha!r}")

    def coefficients(
        self, branch_logits: Mapping[str, Tensor], target: Tensor, epoch: int
    ) -> dict[str, float]:
        """κ^m from the student's per-modality logits on this batch; 1 outside the window."""
        if len(branch_logits) < 2 or not self.active(epoch):
            return dict.fromkeys(branch_logits, 1.0)
        sums, _ = teacher_confidence_sums(branch_logits, target)  # same score, student branches
        scores = dict(zip(sums, torch.stack(list(sums.values())).tolist(), strict=True))
        unknown = [m for m, v in scores.items() if not math.isfinite(v)]
        if unknown:  # NaN > 1 is False: it would read as "no modality dominates"
            raise ValueError(
                f"the branch logits of {unknown} hold NaN or inf, so their score is unknown and "
                "OGM could not tell which modality dominates; the student diverged (lower the "
                "learning rate) or its inputs hold NaN"
            )
        kappa = {}
        for m, s in scores.items():
            others = [v for n, v in scores.items() if n != m]
            ratio = s / max(sum(others) / len(others), _TINY)
            kappa[m] = 1.0 - math.tanh(self.alpha * ratio) if ratio > 1 else 1.0
        return kappa

    def apply(
        self,
        encoders: Mapping[str, nn.Module],
        kappa: Mapping[str, float],
        epoch: int,
        generator: torch.Generator | None = None,
    ) -> None:
        """Inside the window, scale the scoped gradients by κ; with ``gradient_noise`` also add
        N(0, std(grad) + 1e-8) noise, the official
        ``p.grad * coeff + zeros_like(p.grad).normal_(0, p.grad.std() + 1e-8)`` (the std of the
        unscaled gradient), to every modality (``noise="both"``) or to those with κ != 1.
        Outside the window nothing changes. Draws come from ``generator`` when given (it must
        live on the gradients' device); seed it identically on every DDP rank.
        """
        if not self.active(epoch):
            return
        every = self.gradient_noise and self.noise == "both"
        for p, k in _modulated(encoders, kappa, self.scope, every_encoder=every):
            if self.gradient_noise:
                std = p.grad.std() + 1e-8
                noise = torch.randn(
                    p.grad.shape, generator=generator, device=p.grad.device, dtype=p.grad.dtype
                )
                p.grad.mul_(k).add_(noise.mul_(std))
            else:
                p.grad.mul_(k)
