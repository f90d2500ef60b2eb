"""Seaborn figures for the notebooks, drawn from the tidy frames of :mod:`g2d_lite.diagnose`.

Every function returns the ``matplotlib`` figure (notebooks call ``plt.show()`` and
:func:`g2d_lite.notebook.save_figure`); every axis is labelled and every figure has a title, so
a figure reads without the code. Sizes follow :func:`g2d_lite.notebook.set_style` (7 × 3.6 in).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from g2d_lite.data.base import MultimodalDataset
from g2d_lite.diagnose import ALL, FUSED, informative_flags

FIGSIZE = (7.0, 3.6)
TEACHER = "teacher"
_FIXED = {"joint": 0, "G²D": 1, "g2d": 1}  # palette positions of the two students
_METRIC_LABELS = {"acc": "accuracy (%)", "mae": "mean absolute error"}


def _metric_label(frame: pd.DataFrame) -> str:
    metric = frame["metric"].iloc[0] if "metric" in frame and len(frame) else "acc"
    return _METRIC_LABELS.get(metric, metric)


def _colours(names: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """Stable colours across figures: joint blue, G²D orange, a lone teacher grey (several
    teachers, and any other name, take the next colours of the colour-blind palette)."""
    palette = sns.color_palette("colorblind", 10)
    teachers = [n for n in names if n.endswith(TEACHER)]
    colours: dict[str, tuple[float, float, float]] = {}
    free = iter(palette[2:])
    for name in names:
        if name in _FIXED:
            colours[name] = palette[_FIXED[name]]
        elif name in teachers and len(teachers) == 1:
            colours[name] = (0.6, 0.6, 0.6)
        else:
            colours[name] = next(free)
    return colours


def _unique(values: pd.Series) -> list[str]:
    return list(dict.fromkeys(values.astype(str)))


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
) -> Figure:
    """Grouped bars with their values printed on top, the legend outside the plot."""
    fig, ax = plt.subplots(figsize=figsize)
    hue_order = _unique(data[hue])
    sns.barplot(
        data=data,
        x=x,
        y=y,
        hue=hue,
        order=order,
        hue_order=hue_order,
        palette=_colours(hue_order),
        errorbar=errorbar,
        capsize=0.15 if errorbar else 0,
        ax=ax,
    )
    for container in ax.containers:
        if hasattr(container, "patches"):
            ax.bar_label(container, fmt=fmt, fontsize=7, padding=2)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.margins(y=0.12)
    if hue != x:
        ax.legend(title=hue, bbox_to_anchor=(1.01, 1), loc="upper left", frameon=False)
    elif ax.get_legend() is not None:
        ax.get_legend().remove()
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Figure 1 and results tables


def figure1(scores: pd.DataFrame, split: str = "test") -> Figure:
    """The paper's Figure 1: each teacher alone vs its branch inside joint training and inside
    G²D, per modality, plus the students' fused scores (from :func:`diagnose.score_table`)."""
    outputs = [o for o in _unique(scores["output"]) if o != FUSED] + [FUSED]
    return _bars(
        scores,
        x="output",
        y="score",
        hue="model",
        order=[o for o in outputs if o in set(scores["output"])],
        title=f"Teacher alone vs the same modality inside a multimodal model ({split})",
        xlabel="modality branch (or fused prediction)",
        ylabel=_metric_label(scores),
    )


def results_bars(
    results: pd.DataFrame,
    x: str = "method",
    y: str = "acc",
    hue: str | None = None,
    title: str = "Results",
    ylabel: str = "test accuracy (%)",
    seed_column: str = "seed",
) -> Figure:
    """Mean ± standard deviation over seeds of one number per method (notebook 04's table).

    ``results`` holds one row per (method, seed); the title states how many seeds.
    """
    seeds = results[seed_column].nunique() if seed_column in results else 1
    hue = hue or x
    return _bars(
        results,
        x=x,
        y=y,
        hue=hue,
        order=_unique(results[x]),
        errorbar="sd" if seeds > 1 else None,
        title=f"{title} (mean ± std over {seeds} seed{'s' if seeds != 1 else ''})",
        xlabel=x,
        ylabel=ylabel,
    )


def cka_bars(alignment: pd.DataFrame) -> Figure:
    """Linear CKA of each student's features with its teacher's (diagnose.feature_alignment)."""
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
) -> Figure:
    """Per-epoch scores (colour: run, line style: ``style``, by default the output) from
    diagnose.learning_curves; with ``losses`` (diagnose.task_loss_curves) a second panel shows
    the training task loss, to see the weak branch stall once the fused loss is ~0."""
    ncols = 1 if losses is None else 2
    width = FIGSIZE[0] if losses is None else 10.0
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
        palette=_colours(runs),
        ax=ax,
    )
    ax.set(title=title, xlabel="epoch", ylabel=_metric_label(curves))
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    if losses is not None:
        ax = axes[0, 1]
        loss_runs = _unique(losses["run"])
        sns.lineplot(
            data=losses,
            x="epoch",
            y="loss",
            hue="run",
            hue_order=loss_runs,
            palette=_colours(loss_runs),
            ax=ax,
        )
        ax.set(title="Training task loss (fused)", xlabel="epoch", ylabel="task loss")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def gradient_norms(norms: pd.DataFrame) -> Figure:
    """Per-epoch mean gradient norm of each encoder (diagnose.gradient_norms): colour = run,
    line style = modality. Measured before SMP masks anything."""
    fig, ax = plt.subplots(figsize=FIGSIZE)
    runs = _unique(norms["run"])
    sns.lineplot(
        data=norms,
        x="epoch",
        y="grad_norm",
        hue="run",
        style="modality",
        hue_order=runs,
        palette=_colours(runs),
        ax=ax,
    )
    ax.set(
        title="Gradient norm reaching each encoder (before SMP masking)",
        xlabel="epoch",
        ylabel="mean gradient norm per batch",
    )
    ax.legend(fontsize=7, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# SMP timelines


def _leader_colours(labels: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    palette = sns.color_palette("colorblind", len(labels) + 1)
    ordered = sorted(labels, key=lambda label: (label == ALL, label))
    return {
        label: (0.85, 0.85, 0.85) if label == ALL else palette[i] for i, label in enumerate(ordered)
    }


def confidence_timeline(
    timeline: pd.DataFrame, window: tuple[int, int] | None = None, smooth: int = 5
) -> Figure:
    """Teacher confidence ρ^m per training step (diagnose.confidence_timeline), the SMP window
    shaded and, in a strip along the bottom, which modality led each step.

    ``window`` is the SMP window in epochs (inclusive); ``smooth`` is a rolling mean over steps
    for the lines (the raw per-batch values are drawn faintly behind).
    """
    fig, ax = plt.subplots(figsize=FIGSIZE)
    modalities = _unique(timeline["modality"])
    leaders = _leader_colours(_unique(timeline["leader"]))
    line_colours = {m: leaders.get(m, c) for m, c in _colours(modalities).items()}
    for m in modalities:
        part = timeline[timeline["modality"] == m].sort_values("step")
        ax.plot(part["step"], part["rho"], color=line_colours[m], alpha=0.25, linewidth=0.8)
        smoothed = part["rho"].rolling(smooth, min_periods=1, center=True).mean()
        ax.plot(part["step"], smoothed, color=line_colours[m], linewidth=1.8, label=f"ρ {m}")
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
    for label, colour in leaders.items():
        at = steps[steps["leader"] == label]["step"].to_numpy()
        ax.broken_barh([(s - 0.5, 1.0) for s in at], strip, color=colour, linewidth=0)
    handles, labels = ax.get_legend_handles_labels()
    handles += [Patch(color=c) for c in leaders.values()]
    labels += [f"led: {label}" for label in leaders]
    ax.legend(
        handles, labels, fontsize=7, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left"
    )
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
    table = shares.pivot_table(index="epoch", columns="leader", values="share", fill_value=0.0)
    colours = _leader_colours(list(table.columns))
    table = table[list(colours)]
    fig, ax = plt.subplots(figsize=FIGSIZE)
    bottom = np.zeros(len(table))
    for label, colour in colours.items():
        ax.bar(table.index, table[label], bottom=bottom, color=colour, width=0.9, label=label)
        bottom += table[label].to_numpy()
    ax.set(
        title="Which modality led each epoch's steps",
        xlabel="epoch",
        ylabel="share of steps (%)",
        ylim=(0, 100),
    )
    ax.legend(title="leader", fontsize=7, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# The synthetic data


def _as_image(x: np.ndarray) -> np.ndarray:
    """A sample as a 2-D image: the channel mean of (C, H, W), a vector as one row."""
    return x.mean(axis=0) if x.ndim == 3 else x.reshape(1, -1)


def sample_grid(dataset: MultimodalDataset, n_classes: int = 10) -> Figure:
    """Samples of each modality per class: one that carries the class and one that does not
    (noise or a blank frame), so the learner sees what signal and no signal look like.

    Needs the synthetic dataset (it knows which samples are informative).
    """
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
