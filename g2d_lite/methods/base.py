"""The trainer's one hook for methods whose update is not "one loss, one backward, one step".

G²D, joint training, UMT and OGM-GE share the trainer's standard step: forward, loss, backward,
SMP or OGM rescaling of the encoders' gradients, optimizer step. The comparison methods of the
paper's table need other shapes: several forward passes (AGM), one optimizer step per modality
(MLA), one modality per stage (ReconBoost), one backward pass per loss (MMPareto), class
prototypes refreshed every epoch (PMR). Each is an :class:`UpdateRule` that replaces the
standard step for every batch; everything around it (batches, statistics, evaluation, model
selection, checkpoints, resume) stays the trainer's.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from g2d_lite.batches import Batch
from g2d_lite.losses import align_regression

if TYPE_CHECKING:
    from g2d_lite.config import Config
    from g2d_lite.data.base import DatasetInfo
    from g2d_lite.models.classifiers import MultimodalClassifier
    from g2d_lite.train import Trainer


@dataclass
class StepResult:
    """What one training step produced, for the trainer's statistics.

    ``out``: the model's outputs on the batch (train accuracies); ``loss``: the step's total loss
    (the value the official code reports); ``parts``: its detached, unweighted terms;
    ``grad_norms``: each encoder's gradient norm; ``kappa``: per-modality update coefficient
    (the history's ``kappa/<m>``, 1 when None); ``record``: extra values for this step's row of
    the steps log.
    """

    out: Any
    loss: Tensor
    parts: dict[str, Tensor]
    grad_norms: dict[str, Tensor]
    kappa: Mapping[str, float] | None = None
    record: dict[str, float] = field(default_factory=dict)


class UpdateRule(nn.Module, abc.ABC):
    """A comparison method's training step, the ``Trainer``'s hook (``trainer.update_rule``).

    Contract: for every training batch the trainer calls :meth:`step` instead of its standard
    step. The rule runs the forward passes, backward passes and optimizer steps the method needs
    and returns a :class:`StepResult`; it may read the trainer's ``model``, ``optimizer``,
    ``cfg``, ``data``, ``teachers``, ``device``, ``amp`` and ``global_step`` (the number of
    batches before this one), and must call ``trainer.check_finite`` on every loss before its
    backward pass. The trainer advances ``global_step`` once per batch. :meth:`start_epoch` runs
    before an epoch's first batch, also the first after a resume. State a rule keeps across
    batches is a buffer or submodule of the rule: the trainer stores the rule in the model's
    ``training_parts``, so checkpoints carry it.

    Class attributes say what a method supports, checked before training: ``tasks`` and
    ``fusions`` (None: any fusion).
    """

    name: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    fusions: ClassVar[tuple[str, ...] | None] = None

    def __init__(self) -> None:
        super().__init__()
        self._epoch: int | None = None

    @classmethod
    @abc.abstractmethod
    def from_config(cls, cfg: Config, model: MultimodalClassifier, info: DatasetInfo) -> UpdateRule:
        """The rule with the config's settings for ``model`` on the dataset ``info`` describes."""

    def step(
        self, trainer: Trainer, epoch: int, batch: Batch, inputs: Mapping[str, Tensor]
    ) -> StepResult:
        """One batch: :meth:`start_epoch` first when the epoch changed, then :meth:`update`."""
        if epoch != self._epoch:
            self._epoch = epoch
            self.start_epoch(trainer, epoch)
        return self.update(trainer, epoch, batch, inputs)

    def start_epoch(self, trainer: Trainer, epoch: int) -> None:  # noqa: B027 (optional hook)
        """Work before an epoch's first batch (nothing unless a method needs it)."""

    @abc.abstractmethod
    def update(
        self, trainer: Trainer, epoch: int, batch: Batch, inputs: Mapping[str, Tensor]
    ) -> StepResult:
        """Forward, backward and optimizer steps for one batch."""


def task_loss(outputs: Tensor, target: Tensor, task: str) -> Tensor:
    """Cross-entropy on class indices, or MSE on regression targets."""
    if task == "classification":
        return F.cross_entropy(outputs, target.long())
    return F.mse_loss(*align_regression(outputs, target.float()))


def in_window(epoch: int, start: int, end: int) -> bool:
    """Whether ``epoch`` lies in [start, end], both ends included like the official code."""
    return start <= epoch <= end
