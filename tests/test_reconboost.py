"""ReconBoost: the boosting loss, the stage schedule and who learns in each phase."""

import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from g2d_lite.config import resolve
from g2d_lite.methods.reconboost import ReconBoost, boosting_loss, consolidation
from g2d_lite.train import Trainer, train_teacher
from tests.helpers import tiny_config, tiny_data

LOGITS = torch.tensor([[math.log(3.0), 0.0]])  # p(y = 0) = 0.75
ENSEMBLE = torch.tensor([[0.0, math.log(3.0)]])  # q(y = 0) = 0.25
TARGET = torch.tensor([0])


def test_boosting_loss_matches_the_official_one_hot_form():
    loss = boosting_loss(LOGITS, ENSEMBLE, TARGET, w1=5.0, w2=1.0)
    assert loss.item() == pytest.approx(0.683245, abs=1e-6)  # (-5 + 0.25) * log 0.75 / 2
    t = F.one_hot(TARGET, 2).float()
    official = -5.0 * (t * LOGITS.log_softmax(1)).mean(-1) + 1.0 * (
        t * ENSEMBLE.softmax(1) * LOGITS.log_softmax(1)
    ).mean(-1)
    assert loss.item() == pytest.approx(official.mean().item())


def test_an_empty_ensemble_counts_as_certain():
    # the official c0 constant has one column, so its softmax is 1 for the true class
    loss = boosting_loss(LOGITS, None, TARGET, w1=5.0, w2=1.0)
    assert loss.item() == pytest.approx(0.575364, abs=1e-6)  # (-5 + 1) * log 0.75 / 2


def test_the_ensemble_and_consolidation_carry_no_gradient():
    logits = LOGITS.clone().requires_grad_()
    ensemble = ENSEMBLE.clone().requires_grad_()
    boosting_loss(logits, ensemble, TARGET, 5.0, 1.0).backward()
    assert ensemble.grad is None and logits.grad is not None
    assert not consolidation(logits, ensemble).requires_grad


def test_stages_alternate_modalities_boosting_then_rectifying():
    rule = ReconBoost(["audio", "visual"], boost_epochs=2, rectify_epochs=1)
    schedule = [rule.schedule(e) for e in range(7)]
    assert schedule == [
        (0, "audio", True), (0, "audio", True), (0, "audio", False),
        (1, "visual", True), (1, "visual", True), (1, "visual", False),
        (2, "audio", True),
    ]  # fmt: skip
    assert [rule.trained(s) for s in range(3)] == [[], ["audio"], ["audio", "visual"]]
    assert ReconBoost(["a", "b", "c"], init="teachers").trained(0) == ["a", "b", "c"]


def _trainer(**overrides) -> Trainer:
    cfg = resolve(
        "smoke",
        method="reconboost",
        epochs=2,
        batch_size=64,
        progress=False,
        reconboost_boost_epochs=1,
        reconboost_rectify_epochs=1,
        **overrides,
    )
    return Trainer(cfg, tiny_data(), "student")


def test_only_the_boosted_learner_moves_while_boosting_and_all_do_while_rectifying():
    trainer = _trainer()
    model = trainer.model
    snapshots = []

    def snapshot(trainer_: Trainer, epoch: int) -> None:
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})

    start = {k: v.clone() for k, v in model.state_dict().items()}
    trainer.callbacks.append(snapshot)
    trainer.fit(resume=False)
    boosted, rectified = snapshots

    def moved(a, b, prefix):
        return any(
            not torch.equal(a[k], b[k])
            for k in a
            if k.startswith(prefix) and "num_batches" not in k
        )

    assert moved(start, boosted, "encoders.audio") and moved(start, boosted, "fusion.head")
    assert not moved(start, boosted, "encoders.visual")  # stage 0: visual is not in the ensemble
    assert torch.equal(start["fusion.boost_rate"], boosted["fusion.boost_rate"])
    assert moved(boosted, rectified, "encoders.audio") and moved(
        boosted, rectified, "fusion.boost_rate"
    )
    assert not moved(boosted, rectified, "encoders.visual")  # not trained yet: not in the ensemble
    kappa = pd.DataFrame(trainer.steps)[["epoch", "kappa/audio", "kappa/visual"]].drop_duplicates()
    assert kappa.values.tolist() == [[0, 1.0, 0.0], [1, 1.0, 0.0]]


def test_every_phase_starts_with_fresh_optimizer_state():
    trainer = _trainer()
    momentum = []
    trainer.optimizer.register_step_pre_hook(
        lambda optimizer, args, kwargs: momentum.append(len(optimizer.state) > 0)
    )
    trainer.fit(resume=False)
    per_epoch = trainer.global_step // 2
    # the official code builds a new SGD for each phase: no momentum at a phase's first step
    assert momentum == ([False] + [True] * (per_epoch - 1)) * 2


def test_teacher_initialisation_copies_the_encoders_and_needs_teachers():
    data = tiny_data()
    cfg = tiny_config(epochs=1)
    teachers = {m: train_teacher(cfg, data, m).model for m in data.info.modality_names}
    with pytest.raises(ValueError, match="needs unimodal teachers"):
        _trainer(reconboost_init="teachers")
    student_cfg = resolve(
        "smoke", method="reconboost", epochs=1, progress=False, reconboost_init="teachers"
    )
    trainer = Trainer(student_cfg, data, "student", teachers=teachers)
    trainer.update_rule.start_epoch(trainer, 0)
    for m, encoder in trainer.model.encoders.items():
        expected = teachers[m].encoder.state_dict()
        assert all(torch.equal(v, expected[k]) for k, v in encoder.state_dict().items())
