"""The sync-free step: the same decisions and weights as the eager step, and no host sync."""

from __future__ import annotations

import contextlib

import pandas as pd
import pytest
import torch

from g2d_lite.config import resolve
from g2d_lite.train import NonFiniteLossError, Trainer, train_student, train_teacher
from tests.helpers import tiny_config, tiny_data


def _config(method: str, **overrides):
    values = {"epochs": 4, "batch_size": 32, "progress": False, "lr_step": 3}
    values["balance_end_epoch"] = 1  # inside and outside the window
    return resolve("smoke", method=method, **{**values, **overrides})


@pytest.mark.parametrize("method", ["g2d", "joint+smp", "ogm", "ogm_ge", "g2d_partial", "umt+smp"])
def test_sync_free_step_matches_the_eager_step_bit_for_bit(data, teachers, method):
    eager = train_student(_config(method), data, teachers)
    free = train_student(_config(method, step_mode="sync_free"), data, teachers)
    pd.testing.assert_frame_equal(
        free.history.drop(columns="seconds"), eager.history.drop(columns="seconds")
    )
    kappa = [c for c in eager.steps.columns if c.startswith("kappa/")]
    # The same decisions (who is damped, who leads); κ's values agree to the last bits of a
    # float64 (torch's and Python's tanh may differ by one ulp, far below float32 gradients).
    assert kappa and ((free.steps[kappa] < 1) == (eager.steps[kappa] < 1)).all().all()
    pd.testing.assert_frame_equal(free.steps, eager.steps, check_exact=False, rtol=0, atol=1e-15)
    state, reference = free.model.state_dict(), eager.model.state_dict()
    assert all(torch.equal(state[k], reference[k]) for k in reference)


def test_the_staged_schedule_is_sync_free_too(data, teachers):
    overrides = {"smp_schedule": "staged", "smp_stage_epochs": (1, 1)}
    eager = train_student(_config("g2d", **overrides), data, teachers)
    free = train_student(_config("g2d", step_mode="sync_free", **overrides), data, teachers)
    pd.testing.assert_frame_equal(free.steps, eager.steps)


class HostSync(AssertionError):
    """A tensor conversion that would make the host wait for the GPU."""


@contextlib.contextmanager
def no_host_sync():
    """Make every conversion that would force a GPU-to-host sync raise, also on the CPU."""

    def refuse(name):
        def raiser(*args, **kwargs):
            raise HostSync(f"{name} forces a host sync")

        return raiser

    names = ["item", "tolist", "__bool__", "__float__", "__int__", "__index__", "nonzero"]
    with pytest.MonkeyPatch.context() as patch:
        for name in names:
            patch.setattr(torch.Tensor, name, refuse(f"Tensor.{name}"))
        for name in ("nonzero", "masked_select", "unique", "argwhere"):
            patch.setattr(torch, name, refuse(f"torch.{name}"))
        yield


def _one_step(trainer: Trainer, epoch: int = 0) -> None:
    from g2d_lite.batches import batch_order, iterate_batches
    from g2d_lite.train import _EpochStats

    trainer._prepare_teachers()
    order = batch_order(len(trainer.data.train), trainer.cfg.batch_size, True, 0, epoch, True)
    batch = next(iter(iterate_batches(trainer.data.train, order)))
    with no_host_sync():
        trainer._train_batch(epoch, batch, _EpochStats())


@pytest.mark.parametrize("method", ["g2d", "joint+smp", "ogm_ge", "g2d_partial"])
def test_the_sync_free_step_forces_no_host_sync(data, teachers, method):
    trainer = Trainer(_config(method, step_mode="sync_free"), data, teachers=teachers)
    _one_step(trainer)
    assert trainer.steps and isinstance(next(iter(trainer.steps[-1].values())), int)


def test_the_check_would_catch_the_eager_step(data, teachers):
    """The test above can fail: the eager step reads the loss and the confidences back."""
    trainer = Trainer(_config("g2d"), data, teachers=teachers)
    with pytest.raises(HostSync):
        _one_step(trainer)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_no_sync_under_cuda_sync_debug_mode(data, teachers):
    trainer = Trainer(_config("g2d", step_mode="sync_free", device="cuda"), data, teachers=teachers)
    from g2d_lite.batches import batch_order, iterate_batches
    from g2d_lite.train import _EpochStats

    trainer._prepare_teachers()
    order = batch_order(len(data.train), 32, True, 0, 0, True)
    batches = list(iterate_batches(data.train, order))
    trainer._train_batch(0, batches[0], _EpochStats())  # warm up (allocations, lazy state)
    torch.cuda.set_sync_debug_mode("error")
    try:
        trainer._train_batch(0, batches[1], _EpochStats())
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_a_non_finite_loss_is_found_when_the_epoch_ends(tmp_path):
    data = tiny_data()

    def poison(trainer: Trainer, epoch: int) -> None:
        data.train.inputs["audio"][5] = float("nan")

    cfg = tiny_config(step_mode="sync_free")
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step \d+ .*once per epoch.*epoch 0"):
        train_teacher(cfg, data, "audio", run_dir=tmp_path, callbacks=[poison])
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"smp_mode": "skip"}, "smp_mode='zero'"),
        ({"balance": "ogm_ge", "loss": "ce", "ogm_noise": "modulated"}, "ogm_noise='both'"),
        ({"balance": "agm", "loss": "ce"}, "own update rule"),
    ],
)
def test_settings_that_need_the_host_say_so(data, teachers, overrides, needle):
    cfg = tiny_config(step_mode="sync_free", **overrides)
    with pytest.raises(ValueError, match=needle):
        Trainer(cfg, data, teachers=teachers)
