"""Build AVE, Kinetics-Sounds or VGGSound caches from a folder of clips and the label lists.

One path for all three: every clip (any container FFmpeg reads, with a soundtrack) gives a 10 s
log-STFT of its audio and 3 frames picked at segment centres among its frames kept at one per
second (``--frame-rule``). Only the label lists differ, and each dataset's own annotation format
is read as published. A video listed more than once with different labels (45 in AVE's lists)
is left out or kept at its first listing (``--duplicates``, :data:`DUPLICATE_POLICIES`).
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import io
import math
import os
import posixpath
import re
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from g2d_lite.data.base import SPLITS
from g2d_lite.data.cache import BuildError, Skipped
from g2d_lite.data.paths import resolve_root
from g2d_lite.data.prepare.avcache import (
    AudioRecipe,
    AVBuild,
    Clip,
    ClipRecipe,
    Scheme,
    add_frame_rule_argument,
    annotation_sources,
    build_av_cache,
    carve_validation,
)
from g2d_lite.data.prepare.common import (
    Summary,
    add_common_arguments,
    fraction,
    natural,
    positive,
    read_text,
    require_folder,
    run_main,
    user_path,
)
from g2d_lite.errors import OneLineParser

# G2D's VGGSound front-end, used for all three (G2D has no AVE or KS loader): 16 kHz, n_fft 256,
# hop 128. 10 s are stored (129 x 1251); loaders show a 5 s window (129 x 626).
AUDIO = AudioRecipe(sample_rate=16000, seconds=10.0, n_fft=256, hop=128)
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".flv")
# The 31-class version peers use; my_train.txt / my_test.txt label indices point into it.
KS_CLASSES = (
    "blowing_nose",
    "blowing_out_candles",
    "bowling",
    "chopping_wood",
    "dribbling_basketball",
    "laughing",
    "mowing_lawn",
    "playing_accordion",
    "playing_bagpipes",
    "playing_bass_guitar",
    "playing_clarinet",
    "playing_drums",
    "playing_guitar",
    "playing_harmonica",
    "playing_keyboard",
    "playing_organ",
    "playing_piano",
    "playing_saxophone",
    "playing_trombone",
    "playing_trumpet",
    "playing_violin",
    "playing_xylophone",
    "ripping_paper",
    "shoveling_snow",
    "shuffling_cards",
    "singing",
    "stomping_grapes",
    "tap_dancing",
    "tapping_guitar",
    "tapping_pen",
    "tickling",
)
# What to do with a video listed more than once with different labels or splits.
DUPLICATE_POLICIES: tuple[str, ...] = ("drop", "first")
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "validation",
    "valid": "validation",
    "validation": "validation",
    "dev": "validation",
    "development": "validation",
    "test": "test",
    "testing": "test",
}


@dataclass(frozen=True)
class Row:
    """One annotated clip: its key, class name, split, and file names it may have."""

    key: str
    label: str
    split: str
    stems: tuple[str, ...]


Rows = tuple[list[Row], list[Skipped]]


def _lines(path: Path) -> list[tuple[int, str]]:
    text = read_text(path)
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def ave_rows(folder: Path) -> Rows:
    """AVE's trainSet.txt / valSet.txt / testSet.txt: ``Category&VideoID&Quality&Start&End``."""
    rows, bad = [], []
    for split, name in (
        ("train", "trainSet.txt"),
        ("validation", "valSet.txt"),
        ("test", "testSet.txt"),
    ):
        for n, line in _lines(folder / name):
            fields = line.split("&")
            if len(fields) >= 2 and fields[1] == "VideoID":
                continue  # header line
            if len(fields) < 2 or not fields[1]:
                bad.append(Skipped(f"{name}:{n}", f"bad annotation line: {line[:80]!r}"))
                continue
            rows.append(Row(fields[1], fields[0], split, (fields[1],)))
    return rows, bad


def kinetics_sounds_rows(folder: Path) -> Rows:
    """OGM-GE's my_train.txt / my_test.txt: ``<youtube id>_<start>,<duration>,<class index>``."""
    rows, bad = [], []
    for split, name in (("train", "my_train.txt"), ("test", "my_test.txt")):
        for n, line in _lines(folder / name):
            fields = line.split(",")
            try:
                clip, duration, index = fields[0], int(fields[1]), int(fields[2])
            except (IndexError, ValueError):
                bad.append(Skipped(f"{name}:{n}", f"bad annotation line: {line[:80]!r}"))
                continue
            if not 0 <= index < len(KS_CLASSES):  # -1 (an "unknown" marker) is no class either
                reason = f"class index {index} is outside 0..{len(KS_CLASSES) - 1}"
                bad.append(Skipped(f"{name}:{n}", f"bad annotation line: {line[:80]!r}: {reason}"))
                continue
            label = KS_CLASSES[index]
            youtube_id, _, start = clip.rpartition("_")
            stems = (clip,)
            if start.isdigit():  # the Kinetics release names clips <id>_<start>_<end> (6 digits)
                stems += (f"{youtube_id}_{int(start):06d}_{int(start) + duration:06d}",)
            rows.append(Row(clip, label, split, stems))
    return rows, bad


def _unclosed_quote(path: Path, line: int) -> BuildError:
    return BuildError(
        f"{path}:{line}: a quote opened here is never closed (the rest of the file reads as one "
        'field); remove the stray " or close it'
    )


def csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Each record of a CSV file with the line it starts on. A stray quote that is never closed
    is refused naming its line: the csv module would read the rest of the file as one field
    (a bad line holding the whole list, or "field larger than field limit")."""
    records = csv.reader(io.StringIO(read_text(path), newline=""))
    start = 1
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except csv.Error:  # the open field ran past the csv module's size limit
            raise _unclosed_quote(path, start) from None
        if any("\n" in field or "\r" in field for field in record):
            raise _unclosed_quote(path, start)
        yield start, record
        start = records.line_num + 1


def vggsound_rows(folder: Path) -> Rows:
    """vggsound.csv: ``youtube_id,start_seconds,label,split`` (a header row is optional)."""
    rows, bad = [], []
    for n, fields in csv_records(folder / "vggsound.csv"):
        if len(fields) >= 4 and not fields[1].strip().isdigit() and n == 1:
            continue  # header
        if len(fields) < 4 or not fields[1].strip().isdigit():
            bad.append(Skipped(f"vggsound.csv:{n}", f"bad annotation line: {fields!r:.80}"))
            continue
        youtube_id, start = fields[0].strip(), int(fields[1])
        key = f"{youtube_id}_{start:06d}"
        stems = (key, f"{youtube_id}_{start}", f"{key}_{start + 10:06d}")
        rows.append(Row(key, fields[2].strip(), fields[3].strip(), stems))
    return rows, bad


def clip_stem(name: str) -> str:
    """``name`` without a known video extension: the clip column takes file-name stems, and a
    file name there (``clip00.mp4``) means the same clip, not a missing one."""
    stem, dot, extension = name.rpartition(".")
    return stem if dot and stem and f".{extension.lower()}" in VIDEO_SUFFIXES else name


def _under_root(clip: str, root: Path, where: str) -> str:
    """A path in the clip column as its path under ``root``: the clip is found by its file
    name under --root, so a path elsewhere (absolute, or relative with ``..`` leading out of
    --root) would silently build another file of that name and put that path into index.csv.
    Relative names inside --root are returned as they are (linked-in folders stay inside)."""
    if os.path.isabs(clip):
        try:
            return Path(clip).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    elif posixpath.normpath(clip.replace("\\", "/")).split("/")[0] != "..":
        return clip
    raise BuildError(
        f"{where} names {clip}, which is not under --root {root}; give paths relative to "
        "--root (or the clip's file name), or pass --root the folder that holds it"
    )


def csv_rows(path: Path, root: Path | None = None) -> Rows:
    """A generic list: CSV with a ``clip,label,split`` header (names in any case, spaces
    around them allowed); clip is the file name stem (or the file name, see :func:`clip_stem`,
    or its path under ``root``, --root). A row short of one of the three, or with it empty, or
    with more fields than the header (which of them counts?), is a bad annotation line, like
    a damaged line of the datasets' own lists."""
    records = csv_records(path)
    first = next(records, (1, []))[1]
    header = [name.strip().lower() for name in first]  # "clip, label, split" and "Clip" too
    columns = {name: header.index(name) for name in ("clip", "label", "split") if name in header}
    if len(columns) < 3:
        raise BuildError(
            f"{path} must be a CSV with a header clip,label,split; its first line is {first!r}"
        )
    rows, bad = [], []
    for n, record in records:
        if not record:
            continue  # a blank line
        fields = {name: record[i].strip() for name, i in columns.items() if i < len(record)}
        missing = [name for name in columns if not fields.get(name)]
        extra = [field for field in record[len(header) :] if field.strip()]
        if missing or extra:  # half-written, or a field too many (an unquoted comma?)
            line = ",".join(record)[:80]
            why = (
                f"no {' and no '.join(missing)}"
                if missing
                else f"{len(record)} fields for the header's {len(header)} (quote a comma)"
            )
            bad.append(Skipped(f"{path.name}:{n}", f"bad annotation line: {line!r}: {why}"))
            continue
        clip = fields["clip"] if root is None else _under_root(fields["clip"], root, f"{path}:{n}")
        # a path under --root (vids/dog00.mp4, ./dog00, an absolute one) is its file name, the
        # clip's key: two spellings of one file are one clip, so their listings are compared
        name = re.split(r"[\\/]", clip_stem(clip))[-1]
        rows.append(Row(name, fields["label"], fields["split"], (name,)))
    return rows, bad


@dataclass(frozen=True)
class DatasetFormat:
    """A dataset's annotation files, their parser, class list and provenance."""

    files: tuple[str, ...]
    parse: Callable[[Path], Rows]
    classes: tuple[str, ...] | None  # None: sorted class names found in the annotations
    about: str


FORMATS = {
    "ave": DatasetFormat(
        ("trainSet.txt", "valSet.txt", "testSet.txt"),
        ave_rows,
        None,
        "AVE (Tian et al., ECCV 2018): 4,143 ten-second YouTube clips, 28 event classes, "
        "official split 3,339 / 402 / 402 (trainSet/valSet/testSet.txt). 45 videos are listed "
        "two or three times with different labels (91 listings): --duplicates drop (default) "
        "leaves them out, giving 3,268 / 390 / 394; first keeps each one's first listing "
        "(trainSet before valSet before testSet), 45 clips more. Download the "
        "AVE_Dataset zip linked from github.com/YapengTian/AVE-ECCV18 (videos in AVE/); "
        "no licence is stated (YouTube-derived). Classes: the 28 category names, sorted "
        "(as OGM-GE).",
    ),
    "kinetics_sounds": DatasetFormat(
        ("my_train.txt", "my_test.txt"),
        kinetics_sounds_rows,
        KS_CLASSES,
        "Kinetics-Sounds: a sound-relevant 31-class subset of Kinetics-400; clip lists "
        "my_train.txt (14,799) / my_test.txt (2,597) from github.com/GeWu-Lab/OGM-GE_CVPR2022 "
        "(data/KineticSound), class index -> name in the order of BML's KS.json (alphabetical). "
        "Videos from github.com/cvdfoundation/kinetics-dataset (annotations CC BY 4.0, videos "
        "YouTube). Validation is carved from train.",
    ),
    "vggsound": DatasetFormat(
        ("vggsound.csv",),
        vggsound_rows,
        None,
        "VGGSound (Chen et al., ICASSP 2020): ~200k ten-second YouTube clips, 309 classes; "
        "vggsound.csv (youtube_id,start,label,split; train/test) from "
        "www.robots.ox.ac.uk/~vgg/data/vggsound/ (annotations CC BY 4.0). Clips named "
        "<youtube_id>_<start, 6 digits>.mp4. Classes sorted by name. Validation is carved "
        "from train.",
    ),
}

DESCRIPTION = """\
Build an AVE, Kinetics-Sounds or VGGSound cache: audio log-STFT + video frames.

Every clip's soundtrack is decoded (PyAV), resampled to 16 kHz, tiled to 10 s, clipped to +-1
and turned into log(|STFT| + 1e-7) with n_fft 256, hop 128 (129 x 1251, float16; loaders show
5 s windows, 129 x 626, as G2D's VGGSound loader). One frame per second is taken (--frame-rule;
by default every int(fps)-th frame, as the official extraction) and --frames-per-clip of them
kept at segment centres, resized to --frame-size (uint8). A video listed twice with different
labels is left out (--duplicates drop) or kept as first listed (--duplicates first).
--root is searched recursively for clips; --annotations holds the dataset's own label files.
"""


def parser() -> argparse.ArgumentParser:
    epilog = "datasets:\n" + "\n".join(
        textwrap.fill(
            f"{name}: {fmt.about} Annotation files: {', '.join(fmt.files)}.",
            width=92,
            initial_indent="  ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
        for name, fmt in FORMATS.items()
    )
    p = OneLineParser(
        prog="python -m g2d_lite.data.prepare clips",
        description=DESCRIPTION,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", required=True, choices=sorted(FORMATS))
    p.add_argument(
        "--root",
        type=user_path,
        required=True,
        help="folder of clips, searched recursively (AVE: the AVE_Dataset folder)",
    )
    p.add_argument(
        "--annotations",
        type=user_path,
        default=None,
        help="folder with the dataset's annotation files (default: --root)",
    )
    p.add_argument(
        "--labels",
        type=user_path,
        default=None,
        help="use this CSV (header clip,label,split; clip: the file name or its stem) instead "
        "of the annotation files",
    )
    p.add_argument("--frames-per-clip", type=positive, default=3, help="frames kept per clip")
    p.add_argument(
        "--frame-size",
        type=positive,
        nargs=2,
        default=(224, 224),
        metavar=("H", "W"),
        help="stored frame size (default: 224 224)",
    )
    p.add_argument(
        "--val-fraction",
        type=fraction,
        default=0.1,
        help="validation share carved from train when the dataset has no validation "
        "split (default: %(default)s)",
    )
    p.add_argument("--seed", type=natural, default=0, help="seed of the validation draw")
    p.add_argument(
        "--duplicates",
        choices=DUPLICATE_POLICIES,
        default="drop",
        help="a video listed more than once with different labels or splits: drop (default) "
        "leaves it out, first keeps its first listing; both are reported in meta.json",
    )
    add_frame_rule_argument(p)
    add_common_arguments(p, "<dataset>", shard_size=32, parallel=True)
    return p


def _files_under(root: Path) -> Iterator[Path]:
    """Every file under ``root``, following linked folders (scratch disks linked in, which
    ``Path.rglob`` skips) and entering each real folder once, so a link cycle ends."""
    seen: set[str] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders.clear()
            continue
        seen.add(real)
        yield from (Path(folder) / name for name in names)


def video_index(root: Path) -> dict[str, tuple[Path, ...]]:
    """Every video file under ``root`` by file-name stem, in sorted order. Byte-identical
    copies count once; a stem with two different files keeps both, so a clip never silently
    takes one of them."""
    index: dict[str, tuple[Path, ...]] = {}
    for path in sorted(_files_under(root)):
        if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file():
            known = index.get(path.stem, ())
            if not any(filecmp.cmp(path, other, shallow=False) for other in known):
                index[path.stem] = (*known, path)
    return index


def check_split_names(rows: Sequence[Row], source: str) -> None:
    """Refuse a split name that is none of :data:`SPLIT_NAMES` before anything is decoded:
    every row using it would be left out, and a validation split written under another name
    would be silently replaced by a carve from train."""
    unknown: dict[str, list[str]] = {}
    for row in rows:
        if row.split.lower() not in SPLIT_NAMES:
            unknown.setdefault(row.split, []).append(row.key)
    if unknown:
        name, keys = next(iter(unknown.items()))
        more = f" (and {len(unknown) - 1} more unknown split name(s))" if len(unknown) > 1 else ""
        raise BuildError(
            f"{len(keys)} row(s) of {source} use split {name!r} (first: {keys[0]}), which is not a "
            f"split name{more}; write train, validation or test there (also read: "
            f"{', '.join(sorted(set(SPLIT_NAMES) - set(SPLITS)))})"
        )


def _missing_video(
    row: Row, videos: Mapping[str, Sequence[Path]], folded: Mapping[str, str]
) -> str:
    """Why no file was found for ``row``, naming a file whose name differs only in case (a list
    written on a case-insensitive disk), which a re-download would not fix; ``folded`` maps
    each casefolded stem of ``videos`` to the stem."""
    near = [folded[s.casefold()] for s in row.stems if s.casefold() in folded]
    hint = f" ({videos[near[0]][0].name} differs only in case: fix the labels file)" if near else ""
    return f"missing video: no file named {' or '.join(row.stems)}{hint}"


def clips_from_rows(
    rows: Sequence[Row],
    classes: Sequence[str],
    videos: Mapping[str, Sequence[Path]],
    duplicates: str = "drop",
    source: str = "the annotations",
) -> tuple[list[Clip], list[Skipped]]:
    """Rows matched to video files; missing files and conflicting listings reported, an
    unknown split name refused (:func:`check_split_names`, naming ``source``).

    A key listed more than once with different labels or splits is left out (``duplicates``
    "drop") or kept at its first listing ("first"); either way each listing not used is in the
    skipped list. Identical repeated listings count once.
    """
    if duplicates not in DUPLICATE_POLICIES:
        raise BuildError(
            f"unknown duplicate policy {duplicates!r}; valid: {', '.join(DUPLICATE_POLICIES)}"
        )
    check_split_names(rows, source)
    by_key: dict[str, list[Row]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    class_index = {name: i for i, name in enumerate(classes)}
    folded = {stem.casefold(): stem for stem in videos}
    clips, skipped = [], []
    for key in sorted(by_key):
        found = by_key[key]
        row = found[0]
        split = SPLIT_NAMES[row.split.lower()]
        files = next((videos[s] for s in row.stems if s in videos), ())
        listings = sorted({f"{r.label}/{r.split}" for r in found})
        if len(listings) > 1 and duplicates == "drop":
            skipped.append(Skipped(key, f"conflicting annotations: {listings}"))
            continue
        if len(listings) > 1:
            kept = f"{row.label}/{row.split}"
            ignored = [listing for listing in listings if listing != kept]
            reason = f"duplicate listings {ignored} ignored; kept the first, {kept}"
            skipped.append(Skipped(key, reason))
        if row.label not in class_index:
            skipped.append(Skipped(key, f"unknown class: {row.label!r}"))
        elif not files:
            skipped.append(Skipped(key, _missing_video(row, videos, folded)))
        elif len(files) > 1:
            common = os.path.commonpath(files)  # relative names: no absolute path in meta.json
            named = ", ".join(os.path.relpath(f, common) for f in files[:3])
            named += " …" if len(files) > 3 else ""
            reason = f"ambiguous video: {len(files)} different files named {files[0].stem} "
            skipped.append(Skipped(key, reason + f"({named}); keep one under --root"))
        else:
            clips.append(Clip(key=key, label=class_index[row.label], video=files[0], split=split))
    return clips, skipped


def official_scheme(
    keys: Sequence[str], labels: np.ndarray, split_of: dict[str, str], fraction: float, seed: int
) -> tuple[Scheme, list[str]]:
    """The dataset's own split; validation carved from train when it has none."""
    rows = {
        s: np.asarray([i for i, k in enumerate(keys) if split_of[k] == s], np.int64) for s in SPLITS
    }
    notes = []
    if len(rows["validation"]) == 0:
        rows.update(carve_validation(rows["train"], labels, fraction, seed))
        notes.append(f"validation: {fraction:.0%} of train, stratified by class (seed {seed})")
    return rows, notes


def check_validation_carve(clips: Sequence[Clip], fraction: float, allow_empty: bool) -> None:
    """Refuse, before any clip is decoded, a validation carve that would take no clip: the
    empty split would otherwise be found only after the whole (hours-long) decode."""
    if allow_empty or any(clip.split == "validation" for clip in clips):
        return
    train = sum(clip.split == "train" for clip in clips)
    if train and round(fraction * train) == 0:
        least = math.floor(50 / train + 1) / 100  # round() halves to even: 0.5 clips is none
        raise BuildError(
            f"--val-fraction {fraction:g} of {train} training clip(s) gives no validation clip; "
            f"pass --val-fraction {least:g} or more, list validation clips in the labels, or "
            "pass --allow-empty"
        )


def _note_near_duplicate_classes(classes: Sequence[str]) -> None:
    """Labels that differ only in case become separate classes: say so, with the classes."""
    groups: dict[str, list[str]] = {}
    for name in classes:
        groups.setdefault(name.casefold(), []).append(name)
    twins = [names for names in groups.values() if len(names) > 1]
    if twins:
        print(
            f"note: labels {', '.join(' and '.join(map(repr, t)) for t in twins[:3])} differ only "
            f"in case, so they are separate classes ({len(classes)} in all: {list(classes)[:12]});"
            " fix the labels file if they are one class",
            file=sys.stderr,
        )


def build(args: argparse.Namespace) -> Summary:
    """Read the label lists, match clips, then build or resume the cache."""
    fmt = FORMATS[args.dataset]
    require_folder(
        args.root,
        f"{args.dataset}: clip folder not found: {args.root}; pass --root the folder holding "
        "the dataset's videos",
    )
    folder = args.annotations or args.root
    if args.labels is not None and args.labels.is_dir():
        raise BuildError(
            f"--labels {args.labels} is a folder; give --labels the CSV file, or pass the folder "
            f"as --annotations (it must hold {', '.join(fmt.files)})"
        )
    files = [args.labels] if args.labels else [folder / name for name in fmt.files]
    absent = [str(p) for p in files if not p.is_file()]
    if absent:
        raise BuildError(
            f"{args.dataset}: annotation files not found: {absent}; pass "
            f"--annotations the folder holding {', '.join(fmt.files)} (or --labels "
            "a CSV with clip,label,split)"
        )
    rows, bad = csv_rows(args.labels, args.root) if args.labels else fmt.parse(folder)
    classes = fmt.classes if fmt.classes and not args.labels else sorted({r.label for r in rows})
    _note_near_duplicate_classes(classes)
    source = ", ".join(p.name for p in files)
    clips, skipped = clips_from_rows(rows, classes, video_index(args.root), args.duplicates, source)
    check_validation_carve(clips, args.val_fraction, args.allow_empty)
    split_of = {clip.key: clip.split for clip in clips}

    def schemes(keys: list[str], labels: np.ndarray) -> tuple[dict[str, Scheme], list[str]]:
        official, notes = official_scheme(keys, labels, split_of, args.val_fraction, args.seed)
        trained = set(np.asarray(labels)[official["train"]].tolist())
        untrained = [name for c, name in enumerate(classes) if c not in trained]
        if untrained:
            notes.append(
                f"classes with no training sample: {untrained[:5]}"
                f"{f' and {len(untrained) - 5} more' if len(untrained) > 5 else ''} (a model "
                "cannot learn them; check the labels file's splits)"
            )
        return {"official": official}, notes

    if args.frames_per_clip < 1:
        raise BuildError(f"--frames-per-clip must be at least 1, got {args.frames_per_clip}")
    spec = AVBuild(
        name=args.dataset,
        class_names=tuple(classes),
        recipe=ClipRecipe(
            AUDIO,
            tuple(args.frame_size),
            frames_per_clip=args.frames_per_clip,
            frame_rule=args.frame_rule,
        ),
        clips=clips,
        listing_skipped=bad + skipped,
        params={
            "val_fraction": args.val_fraction,
            "seed": args.seed,
            "duplicates": args.duplicates,
        },
        sources={"annotations": annotation_sources(files), "about": fmt.about},
        schemes=schemes,
    )
    return build_av_cache(spec, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point (``python -m g2d_lite.data.prepare clips``)."""
    return run_main(parser(), build, argv, lambda args: resolve_root(args.dataset, args.out))
