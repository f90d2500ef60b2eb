"""Build AV-MNIST-lite: MNIST digits paired with noisy spoken digits (FSDD), in G2D's layout.

The recipe (data_scripts/README.md) reproduces the published AV-MNIST imbalance from data
anyone may download: images keep only ``--image-energy`` of their PCA energy (fit on train), and
audio comes from speakers never heard in training, under noise. Cache layout, as the official
AVMNIST loader reads it, plus a validation split::

    image/{train,validation,test}_data.npy   (N, 784) uint8
    audio/{train,validation,test}_data.npy   (N, 112, 112) uint8, log-STFT scaled with train min/max
    {train,validation,test}_labels.npy       (N,) int64
    pairing/{split}_image.npy                index into the MNIST file the split came from
    pairing/{split}_audio.npy                line number in recordings.txt (the FSDD file)
    recordings.txt, meta.json
"""

from __future__ import annotations

import argparse
import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from g2d_lite.data.audio import centre_to_length, log_stft, loop_to_length, noise_at_snr
from g2d_lite.data.base import SPLITS
from g2d_lite.data.cache import BuildError, Shard, ShardedBuild, Skipped
from g2d_lite.data.paths import resolve_root
from g2d_lite.data.prepare.common import (
    Summary,
    add_common_arguments,
    check_split_sizes,
    chunked,
    fraction,
    natural,
    portion,
    repair_notes,
    require_folder,
    run_main,
    run_shards,
    user_path,
)
from g2d_lite.data.prepare.mnist_fsdd import (
    FSDD_URL,
    LICENCES,
    MNIST_URL,
    PINS,
    TEST_FILES,
    TRAIN_FILES,
    Recording,
    download_sources,
    mnist_path,
    read_fsdd,
    read_mnist,
)
from g2d_lite.data.splits import stratified_split
from g2d_lite.errors import OneLineParser

DEFAULT_TEST_SPEAKERS = ("theo", "yweweler")
DEFAULT_VAL_SPEAKERS = ("nicolas",)

CLIP = 8000  # 1 s window at FSDD's 8 kHz
N_FFT, HOP, SIDE = 222, 71, 112  # 112 frequency bins; 113 frames, the first 112 kept
SPLIT_CODE = {"train": 0, "validation": 1, "test": 2}
MAX_SNR_DB = 100.0  # --snr-db's range either side of 0 dB (see snr_db)

DESCRIPTION = """\
Build AV-MNIST-lite: MNIST images paired with spoken digits from the Free Spoken Digit Dataset.

Sources (either --download, or local copies with --mnist-dir and --fsdd-dir):
  MNIST (LeCun, Cortes, Burges): IDX files (.gz, or unpacked); the 60k training set is used
  when present, else the 10k test set is split 8,000 / 2,000 (--test-fraction).
  FSDD v1.0.10 (CC BY-SA 4.0): 3,000 WAVs, 6 speakers x 10 digits x 50 takes, 8 kHz.
Recipe (data_scripts/README.md): image PCA keeping --image-energy of the variance (fit
on train); audio split by speaker (--test-speakers held out); white or babble noise at
--snr-db; 1 s at 8 kHz; log-STFT (n_fft 222, hop 71) -> 112 x 112, scaled to uint8 with the
train min/max; each image paired with a recording of the same digit from its split's speakers,
cycling through a seeded permutation (stored as index arrays). Validation: --val-fraction of
the train images, paired with --val-speakers' recordings (default nicolas), so validation is
speaker-disjoint like test; with --val-speakers '' it uses held-out takes of the train speakers
instead (then validation audio accuracy overstates test accuracy about twofold).
"""


def speaker_splits(
    recordings: Sequence[Recording], args: argparse.Namespace, skipped: Sequence[Skipped] = ()
) -> dict[str, np.ndarray]:
    """Recording indices per split: test speakers held out; validation speakers or takes. A
    speaker named but absent because every recording of theirs was ``skipped`` is said so."""
    speakers = sorted({r.speaker for r in recordings})
    if not args.test_speakers:
        raise BuildError(
            f"--test-speakers is empty: name at least one speaker to hold out for test (this FSDD "
            f"folder has {', '.join(speakers)})"
        )
    for flag, named in (
        ("--test-speakers", args.test_speakers),
        ("--val-speakers", args.val_speakers),
    ):
        unknown = sorted(set(named) - set(speakers))
        for speaker in unknown:
            theirs = [s for s in skipped if f"_{speaker}_" in s.key]
            if theirs:
                raise BuildError(
                    f"{flag} names {speaker}, and all {len(theirs)} of {speaker}'s recordings "
                    f"were skipped ({theirs[0].key}: {theirs[0].reason}); replace those files, or "
                    f"pass {flag} with other speakers"
                )
        if unknown:
            raise BuildError(
                f"{flag} names {', '.join(unknown)}, who {'is' if len(unknown) == 1 else 'are'} "
                f"not in the recordings of {args.fsdd_dir or 'FSDD'} (speakers there: "
                f"{', '.join(speakers)}); pass {flag} with speakers from that list"
            )
    both = sorted(set(args.test_speakers) & set(args.val_speakers))
    if both:
        raise BuildError(
            f"{', '.join(both)} would be in the test and the validation split: --test-speakers "
            f"is {','.join(args.test_speakers)} and --val-speakers "
            f"{','.join(args.val_speakers)} (the defaults: {','.join(DEFAULT_TEST_SPEAKERS)} and "
            f"{','.join(DEFAULT_VAL_SPEAKERS)}); pass the other option with other speakers, or "
            "--val-speakers '' to carve validation from the training speakers"
        )
    who = np.asarray([r.speaker for r in recordings])
    test = np.flatnonzero(np.isin(who, args.test_speakers))
    if args.val_speakers:
        validation = np.flatnonzero(np.isin(who, args.val_speakers))
        train = np.flatnonzero(~np.isin(who, args.test_speakers + args.val_speakers))
    else:
        rest = np.flatnonzero(~np.isin(who, args.test_speakers))
        digits = [recordings[i].digit for i in rest]  # by digit: every digit gets takes
        held, kept = stratified_split(digits, [args.val_fraction], args.seed)
        validation, train = rest[held], rest[kept]
    if len(train) == 0:
        raise BuildError(
            f"no speaker is left for the train split: --test-speakers and --val-speakers hold out "
            f"all of {speakers}"
        )
    pools = {"train": train, "validation": validation, "test": test}
    refuse_copies(recordings, pools)
    return pools


def refuse_copies(recordings: Sequence[Recording], pools: dict[str, np.ndarray]) -> None:
    """Refuse one recording under two names in two splits (audio shared across a speaker split
    makes held-out accuracy a lie) or under two digits (one of the labels is wrong)."""
    first: dict[bytes, tuple[int, str]] = {}
    for split, indices in pools.items():
        for i in indices:
            key = hashlib.sha256(recordings[i].wave.tobytes()).digest()
            if key not in first:
                first[key] = (i, split)
                continue
            j, seen_in = first[key]
            a, b = recordings[j], recordings[i]
            if seen_in != split:
                problem = f"in two splits ({seen_in} and {split}), so held-out scores overstate"
            elif a.digit != b.digit:
                problem = f"under digits {a.digit} and {b.digit}: one of the labels is wrong"
            else:
                continue
            raise BuildError(
                f"{a.name} and {b.name} hold the same audio, {problem}; delete the copy from "
                f"--fsdd-dir and rerun"
            )


def flat_images(images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) images as (n, 784) rows; an empty split stays a (0, 784) array."""
    return images.reshape(images.shape[0], int(np.prod(images.shape[1:])))


def image_splits(
    mnist: dict[str, np.ndarray], args: argparse.Namespace
) -> dict[str, tuple[str, np.ndarray]]:
    """Per split: which MNIST file its images come from, and the indices into it."""

    def kept(file: str) -> np.ndarray:  # --subset: a stratified share of each file
        labels = mnist[f"{file}-labels-idx1-ubyte"]
        if args.subset >= 1.0:
            return np.arange(len(labels))
        return stratified_split(labels, [args.subset], args.seed)[0]

    if "train-labels-idx1-ubyte" in mnist:
        pool_file, pool, test = "train", kept("train"), ("t10k", kept("t10k"))
    else:
        rows = kept("t10k")
        test_part, pool_part = stratified_split(
            mnist["t10k-labels-idx1-ubyte"][rows], [args.test_fraction], args.seed
        )
        pool_file, pool, test = "t10k", rows[pool_part], ("t10k", rows[test_part])
    labels = mnist[f"{pool_file}-labels-idx1-ubyte"][pool]
    validation, train = stratified_split(labels, [args.val_fraction], args.seed)
    return {
        "train": (pool_file, pool[train]),
        "validation": (pool_file, pool[validation]),
        "test": test,
    }


def check_validation_images(sizes: dict[str, int], args: argparse.Namespace) -> None:
    """Refuse a --val-fraction that leaves no validation image while train has some, naming
    the option: the generic empty-split line would blame the sample count, which the user did
    not cut (a --subset that keeps nothing at all is that line's case)."""
    if sizes["validation"] or not sizes["train"] or args.allow_empty:
        return
    pool = sizes["train"] + sizes["validation"]
    if args.subset < 1 and 0 < pool * args.val_fraction < 10:  # the subset left too few
        raise BuildError(
            f"--subset {args.subset:g} leaves {pool} image(s) for train and validation, too "
            f"few for --val-fraction {args.val_fraction:g} to carve a validation split: raise "
            f"--subset (about {10 / (args.val_fraction * pool / args.subset):.2g} or more)"
        )
    raise BuildError(
        f"--val-fraction {args.val_fraction:g} leaves no validation images; every run selects "
        "its epoch on validation: use a larger --val-fraction (default 0.1), or pass "
        "--allow-empty to write the empty split anyway"
    )


def pca_degrade(
    train: np.ndarray, splits: dict[str, np.ndarray], energy: float
) -> tuple[dict[str, np.ndarray], int, float]:
    """Images rebuilt from the top principal components holding ``energy`` of the variance.

    The PCA is fit on ``train`` only. Returns the degraded uint8 images per split, the number
    of components and the variance share they keep (``energy >= 1`` keeps the images as they
    are).
    """
    if energy >= 1.0:
        return splits, train.shape[1], 1.0
    x = torch.from_numpy(train.astype(np.float64))
    mean = x.mean(dim=0)
    centred = x - mean
    values, vectors = torch.linalg.eigh(centred.T @ centred / max(len(x) - 1, 1))
    values, vectors = values.flip(0).clamp(min=0), vectors.flip(1)
    ratio = torch.cumsum(values, 0) / values.sum()
    k = int(torch.searchsorted(ratio, torch.tensor(energy, dtype=ratio.dtype))) + 1
    basis = vectors[:, :k]

    def rebuild(images: np.ndarray) -> np.ndarray:
        z = torch.from_numpy(images.astype(np.float64)) - mean
        return (z @ basis @ basis.T + mean).round().clamp(0, 255).to(torch.uint8).numpy()

    return {s: rebuild(v) for s, v in splits.items()}, k, float(ratio[k - 1])


def _skip_summary(skipped: Sequence[Skipped], folder: Path) -> str:
    """Why recordings were left out, for a build that ran short of them."""
    if not skipped:
        return ""
    reasons = Counter(s.reason.split(":")[0] for s in skipped)
    listed = ", ".join(f"{reason} ×{n}" for reason, n in reasons.most_common(3))
    return (
        f": {len(skipped)} recordings in {folder} were skipped ({listed}; e.g. {skipped[0].key}: "
        f"{skipped[0].reason}); replace them with good copies of the FSDD release"
    )


def check_every_digit_recorded(
    labels: dict[str, np.ndarray],
    pools: dict[str, np.ndarray],
    recordings: Sequence[Recording],
    skipped: Sequence[Skipped],
    args: argparse.Namespace,
    folder: Path,
) -> None:
    """Each split's speakers recorded every digit its images show: name the speakers, whether
    their files were skipped or are absent, and the fix (a partial copy of FSDD is common)."""
    for split, pool in pools.items():
        recorded = {recordings[i].digit for i in pool}
        absent = sorted(set(np.unique(labels[split]).tolist()) - recorded)
        if not absent:
            continue
        digit, speakers = absent[0], sorted({recordings[i].speaker for i in pool})
        chosen_by = {
            "validation": ("--val-speakers", args.val_speakers),
            "test": ("--test-speakers", args.test_speakers),
        }
        flag, named = chosen_by.get(split, ("", []))
        other = f", or pass {flag} with other speakers" if named else ""
        said = f"no usable FSDD recording of digit {digit} for the {split} split"
        said += f" (its speakers: {', '.join(speakers)})"
        theirs = [s for s in skipped if s.key.split("_")[:2] in ([str(digit), p] for p in speakers)]
        if theirs:
            raise BuildError(f"{said}{_skip_summary(theirs, folder)}{other}")
        if any(r.digit == digit and r.speaker in speakers for r in recordings):  # not drawn
            raise BuildError(
                f"{said}: the takes drawn for it from the training speakers (--val-fraction "
                f"{args.val_fraction:g}) hold none; raise --val-fraction, or name --val-speakers"
            )
        files = " nor ".join(f"{digit}_{speaker}_*.wav" for speaker in speakers)
        raise BuildError(
            f"{said}: {folder} holds no {files}; restore those files from the FSDD release{other}"
        )


def pair_recordings(
    labels: np.ndarray, pool: np.ndarray, recordings: Sequence[Recording], split: str, seed: int
) -> np.ndarray:
    """For each image, a recording of the same digit from ``pool``, cycling a seeded order
    (:func:`check_every_digit_recorded` has made sure there is one)."""
    digits = np.asarray([recordings[i].digit for i in pool], dtype=np.int64)
    paired = np.zeros(len(labels), dtype=np.int64)
    for digit in range(10):
        images = np.flatnonzero(labels == digit)
        candidates = pool[digits == digit]
        if len(images):
            rng = np.random.default_rng([seed, SPLIT_CODE[split], digit])
            order = candidates[rng.permutation(len(candidates))]
            paired[images] = order[np.arange(len(images)) % len(order)]
    return paired


@dataclass(frozen=True)
class AudioPlan:
    """What the spectrogram shards need: the recordings, their pairing, the noise recipe."""

    recordings: tuple[Recording, ...]
    paired: dict[str, np.ndarray]  # split -> recording index per sample
    pools: dict[str, np.ndarray]  # split -> recordings of that split (babble sources)
    snr_db: float
    noise: str
    seed: int


def noisy_clip(plan: AudioPlan, split: str, index: int) -> np.ndarray:
    """Sample ``index`` of ``split``: its recording in a 1 s window plus seeded noise."""
    clean = plan.recordings[plan.paired[split][index]].wave
    window = centre_to_length(clean, CLIP)
    if np.isinf(plan.snr_db):
        return window
    rng = np.random.default_rng([plan.seed, SPLIT_CODE[split], index])
    if plan.noise == "white":
        noise = rng.standard_normal(CLIP).astype(np.float32)
    else:  # babble: three utterances drawn from the split, looped and randomly shifted
        picks = rng.choice(plan.pools[split], size=3)
        noise = sum(
            np.roll(loop_to_length(plan.recordings[i].wave, CLIP), rng.integers(CLIP))
            for i in picks
        )
    return window + noise_at_snr(clean, noise, plan.snr_db)


def spectrogram_shard(samples: Sequence[tuple[str, int]], plan: AudioPlan) -> Shard:
    """Log-STFTs (float16, quantised later with train statistics) of one shard's samples."""
    split = samples[0][0]
    waves = torch.from_numpy(np.stack([noisy_clip(plan, s, i) for s, i in samples]))
    specs = log_stft(waves, N_FFT, HOP, eps=1e-6)[..., :SIDE].numpy().astype(np.float16)
    return Shard(arrays={f"audio_{split}": specs}, keys=[f"{s}/{i}" for s, i in samples])


def quantise(name: str, spec: np.ndarray, low: float, high: float) -> np.ndarray:
    """Log-spectrogram values mapped to 0..255 with the train split's min and max."""
    scaled = (np.asarray(spec, dtype=np.float32) - low) / max(high - low, 1e-12) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def train_range(
    build: ShardedBuild, chunks: Sequence[Sequence[tuple[str, int]]]
) -> tuple[float, float]:
    """Min and max of the train split's log-spectrograms, read back from the shards."""
    train = [
        build.read_shard(i).arrays["audio_train"]
        for i, c in enumerate(chunks)
        if c[0][0] == "train"
    ]
    return min(float(a.min()) for a in train), max(float(a.max()) for a in train)


def snr_db(text: str) -> float:
    """An argparse type: a signal-to-noise ratio within ``MAX_SNR_DB`` of 0 dB, or inf for clean
    audio. Further out the noise gain over- or underflows (an all-zero cache, or a crash), and
    nothing is gained: at -100 dB the audio is already all noise, at +100 dB as good as clean."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of dB or inf, got {text!r}") from None
    if math.isnan(value) or value == -math.inf:
        raise argparse.ArgumentTypeError(f"must be a number of dB or inf (clean), got {text!r}")
    if value != math.inf and abs(value) > MAX_SNR_DB:
        raise argparse.ArgumentTypeError(
            f"must be between -{MAX_SNR_DB:g} and {MAX_SNR_DB:g} dB, or inf (clean), got {text!r}: "
            f"below -{MAX_SNR_DB:g} dB the audio is all noise, above {MAX_SNR_DB:g} dB as good as "
            "clean (pass inf)"
        )
    return value


def _speaker_list(text: str) -> list[str]:
    """Speakers sorted and each once: the split takes them as a set, so another order (or a
    repeat) is the same cache, not "other settings" asking for a rebuild."""
    return sorted({s.strip() for s in text.split(",") if s.strip()})


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m g2d_lite.data.prepare avmnist",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = p.add_argument_group("sources")
    source.add_argument(
        "--mnist-dir",
        type=user_path,
        help="folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz "
        "(and, optionally, the train-*.gz files), or the same files unpacked",
    )
    source.add_argument(
        "--fsdd-dir", type=user_path, help="FSDD's recordings/ folder of .wav files"
    )
    source.add_argument(
        "--download",
        action="store_true",
        help="download MNIST and FSDD v1.0.10 and check their checksums",
    )
    source.add_argument(
        "--mnist-url", default=MNIST_URL, help="MNIST base URL (default: %(default)s)"
    )
    source.add_argument(
        "--fsdd-url", default=FSDD_URL, help="FSDD archive URL (default: %(default)s)"
    )
    source.add_argument(
        "--download-dir",
        type=user_path,
        default=None,
        help="where downloads go (default: _downloads/avmnist beside the cache)",
    )
    source.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="NAME=SHA256",
        help=f"accept another SHA-256 for a download; NAME in {sorted(PINS)}",
    )
    source.add_argument(
        "--no-mnist-train",
        action="store_true",
        help="ignore (do not download) MNIST's 60k training set: build the "
        "calibrated lite version from the 10k test digits",
    )
    recipe = p.add_argument_group("recipe")
    recipe.add_argument(
        "--image-energy",
        type=portion,
        default=0.25,
        help="share of PCA variance the images keep (1 = clean; default: %(default)s)",
    )
    recipe.add_argument(
        "--test-speakers",
        type=_speaker_list,
        default=list(DEFAULT_TEST_SPEAKERS),
        help="comma-separated FSDD speakers held out for test (default: theo,yweweler)",
    )
    recipe.add_argument(
        "--val-speakers",
        type=_speaker_list,
        default=list(DEFAULT_VAL_SPEAKERS),
        help="comma-separated speakers held out for validation (default: "
        "nicolas); pass '' to hold out --val-fraction of the train speakers' "
        "takes instead",
    )
    recipe.add_argument(
        "--val-fraction",
        type=fraction,
        default=0.1,
        help="validation share of the train images and takes (default: %(default)s)",
    )
    recipe.add_argument(
        "--test-fraction",
        type=fraction,
        default=0.2,
        help="test share of the 10k MNIST test digits when the training set is "
        "absent (default: %(default)s, i.e. 8,000 / 2,000)",
    )
    recipe.add_argument(
        "--snr-db",
        type=snr_db,
        default=0.0,
        help="signal-to-noise ratio of the added noise in dB; inf = clean (default: %(default)s)",
    )
    recipe.add_argument(
        "--noise",
        choices=("white", "babble"),
        default="white",
        help="white Gaussian noise, or babble of other FSDD utterances",
    )
    recipe.add_argument("--seed", type=natural, default=0, help="seed of splits, pairing and noise")
    recipe.add_argument(
        "--subset",
        type=portion,
        default=1.0,
        help="use this stratified share of the MNIST images, for quick tests and "
        "demos (default: %(default)s, all)",
    )
    add_common_arguments(p, "avmnist", shard_size=500)
    return p


def check_mnist_pairs(mnist: dict[str, np.ndarray], folder: Path) -> None:
    """Each images file and its labels file hold the same number of digits: files from two
    releases (or a truncated download) would pair images with the wrong labels. And no test
    image may be among the training images (a train file that is, or holds, the test digits)."""

    def file(name: str) -> str:  # as found: packed or unpacked
        path = mnist_path(folder, name)
        return name if path is None else path.name

    for images in [n for n in mnist if n.endswith("-images-idx3-ubyte")]:
        labels = images.replace("-images-idx3-ubyte", "-labels-idx1-ubyte")
        if labels in mnist and len(mnist[images]) != len(mnist[labels]):
            raise BuildError(
                f"{folder}: {file(images)} holds {len(mnist[images]):,} images but {file(labels)} "
                f"{len(mnist[labels]):,} labels: the two files do not belong together; fetch both "
                "again from the same release (or use --download)"
            )
    train, test = mnist.get("train-images-idx3-ubyte"), mnist.get("t10k-images-idx3-ubyte")
    if train is None or test is None:
        return
    test_rows = {_image_digest(image): i for i, image in enumerate(test)}
    shared = [(i, test_rows[h]) for i, h in enumerate(map(_image_digest, train)) if h in test_rows]
    if shared:
        first_train, first_test = shared[0]
        what = (
            "the same images as"
            if len(shared) == len(train) == len(test)
            else f"{len(shared):,} of its {len(train):,} images also in"
        )
        raise BuildError(
            f"{folder}: {file('train-images-idx3-ubyte')} holds {what} "
            f"{file('t10k-images-idx3-ubyte')} (e.g. train image {first_train:,} is test image "
            f"{first_test:,}), so training would see test images; fetch the real train files (or "
            "use --download), or pass --no-mnist-train to build from t10k only"
        )


def _image_digest(image: np.ndarray) -> bytes:
    """A digest of one image's pixels: test images hidden among the training images, in any
    order or mixed with others, are found by their hashes, not by comparing whole files."""
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest()


def check_source_options(args: argparse.Namespace) -> None:
    """--download and the local folders exclude each other; download-only options need it."""
    local = [f for f, v in (("--mnist-dir", args.mnist_dir), ("--fsdd-dir", args.fsdd_dir)) if v]
    if args.download and local:
        raise BuildError(
            f"--download and {' and '.join(local)} both give the sources: pass --download to fetch "
            "them, or the local folders to use yours, not both"
        )
    if not args.download:
        download_only = [
            flag
            for flag, given in (("--expect", args.expect), ("--download-dir", args.download_dir))
            if given
        ]
        if download_only:
            raise BuildError(
                f"{' and '.join(download_only)} only apply with --download (local files are not "
                "downloaded or checked against pins; their SHA-256s go into meta.json)"
            )


def _local_sources(args: argparse.Namespace) -> tuple[Path, Path]:
    if args.mnist_dir is None or args.fsdd_dir is None:
        raise BuildError(
            "pass --download, or both --mnist-dir (the folder with "
            "t10k-images-idx3-ubyte.gz) and --fsdd-dir (FSDD's recordings/ folder)"
        )
    for flag, folder in (("--mnist-dir", args.mnist_dir), ("--fsdd-dir", args.fsdd_dir)):
        require_folder(folder, f"{flag} folder not found: {folder}")
    return args.mnist_dir, args.fsdd_dir


def build(args: argparse.Namespace) -> Summary:
    """Read (or download) the sources, then build or resume the cache."""
    check_source_options(args)
    if args.download:
        default = resolve_root("avmnist", args.out).parent / "_downloads" / "avmnist"
        mnist_dir, fsdd_dir, urls = download_sources(
            args.download_dir or default,
            args.mnist_url,
            args.fsdd_url,
            with_train=not args.no_mnist_train,
            expect=args.expect,
            progress=not args.no_progress,
        )
    else:
        (mnist_dir, fsdd_dir), urls = _local_sources(args), {}
    absent = [f"{n}.gz" for n in TEST_FILES if mnist_path(mnist_dir, n) is None]
    if absent:
        raise BuildError(
            f"--mnist-dir {mnist_dir} lacks {absent} (or the same files unpacked, without .gz); "
            "pass the folder holding MNIST's IDX files, or --download"
        )
    use_train = not args.no_mnist_train and all(
        mnist_path(mnist_dir, n) is not None for n in TRAIN_FILES
    )
    mnist, sources = {}, {}
    for name in TEST_FILES + (TRAIN_FILES if use_train else ()):
        mnist[name], sources[name] = read_mnist(mnist_dir, name)
    check_mnist_pairs(mnist, mnist_dir)
    recordings, skipped, fsdd = read_fsdd(fsdd_dir)
    pools = speaker_splits(recordings, args, skipped)  # before anything is written
    params = {
        name: getattr(args, name)
        for name in (
            "image_energy",
            "test_speakers",
            "val_speakers",
            "val_fraction",
            "test_fraction",
            "snr_db",
            "noise",
            "seed",
            "subset",
        )
    }
    params["mnist_train"] = use_train
    params["snr_db"] = None if np.isinf(args.snr_db) else args.snr_db  # JSON has no inf
    picked = image_splits(mnist, args)  # an empty split is refused before a folder is made
    sizes = {s: len(picked[s][1]) for s in SPLITS}
    check_validation_images(sizes, args)
    where = "avmnist" if args.subset >= 1.0 else f"avmnist with --subset {args.subset:g}"
    check_split_sizes(sizes, where, args.allow_empty)
    labels = {
        s: mnist[f"{f}-labels-idx1-ubyte"][i].astype(np.int64) for s, (f, i) in picked.items()
    }
    check_every_digit_recorded(labels, pools, recordings, skipped, args, fsdd_dir)
    root = resolve_root("avmnist", args.out)
    identity = {"dataset": "avmnist", "params": params, "sources": {"mnist": sources, "fsdd": fsdd}}
    cache = ShardedBuild(root, identity, args.shard_size, force=args.force, verify=args.verify)
    if cache.complete:
        return Summary("avmnist", root, cache.meta, seconds=0.0, verified=args.verify)

    raw = {s: flat_images(mnist[f"{f}-images-idx3-ubyte"][i]) for s, (f, i) in picked.items()}
    images, components, kept = pca_degrade(raw["train"], raw, args.image_energy)
    paired = {s: pair_recordings(labels[s], pools[s], recordings, s, args.seed) for s in SPLITS}
    plan = AudioPlan(tuple(recordings), paired, pools, args.snr_db, args.noise, args.seed)
    chunks = [
        c for s in SPLITS for c in chunked([(s, i) for i in range(len(labels[s]))], args.shard_size)
    ]
    counts = run_shards(
        cache,
        chunks,
        partial(spectrogram_shard, plan=plan),
        desc="avmnist",
        progress=not args.no_progress,
    )
    low, high = train_range(cache, chunks)
    cache.consolidate(
        len(chunks),
        outputs={f"audio_{s}": f"audio/{s}_data.npy" for s in SPLITS},
        convert=partial(quantise, low=low, high=high),
    )
    for s in SPLITS:
        cache.save_array(f"image/{s}_data.npy", images[s])
        cache.save_array(f"{s}_labels.npy", labels[s])
        cache.save_array(f"pairing/{s}_image.npy", picked[s][1].astype(np.int64))
        cache.save_array(f"pairing/{s}_audio.npy", paired[s])
    cache.save_text("recordings.txt", "".join(f"{r.name}\n" for r in recordings))
    speakers = {s: sorted({recordings[i].speaker for i in pools[s]}) for s in SPLITS}
    meta = cache.finish(
        {
            "dataset": "avmnist",
            "params": params,
            "sources": identity["sources"],
            "downloaded_from": urls,
            "licences": LICENCES,
            "class_names": [str(d) for d in range(10)],
            "samples": sum(len(v) for v in labels.values()),
            "splits": {s: len(labels[s]) for s in SPLITS},
            "skipped": [vars(s) for s in skipped],
            "image": {
                "source_file": {s: picked[s][0] for s in SPLITS},
                "pca_components": components,
                "variance_kept": kept,
            },
            "audio": {
                "log_min": low,
                "log_max": high,
                "speakers": speakers,
                "validation": "held-out speakers"
                if args.val_speakers
                else f"{args.val_fraction:.0%} of the train speakers' takes, held out",
            },
        }
    )
    return Summary("avmnist", root, meta, seconds=0.0, shards=counts, notes=repair_notes(cache))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point (``python -m g2d_lite.data.prepare avmnist``)."""
    return run_main(parser(), build, argv, lambda args: resolve_root("avmnist", args.out))
