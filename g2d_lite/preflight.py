"""The checks a training run passes before anything is built or written.

Each refuses, with one line naming the setting or file and the fix, a run that would otherwise
fail deep inside torch mid-epoch, train on nothing, or resume into a folder that holds another
run. ``Trainer`` calls them while it is set up and while it opens its run folder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from g2d_lite.config import Config, method_name
from g2d_lite.data import DATASETS
from g2d_lite.data.base import DatasetSplits
from g2d_lite.data.validate import DatasetError, check_targets
from g2d_lite.provenance import check_same_data, data_fingerprint
from g2d_lite.rundir import (
    CONFIG,
    LAST,
    RESUMABLE_CHANGES,
    RunFolder,
    RunFolderError,
    config_differences,
)

START_OVER = "start over with --no-resume (resume=False in Python)"


def require_splits(data: object) -> None:
    """The whole data (train, validation and test), not one split of it nor anything else."""
    if not isinstance(data, DatasetSplits):
        one = " (one split; pass the whole data it came from)" if hasattr(data, "info") else ""
        raise TypeError(
            f"data must be DatasetSplits, got {type(data).__name__}{one}: load it with "
            "g2d_lite.notebook.load_data(cfg) or g2d_lite.data.load_dataset(name)"
        )


def steps_per_epoch(n: int, batch_size: int, drop_last: bool, world_size: int = 1) -> int:
    """Optimisation steps one epoch takes over ``n`` training samples."""
    global_batch = batch_size * world_size
    return n // global_batch if drop_last else math.ceil(n / global_batch)


def check_data(
    cfg: Config, data: DatasetSplits, role: str, modality: str | None, world_size: int
) -> None:
    """The config, the role and the data agree, and an epoch over the train split takes a step."""
    info = data.info
    names = ", ".join(info.modality_names)
    if info.name in DATASETS and cfg.dataset != info.name:
        raise ValueError(
            f"the config says dataset {cfg.dataset!r} but the data given are {info.name!r}; "
            "load the data from this config (g2d_lite.notebook.load_data(cfg)) or set "
            f"dataset={info.name!r}"
        )
    if role == "teacher" and modality not in info.modality_names:
        raise ValueError(f"unknown modality {modality!r} for a teacher; {info.name} has {names}")
    if role == "teacher" and cfg.modalities is not None and modality not in cfg.modalities:
        raise ValueError(
            f"modalities={list(cfg.modalities)} leaves out this teacher's modality "
            f"{modality!r}; a teacher trains one modality, so drop modalities= (it picks a "
            "student's modalities) or ask for a teacher it lists"
        )
    if role == "student" and cfg.modalities is not None:
        unknown = [m for m in cfg.modalities if m not in info.modality_names]
        if unknown:
            raise ValueError(f"modalities {unknown} are not in {info.name}; it has {names}")
        if len(set(cfg.modalities)) < 2:
            raise ValueError(
                f"a multimodal student needs at least two modalities, got {cfg.modalities}; "
                "for one modality, train a teacher"
            )
    for split in ("train", "validation"):  # labels edited after load_data fail deep in torch
        tensors = data[split].as_tensors()
        if tensors is not None:
            check_targets(tensors[1], info.task, info.num_outputs, f"{info.name}/{split}")
    n = len(data.train)
    if steps_per_epoch(n, cfg.batch_size, cfg.drop_last, world_size) == 0:
        raise DatasetError(
            f"the train split has {n} samples, fewer than batch_size {cfg.batch_size}"
            f"{f' x {world_size} ranks' if world_size > 1 else ''}: with "
            f"drop_last=True an epoch takes no step; lower batch_size to at most {n}, or set "
            "drop_last=False"
        )


def check_batch_norm_batches(model: nn.Module, cfg: Config, n: int, world_size: int) -> None:
    """Refuse a run with a one-sample batch where a BatchNorm1d (the MLP encoder's) would see
    one value per channel: torch fails mid-epoch without naming batch_size. A 2-D BatchNorm over
    a feature map trains on one sample. ``n`` is the train split's size."""
    if not any(isinstance(m, nn.BatchNorm1d) for m in model.modules()):
        return
    last = n % (cfg.batch_size * world_size)
    if cfg.batch_size == 1:
        why, fix = "batch_size=1 gives batches of one sample", "set batch_size to 2 or more"
    elif not cfg.drop_last and last == 1 and world_size == 1:
        why = (
            f"the train split has {n} samples, so with batch_size {cfg.batch_size} and "
            "drop_last=False the last batch holds one sample"
        )
        fix = "set drop_last=True or another batch_size"
    else:
        return
    raise DatasetError(
        f"{why}, and this model's BatchNorm1d layers cannot train on one sample; {fix}"
    )


def check_checkpoint_belongs(folder: RunFolder, saved: Mapping[str, Any]) -> None:
    """last.pt and config.json are written by one run; a last.pt copied in from another run
    is named as such (not as "another run" the command would have to match)."""
    if not folder.file(CONFIG).is_file():
        return
    ignored = RESUMABLE_CHANGES | {"data_options"}
    differ = config_differences(folder.read_config(), saved["config"], ignored)
    if differ:
        raise RunFolderError(
            f"{folder.file(LAST)} does not belong to {folder.file(CONFIG)} (they "
            f"differ in {', '.join(differ)}): one of the two was edited or copied in from "
            "another run; put back this folder's own, or start over with --no-resume"
        )


def canonical_config(cfg: Config, data: DatasetSplits) -> Config:
    """``modalities`` listing every modality of the data in its order is the default (None):
    the same run, recorded the same way (another order is another run)."""
    if cfg.modalities is not None and tuple(cfg.modalities) == data.info.modality_names:
        return cfg.replace(modalities=None)
    return cfg


def check_folder_takes(
    folder: RunFolder, cfg: Config, role: str, modality: str | None, data: DatasetSplits
) -> None:
    """Refuse what a start into ``folder`` would refuse, from its config.json alone (no
    checkpoint is loaded): a command writing several folders checks them all before the first
    trains, so a refusal of the second does not leave runs of two recipes."""
    if folder.check_usable() in ("started", "in_progress", "finished"):
        state = {"config": folder.read_config(), "role": role, "modality": modality}
        cfg = canonical_config(cfg, data)
        check_resumable(state, cfg, role, modality, None, data, folder.path)


def check_resumable(
    state: Mapping[str, Any],
    cfg: Config,
    role: str,
    modality: str | None,
    teacher_weights: Mapping[str, str] | None,
    data: DatasetSplits,
    run_dir: Path,
) -> None:
    """A run folder resumes only the run it holds: same role, config, teachers and data. The
    data are compared by their fingerprint, not by how data_options spell them (64 and 64.0
    give the same samples)."""
    ignored = RESUMABLE_CHANGES | ({"data_options"} if "data" in state else set())
    changed = config_differences(state["config"], cfg.to_dict(), ignored)
    if state["role"] != role or state["modality"] != modality:
        what = state["role"] + (f" ({state['modality']})" if state["modality"] else "")
        raise RunFolderError(
            f"{run_dir} holds a {what} run, not this {role} run; use a new --out "
            "folder (one folder holds one run)"
        )
    if changed:
        theirs, ours = method_name(state["config"]), method_name(cfg.to_dict())
        methods = f"; it holds method {theirs}, this is {ours}" if theirs != ours else ""
        raise RunFolderError(
            f"{run_dir} holds another run (changed: {', '.join(changed)}{methods}); use "
            f"a new --out folder, or {START_OVER}"
        )
    if "epoch" in state and state.get("teachers") != teacher_weights:
        _refuse_other_teachers(state.get("teachers"), teacher_weights, run_dir)
    check_same_data(state.get("data"), data_fingerprint(data), f"the run in {run_dir}", START_OVER)


def _refuse_other_teachers(
    saved: Mapping[str, str] | None, given: Mapping[str, str] | None, run_dir: Path
) -> None:
    ours, theirs = given or {}, saved or {}
    differ = sorted(m for m in theirs.keys() | ours.keys() if theirs.get(m) != ours.get(m))
    what = (
        f"other teachers (the {', '.join(differ)} teacher differs from the one given)"
        if saved is not None
        else "teachers it does not record (written by an older g2d-lite)"
    )
    raise RunFolderError(
        f"{run_dir} holds a student distilled from {what}; use a new --out folder, or {START_OVER}"
    )
