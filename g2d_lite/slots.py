"""A shared pool of training slots for processes that run side by side.

Notebooks the runner starts together each train their own runs (and fork workers for them);
left alone they would train more runs at once than the machine has cores, and every run would
slow the others down. The runner gives them one pool: a folder of ``n`` slot files, named in
``G2D_LITE_SLOTS`` as ``<folder>:<n>``. A run holds an ``flock`` on one slot file while it
trains, so at most ``n`` train at once; the kernel releases a slot whose holder dies. Without
the variable (a notebook, a command line, a test) a run trains at once, as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from g2d_lite.errors import KitError

ENV = "G2D_LITE_SLOTS"
POLL_S = 0.2


def pool_spec(folder: Path, count: int) -> str:
    """The ``G2D_LITE_SLOTS`` value for a pool of ``count`` slots in ``folder``."""
    return f"{folder}:{count}"


def pool() -> tuple[Path, int] | None:
    """The pool named in ``G2D_LITE_SLOTS`` (folder, slots), None without one; a malformed value
    is refused (check it before a run starts, so a refusal leaves nothing behind)."""
    spec = os.environ.get(ENV, "").strip()
    if not spec:
        return None
    folder, _, count = spec.rpartition(":")
    if not folder or not count.isdigit() or int(count) < 1 or not Path(folder).is_dir():
        raise KitError(
            f"{ENV} must be <existing folder>:<number of slots>, got {spec!r}; the notebook "
            f"runner sets it for the notebooks it starts, so unset it elsewhere"
        )
    return Path(folder), int(count)


def _holders(folder: Path, count: int) -> list[str]:
    """The pids written into the slot files by the runs that hold them."""
    found = []
    for index in range(count):
        with contextlib.suppress(OSError):
            pid = (folder / f"slot-{index}").read_text().strip()
            found += [pid] if pid else []
    return found


@contextlib.contextmanager
def training_slot() -> Iterator[None]:
    """Hold one slot of the pool for the body (waiting for a free one); no pool, no wait."""
    spec = pool()
    if spec is None:
        yield
        return
    folder, count = spec
    waiting = False
    while True:
        for index in range(count):
            handle = open(folder / f"slot-{index}", "a")  # noqa: SIM115 - closed below
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                os.ftruncate(handle.fileno(), 0)
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if not waiting:
            held = ", ".join(_holders(folder, count)) or "unknown"
            print(
                f"note: waiting for a free training slot: all {count} of {folder} are held (by "
                f"pid {held}), by runs side by side; this run starts when one finishes",
                file=sys.stderr,
                flush=True,
            )
            waiting = True
        time.sleep(POLL_S)
