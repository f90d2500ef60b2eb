"""Build the CREMA-D cache from the official release (AudioWAV/*.wav + VideoFlash/*.flv)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
from g2d_lite.data.prepare.clips import VIDEO_SUFFIXES
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
from g2d_lite.data.splits import stratified_split
from g2d_lite.errors import OneLineParser

# The official code's label order: {NEU: 0, HAP: 1, SAD: 2, FEA: 3, DIS: 4, ANG: 5}.
EMOTIONS = ("NEU", "HAP", "SAD", "FEA", "DIS", "ANG")
CLASS_NAMES = ("neutral", "happy", "sad", "fear", "disgust", "anger")
# 22,050 Hz, 3 s, n_fft 512, hop 353 -> 257 x 188, as the official CremadDataset.
AUDIO = AudioRecipe(sample_rate=22050, seconds=3.0, n_fft=512, hop=353)
NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")  # actor_sentence_emotion_level
SPLIT_CSVS = ("train.csv", "test.csv")
SPLIT_DIR_URL = "https://github.com/rAIson-Lab/G2D/tree/main/data/CREMAD"
LICENCE = (
    "Open Database License 1.0 (database) and Database Contents License 1.0 (contents); "
    "Cao et al., CREMA-D: Crowd-sourced Emotional Multimodal Actors Dataset, IEEE TAC 2014"
)

DESCRIPTION = f"""\
Build the CREMA-D cache (audio log-STFT + one video frame per second) from the official release.

CREMA-D: 7,442 clips of 91 actors speaking 12 sentences with 6 emotions (Cao et al., IEEE
TAC 2014; ODbL 1.0 / DbCL 1.0). Get it with git lfs from
https://github.com/CheyneyComputerScience/CREMA-D; --root is that folder (it holds
AudioWAV/ and VideoFlash/).

Recipe (the official code's): audio resampled to 22,050 Hz, tiled to 3 s, clipped to +-1,
log(|STFT| + 1e-7) with n_fft 512, hop 353 -> 257 x 188 (float16); every int(fps)-th video frame
(the official video2frame_update rule; --frame-rule) resized to --frame-size (uint8). The loader
then shows one of them per clip, chosen as the official loader does (np.random.seed(999), then
np.random.choice over the frames present). Labels NEU HAP SAD FEA DIS ANG -> 0..5.

Splits: "paper" = the official train.csv (6,698) / test.csv (744), with a stratified, seeded
validation part carved from train; needs --split-dir with those two CSVs from
{SPLIT_DIR_URL}.
"stratified" = a seeded split by sample, stratified by emotion (actors are shared, as in the
paper split), --val-fraction / --test-fraction of the clips.
"""


def _media(folder: Path, suffix: str) -> dict[str, Path]:
    """The files of ``folder`` ending in ``suffix`` in any case, by stem: copies from Windows or
    FAT media often end in .FLV or .WAV, and are the same clips."""
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() == suffix)
    return {p.stem: p for p in found}  # x.flv, sorted after x.FLV, wins over it


OTHER_VIDEOS = tuple(suffix for suffix in VIDEO_SUFFIXES if suffix != ".flv")
READS_FLV = "this build reads the release's .flv files; put those in VideoFlash/"


def _other_videos(folder: Path, flvs: Mapping[str, Path]) -> dict[str, Path]:
    """Videos in ``folder`` that are not .flv (a copy re-encoded as .mp4), by stem; a folder
    holding only those is refused, since every clip would read as missing (and the advice for
    missing media, `git lfs pull`, would send the user the wrong way)."""
    found = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in OTHER_VIDEOS}
    if found and not flvs:
        kinds = ", ".join(sorted({p.suffix for p in found.values()}))
        raise BuildError(
            f"{folder} holds {len(found)} {kinds} file(s) and no .flv: {READS_FLV} (the "
            "CREMA-D release's VideoFlash/, e.g. `git lfs pull` in a clone of it)"
        )
    return found


def list_clips(root: Path) -> tuple[list[Clip], list[Skipped]]:
    """Every clip of the release with both files, and the ones left out with reasons."""
    audio_dir, video_dir = root / "AudioWAV", root / "VideoFlash"
    missing = [f"{d.name}/" for d in (audio_dir, video_dir) if not d.is_dir()]
    if missing:
        raise BuildError(
            f"CREMA-D folder {root} has no {' and no '.join(missing)} folder: pass --root the "
            "CREMA-D release folder (git clone of CheyneyComputerScience/CREMA-D, with git lfs), "
            "which holds both AudioWAV/ and VideoFlash/"
        )
    wavs, flvs = _media(audio_dir, ".wav"), _media(video_dir, ".flv")
    others = _other_videos(video_dir, flvs)
    clips, skipped = [], []
    for key in sorted(wavs.keys() | flvs.keys()):
        match = NAME.match(key)
        if match is None or match.group(3) not in EMOTIONS:
            skipped.append(
                Skipped(
                    key,
                    "unrecognised file name: expected actor_sentence_"
                    f"emotion_level with an emotion in {EMOTIONS}",
                )
            )
        elif key not in wavs:
            skipped.append(Skipped(key, f"missing audio: no AudioWAV/{key}.wav"))
        elif key not in flvs:
            there = (
                f" (VideoFlash/{others[key].name} is there: {READS_FLV})" if key in others else ""
            )
            skipped.append(Skipped(key, f"missing video: no VideoFlash/{key}.flv{there}"))
        else:
            label = EMOTIONS.index(match.group(3))
            clips.append(Clip(key=key, label=label, video=flvs[key], audio=wavs[key]))
    return clips, skipped


@dataclass(frozen=True)
class ListedClip:
    """One row of an official split CSV: where it is, the clip id and its label column."""

    line: int
    key: str
    emotion: str  # the official CremadDataset's label (class_dict[item[1]]); "" if absent


def read_split_csv(path: Path) -> list[ListedClip]:
    """The rows of an official split CSV (``id,EMOTION`` rows, no header, CRLF or LF)."""
    rows = []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if line.strip():
            key, _, rest = line.partition(",")
            rows.append(ListedClip(n, key.strip(), rest.split(",")[0].strip()))
    return rows


def check_split_csvs(csvs: dict[str, list[ListedClip]], keys: Sequence[str], folder: Path) -> None:
    """Refuse, before anything is built, split lists that name none of the clips (another
    dataset's lists, or a header-only file), list a clip twice (a repeated clip would be trained
    on twice, or land in train and validation both), leak training clips into test, or give a
    clip another emotion than its file name (the official loader takes the CSV's label, the kit
    the file name's: the two would train on different labels)."""
    found = set(keys)
    for split, listed in csvs.items():
        first, *rest = listed or [None]
        named = first is not None and any(NAME.match(row.key) for row in rest)
        if named and NAME.match(first.key) is None and first.emotion not in EMOTIONS:
            raise BuildError(
                f"{folder / f'{split}.csv'}:{first.line} looks like a header "
                f"({first.key},{first.emotion}): the official lists have none, and it would be "
                "read as a clip; delete that line"
            )
        if found and listed and not found.intersection(r.key for r in listed):
            raise BuildError(
                f"{folder / f'{split}.csv'} names none of the {len(keys)} clips found (its first "
                f"row is {listed[0].key!r}; rows look like {keys[0]},{keys[0].split('_')[2]}); "
                f"use the official lists from {SPLIT_DIR_URL}"
            )
    for split, listed in csvs.items():
        lines: dict[str, list[int]] = {}
        for row in listed:
            lines.setdefault(row.key, []).append(row.line)
        repeated = {key: at for key, at in lines.items() if len(at) > 1}
        if repeated:
            key, at = next(iter(repeated.items()))
            raise BuildError(
                f"{folder / f'{split}.csv'} lists {len(repeated)} clips more than once (e.g. "
                f"{key} on lines {', '.join(map(str, at))}), so they would count twice and could "
                "land in train and validation both; remove the repeated lines, or use the "
                f"official lists from {SPLIT_DIR_URL}"
            )
    both = sorted({r.key for r in csvs["train"]} & {r.key for r in csvs["test"]})
    if both:
        raise BuildError(
            f"{len(both)} clips are listed in both {folder / 'train.csv'} and test.csv (e.g. "
            f"{', '.join(both[:3])}): the test split would hold training clips; use the official "
            f"lists from {SPLIT_DIR_URL}"
        )
    wrong = [
        (split, row, match.group(3))
        for split, listed in csvs.items()
        for row in listed
        if (match := NAME.match(row.key)) is not None and row.emotion != match.group(3)
    ]
    if wrong:
        split, row, named = wrong[0]
        label = f"is labelled {row.emotion!r}" if row.emotion else "has no label column"
        raise BuildError(
            f"{folder / f'{split}.csv'}:{row.line}: {row.key} {label}, its "
            f"file name says {named} ({len(wrong)} rows of the split CSVs disagree with their "
            "file names); the official loader takes the label from this column and the kit from "
            "the file name, so they would train on different labels: correct the lists, or use "
            f"the official ones from {SPLIT_DIR_URL}"
        )


def paper_scheme(
    keys: Sequence[str], labels: np.ndarray, csvs: dict[str, list[str]], fraction: float, seed: int
) -> tuple[Scheme, list[str]]:
    """The official train/test lists mapped to cache rows, validation carved from train."""
    row = {key: i for i, key in enumerate(keys)}
    rows, notes = {}, []
    for split, listed in csvs.items():
        absent = [k for k in listed if k not in row]
        if absent:
            notes.append(
                f"paper split: {len(absent)} {split} clips listed in the official CSV "
                f"are not in the cache (missing or unreadable), e.g. {absent[:3]}"
            )
        rows[split] = np.asarray([row[k] for k in listed if k in row], dtype=np.int64)
    unlisted = len(keys) - len(rows["train"]) - len(rows["test"])
    if unlisted:
        notes.append(f"paper split: {unlisted} cached clips are in neither official CSV")
    return {**carve_validation(rows["train"], labels, fraction, seed), "test": rows["test"]}, notes


def stratified_scheme(labels: np.ndarray, val: float, test: float, seed: int) -> Scheme:
    """A seeded split by sample, stratified by emotion."""
    validation, test_rows, train = stratified_split(labels, [val, test], seed)
    return {"train": train, "validation": validation, "test": test_rows}


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m g2d_lite.data.prepare cremad",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--root",
        type=user_path,
        required=True,
        help="the CREMA-D release folder (holds AudioWAV/ and VideoFlash/)",
    )
    p.add_argument(
        "--split-dir",
        type=user_path,
        default=None,
        help=f"folder with the official train.csv and test.csv ({SPLIT_DIR_URL}); "
        "without it only the 'stratified' split is built",
    )
    p.add_argument(
        "--frame-size",
        type=positive,
        nargs=2,
        default=(256, 341),
        metavar=("H", "W"),
        help="stored frame size (default: 256 341, short side 256 at CREMA-D's 4:3)",
    )
    p.add_argument(
        "--val-fraction",
        type=fraction,
        default=0.1,
        help="validation share: of paper-train, and of all clips for 'stratified'",
    )
    p.add_argument(
        "--test-fraction",
        type=fraction,
        default=0.1,
        help="test share of all clips for the 'stratified' split",
    )
    p.add_argument("--seed", type=natural, default=0, help="seed of the split draws")
    add_frame_rule_argument(p)
    add_common_arguments(p, "cremad", shard_size=64, parallel=True)
    return p


def build(args: argparse.Namespace) -> Summary:
    """Check the inputs, then build or resume the cache."""
    if args.val_fraction + args.test_fraction >= 1:  # before hours of decoding, not after
        raise BuildError(
            f"--val-fraction {args.val_fraction:g} + --test-fraction {args.test_fraction:g} = "
            f"{args.val_fraction + args.test_fraction:g}: they must sum to less than 1, to leave "
            "clips for the train split"
        )
    require_folder(
        args.root,
        f"CREMA-D folder not found: {args.root}; pass --root the release folder holding "
        "AudioWAV/ and VideoFlash/",
    )
    listed: dict[str, list[ListedClip]] = {}
    if args.split_dir is not None:
        paths = [args.split_dir / name for name in SPLIT_CSVS]
        if not all(p.is_file() for p in paths):
            raise BuildError(
                f"--split-dir {args.split_dir} must hold train.csv and test.csv "
                f"(download them from {SPLIT_DIR_URL})"
            )
        listed = {"train": read_split_csv(paths[0]), "test": read_split_csv(paths[1])}
    clips, skipped = list_clips(args.root)
    if listed:
        check_split_csvs(listed, [c.key for c in clips], args.split_dir)
    csvs = {split: [row.key for row in rows] for split, rows in listed.items()}

    def schemes(keys: list[str], labels: np.ndarray) -> tuple[dict[str, Scheme], list[str]]:
        out = {
            "stratified": stratified_scheme(
                labels, args.val_fraction, args.test_fraction, args.seed
            )
        }
        notes: list[str] = []
        if csvs:
            out["paper"], notes = paper_scheme(keys, labels, csvs, args.val_fraction, args.seed)
        return out, notes

    split_files = [args.split_dir / n for n in SPLIT_CSVS] if csvs else []
    spec = AVBuild(
        name="cremad",
        class_names=CLASS_NAMES,
        recipe=ClipRecipe(
            AUDIO, tuple(args.frame_size), frames_per_clip=None, frame_rule=args.frame_rule
        ),
        clips=clips,
        listing_skipped=skipped,
        params={
            "val_fraction": args.val_fraction,
            "test_fraction": args.test_fraction,
            "seed": args.seed,
        },
        sources={"split_csvs": annotation_sources(split_files), "licence": LICENCE},
        schemes=schemes,
        split_hints={
            "paper": "Rebuild with --split-dir pointing to the official train.csv and "
            f"test.csv ({SPLIT_DIR_URL}) to add the paper split."
        },
    )
    return build_av_cache(spec, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point (``python -m g2d_lite.data.prepare cremad``)."""
    return run_main(parser(), build, argv, lambda args: resolve_root("cremad", args.out))
