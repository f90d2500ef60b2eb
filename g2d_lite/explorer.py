"""Notebook 02's explorer of the synthetic imbalance knobs: a readout that follows every knob,
an optional quick teacher training that explains its result, and the widgets that drive both.

:func:`readout` and :func:`quick_train` return Markdown computed from the regenerated data, so
the notebook can call them once without widgets (papermill sees any error) and :func:`explorer`
wires them to sliders. Figures are displayed and closed explicitly inside their own output
area, so a slow training step never leaves a blank figure behind.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from g2d_lite import diagnose, plots
from g2d_lite.config import Config
from g2d_lite.data.base import DatasetSplits
from g2d_lite.data.synthetic import SYNTHETIC_DEFAULTS, UNINFORMATIVE
from g2d_lite.notebook import load_data
from g2d_lite.preflight import require_splits

KNOBS: tuple[str, ...] = (
    "audio_amplitude",
    "audio_informative",
    "visual_amplitude",
    "visual_informative",
)
SLIDER_RANGES: dict[str, tuple[float, float]] = {"amplitude": (0.5, 3.0), "informative": (0.1, 1.0)}
KNOB_HELP: dict[str, str] = {
    "amplitude": "signal strength against unit noise: how easy the modality is to learn",
    "informative": "share of samples that carry the class: how far the modality can go",
    "uninformative": "what the other samples are: blank frames cannot be memorised, noise can",
}


@dataclass(frozen=True)
class Readout:
    """The regenerated data, its per-modality expectations and the readout in Markdown."""

    knobs: dict[str, Any]
    data: DatasetSplits
    table: pd.DataFrame
    leader: str | None  # the expected SMP leader from the train-confidence caps
    markdown: str


def explored_config(cfg: Config, knobs: Mapping[str, Any]) -> Config:
    """The synthetic config with ``knobs`` applied (another dataset's options do not apply)."""
    if not isinstance(knobs, Mapping):
        raise TypeError(
            f"knobs must map knob names to values, e.g. {{'audio_amplitude': 0.5}}; got "
            f"{type(knobs).__name__}"
        )
    unset = sorted(k for k, v in knobs.items() if isinstance(v, float) and not math.isfinite(v))
    if unset:
        raise ValueError(f"knob {unset[0]} is {knobs[unset[0]]}: give it a finite number")
    own = cfg.data_options if cfg.dataset == "synthetic" else {}
    return cfg.replace(dataset="synthetic", data_options={**own, **knobs})


def signal_energy(data: DatasetSplits) -> dict[str, float]:
    """Mean signal energy of an informative training sample per modality: its sum of squares
    minus the noise's expected share (unit variance per value). The more energy over the same
    noise, the easier the class is to pick up; the amplitude knob moves it."""
    require_splits(data)
    flags = diagnose.informative_flags(data.info, "train")
    inputs, _ = data.train.as_tensors()
    energy = {}
    for m in data.info.modality_names:
        x = inputs[m][flags[m].bool()].flatten(1).double()
        energy[m] = float((x.square().sum(1) - x.shape[1]).mean()) if len(x) else 0.0
    return energy


def readout(cfg: Config, knobs: Mapping[str, Any]) -> Readout:
    """Regenerate the synthetic data with ``knobs`` and say what they predict, before training."""
    data = load_data(explored_config(cfg, knobs))
    table = diagnose.synthetic_expectations(data.info)
    table["signal_energy"] = table["modality"].map(signal_energy(data))
    leader = diagnose.expected_leader(table)
    rows = table.set_index("modality")
    easier = rows["signal_energy"].idxmax()
    ranked = " > ".join(rows["bayes_ceiling"].sort_values(ascending=False).index)
    energies = ", ".join(f"{m} {e:.0f}" for m, e in rows["signal_energy"].items())
    caps = ", ".join(f"{m} {c:.3f}" for m, c in rows["train_confidence_cap"].items())
    lines = [
        "| modality | amplitude | informative | other samples | signal energy | test ceiling (%) "
        "| train-confidence cap |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, r in rows.iterrows():
        lines.append(
            f"| {m} | {r['amplitude']:.2f} | {r['informative']:.2f} | {r['uninformative']} "
            f"| {r['signal_energy']:.0f} | {r['bayes_ceiling']:.1f} "
            f"| {r['train_confidence_cap']:.3f} |"
        )
    ceiling_all = 100 * data.info.extra["bayes_ceilings"]["all"]
    lines += [
        "",
        f"- **Easier to learn:** {easier} (signal energy per informative sample: {energies}; "
        "the amplitude sliders move it).",
        f"- **Teachers' test ceilings:** {ranked}; with every modality {ceiling_all:.1f} %.",
        f"- **Train-confidence caps:** {caps}.",
    ]
    if leader is not None:
        lines.append(
            f"- **Expected SMP leader: {leader}**, the modality with the lowest cap: once every "
            "teacher has fitted what it can, its teacher is the least confident on training "
            "batches."
        )
    else:
        lines.append(
            "- **Expected SMP leader: not decided by the caps** (the lowest is shared): the "
            "leader is whichever teacher is less confident after training. Tick *quick train* "
            "to measure it."
        )
    return Readout(dict(knobs), data, table, leader, "\n".join(lines))


def quick_train(cfg: Config, explored: Readout, epochs: int) -> str:
    """Train every teacher for ``epochs`` on the explored data, rank their training
    confidences as SMP would, and explain any difference from the predicted leader."""
    from g2d_lite.train import train_teacher  # heavy import, only when asked

    quick = explored_config(cfg, explored.knobs).replace(
        epochs=epochs, lr_step=None, selection="last"
    )
    models = {
        m: train_teacher(quick, explored.data, m).model for m in explored.data.info.modality_names
    }
    measured = diagnose.teacher_confidence_table(models, explored.data, ("train",))
    conf = measured.set_index("modality")["confidence"].sort_values()
    caps = explored.table.set_index("modality")["train_confidence_cap"]
    leader = str(conf.index[0])
    ranking = " < ".join(f"{m} {c:.3f}" for m, c in conf.items())
    lines = [
        f"**Quick train** ({epochs} epochs per teacher, constant learning rate): training "
        f"confidences ranked {ranking}, so SMP would let **{leader}** lead.",
        "",
        "| modality | train confidence | its cap | train accuracy (%) |",
        "|---|---|---|---|",
    ]
    for m, r in measured.set_index("modality").iterrows():
        lines.append(f"| {m} | {r['confidence']:.3f} | {caps[m]:.3f} | {r['score']:.1f} |")
    predicted = explored.leader
    lines.append("")
    if predicted is None:
        lines.append(
            "The caps did not predict a leader; this measurement decides it for teachers "
            f"trained {epochs} epochs. Fully trained teachers can rank differently."
        )
    elif predicted == leader:
        lines.append(f"This agrees with the prediction from the caps ({predicted}).")
    else:
        short = {m: caps[m] - conf[m] for m in conf.index}
        lines.append(
            f"This differs from the prediction ({predicted}), because the caps say where a "
            "teacher's confidence ends once it has fitted all it can, and after "
            f"{epochs} epochs the teachers are not there yet: the {leader} teacher is "
            f"{short[leader]:.3f} below its cap, the {predicted} teacher {short[predicted]:.3f} "
            f"below its own. A teacher far from its cap is still learning or memorising; "
            f"the notebook's teachers train {cfg.epochs} epochs, and those are the ones SMP "
            "ranks."
        )
    return "\n".join(lines)


def show(cfg: Config, knobs: Mapping[str, Any], quick_epochs: int = 0) -> Readout:
    """Display the readout, the sample figure and (``quick_epochs`` > 0) a quick training."""
    from IPython.display import Markdown, display

    explored = readout(cfg, knobs)
    display(Markdown(explored.markdown))
    fig = plots.sample_grid(explored.data.train, n_classes=4)
    display(fig)
    plt.close(fig)
    if quick_epochs:
        display(Markdown(quick_train(cfg, explored, quick_epochs)))
    return explored


def explorer(cfg: Config, quick_epochs: int) -> Any:
    """The interactive explorer: labelled sliders, a dropdown and a quick-train checkbox; the
    readout and figure refresh on every change (when a slider is released)."""
    import ipywidgets as w

    style, layout = {"description_width": "initial"}, w.Layout(width="420px")
    controls: dict[str, w.ValueWidget] = {}
    for knob in KNOBS:
        low, high = SLIDER_RANGES[knob.rsplit("_", 1)[1]]
        controls[knob] = w.FloatSlider(
            value=SYNTHETIC_DEFAULTS[knob],
            min=low,
            max=high,
            step=0.05,
            description=knob,
            tooltip=KNOB_HELP[knob.rsplit("_", 1)[1]],
            continuous_update=False,
            style=style,
            layout=layout,
        )
    controls["visual_uninformative"] = w.Dropdown(
        options=UNINFORMATIVE,
        value=SYNTHETIC_DEFAULTS["visual_uninformative"],
        description="visual_uninformative",
        tooltip=KNOB_HELP["uninformative"],
        style=style,
        layout=layout,
    )
    train = w.Checkbox(
        value=False,
        description=f"quick train ({quick_epochs} epochs per teacher)",
        style=style,
        layout=layout,
    )
    output = w.Output()

    def refresh(_: Any = None) -> None:
        knobs = {k: c.value for k, c in controls.items()}
        with output:
            output.clear_output(wait=True)
            show(cfg, knobs, quick_epochs if train.value else 0)

    for control in [*controls.values(), train]:
        control.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HTML("<b>Synthetic imbalance knobs</b>"), *controls.values(), train, output])
