"""What every preparation script shares: common options, the shard loop, the summary, errors."""

from __future__ import annotations

import argparse
import codecs
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from tqdm import tqdm

from g2d_lite.data.avmnist import BUILD_ONLY_FILES as AVMNIST_BUILD_ONLY
from g2d_lite.data.cache import (
    META_FILE,
    WORK_DIR,
    BuildError,
    Shard,
    ShardedBuild,
    Skipped,
    damaged_files,
    kit_work_dir,
    read_meta,
)
from g2d_lite.data.paths import (
    ENV_VAR,
    PREPARE_COMMANDS,
    cache_dataset,
    checkout_root,
    data_env,
    lost_meta,
)
from g2d_lite.errors import path_argument, run_command
from g2d_lite.locks import LOCK, locked
from g2d_lite.parallel import die_with_parent
from g2d_lite.progress import progress_enabled

T = TypeVar("T")
LFS_REASON = "Git LFS pointer, not the media: run `git lfs pull` in the source folder"


def read_text(path: Path) -> str:
    """An annotation or split list as UTF-8 text (a BOM allowed). Another encoding is named,
    with the file and the fix, instead of a bare codec error naming neither (Excel's "Unicode
    text" export is UTF-16, and the official readers take UTF-8 only)."""
    data = path.read_bytes()
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\0" in data:
        problem = 'is UTF-16 (an Excel "Unicode text" export?) or binary, not UTF-8 text'
    else:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            problem = (
                f"is not UTF-8 text (byte {error.start:,} is 0x{data[error.start]:02x}: Latin-1 "
                "or another legacy encoding?)"
            )
    raise BuildError(
        f"{path} {problem}; save it as UTF-8 (Excel: CSV UTF-8; or iconv -t UTF-8) and rerun"
    )


def repair_notes(build: ShardedBuild) -> list[str]:
    """What a rebuild of a damaged cache, or a resume past damaged shards, found wrong, for the
    summary."""
    cleaned = [
        f"removed {len(build.cleaned)} temporary file(s) an interrupted build left "
        f"({', '.join(build.cleaned[:3])})"
    ]
    repaired = [f"the cache was damaged ({p}); rebuilt" for p in build.repaired]
    return repaired + build.recomputed + (cleaned if build.cleaned else [])


def check_split_sizes(sizes: dict[str, int], where: str, allow_empty: bool) -> None:
    """Refuse a cache with an empty split unless asked: training needs every split."""
    empty = [split for split, n in sizes.items() if n == 0]
    if empty and not allow_empty:
        raise BuildError(
            f"{where}: the {', '.join(empty)} split(s) would be empty; give more samples or other "
            "split fractions, or pass --allow-empty to write it anyway"
        )


def refuse_empty(name: str, total: int, skipped: Sequence[Skipped], fix: str = "") -> None:
    """A build in which every input failed must not write a "complete" empty cache. The example
    quoted has the commonest reason (the likely cause); ``fix`` says what to change for it."""
    reasons = Counter(s.reason.split(":")[0] for s in skipped)
    by_reason = ", ".join(f"{n} {r}" for r, n in reasons.most_common(3))
    lfs = (
        " (run `git lfs pull` in the source folder)" if LFS_REASON.split(":")[0] in reasons else ""
    )
    common = reasons.most_common(1)[0][0] if skipped else ""
    example = next((s for s in skipped if s.reason.split(":")[0] == common), None)
    first = f"; for example {example.key}: {example.reason}" if example else ""
    raise BuildError(
        f"{name}: no usable samples: all {total} inputs were skipped ({by_reason}){lfs}{first}"
        f"{f'; {fix}' if fix else ''}; no cache was written"
    )


def _number(text: str, kind: type) -> float:
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def fraction(text: str) -> float:
    """An argparse type: a share in [0, 1) (a split fraction)."""
    value = _number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text!r}")
    return value


def portion(text: str) -> float:
    """An argparse type: a share in (0, 1] (what to keep)."""
    value = _number(text, float)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return value


def natural(text: str) -> int:
    """An argparse type: an integer of at least 0 (a seed)."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {text!r}")
    return int(value)


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1 (sizes, counts)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return int(value)


def user_path(text: str) -> Path:
    """A path option with ``~`` expanded and an empty value refused (see path_argument). Blanks
    around it are refused too: pasted from a notebook cell, ``--out 'c1 '`` would build a second
    cache beside ``c1`` that later loads of ``c1`` never read."""
    if text.strip() and text != text.strip():
        end = "begins" if text[0].isspace() else "ends"
        raise argparse.ArgumentTypeError(
            f"{text!r} {end} with a space (pasted with it?); did you mean {text.strip()!r}?"
        )
    return Path(path_argument(text))


def require_folder(path: Path, not_found: str) -> None:
    """Raise ``not_found`` when ``path`` is missing; a file given for a folder is named as one,
    with its folder as the likely fix."""
    if path.is_file():
        raise BuildError(
            f"{path} is a file, not a folder: give the folder that holds it ({path.parent})"
        )
    if not path.is_dir():
        raise BuildError(not_found)


def add_common_arguments(
    parser: argparse.ArgumentParser, name: str, shard_size: int, parallel: bool = False
) -> None:
    """Options every script takes: where to write, rebuilding, shard size, progress."""
    parser.add_argument(
        "--out",
        type=user_path,
        default=None,
        help=f"cache folder to write (default: $G2D_LITE_DATA/{name} when that variable is "
        f"set, else {checkout_root(name)})",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="discard what an earlier (complete or interrupted) build left at "
        "--out and rebuild; without it a rerun resumes, or does nothing",
    )
    parser.add_argument(
        "--shard-size",
        type=positive,
        default=shard_size,
        help="samples per shard, the unit of resumable work (default: %(default)s)",
    )
    if parallel:
        parser.add_argument(
            "--workers",
            type=positive,
            default=1,
            help="processes decoding shards in parallel (default: %(default)s)",
        )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="also check every file of a complete cache against the SHA-256 in its meta.json "
        "(slow on large caches; sizes are always checked), and rebuild it if one differs",
    )
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="write the cache even when a split would be empty (refused by default)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` cut into consecutive shards of ``size`` (the last may be shorter)."""
    if size < 1:
        raise BuildError(f"--shard-size must be at least 1, got {size}")
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass
class ShardCounts:
    computed: int = 0
    resumed: int = 0


def _start_worker(parent: int) -> None:
    """A shard worker runs torch on one thread (the workers share the cores) and, on Linux,
    dies with its parent: a forked worker holds the cache folder's lock, so one left behind by
    a killed build would make every rerun wait for a process that is gone."""
    torch.set_num_threads(1)
    if sys.platform == "linux":
        die_with_parent(parent)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch single-threaded, then restore: small LAPACK/FFT calls (a 784 x 784 eigh, 1 s
    STFTs) run many times faster without thread hand-offs, and results cannot depend on the
    thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, which a container or taskset
    narrows), not every core of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def pool_size(workers: int, pending: int) -> int:
    """How many processes to start for ``pending`` shards: never more than the shards left or
    the cores available. ``--workers 99999`` (meant as "all cores") would otherwise fork every
    one of them at once and stall a shared machine; capping by cores is said in a note."""
    cores = available_cores()
    size = max(1, min(workers, cores, pending))
    if workers > cores:
        print(
            f"note: --workers {workers} is more than the {cores} core(s) available; using {size}",
            file=sys.stderr,
        )
    return size


def run_shards(
    build: ShardedBuild,
    chunks: Sequence[Sequence[Any]],
    work: Callable[[Sequence[Any]], Shard],
    *,
    desc: str,
    progress: bool,
    workers: int = 1,
) -> ShardCounts:
    """Compute and write every shard not already finished, in order or ``workers`` at a time.

    Each shard is written as soon as it is computed, so an interruption loses only shards in
    flight. ``work`` must be a picklable module-level function (or a partial of one) when
    ``workers > 1``.
    """
    counts = ShardCounts()
    pending = [i for i in range(len(chunks)) if not build.has_shard(i)]
    counts.resumed = len(chunks) - len(pending)
    total = sum(len(c) for c in chunks)
    done = total - sum(len(chunks[i]) for i in pending)
    hidden = not progress_enabled(progress)
    workers = pool_size(workers, len(pending))
    with tqdm(total=total, initial=done, unit="sample", desc=desc, disable=hidden) as bar:
        if workers <= 1:
            for i in pending:
                build.write_shard(i, work(chunks[i]))
                counts.computed += 1
                bar.update(len(chunks[i]))
            return counts
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork") if sys.platform == "linux" else None,
            initializer=_start_worker,
            initargs=(os.getpid(),),
        ) as pool:
            for start in range(0, len(pending), workers):
                wave = pending[start : start + workers]
                for i, shard in zip(wave, pool.map(work, [chunks[i] for i in wave]), strict=True):
                    build.write_shard(i, shard)
                    counts.computed += 1
                    bar.update(len(chunks[i]))
    return counts


def _size(num_bytes: float) -> str:
    if num_bytes < 1000:
        return f"{int(num_bytes)} B"
    for unit in ("kB", "MB"):
        num_bytes /= 1000
        if num_bytes < 1000:
            return f"{num_bytes:.1f} {unit}"
    return f"{num_bytes / 1000:.1f} GB"


@dataclass
class Summary:
    """What a build did; printed at the end of every script."""

    name: str
    root: Path
    meta: dict[str, Any]
    seconds: float
    shards: ShardCounts | None = None  # None: the cache was already complete
    notes: list[str] = field(default_factory=list)
    verified: bool = False  # checksums checked too (--verify), not just sizes

    @property
    def samples(self) -> int:
        return int(self.meta["samples"])

    @property
    def skipped(self) -> list[Skipped]:
        return [Skipped(**s) for s in self.meta["skipped"]]

    @property
    def cache_bytes(self) -> int:
        files = self.meta["files"].values()
        return sum(f["bytes"] for f in files) + (self.root / "meta.json").stat().st_size

    def render(self, examples: int = 10) -> str:
        """A few lines for the terminal: samples, skips by reason, shards, size."""
        lines = [
            f"{self.name}: {self.samples:,} samples in {self.root} "
            f"({_size(self.cache_bytes)}), {self.seconds:.1f} s"
        ]
        if self.shards is None:
            checked = "sizes and checksums" if self.verified else "sizes"
            lines.append(
                f"  the cache was already complete with these settings ({checked} checked): "
                "nothing to do (--force rebuilds it)"
            )
        else:
            lines.append(
                f"  shards: {self.shards.computed} computed, "
                f"{self.shards.resumed} resumed from an earlier run"
            )
        lines.append(f"  splits: {self.meta['splits']}")
        skipped = self.skipped
        if skipped:
            reasons = Counter(s.reason.split(":")[0] for s in skipped)
            by_reason = ", ".join(f"{r}: {n}" for r, n in sorted(reasons.items()))
            lines.append(f"  skipped: {len(skipped)} ({by_reason}); all listed in meta.json")
            lines += [f"    {s.key}: {s.reason}" for s in skipped[:examples]]
            if len(skipped) > examples:
                lines.append(f"    ... and {len(skipped) - examples} more")
        else:
            lines.append("  skipped: 0")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def check_cache_folder(root: Path) -> None:
    """Refuse to build among someone else's files: a folder that is a file, or that is not empty
    and holds neither a cache (meta.json), an interrupted build (.build/ with its identity.json),
    nor a kit build that lost its meta.json (which the loader asks to rebuild)."""
    if root.is_symlink() and not root.exists():
        raise BuildError(f"--out {root} is a symlink to a missing folder; point it at a real one")
    if root.exists() and not root.is_dir():
        raise BuildError(f"--out {root} is a file, not a folder; choose a folder for the cache")
    if (root / META_FILE).is_dir():
        raise BuildError(
            f"{root / META_FILE} is a folder where the cache keeps its manifest; move that folder "
            "away and rerun (the build then checks and rebuilds the cache)"
        )
    _check_not_inside_a_cache(root)
    if root.is_dir():
        names = {p.name for p in root.iterdir()} - {LOCK}
        work = [WORK_DIR] if kit_work_dir(root) else []  # a .build not the kit's is refused
        ours = names & {META_FILE, *work, *AVMNIST_BUILD_ONLY} or lost_meta(root)
        if names and not ours:
            raise BuildError(
                f"--out {root} is not empty and holds no g2d-lite cache; choose a new or empty "
                "folder (the build will not write over files it did not make)"
            )


def _check_not_inside_a_cache(root: Path) -> None:
    """A cache is not built inside another: the slip is G2D_LITE_DATA (or --out) naming a
    prepared cache where the folder that holds the caches was meant; the loader, given the
    same slip, would then read the nested copy."""
    above = cache_dataset(root.parent)
    if above is None:
        return
    env = data_env()
    default = root.name in PREPARE_COMMANDS  # <G2D_LITE_DATA>/<dataset>: no --out given
    if default and env and Path(env).expanduser().absolute() == root.parent.absolute():
        slip = f"{ENV_VAR}={env} names a prepared {above} cache itself"
        fix = f"set {ENV_VAR}={root.parent.parent} (the folder that holds the caches)"
    else:
        slip = f"{root.parent} is a prepared {above} cache"
        fix = "choose an --out outside it"
    raise BuildError(f"--out {root} would be a cache inside a cache: {slip}; {fix}")


def verify_read_only(root: Path) -> str:
    """``--verify`` of a cache this user cannot write: every file against its SHA-256, nothing
    rebuilt (there is no lock to take and no file to repair)."""
    meta = read_meta(root)
    if meta is None:
        raise BuildError(f"{root} is read-only and holds no finished cache (no meta.json)")
    problems = damaged_files(root, meta, checksums=True)
    if problems:
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        raise BuildError(
            f"{root} is damaged ({problems[0]}{more}) and read-only, so it cannot be rebuilt "
            "here: ask its owner to rerun the build, or build a copy of your own with another --out"
        )
    return (
        f"{root}: all {len(meta['files'])} files match their SHA-256 in meta.json (read-only "
        "folder: verified, nothing rebuilt)"
    )


def run_main(
    parser: argparse.ArgumentParser,
    build: Callable[[argparse.Namespace], Summary],
    argv: Sequence[str] | None,
    root_of: Callable[[argparse.Namespace], Path],
) -> int:
    """Parse ``argv``, build while holding the cache folder's lock (``root_of(args)``), print
    the summary; every failure is one line and exit status 2."""
    args = parser.parse_args(argv)

    def body() -> None:
        started = time.perf_counter()
        root = root_of(args)
        if getattr(args, "verify", False) and root.is_dir() and not os.access(root, os.W_OK):
            print(verify_read_only(root))  # a shared, read-only cache: check it, take no lock
            return
        check_cache_folder(root)
        created = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        try:
            with locked(root, "another --out") as notes, one_torch_thread():
                for note in notes:
                    print(f"note: {note}", file=sys.stderr)
                summary = build(args)  # parallelism comes from --workers processes
        finally:
            if created and root.is_dir() and not any(root.iterdir()):
                root.rmdir()  # a refused build leaves no empty folder behind
        summary.seconds = time.perf_counter() - started
        print(summary.render())

    return run_command(parser.prog, body, args.debug)
