"""SMP and OGM pinned to hand-computed confidences, coefficients and optimizer behaviour."""

import math
import re

import pytest
import torch
from torch import nn

from g2d_lite.smp import (
    MODES,
    OGM,
    SCHEDULES,
    SCOPES,
    SMP,
    SUPPRESSIONS,
    confidence_from_sums,
    scoped_parameters,
    teacher_confidence,
    teacher_confidence_sums,
)

LN2, LN3 = math.log(2.0), math.log(3.0)


# --- teacher confidence ------------------------------------------------------------------------


def test_confidence_is_mean_true_class_probability():
    logits = {
        "audio": torch.tensor([[0.0, 0.0, 0.0], [LN2, 0.0, 0.0]]),  # p[y] = 1/3, 2/4
        "visual": torch.tensor([[0.0, LN3, 0.0], [0.0, 0.0, 0.0]]),  # p[y] = 1/5, 1/3
    }
    rho = teacher_confidence(logits, torch.tensor([2, 0]))
    assert rho["audio"] == pytest.approx((1 / 3 + 1 / 2) / 2, rel=1e-6)
    assert rho["visual"] == pytest.approx((1 / 5 + 1 / 3) / 2, rel=1e-6)
    assert all(isinstance(r, float) for r in rho.values())


def test_regression_confidence():
    rho = teacher_confidence(
        {"audio": torch.tensor([[1.0], [3.0]])}, torch.tensor([0.0, 1.0]), "regression"
    )
    assert rho["audio"] == pytest.approx(1 / (1 + (1 + 4) / 2))


def test_sums_reduce_like_one_big_batch():
    """What a DDP loop does: all-reduce sums and counts, then divide once."""
    gen = torch.Generator().manual_seed(0)
    logits = {m: torch.randn(6, 4, generator=gen) for m in ("audio", "visual")}
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    halves = [
        teacher_confidence_sums({m: t[s] for m, t in logits.items()}, y[s])
        for s in (slice(0, 2), slice(2, 6))
    ]
    sums = {m: halves[0][0][m] + halves[1][0][m] for m in logits}
    rho = confidence_from_sums(sums, halves[0][1] + halves[1][1])
    assert rho == pytest.approx(teacher_confidence(logits, y))


def test_confidence_rejects_float_class_targets():
    with pytest.raises(ValueError, match="integer dtype"):
        teacher_confidence({"audio": torch.zeros(2, 3)}, torch.tensor([0.0, 1.0]))


# --- SMP coefficients --------------------------------------------------------------------------


def test_faithful_defaults():
    smp = SMP()
    assert (smp.start_epoch, smp.end_epoch, smp.scope, smp.mode) == (0, 150, "conv", "zero")
    assert (smp.schedule, smp.suppression) == ("batch", "complete")


def test_least_confident_modality_leads_two_and_three_modalities():
    smp = SMP()
    assert smp.coefficients({"audio": 0.9, "visual": 0.4}, 0) == {"audio": 0.0, "visual": 1.0}
    assert smp.coefficients({"audio": 0.3, "visual": 0.4}, 0) == {"audio": 1.0, "visual": 0.0}
    rho = {"audio": 0.5, "visual": 0.2, "text": 0.7}
    assert smp.coefficients(rho, 7) == {"audio": 0.0, "visual": 1.0, "text": 0.0}


def test_a_tie_keeps_every_modality_active():
    smp = SMP()
    assert smp.coefficients({"a": 0.3, "b": 0.3, "c": 0.9}, 0) == {"a": 1.0, "b": 1.0, "c": 1.0}
    assert smp.coefficients({"a": 0.5, "b": 0.5}, 0) == {"a": 1.0, "b": 1.0}
    assert smp.coefficients({"a": 0.5}, 0) == {"a": 1.0}


def test_window_is_inclusive_at_both_ends():
    rho = {"audio": 0.9, "visual": 0.4}
    smp = SMP(start_epoch=0, end_epoch=150)
    assert smp.coefficients(rho, 150)["audio"] == 0.0
    assert smp.coefficients(rho, 151) == {"audio": 1.0, "visual": 1.0}
    assert smp.active(0) and smp.active(150) and not smp.active(151)
    late = SMP(start_epoch=10, end_epoch=20)
    assert late.coefficients(rho, 9) == {"audio": 1.0, "visual": 1.0}
    assert late.coefficients(rho, 10)["audio"] == 0.0


def test_partial_suppression_matches_tanh_form():
    smp = SMP(suppression="partial", alpha=0.5)
    kappa = smp.coefficients({"a": 0.8, "b": 0.2, "c": 0.4}, 0)
    assert kappa["b"] == 1.0
    assert kappa["a"] == pytest.approx(1 - math.tanh(0.5 * 0.8 / 0.2))
    assert kappa["c"] == pytest.approx(1 - math.tanh(0.5 * 0.4 / 0.2))


def test_staged_schedule_runs_stages_in_order():
    smp = SMP(start_epoch=0, end_epoch=10, schedule="staged", stage_epochs=[2, 3])
    with pytest.raises(RuntimeError, match=r"rank\(rho_train\)"):
        smp.coefficients(None, 0)
    assert smp.rank({"a": 0.9, "b": 0.1, "c": 0.5}) == ("b", "c", "a")
    only = {m: {n: float(n == m) for n in "abc"} for m in "abc"}
    everyone = {"a": 1.0, "b": 1.0, "c": 1.0}
    expected = [only["b"]] * 2 + [only["c"]] * 3 + [everyone] * 7
    assert [smp.coefficients(None, epoch) for epoch in range(12)] == expected
    # the batch confidences do not change the staged decision
    assert smp.coefficients({"a": 0.0, "b": 0.9, "c": 0.9}, 0) == only["b"]


def test_staged_default_is_one_stage_for_the_weakest():
    smp = SMP(start_epoch=0, end_epoch=4, schedule="staged", suppression="partial", alpha=1.0)
    smp.rank({"audio": 0.8, "visual": 0.4})
    kappa = smp.coefficients(None, 4)
    assert kappa == {"audio": pytest.approx(1 - math.tanh(0.8 / 0.4)), "visual": 1.0}
    assert smp.coefficients(None, 5) == {"audio": 1.0, "visual": 1.0}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": "bn"}, str(SCOPES)),
        ({"mode": "freeze"}, str(MODES)),
        ({"schedule": "epoch"}, str(SCHEDULES)),
        ({"suppression": "soft"}, str(SUPPRESSIONS)),
        ({"start_epoch": 5, "end_epoch": 4}, "end_epoch"),
        ({"alpha": -1.0}, "alpha"),
        ({"stage_epochs": [3]}, "schedule='staged'"),
        ({"schedule": "staged", "stage_epochs": [100, 60]}, "window"),
        ({"schedule": "staged", "stage_epochs": [0]}, "positive"),
    ],
)
def test_smp_validation(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SMP(**kwargs)


def test_schedule_misuse_errors():
    smp = SMP(schedule="staged", stage_epochs=[1, 1, 1])
    with pytest.raises(ValueError, match="3 stages but only 2 modalities"):
        smp.rank({"audio": 0.1, "visual": 0.2})
    smp = SMP(schedule="staged")
    smp.rank({"audio": 0.1, "visual": 0.2})
    with pytest.raises(ValueError, match="rank"):
        smp.coefficients({"audio": 0.1, "text": 0.2}, 0)
    with pytest.raises(ValueError, match="schedule='staged'"):
        SMP().rank({"audio": 0.1, "visual": 0.2})
    with pytest.raises(ValueError, match="needs this batch's teacher confidences"):
        SMP().coefficients(None, 0)


# --- applying the coefficients -----------------------------------------------------------------


def conv_encoder() -> nn.Module:
    """Conv kernels (3x3 and a 1x1 'downsample'), BatchNorm and a linear head in one encoder."""
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, bias=False),
        nn.BatchNorm2d(2),
        nn.ReLU(),
        nn.Conv2d(2, 2, 1, bias=False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2, 2),
    )


def encoders_with_grads(seed: int = 0) -> nn.ModuleDict:
    torch.manual_seed(seed)
    encoders = nn.ModuleDict({"audio": conv_encoder(), "visual": conv_encoder()})
    x = torch.randn(4, 1, 6, 6)
    sum(enc(x).pow(2).sum() for enc in encoders.values()).backward()
    return encoders


def grads(module: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in module.named_parameters()}


def test_scoped_parameters():
    enc = conv_encoder()
    assert scoped_parameters(enc, "conv") == [enc[0].weight, enc[3].weight]
    assert scoped_parameters(enc, "all") == list(enc.parameters())
    mlp = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    assert scoped_parameters(mlp, "conv") == [mlp[0].weight, mlp[3].weight]  # MLP fallback


def test_conv_scope_masks_only_conv_kernels_of_non_leaders():
    encoders = encoders_with_grads()
    before = {m: grads(e) for m, e in encoders.items()}
    SMP().apply(encoders, {"audio": 0.0, "visual": 1.0})
    audio = grads(encoders["audio"])
    assert torch.count_nonzero(audio["0.weight"]) == 0
    assert torch.count_nonzero(audio["3.weight"]) == 0
    for name in ("1.weight", "1.bias", "6.weight", "6.bias"):  # BatchNorm and linear head learn
        assert torch.equal(audio[name], before["audio"][name])
        assert torch.count_nonzero(audio[name]) > 0
    assert all(torch.equal(g, before["visual"][n]) for n, g in grads(encoders["visual"]).items())


def test_all_scope_masks_the_whole_encoder():
    encoders = encoders_with_grads()
    before = grads(encoders["audio"])
    SMP(scope="all").apply(encoders, {"audio": 1.0, "visual": 0.0})
    assert all(torch.count_nonzero(g) == 0 for g in grads(encoders["visual"]).values())
    assert all(torch.equal(g, before[n]) for n, g in grads(encoders["audio"]).items())


def test_fractional_kappa_scales_in_both_modes():
    for mode in MODES:
        encoders = encoders_with_grads()
        before = encoders["audio"][0].weight.grad.clone()
        SMP(mode=mode).apply(encoders, {"audio": 0.25, "visual": 1.0})
        assert torch.allclose(encoders["audio"][0].weight.grad, 0.25 * before)


def test_mlp_encoder_fallback_is_masked():
    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    mlp(torch.randn(3, 4)).sum().backward()
    SMP().apply({"vector": mlp, "audio": conv_encoder()}, {"vector": 0.0, "audio": 1.0})
    assert torch.count_nonzero(mlp[0].weight.grad) == 0
    assert torch.count_nonzero(mlp[2].weight.grad) == 0
    assert torch.count_nonzero(mlp[0].bias.grad) > 0


def sgd_two_steps(mode: str):
    """Step 1 trains normally (momentum builds up); step 2 masks the audio conv kernel."""
    encoders = encoders_with_grads()
    kernel = encoders["audio"][0].weight
    opt = torch.optim.SGD(encoders.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    opt.step()
    opt.zero_grad()
    sum(e(torch.randn(4, 1, 6, 6)).pow(2).sum() for e in encoders.values()).backward()
    weight, buffer = kernel.detach().clone(), opt.state[kernel]["momentum_buffer"].clone()
    SMP(mode=mode).apply(encoders, {"audio": 0.0, "visual": 1.0})
    opt.step()
    return kernel, weight, buffer, opt.state[kernel]["momentum_buffer"]


def test_zero_mode_lets_momentum_and_weight_decay_move_masked_weights():
    kernel, weight, buffer, new_buffer = sgd_two_steps("zero")
    # masked grad 0: buf' = 0.9 buf + wd * w, w' = w - lr * buf'
    expected_buffer = 0.9 * buffer + 1e-4 * weight
    assert torch.allclose(new_buffer, expected_buffer)
    assert torch.allclose(kernel, weight - 0.1 * expected_buffer)
    assert not torch.equal(kernel, weight)


def test_skip_mode_leaves_masked_weights_bit_for_bit():
    kernel, weight, buffer, new_buffer = sgd_two_steps("skip")
    assert kernel.grad is None
    assert torch.equal(kernel, weight)
    assert torch.equal(new_buffer, buffer)


def test_apply_checks_modality_names():
    encoders = encoders_with_grads()
    with pytest.raises(ValueError, match=r"unknown encoders \['text'\].*\['audio', 'visual'\]"):
        SMP().apply(encoders, {"audio": 0.0, "visual": 1.0, "text": 1.0})
    with pytest.raises(ValueError, match=r"encoders without kappa \['visual'\]"):
        SMP().apply(encoders, {"audio": 0.0})


# --- OGM / OGM-GE ------------------------------------------------------------------------------

# Student branches on a 2-sample, 2-class batch with labels [0, 1]:
# audio: p[y] = 3/4, 1/2 -> s = 1.25; visual: 1/4, 1/2 -> 0.75; text: 1/2, 3/4 -> 1.25
BRANCHES = {
    "audio": torch.tensor([[LN3, 0.0], [0.0, 0.0]]),
    "visual": torch.tensor([[0.0, LN3], [0.0, 0.0]]),
    "text": torch.tensor([[0.0, 0.0], [0.0, LN3]]),
}
LABELS = torch.tensor([0, 1])


def test_ogm_two_modalities_damps_the_dominant_one():
    branches = {m: BRANCHES[m] for m in ("audio", "visual")}
    kappa = OGM(alpha=0.8).coefficients(branches, LABELS, epoch=0)
    # official: ratio_v = 0.75 / 1.25 < 1 -> coeff_a = 1 - tanh(alpha * 1.25 / 0.75)
    assert kappa["audio"] == pytest.approx(1 - math.tanh(0.8 * 1.25 / 0.75), rel=1e-6)
    assert kappa["visual"] == 1.0


def test_ogm_three_modalities_uses_mean_of_the_others():
    kappa = OGM(alpha=0.8).coefficients(BRANCHES, LABELS, epoch=0)
    # ratio_a = 1.25 / mean(0.75, 1.25) = 1.25 = ratio_t; ratio_v = 0.75 / 1.25 < 1
    assert kappa["audio"] == pytest.approx(1 - math.tanh(0.8 * 1.25), rel=1e-6)
    assert kappa["text"] == pytest.approx(1 - math.tanh(0.8 * 1.25), rel=1e-6)
    assert kappa["visual"] == 1.0


def test_ogm_window_and_validation():
    ogm = OGM(start_epoch=0, end_epoch=150)
    assert ogm.coefficients(BRANCHES, LABELS, 150)["audio"] < 1
    assert ogm.coefficients(BRANCHES, LABELS, 151) == dict.fromkeys(BRANCHES, 1.0)
    for kwargs, message in [({"alpha": -0.1}, "alpha"), ({"end_epoch": -1}, "end_epoch")]:
        with pytest.raises(ValueError, match=message):
            OGM(**kwargs)
    with pytest.raises(ValueError, match=re.escape(str(SCOPES))):
        OGM(scope="head")


def test_ogm_scales_conv_kernels_without_noise():
    encoders = encoders_with_grads()
    before = grads(encoders["audio"])
    OGM().apply(encoders, {"audio": 0.3, "visual": 1.0}, epoch=0)
    after = grads(encoders["audio"])
    assert torch.allclose(after["0.weight"], 0.3 * before["0.weight"])
    assert torch.equal(after["1.weight"], before["1.weight"])


def _expected_noisy(before: dict, kappa: float, generator: torch.Generator) -> dict:
    """The official formula g * coeff + N(0, std(g) + 1e-8), drawn kernel by kernel."""
    out = {}
    for name in ("0.weight", "3.weight"):
        g = before[name]
        out[name] = g * kappa + torch.randn(g.shape, generator=generator) * (g.std() + 1e-8)
    return out


def test_ogm_ge_noise_goes_to_both_modalities_as_officially():
    ge = OGM(gradient_noise=True)
    assert ge.noise == "both"
    results = []
    for _ in range(2):
        encoders = encoders_with_grads()
        before = {m: grads(e) for m, e in encoders.items()}
        ge.apply(encoders, {"audio": 0.3, "visual": 1.0}, 0, torch.Generator().manual_seed(7))
        results.append({m: grads(e) for m, e in encoders.items()})
    assert all(torch.equal(results[0]["audio"][n], g) for n, g in results[1]["audio"].items())
    gen = torch.Generator().manual_seed(7)  # draws in modality order: audio, then visual
    for m, kappa in (("audio", 0.3), ("visual", 1.0)):
        for name, expected in _expected_noisy(before[m], kappa, gen).items():
            assert torch.allclose(results[0][m][name], expected)
        assert torch.equal(results[0][m]["6.weight"], before[m]["6.weight"])  # not a conv kernel


def test_ogm_ge_modulated_noise_only_touches_the_damped_modality():
    ge = OGM(gradient_noise=True, noise="modulated")
    encoders = encoders_with_grads()
    before = {m: grads(e) for m, e in encoders.items()}
    ge.apply(encoders, {"audio": 0.3, "visual": 1.0}, 0, torch.Generator().manual_seed(7))
    expected = _expected_noisy(before["audio"], 0.3, torch.Generator().manual_seed(7))
    for name, value in expected.items():
        assert torch.allclose(grads(encoders["audio"])[name], value)
    assert all(torch.equal(g, before["visual"][n]) for n, g in grads(encoders["visual"]).items())
    with pytest.raises(ValueError, match="both"):
        OGM(noise="everywhere")


@pytest.mark.parametrize("noise", ["both", "modulated"])
def test_ogm_ge_adds_no_noise_outside_the_window(noise):
    ge = OGM(end_epoch=150, gradient_noise=True, noise=noise)
    encoders = encoders_with_grads()
    before = {m: grads(e) for m, e in encoders.items()}
    branches = {m: BRANCHES[m] for m in ("audio", "visual")}
    kappa = ge.coefficients(branches, LABELS, 151)
    ge.apply(encoders, kappa, 151, torch.Generator().manual_seed(0))
    for m, e in encoders.items():
        assert all(torch.equal(g, before[m][n]) for n, g in grads(e).items())
