"""PMR: prototype logits, scores, which modality is accelerated, and the prototypes themselves."""

import pytest
import torch
import torch.nn.functional as F

from g2d_lite.batches import batch_order, iterate_batches
from g2d_lite.config import resolve
from g2d_lite.methods.pmr import acceleration, class_means, prototype_logits, prototype_scores
from g2d_lite.seeding import epoch_generator
from g2d_lite.train import Trainer
from tests.helpers import tiny_data


def test_prototype_logits_are_negative_euclidean_distances():
    logits = prototype_logits(torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0], [0.0, 1.0]]))
    torch.testing.assert_close(logits, torch.tensor([[-5.0, -1.0]]))


def test_scores_sum_the_true_class_probabilities():
    logits = {
        "audio": torch.tensor([[0.0, 0.0], [0.0, 0.0]]),
        "visual": torch.tensor([[2.0, 0.0], [0.0, 0.0]]),
    }
    scores = prototype_scores(logits, torch.tensor([0, 1]))
    assert scores["audio"] == pytest.approx(1.0)
    assert scores["visual"] == pytest.approx(0.880797 + 0.5, abs=1e-6)  # sigmoid(2) + 1/2


def test_only_the_slowest_modality_is_accelerated():
    # official: s_a / s_v > 1 -> the visual prototype loss gets alpha, < 1 -> audio, = 1 -> none
    assert acceleration({"audio": 1.2, "visual": 0.8}, 2.0) == {"audio": 0.0, "visual": 2.0}
    assert acceleration({"audio": 0.8, "visual": 1.2}, 2.0) == {"audio": 2.0, "visual": 0.0}
    assert acceleration({"audio": 1.0, "visual": 1.0}, 2.0) == {"audio": 0.0, "visual": 0.0}
    assert acceleration({"a": 3.0, "b": 1.0, "c": 2.0}, 1.5) == {"a": 0.0, "b": 1.5, "c": 0.0}


def test_class_means_keep_absent_classes():
    previous = torch.full((3, 2), 9.0)
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    means = class_means(features, torch.tensor([0, 0, 2]), previous)
    torch.testing.assert_close(means, torch.tensor([[2.0, 3.0], [9.0, 9.0], [5.0, 6.0]]))


def _trainer(**overrides) -> Trainer:
    cfg = resolve("smoke", method="pmr", epochs=1, batch_size=64, progress=False, **overrides)
    return Trainer(cfg, tiny_data(), "student")


def test_prototypes_are_class_means_of_a_tenth_of_the_training_batches():
    trainer = _trainer()
    rule = trainer.update_rule
    rule.start_epoch(trainer, 0)
    train = trainer.data.train
    assert len(train) // 64 // 10 == 0  # three batches: the official loop still takes one
    order = torch.randperm(len(train), generator=epoch_generator(0, 0, stream=2))[:64]
    batch = next(iterate_batches(train, [order]))
    trainer.model.eval()
    with torch.no_grad():
        features = trainer.model(batch.inputs).features
    for m in trainer.model.modalities:
        expected = class_means(features[m], batch.targets, torch.zeros_like(rule.prototypes(m)))
        torch.testing.assert_close(rule.prototypes(m), expected)


def test_the_loss_adds_the_prototype_cross_entropy_of_the_slowest_modality():
    trainer = _trainer()
    rule = trainer.update_rule
    batch = next(
        iterate_batches(trainer.data.train, batch_order(len(trainer.data.train), 64, False))
    )
    result = rule.step(trainer, 0, batch, batch.inputs)
    beta = {m: result.record[f"pmr/beta/{m}"] for m in trainer.model.modalities}
    slow = min(trainer.model.modalities, key=lambda m: result.record[f"pmr/score/{m}"])
    assert beta[slow] == 2.0 and sum(beta.values()) == 2.0
    expected = result.parts["task"] + 2.0 * result.parts[f"prototype/{slow}"]
    assert result.loss.item() == pytest.approx(expected.item(), rel=1e-6)
    target = batch.targets
    logits = prototype_logits(result.out.features[slow].float(), rule.prototypes(slow))
    assert result.parts[f"prototype/{slow}"].item() == pytest.approx(
        F.cross_entropy(logits, target).item(), rel=1e-6
    )
