"""Prepared-dataset caches: resumable sharded builds with atomic writes, memory-mapped reads.

A build cuts its samples into shards. A finished shard is a folder of ``.npy`` files (with their
sizes and SHA-256s in its ``shard.json``) that appears in one atomic rename, so a killed build
loses at most the shard in flight and a rerun skips every shard already there that still matches
its checksums. When all shards exist they are concatenated into the final arrays, and
``meta.json`` is written last: its presence (with the same identity) means the cache is complete.
Nothing written holds a timestamp or an absolute path, so rebuilds are byte-identical.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from g2d_lite.atomic import atomic_write, atomic_write_bytes, remove_stale_temporaries
from g2d_lite.data.base import MissingDatasetError
from g2d_lite.data.paths import (
    LFS_POINTER,
    check_not_being_built,
    damaged_dataset,
    missing_dataset,
    other_cache_hint,
    prepare_commands,
    recorded_options,
)
from g2d_lite.errors import KitError

FORMAT_VERSION = 1
META_FILE = "meta.json"
WORK_DIR = ".build"


class BuildError(KitError, RuntimeError):
    """A build cannot go on as asked; the message says what to pass or fix."""


@dataclass(frozen=True)
class Skipped:
    """A sample left out of the cache, and why (reported in the summary and meta.json)."""

    key: str
    reason: str


_ADDRESS = re.compile(r"<([\w.]+) object at 0x[0-9a-fA-F]+>")


def error_reason(prefix: str, error: BaseException) -> str:
    """``prefix: ErrorType: message`` with memory addresses removed, so a rebuild writes the same
    bytes (a reader's message may quote the object it failed on)."""
    message = _ADDRESS.sub(r"<\1>", " ".join(str(error).split()))
    return f"{prefix}: {type(error).__name__}: {message}"


@dataclass
class Shard:
    """One shard's output: arrays whose first axis runs over samples, their keys, the skipped."""

    arrays: dict[str, np.ndarray]
    keys: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def json_bytes(obj: Any) -> bytes:
    """Canonical JSON (sorted keys, fixed indent): equal objects give equal bytes."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` made atomic (the .npy header holds no timestamp)."""
    atomic_write(path, lambda f: np.save(f, np.ascontiguousarray(array), allow_pickle=False))


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, streamed (caches can be many GB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


LFS_SIGNATURE = b"version https://git-lfs.github.com/spec/"


def is_lfs_pointer(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a Git LFS pointer (a clone without git lfs)."""
    return head.startswith(LFS_SIGNATURE)


def file_is_lfs_pointer(path: Path) -> bool:
    """:func:`is_lfs_pointer` for a file on disk (pointers are tiny, so only small files)."""
    try:
        if path.stat().st_size > 1024:
            return False
        with open(path, "rb") as handle:
            return is_lfs_pointer(handle.read(len(LFS_SIGNATURE)))
    except OSError:
        return False


# SHA-256s this process has computed, by file identity and state: a cache is checked once per
# process however often it is loaded, and a file rewritten since (new size, mtime or inode) is
# hashed again.
_CHECKED: dict[tuple[str, int, int, int], str] = {}


def _checked_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key not in _CHECKED:
        _CHECKED[key] = file_sha256(path)
    return _CHECKED[key]


def read_meta(root: Path) -> dict[str, Any] | None:
    """The cache's meta.json, or ``None`` while the cache is absent or unfinished."""
    path = Path(root) / META_FILE
    if path.is_dir():
        raise BuildError(
            f"{path} is a folder where the cache keeps its manifest; move that folder away and "
            "rebuild the cache with the command that made it"
        )
    if path.is_symlink():  # its checks and repair advice would be another cache's
        raise BuildError(
            f"{path} is a symbolic link (to {os.readlink(path)}): a cache's manifest must be its "
            f"own file; remove the link and rebuild {path.parent} with the command that made "
            "its files"
        )
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
    except ValueError:
        meta = None
    if not (
        isinstance(meta, dict)
        and isinstance(meta.get("files"), dict)
        and isinstance(meta.get("identity"), dict)
    ):
        raise BuildError(
            f"{path} is not a g2d-lite cache manifest (not JSON, or without the kit's identity "
            f"and files), so {path.parent} is no cache the kit wrote and no build replaces it: "
            "give --out (or data_root) an empty or new folder"
        )
    return meta


def kit_work_dir(root: Path) -> bool:
    """Whether ``root`` holds the kit's work folder: ``.build`` with its identity.json (written
    first, so every interrupted build has it). Anything else of that name (a file, SwiftPM's
    ``.build/``) is someone's, and a :class:`BuildError` says so: the build would write into it
    and delete it."""
    work = Path(root) / WORK_DIR
    if not work.exists() and not work.is_symlink():
        return False
    if work.is_dir() and not work.is_symlink():
        if (work / "identity.json").is_file():
            return True
        what = "a folder the kit did not make (it holds no identity.json)"
    else:
        what = "a file" if not work.is_symlink() else "a symbolic link"
    raise BuildError(
        f"{work} is {what} where the build keeps its work folder; the build will not write into "
        "or delete it: move it away and rerun, or choose an empty or new --out"
    )


def damaged_files(root: Path, meta: Mapping[str, Any], checksums: bool = True) -> list[str]:
    """What does not match ``meta.json``: missing files, wrong sizes, wrong SHA-256s (unless
    ``checksums`` is off: a resumed build compares sizes only), and a meta.json changed by
    hand. Empty for a sound cache. Loaders check the SHA-256s too: a file swapped in from
    another build of the same size was otherwise trained on without a word."""
    problems = []
    if "sha256" in meta and meta["sha256"] != meta_seal(meta):  # caches built before it: none
        problems.append(f"{META_FILE} was changed after the build (its own SHA-256 differs)")
    for name, record in sorted(meta.get("files", {}).items()):
        path = Path(root) / name
        if path.is_dir():
            problems.append(
                f"{name} is a folder where the cache keeps a file: move that folder away"
            )
        elif not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != record["bytes"] and file_is_lfs_pointer(path):
            problems.append(f"{name} {LFS_POINTER}")
        elif path.stat().st_size != record["bytes"]:
            problems.append(
                f"{name} has {path.stat().st_size:,} bytes, meta.json records {record['bytes']:,}"
            )
        elif checksums and _checked_sha256(path) != record["sha256"]:
            problems.append(f"{name} does not match its SHA-256 in meta.json")
    return problems


def meta_seal(meta: Mapping[str, Any]) -> str:
    """SHA-256 of meta.json's own content (all but this field): the manifest says what the
    build wrote, so an edit by hand (a class added to its list, say) is damage, not data."""
    return hashlib.sha256(json_bytes({k: v for k, v in meta.items() if k != "sha256"})).hexdigest()


def check_kind(name: str, root: Path, meta: Mapping[str, Any]) -> None:
    """Refuse another dataset's cache, or one written in another cache format, before its
    fields are read as this one's."""
    hint = other_cache_hint(name, root)
    if hint is not None:
        raise MissingDatasetError(hint)
    identity = meta.get("identity")
    version = identity.get("format") if isinstance(identity, Mapping) else None
    if version != FORMAT_VERSION:
        raise MissingDatasetError(
            f"{name}: the cache at {root} records cache format {version!r}, and this kit reads "
            f"format {FORMAT_VERSION}; rebuild it with --force: {prepare_commands(name, root)}"
        )


def require_meta(name: str, root: Path) -> dict[str, Any]:
    """meta.json of a complete, undamaged cache, or a :class:`MissingDatasetError` naming the
    command that builds (or repairs) it."""
    check_not_being_built(name, Path(root))
    meta = read_meta(root)
    if meta is None:
        raise missing_dataset(name, Path(root), why_missing(Path(root), "no meta.json"))
    check_kind(name, Path(root), meta)
    problems = damaged_files(Path(root), meta)
    if problems:
        raise damaged_dataset(name, Path(root), problems, meta)
    return meta


def cache_digest(meta: Mapping[str, Any]) -> str:
    """A short hash of a cache's file manifest (sizes and SHA-256s): its identity in a run's
    data fingerprint."""
    return hashlib.sha256(json_bytes(meta.get("files", {}))).hexdigest()[:16]


def identity_differences(theirs: Any, ours: Mapping[str, Any]) -> str:
    """What differs between a cache's recorded build identity and this build's, in words."""
    if not isinstance(theirs, Mapping):
        return "its meta.json records no build settings"
    ours = _normalised(ours)
    found = []
    if theirs.get("dataset") != ours.get("dataset"):
        found.append(f"dataset {theirs.get('dataset')} vs {ours.get('dataset')}")
    old, new = theirs.get("params") or {}, ours.get("params") or {}
    found += [
        f"{key} {old.get(key)!r} vs {new.get(key)!r}"
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]
    if theirs.get("format") != ours.get("format"):
        found.append(f"cache format {theirs.get('format')!r} vs {ours.get('format')!r}")
    if theirs.get("sources") != ours.get("sources"):
        found.append(_source_differences(theirs.get("sources"), ours.get("sources")))
    return ", ".join(found) or "the build's settings"


def _source_differences(theirs: Any, ours: Any) -> str:
    """Which source changed and how ("other fsdd files: 3,000 vs 2,999"), so a rerun after a
    change to one source folder says which folder to look at."""
    if not (isinstance(theirs, Mapping) and isinstance(ours, Mapping)):
        return "other source files"
    parts = []
    for name in sorted(set(theirs) | set(ours), key=str):
        old, new = theirs.get(name), ours.get(name)
        if old == new:
            continue
        counts = [s.get("files") if isinstance(s, Mapping) else None for s in (old, new)]
        how = (
            f"{counts[0]:,} files vs {counts[1]:,}"
            if None not in counts and counts[0] != counts[1]
            else "the same count, other content"
            if None not in counts
            else "other files"
        )
        parts.append(f"other {name} sources ({how})")
    return ", ".join(parts) or "other source files"


def why_missing(root: Path, otherwise: str) -> str:
    """Why a cache cannot be read: an interrupted build (say so: rerunning resumes it) or else."""
    if (root / WORK_DIR / "identity.json").is_file():
        return "an interrupted build is there: rerun the same command to resume it"
    return otherwise


def _normalised(obj: Any) -> Any:
    """``obj`` as it reads back from JSON, so identities compare equal across runs."""
    return json.loads(json_bytes(obj))


def _file_record(path: Path) -> dict[str, Any]:
    """A file's size and SHA-256, as manifests record them."""
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


def _shard_problem(folder: Path) -> str | None:
    """Why a finished shard's files cannot be trusted (phrased to follow its name), or ``None``
    when they match the sizes and SHA-256s in its shard.json."""
    try:
        record = json.loads((folder / "shard.json").read_text())
    except (OSError, ValueError):
        return "has no readable shard.json"
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, dict):
        return "was written by an older kit without checksums, so it cannot be checked"
    found = sorted(p.name for p in folder.glob("*.npy"))
    if found != sorted(files):
        return f"holds {found}, its shard.json lists {sorted(files)}"
    damaged = [name for name in found if _file_record(folder / name) != files[name]]
    if damaged:
        return f"has {', '.join(damaged)} changed since it was written (size or SHA-256 differs)"
    return None


class ShardedBuild:
    """A resumable build of one cache folder.

    ``identity`` holds everything that decides the cache's bytes (recipe parameters, source
    digests). A complete cache with the same identity is left alone; a complete or partial one
    with another identity is an error unless ``force`` discards it. ``shard_size`` must also
    match to resume, since it decides which samples each finished shard holds.

    "Complete" means meta.json with the same identity *and* every file it lists present with its
    recorded size (with ``verify``, its recorded SHA-256 too). A damaged cache is rebuilt, and
    :attr:`repaired` lists what was wrong with it.
    """

    def __init__(
        self,
        root: Path,
        identity: Mapping[str, Any],
        shard_size: int,
        force: bool = False,
        verify: bool = False,
    ) -> None:
        self.root = Path(root)
        self.identity = _normalised(dict(identity, format=FORMAT_VERSION))
        self.work = self.root / WORK_DIR
        self._written: list[str] = []
        self.repaired: list[str] = []
        self.recomputed: list[str] = []  # finished shards found damaged on resuming, and why
        kit_work_dir(self.root)  # refuses a .build that is not the kit's, even with force
        meta = read_meta(self.root)  # a foreign meta.json is refused, even with force
        self.cleaned = self._remove_temporaries()
        if meta is not None and meta.get("identity") == self.identity:
            self.repaired = damaged_files(self.root, meta, checksums=verify)
        if force or self.repaired:
            self._discard(meta)
            meta = None
        self.complete = meta is not None and meta.get("identity") == self.identity
        self.meta = meta if self.complete else None
        if meta is not None and not self.complete:
            recorded = meta.get("identity")
            other = recorded.get("dataset") if isinstance(recorded, Mapping) else None
            if other is not None and other != self.identity["dataset"]:  # not a settings change
                raise BuildError(
                    f"{self.root} holds a prepared {other} cache, not a "
                    f"{self.identity['dataset']} one; choose another --out (--force would delete "
                    f"that {other} cache)"
                )
            differences = identity_differences(recorded, self.identity)
            damage = damaged_files(self.root, meta, checksums=False)
            if damage:
                options = " ".join(recorded_options(recorded)) or "the default options"
                raise BuildError(
                    f"{self.root} holds a damaged cache ({damage[0]}) built with other settings "
                    f"({differences}; the cache's vs this command's): to repair it, rerun with "
                    f"its options ({options}); --force would rebuild it with this command's, "
                    "i.e. other data than what was trained on it"
                )
            raise BuildError(
                f"{self.root} holds a cache built with other settings or sources "
                f"({differences}; the cache's vs this command's); pass --force to rebuild it, or "
                "choose another --out"
            )
        if self.complete:
            shutil.rmtree(self.work, ignore_errors=True)  # left by a crash after meta.json
            return
        marker = self.work / "identity.json"
        work = {"identity": self.identity, "shard_size": shard_size}
        if marker.is_file() and (before := json.loads(marker.read_text())) != work:
            if before["identity"] == self.identity:
                what = f"shard size {before['shard_size']} vs {shard_size}"
                hint = f"--shard-size {before['shard_size']}"
            else:
                what = identity_differences(before.get("identity"), self.identity)
                hint = "its options"
            raise BuildError(
                f"{self.work} holds an interrupted build with other settings ({what}; the "
                f"interrupted build's vs this command's); rerun with {hint} to resume it, or "
                "pass --force to discard it"
            )
        atomic_write_bytes(marker, json_bytes(work))

    def _remove_temporaries(self) -> list[str]:
        """Delete the temporary files a killed build left in the cache and its folders (a
        half-written frames.npy can be tens of GB, which a rerun would need twice). Called
        under the cache folder's lock, so no live writer owns them."""
        if not self.root.is_dir():
            return []
        folders = [
            self.root,
            *(p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink()),
        ]
        removed = [path for folder in folders for path in remove_stale_temporaries(folder)]
        return [str(path.relative_to(self.root)) for path in sorted(removed)]

    def _discard(self, meta: dict[str, Any] | None) -> None:
        """Remove what an earlier build wrote (only its own files: --out may hold others)."""
        names = [Path(name) for name in (meta or {}).get("files", {})]
        for name in names:  # all are checked before anything is deleted
            self._check_inside(name)
            self._file_path(str(name))
        (self.root / META_FILE).unlink(missing_ok=True)
        for name in names:
            self._remove(name)
        shutil.rmtree(self.work, ignore_errors=True)

    def _check_inside(self, relative: Path) -> None:
        """Refuse a name that leads out of the cache (``..``, an absolute path: a meta.json from
        someone else must not make ``--force`` delete their files), or through a link to
        elsewhere (named as the link it is: deleting through it would reach another copy)."""
        if relative.is_absolute() or ".." in relative.parts:
            raise BuildError(
                f"{self.root / META_FILE} lists {str(relative)!r}, which is outside the cache, "
                "so it is no kit cache's manifest: remove that folder yourself, or choose "
                "another --out"
            )
        if (self.root / relative).resolve().is_relative_to(self.root.resolve()):
            return
        steps = [self.root.joinpath(*relative.parts[:i]) for i in range(1, len(relative.parts) + 1)]
        link = next(p for p in steps if p.is_symlink())  # a plain name leads out only by a link
        raise BuildError(
            f"{link} is a symbolic link to {os.readlink(link)} (outside the cache); the rebuild "
            f"will not delete or write through it: remove the link (rm {link}) and rerun"
        )

    def _file_path(self, relative: str) -> Path:
        """Where the cache keeps file ``relative``; a folder standing there is refused, not
        deleted or written into: the kit makes no folder there, so it is someone's."""
        path = self.root / relative
        if path.is_dir():
            raise BuildError(
                f"{path} is a folder where the cache keeps a file; move that folder away and "
                "rerun (the build then rebuilds the cache)"
            )
        return path

    def _remove(self, relative: Path) -> None:
        """Delete one of the cache's files, or a stray file standing where its folder belongs."""
        for parent in reversed(relative.parents[:-1]):  # audio/ before audio/x.npy
            if (self.root / parent).is_file():
                (self.root / parent).unlink()
                return
        (self.root / relative).unlink(missing_ok=True)

    def abandon(self) -> None:
        """Give the build up: remove its work folder and any final file it wrote, so that no
        half cache is left (used when every input failed)."""
        for relative in self._written:
            (self.root / relative).unlink(missing_ok=True)
        shutil.rmtree(self.work, ignore_errors=True)

    def _shard_dir(self, index: int) -> Path:
        return self.work / f"shard-{index:06d}"

    def has_shard(self, index: int) -> bool:
        """Whether shard ``index`` was finished by this or an earlier (interrupted) run and its
        files still match the sizes and SHA-256s in its shard.json. A shard that does not is
        removed and noted in :attr:`recomputed`: reused, it would go into the cache unseen, and
        meta.json's checksums (taken from the result) would vouch for it."""
        folder = self._shard_dir(index)
        if not folder.is_dir():
            return False
        problem = _shard_problem(folder)
        if problem is None:
            return True
        shutil.rmtree(folder)
        self.recomputed.append(f"{folder.name} from the interrupted build {problem}; recomputed")
        return False

    def write_shard(self, index: int, shard: Shard) -> None:
        """Write a shard's files into a temporary folder, then rename it into place."""
        final = self._shard_dir(index)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, array in shard.arrays.items():
            atomic_save_npy(tmp / f"{name}.npy", array)
        record = {
            "keys": shard.keys,
            "skipped": [vars(s) for s in shard.skipped],
            "files": {p.name: _file_record(p) for p in sorted(tmp.glob("*.npy"))},
        }
        atomic_write_bytes(tmp / "shard.json", json_bytes(record))
        os.replace(tmp, final)

    def read_shard(self, index: int) -> Shard:
        """A finished shard, its arrays memory-mapped."""
        folder = self._shard_dir(index)
        record = json.loads((folder / "shard.json").read_text())
        arrays = {p.stem: np.load(p, mmap_mode="r") for p in sorted(folder.glob("*.npy"))}
        skipped = [Skipped(**s) for s in record["skipped"]]
        return Shard(arrays=arrays, keys=record["keys"], skipped=skipped)

    def consolidate(
        self,
        num_shards: int,
        outputs: Mapping[str, str] | None = None,
        convert: Callable[[str, np.ndarray], np.ndarray] | None = None,
    ) -> Shard:
        """Concatenate every shard's arrays, in shard order, into the cache's final files.

        ``outputs`` maps a shard array name to its file (default ``<name>.npy``); ``convert``
        maps each shard's piece before it is written (e.g. quantising with train statistics).
        Returns all keys and skipped samples, in order.
        """
        shards = [self.read_shard(i) for i in range(num_shards)]
        names = sorted({name for shard in shards for name in shard.arrays})
        for name in names:
            pieces = [s.arrays[name] for s in shards if name in s.arrays]
            if convert is not None:
                pieces = [convert(name, p) for p in pieces]
            target = (outputs or {}).get(name, f"{name}.npy")
            self._concatenate(target, pieces)
        keys = [k for s in shards for k in s.keys]
        skipped = [k for s in shards for k in s.skipped]
        return Shard(arrays={}, keys=keys, skipped=skipped)

    def _concatenate(self, relative: str, pieces: Sequence[np.ndarray]) -> None:
        """Stream ``pieces`` into one .npy without holding them all in memory."""
        path = self._file_path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # memmap needs a real path
        shape = (sum(len(p) for p in pieces), *pieces[0].shape[1:])
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=pieces[0].dtype, shape=shape)
            _preallocate(tmp, relative)
            start = 0
            for piece in pieces:
                out[start : start + len(piece)] = piece
                start += len(piece)
            out.flush()
            del out
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        self._written.append(relative)

    def save_array(self, relative: str, array: np.ndarray) -> None:
        """Write one more final array (an index, a split) atomically."""
        atomic_save_npy(self._file_path(relative), array)
        self._written.append(relative)

    def save_text(self, relative: str, text: str) -> None:
        """Write one more final text file (an index listing) atomically."""
        atomic_write_bytes(self._file_path(relative), text.encode())
        self._written.append(relative)

    def finish(self, meta: Mapping[str, Any]) -> dict[str, Any]:
        """Write meta.json (with the identity and every file's size and SHA-256) last."""
        files = {name: _file_record(self.root / name) for name in sorted(set(self._written))}
        full = _normalised(dict(meta, identity=self.identity, files=files))
        full["sha256"] = meta_seal(full)
        atomic_write_bytes(self.root / META_FILE, json_bytes(full))
        shutil.rmtree(self.work, ignore_errors=True)
        self.complete, self.meta = True, full
        return full


def _preallocate(path: Path, relative: str) -> None:
    """Reserve every block of a file about to be written through a memory map: on a full disk
    the write would otherwise die with SIGBUS ("Bus error", no message); here it is one line.
    A file system without preallocation is written as before."""
    if not hasattr(os, "posix_fallocate"):
        return
    with open(path, "r+b") as handle:
        size = os.fstat(handle.fileno()).st_size
        try:
            os.posix_fallocate(handle.fileno(), 0, size)
        except OSError as error:
            if error.errno in (errno.EOPNOTSUPP, errno.EINVAL):
                return
            if error.errno not in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                raise
            raise BuildError(
                f"could not write {relative} ({size:,} bytes) in {path.parent}: the disk may be "
                "full or a file-size limit reached; free some space and rerun the same command "
                "(the finished shards are kept)"
            ) from None


class LazyArray:
    """A memory-mapped ``.npy`` opened on first use, and reopened (not copied) in each worker.

    Pickling a ``np.memmap`` copies its data, so DataLoader workers started with ``spawn``
    would each receive the whole array; this class sends only the path.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._array: np.ndarray | None = None

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return self._array

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_array": None}
