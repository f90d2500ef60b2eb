"""Run folders cannot be corrupted: locks, refusals that change nothing, kills at every write,
safe loading, provenance, atomic tables, umask, full and read-only disks."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

import g2d_lite.atomic as atomic
import g2d_lite.checkpoint as checkpoint
from g2d_lite.cli import main
from g2d_lite.data.base import DatasetSplits, TensorMultimodalDataset
from g2d_lite.data.cache import file_sha256
from g2d_lite.rundir import BEST, LAST, LOCK, METRICS, RunFolder, RunFolderError
from g2d_lite.store import load_run
from g2d_lite.train import NonFiniteLossError, train_student, train_teacher
from tests.bad_inputs import REPO, TINY, refused, tree_bytes
from tests.helpers import tiny_config, tiny_data


class Killed(BaseException):
    """Stands for SIGKILL inside the process: nothing catches it, no cleanup code runs it."""


@contextlib.contextmanager
def kill_after_write(k: int):
    """Let ``k`` atomic writes land, then kill the run (yields the write counter)."""
    real = atomic.atomic_write
    count = {"writes": 0, "paths": []}

    def write(path, fill):
        real(path, fill)
        count["writes"] += 1
        count["paths"].append(Path(path).name)
        if count["writes"] == k:
            raise Killed(path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(atomic, "atomic_write", write)
        patch.setattr(checkpoint, "atomic_write", write)
        yield count


def _same_run(a, b) -> None:
    pd.testing.assert_frame_equal(
        a.history.drop(columns="seconds"), b.history.drop(columns="seconds")
    )
    pd.testing.assert_frame_equal(a.steps, b.steps)
    assert a.metrics["selected_epoch"] == b.metrics["selected_epoch"]
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key


def test_a_kill_between_any_two_writes_leaves_a_consistent_resumable_folder(
    data, teachers, tmp_path
):
    # Validation selection on a student: best.pt changes on some epochs and not others.
    cfg = tiny_config(epochs=4, selection="validation")
    with kill_after_write(10**9) as count:
        reference = train_student(cfg, data, teachers, run_dir=tmp_path / "reference")
    total = count["writes"]
    assert total >= 12 and "best.pt" in count["paths"] and count["paths"][-1] == METRICS
    for k in range(1, total + 1):
        folder = tmp_path / f"kill-{k}"
        with pytest.raises(Killed), kill_after_write(k):
            train_student(cfg, data, teachers, run_dir=folder)
        run = RunFolder(folder)
        if run.state() == "finished":  # only after the very last write
            assert k == total
            _same_run(load_run(folder), reference)
        else:
            with pytest.raises(RunFolderError):
                load_run(folder)
        resumed = train_student(cfg, data, teachers, run_dir=folder)
        _same_run(resumed, reference)
        reloaded = load_run(folder)
        _same_run(reloaded, reference)
        best = torch.load(run.file(BEST), weights_only=True)
        assert (
            best["epoch"]
            == reloaded.metrics["selected_epoch"]
            == reference.metrics["selected_epoch"]
        )


def test_no_resume_over_a_finished_teacher_killed_early_is_not_a_finished_teacher(tmp_path, capsys):
    out = tmp_path / "teachers"
    assert main(["teacher", "--out", str(out), *TINY]) == 0
    with pytest.raises(Killed), kill_after_write(1):
        main(["teacher", "--modality", "audio", "--no-resume", "--out", str(out), *TINY])
    assert not (out / "teacher-audio" / METRICS).exists()
    capsys.readouterr()
    status = main(["student", "--teachers", str(out), "--out", str(tmp_path / "s"), *TINY])
    refused(capsys, status, 2, "teacher-audio", "no finished run")


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the first run ended early: {process.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


def test_a_second_writer_is_refused_and_a_killed_writer_s_lock_is_recovered(tmp_path, capsys):
    out = tmp_path / "joint"
    slow = [
        "epochs=40",
        "progress=False",
        "data_options={'n_train': 1024, 'n_validation': 32, 'n_test': 32}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(
        [sys.executable, "-m", "g2d_lite", "joint", "--out", str(out), *slow],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(out / LAST, first)
        before = (out / "config.json").read_bytes()
        status = main(["joint", "--out", str(out), *slow])
        refused(capsys, status, 2, str(out), f"pid {first.pid}", socket.gethostname())
        assert (out / "config.json").read_bytes() == before
        status = main(["joint", "--out", str(out), "--no-resume", *slow])  # nor this one
        refused(capsys, status, 2, f"pid {first.pid}")
        with pytest.raises(RunFolderError, match=f"being written by pid {first.pid}"):
            load_run(out)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (out / LOCK).exists()  # a real kill leaves its lock behind
    assert main(["joint", "--out", str(out), *slow]) == 0
    err = capsys.readouterr().err
    assert f"recovered the stale lock of {out}, left by pid {first.pid}" in err
    assert "which is no longer running" in err
    assert load_run(out).metrics["epochs"] == 40 and not (out / LOCK).exists()


def test_a_stale_lock_from_a_copied_folder_or_a_reused_pid_is_not_called_a_stopped_run(tmp_path):
    """Probe W30: resuming a copy of a run still training said its writer "is no longer
    running", and so did a lock naming a live, unrelated pid."""
    from g2d_lite.locks import locked

    original, copy = tmp_path / "run", tmp_path / "copy"
    original.mkdir()
    with locked(original):
        shutil.copytree(original, copy)
    with locked(copy) as notes:
        assert f"which was taken in {original} and came here with the folder" in notes[0]
    record = {"pid": 1, "host": socket.gethostname(), "started": "x", "command": "init"}
    (copy / LOCK).write_text(json.dumps(record))
    with locked(copy) as notes:
        assert "which no longer holds it (pid 1 now runs something else)" in notes[0]


def test_a_stale_lock_reached_through_a_link_is_a_stopped_run(tmp_path):
    """Probe K17: a killed run resumed through a symbolic link to its folder was said to have
    "came here with the folder (a copy or a move)"."""
    from g2d_lite.locks import locked

    run, link = tmp_path / "run", tmp_path / "link"
    run.mkdir()
    link.symlink_to(run)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record = {"pid": dead.pid, "host": socket.gethostname(), "started": "x", "command": "g2d"}
    (run / LOCK).write_text(json.dumps({**record, "folder": str(run)}))
    with locked(link) as notes:
        assert notes[0].endswith("which is no longer running"), notes[0]


def test_a_lock_held_by_a_program_that_records_no_holder(finished_joint, tmp_path, capsys):
    """Probe K19: evaluate of a folder whose .lock another program holds (garbage inside)
    named a made-up holder, "pid 0 on ? since ? (?)"."""
    import fcntl

    run = _copy_of(finished_joint, tmp_path)
    with open(run / LOCK, "w") as handle:
        handle.write("garbage")
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_EX)
        capsys.readouterr()
        status = main(["evaluate", "--run", str(run)])
        line = refused(capsys, status, 2, "another process (its .lock records no holder)")
        assert "pid 0" not in line


def test_a_lock_held_from_another_host_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    record = {"pid": 4242, "host": "other-node", "started": "2026-01-01 00:00:00", "command": "g2d"}
    (out / LOCK).write_text(json.dumps(record))
    status = main(["joint", "--out", str(out), *TINY])
    refused(capsys, status, 2, "other-node", "pid 4242", f"delete {out / LOCK}")


def test_a_refused_resume_leaves_the_folder_byte_identical(tmp_path, capsys):
    out = tmp_path / "joint"
    assert main(["joint", "--out", str(out), *TINY]) == 0
    before = tree_bytes(out)
    capsys.readouterr()
    status = main(["joint", "--out", str(out), *TINY, "lr=0.01"])
    refused(capsys, status, 2, "changed: lr", "--no-resume")
    status = main(["joint", "--out", str(out), *TINY, "seed=3"])  # other data too
    refused(capsys, status, 2, "changed: seed")
    status = main(["teacher", "--modality", "audio", "--out", str(out.parent), *TINY])
    assert status == 0  # a sibling folder: unaffected
    assert tree_bytes(out) == before
    assert main(["evaluate", "--run", str(out)]) == 0  # config.json still describes the run


def test_another_role_in_the_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["joint", "--out", str(out), *TINY]) == 0
    capsys.readouterr()
    status = main(["student", "--method", "ogm", "--out", str(out), *TINY])
    refused(capsys, status, 2, "changed: balance", "--no-resume")


def test_someone_else_s_folder_is_not_written(tmp_path, capsys):
    (tmp_path / "thesis.tex").write_text("precious")
    status = main(["joint", "--out", str(tmp_path), *TINY])
    refused(capsys, status, 2, str(tmp_path), "holds no g2d-lite run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]


def test_an_out_path_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("x")
    refused(capsys, main(["joint", "--out", str(target), *TINY]), 2, str(target), "a file")
    inside = target / "run"
    refused(capsys, main(["joint", "--out", str(inside), *TINY]), 2, str(target))


class _Payload:
    """A pickle that runs code when loaded with weights_only=False."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "the checkpoint ran code"))


class _ShellPayload(_Payload):
    """The same through a shell command (torch names it ``posix.system``)."""

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("payload", [_Payload, _ShellPayload])
def test_a_crafted_checkpoint_is_refused_and_runs_no_code(tmp_path, capsys, payload):
    teachers = tmp_path / "teachers"
    assert main(["teacher", "--out", str(teachers), *TINY]) == 0
    marker = tmp_path / "pwned"
    folder = RunFolder(teachers / "teacher-audio")
    state = torch.load(folder.file(BEST), weights_only=True)
    state["model"]["extra"] = payload(marker)
    torch.save(state, folder.file(BEST))
    metrics = json.loads(folder.file(METRICS).read_text())
    record = metrics["checkpoints"]["best"]  # hide the swap from the size and checksum checks
    record["bytes"], record["sha256"] = (
        folder.file(BEST).stat().st_size,
        file_sha256(folder.file(BEST)),
    )
    folder.file(METRICS).write_text(json.dumps(metrics))
    capsys.readouterr()
    status = main(["student", "--teachers", str(teachers), "--out", str(tmp_path / "s"), *TINY])
    refused(capsys, status, 2, "refusing to load", "best.pt", "Python objects")
    status = main(["evaluate", "--run", str(folder.path)])
    refused(capsys, status, 2, "refusing to load")
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_checkpoint_is_one_line(tmp_path, capsys, damage):
    out = tmp_path / "joint"
    assert main(["joint", "--out", str(out), *TINY, "epochs=2"]) == 0
    last = out / LAST
    content = {
        "truncated": last.read_bytes()[:500],
        "garbage": random.Random(damage).randbytes(2000),
        "empty": b"",
    }
    last.write_bytes(content[damage])
    (out / METRICS).unlink()  # unfinished: the next command resumes from last.pt
    capsys.readouterr()
    status = main(["joint", "--out", str(out), *TINY, "epochs=2"])
    refused(capsys, status, 2, str(last), "truncated or corrupt", "--no-resume")
    assert main(["joint", "--out", str(out), *TINY, "epochs=2", "--no-resume"]) == 0


def test_teachers_trained_on_other_data_are_refused_unless_asked(tmp_path, capsys):
    teachers = tmp_path / "teachers"
    assert main(["teacher", "--out", str(teachers), *TINY]) == 0
    student = ["student", "--teachers", str(teachers), *TINY]
    capsys.readouterr()
    status = main([*student, "--out", str(tmp_path / "seed"), "seed=1"])
    refused(
        capsys,
        status,
        2,
        "teacher saw other data",
        "option seed 0 vs 1",
        "--allow-teacher-data-mismatch",
    )
    bigger = "data_options={'n_train': 64, 'n_validation': 32, 'n_test': 32, 'audio_size': 20}"
    status = main([*student, "--out", str(tmp_path / "size"), bigger])
    refused(capsys, status, 2, "audio input shape [1, 16, 16] vs [1, 20, 20]")
    more = "data_options={'n_train': 96, 'n_validation': 32, 'n_test': 32}"
    status = main([*student, "--out", str(tmp_path / "more"), more])
    refused(capsys, status, 2, "option n_train 64 vs 96")
    assert not (tmp_path / "seed").exists() and not (tmp_path / "size").exists()
    status = main(
        [*student, "--out", str(tmp_path / "asked"), "seed=1", "--allow-teacher-data-mismatch"]
    )
    assert status == 0
    # probe 30 BA07: the run did not say that its teachers saw other data
    assert (
        "note: teachers trained on other data (audio, visual) are used" in capsys.readouterr().err
    )
    recorded = json.loads((tmp_path / "asked" / METRICS).read_text())["teacher_data_mismatch"]
    assert set(recorded) == {"audio", "visual"} and "option seed 0 vs 1" in recorded["audio"]


def test_a_student_folder_is_not_resumed_or_reported_under_other_teachers(tmp_path, capsys):
    """Probe N28: a finished student rerun with other teachers reported the old result."""
    first, other, out = tmp_path / "t0", tmp_path / "t1", tmp_path / "student"
    assert main(["teacher", "--out", str(first), *TINY]) == 0
    assert main(["teacher", "--out", str(other), *TINY, "lr=0.01"]) == 0
    assert main(["student", "--teachers", str(first), "--out", str(out), *TINY]) == 0
    recorded = json.loads((out / METRICS).read_text())["teachers"]
    assert set(recorded) == {"audio", "visual"}
    before = tree_bytes(out)
    capsys.readouterr()
    status = main(["student", "--teachers", str(other), "--out", str(out), *TINY])
    refused(capsys, status, 2, str(out), "distilled from other teachers", "--no-resume")
    assert tree_bytes(out) == before
    assert main(["student", "--teachers", str(first), "--out", str(out), *TINY]) == 0


def test_evaluate_refuses_data_that_changed_since_the_run(tmp_path, capsys, monkeypatch):
    out = tmp_path / "joint"
    assert main(["joint", "--out", str(out), *TINY]) == 0
    config = json.loads((out / "config.json").read_text())
    import g2d_lite.cli as cli

    real = cli.load_data

    def edited(cfg):  # the same settings, other samples: as a rebuilt cache would give
        splits = real(cfg)
        splits.test.inputs["audio"] += 1.0
        return splits

    monkeypatch.setattr(cli, "load_data", edited)
    capsys.readouterr()
    refused(capsys, main(["evaluate", "--run", str(out)]), 2, "the samples themselves")
    # probe Y23: the message called the data loaded now "this run" as well
    refused(capsys, main(["evaluate", "--run", str(out)]), 2, "than the data loaded now")
    assert main(["evaluate", "--run", str(out), "--allow-data-mismatch"]) == 0
    assert json.loads((out / "config.json").read_text()) == config


def test_a_finished_folder_changed_afterwards_is_not_loaded(tmp_path):
    out = tmp_path / "joint"
    assert main(["joint", "--out", str(out), *TINY, "epochs=3", "selection=test"]) == 0
    folder = RunFolder(out)
    state = torch.load(folder.file(LAST), weights_only=True)
    checkpoint.save_checkpoint(folder.file(BEST), {k: v for k, v in state.items() if k != "format"})
    with pytest.raises(RunFolderError, match="do not belong together"):
        load_run(out)


def test_zero_step_runs_and_empty_splits_are_refused(tmp_path, capsys):
    status = main(["joint", "--out", str(tmp_path / "a"), *TINY, "batch_size=100"])
    refused(capsys, status, 2, "64 samples", "batch_size 100", "drop_last=False")
    assert not (tmp_path / "a").exists()
    assert (
        main(["joint", "--out", str(tmp_path / "b"), *TINY, "batch_size=100", "drop_last=False"])
        == 0
    )
    data = tiny_data()
    empty = TensorMultimodalDataset(
        data.info,
        "validation",
        {m: x[:0] for m, x in data.test.inputs.items()},
        data.test.targets[:0],
    )
    with pytest.raises(ValueError, match="synthetic: the validation split"):
        DatasetSplits(data.info, data.train, empty, data.test)


def test_a_non_finite_loss_before_any_checkpoint_says_so(tmp_path):
    data = tiny_data()
    data.train.inputs["audio"][:3] = float("nan")
    with pytest.raises(NonFiniteLossError, match="No checkpoint was written yet"):
        train_teacher(tiny_config(), data, "audio", run_dir=tmp_path / "t")


def test_temporaries_left_by_killed_writers_are_removed(tmp_path):
    out = tmp_path / "joint"
    assert main(["joint", "--out", str(out), *TINY, "epochs=2"]) == 0
    (out / METRICS).unlink()
    stray = [out / ".history.csv.999.0a1b.tmp", out / "checkpoints" / ".last.pt.999.0a1b.tmp"]
    for path in stray:
        path.write_bytes(b"half a file")
    assert main(["joint", "--out", str(out), *TINY, "epochs=2"]) == 0
    assert not any(p.exists() for p in stray)


def test_tables_are_replaced_atomically(tmp_path, monkeypatch):
    out = tmp_path / "joint"
    assert main(["joint", "--out", str(out), *TINY, "epochs=2"]) == 0
    history = (out / "history.csv").read_bytes()

    def torn(path, fill):  # the write dies after half the bytes, before the rename
        raise Killed(path)

    (out / METRICS).unlink()
    monkeypatch.setattr(atomic, "atomic_write", torn)
    with pytest.raises(Killed):
        RunFolder(out).write_table("history.csv", [{"epoch": 0}])
    assert (out / "history.csv").read_bytes() == history


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_run_files_respect_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        assert main(["joint", "--out", str(tmp_path / "run"), *TINY]) == 0
    finally:
        os.umask(old)
    for name in ("config.json", "history.csv", "metrics.json", LAST, BEST):
        mode = (tmp_path / "run" / name).stat().st_mode & 0o777
        assert mode == 0o666 & ~umask, (name, oct(mode))


@contextlib.contextmanager
def _tmpfs(path: Path, options: str):
    """A small tmpfs at ``path`` (root in a container that allows mounts), else skip."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()[:80]})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_full_disk_stops_with_one_line_and_keeps_the_last_checkpoint(tmp_path, capsys):
    with _tmpfs(tmp_path / "small", "size=600k") as disk:
        out = disk / "run"
        wide = "data_options={'n_train': 64, 'n_validation': 32, 'n_test': 32}"
        status = main(
            ["joint", "--out", str(out), "epochs=40", "batch_size=32", "progress=False", wide]
        )
        line = refused(capsys, status, 2, "no space left on the device")
        assert str(disk) in line
        if (out / LAST).exists():  # what is there is whole: it loads
            checkpoint.load_checkpoint(out / LAST)
        assert not [p for p in out.rglob("*.tmp")]


def test_a_read_only_out_folder_is_one_line_and_its_teachers_still_load(tmp_path, capsys):
    with _tmpfs(tmp_path / "ro", "size=8m") as disk:
        out = disk / "joint"
        assert main(["joint", "--out", str(out), *TINY]) == 0
        assert main(["teacher", "--out", str(disk / "teachers"), *TINY]) == 0
        (out / METRICS).unlink()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        student = ["student", "--teachers", str(disk / "teachers"), "--out", str(tmp_path / "s")]
        assert main([*student, *TINY]) == 0  # a shared, read-only teacher folder is usable
        capsys.readouterr()
        status = main(["joint", "--out", str(out), *TINY])
        refused(capsys, status, 2, "permission denied", str(out))
        status = main(["joint", "--out", str(disk / "new"), *TINY])
        refused(capsys, status, 2, "permission denied", str(disk / "new"))


@pytest.fixture(scope="module")
def finished_joint(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "joint"
    assert main(["joint", "--out", str(out), *TINY]) == 0
    return out


def _copy_of(run: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


@pytest.mark.parametrize("name", [METRICS, "history.csv", "config.json", LOCK, LAST])
@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_run_file_replaced_by_a_folder_is_named_as_damage(
    finished_joint, tmp_path, capsys, name, command
):
    """Probe N15-N20: read as "unfinished", or named a temporary file, or said "give a file"."""
    run = _copy_of(finished_joint, tmp_path)
    (run / name).unlink(missing_ok=True)  # the lock file goes when its writer finishes
    (run / name).mkdir()
    capsys.readouterr()
    argv = (
        ["evaluate", "--run", str(run)]
        if command == "evaluate"
        else ["joint", "--out", str(run), *TINY]
    )
    refused(capsys, main(argv), 2, str(run / name), "is a folder where the run keeps", "move")


def test_a_damaged_config_json_says_how_to_recover(finished_joint, tmp_path, capsys):
    """Probe N18/N22: `[]` or a key the user never typed, with no fix and no file named."""
    run = _copy_of(finished_joint, tmp_path)
    config = run / "config.json"
    original = json.loads(config.read_text())
    config.write_text("[]")
    refused(capsys, main(["evaluate", "--run", str(run)]), 2, str(config), "--no-resume")
    config.write_text(json.dumps({**original, "foo": 1}))
    refused(capsys, main(["evaluate", "--run", str(run)]), 2, str(config), "'foo'", "restore")


def test_a_student_run_given_as_teachers_names_the_teacher_command(
    finished_joint, tmp_path, capsys
):
    """Probe N25."""
    argv = ["student", "--teachers", str(finished_joint), "--out", str(tmp_path / "s"), *TINY]
    refused(capsys, main(argv), 2, "not a teacher", "python -m g2d_lite teacher")


def test_a_changed_method_is_named_as_a_method(tmp_path, capsys):
    """Probe N27: the refusal named only the internal key smp_suppression."""
    teachers, out = tmp_path / "t", tmp_path / "s"
    assert main(["teacher", "--out", str(teachers), *TINY]) == 0
    student = ["student", "--teachers", str(teachers), "--out", str(out), *TINY]
    assert main(student) == 0
    capsys.readouterr()
    status = main([*student, "--method", "g2d_partial"])
    refused(capsys, status, 2, "smp_suppression", "method g2d, this is g2d_partial")


def test_a_deleted_working_folder_is_one_line(tmp_path):
    """Probe N31: torch's import died with an unrelated oneMKL error."""
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f"import os, runpy, sys; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); "
    script += "sys.argv = ['-m', 'joint']; runpy.run_module('g2d_lite', run_name='__main__')"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "current folder no longer exists" in done.stderr


def test_no_resume_over_a_read_only_checkpoints_folder_deletes_nothing(
    finished_joint, tmp_path, capsys
):
    """Probe N33: metrics.json of the finished run was deleted before the refusal."""
    run = _copy_of(finished_joint, tmp_path)
    with _tmpfs(run / "checkpoints", "size=8m"):
        for name in (LAST, BEST):
            (run / name).write_bytes((finished_joint / name).read_bytes())
        subprocess.run(["mount", "-o", "remount,ro", str(run / "checkpoints")], check=True)
        before = tree_bytes(run)
        capsys.readouterr()
        status = main(["joint", "--out", str(run), "--no-resume", *TINY, "seed=1"])
        refused(capsys, status, 2, "permission denied", str(run / "checkpoints"))
        assert tree_bytes(run) == before


def test_a_hand_edited_score_in_metrics_json_is_not_reported(finished_joint, tmp_path, capsys):
    """Probe P42b: load_run (what notebooks read) returned an edited test accuracy."""
    run = _copy_of(finished_joint, tmp_path)
    metrics = json.loads((run / METRICS).read_text())
    metrics["test"]["acc"] = 99.0
    (run / METRICS).write_text(json.dumps(metrics))
    with pytest.raises(RunFolderError, match="test scores are not the run's own"):
        load_run(run)
    (run / METRICS).unlink()  # the fix the message names: rerun the same command
    assert main(["joint", "--out", str(run), *TINY]) == 0
    original = json.loads((finished_joint / METRICS).read_text())["test"]
    assert load_run(run).metrics["test"] == original


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("role", "teacher"),
        ("modality", "audio"),
        ("seed", 7),
        ("epochs", 30),
        ("dataset", "cremad"),
    ],
)
def test_what_metrics_json_says_the_run_is_must_be_what_its_checkpoint_holds(
    finished_joint, tmp_path, key, value
):
    """Probe K02: a joint run whose metrics.json was edited to role "teacher" got as far as the
    teacher bank, refused there as "the teacher for None" without naming the folder."""
    run = _copy_of(finished_joint, tmp_path)
    metrics = json.loads((run / METRICS).read_text())
    (run / METRICS).write_text(json.dumps({**metrics, key: value}))
    with pytest.raises(RunFolderError, match=f"metrics.json says {key} {value!r}, but the run's"):
        load_run(run)


def test_teachers_whose_metrics_claim_each_others_modality_are_named(tmp_path, capsys):
    """Probe K01: the modality fields of two teachers' metrics.json swapped gave "teacher for
    'visual' was trained on modality 'audio'", naming neither folder nor file."""
    teachers = tmp_path / "teachers"
    assert main(["teacher", "--out", str(teachers), *TINY]) == 0
    for folder, claim in (("teacher-audio", "visual"), ("teacher-visual", "audio")):
        path = teachers / folder / METRICS
        path.write_text(json.dumps({**json.loads(path.read_text()), "modality": claim}))
    capsys.readouterr()
    status = main(["student", "--teachers", str(teachers), "--out", str(tmp_path / "s"), *TINY])
    refused(capsys, status, 2, str(teachers / "teacher-audio" / METRICS), "says modality 'visual'")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        ("fusion", "config.json differs from the run's checkpoint in fusion"),
        ("column", "history.csv is not the history table its checkpoint records"),
        ("value", "history.csv is not the history table its checkpoint records"),
        ("steps", "steps.csv is missing from this finished run"),
        ("empty history", "history.csv is empty: it was truncated"),
        ("garbled steps", "steps.csv is not a readable CSV table"),
        ("added steps", "steps.csv is not the steps table its checkpoint records"),
    ],
)
def test_files_derived_from_the_checkpoints_are_checked_when_read(
    finished_joint, tmp_path, capsys, damage, needle
):
    """Probe X08 (fusion edited in config.json: load_run reported concat for a LateFusion
    model), X33 (history.csv without its test/acc column: the fused curve vanished), X36 (no
    steps.csv: a raw FileNotFoundError); own probe: an empty history.csv ("No columns to parse
    from file"), a steps.csv that is not UTF-8, steps added by hand (read as the run's)."""
    run = _copy_of(finished_joint, tmp_path)
    history = pd.read_csv(run / "history.csv")
    if damage == "fusion":
        cfg = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**cfg, "fusion": "concat"}))
    elif damage == "column":
        history.drop(columns=["test/acc"]).to_csv(run / "history.csv", index=False)
    elif damage == "value":
        history.assign(**{"val/acc": history["val/acc"] + 1.0}).to_csv(
            run / "history.csv", index=False
        )
    elif damage == "empty history":
        (run / "history.csv").write_text("")
    elif damage == "garbled steps":
        (run / "steps.csv").write_bytes(b"\xff\xfe\x00garbage")
    elif damage == "added steps":
        (run / "steps.csv").write_text("step,epoch,kappa/audio\n0,0,1.0\n")
    else:
        (run / "steps.csv").unlink()
    with pytest.raises(RunFolderError, match=needle):
        load_run(run)
    refused(capsys, main(["evaluate", "--run", str(run)]), 2, needle)
    if damage != "fusion":  # the fix the message names: rerun the same command
        (run / METRICS).unlink()
        assert main(["joint", "--out", str(run), *TINY]) == 0
        assert load_run(run).history.equals(load_run(finished_joint).history)


def test_a_hand_edited_protocol_score_is_not_reported(finished_joint, tmp_path, capsys):
    """Probe Y12: an edited protocols.paper.test.acc was read back as the run's."""
    run = _copy_of(finished_joint, tmp_path)
    metrics = json.loads((run / METRICS).read_text())
    metrics["protocols"]["paper"]["test"]["acc"] = 99.0
    (run / METRICS).write_text(json.dumps(metrics))
    needle = "the paper protocol's test scores are not the run's own"
    with pytest.raises(RunFolderError, match=needle):
        load_run(run)
    refused(capsys, main(["evaluate", "--run", str(run)]), 2, needle)


@pytest.mark.parametrize("damage", ["missing best", "foreign best", "truncated metrics"])
def test_a_repairable_finished_run_says_so_and_the_same_command_repairs_it(
    finished_joint, tmp_path, capsys, damage
):
    """Probe Q20 (a truncated metrics.json was named with no fix), Q21 (a missing best.pt was
    "another size or SHA-256" and the fix given, --no-resume, threw away a run the same command
    repairs); own probe: rerunning over a best.pt taken from another run at the same epoch kept
    it and recorded its checksum in metrics.json as the run's."""
    run = _copy_of(finished_joint, tmp_path)
    best = run / BEST
    if damage == "missing best":
        best.unlink()
        needle = "best.pt is missing from this finished run; rerun the same training command"
    elif damage == "foreign best":
        other = tmp_path / "other"
        assert main(["joint", "--out", str(other), *TINY, "seed=3"]) == 0
        best.write_bytes((other / BEST).read_bytes())
        needle = "rerun the same training command, which rewrites best.pt from last.pt"
    else:
        (run / METRICS).write_text((finished_joint / METRICS).read_text()[:100])
        needle = "is not valid JSON"
    capsys.readouterr()
    line = refused(capsys, main(["evaluate", "--run", str(run)]), 2, needle)
    assert "--no-resume" not in line
    assert main(["joint", "--out", str(run), *TINY]) == 0
    assert tree_bytes(run / "checkpoints") == tree_bytes(finished_joint / "checkpoints")
    assert (run / METRICS).read_bytes() == (finished_joint / METRICS).read_bytes()


def test_load_run_of_the_teachers_folder_names_the_runs_inside(tmp_path):
    """Probe R88: load_run('teachers') said "holds no g2d-lite run ... move this one out of the
    way" about the folder `teacher --out teachers` wrote."""
    out = tmp_path / "teachers"
    assert main(["teacher", "--out", str(out), *TINY]) == 0
    with pytest.raises(RunFolderError, match=r"is a folder of teacher runs \(teacher-audio, "):
        load_run(out)


def test_a_run_that_lost_its_config_json_is_named_as_such(tmp_path, capsys):
    """Probe T15: the folder was called someone else's, and the fix was what had been done."""
    out = tmp_path / "run"
    assert main(["joint", "--out", str(out), *TINY]) == 0
    (out / "config.json").unlink()
    before = tree_bytes(out)
    for argv in (
        ["evaluate", "--run", str(out)],
        ["joint", "--out", str(out), *TINY],
        ["joint", "--out", str(out), "--no-resume", *TINY],
    ):
        refused(capsys, main(argv), 2, "run whose config.json is missing", f"delete {out}")
    with pytest.raises(RunFolderError, match="config.json is missing"):
        load_run(out)
    assert tree_bytes(out) == before


@pytest.mark.parametrize("lost", ["checkpoints", "checkpoints/last.pt"])
def test_a_rerun_of_a_run_that_lost_last_pt_names_the_fix(tmp_path, capsys, lost):
    """Probe V22: the rerun said only "no checkpoint at .../last.pt"."""
    out = tmp_path / "run"
    assert main(["joint", "--out", str(out), *TINY]) == 0
    target = out / lost
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    refused(
        capsys, main(["joint", "--out", str(out), *TINY]), 2, "last.pt is missing", "--no-resume"
    )
    assert main(["joint", "--out", str(out), "--no-resume", *TINY]) == 0


def test_a_stopped_writer_is_named_as_stopped_not_waited_for(tmp_path, capsys):
    """Probe 26 AA10: a run suspended with Ctrl-Z, then the command typed again: "wait for it to
    finish" does not help, as a stopped process never finishes; the fix is `fg` or a kill."""
    from g2d_lite.locks import FolderLockedError, holder, locked
    from g2d_lite.store import wait_for_writer

    folder = tmp_path / "run"
    folder.mkdir()
    script = (
        "import sys, time; from pathlib import Path; from g2d_lite.locks import locked\n"
        "with locked(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(folder)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline() == "held\n"
        assert holder(folder).advice() == "wait for it to finish"
        child.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while "stopped" not in holder(folder).advice() and time.monotonic() < deadline:
            time.sleep(0.05)
        with (
            pytest.raises(
                FolderLockedError, match=rf"is stopped \(Ctrl-Z\?\).*kill -CONT {child.pid}"
            ),
            locked(folder),
        ):
            pass
        waiter = threading.Thread(target=wait_for_writer, args=(folder,))
        waiter.start()
        time.sleep(0.5)
        child.send_signal(signal.SIGKILL)
        waiter.join(timeout=30)
        assert not waiter.is_alive()
        assert f"kill -CONT {child.pid}" in capsys.readouterr().out
    finally:
        child.kill()
        child.wait()


def test_an_earlier_last_pt_of_the_same_run_is_repaired_by_the_same_command(tmp_path, capsys):
    """Probe 26 AA19: a finished run's last.pt rolled back to an earlier one of the same run (a
    backup restored) was told to retrain with --no-resume, throwing its epochs away; rerunning
    the same command resumes from it and ends where the run ended."""
    out, backup = tmp_path / "run", tmp_path / "last-epoch-0.pt"

    def keep_a_backup(trainer, epoch):
        if epoch == 0:
            shutil.copyfile(out / LAST, backup)

    cfg = tiny_config().replace(epochs=3)
    train_student(
        cfg.replace(loss="ce", balance="none"), tiny_data(), run_dir=out, callbacks=[keep_a_backup]
    )
    finished = json.loads((out / METRICS).read_text())
    shutil.copyfile(backup, out / LAST)
    with pytest.raises(RunFolderError, match="last.pt holds epoch 0 of this run") as refused_run:
        load_run(out)
    assert "--no-resume" not in str(refused_run.value)
    train_student(cfg.replace(loss="ce", balance="none"), tiny_data(), run_dir=out)
    resumed = json.loads((out / METRICS).read_text())
    assert resumed["checkpoints"]["best"] == finished["checkpoints"]["best"]
    timeless = ("checkpoints", "train_seconds")  # last.pt records the resumed run's clock
    assert {k: v for k, v in resumed.items() if k not in timeless} == {
        k: v for k, v in finished.items() if k not in timeless
    }
    load_run(out)
