"""One writer per folder: an advisory lock that dies with its process.

A run folder or a dataset cache is written by one process at a time. The lock is an ``flock``
on a ``.lock`` file holding who took it (pid, host, start time, command): the kernel releases it
when the holder dies, however it dies, so a lock left by a killed process is recognised as
stale, taken over, and reported. A lock recorded by another host cannot be checked from here
and is refused with the file to delete.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from g2d_lite.errors import KitError

LOCK = ".lock"
WAIT = "wait for it to finish"  # the advice about a live holder that is running


class FolderLockedError(KitError):
    """Another live process is writing the folder."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) a folder's lock."""

    pid: int
    host: str
    started: str
    command: str
    folder: str = ""  # where the lock was taken: a folder copied with its lock says so

    def describe(self) -> str:
        if not self.pid:  # a lock file held by a program that wrote no record into it
            return f"another process (its {LOCK} records no holder)"
        return f"pid {self.pid} on {self.host} since {self.started} ({self.command})"

    def advice(self) -> str:
        """What to do about the holder: wait for it, unless it is stopped here (Ctrl-Z), when
        it would never finish."""
        if self.pid and self.host == socket.gethostname() and _stopped(self.pid):
            return (
                f"it is stopped (Ctrl-Z?): resume it with `fg` in its terminal or `kill -CONT "
                f"{self.pid}`, or end it with `kill {self.pid}`"
            )
        return WAIT


def _stopped(pid: int) -> bool:
    """Whether process ``pid`` is stopped by a signal or a debugger (Linux /proc; False where
    that cannot be read)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line.rpartition(")")[2].split()[:1] in (["T"], ["t"])


def _command() -> str:
    """The command line as the person typed it (``python -m g2d_lite ...`` for a module)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    name = spec.name.removesuffix(".__main__") if spec is not None else Path(sys.argv[0]).name
    program = f"python -m {name}" if spec is not None else name
    return " ".join([program, *sys.argv[1:]])[:300]


def _record(folder: Path) -> dict[str, Any]:
    return {
        "folder": str(folder.absolute()),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": _command(),
    }


def _read(handle: IO[str]) -> LockHolder | None:
    handle.seek(0)
    try:
        r = json.loads(handle.read() or "null")
        return LockHolder(
            int(r["pid"]), str(r["host"]), str(r["started"]), str(r["command"]), r.get("folder", "")
        )
    except (ValueError, KeyError, TypeError):
        return None


def special_file_kind(path: Path) -> str | None:
    """ "a FIFO", "a socket", "a device" for such a file at ``path`` (opening a FIFO blocks until
    someone writes to it: a planted one would hang the command), else None."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    )
    return next((kind for test, kind in kinds if test(mode)), None)


def _refuse_special(path: Path) -> None:
    kind = special_file_kind(path)
    if kind is not None:
        raise FolderLockedError(
            f"{path} is {kind}, not the kit's lock file (reading it would hang): remove it and "
            "rerun"
        )


def holder(folder: Path) -> LockHolder | None:
    """The live process writing ``folder``, or ``None``. Needs only read access, so a class can
    read from a folder it cannot write."""
    _refuse_special(Path(folder) / LOCK)
    try:
        handle = open(Path(folder) / LOCK)  # noqa: SIM115 - closed below
    except OSError:  # no lock file (the usual case), or one we may not read
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(handle) or LockHolder(0, "?", "?", "?")
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _open_lock(path: Path) -> IO[str]:
    """The lock file, opened for update without following a link: a ``.lock`` planted as a
    symbolic link must not make the lock truncate the file it points to."""
    _refuse_special(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o666)
    except OSError:
        if path.is_symlink():
            raise FolderLockedError(
                f"{path} is a symbolic link (to {path.readlink()}), not the kit's lock file; the "
                "kit will not write through it: remove the link and rerun"
            ) from None
        raise  # a read-only folder, say: the callers name it
    return os.fdopen(fd, "a+")


def _acquire(folder: Path, what: str, notes: list[str]) -> IO[str]:
    path = folder / LOCK
    while True:
        handle = _open_lock(path)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            current = _read(handle)
            handle.close()
            who = current.describe() if current else "another process"
            advice = current.advice() if current else WAIT
            raise FolderLockedError(
                f"{folder} is being written by {who}; {advice}, or choose {what}"
            ) from None
        try:  # a holder that just released may have unlinked the file we opened: retry then
            same = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()
    previous = _read(handle)
    if previous is not None:
        if previous.host != socket.gethostname():
            handle.close()
            raise FolderLockedError(
                f"{folder} is locked by {previous.describe()}; if that process has stopped, "
                f"delete {path} and retry"
            )
        notes.append(
            f"recovered the stale lock of {folder}, left by {previous.describe()}, "
            + _why_stale(previous, folder)
        )
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(_record(folder)))
    handle.flush()
    return handle


def _why_stale(previous: LockHolder, folder: Path) -> str:
    """Why a lock nobody holds was left: a copied folder or a reused pid is not a stopped run,
    and saying so keeps a user from thinking their other training died."""
    if previous.folder and os.path.realpath(previous.folder) != os.path.realpath(folder):
        return (
            f"which was taken in {previous.folder} and came here with the folder (a copy or a move)"
        )
    try:
        os.kill(previous.pid, 0)
    except ProcessLookupError:
        return "which is no longer running"
    except PermissionError:
        pass
    return f"which no longer holds it (pid {previous.pid} now runs something else)"


@contextlib.contextmanager
def locked(folder: Path, what: str = "another folder") -> Iterator[list[str]]:
    """Hold ``folder``'s lock for the body; yields notes for the user (a stale lock recovered).
    A second writer gets :class:`FolderLockedError` naming the holder; ``what`` says what else it
    can do ("another --out")."""
    folder = Path(folder)
    notes: list[str] = []
    handle = _acquire(folder, what, notes)
    try:
        yield notes
    finally:
        with contextlib.suppress(OSError):
            (folder / LOCK).unlink()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
