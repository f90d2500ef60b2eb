"""Atomic file writes: a crash mid-write leaves the old file (or none), never a truncated one.

Temporary files are named ``.<name>.<pid>.<random>.tmp`` beside their target and created with
mode 0666 minus the umask, like any other file, so a class's shared cache or teacher folder
stays readable by the group when the umask says so. A temporary left by a killed writer is
removed by :func:`remove_stale_temporaries` once the folder's owner holds its lock.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".tmp"


def temporary_path(path: str | Path) -> Path:
    """A fresh temporary name beside ``path`` (hidden, unique per process and call)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def is_temporary(name: str) -> bool:
    """A name :func:`temporary_path` makes (a killed writer may leave one behind)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if error.filename is None:  # a failed write names no file; say which one it was
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    """Atomically replace a UTF-8 text file (configs, metrics, histories)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporaries (files and folders) that killed writers left in ``folder``.

    Only call this while holding the folder's lock: a live writer's temporary looks the same.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        if is_temporary(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
