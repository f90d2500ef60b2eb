"""Seaborn figures for the notebooks, drawn from the tidy frames of :mod:`g2d_lite.diagnose`.

Every function returns the ``matplotlib`` figure (notebooks call ``plt.show()`` and
:func:`g2d_lite.notebook.save_figure`); every axis is labelled and every figure has a title, so
a figure reads without the code. Colours come from :mod:`g2d_lite.palette` (one per modality and
per method, the same in every figure), method names are shown as readable labels, bars start at
zero and legends sit outside the data. Where a figure compares methods it can put the paper's
own CREMA-D numbers beside ours, labelled as such (:mod:`g2d_lite.paper`). Sizes follow
:func:`g2d_lite.notebook.set_style` (7 × 3.6 in).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from g2d_lite import paper
from g2d_lite.api_checks import (
    positive_int,
    require_bool,
    require_columns,
    table_split,
)
from g2d_lite.data.base import MultimodalDataset
from g2d_lite.diagnose import FUSED, informative_flags, require_split_dataset
from g2d_lite.palette import PAPER_COLOUR, colours, method_label

FIGSIZE = (7.0, 3.6)
_METRIC_LABELS = {"acc": "accuracy (%)", "mae": "mean absolute error"}
_LEGEND = {"frameon": False, "bbox_to_anchor": (1.01, 1), "loc": "upper left", "fontsize": 7}
LABELLED = ("model", "method", "student", "run")  # columns whose values are method names


def _metric_label(frame: pd.DataFrame) -> str:
    metric = frame["metric"].iloc[0] if "metric" in frame and len(frame) else "acc"
    return _METRIC_LABELS.get(metric, metric)


def _unique(values: pd.Series) -> list[str]:
    return list(dict.fromkeys(values.astype(str)))


def _readable(data: pd.DataFrame) -> pd.DataFrame:
    """Method names replaced by their labels (palette.method_label) wherever they name one."""
    data = data.copy()
    for column in LABELLED:
        if column in data:
            data[column] = data[column].astype(str).map(method_label)
    return data


def _bars(
    data: pd.DataFrame,
    x: str,
    y: str,
    hue: str,
    title: str,
    xlabel: str,
    ylabel: str,
    order: Sequence[str] | None = None,
    errorbar: str | None = None,
    fmt: str = "%.1f",
    figsize: tuple[float, float] = FIGSIZE,
    ax: plt.Axes | None = None,
) -> Figure:
    """Grouped bars from zero with their values printed on top, fixed colours, readable method
    names and the legend outside the plot."""
    if data.empty:
        raise ValueError("the table has no rows: nothing to draw; check the filter that made it")
    if not pd.api.types.is_numeric_dtype(data[y]):
        raise TypeError(
            f"the column {y!r} must hold numbers, got {data[y].dtype} values such as "
            f"{data[y].iloc[0]!r}"
        )
    if data[y].isna().all():
        raise ValueError(f"every value of {y!r} is NaN or missing: there is nothing to draw")
    data = _readable(data)
    if order is not None and x in LABELLED:
        order = [method_label(o) for o in order]
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    fig = ax.figure
    hue_order = _unique(data[hue])
    sns.barplot(
        data=data,
        x=x,
        y=y,
        hue=hue,
        order=order,
        hue_order=hue_order,
        palette=colours(hue_order),
        errorbar=errorbar,
        capsize=0.15 if errorbar else 0,
        ax=ax,
    )
    for container in ax.containers:
        if hasattr(container, "patches"):
            ax.bar_label(container, fmt=fmt, fontsize=7, padding=2)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.margins(y=0.12)
    low = min(0.0, float(np.nanmin(data[y]))) if len(data) else 0.0
    ax.set_ylim(bottom=low)
    if hue != x:
        ax.legend(title=hue, **_LEGEND)
    elif ax.get_legend() is not None:
        ax.get_legend().remove()
    if x in LABELLED:
        ax.tick_params(axis="x", labelrotation=20)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Figure 1 and results tables


def figure1(scores: pd.DataFrame, split: str | None = None, show_paper: bool = False) -> Figure:
    """The paper's Figure 1: each teacher alone vs its branch inside joint training and inside
    G²D, per modality, plus the students' fused scores (from :func:`diagnose.score_table`).

    ``split`` names the scores' split in the title: by default the one the table records
    (test for a hand-made table); a ``split`` the table contradicts is refused.
    ``show_paper`` adds a second panel with the paper's own CREMA-D numbers, titled as such.
    """
    require_columns(scores, ("model", "output", "score"), "diagnose.score_table(...)")
    split = table_split(scores, split, "score_table")
    require_bool("show_paper", show_paper)
    outputs = [o for o in _unique(scores["output"]) if o != FUSED] + [FUSED]
    order = [o for o in outputs if o in set(scores["output"])]
    kwargs = {
        "x": "output",
        "y": "score",
        "hue": "model",
        "xlabel": "modality branch (or fused prediction)",
        "ylabel": _metric_label(scores),
    }
    if not show_paper:
        title = f"Teacher alone vs the same modality inside a multimodal model ({split})"
        return _bars(scores, order=order, title=title, **kwargs)
    fig, (ours, theirs) = plt.subplots(
        1, 2, figsize=(11.0, FIGSIZE[1]), sharey=True, width_ratios=[len(order), 3]
    )
    _bars(scores, order=order, title=f"These data ({split})", ax=ours, **kwargs)
    ours.get_legend().remove()
    reported = paper.figure1_scores()
    _bars(
        reported,
        order=[paper.STRONG, paper.WEAK, FUSED],
        title=f"{paper.PAPER_LABEL} (reported)",
        ax=theirs,
        **kwargs,
    )
    theirs.set_ylabel("")
    top = max(float(scores["score"].max()), float(reported["score"].max()))
    ours.set_ylim(0, 1.15 * top)
    fig.suptitle("Teacher alone vs the same modality inside a multimodal model", fontsize=10)
    fig.tight_layout()
    return fig


def results_bars(
    results: pd.DataFrame,
    x: str = "method",
    y: str = "acc",
    hue: str | None = None,
    title: str = "Results",
    ylabel: str = "test accuracy (%)",
    seed_column: str = "seed",
    show_paper: bool = False,
) -> Figure:
    """Mean ± standard deviation over seeds of one number per method (notebook 04's table).

    ``results`` holds one row per (method, seed), methods named by their ``METHODS`` keys;
    the title states how many seeds. ``show_paper`` marks the paper's CREMA-D fused accuracy
    of each method that has one (a black diamond, in the legend as "paper, CREMA-D").
    """
    require_columns(results, (x, y, hue), "rows of results.result_row in a DataFrame")
    require_bool("show_paper", show_paper)
    text = not pd.api.types.is_numeric_dtype(results[y])
    if text and ("seeds" in results or results[y].astype(str).str.contains("±").any()):
        raise TypeError(
            f"{y!r} holds summarise's text ('mean ± std'): results_bars takes the rows it "
            "summarised, one per method and seed (results.load_rows or result_row), and "
            "computes the mean and std itself"
        )
    seeds = results[seed_column].nunique() if seed_column in results else 1
    hue = hue or x
    order = _unique(results[x])
    fig = _bars(
        results,
        x=x,
        y=y,
        hue=hue,
        order=order,
        errorbar="sd" if seeds > 1 else None,
        title=f"{title} (mean ± std over {seeds} seed{'s' if seeds != 1 else ''})",
        xlabel=x,
        ylabel=ylabel,
    )
    if show_paper:
        ax = fig.axes[0]
        marks = [(i, paper.fused(m)) for i, m in enumerate(order) if paper.fused(m) is not None]
        if marks:
            xs, ys = zip(*marks, strict=True)
            ax.scatter(xs, ys, marker="D", color=PAPER_COLOUR, zorder=5, label=paper.PAPER_LABEL)
            ax.legend(**_LEGEND)
            fig.tight_layout()
    return fig


def cka_bars(alignment: pd.DataFrame) -> Figure:
    """Linear CKA of each student's features with its teacher's (diagnose.feature_alignment)."""
    require_columns(alignment, ("student", "modality", "cka"), "diagnose.feature_alignment")
    outside = alignment["cka"][(alignment["cka"] < 0) | (alignment["cka"] > 1 + 1e-9)]
    if len(outside):
        raise ValueError(
            f"CKA lies between 0 and 1, got {outside.tolist()}: take the table from "
            "diagnose.feature_alignment"
        )
    fig = _bars(
        alignment,
        x="modality",
        y="cka",
        hue="student",
        title="Feature alignment with the unimodal teacher (linear CKA, 1 = same)",
        xlabel="modality (student encoder vs that modality's teacher)",
        ylabel="linear CKA",
        fmt="%.2f",
    )
    fig.axes[0].set_ylim(0, 1.1)
    return fig


def modality_drop_bars(drops: pd.DataFrame) -> Figure:
    """Fused score lost when one modality's features are replaced by their mean
    (diagnose.modality_drop, one frame per model concatenated with a ``model`` column)."""
    maker = "pd.concat({name: diagnose.modality_drop(...)}, names=['model']).reset_index(0)"
    require_columns(drops, ("model", "modality", "contribution"), maker)
    return _bars(
        drops,
        x="modality",
        y="contribution",
        hue="model",
        title="Contribution of each modality at test time (fused score lost without it)",
        xlabel="modality replaced by its mean feature",
        ylabel=f"{_metric_label(drops)} lost",
    )


def informative_bars(scores: pd.DataFrame, output: str = FUSED) -> Figure:
    """One output's score within each group of samples, grouped by which modalities carry the
    class (diagnose.accuracy_by_informative, concatenated over models)."""
    columns = ("model", "informative", "output", "score")
    require_columns(scores, columns, "diagnose.accuracy_by_informative")
    if output not in set(scores["output"]):
        raise ValueError(
            f"no output {output!r} in the scores; they have {', '.join(_unique(scores['output']))}"
        )
    data = scores[scores["output"] == output]
    return _bars(
        data,
        x="informative",
        y="score",
        hue="model",
        order=_unique(data["informative"]),
        title=f"{output.capitalize()} {_metric_label(data)} by which modalities carry the class",
        xlabel="modalities that carry the class in the sample",
        ylabel=_metric_label(data),
    )


# --------------------------------------------------------------------------------------------
# Curves over epochs


def learning_curves(
    curves: pd.DataFrame,
    losses: pd.DataFrame | None = None,
    title: str = "Validation score per epoch",
    style: str = "output",
    lr_steps: Sequence[int] = (),
) -> Figure:
    """Per-epoch scores (colour: run, line style: ``style``, by default the output) from
    diagnose.learning_curves; with ``losses`` (diagnose.task_loss_curves) a second panel shows
    the training task loss. ``lr_steps`` (epochs where the learning rate dropped) are drawn as
    dotted lines, so a stall that is only the learning-rate step shows as one."""
    require_columns(curves, ("run", "epoch", "score"), "diagnose.learning_curves")
    if style not in curves.columns:
        raise ValueError(
            f"style={style!r} is not a column of the curves (they have "
            f"{', '.join(map(str, curves.columns))}): it names the column drawn as line styles, "
            "e.g. style='output'"
        )
    if (
        isinstance(lr_steps, str)
        or not isinstance(lr_steps, Iterable)
        or not all(isinstance(e, numbers.Real) and not isinstance(e, bool) for e in lr_steps)
    ):
        raise TypeError(
            f"lr_steps is a list of epochs (numbers), e.g. dynamics.lr_steps(run.history); "
            f"got {lr_steps!r}"
        )
    if losses is not None:
        require_columns(losses, ("run", "epoch", "loss"), "diagnose.task_loss_curves")
    curves = _readable(curves)
    ncols = 1 if losses is None else 2
    width = FIGSIZE[0] + 1.5 if losses is None else 11.0
    fig, axes = plt.subplots(1, ncols, figsize=(width, FIGSIZE[1]), squeeze=False)
    runs = _unique(curves["run"])
    ax = axes[0, 0]
    sns.lineplot(
        data=curves,
        x="epoch",
        y="score",
        hue="run",
        style=style,
        hue_order=runs,
        palette=colours(runs),
        ax=ax,
    )
    ax.set(title=title, xlabel="epoch", ylabel=_metric_label(curves))
    panels = [ax]
    if losses is not None:
        losses = _readable(losses)
        ax = axes[0, 1]
        loss_runs = _unique(losses["run"])
        sns.lineplot(
            data=losses,
            x="epoch",
            y="loss",
            hue="run",
            hue_order=loss_runs,
            palette=colours(loss_runs),
            ax=ax,
        )
        ax.set(title="Training task loss (fused)", xlabel="epoch", ylabel="task loss")
        ax.set_ylim(bottom=0)
        panels.append(ax)
    for panel in panels:
        for i, epoch in enumerate(lr_steps):
            label = "learning-rate step" if i == 0 else None
            panel.axvline(epoch - 0.5, color="0.4", linestyle=":", linewidth=1.2, label=label)
        panel.legend(**_LEGEND)
    fig.tight_layout()
    return fig


def branch_curves(curves: pd.DataFrame, title: str) -> Figure:
    """One panel per modality: its score per epoch alone (the teacher) and as a branch inside
    each student (diagnose.learning_curves of ``{"<m> teacher": ..., "joint": ...}`` filtered
    to the modality outputs)."""
    require_columns(curves, ("run", "epoch", "output", "score"), "diagnose.learning_curves")
    curves = _readable(curves)
    modalities = _unique(curves["output"])
    fig, axes = plt.subplots(
        1, len(modalities), figsize=(4.2 * len(modalities) + 1.5, FIGSIZE[1]), squeeze=False
    )
    for ax, m in zip(axes[0], modalities, strict=True):
        part = curves[curves["output"] == m]
        runs = _unique(part["run"])
        sns.lineplot(
            data=part, x="epoch", y="score", hue="run", hue_order=runs, palette=colours(runs), ax=ax
        )
        ax.set(title=m, xlabel="epoch", ylabel=_metric_label(part))
        ax.set_ylim(bottom=0)
        ax.legend(**_LEGEND)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def teacher_confidence_bars(table: pd.DataFrame) -> Figure:
    """Each teacher's training confidence ρ and its train / test accuracy, side by side
    (columns ``modality, measure, value`` in %): confident on training data is not the same as
    strong on test data."""
    require_columns(table, ("modality", "measure", "value"), "a long table (DataFrame.melt)")
    return _bars(
        table,
        x="measure",
        y="value",
        hue="modality",
        title="Teachers: confidence on training data vs accuracy",
        xlabel="",
        ylabel="%",
    )


def gradient_norms(norms: pd.DataFrame) -> Figure:
    """Per-epoch mean gradient norm of each encoder (diagnose.gradient_norms): colour = run,
    line style = modality. Measured before SMP masks anything."""
    columns = ("run", "epoch", "modality", "grad_norm")
    require_columns(norms, columns, "diagnose.gradient_norms")
    norms = _readable(norms)
    fig, ax = plt.subplots(figsize=(FIGSIZE[0] + 1.0, FIGSIZE[1]))
    runs = _unique(norms["run"])
    sns.lineplot(
        data=norms,
        x="epoch",
        y="grad_norm",
        hue="run",
        style="modality",
        hue_order=runs,
        palette=colours(runs),
        ax=ax,
    )
    ax.set(
        title="Gradient norm reaching each encoder (before SMP masking)",
        xlabel="epoch",
        ylabel="mean gradient norm per batch",
    )
    ax.set_ylim(bottom=0)
    ax.legend(**_LEGEND)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# SMP timelines


def _leader_order(labels: Sequence[str]) -> list[str]:
    return sorted(labels, key=lambda label: (label == "all", label))


def confidence_timeline(
    timeline: pd.DataFrame, window: tuple[int, int] | None = None, smooth: int = 5
) -> Figure:
    """Teacher confidence ρ^m per training step (diagnose.confidence_timeline), the SMP window
    shaded and, in a strip along the bottom, which modality led each step.

    ``window`` is the SMP window in epochs (inclusive); ``smooth`` is a rolling mean over steps
    for the lines (the raw per-batch values are drawn faintly behind).
    """
    columns = ("step", "epoch", "modality", "rho", "leader")
    require_columns(timeline, columns, "diagnose.confidence_timeline")
    positive_int("smooth", smooth)
    if window is not None and (len(window) != 2 or window[0] > window[1]):
        raise ValueError(f"window is (first epoch, last epoch) of the SMP window, got {window}")
    fig, ax = plt.subplots(figsize=(FIGSIZE[0] + 1.0, FIGSIZE[1]))
    modalities = _unique(timeline["modality"])
    order = _leader_order(_unique(timeline["leader"]))
    shade = colours([*modalities, *order])
    leaders = {label: shade[label] for label in order}
    for m in modalities:
        part = timeline[timeline["modality"] == m].sort_values("step")
        ax.plot(part["step"], part["rho"], color=shade[m], alpha=0.25, linewidth=0.8)
        smoothed = part["rho"].rolling(smooth, min_periods=1, center=True).mean()
        ax.plot(part["step"], smoothed, color=shade[m], linewidth=1.8, label=f"ρ {m}")
    steps = timeline.drop_duplicates("step").sort_values("step")
    if window is not None:
        inside = steps[(steps["epoch"] >= window[0]) & (steps["epoch"] <= window[1])]["step"]
        if len(inside):
            ax.axvspan(
                inside.min() - 0.5,
                inside.max() + 0.5,
                color="0.5",
                alpha=0.12,
                label=f"SMP window\n(epochs {window[0]}–{window[1]})",
            )
    low = max(0.0, np.floor(10 * float(np.nanmin(timeline["rho"]))) / 10 - 0.1)
    strip = (low - 0.08 * (1 - low), 0.06 * (1 - low))
    for label, shade in leaders.items():
        at = steps[steps["leader"] == label]["step"].to_numpy()
        ax.broken_barh([(s - 0.5, 1.0) for s in at], strip, color=shade, linewidth=0)
    handles, labels = ax.get_legend_handles_labels()
    handles += [Patch(color=c) for c in leaders.values()]
    labels += [f"led: {label}" for label in leaders]
    ax.legend(handles, labels, **_LEGEND)
    ax.set_ylim(strip[0], 1.01)
    ax.set(
        title="Teacher confidence per training batch (strip: who led)",
        xlabel="training step",
        ylabel="teacher confidence ρ",
    )
    fig.tight_layout()
    return fig


def leader_share(shares: pd.DataFrame) -> Figure:
    """Per epoch, the share of steps each modality led (diagnose.leader_share(by_epoch=True)),
    as stacked bars; "all" means every encoder trained."""
    columns = ("epoch", "leader", "share")
    require_columns(shares, columns, "diagnose.leader_share(steps, by_epoch=True)")
    table = shares.pivot_table(index="epoch", columns="leader", values="share", fill_value=0.0)
    table = table[_leader_order(list(table.columns))]
    fig, ax = plt.subplots(figsize=(FIGSIZE[0] + 1.0, FIGSIZE[1]))
    bottom = np.zeros(len(table))
    shade = colours(list(table.columns))
    for label in table.columns:
        ax.bar(table.index, table[label], bottom=bottom, color=shade[label], width=0.9, label=label)
        bottom += table[label].to_numpy()
    ax.set(
        title="Which modality led each epoch's steps",
        xlabel="epoch",
        ylabel="share of steps (%)",
        ylim=(0, 100),
    )
    ax.legend(title="leader", **_LEGEND)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# The synthetic data


def _show_input(ax: plt.Axes, x: np.ndarray, kind: str) -> None:
    """One input as a picture: a video's middle frame, an RGB image, one channel, or a
    vector's values as bars."""
    if kind == "vector":
        ax.bar(range(x.size), x.reshape(-1), color="0.4")
    else:
        if kind == "video":
            x = x[:, x.shape[1] // 2]
        if x.shape[0] == 3:
            ax.imshow(np.moveaxis((x - x.min()) / (x.max() - x.min() + 1e-8), 0, -1))
        else:
            ax.imshow(x.mean(axis=0), cmap="magma")
    ax.set_xticks([])
    ax.set_yticks([])


def sample_examples(dataset: MultimodalDataset, n_classes: int = 5) -> Figure:
    """The first training sample of each of the first ``n_classes`` classes, one row per
    modality; works for every dataset kind (image, spectrogram, video, vector). A regression
    dataset has no classes: its first ``n_classes`` samples are shown with their targets."""
    require_split_dataset(dataset, "sample_examples")
    positive_int("n_classes", n_classes)
    targets = dataset.targets
    names = dataset.info.class_names
    regression = dataset.info.task == "regression"
    if regression:
        shown = list(range(min(n_classes, len(dataset))))
    else:
        present = [c for c in range(len(names)) if (targets == c).any()]
        shown = [int((targets == c).nonzero()[0]) for c in present][:n_classes]
    samples = {i: dataset[i][0] for i in shown}  # a handful of reads: caches stay on disk
    modalities = dataset.info.modality_names
    fig, axes = plt.subplots(
        len(modalities),
        len(shown),
        figsize=(1.6 * len(shown) + 0.6, 1.7 * len(modalities) + 0.5),
        squeeze=False,
    )
    for row, m in enumerate(modalities):
        kind = dataset.info.spec(m).kind
        for col, i in enumerate(shown):
            ax = axes[row, col]
            _show_input(ax, samples[i][m].numpy(), kind)
            if row == 0:
                ax.set_title(_target_label(targets[i], names, regression), fontsize=8)
            if col == 0:
                ax.set_ylabel(f"{m}\n({kind})", fontsize=8)
    what = (
        f"the first {len(shown)} {dataset.split} samples"
        if regression
        else (f"one {dataset.split} sample per class")
    )
    fig.suptitle(f"{dataset.info.name}: {what}", fontsize=9)
    fig.tight_layout()
    return fig


def _target_label(target: torch.Tensor, names: Sequence[str], regression: bool) -> str:
    """A sample's class name, or its regression target (one value, or the first few)."""
    if not regression:
        return names[int(target)]
    values = np.atleast_1d(np.asarray(target, dtype=float))
    shown = ", ".join(f"{v:.3g}" for v in values[:3]) + (", …" if values.size > 3 else "")
    return f"y = {shown}"


def _as_image(x: np.ndarray) -> np.ndarray:
    """A sample as a 2-D image: the channel mean of (C, H, W), a vector as one row."""
    return x.mean(axis=0) if x.ndim == 3 else x.reshape(1, -1)


def sample_grid(dataset: MultimodalDataset, n_classes: int = 10) -> Figure:
    """Samples of each modality per class: one that carries the class and one that does not
    (noise or a blank frame), so the learner sees what signal and no signal look like.

    Needs the synthetic dataset (it knows which samples are informative).
    """
    require_split_dataset(dataset, "sample_grid")
    positive_int("n_classes", n_classes)
    flags = informative_flags(dataset.info, dataset.split)
    inputs, targets = dataset.as_tensors()
    classes = sorted(set(targets.tolist()))[:n_classes]
    rows = [(m, on) for m in dataset.info.modality_names for on in (True, False)]
    width = min(FIGSIZE[0], 0.8 * len(classes) + 1.0)
    fig, axes = plt.subplots(
        len(rows), len(classes), figsize=(width, 0.8 * len(rows) + 0.6), squeeze=False
    )
    for r, (m, on) in enumerate(rows):
        x = inputs[m].numpy()
        limit = float(np.abs(x).max()) or 1.0
        for c, cls in enumerate(classes):
            ax = axes[r, c]
            hits = ((targets == cls) & (flags[m] == on)).nonzero().flatten()
            if len(hits):
                ax.imshow(_as_image(x[hits[0]]), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"class {cls}", fontsize=7)
            if c == 0:
                ax.set_ylabel(f"{m}\n{'signal' if on else 'no signal'}", fontsize=7)
    fig.suptitle(
        f"Synthetic {dataset.split} samples: with and without the class signal", fontsize=9
    )
    fig.tight_layout()
    return fig
