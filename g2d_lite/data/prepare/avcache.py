"""The shared build for audio + video caches (CREMA-D, AVE, Kinetics-Sounds, VGGSound).

Every clip becomes one log-STFT (float16) and one frame per second of video (uint8), chosen by
the recipe's frame rule (:data:`g2d_lite.data.video.FRAME_RULES`). Cache layout::

    audio.npy         (N, F, T) float16  log(|STFT| + 1e-7)
    frames.npy        (sum of frame counts, H, W, 3) uint8, clip after clip
    frame_counts.npy  (N,) int64         frames stored per clip
    labels.npy        (N,) int64
    index.csv         row,key,label       the clip behind each row
    splits/<scheme>_<split>.npy           row indices, split in train/validation/test
    meta.json         recipe, sources, counts, skipped clips with reasons, file checksums
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from g2d_lite.data.audio import SilentAudio, log_stft, loop_to_length, read_wav, resample
from g2d_lite.data.cache import (
    BuildError,
    Shard,
    ShardedBuild,
    Skipped,
    error_reason,
    file_is_lfs_pointer,
    file_sha256,
    read_meta,
)
from g2d_lite.data.paths import resolve_root
from g2d_lite.data.prepare.common import (
    LFS_REASON,
    Summary,
    available_cores,
    check_split_sizes,
    chunked,
    refuse_empty,
    repair_notes,
    run_shards,
)
from g2d_lite.data.splits import stratified_split
from g2d_lite.data.synthetic import memory_bytes
from g2d_lite.data.video import (
    FRAME_RULES,
    VIDEO_ERRORS,
    decode_audio,
    frames_per_second,
    segment_centres,
    still_image,
)

# A split scheme: split name -> cache rows.
Scheme = dict[str, np.ndarray]
TOO_FEW_FRAMES = "too few frames"
_KEPT = re.compile(rf"{TOO_FEW_FRAMES}: (\d+) kept")


@dataclass(frozen=True)
class AudioRecipe:
    """Waveform -> fixed-length log-STFT."""

    sample_rate: int
    seconds: float
    n_fft: int
    hop: int

    @property
    def length(self) -> int:
        return round(self.sample_rate * self.seconds)

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_fft // 2 + 1, 1 + self.length // self.hop


@dataclass(frozen=True)
class ClipRecipe:
    """How one clip is turned into cache rows."""

    audio: AudioRecipe
    frame_size: tuple[int, int]
    frames_per_clip: int | None  # None keeps every frame the rule gives (CREMA-D)
    frame_rule: str = "official"  # a name in FRAME_RULES


@dataclass(frozen=True)
class Clip:
    """One sample to build: a video, and a WAV file unless the soundtrack is read from video."""

    key: str
    label: int
    video: Path
    audio: Path | None = None
    split: str = ""  # the dataset's own split for this clip, if it has one


def spectrogram(wave: np.ndarray, rate: int, recipe: AudioRecipe) -> np.ndarray:
    """The official front-end: resample, loop to length, clip to +-1, log-STFT; float16."""
    wave = loop_to_length(resample(wave, rate, recipe.sample_rate), recipe.length)
    wave = np.clip(wave, -1.0, 1.0)
    return log_stft(torch.from_numpy(wave), recipe.n_fft, recipe.hop).numpy().astype(np.float16)


class ClipError(Exception):
    """A clip that cannot go into the cache; the message is the reason reported for it."""


def _clip_reason(prefix: str, error: BaseException, clip: Clip, root: Path) -> str:
    """:func:`error_reason` with the clip's files named relative to ``root`` (--root): decoders
    quote a path as given, and an absolute --root would put absolute paths into meta.json."""
    reason = error_reason(prefix, error)
    for path in (clip.video, clip.audio):
        if path is not None:
            reason = reason.replace(str(path), os.path.relpath(path, root))
    return reason


def _clip_arrays(clip: Clip, recipe: ClipRecipe, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """One clip's spectrogram and frames, or a :class:`ClipError` saying what is wrong."""
    pointers = [
        p.name for p in (clip.audio, clip.video) if p is not None and file_is_lfs_pointer(p)
    ]
    if pointers:
        raise ClipError(f"{LFS_REASON} ({', '.join(pointers)})")
    image = still_image(clip.video)
    if image is not None:
        raise ClipError(
            f"not a video: {clip.video.name} is a still image ({image}), not a video clip; "
            "remove it or replace it with the real clip"
        )
    try:
        wave, rate = read_wav(clip.audio) if clip.audio else decode_audio(clip.video)
    except SilentAudio as error:
        raise ClipError(f"silent soundtrack: {error}") from error
    except VIDEO_ERRORS as error:
        raise ClipError(_clip_reason("unreadable audio", error, clip, root)) from error
    try:
        frames = frames_per_second(clip.video, recipe.frame_size, recipe.frame_rule)
    except VIDEO_ERRORS as error:
        raise ClipError(_clip_reason("unreadable video", error, clip, root)) from error
    wanted = recipe.frames_per_clip
    if wanted is not None:
        if len(frames) < wanted:
            raise ClipError(f"{TOO_FEW_FRAMES}: {len(frames)} kept at 1 fps, {wanted} needed")
        frames = frames[segment_centres(len(frames), wanted)]
    return spectrogram(wave, rate, recipe.audio), frames


def process_clips(clips: Sequence[Clip], recipe: ClipRecipe, root: Path) -> Shard:
    """Decode one shard of clips (files under ``root``); a clip that fails is recorded as
    skipped with its reason."""
    specs, frames, counts, labels, keys, skipped = [], [], [], [], [], []
    for clip in clips:
        try:
            spec, clip_frames = _clip_arrays(clip, recipe, root)
        except ClipError as error:
            skipped.append(Skipped(clip.key, str(error)))
            continue
        specs.append(spec)
        frames.append(clip_frames)
        counts.append(len(clip_frames))
        labels.append(clip.label)
        keys.append(clip.key)
    height, width = recipe.frame_size
    arrays = {
        "audio": np.stack(specs) if specs else np.zeros((0, *recipe.audio.shape), np.float16),
        "frames": np.concatenate(frames) if frames else np.zeros((0, height, width, 3), np.uint8),
        "frame_counts": np.asarray(counts, dtype=np.int64),
        "labels": np.asarray(labels, dtype=np.int64),
    }
    return Shard(arrays=arrays, keys=keys, skipped=skipped)


def listing_digest(clips: Sequence[Clip]) -> str:
    """A cheap fingerprint of the inputs: every clip's key, label, split, file names and sizes.

    Hashing every video would take longer than decoding them on large sets; sizes catch a
    replaced or re-downloaded file, which is what would make a resumed build inconsistent.
    """
    digest = hashlib.sha256()
    for clip in clips:
        files = [p for p in (clip.video, clip.audio) if p is not None]
        sizes = ",".join(f"{p.name}:{p.stat().st_size}" for p in files)
        digest.update(f"{clip.key}\t{clip.label}\t{clip.split}\t{sizes}\n".encode())
    return digest.hexdigest()


def changed_since_build(clips: Sequence[Clip], root: Path) -> list[str]:
    """Source files modified after the cache was written: a file replaced by one of the same
    size passes the listing's size check, so a rerun that finds nothing to do says so (a
    copy of the release made after the build is newer too, hence a note, not a refusal)."""
    built = (root / "meta.json").stat().st_mtime
    newer = [
        p for clip in clips for p in (clip.video, clip.audio) if p and p.stat().st_mtime > built
    ]
    if not newer:
        return []
    return [
        f"{len(newer)} source file(s) were modified after this cache was built (e.g. "
        f"{newer[0]}); sizes cannot tell a file replaced by one of the same size: if one "
        "was, rebuild with --force"
    ]


def frames_fix(skipped: Sequence[Skipped], wanted: int | None) -> str:
    """The option to change when clips were skipped for too few frames: how many frames the
    longest of them keeps, and the --frames-per-clip that would keep them."""
    kept = [int(match.group(1)) for s in skipped if (match := _KEPT.match(s.reason))]
    if not kept or wanted is None:
        return ""
    return (
        f"{len(kept)} clip(s) keep at most {max(kept)} frame(s) at 1 fps, fewer than "
        f"--frames-per-clip {wanted}; pass --frames-per-clip {max(kept)} or less"
    )


def _built_keys(root: Path, meta: Mapping[str, Any]) -> set[str]:
    """The clips a finished cache was built from: its index.csv rows and its skipped clips
    (bad annotation lines, which name a line and not a clip, left out)."""
    index = root / "index.csv"
    rows = csv.DictReader(io.StringIO(index.read_text())) if index.is_file() else []
    skipped = meta.get("skipped") or []
    listed = {s["key"] for s in skipped if not s["reason"].startswith("bad annotation line")}
    return {row["key"] for row in rows} | listed


def _count(keys: set[str], what: str) -> str:
    named = ", ".join(sorted(keys)[:3]) + (" …" if len(keys) > 3 else "")
    return f"{len(keys)} clip(s) {what} ({named})"


def _changed_files(theirs: Mapping[str, Any], ours: Mapping[str, Any]) -> list[str]:
    """The annotation or split files (recorded by name and SHA-256) whose content changed."""
    changed = []
    for source, files in ours.items():
        recorded = theirs.get(source)
        if isinstance(files, Mapping):
            old = recorded if isinstance(recorded, Mapping) else {}
            changed += [name for name, digest in files.items() if old.get(name) != digest]
    return changed


def _rows_read_the_same(
    meta: Mapping[str, Any], theirs: Mapping[str, Any], ours: Mapping[str, Any], spec: AVBuild
) -> bool:
    """Whether annotation files whose bytes changed still give the cache's clips, classes and
    listing skips (an Excel re-save padding "cat" to "cat ", which the rows trim): only the
    clip datasets' ``annotations`` may differ, since CREMA-D's split CSVs decide splits that
    the clip digest does not hold. A clip's own skips (decoding) are left out of the match."""
    others = {key for key in {*theirs, *ours} if theirs.get(key) != ours.get(key)}
    if others != {"annotations"} or meta.get("class_names") != list(spec.class_names):
        return False
    clip_keys = {clip.key for clip in spec.clips}
    recorded = [Skipped(**s) for s in meta.get("skipped") or []]
    listing = list(spec.listing_skipped)
    unmatched = [s for s in recorded if s.key not in clip_keys]
    return unmatched == [s for s in listing if s.key not in clip_keys] and all(
        s in recorded for s in listing if s.key in clip_keys
    )


def check_same_listing(root: Path, identity: Mapping[str, Any], spec: AVBuild) -> Mapping[str, Any]:
    """Refuse a rebuild from a changed clip list in words (which annotation file changed, which
    clips were added or removed) rather than by the identity's internal digests. Returns the
    identity to build with: the recorded one when the changed files' rows read the same."""
    meta = read_meta(root)
    recorded = meta.get("identity") if meta is not None else None
    ours = json.loads(json.dumps(identity))
    if not isinstance(recorded, Mapping) or any(
        recorded.get(key) != ours[key] for key in ("dataset", "params")
    ):
        return identity  # another dataset or other settings: the build says so itself
    theirs = recorded.get("sources") or {}
    if theirs == ours["sources"]:
        return identity
    if theirs.get("split_csvs") == {} and ours["sources"].get("split_csvs"):
        raise BuildError(
            f"{root} was built without --split-dir, so it has no paper split; to add it, pass "
            "--force (the cache is rebuilt with the official lists), or choose another --out"
        )
    changed = _changed_files(theirs, ours["sources"])
    if _rows_read_the_same(meta, theirs, ours["sources"], spec):
        print(
            f"note: {', '.join(changed)} changed since the build, but its rows read the same "
            "(blanks, quoting or line ends): the cache is current",
            file=sys.stderr,
        )
        return dict(identity, sources=theirs)
    old = _built_keys(root, meta)
    new = {c.key for c in spec.clips} | {
        s.key for s in spec.listing_skipped if not s.reason.startswith("bad annotation line")
    }
    how = [_count(new - old, "added")] if new - old else []
    how += [_count(old - new, "removed")] if old - new else []
    what = f"{', '.join(changed)} changed" if changed else "the clips changed"
    detail = ", ".join(how) or "the same clips, with other labels, splits or video files"
    raise BuildError(
        f"{root} holds a cache built from other sources ({what}: {detail}); pass --force to "
        "rebuild it from these, or choose another --out"
    )


def carve_validation(rows: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> Scheme:
    """Split ``rows`` into train and validation, stratified by label and seeded."""
    validation, train = stratified_split(labels[rows], [fraction], seed)
    return {"train": rows[train], "validation": rows[validation]}


def add_frame_rule_argument(parser: argparse.ArgumentParser) -> None:
    """``--frame-rule``: which frame of each second of video goes into the cache."""
    parser.add_argument(
        "--frame-rule",
        choices=FRAME_RULES,
        default="official",
        help="official (default): every int(fps)-th frame, as the official G2D extraction "
        "(a 60-frame 29.97 fps clip keeps 3); first-of-second: the first frame of each second "
        "by timestamp (the kit's earlier rule; the same clip keeps 2)",
    )


def annotation_sources(files: Sequence[Path]) -> dict[str, str]:
    """SHA-256 of each annotation/split file, by file name, for meta.json."""
    return {path.name: file_sha256(path) for path in files}


@dataclass(frozen=True)
class AVBuild:
    """Everything dataset-specific that the shared build needs."""

    name: str
    class_names: tuple[str, ...]
    recipe: ClipRecipe
    clips: list[Clip]
    listing_skipped: list[Skipped]  # found while listing (missing files, bad names)
    params: dict[str, Any]  # dataset options that change the cache (beyond the recipe)
    sources: dict[str, Any]  # annotation checksums, licence, attribution
    schemes: Callable[[list[str], np.ndarray], tuple[dict[str, Scheme], list[str]]]
    split_hints: Mapping[str, str] | None = None  # why a scheme is absent, and how to add it


def frame_memory(recipe: ClipRecipe, clips_per_shard: int, workers: int) -> int:
    """Bytes of frames a build holds at once: each worker keeps its shard's frames and, for the
    clip it decodes, one frame per second at the source size plus their float copy for the
    resize (counted at the stored size, the least they take). The clip's length is taken to be
    the recipe's audio length."""
    height, width = recipe.frame_size
    seconds = math.ceil(recipe.audio.seconds)
    kept = recipe.frames_per_clip or seconds  # CREMA-D keeps every frame, ~1 per second
    return height * width * 3 * workers * (clips_per_shard * kept + 5 * seconds)


def check_frame_size(recipe: ClipRecipe, clips_per_shard: int, workers: int) -> None:
    """Refuse, before anything is decoded, a --frame-size whose frames cannot fit in memory (a
    typo, 20000 for 200): the build would be killed by the kernel without a word, leaving its
    lock and work folder behind."""
    need, total = frame_memory(recipe, clips_per_shard, workers), memory_bytes()
    if total is None or need <= total:
        return
    height, width = recipe.frame_size
    raise BuildError(
        f"--frame-size {height} {width} makes {height * width * 3 / 1e6:,.0f} MB per frame, about "
        f"{need / 2**30:,.0f} GiB while decoding ({workers} worker(s), {clips_per_shard} clips a "
        f"shard), more than this machine's {total / 2**30:,.1f} GiB of memory; use e.g. "
        "--frame-size 224 224 (or fewer --workers, a smaller --shard-size)"
    )


def build_av_cache(spec: AVBuild, args: argparse.Namespace) -> Summary:
    """Build (or resume, or confirm) an audio + video cache and return its summary."""
    if not spec.clips:
        first = "; ".join(f"{s.key}: {s.reason}" for s in spec.listing_skipped[:3])
        why = (
            f"{len(spec.listing_skipped)} listed clips unusable, first: {first}"
            if spec.listing_skipped
            else f"no media files found under {args.root}"
        )
        raise BuildError(
            f"{spec.name}: no clips to build from ({why}); check that --root is the release "
            "folder with its media (and, for a git checkout, that `git lfs pull` fetched them)"
        )
    clips_per_shard = min(args.shard_size, len(spec.clips))
    shards = math.ceil(len(spec.clips) / clips_per_shard)
    workers = min(args.workers, available_cores(), shards)
    check_frame_size(spec.recipe, clips_per_shard, workers)
    root = resolve_root(spec.name, args.out)
    params = dict(spec.params, recipe=asdict(spec.recipe))
    identity = {
        "dataset": spec.name,
        "params": params,
        "sources": dict(spec.sources, clips_sha256=listing_digest(spec.clips)),
    }
    if not args.force:
        identity = check_same_listing(root, identity, spec)
    build = ShardedBuild(root, identity, args.shard_size, force=args.force, verify=args.verify)
    if build.complete:
        notes = changed_since_build(spec.clips, root)
        return Summary(spec.name, root, build.meta, 0.0, notes=notes, verified=args.verify)
    chunks = chunked(spec.clips, args.shard_size)
    work = partial(process_clips, recipe=spec.recipe, root=args.root)
    counts = run_shards(
        build, chunks, work, desc=spec.name, progress=not args.no_progress, workers=args.workers
    )
    shards = [build.read_shard(i) for i in range(len(chunks))]
    found = [k for shard in shards for k in shard.keys]
    if not found:
        skipped = spec.listing_skipped + [s for shard in shards for s in shard.skipped]
        build.abandon()
        fix = frames_fix(skipped, spec.recipe.frames_per_clip)
        refuse_empty(spec.name, len(spec.clips) + len(spec.listing_skipped), skipped, fix)
    labels = np.concatenate([shard.arrays["labels"] for shard in shards])
    schemes, notes = spec.schemes(found, labels)
    for scheme, splits in schemes.items():  # before any cache file is written
        check_split_sizes(
            {s: len(r) for s, r in splits.items()}, f"{spec.name} {scheme}", args.allow_empty
        )
    result = build.consolidate(len(chunks))
    index = io.StringIO()
    writer = csv.writer(index, lineterminator="\n")  # quotes class names holding commas
    writer.writerow(["row", "key", "label"])
    writer.writerows(
        [row, key, spec.class_names[label]]
        for row, (key, label) in enumerate(zip(result.keys, labels, strict=True))
    )
    build.save_text("index.csv", index.getvalue())
    for scheme, splits in schemes.items():
        for split, rows in splits.items():
            build.save_array(f"splits/{scheme}_{split}.npy", np.sort(rows).astype(np.int64))
    skipped = spec.listing_skipped + result.skipped
    meta = build.finish(
        {
            "dataset": spec.name,
            "params": params,
            "sources": identity["sources"],
            "class_names": list(spec.class_names),
            "audio_shape": list(spec.recipe.audio.shape),
            "samples": len(result.keys),
            "skipped": [vars(s) for s in skipped],
            "split_schemes": sorted(schemes),
            "split_hints": dict(spec.split_hints or {}),
            "splits": {
                f"{scheme}": {s: len(r) for s, r in splits.items()}
                for scheme, splits in schemes.items()
            },
            "notes": notes,
        }
    )
    notes = repair_notes(build) + notes
    return Summary(spec.name, root, meta, seconds=0.0, shards=counts, notes=notes)
