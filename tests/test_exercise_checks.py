"""The helpers of the exercise check cells: feedback that names the mistake, and the guard that
refuses answers calling the kit."""

from __future__ import annotations

import functools
import math
import sys

import pytest
import torch

from g2d_lite import exercise_checks, smp
from g2d_lite.exercise_checks import (
    NO_MATCH,
    KitCallError,
    KitReplacedError,
    check_kit_intact,
    checkers_intact,
    encoders_with_gradients,
    expect_close,
    expect_gradient,
    seal_checkers,
    without_kit,
)
from g2d_lite.losses import g2d_loss


def test_without_kit_passes_results_and_errors_through():
    assert without_kit(lambda x: x + 1)(1) == 2

    def unfinished():
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        without_kit(unfinished)()


def test_without_kit_names_the_public_kit_function_however_it_was_reached():
    alias = smp.SMP

    def delegates(rho):
        return alias(start_epoch=0, end_epoch=0).coefficients(rho, epoch=0)

    with pytest.raises(KitCallError, match=r"delegates calls the kit's own g2d_lite\.smp\.SMP\.co"):
        without_kit(delegates)({"a": 0.1, "b": 0.9})

    def through_a_helper(logits):
        return g2d_loss(logits, None, None, None, torch.tensor([0]), 0.0, 0.0)[0]

    with pytest.raises(KitCallError, match=r"g2d_lite\.losses\.g2d_loss"):
        without_kit(through_a_helper)(torch.zeros(1, 2))


def test_without_kit_names_a_private_helper_and_restores_the_profiler():
    from g2d_lite import losses

    def private(a, b):
        return losses._feature_kd(a, b, "m")

    before = sys.getprofile()
    with pytest.raises(KitCallError, match=r"g2d_lite\.losses\._feature_kd"):
        without_kit(private)(torch.zeros(2), torch.ones(2))
    assert sys.getprofile() is before


def test_expect_close_accepts_close_values_and_alternatives():
    expect_close(torch.tensor(1.0 + 1e-9), 1.0, "x")
    expect_close({"a": 1.0, "b": math.nan}, {"a": 1.0, "b": float("nan")}, "nan equals nan")
    expect_close(2.0, 1.0, "own composition", accept=[2.0])


def test_expect_close_names_the_mistake_the_value_matches():
    with pytest.raises(AssertionError) as error:
        expect_close(0.25, 1.0, "logit_kd", likely={"wrong": 3.0, "missing T²": 0.25})
    message = str(error.value)
    assert "logit_kd: expected 1.0, got 0.25" in message
    with pytest.raises(AssertionError, match="expected 0.14577, got 0.14600"):  # probe Q62
        expect_close(0.146, 0.14577, "logit_kd")
    assert message.endswith("Likely cause: missing T²")


def test_expect_close_falls_back_to_the_hint_then_to_the_generic_advice():
    with pytest.raises(AssertionError, match="Likely cause: a tie keeps everyone"):
        expect_close(
            {"a": 0.0}, {"a": 1.0}, "mask", likely={"x": {"a": 0.5}}, hint="a tie keeps everyone"
        )
    with pytest.raises(AssertionError, match=NO_MATCH):
        expect_close(0.5, 1.0, "x")


def test_expect_close_reports_wrong_keys_and_shapes_before_values():
    with pytest.raises(
        AssertionError, match=r"expected one value for each of \['a', 'b'\], got \['a'\]"
    ):
        expect_close({"a": 1.0}, {"a": 1.0, "b": 2.0}, "rho")
    with pytest.raises(AssertionError, match=r"expected a tensor of shape \(\), got shape \(1,\)"):
        expect_close(torch.ones(1), torch.tensor(1.0), "loss")
    with pytest.raises(AssertionError, match="got 'text'"):
        expect_close("text", 1.0, "a string is a wrong answer, not a crash")


def test_encoders_with_gradients_are_identical_copies():
    answer, reference = encoders_with_gradients(["a", "b"], torch.ones(2, 1, 4, 4), seed=0)
    for m in ("a", "b"):
        for p, q in zip(answer[m].parameters(), reference[m].parameters(), strict=True):
            assert p is not q and torch.equal(p.grad, q.grad)
    assert {p.ndim for p in answer["a"].parameters()} == {1, 4}  # kernels, BatchNorm and biases


def test_a_kit_function_replaced_by_an_answer_cell_stops_every_check(monkeypatch):
    """Probe U59: an answer cell set smp.teacher_confidence to the student's wrong function,
    and the check, comparing with it, passed."""

    def wrong(outputs, target, task="classification"):
        return dict.fromkeys(outputs, 0.5)

    monkeypatch.setattr(smp, "teacher_confidence", wrong)
    with pytest.raises(KitReplacedError, match=r"g2d_lite.smp.teacher_confidence was replaced"):
        without_kit(wrong)({"a": torch.zeros(1, 2)}, torch.tensor([0]))
    monkeypatch.undo()
    assert without_kit(lambda: 1)() == 1


def test_a_checker_rebound_in_the_sealed_globals_is_refused_before_and_after_the_answer():
    """Probe W70: rebinding expect_close in the notebook's globals made constant answers pass."""
    notebook = {"expect_close": expect_close, "torch": torch, "kit_ref": g2d_loss, "N": 3}
    seal_checkers(notebook)
    checkers_intact(notebook)
    notebook["N"] = 4  # data is not sealed
    checkers_intact(notebook)
    exec("def answer():\n    global kit_ref\n    kit_ref = answer\n    return 0.0", notebook)
    with pytest.raises(KitReplacedError, match=r"^kit_ref was rebound in this notebook"):
        without_kit(notebook["answer"])()
    with pytest.raises(KitReplacedError, match=r"^kit_ref was rebound"):
        checkers_intact(notebook)
    checkers_intact({"kit_ref": None})  # another namespace was never sealed
    seal_checkers({})


def test_a_checker_whose_code_is_swapped_in_place_is_refused():
    """Probe 31 CC37: `expect_close.__code__ = (lambda *a, **k: None).__code__` in an answer
    cell kept the function's identity, and every later check passed a wrong answer (6/6)."""
    import g2d_lite.exercise_checks as checks

    def checker(x, tolerance=0.1):
        return abs(x) < tolerance

    notebook = {"checker": checker, "expect_close": expect_close}
    seal_checkers(notebook)
    original = checker.__code__
    checker.__code__ = (lambda *a, **k: True).__code__
    try:
        with pytest.raises(KitReplacedError, match=r"^checker's code was replaced in this not"):
            checkers_intact(notebook)
    finally:
        checker.__code__ = original
    checkers_intact(notebook)
    checker.__defaults__ = (1e9,)  # a tolerance nothing fails
    with pytest.raises(KitReplacedError, match="checker's code was replaced"):
        checkers_intact(notebook)
    checker.__defaults__ = (0.1,)
    code = checks._close.__code__  # the kit's own helpers, reached through the module
    checks._close.__code__ = (lambda *a, **k: True).__code__
    try:
        with pytest.raises(KitReplacedError, match=r"exercise_checks\._close was replaced"):
            check_kit_intact()
    finally:
        checks._close.__code__ = code
    check_kit_intact()
    seal_checkers({})


def test_a_check_run_in_a_kernel_where_the_setup_cell_has_not_run_says_so():
    """Probe M37: after a kernel restart, running an answer and its check cell (not the setup
    cell) gave "NameError: name 'smp' is not defined", which reads as a bug in the answer."""
    from g2d_lite.exercise_checks import SetupNotRunError

    with pytest.raises(SetupNotRunError, match="setup cell .* has not run in this kernel"):
        checkers_intact({"_ih": ["", "def smp_mask(rho): ..."], "smp_mask": print})


def test_an_answer_that_changes_its_input_in_place_is_refused_and_undone():
    """Probe V18: a feature_kd answer that ran student.sub_(teacher) passed its own check and
    spoiled the notebook's features, so the next check failed a right answer."""
    import pandas as pd

    def feature_kd(student, teacher):
        student.sub_(teacher)
        return student.pow(2).mean()

    features, teacher = torch.tensor([[0.5, -0.2], [1.0, 0.3]]), torch.ones(2, 2)
    kept = features.clone()
    with pytest.raises(
        AssertionError,
        match=r"feature_kd \(or an answer of yours.*put back",
    ):
        without_kit(feature_kd)(features, teacher)
    assert torch.equal(features, kept)

    def add_column(steps):
        steps["leader"] = "audio"
        return 1.0

    with pytest.raises(AssertionError, match="add_column .* changed its input.*rerun the cells"):
        without_kit(add_column)(pd.DataFrame({"kappa/audio": [1.0]}))
    nan_input = torch.tensor([math.nan, 1.0])
    assert without_kit(lambda x: x.sum())(nan_input).isnan()  # NaN equals NaN: no change

    def mask(encoders):  # an answer that must edit gradients (ex02's mask_gradients)
        for encoder in encoders.values():
            for p in encoder.parameters():
                p.grad = torch.zeros_like(p)

    without_kit(mask)({"a": torch.nn.Linear(2, 2)})


def test_a_number_where_a_tensor_is_expected_is_named():
    """Probe X91: a feature_kd answer returning .item() passed the value check, then the check
    cell failed with AttributeError: 'float' object has no attribute 'item'."""
    with pytest.raises(AssertionError, match="expected a tensor, got float 0.5: return the torch"):
        expect_close(0.5, torch.tensor(0.5), "feature_kd")


def test_an_answer_that_raises_is_reported_with_the_call_s_settings():
    """Probe X94: a g2d_total ignoring task failed the hidden regression check with torch's
    "expected target dtype to be Long" and never reached the check's feedback."""

    def g2d_total(output, target, task="classification"):
        return torch.nn.functional.cross_entropy(output, target)

    with pytest.raises(AssertionError, match=r"g2d_total raised RuntimeError: .*task='regression'"):
        without_kit(g2d_total)(torch.randn(3, 1), torch.rand(3), task="regression")


def test_none_tensors_for_floats_and_a_call_without_settings_are_named():
    """Own probe: `return None` was reported as "expected a tensor, got NoneType" with advice
    about .item(); a dict of tensors where floats belong passed the check and then broke the
    notebook's print with "Tensor doesn't define __round__"; an answer raising in a call with no
    simple settings said "(called)"."""
    with pytest.raises(AssertionError, match="got None, so the function returned nothing"):
        expect_close(None, torch.tensor(1.0), "logit_kd")
    with pytest.raises(AssertionError, match=r"return plain Python floats.*got tensors"):
        expect_close({"a": torch.tensor(0.5)}, {"a": 0.5}, "branch_scores")
    expect_close({"a": 0.5}, {"a": 0.5}, "branch_scores")

    def answer(x):
        raise ValueError("not yet")

    with pytest.raises(AssertionError) as error:
        without_kit(answer)(torch.ones(2))
    assert "(called" not in str(error.value)
    assert "answer raised ValueError: not yet. Read the text" in str(error.value)


def test_an_answer_calling_another_answer_not_yet_written_names_that_one():
    """Probe G23: g2d_total calling a feature_kd still at its stub failed with a bare
    NotImplementedError, read as "g2d_total not attempted"."""

    def feature_kd():
        raise NotImplementedError()

    def g2d_total():
        return feature_kd()

    with pytest.raises(AssertionError, match="g2d_total calls your feature_kd, which is not"):
        without_kit(g2d_total)()
    with pytest.raises(NotImplementedError):  # its own stub: nothing attempted, as before
        without_kit(feature_kd)()


def test_a_torch_function_the_checks_compare_with_replaced_by_an_answer_is_refused(monkeypatch):
    """Probe G28: ``torch.allclose = lambda *a, **k: True`` in an answer cell made constant
    answers pass every check; torch's, F's and math's functions are guarded like the kit's."""
    for module, name in ((torch, "allclose"), (torch.nn.functional, "mse_loss"), (math, "isclose")):
        monkeypatch.setattr(module, name, lambda *a, **k: True)
        with pytest.raises(KitReplacedError, match=rf"{module.__name__}\.{name} was replaced"):
            check_kit_intact()
        monkeypatch.undo()
    check_kit_intact()


def test_torch_rewrapping_its_own_function_is_not_taken_for_an_answer(monkeypatch):
    """Probe 26 AC01: ex02's demo cell takes an optimiser step, which imports torch._dynamo and
    rewraps torch.manual_seed; rerunning a check cell then refused a correct notebook. A wrapper
    an answer cell makes (functools.wraps copies __wrapped__ too) is still refused."""
    original = exercise_checks._ORIGINALS[("torch", "manual_seed")]
    monkeypatch.setattr(torch, "manual_seed", torch._disable_dynamo(original))
    check_kit_intact()
    monkeypatch.setattr(torch, "manual_seed", functools.wraps(original)(lambda seed: None))
    with pytest.raises(KitReplacedError, match=r"torch\.manual_seed was replaced"):
        check_kit_intact()


def test_booleans_where_numbers_are_expected_are_named():
    """Probe G09: smp_mask returning True/False passed, though the kit refuses a bool κ."""
    with pytest.raises(AssertionError, match="return numbers, got True/False"):
        expect_close({"a": True, "b": False}, {"a": 1.0, "b": 0.0}, "smp_mask")
    expect_close({"a": 1.0, "b": 0.0}, {"a": 1.0, "b": 0.0}, "smp_mask")


def test_expect_gradient_names_a_detached_result():
    """Probe G07: the gradient check of feature_kd, shared with logit_kd and g2d_total."""
    x = torch.ones(3, requires_grad=True)
    expect_gradient((x * 2).sum(), "logit_kd", "the student's logits")
    with pytest.raises(AssertionError, match="logit_kd must let the gradient reach the student"):
        expect_gradient(torch.tensor((x * 2).sum().item()), "logit_kd", "the student's logits")


def test_an_answer_patching_a_private_checker_helper_or_the_profiler_is_refused(monkeypatch):
    """Probes J01 (`_ec._close = lambda *a, **k: True` gave constant answers full marks) and
    J02 (`sys.setprofile(None)` in an answer switched off the kit-call guard)."""
    import g2d_lite.exercise_checks as checks

    monkeypatch.setattr(checks, "_close", lambda *a, **k: True)
    with pytest.raises(KitReplacedError, match=r"exercise_checks\._close was replaced"):
        check_kit_intact()
    monkeypatch.undo()

    def answer(x):
        sys.setprofile(None)
        return smp.teacher_confidence({"a": x, "b": x}, torch.tensor([0]))

    with pytest.raises(KitReplacedError, match="answer changed sys.setprofile"):
        without_kit(answer)(torch.tensor([[1.0, 0.0]]))


def test_an_answer_running_the_kit_in_a_thread_is_seen():
    """Probe J25: an answer that ran the kit in a worker thread passed every check (only the
    calling thread was profiled)."""
    from concurrent.futures import ThreadPoolExecutor

    def answer(x):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(smp.teacher_confidence, {"a": x, "b": x}, torch.tensor([0])).result()

    with pytest.raises(KitCallError, match="calls the kit's own g2d_lite.smp.teacher_confidence"):
        without_kit(answer)(torch.tensor([[1.0, 0.0]]))


def test_a_result_less_precise_than_the_inputs_is_named():
    """Probe AC17: feature_kd computed in float16 was told to go through the formula, which was
    right; only its precision was not."""
    expected = torch.tensor(0.0565)
    with pytest.raises(AssertionError, match=r"your result is a torch.float16 tensor, the inputs"):
        expect_close(expected.half(), expected, "feature_kd")
    with pytest.raises(AssertionError, match=NO_MATCH):  # as precise, so the value is wrong
        expect_close(torch.tensor(0.5, dtype=torch.float64), expected, "feature_kd")


def test_a_dict_of_dicts_is_refused_for_the_instructor():
    """Probe AC32: two equal dicts of dicts were "expected {'a': {'x': 1}}, got {'a': {'x': 1}}"."""
    with pytest.raises(TypeError, match=r"dicts of them; 'a' holds a dict: call expect_close"):
        expect_close({"a": {"x": 1.0}}, {"a": {"x": 1.0}}, "nested")
    with pytest.raises(AssertionError, match=r"expected \{'a': 1\}, got \{'a': \{'x': 1\}\}"):
        expect_close({"a": {"x": 1.0}}, {"a": 1.0}, "an answer's dict of dicts is wrong, no error")


def test_the_hint_and_a_named_mistake_reach_wrong_keys_and_shapes():
    """Probes AC35, AC36: a hidden case's hint, or a mistake recognised by its keys (a global
    table read instead of the argument), was dropped when the keys or the shape were wrong."""
    with pytest.raises(AssertionError, match=r"got \[\]\.\nLikely cause: read the metric$"):
        expect_close({}, {"a": 1.0}, "branch_scores", hint="read the metric")
    with pytest.raises(AssertionError, match=r"got shape \(2,\)\.\nLikely cause: a mean$"):
        expect_close(torch.ones(2), torch.ones(3), "loss", hint="a mean")
    with pytest.raises(AssertionError, match=r"got \['x'\]\.\nLikely cause: you read STEPS$"):
        expect_close({"x": 1.0}, {"a": 1.0}, "share", {"you read STEPS": {"x": 1.0}}, "other")
    with pytest.raises(AssertionError, match=r"got \['x'\]$"):  # no hint: no generic advice
        expect_close({"x": 1.0}, {"a": 1.0}, "share")
