"""Notebooks that share a model cache run at once: a run one of them trains, the others wait
for and read, and the runner's side-by-side schedule keeps each kernel's environment."""

from __future__ import annotations

import os
import shutil
import threading
import time

import nbformat
import pytest

import g2d_lite.store as store
from g2d_lite import parallel, slots
from g2d_lite import run as runner
from g2d_lite.errors import KitError
from g2d_lite.locks import locked
from g2d_lite.rundir import RunLockedError
from tests.helpers import states_equal, tiny_config, tiny_data, write_notebook


def _hold_then_finish(run_dir, finished_copy, held: threading.Event, seconds: float) -> None:
    """Stand in for another process training ``run_dir``: hold its lock, then leave the finished
    run there and let go."""
    run_dir.mkdir(parents=True)
    with locked(run_dir):
        held.set()
        time.sleep(seconds)
        shutil.copytree(finished_copy, run_dir, dirs_exist_ok=True)


def test_a_run_being_trained_elsewhere_is_waited_for_and_read(tmp_path, monkeypatch, capsys):
    cfg, data = tiny_config(epochs=1), tiny_data()
    first = store.load_or_train_teacher(cfg, data, "audio", tmp_path / "a")
    run_dir = tmp_path / "b" / first.run_dir.name
    monkeypatch.setattr(store, "WAIT_POLL_S", 0.05)
    monkeypatch.setattr(store, "train_teacher", lambda *a, **k: pytest.fail("trained twice"))
    held = threading.Event()
    other = threading.Thread(target=_hold_then_finish, args=(run_dir, first.run_dir, held, 0.5))
    other.start()
    held.wait(5)
    second = store.load_or_train_teachers(cfg, data, ["audio"], tmp_path / "b")["audio"]
    other.join()
    assert "waiting for pid" in capsys.readouterr().out
    assert second.run_dir == run_dir
    assert states_equal(first.model.state_dict(), second.model.state_dict())


def test_a_writer_that_stops_unfinished_leaves_the_run_to_the_waiter(tmp_path, monkeypatch):
    cfg, data = tiny_config(epochs=1), tiny_data()
    run_dir = store._teacher_dir(cfg, data, "audio", tmp_path)
    run_dir.mkdir(parents=True)
    monkeypatch.setattr(store, "WAIT_POLL_S", 0.05)
    held = threading.Event()

    def stop_early() -> None:
        with locked(run_dir):
            held.set()
            time.sleep(0.3)

    other = threading.Thread(target=stop_early)
    other.start()
    held.wait(5)
    result = store.load_or_train_teacher(cfg, data, "audio", tmp_path)
    other.join()
    assert result.metrics["modality"] == "audio" and (run_dir / "metrics.json").is_file()


def test_a_lock_this_host_cannot_check_is_not_waited_for_forever(tmp_path, monkeypatch):
    cfg, data = tiny_config(epochs=1), tiny_data()
    run_dir = store._teacher_dir(cfg, data, "audio", tmp_path)
    run_dir.mkdir(parents=True)
    refusal = RunLockedError(f"{run_dir} is locked by pid 1 on elsewhere; delete its .lock")
    monkeypatch.setattr(store, "train_teacher", lambda *a, **k: (_ for _ in ()).throw(refusal))
    with pytest.raises(RunLockedError, match="elsewhere"):
        store.load_or_train_teacher(cfg, data, "audio", tmp_path)


def _timing_notebook(path) -> None:
    body = (
        "import os, pathlib, time\n"
        "started = time.time()\n"
        "time.sleep(3)\n"
        "text = f\"{started} {time.time()} {os.environ.get('G2D_LITE_PROGRESS')} {os.getcwd()}\"\n"
        'pathlib.Path(OUTPUT_DIR, "times.txt").write_text(text)'
    )
    write_notebook(path, 'OUTPUT_DIR = "."', body)


def test_notebooks_run_side_by_side_each_with_the_kernel_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("G2D_LITE_PROGRESS", raising=False)
    notebooks = [tmp_path / "01_a.ipynb", tmp_path / "02_b.ipynb"]
    for nb in notebooks:
        _timing_notebook(nb)
    here = os.getcwd()
    seconds = runner.run_notebooks(notebooks, {}, tmp_path / "out", together=True)
    assert os.getcwd() == here, "running notebooks side by side moved this process's folder"
    spans = []
    for folder in seconds:
        start, end, progress, cwd = (folder / "times.txt").read_text().split()
        spans.append((float(start), float(end)))
        assert progress == runner.RUN_ENV["G2D_LITE_PROGRESS"]  # the kernel's, not this process's
        assert cwd == str(runner.NOTEBOOK_DIR)  # relative paths in a notebook start there
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1, f"the notebooks ran one after the other: {spans}"
    assert "G2D_LITE_PROGRESS" not in os.environ


def test_a_failing_notebook_is_raised_after_the_others_finish(tmp_path):
    good, bad = tmp_path / "01_good.ipynb", tmp_path / "02_bad.ipynb"
    _timing_notebook(good)
    nb = nbformat.read(good, as_version=4)
    nb.cells[1].source = "raise ValueError('this cell fails')"
    nbformat.write(nb, bad)
    with pytest.raises(runner.NotebookFailedError, match="02_bad.ipynb failed"):
        runner.run_notebooks([good, bad], {}, tmp_path / "out", together=True)
    assert (tmp_path / "out" / "01" / "times.txt").is_file()


def test_a_second_runner_into_the_same_folder_is_refused_naming_the_first(tmp_path):
    """Probe T85: a second `run 01 --out X` replaced the running first one's results, and
    both exited 0."""
    notebook = tmp_path / "01_a.ipynb"
    _timing_notebook(notebook)
    out = tmp_path / "out"
    (out / "01").mkdir(parents=True)
    with locked(out / "01"), pytest.raises(KitError, match=f"being written by pid {os.getpid()}"):
        runner.run_notebooks([notebook], {}, out, together=False)
    assert sorted(p.name for p in (out / "01").iterdir()) == []
    runner.run_notebooks([notebook], {}, out, together=False)  # once it is free, it runs
    assert (out / "01" / "times.txt").is_file() and not (out / "01" / ".lock").exists()


def test_the_demo_runs_side_by_side_only_on_a_cpu_with_cores_to_spare(monkeypatch):
    cores = [2]
    monkeypatch.setattr(parallel, "usable_cores", lambda: cores[0])
    monkeypatch.setattr(runner, "usable_cores", lambda: cores[0])
    monkeypatch.delenv("G2D_LITE_JOBS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert runner.side_by_side({"DEVICE": "cpu"}) and runner.training_slots() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # one run fills the machine
    assert not runner.side_by_side({"DEVICE": "cpu"})
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("G2D_LITE_JOBS", "1")
    assert not runner.side_by_side({"DEVICE": "cpu"})
    monkeypatch.delenv("G2D_LITE_JOBS")
    cores[0] = 1
    assert not runner.side_by_side({})


def test_a_slot_pool_lets_no_more_runs_train_than_it_has_slots(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(slots, "POLL_S", 0.02)
    monkeypatch.setenv(slots.ENV, slots.pool_spec(tmp_path, 1))
    held, released = threading.Event(), []

    def hold() -> None:
        with slots.training_slot():
            held.set()
            time.sleep(0.4)
            released.append(time.perf_counter())

    other = threading.Thread(target=hold)
    other.start()
    held.wait(5)
    with slots.training_slot():
        got = time.perf_counter()
    other.join()
    assert got >= released[0], "a second run trained while the only slot was held"
    # probe U64: the wait said nothing, so the command looked hung
    assert f"waiting for a free training slot: all 1 of {tmp_path} are held (by pid" in (
        capsys.readouterr().err
    )
    monkeypatch.setenv(slots.ENV, f"{tmp_path / 'missing'}:2")
    with pytest.raises(KitError, match="G2D_LITE_SLOTS must be"), slots.training_slot():
        pass
    monkeypatch.delenv(slots.ENV)
    with slots.training_slot():  # no pool: no wait
        pass


def test_kernel_sockets_live_in_the_temporary_folder_one_set_per_kernel():
    """Probe S26: a killed run left kernel-ipc-N sockets among the kit's notebooks, and kernels
    started at once shared them."""
    import tempfile

    first, second = runner.LocalKernelManager(), runner.LocalKernelManager()
    assert first.transport == "ipc" and first.ip.startswith(tempfile.gettempdir())
    assert first.ip != second.ip


def test_a_malformed_slot_pool_is_refused_before_the_run_folder_is_made(tmp_path, monkeypatch):
    """Probe U02: the refusal came after the run folder was started, leaving its config.json."""
    from g2d_lite.train import train_teacher

    monkeypatch.setenv(slots.ENV, "nofolder")
    with pytest.raises(KitError, match="unset it elsewhere"):
        train_teacher(tiny_config(epochs=1), tiny_data(), "audio", run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
