"""Train independent runs side by side on idle CPU cores, without changing a single number.

A notebook cell often asks for runs that do not depend on each other: one teacher per modality,
or a list of students distilled from the same teachers. On a CPU where a run uses fewer threads
than the machine has cores (the demo and the committed notebooks use one), training them in
separate processes gives the same bits in less time: each process seeds itself exactly as the
notebook's own process would, uses the same thread count, and writes its own run folder, which
the caller then reads back (:mod:`g2d_lite.store`). On a GPU, or with data that is not held in
memory, runs train one at a time as before.

Workers are forked (Linux only; elsewhere runs train one at a time): they start at once and
share the data copy-on-write. ``G2D_LITE_JOBS`` sets the number of runs at once (1 turns this
off).
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import pickle
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

import torch

from g2d_lite.config import Config
from g2d_lite.data.base import SPLITS, DatasetSplits
from g2d_lite.errors import KitError
from g2d_lite.progress import progress

ENV = "G2D_LITE_JOBS"


@dataclass(frozen=True)
class Job:
    """One run to train into ``run_dir``: a teacher of ``modality``, or a student (``modality``
    None) distilled from the finished teacher folders ``teacher_dirs`` (modality, folder)."""

    cfg: Config
    run_dir: Path
    modality: str | None = None
    teacher_dirs: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.run_dir.name


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def wanted_jobs(threads_per_run: int) -> int:
    """Runs at once as asked (``G2D_LITE_JOBS``), else one per ``threads_per_run`` cores; the
    one rule for this process's workers and for the notebooks ``run all`` starts."""
    raw = os.environ.get(ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise KitError(f"{ENV} must be a whole number of runs at once (1 or more), got {raw!r}")
        return int(raw)
    return max(1, usable_cores() // max(1, threads_per_run))


def job_slots(device: torch.device, data: DatasetSplits) -> int:
    """How many runs may train at once here without changing a result."""
    wanted = wanted_jobs(torch.get_num_threads())
    in_memory = all(data[s].as_tensors() is not None for s in SPLITS)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if device.type != "cpu" or not in_memory or distributed or not _forkable():
        return 1
    return max(1, wanted)


def _forkable() -> bool:
    """Workers are forked: they start at once, share the data copy-on-write and import nothing
    (a script without a ``__main__`` guard is not run again). Only where forking a process that
    has used torch is safe: Linux, before CUDA was initialised in this process."""
    return sys.platform == "linux" and not torch.cuda.is_initialized()


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """A worker must not outlive a parent that was killed before it could stop it (SIGKILL of
    the runner, or of the kernel a notebook runs in): Linux then sends it SIGTERM. Its run
    folder resumes like any killed run, and its lock is recovered as stale."""
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def _train(job: Job, data: DatasetSplits, threads: int, report: Connection, parent: int) -> None:
    """A worker: train one job, send back ``None`` or the exception (pickled where it can be)."""
    from g2d_lite.rundir import RunLockedError
    from g2d_lite.store import load_run
    from g2d_lite.train import train_student, train_teacher

    try:
        die_with_parent(parent)
        torch.set_num_threads(threads)
        cfg = job.cfg.replace(progress=False)  # the parent shows one bar for every run
        if job.modality is not None:
            train_teacher(cfg, data, job.modality, run_dir=job.run_dir)
        else:
            teachers = {m: load_run(d).model for m, d in job.teacher_dirs} or None
            train_student(cfg, data, teachers, run_dir=job.run_dir)
        report.send(None)
    except RunLockedError:  # another process trains it now: the caller waits for that one
        report.send(None)
    except BaseException as error:  # noqa: BLE001 - every failure goes back to the parent
        try:
            payload = pickle.dumps(error)
        except Exception:  # noqa: BLE001 - one that does not pickle still sends its words
            payload = None
        report.send((type(error).__name__, str(error), payload))
    finally:
        report.close()


def run_jobs(jobs: Sequence[Job], data: DatasetSplits, slots: int, show: bool = True) -> None:
    """Train ``jobs`` (distinct run folders), at most ``slots`` at once, in worker processes.

    The first failure stops new starts, lets the runs already going finish (their folders are
    valid results), and is raised here. An interrupt (or any error in this process) terminates
    the workers; their folders resume like any killed run.
    """
    context = mp.get_context("fork")
    threads = torch.get_num_threads()
    waiting, running = list(jobs), {}
    failure: BaseException | None = None
    bar = progress(range(len(jobs)), show, desc=f"training {len(jobs)} runs, {slots} at a time")
    try:
        while waiting or running:
            while waiting and len(running) < slots and failure is None:
                job = waiting.pop(0)
                receive, send = context.Pipe(duplex=False)
                worker = context.Process(
                    target=_train,
                    args=(job, data, threads, send, os.getpid()),
                    name=f"g2d-{job.name}",
                )
                worker.start()
                send.close()
                running[receive] = (worker, job)
            if not running:
                break
            for receive in wait(list(running)):
                worker, job = running.pop(receive)
                outcome = _outcome(receive, worker, job)
                if outcome is not None and failure is None:
                    failure = outcome
                next(bar, None)
    except BaseException:
        for worker, _ in running.values():
            worker.terminate()
        raise
    finally:
        for worker, _ in running.values():
            worker.join()
    if failure is not None:
        raise failure


def _outcome(receive: Connection, worker: mp.process.BaseProcess, job: Job) -> BaseException | None:
    """What a finished worker reported: ``None`` for a trained run, else the error to raise."""
    try:
        message = receive.recv()
    except EOFError:  # it died without a word: killed, or out of memory
        worker.join()
        return KitError(
            f"the process training {job.run_dir} stopped (exit {worker.exitcode}) before it "
            f"finished; rerun to resume the run, or set {ENV}=1 to train in this process"
        )
    finally:
        receive.close()
    worker.join()
    if message is None:
        return None
    name, text, payload = message
    try:
        return pickle.loads(payload)
    except Exception:  # noqa: BLE001 - a class this process cannot rebuild: keep its words
        return KitError(f"training {job.run_dir} failed: {name}: {text}")
