"""AV-MNIST's sources: MNIST (IDX, .gz or unpacked) and FSDD (WAV) read, fingerprinted and
downloaded.

Every source is checked against the official release's digests: the decompressed MNIST files'
SHA-256 (mirrors re-gzip them), the ``.gz`` MD5 where only that is published (torchvision's
pin), and a digest of the FSDD v1.0.10 recordings. Downloads that do not match are deleted and
rejected; local folders are accepted and marked ``official: false`` in meta.json (so is an
unpacked file whose only pin is of its ``.gz``: it cannot be checked).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from g2d_lite.data.audio import AUDIO_ERRORS, SilentAudio, read_wav, resample
from g2d_lite.data.cache import BuildError, Skipped, error_reason, is_lfs_pointer
from g2d_lite.data.prepare.common import LFS_REASON, refuse_empty
from g2d_lite.data.prepare.download import extract_flat, fetch

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FSDD_URL = (
    "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz"
)
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
FSDD_KEY = "fsdd-recordings"
OFFLINE = (
    "; without internet here, download MNIST and FSDD on a machine that has it and pass "
    "--mnist-dir and --fsdd-dir (or give a mirror with --mnist-url / --fsdd-url)"
)
# Official digests (kind, hex); the FSDD one is recordings_digest of the v1.0.10 recordings.
PINS: dict[str, tuple[str, str]] = {
    "t10k-images-idx3-ubyte": (
        "sha256",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "t10k-labels-idx1-ubyte": (
        "sha256",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    "train-labels-idx1-ubyte": (
        "sha256",
        "65a50cbb4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "train-images-idx3-ubyte": ("gz_md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    FSDD_KEY: ("sha256", "8dac6ce326e419e9fcfadedf2e4a67d6c08a40968c34bb8fa2b4e27d74753d5a"),
}
LICENCES = {
    "mnist": "MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges "
    "(yann.lecun.com/exdb/mnist); commonly redistributed under CC BY-SA 3.0",
    "fsdd": "Free Spoken Digit Dataset v1.0.10 by Zohar Jackson et al. "
    "(github.com/Jakobovski/free-spoken-digit-dataset), CC BY-SA 4.0",
    "this cache": "derived from both: share alike (CC BY-SA 4.0) and credit the sources above",
}
RATE = 8000  # FSDD's native rate
MAX_TAKE_SECONDS = 10.0  # FSDD's takes last under 3 s; tens of seconds is a damaged header
FSDD_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")
UNRECOGNISED = "unrecognised file name"  # the reason's first part: summaries count by it
LOOSE_NAME = re.compile(r"^(\d)_([^_]+)_(\d+)\.wav$")  # the shape, any speaker spelling


def name_problem(name: str) -> str:
    """Why ``name`` is not an FSDD file name: a speaker outside ASCII lower-case letters
    (``5_jöhn_2.wav``, ``5_John_2.wav``) is named as the rule it breaks, with a spelling that
    keeps it, since the name otherwise has the expected digit_speaker_take.wav shape."""
    loose = LOOSE_NAME.match(name)
    if loose is None:
        return f"{UNRECOGNISED}: expected digit_speaker_take.wav"
    digit, speaker, take = loose.groups()
    plain = unicodedata.normalize("NFKD", speaker).encode("ascii", "ignore").decode().lower()
    plain = re.sub(r"[^a-z]", "", plain) or "speaker"
    return (
        f"{UNRECOGNISED}: speaker {speaker!r} is not ASCII lower-case letters; rename the file "
        f"(e.g. {digit}_{plain}_{take}.wav)"
    )


@dataclass(frozen=True)
class Recording:
    """One FSDD file."""

    name: str
    digit: int
    speaker: str
    wave: np.ndarray  # float32 at 8 kHz


def read_idx(data: bytes) -> np.ndarray:
    """An IDX array (MNIST's format: magic 0x0000080N, N big-endian dims, uint8 data)."""
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise BuildError("not an IDX uint8 file (bad magic number)")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(int)
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(dims)):
        need = int(np.prod(dims))
        held = len(data) - offset
        cause = "is cut short (an interrupted copy or unpack)" if held < need else "has extra bytes"
        raise BuildError(
            f"IDX data holds {held} bytes, its dims {dims} need {need}: the file {cause}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def read_gzip(path: Path) -> tuple[bytes, dict[str, str]]:
    """A .gz file's content and digests: SHA-256 of the content, MD5 of the .gz itself."""
    raw = path.read_bytes()
    if is_lfs_pointer(raw):
        raise BuildError(f"{path} is a {LFS_REASON}")
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError) as error:
        raise BuildError(
            f"{path} is not a readable gzip file ({error}): it is cut short or damaged, as an "
            "interrupted download or copy leaves it; download or copy it again (or use --download)"
        ) from error
    digests = {"sha256": hashlib.sha256(data).hexdigest(), "gz_md5": hashlib.md5(raw).hexdigest()}
    return data, digests


def mnist_path(folder: Path, name: str) -> Path | None:
    """Where MNIST file ``name`` lies in ``folder``: ``<name>.gz`` as released, else ``<name>``
    unpacked (as torchvision and many mirrors keep it); ``None`` when neither is there."""
    for path in (folder / f"{name}.gz", folder / name):
        if path.is_file():
            return path
    return None


def read_mnist(folder: Path, name: str) -> tuple[np.ndarray, dict[str, Any]]:
    """One MNIST file (see :func:`mnist_path`) and the digests of what was read, marked official
    when the pinned one matches (an unpacked file has no ``.gz`` MD5 to match)."""
    path = mnist_path(folder, name)
    if path is None:
        raise BuildError(f"{folder} holds neither {name}.gz nor {name}")
    if path.suffix == ".gz":
        data, digests = read_gzip(path)
    else:
        data = path.read_bytes()
        if is_lfs_pointer(data):
            raise BuildError(f"{path} is a {LFS_REASON}")
        digests = {"sha256": hashlib.sha256(data).hexdigest()}
    try:
        array = read_idx(data)
    except BuildError as error:
        again = (
            "download it again"
            if path.suffix == ".gz"
            else f"copy it again, or unpack {name}.gz from the MNIST release again"
        )
        raise BuildError(f"{path}: {error}; {again} (or use --download)") from error
    _check_mnist_values(path, name, array)
    kind, pinned = PINS[name]
    return array, dict(digests, official=digests.get(kind) == pinned)


def _check_mnist_values(path: Path, name: str, array: np.ndarray) -> None:
    """Labels are digits and images 28 x 28: a damaged label would otherwise enter the cache
    as a class no recording can be paired with."""
    fix = "the file is damaged or not MNIST's; fetch it again (--download)"
    if "labels" in name:
        if array.ndim != 1:
            raise BuildError(f"{path}: labels must be one value per image, got shape {array.shape}")
        bad = np.flatnonzero(array > 9)
        if len(bad):
            raise BuildError(
                f"{path}: label {int(array[bad[0]])} at index {int(bad[0])} is not a digit 0-9 "
                f"({len(bad)} such labels); {fix}"
            )
    elif array.ndim != 3 or array.shape[1:] != (28, 28):
        raise BuildError(f"{path}: MNIST images are 28 x 28, got shape {array.shape}; {fix}")


def recordings_digest(files: dict[str, bytes]) -> str:
    """SHA-256 over ``name<TAB>sha256(content)`` lines of the WAV files, sorted by name."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\t{hashlib.sha256(files[name]).hexdigest()}\n".encode())
    return digest.hexdigest()


def read_fsdd(folder: Path) -> tuple[list[Recording], list[Skipped], dict[str, Any]]:
    """Every usable FSDD recording, the unusable ones with reasons, and the folder's digest."""
    paths = sorted(folder.glob("*.wav"))
    files = {p.name: p.read_bytes() for p in paths if p.is_file()}
    if not files:
        upper = sorted(p.name for p in folder.glob("*.WAV"))
        if upper:
            raise BuildError(
                f"{folder} holds {len(upper)} recordings ending in upper-case .WAV ({upper[0]}), "
                'and FSDD\'s names end in .wav: rename them (for f in *.WAV; do mv "$f" '
                '"${f%.WAV}.wav"; done) and rerun'
            )
        raise BuildError(f"no .wav files in {folder}: pass --fsdd-dir the FSDD recordings/ folder")
    recordings, skipped = [], []
    for path in paths:  # one dangling link of 3,000 is listed, and does not stop the build
        if path.is_symlink() and not path.exists():
            reason = f"a symbolic link to {os.readlink(path)}, which does not exist"
            skipped.append(Skipped(path.name, f"broken link: {reason}; replace or remove the link"))
    for path in sorted(folder.iterdir()):  # 3_lucas_0.WAV beside .wav files: said, not dropped
        if path.suffix.lower() == ".wav" and path.is_dir():
            skipped.append(Skipped(path.name, "a folder, not a recording: move it out of here"))
        elif path.suffix.lower() == ".wav" and path.suffix != ".wav":
            reason = f"extension {path.suffix}: FSDD's names end in .wav; rename it {path.stem}.wav"
            skipped.append(Skipped(path.name, reason))
    for name, content in files.items():
        match = FSDD_NAME.match(name)
        if match is None:
            skipped.append(Skipped(name, name_problem(name)))
            continue
        if is_lfs_pointer(content):
            skipped.append(Skipped(name, LFS_REASON))
            continue
        try:
            wave, rate = read_wav(io.BytesIO(content))
        except SilentAudio as error:  # a spoken digit is never silent: a damaged file
            skipped.append(Skipped(name, f"silent recording: {error}"))
            continue
        except AUDIO_ERRORS as error:
            skipped.append(Skipped(name, error_reason("unreadable audio", error)))
            continue
        if len(wave) > MAX_TAKE_SECONDS * rate:
            reason = f"{len(wave) / rate:.1f} s at {rate:,} Hz, and a spoken digit lasts about 1 s"
            skipped.append(Skipped(name, f"implausible recording: {reason}: a damaged header?"))
            continue
        digit, speaker = int(match.group(1)), match.group(2)
        recordings.append(Recording(name, digit, speaker, resample(wave, rate, RATE)))
    if not recordings:
        refuse_empty(f"FSDD recordings in {folder}", len(files), skipped)
    digest = recordings_digest(files)
    source = {
        "recordings_sha256": digest,
        "files": len(files),
        "official": digest == PINS[FSDD_KEY][1],
    }
    return recordings, skipped, source


def download_sources(
    folder: Path,
    mnist_url: str,
    fsdd_url: str,
    with_train: bool,
    expect: list[str],
    progress: bool,
) -> tuple[Path, Path, dict[str, str]]:
    """Fetch MNIST and FSDD into ``folder`` and check them; returns both folders and the URLs.

    ``expect`` holds ``NAME=SHA256`` overrides for sources the user trusts (other mirrors).
    """
    pins = dict(PINS)
    for item in expect:
        name, _, digest = item.partition("=")
        if name not in PINS or not digest:
            raise BuildError(f"--expect takes NAME=SHA256 with NAME in {sorted(PINS)}")
        pins[name] = ("sha256", digest.lower())
    urls: dict[str, str] = {}
    for name in TEST_FILES + (TRAIN_FILES if with_train else ()):
        urls[name] = mnist_url.rstrip("/") + f"/{name}.gz"
        path = fetch(urls[name], folder / "mnist" / f"{name}.gz", progress, OFFLINE)
        try:
            digests = read_gzip(path)[1]
        except BuildError:
            path.unlink()  # a bad download must not be reused by the next run
            raise
        _check(name, urls[name], digests, pins, path)
    recordings = folder / "fsdd" / "recordings"
    urls[FSDD_KEY] = fsdd_url
    if not recordings.is_dir():
        archive = fetch(fsdd_url, folder / "fsdd" / Path(fsdd_url).name, progress, OFFLINE)
        if extract_flat(archive, "*recordings/*.wav", recordings) == 0:
            raise BuildError(f"{fsdd_url} holds no recordings/*.wav files")
    files = {p.name: p.read_bytes() for p in sorted(recordings.glob("*.wav"))}
    _check(FSDD_KEY, fsdd_url, {"sha256": recordings_digest(files)}, pins, recordings)
    return folder / "mnist", recordings, urls


def _check(
    name: str, url: str, digests: dict[str, str], pins: dict[str, tuple[str, str]], path: Path
) -> None:
    """Raise a clear error (and drop the download) when a source does not match its pin."""
    kind, expected = pins[name]
    if digests[kind] != expected:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        raise BuildError(
            f"checksum mismatch for {name} from {url}: expected {kind} {expected}, got "
            f"{digests[kind]}. The download was removed; if you trust this source, pass "
            f"--expect {name}=<its sha256> (MNIST: of the decompressed file)"
        )
