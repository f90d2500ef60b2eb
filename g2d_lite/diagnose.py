"""Diagnostics that explain modality imbalance and what G²D does about it (notebooks 02 and 03).

Every function returns a tidy :class:`pandas.DataFrame` (one observation per row) so notebooks
can print it and :mod:`g2d_lite.plots` can draw it. Scores use the run's metric: accuracy in %
for classification (higher is better), mean absolute error for regression (lower is better).

- :func:`score_table` / :func:`gap_table`: the paper's Figure 1 — each teacher alone against its
  branch inside joint training and inside G²D, the gap and how much of it G²D recovers.
- :func:`teacher_confidence_table`: train confidence against test accuracy per teacher. SMP keys
  on the *training* confidence, which rewards memorisation, not test skill.
- :func:`learning_curves`, :func:`task_loss_curves`, :func:`gradient_norms`: why the weak branch
  stalls (the fused training loss reaches ~0 and its encoder's gradient shrinks).
- :func:`linear_cka` / :func:`feature_alignment`: how close a student's features are to each
  teacher's (what feature distillation asks for).
- :func:`modality_drop`: how much fused accuracy each modality carries at evaluation.
- :func:`accuracy_by_informative`: accuracy on samples whose modalities carry the class or not
  (synthetic data only: it knows which samples are informative).
- :func:`confidence_timeline` / :func:`leader_share`: which modality SMP let lead, step by step.
- :func:`synthetic_expectations`: what the synthetic knobs predict before any training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from g2d_lite import api_checks
from g2d_lite.config import method_name
from g2d_lite.data.base import SPLITS, DatasetInfo, DatasetSplits, MultimodalDataset
from g2d_lite.data.synthetic import UNINFORMATIVE
from g2d_lite.evaluate import Predictions, metric_name, predict, score
from g2d_lite.models.classifiers import UnimodalClassifier
from g2d_lite.palette import canonical_method
from g2d_lite.smp import teacher_confidence
from g2d_lite.train import TrainResult

FUSED = "fused"  # the ``output`` label of a student's fused prediction
ALL = "all"  # the ``leader`` label of a step where every modality trained
# A branch within this many points of its teacher has no gap worth a recovery share: twice the
# binomial standard error of an accuracy near 50 % on 2,000 test samples is 2.2 points.
MIN_GAP = 2.0
# Split names as metrics.json spells them -> the prefix of their history.csv columns.
HISTORY_PREFIX: dict[str, str] = {
    "train": "train",
    "validation": "val",
    "val": "val",
    "test": "test",
}


def history_prefix(split: str) -> str:
    """The history column prefix of a split: "validation" (or "val") -> "val"."""
    if split not in HISTORY_PREFIX:
        raise ValueError(f"unknown split {split!r}; valid: train, validation, test")
    return HISTORY_PREFIX[split]


def data_split(split: object) -> str:
    """A split of the data by name: "train", "validation" (or "val") or "test"."""
    if split == "val":
        return "validation"
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)} (or val)")
    return str(split)


def higher_is_better(metric: str) -> bool:
    """Accuracy rises with skill, mean absolute error falls."""
    if metric not in ("acc", "mae"):
        raise ValueError(f"unknown metric {metric!r}; the kit's metrics are 'acc' and 'mae'")
    return metric == "acc"


def predictions(model: nn.Module | TrainResult, dataset: MultimodalDataset) -> Predictions:
    """:func:`g2d_lite.evaluate.predict` on the model's own device (a model trained in this
    session may live on a GPU, one read back from the artifact cache on the CPU). A run
    (:class:`TrainResult`) stands for its model."""
    model = _model_of(model)
    require_split_dataset(dataset, "predictions")
    device = next(model.parameters()).device
    return predict(model, dataset, device=device)


def _model_of(model: object) -> nn.Module:
    if isinstance(model, TrainResult):
        return model.model
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a model (or a run), got {type(model).__name__}")
    return model


def _metric(run: TrainResult) -> str:
    return run.metrics.get("metric", "acc")


def run_method(run: TrainResult) -> str | None:
    """The named method (a ``METHODS`` key) a real run's config is; ``None`` for a run made by
    hand (no role in its metrics), whose config says nothing."""
    return method_name(run.config.to_dict()) if run.metrics.get("role") else None


def _check_run(what: str, name: str, run: object) -> None:
    """A trained run where one belongs (a model or a history in its place is named)."""
    if not isinstance(run, TrainResult):
        raise TypeError(
            f"{what}[{name!r}] must be a trained run (TrainResult, e.g. store.load_run(folder) "
            f"or what load_or_train_* return), got {type(run).__name__}"
        )


def _require_runs(runs: Mapping[str, TrainResult]) -> None:
    """A non-empty dict of trained runs."""
    api_checks.not_empty(runs, "runs", "{'joint': joint}")
    for name, run in runs.items():
        _check_run("runs", name, run)


def require_methods(students: Mapping[str, TrainResult]) -> None:
    """A student keyed by a method name (or its label, "G²D") is a run of that method."""
    for name, run in students.items():
        key, own = canonical_method(name), run_method(run)
        if key is not None and own is not None and own != key:
            raise ValueError(
                f"students[{name!r}] is a {own} run (its config says so), not {key}: key each "
                "student by its own method"
            )


def require_roles(runs: Mapping[str, TrainResult], teachers: bool, what: str) -> None:
    """Teachers where teachers go, keyed by their own modality; students elsewhere. Swapped
    arguments would otherwise give a table of plausible numbers under the wrong names."""
    if not isinstance(runs, Mapping):
        raise TypeError(f"{what} must be a dict of runs keyed by name, got {type(runs).__name__}")
    for name, run in runs.items():
        _check_run(what, name, run)
        role, modality = run.metrics.get("role"), run.metrics.get("modality")
        if teachers and role not in (None, "teacher"):
            raise ValueError(
                f"{what}[{name!r}] is a {role} run, not a teacher: pass the teachers first, e.g. "
                "score_table(teachers, {'joint': joint})"
            )
        if teachers and modality is not None and name != modality:
            raise ValueError(
                f"{what}[{name!r}] is the {modality} teacher: key each teacher by its modality"
            )
        if not teachers and role == "teacher":
            raise ValueError(
                f"{what}[{name!r}] is a teacher run; pass students (joint, G²D, …) here and the "
                "teachers as the first argument"
            )


# --------------------------------------------------------------------------------------------
# Figure 1: teachers against branches


def score_table(
    teachers: Mapping[str, TrainResult],
    students: Mapping[str, TrainResult],
    split: str = "test",
) -> pd.DataFrame:
    """Scores of each teacher (on its modality) and of each student's branches and fused output.

    Columns ``model, output, metric, score``; ``model`` is ``"teacher"`` or a key of
    ``students`` (e.g. "joint", "G²D"), ``output`` a modality name or ``"fused"``. Numbers come
    from the runs' selected epochs (``metrics[split]``), so no model is re-evaluated; the
    split is kept in ``attrs["split"]``.
    """
    split = api_checks.metrics_split(split)
    require_roles(teachers, True, "teachers")
    require_roles(students, False, "students")
    require_methods(students)
    rows = []
    for modality, run in teachers.items():
        metric = _metric(run)
        rows.append(("teacher", modality, metric, run.metrics[split][metric]))
    for name, run in students.items():
        metric = _metric(run)
        values = run.metrics[split]
        rows.append((name, FUSED, metric, values[metric]))
        for modality in teachers:
            key = f"{metric}/{modality}"
            if key in values:
                rows.append((name, modality, metric, values[key]))
    table = pd.DataFrame(rows, columns=["model", "output", "metric", "score"])
    table.attrs["split"] = split  # a figure of the table then names the split it holds
    return table


def gap_table(
    teacher: Mapping[str, float],
    joint: Mapping[str, float],
    student: Mapping[str, float] | None = None,
    metric: str = "acc",
    min_gap: float | None = None,
) -> pd.DataFrame:
    """Per modality: teacher score, branch in joint training, branch in the student (G²D).

    ``gap`` is how far the joint branch falls short of its teacher (positive = worse, in the
    metric's units) and ``recovery`` the share of that gap the student closes, in %
    (``100 · (student − joint) / (teacher − joint)``; NaN when the gap is below ``min_gap``:
    a share of a gap that small is noise, e.g. 50 % of 0.7 points). ``None``: ``MIN_GAP``
    points for accuracy, any positive gap for other metrics.
    """
    sign = 1.0 if higher_is_better(metric) else -1.0
    teacher, joint = _scores(teacher, "teacher"), _scores(joint, "joint")
    student = None if student is None else _scores(student, "student")
    if min_gap is None:
        min_gap = MIN_GAP if metric == "acc" else 0.0
    if api_checks.finite_number("min_gap", min_gap) < 0:
        raise ValueError(f"min_gap is a gap in the metric's units, at least 0; got {min_gap}")
    if not teacher:
        raise ValueError("teacher holds no scores: give one per modality, e.g. {'audio': 60.0}")
    if metric == "acc":
        _check_percent({"teacher": teacher, "joint": joint, "student": student or {}})
    fix = "give one score per teacher modality"
    api_checks.require_keys(joint, teacher, "joint", fix)
    if student is not None:
        api_checks.require_keys(student, teacher, "student", fix)
    for name, scores in (("joint", joint), ("student", student or {})):
        fix = f"give a teacher score for each modality {name} has, or leave it out of {name}"
        api_checks.require_keys(teacher, scores, "teacher", fix)
    rows = []
    for m, t in teacher.items():
        row = {"modality": m, "teacher": t, "joint": joint[m], "gap": sign * (t - joint[m])}
        if student is not None:
            row["g2d"] = student[m]
            row["recovery"] = (
                100.0 * (student[m] - joint[m]) / (t - joint[m])
                if row["gap"] >= min_gap and row["gap"] > 0
                else math.nan
            )
        rows.append(row)
    columns = ["modality", "teacher", "joint"] + (["g2d"] if student is not None else [])
    columns += ["gap"] + (["recovery"] if student is not None else [])
    return pd.DataFrame(rows)[columns]


def _scores(values: object, name: str) -> Mapping[str, float]:
    """A mapping modality -> finite score (a pandas Series is one). A NaN would give a NaN gap
    and recovery without a word; training stops a run whose loss turns NaN, so a NaN score here
    was typed or read from something that is not a finished run's metrics."""
    if isinstance(values, pd.Series):
        values = values.to_dict()
    if not isinstance(values, Mapping):
        raise TypeError(f"{name} must map each modality to its score, got {type(values).__name__}")
    bad = {m: v for m, v in values.items() if isinstance(v, bool) or not isinstance(v, Real)}
    if bad:
        raise TypeError(f"{name}'s scores must be numbers, got {bad}")
    unknown = sorted(str(m) for m, v in values.items() if not math.isfinite(v))
    if unknown:
        raise ValueError(
            f"{name}'s score for {', '.join(unknown)} is NaN or infinite: there is no gap to "
            "measure; take the scores from finished runs (diagnose.gap_from_runs), or leave "
            "that modality out"
        )
    return values


def _check_percent(scores: Mapping[str, Mapping[str, float]]) -> None:
    """Accuracies are in %. Fractions everywhere would put every gap under ``MIN_GAP`` (no
    recovery, without a word); fractions beside percentages give gaps of -50 points."""
    known = {name: [v for v in s.values() if not math.isnan(v)] for name, s in scores.items()}
    tops = {name: max(values) for name, values in known.items() if values}
    fractions = sorted(name for name, top in tops.items() if top <= 1.0)
    if tops and len(fractions) == len(tops):
        raise ValueError(
            "every accuracy given is at most 1, so these look like fractions: give accuracies "
            "in % (multiply by 100), as the runs' metrics hold them"
        )
    if fractions and any(top > 5.0 for top in tops.values()):
        raise ValueError(
            f"the {', '.join(fractions)} scores look like fractions (none above 1) and the others "
            "like percentages: give every accuracy in % (multiply the fractions by 100)"
        )


def gap_from_runs(
    teachers: Mapping[str, TrainResult],
    joint: TrainResult,
    student: TrainResult | None = None,
    split: str = "test",
) -> pd.DataFrame:
    """:func:`gap_table` read from trained runs' ``metrics[split]``."""
    split = api_checks.metrics_split(split)
    require_roles(teachers, True, "teachers")
    require_roles(
        {"joint": joint, **({"student": student} if student is not None else {})}, False, "runs"
    )
    same_folder = student is not None and joint.run_dir is not None
    if student is joint or (same_folder and student.run_dir == joint.run_dir):
        raise ValueError("joint and student are the same run: pass the joint run and the G²D run")
    joint_method = run_method(joint)
    if joint_method is not None and joint.config.loss != "ce":
        raise ValueError(
            f"joint is a {joint_method} run, which distils from teachers: pass the joint-training "
            "run as joint and the distilled one as student, gap_from_runs(teachers, joint, g2d)"
        )
    metric = _metric(joint)

    def branches(run: TrainResult) -> dict[str, float]:
        scores = run.metrics[split]
        fix = "gap_from_runs needs students with one branch per teacher (late fusion)"
        api_checks.require_keys(scores, [f"{metric}/{m}" for m in teachers], "its scores", fix)
        return {m: scores[f"{metric}/{m}"] for m in teachers}

    teacher = {m: run.metrics[split][metric] for m, run in teachers.items()}
    return gap_table(
        teacher, branches(joint), branches(student) if student is not None else None, metric
    )


def teacher_confidence_table(
    teachers: Mapping[str, nn.Module],
    data: DatasetSplits,
    splits: tuple[str, ...] = ("train", "test"),
) -> pd.DataFrame:
    """Each teacher's score and mean true-class confidence ρ per split.

    SMP compares these confidences on *training* batches: a teacher that memorised its training
    set looks confident there even when it is the weaker one on test, and SMP freezes it.
    Columns ``modality, split, metric, score, confidence``.
    """
    if not isinstance(data, DatasetSplits):
        raise TypeError(
            f"teacher_confidence_table takes the whole DatasetSplits (load_data(cfg)) and the "
            f"splits to score, e.g. ('train',); got {type(data).__name__}"
        )
    task = data.info.task
    metric = metric_name(task)
    teachers = _teacher_models(teachers)
    splits = [data_split(s) for s in api_checks.column_names(splits, "splits")]
    rows = []
    for m, model in teachers.items():
        for split in splits:
            pred = predictions(model, data[split])
            rho = teacher_confidence({m: pred.logits}, pred.targets, task)[m]
            rows.append((m, split, metric, score(pred.logits, pred.targets, task), rho))
    return pd.DataFrame(rows, columns=["modality", "split", "metric", "score", "confidence"])


def _teacher_models(teachers: Mapping[str, nn.Module | TrainResult]) -> dict[str, nn.Module]:
    """Teacher models (or runs) keyed by their own modality; a student in their place, or a
    teacher under another modality's key, is named."""
    api_checks.not_empty(teachers, "teachers", "{'audio': teachers['audio']}")
    models = {m: _model_of(model) for m, model in teachers.items()}
    for m, model in models.items():
        if not isinstance(model, UnimodalClassifier) or model.modality != m:
            what = (
                f"the {model.modality} teacher"
                if isinstance(model, UnimodalClassifier)
                else f"a {type(model).__name__}, not a teacher"
            )
            raise ValueError(f"teachers[{m!r}] is {what}: key each teacher by its modality")
    return models


# --------------------------------------------------------------------------------------------
# Curves from the training histories


def _modality_of(run: TrainResult) -> str | None:
    return run.metrics.get("modality")


def learning_curves(runs: Mapping[str, TrainResult], split: str = "val") -> pd.DataFrame:
    """Per-epoch scores of every run's outputs on ``split`` ("train", "validation" or "val",
    "test").

    Columns ``run, epoch, output, metric, score``; a teacher's single output is named after its
    modality, a student's are ``"fused"`` and its branches.
    """
    _require_runs(runs)
    frames = []
    for name, run in runs.items():
        metric, h = _metric(run), run.history
        prefix = f"{history_prefix(split)}/{metric}"
        own = _modality_of(run)
        for column in [c for c in h.columns if c == prefix or c.startswith(prefix + "/")]:
            output = column[len(prefix) + 1 :] or (own or FUSED)
            part = h[["epoch", column]].dropna().rename(columns={column: "score"})
            frames.append(part.assign(run=name, output=output, metric=metric))
    return pd.concat(frames, ignore_index=True)[["run", "epoch", "output", "metric", "score"]]


def task_loss_curves(runs: Mapping[str, TrainResult]) -> pd.DataFrame:
    """Per-epoch training task loss (CE on the fused logits for students) of every run.

    When it reaches ~0 the fused prediction is already right on the training set and the task
    loss stops pushing any encoder — including the one that has not learned yet.
    Columns ``run, epoch, loss``.
    """
    _require_runs(runs)
    frames = [
        run.history[["epoch", "train/task"]].rename(columns={"train/task": "loss"}).assign(run=name)
        for name, run in runs.items()
    ]
    return pd.concat(frames, ignore_index=True)[["run", "epoch", "loss"]]


def gradient_norms(runs: Mapping[str, TrainResult]) -> pd.DataFrame:
    """Per-epoch mean gradient norm of each encoder (``grad_norm/<m>`` in the histories).

    The training loop measures them after ``backward()`` and *before* SMP masks anything, so for
    G²D they show how hard the loss pulls on an encoder, not how far it moved.
    Columns ``run, epoch, modality, grad_norm``.
    """
    _require_runs(runs)
    frames = []
    for name, run in runs.items():
        for column in [c for c in run.history.columns if c.startswith("grad_norm/")]:
            part = run.history[["epoch", column]].rename(columns={column: "grad_norm"})
            frames.append(part.assign(run=name, modality=column.split("/", 1)[1]))
    return pd.concat(frames, ignore_index=True)[["run", "epoch", "modality", "grad_norm"]]


def gradient_norm_summary(runs: Mapping[str, TrainResult]) -> pd.DataFrame:
    """Per run and encoder: the gradient norm in the first epoch, at its peak, in the last, and
    the last as a share of the peak (how much the pull has faded by the end).

    Columns ``run, modality, first, peak, peak_epoch, last, last_over_peak``.
    """
    norms = gradient_norms(runs)
    rows = []
    for (name, modality), g in norms.groupby(["run", "modality"], sort=False):
        g = g.sort_values("epoch")
        peak = g.loc[g["grad_norm"].idxmax()]
        last = g["grad_norm"].iloc[-1]
        rows.append(
            {
                "run": name,
                "modality": modality,
                "first": g["grad_norm"].iloc[0],
                "peak": peak["grad_norm"],
                "peak_epoch": int(peak["epoch"]),
                "last": last,
                "last_over_peak": last / peak["grad_norm"] if peak["grad_norm"] > 0 else math.nan,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Feature alignment (CKA)


def linear_cka(x: Tensor, y: Tensor) -> float:
    """Linear centred kernel alignment (Kornblith et al., ICML 2019) of two feature sets.

    ``x`` is (n, d1), ``y`` is (n, d2): the same n samples through two networks. With columns
    centred, CKA = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F): 1 for identical representations, invariant to
    orthogonal rotations and isotropic scaling of either side, near 0 for unrelated ones. It
    compares representations of different widths and bases, which a plain MSE cannot.
    """
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError(f"CKA takes two (n, d) tensors, got {type(x).__name__}, {type(y).__name__}")
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError(
            f"CKA takes (n, d) features, one row per sample, got shapes {tuple(x.shape)} and "
            f"{tuple(y.shape)}: a 1-D tensor is one feature per sample; use x[:, None]"
        )
    if x.shape[0] != y.shape[0]:
        flipped = next(
            (
                f"; {side} looks transposed (one row per sample): pass {side}.T"
                for side, a, b in (("y", x, y), ("x", y, x))
                if b.ndim == 2 and b.shape[1] == a.shape[0]
            ),
            "",
        )
        raise ValueError(
            f"CKA needs the same samples on both sides, one row per sample: x has "
            f"{x.shape[0]} rows, y {y.shape[0]}{flipped}"
        )
    if x.shape[0] < 2:
        raise ValueError(f"CKA needs at least 2 samples (it centres each column), got {x.shape[0]}")
    for side, features in (("x", x), ("y", y)):
        bad = int((~torch.isfinite(features.detach())).sum())
        if bad:
            raise ValueError(
                f"{side} holds {bad} NaN or infinite values: CKA of them means nothing; the "
                "model that made these features diverged or its weights are damaged"
            )
    x = x.detach().reshape(x.shape[0], -1).double()
    y = y.detach().reshape(y.shape[0], -1).double()
    x = x - x.mean(dim=0, keepdim=True)
    y = y - y.mean(dim=0, keepdim=True)
    denominator = torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)
    if denominator == 0:
        raise ValueError("CKA is undefined for constant features (zero variance on one side)")
    return ((y.T @ x).square().sum() / denominator).item()


def feature_alignment(
    teachers: Mapping[str, nn.Module],
    students: Mapping[str, nn.Module],
    dataset: MultimodalDataset,
) -> pd.DataFrame:
    """Linear CKA between each teacher's features and each student's features of that modality.

    Feature distillation pulls the student's encoders towards the teachers'; CKA measures how
    similar the representations are regardless of scale and basis. Columns
    ``student, modality, cka``.
    """
    require_split_dataset(dataset, "feature_alignment")
    teachers = _teacher_models(teachers)
    api_checks.not_empty(students, "students", "{'joint': joint.model}")
    teacher_features = {m: predictions(t, dataset).features[m] for m, t in teachers.items()}
    students = {name: _model_of(model) for name, model in students.items()}
    rows = []
    for name, model in students.items():
        features = predictions(model, dataset).features
        fix = "compare students with the teachers of their own modalities"
        api_checks.require_keys(features, teacher_features, f"student {name!r}", fix)
        for m, reference in teacher_features.items():
            rows.append((name, m, linear_cka(reference, features[m])))
    return pd.DataFrame(rows, columns=["student", "modality", "cka"])


# --------------------------------------------------------------------------------------------
# Modality drop and informative samples


@torch.no_grad()
def modality_drop(model: nn.Module, dataset: MultimodalDataset) -> pd.DataFrame:
    """How much the fused score falls when one modality's features carry no sample information.

    Each modality in turn has its features replaced by their mean over ``dataset`` and the rest
    of the model (the fusion) runs unchanged. The mean, not zero: encoder features end in
    ReLU + pooling, so they are non-negative with a non-zero mean, and an all-zero vector is a
    point the fusion never saw in training (for late fusion it leaves only the head's bias, a
    shift of every logit). The mean keeps the modality's average contribution and removes only
    what distinguishes one sample from another, which is what "contribution" should measure.

    Columns ``modality, metric, full, without, contribution`` where ``contribution`` is how much
    worse the score gets without the modality (positive = it helped).
    """
    require_split_dataset(dataset, "modality_drop")
    model = _model_of(model)
    if not hasattr(model, "fusion"):
        raise TypeError(
            f"modality_drop needs a multimodal student (its fusion mixes the modalities), got a "
            f"{type(model).__name__}; a teacher has only one modality to drop"
        )
    task = dataset.info.task
    metric = metric_name(task)
    sign = 1.0 if higher_is_better(metric) else -1.0
    pred = predictions(model, dataset)
    device = next(model.parameters()).device
    features = {m: f.to(device) for m, f in pred.features.items()}
    full = score(pred.logits, pred.targets, task)
    was_training = model.training
    model.eval()
    rows = []
    for m, f in features.items():
        dropped = {**features, m: f.mean(dim=0, keepdim=True).expand_as(f)}
        logits, _ = model.fusion(dropped)
        without = score(logits.float().cpu(), pred.targets, task)
        rows.append((m, metric, full, without, sign * (full - without)))
    model.train(was_training)
    return pd.DataFrame(rows, columns=["modality", "metric", "full", "without", "contribution"])


def require_split_dataset(dataset: object, where: str) -> None:
    """One split (``data.test``), not the whole :class:`DatasetSplits` nor anything else."""
    if isinstance(dataset, DatasetSplits):
        raise TypeError(f"{where} takes one split, e.g. data.test, not the whole DatasetSplits")
    if not isinstance(dataset, MultimodalDataset):
        raise TypeError(f"{where} takes a dataset split (e.g. data.test), got {type(dataset)}")


def informative_flags(info: DatasetInfo, split: str) -> dict[str, Tensor]:
    """Per-sample flags "this modality carries the target" of a synthetic split."""
    if not isinstance(info, DatasetInfo):
        raise TypeError(f"informative_flags takes the data's info (data.info), got {type(info)}")
    split = data_split(split)
    flags = info.extra.get("informative")
    if not flags:
        raise ValueError(
            f"dataset {info.name!r} does not record which samples are informative; "
            "only the synthetic dataset (g2d_lite.data.synthetic) does"
        )
    return dict(flags[split])


def informative_groups(flags: Mapping[str, Tensor]) -> list[str]:
    """Each sample's group: the informative modalities joined by "+", or "none"."""
    fix = "take them from informative_flags(data.info, split)"
    if not isinstance(flags, Mapping):
        raise TypeError(f"flags must be a dict of per-sample flags per modality; {fix}")
    if not flags:
        raise ValueError(f"flags is empty: {fix}")
    names = list(flags)
    columns = [torch.as_tensor(np.asarray(flags[m])).bool().reshape(-1) for m in names]
    lengths = {m: len(c) for m, c in zip(names, columns, strict=True)}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"the flags of the modalities cover different samples {lengths}; {fix}")
    stacked = torch.stack(columns, dim=1).tolist()
    return [
        "+".join(m for m, on in zip(names, row, strict=True) if on) or "none" for row in stacked
    ]


def accuracy_by_informative(
    pred: Predictions,
    flags: Mapping[str, Tensor],
    model: str = "model",
    task: str = "classification",
) -> pd.DataFrame:
    """Scores of every output of one model within each informative group of samples.

    On the synthetic data a sample's modality either carries the class or not (noise, a blank
    frame). Grouping by that shows *where* a model fails: joint training's fused output is weak
    exactly where only the starved modality carries the class. A teacher's single output is
    named after its modality. Columns ``model, informative, output, n, metric, score``.
    """
    if not isinstance(pred, Predictions):
        raise TypeError(
            f"pred must be the predictions of one split, e.g. predictions(model, data.test), "
            f"got {type(pred).__name__}"
        )
    groups = np.array(informative_groups(flags))
    sizes = {len(groups)}
    if sizes != {len(pred.targets)}:
        raise ValueError(
            f"the flags cover {sorted(sizes)} samples but the predictions {len(pred.targets)}: "
            "take both from the same split, e.g. informative_flags(data.info, 'test') with "
            "predictions(model, data.test)"
        )
    outputs = {FUSED: pred.logits, **(pred.branch_logits or {})}
    if pred.branch_logits is None and len(pred.features) == 1:
        outputs = {next(iter(pred.features)): pred.logits}
    metric = metric_name(task)
    rows = []
    for group in sorted(set(groups), key=lambda g: (g == "none", -g.count("+"), g)):
        index = torch.from_numpy(groups == group)
        for output, logits in outputs.items():
            value = score(logits[index], pred.targets[index], task)
            rows.append((model, group, output, int(index.sum()), metric, value))
    columns = ["model", "informative", "output", "n", "metric", "score"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------------------------
# SMP timelines


def _kappa_columns(steps: pd.DataFrame) -> list[str]:
    """The κ columns; refused when there are none, or when they do not cover the modalities
    whose ρ is logged (a dropped κ column would read as "every modality trained")."""
    names = [str(c) for c in steps.columns]
    columns = [c for c in names if c.startswith("kappa/")]
    if not columns:
        if not any("kappa" in n.lower() for n in names):
            raise ValueError(
                "these steps have no kappa/<modality> columns: the run used no SMP or OGM "
                "(balance='none'); pass the steps of a run with balance='smp'"
            )
        raise ValueError(
            f"these steps have no kappa/<modality> columns, but columns that look renamed "
            f"({', '.join(names)}): pass a run's steps as the kit wrote them (run.steps or its "
            "steps.csv)"
        )
    rho = {c.split("/", 1)[1] for c in names if c.startswith("rho/")}
    missing = sorted(rho - {c.split("/", 1)[1] for c in columns})
    if missing:
        raise ValueError(
            f"these steps log rho for {', '.join(missing)} but no kappa/{missing[0]} column: "
            "the table was edited; pass a run's steps as the kit wrote them"
        )
    return columns


def _require_steps(steps: pd.DataFrame) -> None:
    """A run's per-step table, with the κ columns a balanced run logs."""
    api_checks.require_columns(steps, (), "a run's steps (run.steps, steps.csv)", allow_empty=True)
    _kappa_columns(steps)
    api_checks.require_columns(steps, ("step", "epoch"), "a run's steps (run.steps, steps.csv)")
    repeated = steps["step"][steps["step"].duplicated()]
    if len(repeated):
        raise ValueError(
            f"the steps repeat step numbers ({len(repeated)} rows, e.g. step "
            f"{repeated.iloc[0]}): they hold more than one run's steps (a pd.concat?); pass one "
            "run's steps, or compare runs one call each"
        )


def leaders(steps: pd.DataFrame) -> pd.Series:
    """Which modality led each step: the one whose κ = 1 while the others' are below 1.

    ``"all"`` when every κ = 1 (outside the SMP window, or a tie). With three or more
    modalities several may lead at once; they are joined by "+".
    """
    api_checks.require_columns(steps, (), "a run's steps (run.steps, steps.csv)")
    columns = _kappa_columns(steps)
    names = [c.split("/", 1)[1] for c in columns]
    kappa = steps[columns].to_numpy(dtype=float)
    unknown = int((~np.isfinite(kappa)).any(axis=1).sum())
    if unknown:
        raise ValueError(
            f"{unknown} of {len(steps)} steps have a NaN or missing kappa: their leader is "
            "unknown, so no share can be trusted; is steps.csv damaged or hand-edited? Retrain "
            "the run, or drop those rows knowingly"
        )
    if (kappa < 0).any():
        raise ValueError(
            f"{int((kappa < 0).any(axis=1).sum())} steps have a negative kappa, which no method "
            "logs (a coefficient scales a gradient): is steps.csv damaged or hand-edited?"
        )
    full = kappa >= 1.0
    labels = [
        ALL if row.all() else "+".join(n for n, on in zip(names, row, strict=True) if on) or "none"
        for row in full
    ]
    return pd.Series(labels, index=steps.index, name="leader")


def confidence_timeline(steps: pd.DataFrame) -> pd.DataFrame:
    """The steps in long form: teacher confidence ρ^m and coefficient κ^m per step and modality,
    with the step's leader. Columns ``step, epoch, modality, rho, kappa, leader``."""
    _require_steps(steps)
    lead = leaders(steps)
    frames = []
    for column in _kappa_columns(steps):
        m = column.split("/", 1)[1]
        rho = steps.get(f"rho/{m}", math.nan)
        frames.append(
            pd.DataFrame(
                {
                    "step": steps["step"],
                    "epoch": steps["epoch"],
                    "modality": m,
                    "rho": rho,
                    "kappa": steps[column],
                    "leader": lead,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def leader_share(steps: pd.DataFrame, by_epoch: bool = False) -> pd.DataFrame:
    """Share of steps each leader led, overall or per epoch (``by_epoch``).

    Columns ``[epoch,] leader, steps, share`` with ``share`` in % of the steps in the group.
    """
    _require_steps(steps)
    api_checks.require_bool("by_epoch", by_epoch)
    frame = steps[["epoch"]].assign(leader=leaders(steps))
    keys = ["epoch", "leader"] if by_epoch else ["leader"]
    counts = frame.groupby(keys).size().rename("steps").reset_index()
    totals = counts.groupby("epoch")["steps"].transform("sum") if by_epoch else len(frame)
    return counts.assign(share=100.0 * counts["steps"] / totals)


# --------------------------------------------------------------------------------------------
# What the synthetic knobs predict


def train_confidence_cap(informative: float, uninformative: str, n_classes: int) -> float:
    """The mean true-class confidence a teacher can reach at most on a synthetic training set.

    Informative samples can be fitted perfectly. Uninformative ``"noise"`` or ``"random_class"``
    samples are all different, so a network can memorise them too (cap 1). ``"blank"`` samples
    are identical all-zero inputs with random labels: the best a network can output on them is
    the class prior, worth 1/C on average, so the cap is ``p + (1 − p) / C``. It is the value
    for the expected informative share and balanced labels; a finite training set drawn with a
    few more informative samples, or with unevenly spread labels on its blanks, lets a teacher
    land slightly above it.
    """
    api_checks.positive_int("n_classes", n_classes)
    informative = api_checks.finite_number("informative", informative)
    if not 0.0 <= informative <= 1.0:
        raise ValueError(f"informative is a share of samples in [0, 1], got {informative}")
    if uninformative not in UNINFORMATIVE:
        raise ValueError(f"unknown uninformative {uninformative!r}; valid: {UNINFORMATIVE}")
    if uninformative == "blank":
        return informative + (1.0 - informative) / n_classes
    return 1.0


def synthetic_expectations(info: DatasetInfo) -> pd.DataFrame:
    """Per modality of a synthetic dataset: its knobs, its test ceiling and its train cap.

    ``bayes_ceiling`` (%) bounds the teacher's *test* accuracy; ``train_confidence_cap`` bounds
    the teacher's *training* confidence, which is what SMP compares. SMP lets the modality with
    the lowest training confidence lead, so a modality whose cap is below the others' is the
    expected leader once the others have memorised their training sets.
    """
    if isinstance(info, DatasetSplits):
        raise TypeError("synthetic_expectations takes the data's info: pass data.info")
    extra = info.extra
    if extra.get("generator") != "g2d_lite.data.synthetic":
        raise ValueError(f"dataset {info.name!r} is not the synthetic one; no knobs to read")
    n_classes = extra["params"]["n_classes"]
    ceilings = extra.get("bayes_ceilings", {})
    rows = []
    for m in extra["modalities"]:
        rows.append(
            {
                "modality": m["name"],
                "pattern": m["pattern"],
                "amplitude": m["amplitude"],
                "informative": m["informative"],
                "uninformative": m["uninformative"],
                "bayes_ceiling": 100.0 * ceilings.get(m["name"], math.nan),
                "train_confidence_cap": train_confidence_cap(
                    m["informative"], m["uninformative"], n_classes
                ),
            }
        )
    return pd.DataFrame(rows)


def expected_leader(expectations: pd.DataFrame) -> str | None:
    """The modality SMP should let lead according to the train-confidence caps, or ``None``
    when the lowest cap is shared (then it depends on which teacher memorises faster)."""
    api_checks.require_columns(
        expectations, ("modality", "train_confidence_cap"), "diagnose.synthetic_expectations"
    )
    caps = expectations.set_index("modality")["train_confidence_cap"]
    if not pd.api.types.is_numeric_dtype(caps) or caps.isna().all():
        raise ValueError(
            "train_confidence_cap must hold numbers, got "
            f"{caps.tolist()}: take the table from diagnose.synthetic_expectations(data.info)"
        )
    lowest = caps[caps == caps.min()]
    return str(lowest.index[0]) if len(lowest) == 1 else None
