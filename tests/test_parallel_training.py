"""Runs trained side by side give the same bits as one at a time, and fail as clearly."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import g2d_lite.locks as locks
import g2d_lite.parallel as parallel
import g2d_lite.train as train
from g2d_lite.config import METHODS
from g2d_lite.errors import KitError
from g2d_lite.parallel import job_slots
from g2d_lite.rundir import RunFolder
from g2d_lite.store import load_or_train_students, load_or_train_teachers
from g2d_lite.train import NonFiniteLossError
from tests.bad_inputs import REPO
from tests.helpers import states_equal, tiny_config, tiny_data, without_timing

pytestmark = pytest.mark.skipif(
    not parallel._forkable(), reason="runs train side by side only where workers can be forked"
)
METHOD_NAMES = ("joint", "g2d", "g2d_no_smp")


def _train_all(artifacts, jobs: str, monkeypatch):
    monkeypatch.setenv(parallel.ENV, jobs)
    cfg, data = tiny_config(), tiny_data()
    teachers = load_or_train_teachers(cfg, data, data.info.modality_names, artifacts)
    cfgs = [cfg.replace(**METHODS[m]) for m in METHOD_NAMES]
    return teachers, load_or_train_students(cfgs, data, teachers, artifacts)


def test_side_by_side_runs_are_bit_identical_to_one_at_a_time(tmp_path, monkeypatch):
    alone = _train_all(tmp_path / "one", "1", monkeypatch)
    together = _train_all(tmp_path / "two", "2", monkeypatch)
    runs_alone = [*alone[0].values(), *alone[1]]
    runs_together = [*together[0].values(), *together[1]]
    for a, b in zip(runs_alone, runs_together, strict=True):
        assert a.run_dir.name == b.run_dir.name  # the same cache keys
        assert states_equal(a.model.state_dict(), b.model.state_dict()), a.run_dir.name
        assert without_timing(a.history).equals(without_timing(b.history))
        assert a.metrics["test"] == b.metrics["test"]
    assert not mp.active_children()


def test_a_failing_run_is_raised_as_itself_and_the_others_finish(tmp_path, monkeypatch):
    monkeypatch.setenv(parallel.ENV, "2")
    cfg, data = tiny_config(), tiny_data()
    teachers = load_or_train_teachers(cfg, data, data.info.modality_names, tmp_path)
    good, bad = cfg.replace(**METHODS["joint"]), cfg.replace(**METHODS["g2d"], lr=1e30)
    with pytest.raises(NonFiniteLossError, match="NaN|non-finite|infinite"):
        load_or_train_students([good, bad], data, teachers, tmp_path)
    finished = [p for p in tmp_path.glob("student-ce-*") if RunFolder(p).state() == "finished"]
    assert len(finished) == 1


def test_a_worker_that_dies_is_named_with_the_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv(parallel.ENV, "2")
    monkeypatch.setattr(train, "train_teacher", lambda *a, **k: os._exit(9))
    cfg, data = tiny_config(), tiny_data()
    with pytest.raises(KitError, match=r"stopped \(exit 9\).*G2D_LITE_JOBS=1"):
        load_or_train_teachers(cfg, data, data.info.modality_names, tmp_path)
    assert not mp.active_children()


def test_an_interrupt_stops_every_worker_and_the_runs_resume(tmp_path, monkeypatch):
    monkeypatch.setenv(parallel.ENV, "2")
    cfg, data = tiny_config(), tiny_data()

    def interrupted(connections, timeout=None):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(parallel, "wait", interrupted)
        with pytest.raises(KeyboardInterrupt):
            load_or_train_teachers(cfg, data, data.info.modality_names, tmp_path)
    assert not mp.active_children()
    teachers = load_or_train_teachers(cfg, data, data.info.modality_names, tmp_path)
    assert set(teachers) == set(data.info.modality_names)


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_jobs_setting_is_named(monkeypatch, value):
    monkeypatch.setenv(parallel.ENV, value)
    with pytest.raises(KitError, match=f"G2D_LITE_JOBS must be a whole number.*{value!r}"):
        job_slots(torch.device("cpu"), tiny_data())


def test_runs_train_one_at_a_time_where_that_is_what_keeps_the_numbers(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "4")
    data = tiny_data()
    assert job_slots(torch.device("cpu"), data) == 4
    assert job_slots(torch.device("cuda"), data) == 1
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert job_slots(torch.device("cpu"), data) == 1
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv(parallel.ENV)
    monkeypatch.setattr(torch, "get_num_threads", lambda: parallel.usable_cores())
    assert job_slots(torch.device("cpu"), data) == 1  # every core is already in use


ORPHAN_PARENT = """
import os, sys
sys.path.insert(0, {repo!r})
os.environ["G2D_LITE_JOBS"] = "2"
from g2d_lite.store import load_or_train_teachers
from tests.helpers import tiny_config, tiny_data
data = tiny_data()
load_or_train_teachers(tiny_config(epochs=500), data, data.info.modality_names, {out!r})
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for its new parent to reap it does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_workers_stop_when_their_parent_is_killed_outright(tmp_path):
    """Probe 21 carry-over: a SIGKILL of the runner (or the kernel) left its forked workers
    training, and holding their run folders' locks, with nobody to read their results."""
    script = ORPHAN_PARENT.format(repo=str(REPO), out=str(tmp_path))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "G2D_LITE_PROGRESS": "0"}
    parent = subprocess.Popen([sys.executable, "-c", script], env=env)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and parent.poll() is None:
            workers = {h.pid for d in tmp_path.glob("teacher-*") if (h := locks.holder(d))}
            time.sleep(0.2)
        assert len(workers) == 2, "the two teacher workers never took their folders' locks"
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(map(_alive, workers)), f"workers {workers} outlived their parent"
    finally:
        parent.kill()
        parent.wait()
        for pid in filter(_alive, workers):  # a failed check leaves nothing running
            os.kill(pid, signal.SIGKILL)
