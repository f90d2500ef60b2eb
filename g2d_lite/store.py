"""Load-or-train: every notebook runs alone, reusing models another notebook already trained.

A run's folder name carries a hash of everything that decides its numbers (the config, the
role, the modality, the teachers it learned from, the kit version and its source code), so a
changed setting or a code change never reuses a stale model. A finished run folder is read
back; an unfinished one resumes. A run another process is training now (a second notebook on
the same model cache) is waited for and then read, not trained twice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

import g2d_lite
from g2d_lite.checkpoint import CheckpointError, info_from_dict, load_checkpoint
from g2d_lite.config import RUNTIME_ONLY, STUDENT_ONLY, Config, require_config
from g2d_lite.data.base import DatasetSplits
from g2d_lite.devices import resolve_device
from g2d_lite.errors import KitError
from g2d_lite.locks import WAIT, holder
from g2d_lite.models.classifiers import build_student, build_teacher
from g2d_lite.parallel import Job, job_slots, run_jobs
from g2d_lite.preflight import require_splits
from g2d_lite.progress import progress_enabled
from g2d_lite.provenance import data_fingerprint, weights_digest
from g2d_lite.rundir import (
    HISTORY,
    STEPS,
    RunFolder,
    RunFolderError,
    RunLockedError,
    enclosing_run,
)
from g2d_lite.train import ROLES, TrainResult, train_student, train_teacher


@functools.cache
def code_fingerprint() -> str:
    """A hash of the package's source: a code change invalidates every cached model, even
    when the version number was not bumped."""
    digest = hashlib.sha256()
    for path in sorted(Path(g2d_lite.__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def run_key(
    cfg: Config,
    role: str,
    modality: str | None = None,
    parents: tuple[str, ...] = (),
    data: DatasetSplits | None = None,
) -> str:
    """A short stable hash of what decides a run's results: the config, the role, the teachers,
    the code and the data themselves (data that do not match the config get their own run)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; valid roles: {ROLES}")
    require_config(cfg, f"the {role} run")
    ignored = RUNTIME_ONLY | (STUDENT_ONLY if role == "teacher" else {"teacher_selection"})
    values: dict[str, Any] = {k: v for k, v in cfg.to_dict().items() if k not in ignored}
    payload = {
        "config": values,
        "role": role,
        "modality": modality,
        "parents": parents,
        "version": g2d_lite.__version__,
        "code": code_fingerprint(),
        "data": None if data is None else data_fingerprint(data),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[
        :12
    ]


def model_from_checkpoint(state: dict[str, Any]) -> nn.Module:
    """Rebuild a teacher or student from a loaded checkpoint; it keeps the data fingerprint
    the run recorded (``model.data_fingerprint``), so a student can check its teachers."""
    try:
        cfg = Config.from_dict(state["config"])
        info = info_from_dict(state["info"])
        if state["role"] == "teacher":
            model = build_teacher(info, state["modality"], cfg.encoder)
        else:
            model = build_student(info, cfg.encoder, cfg.fusion, cfg.modalities)
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(
            f"the checkpoint does not rebuild a g2d-lite model ({type(error).__name__}: "
            f"{' '.join(str(error).split())[:160]})"
        ) from error
    model.data_fingerprint = state.get("data")
    return model.eval()


def load_model(checkpoint: str | Path) -> nn.Module:
    """Rebuild a teacher or student from a checkpoint written by the training loop."""
    return model_from_checkpoint(load_checkpoint(checkpoint))


def load_run(run_dir: str | Path) -> TrainResult:
    """Read a finished run folder back: selected weights, histories and metrics.

    Refused, with the reason, when the run is unfinished, being written, or its checkpoints and
    metrics do not belong together (see :class:`g2d_lite.rundir.RunFolder`).
    """
    folder = RunFolder(run_dir)
    metrics, best = folder.load_finished()
    model = model_from_checkpoint(best)
    steps = folder.read_table(STEPS)
    cfg = folder.config()
    history = folder.read_table(HISTORY)
    return TrainResult(model, history, steps, metrics, cfg, folder.path)


def _finished(run_dir: Path) -> bool:
    return RunFolder(run_dir).state() == "finished"


WAIT_POLL_S = 0.5


def wait_for_writer(run_dir: Path) -> None:
    """Return once no live process is training ``run_dir``, saying whom it waits for, and
    again if that process is stopped (Ctrl-Z): then the wait lasts until someone resumes it."""
    noted = ""
    while (writer := holder(run_dir)) is not None:
        advice = writer.advice()
        if advice != noted:
            stopped = "" if advice == WAIT else f"; {advice}"
            print(f"note: waiting for pid {writer.pid}, which is training {run_dir.name}{stopped}")
            noted = advice
        time.sleep(WAIT_POLL_S)


def _load_or_train(run_dir: Path, train: Callable[[], TrainResult]) -> TrainResult:
    """The finished run in ``run_dir``, trained (or resumed) here unless another process is
    training it: then wait for that one, and train only if it stopped unfinished."""
    while True:
        wait_for_writer(run_dir)
        if _finished(run_dir):
            try:
                return load_run(run_dir)
            except RunLockedError:
                raise
            except RunFolderError as error:  # its fix names the command line, not a cell
                raise RunFolderError(
                    f"{error}. From a notebook: this run is in the model cache, and rerunning the "
                    f"cell finds it again; remove {run_dir} and rerun the cell to train it anew"
                ) from None
        try:
            return train()
        except RunLockedError:  # taken between the check and the start: wait for that writer
            if holder(run_dir) is None and not _finished(run_dir):
                raise  # a lock this host cannot check (another machine's): its message says why


def _artifacts(artifact_dir: str | Path) -> Path:
    """The model cache folder, refused up front when it cannot be one."""
    if not isinstance(artifact_dir, (str, Path)):
        raise TypeError(
            f"artifact_dir must be a folder path for trained models, got "
            f"{type(artifact_dir).__name__} (the notebooks use ARTIFACT_DIR = '../artifacts')"
        )
    path = Path(artifact_dir).expanduser()
    outer = enclosing_run(path)
    if outer is not None:
        raise KitError(
            f"the model cache {path} is inside the training run {outer}; give a folder of its "
            "own for trained models (ARTIFACT_DIR in the notebooks, artifact_dir in Python)"
        )
    if (path / "meta.json").is_file():
        raise KitError(
            f"the model cache {path} is a dataset cache (it holds meta.json); give the trained "
            "models a folder of their own (ARTIFACT_DIR in the notebooks, artifact_dir in Python)"
        )
    if path.exists() and not path.is_dir():
        raise KitError(
            f"the model cache {path} is a file; give a folder for trained models (ARTIFACT_DIR "
            "in the notebooks, artifact_dir in Python)"
        )
    return path


def _check_teacher_results(teachers: Mapping[str, Any] | None) -> None:
    """Teachers here are runs (their folders name the student's cache entry), not bare models."""
    if teachers is not None and not isinstance(teachers, Mapping):
        raise TypeError(
            f"teachers must map each modality to its teacher run, e.g. {{'audio': run}}, or be "
            f"None; got {type(teachers).__name__}"
        )
    for modality, teacher in (teachers or {}).items():
        if not isinstance(teacher, TrainResult):
            raise KitError(
                f"teachers[{modality!r}] is a {type(teacher).__name__}; load_or_train_student "
                "takes the runs load_or_train_teacher(s) returns (their folders name the "
                "student's cache entry); pass those, or call train_student with models"
            )


def _teacher_dir(cfg: Config, data: DatasetSplits, modality: str, artifact_dir: str | Path) -> Path:
    key = run_key(cfg, "teacher", modality, data=data)
    return _artifacts(artifact_dir) / f"teacher-{modality}-{key}"


def _teacher_digests(teachers: Mapping[str, TrainResult] | None) -> tuple[str, ...]:
    """What keys a student to its teachers: their weights, not their folder names (two
    `teacher --out` folders both hold a teacher-audio, and a student of one is not a student of
    the other). Hashing ResNet-18 weights takes tens of milliseconds, so it is done once."""
    return tuple(sorted(f"{m}:{weights_digest(t.model)}" for m, t in (teachers or {}).items()))


def _student_dir(
    cfg: Config,
    data: DatasetSplits,
    digests: tuple[str, ...],
    artifact_dir: str | Path,
    name: str | None = None,
) -> Path:
    label = f"{cfg.loss_variant}-{cfg.balance}" if name is None else _plain_label(name)
    parents = digests if cfg.needs_teachers else ()
    key = run_key(cfg, "student", None, parents, data=data)
    return _artifacts(artifact_dir) / f"student-{label}-{key}"


def _plain_label(name: object) -> str:
    """A student's name becomes part of one folder name in the cache: a path in it would put
    the run outside the cache (or in a folder of its own) where nothing finds it again."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty label such as 'g2d-T2', got {name!r}")
    if "/" in name or "\\" in name or ".." in name or name != name.strip():
        raise ValueError(
            f"name {name!r} must be a plain label, without '/', '\\', '..' or outer spaces "
            "(it becomes part of one folder name in the cache); e.g. 'g2d-T2'"
        )
    return name


def load_or_train_teacher(
    cfg: Config, data: DatasetSplits, modality: str, artifact_dir: str | Path
) -> TrainResult:
    """The teacher of ``modality`` under ``cfg``: read from ``artifact_dir`` or trained there."""
    require_config(cfg, "load_or_train_teacher")
    require_splits(data)
    run_dir = _teacher_dir(cfg, data, modality, artifact_dir)
    return _load_or_train(run_dir, lambda: train_teacher(cfg, data, modality, run_dir=run_dir))


def load_or_train_student(
    cfg: Config,
    data: DatasetSplits,
    teachers: Mapping[str, TrainResult] | None,
    artifact_dir: str | Path,
    name: str | None = None,
) -> TrainResult:
    """A student (joint, G²D, an ablation) under ``cfg``, distilled from ``teachers``' models."""
    require_config(cfg, "load_or_train_student")
    require_splits(data)
    _check_teacher_results(teachers)
    digests = _teacher_digests(teachers) if cfg.needs_teachers else ()
    return _load_or_train_student(cfg, data, teachers, digests, artifact_dir, name)


def _load_or_train_student(
    cfg: Config,
    data: DatasetSplits,
    teachers: Mapping[str, TrainResult] | None,
    digests: tuple[str, ...],
    artifact_dir: str | Path,
    name: str | None = None,
) -> TrainResult:
    run_dir = _student_dir(cfg, data, digests, artifact_dir, name)
    used = teachers if cfg.needs_teachers else None
    models = {m: t.model for m, t in (used or {}).items()} or None
    return _load_or_train(run_dir, lambda: train_student(cfg, data, models, run_dir=run_dir))


def load_or_train_teachers(
    cfg: Config, data: DatasetSplits, modalities: Sequence[str], artifact_dir: str | Path
) -> dict[str, TrainResult]:
    """:func:`load_or_train_teacher` for each modality; the missing ones train side by side
    where the machine has idle cores (:mod:`g2d_lite.parallel`: the same numbers, sooner)."""
    if isinstance(modalities, str):
        raise TypeError(
            f"modalities must be a list of names, got the string {modalities!r}: pass "
            f"[{modalities!r}] (or data.info.modality_names for all)"
        )
    if not modalities:
        raise ValueError("modalities is empty: name the teachers to train, e.g. ['audio']")
    require_config(cfg, "load_or_train_teachers")
    require_splits(data)
    jobs = [Job(cfg, _teacher_dir(cfg, data, m, artifact_dir), modality=m) for m in modalities]
    _train_missing(jobs, cfg, data)
    return {m: load_or_train_teacher(cfg, data, m, artifact_dir) for m in modalities}


def load_or_train_students(
    cfgs: Sequence[Config],
    data: DatasetSplits,
    teachers: Mapping[str, TrainResult] | None,
    artifact_dir: str | Path,
) -> list[TrainResult]:
    """:func:`load_or_train_student` for each config, in order; the missing ones train side by
    side where the machine has idle cores (:mod:`g2d_lite.parallel`)."""
    if isinstance(cfgs, Config) or not isinstance(cfgs, Sequence):
        raise TypeError(
            f"cfgs must be a list of configs, got {type(cfgs).__name__}: for one, call "
            "load_or_train_student(cfg, ...) or pass [cfg]"
        )
    require_splits(data)
    _check_teacher_results(teachers)
    for index, cfg in enumerate(cfgs):
        require_config(cfg, f"load_or_train_students (item {index} of cfgs)")
    digests = _teacher_digests(teachers) if any(cfg.needs_teachers for cfg in cfgs) else ()
    jobs = []
    for cfg in cfgs:
        used = teachers if cfg.needs_teachers else None
        dirs = tuple((m, str(t.run_dir)) for m, t in (used or {}).items() if t.run_dir)
        if used and len(dirs) < len(used):  # a teacher held only in memory: train here
            jobs = []
            break
        jobs.append(Job(cfg, _student_dir(cfg, data, digests, artifact_dir), teacher_dirs=dirs))
    if cfgs:
        _train_missing(jobs, cfgs[0], data)
    return [_load_or_train_student(cfg, data, teachers, digests, artifact_dir) for cfg in cfgs]


def _train_missing(jobs: Sequence[Job], cfg: Config, data: DatasetSplits) -> None:
    """Train the jobs whose folders hold no finished run, side by side, when that is worth it;
    otherwise leave them to the caller's one-at-a-time path."""
    missing = list(
        {
            job.run_dir: job
            for job in jobs
            if not _finished(job.run_dir) and holder(job.run_dir) is None  # else being trained
        }.values()
    )
    if len(missing) < 2:
        return
    slots = job_slots(resolve_device(cfg.device), data)
    if slots > 1:
        run_jobs(missing, data, min(slots, len(missing)), show=progress_enabled(cfg.progress))
