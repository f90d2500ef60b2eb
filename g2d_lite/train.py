"""One training loop for unimodal teachers, the joint baseline, the G²D student and every ablation.

The standard step, per batch: forward -> G²D loss (its variant decides which terms are on) ->
backward -> per-encoder gradient norms -> SMP or OGM coefficients applied to the encoders'
gradients -> optimizer step (docs/method.md §2: masking happens after backward and before the step).
The comparison methods whose step has another shape (AGM, MLA, ReconBoost, MMPareto, PMR) plug
in through one hook, ``Trainer.update_rule`` (g2d_lite/methods/base.py ``UpdateRule``), which
replaces the standard step for every batch. Per epoch the loop records a history row, evaluates
validation and test, keeps the best and last checkpoints (atomically) and can be resumed from
the last one with nothing lost.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from g2d_lite import slots, sync_free
from g2d_lite.api_checks import require_bool
from g2d_lite.batches import Batch, batch_order, iterate_batches
from g2d_lite.checkpoint import info_to_dict, rng_state, set_rng_state, versions
from g2d_lite.config import Config, method_name, recipe, require_config, unused_settings
from g2d_lite.data.base import DatasetSplits, MultimodalDataset
from g2d_lite.data.resident import ResidentSplit
from g2d_lite.data.validate import DatasetError
from g2d_lite.devices import resolve_device
from g2d_lite.distributed import (
    DistContext,
    barrier,
    broadcast_buffers,
    gather_cat,
    init_distributed,
)
from g2d_lite.errors import KitError
from g2d_lite.evaluate import autocast, metric_name, metrics, predict
from g2d_lite.losses import g2d_loss
from g2d_lite.methods import UPDATE_RULES, StepResult, UpdateRule, build_update_rule
from g2d_lite.models.classifiers import build_student, build_teacher
from g2d_lite.preflight import (
    canonical_config,
    check_batch_norm_batches,
    check_checkpoint_belongs,
    check_data,
    check_folder_takes,
    check_resumable,
    require_splits,
)
from g2d_lite.progress import progress
from g2d_lite.provenance import (
    check_same_data,
    data_fingerprint,
    fingerprint_differences,
    weights_digest,
)
from g2d_lite.rundir import LAST, RunFolder
from g2d_lite.seeding import epoch_generator, seed_everything
from g2d_lite.smp import OGM, SMP, teacher_confidence
from g2d_lite.teachers import TeacherBank, TeacherCache

ROLES: tuple[str, ...] = ("teacher", "student")

Callback = Callable[["Trainer", int], None]


class NonFiniteLossError(KitError, RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept on disk."""


@dataclass
class TrainResult:
    """What a run produced. ``model`` holds the selected epoch's weights (see ``metrics``)."""

    model: nn.Module
    history: pd.DataFrame
    steps: pd.DataFrame
    metrics: dict[str, Any]
    config: Config
    run_dir: Path | None = None


@dataclass
class _EpochStats:
    """Running sums over one epoch's batches, kept as tensors on the training device so a step
    never waits for the GPU; they are read once, at the end of the epoch."""

    count: int = 0
    batches: int = 0
    sums: dict[str, torch.Tensor | float] = field(default_factory=lambda: defaultdict(float))

    def add(self, key: str, value: torch.Tensor | float, weight: float = 1.0) -> None:
        if isinstance(value, torch.Tensor):
            value = value.detach().double()
        self.sums[key] = self.sums[key] + value * weight

    def row(self) -> dict[str, float]:
        out = {}
        for key, total in self.sums.items():
            per_sample = key.startswith("train/")
            out[key] = float(total) / (self.count if per_sample else max(self.batches, 1))
        return out


def _grad_norm(module: nn.Module) -> torch.Tensor:
    """L2 norm of all of a module's gradients, as a tensor (no device sync)."""
    grads = [p.grad.detach() for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)).float())


def _check_callback(callback: Callback) -> None:
    """Refuse a callback that cannot be called as f(trainer, epoch) before anything trains: the
    call comes after the first epoch, which on the paper recipe takes minutes."""
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):  # a builtin without a signature: it is called as it is
        return
    try:
        signature.bind(None, 0)
    except TypeError as error:
        name = getattr(callback, "__name__", repr(callback))
        raise TypeError(
            f"callbacks are called as f(trainer, epoch), but {name}{signature} cannot be ({error})"
            ": give it two parameters"
        ) from None


class Trainer:
    """Trains one model (a teacher for one modality, or a multimodal student) under a config."""

    def __init__(
        self,
        cfg: Config,
        data: DatasetSplits,
        role: str = "student",
        modality: str | None = None,
        teachers: TeacherBank | Mapping[str, nn.Module] | None = None,
        run_dir: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        check_teacher_data: bool = True,
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; valid roles: {ROLES}")
        require_config(cfg, f"a {role} run")
        require_splits(data)
        if run_dir is not None and (
            not isinstance(run_dir, (str, Path)) or not str(run_dir).strip()
        ):
            raise ValueError(
                f"run_dir must be a folder path for the run's files, got {run_dir!r}; give a "
                "new folder (or None to keep the run in memory only)"
            )
        if not isinstance(callbacks, Sequence) or not all(callable(c) for c in callbacks):
            raise TypeError(
                f"callbacks must be a list of functions f(trainer, epoch), got {callbacks!r}"
            )
        cfg = canonical_config(cfg, data)
        for callback in callbacks:
            _check_callback(callback)
        self.cfg, self.data, self.role, self.callbacks = cfg, data, role, list(callbacks)
        self.task = data.info.task
        self.metric = metric_name(self.task)
        self.folder = RunFolder(run_dir) if run_dir is not None else None
        self.run_dir = self.folder.path if self.folder is not None else None  # ~ expanded
        self.check_teacher_data = check_teacher_data
        self.device = resolve_device(cfg.device)
        self.ctx: DistContext = init_distributed(self.device)
        check_data(cfg, data, role, modality, self.ctx.world_size)
        if cfg.tensorboard and importlib.util.find_spec("tensorboard") is None:
            raise KitError(
                "tensorboard=True needs the tensorboard package: pip install tensorboard"
            )
        seed_everything(cfg.seed, cfg.deterministic)
        if role == "teacher":
            self.modality = modality
            self.model = build_teacher(data.info, modality, cfg.encoder)
        else:
            self.modality = None
            self.model = build_student(data.info, cfg.encoder, cfg.fusion, cfg.modalities)
        check_batch_norm_batches(self.model, cfg, len(data.train), self.ctx.world_size)
        self.model.to(self.device)
        self.channels_last = self._use_channels_last()
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        for note in unused_settings(cfg, role):
            print(f"note: {note}", file=sys.stderr)
        self.amp = cfg.amp if cfg.amp is not None else self.device.type == "cuda"
        if cfg.amp and self.device.type != "cuda":
            print(
                f"note: amp=True has no effect on {self.device.type}: bf16 autocast is CUDA-only",
                file=sys.stderr,
            )
        self.forward_model: nn.Module = self.model
        if self.ctx.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward_model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if cfg.compile:
            self.forward_model = torch.compile(self.forward_model)
        self.feature_weight, self.logit_weight = self._loss_weights()
        if (
            role == "student"
            and cfg.task_weight == 0
            and not (self.feature_weight or self.logit_weight)
        ):
            raise ValueError(
                "task_weight, feature_weight and logit_weight are all 0: the loss is zero and "
                "nothing would be learned; give at least one of them a positive weight"
            )
        self.smp, self.ogm = self._balancer()
        self.update_rule = self._update_rule()
        self.sync_free = cfg.step_mode == "sync_free"
        if self.sync_free:
            if self.update_rule is not None:
                raise ValueError(
                    f"step_mode='sync_free' is the standard step's; {cfg.balance!r} has its own "
                    "update rule: use step_mode='eager'"
                )
            sync_free.check_supported(self.smp, self.ogm)
        self.watch = sync_free.NonFiniteWatch(self.device)
        self.train_split = self._train_split()
        self.teacher_data_mismatch: dict[str, str] = {}
        self.teachers = self._teacher_bank(teachers)
        # Which teachers this student learns from: a folder resumes only under the same ones.
        self.teacher_weights = (
            {m: weights_digest(t) for m, t in self.teachers.teachers.items()}
            if self.teachers is not None
            else None
        )
        self.teacher_cache: TeacherCache | None = None
        self.optimizer = self._optimizer()
        self.scheduler = (
            torch.optim.lr_scheduler.StepLR(self.optimizer, cfg.lr_step, cfg.lr_gamma)
            if cfg.lr_step
            else None
        )
        self.history: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.start_epoch = 0
        self.fitted = False
        self.global_step = 0
        self.train_seconds = 0.0
        self.tensorboard = None  # opened with the run folder, once the run is accepted
        self.best_epoch: int | None = None
        self._best_weights: dict[str, torch.Tensor] | None = None

    # ----------------------------------------------------------------- setup helpers
    def _use_channels_last(self) -> bool:
        if self.cfg.channels_last is not None:
            return self.cfg.channels_last
        return self.device.type == "cuda" and self.cfg.encoder in ("resnet18", "small_cnn", "auto")

    def _loss_weights(self) -> tuple[float, float]:
        return (0.0, 0.0) if self.role == "teacher" else self.cfg.distillation_weights

    def _balancer(self) -> tuple[SMP | None, OGM | None]:
        cfg = self.cfg
        if self.role == "teacher" or cfg.balance == "none" or cfg.balance in UPDATE_RULES:
            return None, None
        if cfg.balance == "smp":
            smp = SMP(
                start_epoch=cfg.balance_start_epoch,
                end_epoch=cfg.window_end,
                scope=cfg.smp_scope,
                mode=cfg.smp_mode,
                schedule=cfg.smp_schedule,
                suppression=cfg.smp_suppression,
                alpha=cfg.smp_alpha,
                stage_epochs=list(cfg.smp_stage_epochs) if cfg.smp_stage_epochs else None,
            )
            return smp, None
        if cfg.fusion in ("film", "gated"):
            raise ValueError(
                f"OGM needs per-modality branch logits, which {cfg.fusion!r} fusion does not have;"
                " use late, sum or concat fusion"
            )
        ogm = OGM(
            start_epoch=cfg.balance_start_epoch,
            end_epoch=cfg.window_end,
            alpha=cfg.ogm_alpha,
            gradient_noise=cfg.balance == "ogm_ge",
            scope=cfg.smp_scope,
            noise=cfg.ogm_noise,
        )
        return None, ogm

    def _update_rule(self) -> UpdateRule | None:
        """The comparison method's step, held in the model's ``training_parts`` (so checkpoints
        carry its state); None for the standard step."""
        if self.role == "teacher" or self.cfg.balance not in UPDATE_RULES:
            return None
        rule = build_update_rule(self.cfg, self.model, self.data.info, self.ctx.enabled)
        self.model.training_parts[rule.name] = rule.to(self.device)
        return rule

    def _teacher_bank(
        self, teachers: TeacherBank | Mapping[str, nn.Module] | None
    ) -> TeacherBank | None:
        if self.role == "teacher" or not self.cfg.needs_teachers:
            return None
        if teachers is None:
            why = (
                " (reconboost_init='teachers' starts from them; 'scratch' does not)"
                if self.cfg.balance == "reconboost"
                else ""
            )
            raise ValueError(
                f"loss {self.cfg.loss!r} with balance {self.cfg.balance!r} needs unimodal"
                f" teachers{why}; train them first (train_teacher for each modality) and pass"
                " teachers={...}"
            )
        if not isinstance(teachers, (TeacherBank, Mapping)):
            raise TypeError(
                f"teachers must map each modality to its teacher model, got "
                f"{type(teachers).__name__}: e.g. {{m: load_run(folder).model}} "
                "(g2d_lite.store.load_run reads a teacher folder)"
            )
        if not isinstance(teachers, TeacherBank):  # runs (TrainResult) stand for their models
            teachers = {m: getattr(t, "model", t) for m, t in teachers.items()}
            wrong = {
                m: type(t).__name__ for m, t in teachers.items() if not isinstance(t, nn.Module)
            }
            if wrong:
                raise TypeError(
                    f"teachers must be models (or the runs that hold them), got {wrong}"
                )
        bank = teachers if isinstance(teachers, TeacherBank) else TeacherBank(teachers)
        student = set(self.model.modalities)
        if set(bank.modalities) != student:
            ours = self.data.info.name
            theirs = sorted(
                {
                    record["dataset"]
                    for t in bank.teachers.values()
                    if isinstance(record := getattr(t, "data_fingerprint", None), dict)
                    and record.get("dataset") not in (None, ours)
                }
            )
            if theirs:
                raise ValueError(
                    f"the teachers were trained on {', '.join(theirs)} (modalities "
                    f"{sorted(bank.modalities)}), and this student's data is {ours} "
                    f"({sorted(student)}): train the student on their dataset "
                    f"(dataset={theirs[0]}, or the profile made for it), or teachers on {ours}"
                )
            raise ValueError(
                f"teachers cover modalities {sorted(bank.modalities)} but the student has"
                f" {sorted(student)}; pass exactly one teacher per student modality"
            )
        if self.check_teacher_data:
            for m, teacher in bank.teachers.items():
                check_same_data(
                    getattr(teacher, "data_fingerprint", None),
                    data_fingerprint(self.data),
                    f"the {m} teacher",
                    "pass --allow-teacher-data-mismatch (check_teacher_data=False)",
                )
        else:
            self._check_teachers_read_the_inputs(bank)
            self.teacher_data_mismatch = self._teacher_data_differences(bank)
        return bank.to(self.device)

    def _teacher_data_differences(self, bank: TeacherBank) -> dict[str, str]:
        """How each teacher's data differ from the student's, when that was allowed: said now
        and recorded in metrics.json, so that a table made from the run can tell."""
        ours, differences = data_fingerprint(self.data), {}
        for m, teacher in bank.teachers.items():
            theirs = getattr(teacher, "data_fingerprint", None)
            if theirs is not None and (found := fingerprint_differences(theirs, ours)):
                differences[m] = "; ".join(found)
        if differences and self.ctx.is_main:
            print(
                f"note: teachers trained on other data ({', '.join(differences)}) are used, as "
                "allowed; metrics.json records it (teacher_data_mismatch)",
                file=sys.stderr,
            )
        return differences

    def _check_teachers_read_the_inputs(self, bank: TeacherBank) -> None:
        """Teachers allowed other data must still read these inputs: try one sample each."""
        inputs, _ = self.data.train[0]
        for m, teacher in bank.teachers.items():
            x = inputs[m].unsqueeze(0).float()
            try:
                with torch.no_grad():
                    teacher.eval()(x)
            except (RuntimeError, ValueError) as error:
                first = str(error).splitlines()[0][:160]
                raise ValueError(
                    f"the {m} teacher cannot read these data's {m} inputs of shape "
                    f"{tuple(x.shape[1:])} ({first}); --allow-teacher-data-mismatch allows other "
                    "data, not other input shapes: train teachers on inputs of this shape"
                ) from None

    def _optimizer(self) -> torch.optim.Optimizer:
        params = [p for p in self.model.parameters() if p.requires_grad]
        if self.cfg.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        return torch.optim.SGD(
            params, lr=self.cfg.lr, momentum=self.cfg.momentum, weight_decay=self.cfg.weight_decay
        )

    def _tensorboard_writer(self):
        if not self.cfg.tensorboard or self.run_dir is None or not self.ctx.is_main:
            return None
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(self.run_dir / "tensorboard"))

    # ----------------------------------------------------------------- run folder
    def _model_record(self, epoch: int, weights: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        """What rebuilds this model: role, config, dataset shapes, data fingerprint, weights."""
        return {
            "role": self.role,
            "modality": self.modality,
            "config": self.cfg.to_dict(),
            "info": info_to_dict(self.data.info),
            "data": data_fingerprint(self.data),
            "epoch": epoch,
            "model": dict(weights),
        }

    def _state(self, epoch: int) -> dict[str, Any]:
        """The commit point after ``epoch``: everything a resume needs, including the selected
        epoch's weights (``None`` when they are this epoch's own)."""
        best_weights = None if self.best_epoch == epoch else self._best_weights
        return {
            **self._model_record(epoch, self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "history": self.history,
            "steps": self.steps,
            "global_step": self.global_step,
            "train_seconds": self.train_seconds,
            "teachers": self.teacher_weights,
            "best": None
            if self.best_epoch is None
            else {"epoch": self.best_epoch, "model": best_weights},
            "rng": rng_state(),
        }

    def _best_record(self) -> dict[str, Any] | None:
        """What best.pt must hold: the selected epoch's weights (``None`` before a selection)."""
        if self.best_epoch is None or self._best_weights is None:
            return None
        return self._model_record(self.best_epoch, self._best_weights)

    def _check_resumable(self, state: Mapping[str, Any]) -> None:
        assert self.run_dir is not None
        check_resumable(
            state, self.cfg, self.role, self.modality, self.teacher_weights, self.data, self.run_dir
        )

    def _restore(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler and state["scheduler"]:
            self.scheduler.load_state_dict(state["scheduler"])
        self.history, self.steps = list(state["history"]), list(state["steps"])
        self.global_step, self.train_seconds = state["global_step"], state["train_seconds"]
        self.start_epoch = state["epoch"] + 1
        best = state["best"]
        if best is not None:
            self.best_epoch = best["epoch"]
            weights = best["model"] if best["model"] is not None else state["model"]
            self._best_weights = {k: v.detach().cpu().clone() for k, v in weights.items()}
        set_rng_state(state["rng"])

    def _open_folder(self, resume: bool) -> None:
        """Accept the run into its folder (the lock is held): resume what is there, or start
        over, refusing before anything is written when the folder holds another run."""
        folder = self.folder
        assert folder is not None
        state = folder.state()
        if not resume:
            if state == "finished":  # said, so that a wrong command on a folder is noticed
                print(
                    f"note: starting over (--no-resume): the {folder.finished_summary()} in "
                    f"{folder.path} is deleted and trained again",
                    file=sys.stderr,
                )
            folder.discard()
        elif state in ("in_progress", "finished"):
            saved = folder.load_last(self.device)
            check_checkpoint_belongs(folder, saved)
            self._check_resumable(saved)
            self._restore(saved)
            folder.repair(saved, self._best_record())
        elif state == "started":
            check_folder_takes(folder, self.cfg, self.role, self.modality, self.data)
        folder.remove_temporaries()
        folder.write_config(self.cfg.to_json())
        self.tensorboard = self._tensorboard_writer()

    def _load_state_without_folder(self, resume: bool) -> None:
        """Other ranks of a distributed run read the checkpoint rank 0 accepted."""
        if resume and self.folder is not None and self.folder.file(LAST).is_file():
            self._restore(self.folder.load_last(self.device))

    # ----------------------------------------------------------------- one batch
    def _inputs(self, batch: Batch) -> dict[str, torch.Tensor]:
        if not self.channels_last:
            return batch.inputs
        return {
            m: x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
            for m, x in batch.inputs.items()
        }

    def _teacher_outputs(self, batch: Batch, inputs: Mapping[str, torch.Tensor]):
        if self.teachers is None:
            return None, None
        if self.teacher_cache is not None:
            return self.teacher_cache.lookup(batch.indices, self.device)
        with autocast(self.device, self.amp):
            return self.teachers(inputs)

    def _loss(self, out, batch: Batch, t_features, t_logits):
        if self.role == "teacher":
            return g2d_loss(
                out.logits.float(), None, None, None, batch.targets, 0.0, 0.0, task=self.task
            )
        return g2d_loss(
            out.logits.float(),
            {m: f.float() for m, f in out.features.items()},
            t_logits,
            t_features,
            batch.targets,
            feature_weight=self.feature_weight,
            logit_weight=self.logit_weight,
            temperature=self.cfg.temperature,
            task=self.task,
            task_weight=self.cfg.task_weight,
            check_teachers=False,  # the kit's teachers give logits; no per-batch read-back
        )

    def _balance(self, epoch: int, out, batch: Batch, t_logits) -> dict[str, float] | None:
        """SMP or OGM coefficients for this batch, decided on the global batch, then applied."""
        record: dict[str, Any] = {"step": self.global_step, "epoch": epoch}
        targets = gather_cat(batch.targets, self.ctx)
        kappa = None
        if t_logits is not None:
            rho = teacher_confidence(
                {m: gather_cat(lg, self.ctx) for m, lg in t_logits.items()}, targets, self.task
            )
            record.update({f"rho/{m}": r for m, r in rho.items()})
            if self.smp is not None:
                kappa = self.smp.coefficients(rho, epoch)
                self.smp.apply(self.model.encoders, kappa)
        if self.ogm is not None:
            branches = {
                m: gather_cat(b.detach().float(), self.ctx) for m, b in out.branch_logits.items()
            }
            kappa = self.ogm.coefficients(branches, targets, epoch)
            noise = epoch_generator(self.cfg.seed, self.global_step, 1, self.device)
            self.ogm.apply(self.model.encoders, kappa, epoch, generator=noise)
        if kappa is not None:
            record.update({f"kappa/{m}": k for m, k in kappa.items()})
        if len(record) > 2:
            self.steps.append(record)
        return kappa

    def _train_split(self) -> MultimodalDataset:
        """The split batches are drawn from: on the device when ``data_on_device`` says so
        (``auto``: on a GPU, unless the split does not fit), else the dataset's own."""
        choice = self.cfg.data_on_device
        if choice == "never" or (choice == "auto" and self.device.type != "cuda"):
            return self.data.train
        try:
            return ResidentSplit(self.data.train, self.device)
        except torch.cuda.OutOfMemoryError:
            if choice == "always":
                raise
            torch.cuda.empty_cache()
            print(
                "note: the train split does not fit on the GPU; batches come from host memory",
                file=sys.stderr,
            )
            return self.data.train

    def _balance_on_device(
        self, epoch: int, out, batch: Batch, t_logits
    ) -> dict[str, torch.Tensor] | None:
        """:meth:`_balance` without a host sync: κ and ρ stay device tensors (the same numbers;
        :mod:`g2d_lite.sync_free`), logged as such until the epoch ends."""
        record: dict[str, Any] = {"step": self.global_step, "epoch": epoch}
        targets = gather_cat(batch.targets, self.ctx)
        names = list(self.model.encoders)
        kappa = None
        if t_logits is not None:
            gathered = {m: gather_cat(lg, self.ctx) for m, lg in t_logits.items()}
            rho = sync_free.confidence(gathered, targets, self.task)
            record.update({f"rho/{m}": rho[i] for i, m in enumerate(gathered)})
            if self.smp is not None:
                kappa = sync_free.smp_kappa(self.smp, rho, list(gathered), epoch)
                sync_free.scale_gradients(self.model.encoders, kappa, self.smp.scope)
        if self.ogm is not None:
            branches = {
                m: gather_cat(b.detach().float(), self.ctx) for m, b in out.branch_logits.items()
            }
            kappa = sync_free.ogm_kappa(self.ogm, branches, targets, epoch)
            noise = epoch_generator(self.cfg.seed, self.global_step, 1, self.device)
            sync_free.ogm_apply(self.ogm, self.model.encoders, kappa, epoch, noise)
        if kappa is None:
            return None
        coefficients = {m: kappa[i] for i, m in enumerate(names)}
        record.update({f"kappa/{m}": k for m, k in coefficients.items()})
        self.steps.append(record)
        return coefficients

    def _check_epoch_finite(self, epoch: int, first_step: int) -> None:
        """The sync-free step's NaN/inf check, read once per epoch: stop before the epoch is
        saved, so the last good checkpoint is the previous epoch's."""
        bad = self.watch.first_bad_step()
        if bad is not None:
            raise NonFiniteLossError(
                f"non-finite loss at epoch {epoch}, step {first_step + bad} (found when the "
                f"epoch ended: step_mode='sync_free' checks once per epoch). "
                f"{self._kept_checkpoint()}Lower the learning rate or check the inputs for NaN/inf."
            )

    def check_finite(
        self, total: torch.Tensor, parts: Mapping[str, torch.Tensor], epoch: int
    ) -> None:
        """Stop loudly on a NaN or infinite loss, before its backward pass."""
        if torch.isfinite(total):
            return
        raise NonFiniteLossError(
            f"non-finite loss {total.item()} at epoch {epoch}, step {self.global_step} "
            f"(parts: { {k: round(v.item(), 4) for k, v in parts.items()} }). "
            f"{self._kept_checkpoint()}Lower the learning rate or check the inputs for NaN/inf."
        )

    def encoder_grad_norms(self) -> dict[str, torch.Tensor]:
        """Each encoder's current gradient norm, as tensors (no device sync)."""
        return {m: _grad_norm(enc) for m, enc in self.model.encoders.items()}

    def _standard_step(
        self, epoch: int, batch: Batch, inputs: Mapping[str, torch.Tensor]
    ) -> StepResult:
        with autocast(self.device, self.amp):
            out = self.forward_model(inputs)
        t_features, t_logits = self._teacher_outputs(batch, inputs)
        total, parts = self._loss(out, batch, t_features, t_logits)
        if self.sync_free:
            self.watch.observe(total)  # read once, when the epoch ends
        else:
            self.check_finite(total, parts, epoch)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        norms = self.encoder_grad_norms()
        balance = self._balance_on_device if self.sync_free else self._balance
        kappa = balance(epoch, out, batch, t_logits) if self.role == "student" else None
        self.optimizer.step()
        return StepResult(out, total, parts, norms, kappa)

    @staticmethod
    @contextlib.contextmanager
    def _one_value_per_channel_named(batch: Batch) -> Iterator[None]:
        """Around a step: a batch that leaves a BatchNorm one value per channel (a map pooled
        to 1 x 1 before a BatchNorm2d) is named with the setting that fixes it."""
        try:
            yield
        except ValueError as error:
            if "Expected more than 1 value per channel" not in str(error):
                raise
            raise DatasetError(
                f"a training batch of {len(batch.targets)} sample(s) leaves a BatchNorm layer one "
                "value per channel, which it cannot train on; raise batch_size (or set "
                "drop_last=True if it is the last batch)"
            ) from error

    def _train_batch(self, epoch: int, batch: Batch, stats: _EpochStats) -> None:
        batch = batch.to(self.device, non_blocking=True)
        if isinstance(self.train_split, ResidentSplit):  # the readers' per-sample work, batched
            generator = epoch_generator(self.cfg.seed, self.global_step, 2, self.device)
            batch = batch._replace(inputs=self.train_split.transform_batch(batch.inputs, generator))
        inputs = self._inputs(batch)
        with self._one_value_per_channel_named(batch):
            if self.update_rule is None:
                result = self._standard_step(epoch, batch, inputs)
            else:
                result = self.update_rule.step(self, epoch, batch, inputs)
        if self.update_rule is not None:
            record = dict(result.record)
            if result.kappa is not None:
                record |= {f"kappa/{m}": k for m, k in result.kappa.items()}
            if record:
                self.steps.append({"step": self.global_step, "epoch": epoch} | record)
        self.global_step += 1
        n = len(batch.targets)
        stats.count += n
        stats.batches += 1
        stats.add("train/loss", result.loss, n)
        for key, value in result.parts.items():
            stats.add(f"train/{key}", value, n)
        for m, norm in result.grad_norms.items():
            stats.add(f"grad_norm/{m}", norm)
        self._add_train_scores(stats, result.out, batch)
        for m in self.model.encoders:
            stats.add(f"kappa/{m}", 1.0 if result.kappa is None else result.kappa[m])

    def _add_train_scores(self, stats: _EpochStats, out, batch: Batch) -> None:
        if self.task != "classification":
            return
        targets = batch.targets
        stats.add(f"train/{self.metric}", (out.logits.argmax(1) == targets).sum() * 100.0)
        for m, b in (getattr(out, "branch_logits", None) or {}).items():
            stats.add(f"train/{self.metric}/{m}", (b.argmax(1) == targets).sum() * 100.0)

    # ----------------------------------------------------------------- epochs
    def _prepare_teachers(self) -> None:
        if self.teachers is None:
            return
        if self.cfg.teacher_cache == "auto" and self.data.train.deterministic:
            cache = self.teachers.precompute(self.data.train, device=self.device)
            self.teacher_cache = cache.to(self.device)
        if self.smp is not None and self.cfg.smp_schedule == "staged":
            logits = (
                self.teacher_cache.logits
                if self.teacher_cache
                else predict_teacher_logits(self.teachers, self.data, self.device)
            )
            self.smp.rank(teacher_confidence(logits, self.data.train.targets, self.task))

    def _evaluate(self, row: dict[str, Any]) -> None:
        for split in ("validation", "test"):
            pred = predict(
                self.model,
                self.data[split],
                device=self.device,
                amp=self.amp,
                num_workers=self.cfg.num_workers,
            )
            prefix = "val" if split == "validation" else "test"
            row.update({f"{prefix}/{k}": v for k, v in metrics(pred, self.task).items()})

    def _run_epoch(self, epoch: int) -> dict[str, Any]:
        cfg = self.cfg
        started = time.perf_counter()
        self.model.train()
        order = batch_order(
            len(self.data.train),
            cfg.batch_size,
            shuffle=True,
            seed=cfg.seed,
            epoch=epoch,
            drop_last=cfg.drop_last,
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
        )
        stats = _EpochStats()
        batches = iterate_batches(
            self.train_split, order, cfg.num_workers, pin_memory=self.device.type == "cuda"
        )
        first_step, first_record = self.global_step, len(self.steps)
        for batch in batches:
            self._train_batch(epoch, batch, stats)
        if self.sync_free:
            self._check_epoch_finite(epoch, first_step)
            self.steps[first_record:] = sync_free.materialise(self.steps[first_record:])
        broadcast_buffers(self.model, self.ctx)
        row: dict[str, Any] = {"epoch": epoch, "lr": self.optimizer.param_groups[0]["lr"]}
        row.update(stats.row())
        if self.scheduler:
            self.scheduler.step()
        self.train_seconds += time.perf_counter() - started
        if (epoch + 1) % cfg.eval_every == 0 or epoch == cfg.epochs - 1:
            self._evaluate(row)
        row["seconds"] = time.perf_counter() - started
        return row

    def _kept_checkpoint(self) -> str:
        """What the user still has on disk when a run stops, said only if it is true."""
        if self.folder is None:
            return ""
        if not self.folder.file(LAST).is_file():
            return "No checkpoint was written yet (this happened in the first epoch). "
        epoch = self.history[-1]["epoch"]
        return f"The last good checkpoint (epoch {epoch}) is kept at {self.folder.file(LAST)}. "

    def _writing(self) -> contextlib.AbstractContextManager[list[str]]:
        """The run folder's lock, held by the process that writes it (rank 0)."""
        if self.folder is None or not self.ctx.is_main:
            return contextlib.nullcontext([])
        return self.folder.writing()

    def fit(self, resume: bool = True) -> TrainResult:
        """Train to ``cfg.epochs``, resuming from ``run_dir``'s last checkpoint when present.

        The run folder is locked while the run writes it; a folder holding another run (another
        config, other data, another role) is refused before anything in it changes.
        """
        require_bool("resume", resume)  # the string "no" is truthy: it would resume
        if self.fitted and self.folder is None:
            raise KitError(
                "this Trainer has already trained its model (the first fit() returned the "
                "result); a second fit() would train on from there under the same epoch numbers: "
                "build a new Trainer to train again, or give it a run_dir, where a second fit() "
                "reads the finished run"
            )
        slots.pool()  # a malformed G2D_LITE_SLOTS is refused before the folder is touched
        with self._writing() as notes:
            for note in notes:
                print(f"note: {note}", file=sys.stderr)
            if self.folder is not None and self.ctx.is_main:
                self._open_folder(resume)
            else:
                self._load_state_without_folder(resume)
            with slots.training_slot():  # notebooks side by side share the cores (g2d_lite.slots)
                result = self._train()
        self.fitted = True
        return result

    def _train(self) -> TrainResult:
        self._prepare_teachers()
        what = self.modality if self.role == "teacher" else f"{self.cfg.loss_variant} loss"
        epochs = range(self.start_epoch, self.cfg.epochs)
        for epoch in progress(
            epochs,
            self.cfg.progress and self.ctx.is_main,
            desc=f"{self.role} ({what})",
            total=len(epochs),
        ):
            row = self._run_epoch(epoch)
            self.history.append(row)
            self._save(epoch, row)
            for callback in self.callbacks:
                callback(self, epoch)
        return self._finish()

    def _selection_score(self, row: Mapping[str, Any], prefix: str) -> float | None:
        value = row.get(f"{prefix}/{self.metric}")
        if value is None:
            return None
        return value if self.metric == "acc" else -value

    def _best_epoch(self, prefix: str) -> int:
        """Best evaluated epoch on ``prefix`` (a later tie wins, like the official ``>=``)."""
        best, best_epoch = -math.inf, self.history[-1]["epoch"]
        for row in self.history:
            value = self._selection_score(row, prefix)
            if value is not None and value >= best:
                best, best_epoch = value, row["epoch"]
        return best_epoch

    @property
    def selection(self) -> str:
        """How this run picks its epoch: ``teacher_selection`` for teachers, else ``selection``."""
        return self.cfg.teacher_selection if self.role == "teacher" else self.cfg.selection

    def _selected_epoch(self) -> int:
        if self.selection == "last":
            return self.history[-1]["epoch"]
        return self._best_epoch("val" if self.selection == "validation" else "test")

    def _save(self, epoch: int, row: Mapping[str, Any]) -> None:
        """Track the selected epoch's weights; with a folder, commit the epoch to it."""
        is_best = self._selected_epoch() == epoch and f"val/{self.metric}" in row
        if is_best:
            self.best_epoch = epoch
            self._best_weights = {
                k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()
            }
        if self.folder is None or not self.ctx.is_main:
            return
        best = self._best_record() if is_best else None
        self.folder.commit_epoch(self._state(epoch), best, self.history)
        if self.tensorboard is not None:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self.tensorboard.add_scalar(key, value, epoch)
            self.tensorboard.flush()

    def _split_metrics(self, epoch: int, prefix: str) -> dict[str, float]:
        row = next(r for r in self.history if r["epoch"] == epoch)
        return {k[len(prefix) + 1 :]: v for k, v in row.items() if k.startswith(prefix + "/")}

    def _finish(self) -> TrainResult:
        barrier(self.ctx)  # rank 0 has written the final checkpoints before anyone reads them
        selected = self._selected_epoch()
        protocols = {
            "honest": self._best_epoch("val"),
            "paper": self._best_epoch("test"),
            "last": self.history[-1]["epoch"],
        }
        result_metrics: dict[str, Any] = {
            "role": self.role,
            "modality": self.modality,
            # the named method a student's settings are (None for a combination of no name)
            "method": method_name(self.cfg.to_dict()) if self.role == "student" else None,
            "dataset": self.data.info.name,
            "task": self.task,
            "metric": self.metric,
            "seed": self.cfg.seed,
            "epochs": self.cfg.epochs,
            "recipe": recipe(self.cfg, self.role),
            "selection": self.selection,
            "selected_epoch": selected,
            "validation": self._split_metrics(selected, "val"),
            "test": self._split_metrics(selected, "test"),
            "protocols": {
                name: {"epoch": e, "test": self._split_metrics(e, "test")}
                for name, e in protocols.items()
            },
            "train_seconds": self.train_seconds,
            "steps": self.global_step,
            "teachers": self.teacher_weights,
            "versions": versions(),
        }
        if self.teacher_data_mismatch:
            result_metrics["teacher_data_mismatch"] = self.teacher_data_mismatch
        if selected != self.history[-1]["epoch"] and self._best_weights is not None:
            self.model.load_state_dict(self._best_weights)
        self.model.eval()
        if self.role == "teacher":
            self.model.data_fingerprint = data_fingerprint(self.data)
        if self.folder is not None and self.ctx.is_main:
            self.folder.finish(self.history, self.steps, result_metrics)
        history, steps = pd.DataFrame(self.history), pd.DataFrame(self.steps)
        return TrainResult(self.model, history, steps, result_metrics, self.cfg, self.run_dir)


def predict_teacher_logits(
    teachers: TeacherBank, data: DatasetSplits, device: torch.device
) -> dict[str, torch.Tensor]:
    """Every teacher's logits over the training split (for the staged SMP ranking)."""
    return {m: predict(t, data.train, device=device).logits for m, t in teachers.teachers.items()}


def train_teacher(
    cfg: Config,
    data: DatasetSplits,
    modality: str,
    run_dir: str | Path | None = None,
    resume: bool = True,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train the unimodal teacher of ``modality`` alone (CE or MSE only)."""
    return Trainer(cfg, data, "teacher", modality, run_dir=run_dir, callbacks=callbacks).fit(resume)


def train_student(
    cfg: Config,
    data: DatasetSplits,
    teachers: TeacherBank | Mapping[str, nn.Module] | None = None,
    run_dir: str | Path | None = None,
    resume: bool = True,
    callbacks: Sequence[Callback] = (),
    check_teacher_data: bool = True,
) -> TrainResult:
    """Train a multimodal model: joint (loss "ce"), UMT, G²D, with SMP/OGM as configured.

    Teachers that record other data than ``data`` are refused unless ``check_teacher_data`` is
    off (see :mod:`g2d_lite.provenance`).
    """
    trainer = Trainer(
        cfg,
        data,
        "student",
        teachers=teachers,
        run_dir=run_dir,
        callbacks=callbacks,
        check_teacher_data=check_teacher_data,
    )
    return trainer.fit(resume)
