"""The shared pieces behind the notebooks' computed prose: fixed colours and method labels, the
paper's numbers, the claims table, the training-dynamics checks and the explorer's readout."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from g2d_lite import dynamics, explorer, findings, palette, paper
from g2d_lite.config import METHODS, resolve
from g2d_lite.models.encoders import MLPEncoder, SmallCNNEncoder


def test_every_method_has_a_label_and_its_own_colour():
    assert set(palette.METHOD_LABELS) == set(METHODS) == set(palette.METHOD_COLOURS)
    assert len(set(palette.METHOD_COLOURS.values())) == len(METHODS)
    assert palette.method_label("g2d_no_smp") == "G²D loss, no SMP"
    assert palette.method_label("joint (crossover)") == "joint training (crossover)"
    assert palette.method_label("teacher (audio)") == "teacher (audio)"
    assert palette.colour("G²D") == palette.colour("g2d") == palette.colour("G²D (crossover)")


def test_modality_colours_are_fixed_and_teachers_take_theirs():
    audio = palette.colour("audio")
    assert palette.colour("audio teacher") == palette.colour("teacher (audio)") == audio
    assert palette.colour("audio") != palette.colour("image") != palette.colour("visual")
    assert palette.modality_colour("depth") == palette.modality_colour("depth")  # stable spare
    assert palette.colour("audio") not in palette.METHOD_COLOURS.values()


def test_paper_numbers_are_the_reported_cremad_ones():
    assert paper.fused("g2d") == 85.89 and paper.fused("joint") == 67.47
    assert paper.fused("logit_kd") is None
    assert paper.weak_gap() == pytest.approx(76.48 - 27.42)
    assert paper.weak_recovery() == pytest.approx(100 * (72.72 - 27.42) / (76.48 - 27.42))
    scores = paper.figure1_scores()
    assert set(scores["model"]) == {"teacher", "joint", "G²D"}


STARVED = "joint training starves the weak modality's branch"


def _evidence(**overrides):
    values = {
        "weak": "image",
        "teachers": {"audio": 56.0, "image": 68.0},
        "fused": {"joint": 84.0, "g2d": 87.0, "g2d_no_smp": 87.5},
        "branches": {
            "joint": {"audio": 48.0, "image": 55.0},
            "g2d": {"audio": 50.0, "image": 61.0},
            "g2d_no_smp": {"audio": 58.0, "image": 63.0},
        },
        "weak_led": 100.0,
    }
    return findings.Evidence(**{**values, **overrides})


def test_claims_say_what_held_and_what_did_not():
    table = findings.claims(_evidence()).set_index("claim")
    assert table.loc[STARVED, "verdict"] == findings.HELD
    assert table.loc["G²D brings that branch back", "verdict"] == findings.PARTLY  # 6 of 13 points
    assert table.loc["G²D beats joint training", "verdict"] == findings.HELD
    assert table.loc["SMP lets the weak modality lead", "verdict"] == findings.HELD
    assert table.loc["SMP helps the G²D loss", "verdict"] == findings.NOT_HELD
    assert "78.63 → 85.89" in table.loc["SMP helps the G²D loss", paper.PAPER_LABEL]
    assert "complete suppression beats partial" not in table.index  # no partial run: left out
    text = findings.claims_markdown(findings.claims(_evidence()), "avmnist", "test")
    assert text.startswith("**What these data show** (avmnist, test split): of 5 claims")


def test_a_tiny_gap_is_no_starved_branch_and_gets_no_recovery():
    evidence = _evidence(teachers={"audio": 56.0, "image": 55.7})
    table = findings.claims(evidence).set_index("claim")
    assert table.loc[STARVED, "verdict"] == findings.NOT_HELD
    assert "G²D brings that branch back" not in table.index


def _run(lr, task, branch):
    from g2d_lite.config import Config
    from g2d_lite.train import TrainResult

    n = len(lr)
    history = pd.DataFrame(
        {"epoch": range(n), "lr": lr, "train/task": task, "val/acc": branch}
    ).assign(**{"val/acc/image": branch})
    return TrainResult(None, history, pd.DataFrame(), {"metric": "acc"}, Config())


def test_stall_report_flags_a_loss_that_settles_at_the_learning_rate_step():
    lr = [0.05] * 4 + [0.005] * 3
    joint = _run(lr, [2.0, 1.0, 0.5, 0.3, 0.1, 0.05, 0.04], [20, 30, 35, 38, 40, 40.5, 41])
    teacher = _run(lr, [1.0] * 7, [50, 60, 65, 68, 70, 71, 72])
    report = dynamics.stall_report(joint, teacher, "image")
    assert (dynamics.lr_steps(joint.history), report.settled_epoch) == ([4], 4)
    assert report.confounded
    assert "cannot separate the two causes" in report.sentence("image")
    late = _run(lr, [2.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [20, 30, 31, 31, 31, 31, 31])
    assert not dynamics.stall_report(late, teacher, "image").confounded


def test_smp_masked_names_convolutions_or_the_mlp_fallback():
    assert "convolution kernels" in dynamics.smp_masked(SmallCNNEncoder(1), "conv")
    mlp = dynamics.smp_masked(MLPEncoder(784), "conv")
    assert "no convolution" in mlp and "2 tensors" in mlp
    everything = dynamics.smp_masked(MLPEncoder(784), "all")
    assert everything.startswith("every parameter: 8 tensors, 100 %")


def test_explorer_readout_follows_the_amplitude_sliders():
    cfg = resolve("smoke")
    default = explorer.readout(cfg, {})
    quiet = explorer.readout(cfg, {"audio_amplitude": 0.6})
    energy = default.table.set_index("modality")["signal_energy"]
    assert quiet.table.set_index("modality")["signal_energy"]["audio"] < energy["audio"] / 4
    assert "**Easier to learn:** audio" in default.markdown
    assert "**Easier to learn:** visual" in quiet.markdown
    assert default.leader == "visual" and "Expected SMP leader: visual" in default.markdown
    tie = explorer.readout(cfg, {"visual_uninformative": "noise"})
    assert tie.leader is None and "not decided by the caps" in tie.markdown
    assert torch.equal(default.data.train.targets, quiet.data.train.targets)
