"""Training dynamics that notebook 02 explains a starved branch with, computed, not asserted.

- :func:`lr_steps` / :func:`stall_report`: when the fused training loss settles and when the
  learning rate steps down. If the two coincide, a flat branch after that epoch cannot be put
  on the small loss alone: the steps also got ``lr_gamma`` times smaller.
- :func:`gradient_fade`: how far each encoder's gradient falls from its peak by the end.
- :func:`smp_masked`: which parameters SMP's gradient mask reaches for an encoder and scope
  (convolution kernels, or an MLP's weight matrices when it has no convolution).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from torch import nn

from g2d_lite import api_checks
from g2d_lite.api_checks import require_columns
from g2d_lite.diagnose import gradient_norm_summary, history_prefix, run_method
from g2d_lite.smp import scoped_parameters
from g2d_lite.train import TrainResult


def lr_steps(history: pd.DataFrame) -> list[int]:
    """Epochs whose learning rate is lower than the epoch before (a scheduler step)."""
    require_columns(history, ("epoch", "lr"), "a run's history (run.history)")
    lr = history.set_index("epoch")["lr"]
    if not pd.api.types.is_numeric_dtype(lr) or lr.isna().any():
        bad = lr[lr.isna()] if pd.api.types.is_numeric_dtype(lr) else lr
        value = bad.iloc[0]
        shown = repr(value) if isinstance(value, str) else str(value)
        raise ValueError(
            f"the history's lr column must hold a number per epoch, got {shown} at epoch "
            f"{bad.index[0]}: pass a run's history as the kit wrote it (run.history)"
        )
    return [int(e) for e, drop in (lr.diff() < 0).items() if drop]


@dataclass(frozen=True)
class StallReport:
    """When a joint model's fused loss settled, against its learning-rate steps, and what the
    weak branch did before and after (validation scores, the run's metric)."""

    threshold: float
    settled_epoch: int | None  # first epoch with training task loss below the threshold
    lr_steps: tuple[int, ...]
    first: float  # the branch's score at the first epoch
    at_settle: float | None
    last: float
    teacher_last: float  # the modality's teacher alone, last epoch

    @property
    def confounded(self) -> bool:
        """The loss settled within one epoch of a learning-rate step."""
        return self.settled_epoch is not None and any(
            abs(self.settled_epoch - step) <= 1 for step in self.lr_steps
        )

    def sentence(self, modality: str, split: str = "validation") -> str:
        """The finding in words, with its numbers, and the confound when there is one."""
        head = (
            f"The {modality} branch's {split} score goes from {self.first:.1f} at epoch 0 to "
            f"{self.last:.1f} at the last epoch; its teacher alone ends at "
            f"{self.teacher_last:.1f}."
        )
        if self.settled_epoch is None:
            return head + (
                f" The fused training loss never drops below {self.threshold}, so this run "
                "does not show a loss-driven stall."
            )
        after = self.last - (self.at_settle or 0.0)
        body = (
            f" The fused training loss first drops below {self.threshold} at epoch "
            f"{self.settled_epoch}; the branch then moves {after:+.1f} points."
        )
        if self.confounded:
            steps = ", ".join(str(s) for s in self.lr_steps)
            body += (
                f" The learning rate steps down at epoch {steps} as well, so this run cannot "
                "separate the two causes: the loss becomes small and the updates become "
                "smaller at the same time."
            )
        elif self.lr_steps:
            steps = ", ".join(str(s) for s in self.lr_steps)
            body += f" The learning rate steps down at epoch {steps}, apart from that."
        return head + body


def stall_report(
    joint: TrainResult,
    teacher: TrainResult,
    modality: str,
    threshold: float = 0.15,
    split: str = "validation",
) -> StallReport:
    """:class:`StallReport` of ``modality``'s branch inside ``joint`` against its teacher."""
    if joint.metrics.get("role") == "teacher":
        raise ValueError(
            "joint is a teacher run: call stall_report(joint, teacher, modality), the joint "
            "training run first"
        )
    method = run_method(joint)
    if method is not None and joint.config.loss != "ce":
        raise ValueError(
            f"joint is a {method} run, which distils from teachers: a stall report reads joint "
            "training (loss ce); pass that run"
        )
    if api_checks.finite_number("threshold", threshold) <= 0:
        raise ValueError(f"threshold is a training loss, above 0; got {threshold}")
    history = joint.history.set_index("epoch")
    metric = joint.metrics.get("metric", "acc")
    prefix = history_prefix(split)
    branches = [c.rsplit("/", 1)[1] for c in history.columns if c.startswith(f"val/{metric}/")]
    if modality not in branches:
        raise ValueError(
            f"the joint run has no {modality!r} branch; its branches are {', '.join(branches)}"
        )
    if teacher.metrics.get("modality") not in (None, modality):
        raise ValueError(
            f"teacher is the {teacher.metrics['modality']} teacher, not the {modality} one: pass "
            f"the teacher of {modality}"
        )
    if teacher.metrics.get("role") not in (None, "teacher"):
        raise ValueError(f"teacher is a {teacher.metrics.get('role')} run; pass the teacher run")
    branch = history[f"{prefix}/{metric}/{modality}"].dropna()
    teacher_curve = teacher.history.set_index("epoch")[f"{prefix}/{metric}"].dropna()
    settled = history.index[history["train/task"] < threshold]
    settled_epoch = int(settled[0]) if len(settled) else None
    at_settle = None
    if settled_epoch is not None:
        at_settle = float(branch[branch.index <= settled_epoch].iloc[-1])
    return StallReport(
        threshold=threshold,
        settled_epoch=settled_epoch,
        lr_steps=tuple(lr_steps(joint.history)),
        first=float(branch.iloc[0]),
        at_settle=at_settle,
        last=float(branch.iloc[-1]),
        teacher_last=float(teacher_curve.iloc[-1]),
    )


def gradient_fade(runs: dict[str, TrainResult]) -> pd.DataFrame:
    """Per run and encoder, the last epoch's gradient norm as a share of its peak (%), with
    the peak's epoch: ``run, modality, peak_epoch, last_over_peak``."""
    summary = gradient_norm_summary(runs)
    summary["last_over_peak"] = 100.0 * summary["last_over_peak"]
    return summary[["run", "modality", "peak_epoch", "last_over_peak"]]


def smp_masked(encoder: nn.Module, scope: str) -> str:
    """What SMP's mask reaches in ``encoder`` under ``scope``, in words with the counts."""
    if not isinstance(encoder, nn.Module):
        raise TypeError(
            f"encoder must be a torch module, e.g. run.model.encoders['audio'], got "
            f"{type(encoder).__name__} {encoder!r:.60}"
        )
    masked = scoped_parameters(encoder, scope)
    total = sum(p.numel() for p in encoder.parameters())
    if not total:
        raise ValueError(f"this {type(encoder).__name__} has no parameters: nothing to mask")
    share = 100.0 * sum(p.numel() for p in masked) / total
    if scope == "all":
        what = "every parameter"
    elif all(p.ndim == 4 for p in masked):
        what = "the convolution kernels (4-D weights; BatchNorm and biases keep learning)"
    else:
        what = (
            "the weight matrices of its linear layers (it has no convolution, so the "
            "4-D rule falls back to 2-D weights; biases and BatchNorm keep learning)"
        )
    return f"{what}: {len(masked)} tensors, {share:.0f} % of its {total:,} parameters"
