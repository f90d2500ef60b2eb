"""Tiny datasets generated in the real folder layouts, for the data-script tests.

Nothing binary is committed: WAVs are written with soundfile, videos with PyAV, MNIST as IDX
.gz files. Signals depend on the label, so a broken label mapping shows up in the tests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared_mnist_fsdd = pytest.mark.skipif(
    not (SHARED_DATA / "mnist").is_dir() or not (SHARED_DATA / "fsdd").is_dir(),
    reason=f"real MNIST/FSDD not found at {SHARED_DATA} (../shared/data beside repo)",
)


def build_shared_avmnist(out: Path) -> int:
    """A 20 % AV-MNIST-lite build from the real MNIST test set and FSDD (a few seconds)."""
    from g2d_lite.data.prepare import avmnist

    argv = ["--mnist-dir", str(SHARED_DATA / "mnist"),
            "--fsdd-dir", str(SHARED_DATA / "fsdd" / "recordings"),
            "--out", str(out), "--subset", "0.2", "--no-progress"]  # fmt: skip
    return avmnist.main(argv)


CREMAD_EMOTIONS = ("NEU", "HAP", "SAD", "FEA", "DIS", "ANG")


def tree_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` by relative path (to compare two builds)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def tone(label: int, seconds: float, rate: int, seed: int) -> np.ndarray:
    """A label-dependent tone with a little noise, float32 in [-1, 1]."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    wave = 0.5 * np.sin(2 * np.pi * (300 + 120 * label) * t) + 0.05 * rng.standard_normal(len(t))
    return wave.astype(np.float32)


def write_wav(path: Path, wave: np.ndarray, rate: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), wave, rate, subtype="PCM_16")
    return path


def truncate(path: Path, size: int = 20) -> Path:
    """Cut a file inside its header: a WAV no reader accepts."""
    path.write_bytes(path.read_bytes()[:size])
    return path


def garbage(path: Path, size: int = 4000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(0).bytes(size))
    return path


def write_video(
    path: Path,
    seconds: float,
    label: int,
    *,
    fps: int | Fraction = 5,
    size: tuple[int, int] = (24, 32),
    audio: tuple[np.ndarray, int] | None = None,
    codec: str = "mpeg4",
    container: str | None = None,
    audio_codec: str = "aac",
) -> Path:
    """A video whose colour encodes ``label`` and whose frame ``i`` has a white bar ``i % W``
    pixels wide (so a stored frame tells which one it was), optionally with audio (AAC unless
    ``audio_codec`` says otherwise: PCM keeps a soundtrack exactly as long as given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = size
    with av.open(str(path), "w", format=container) as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = None
        if audio is not None:
            sound = out.add_stream(audio_codec, rate=audio[1])
            sound.layout = "mono"
        for i in range(round(seconds * fps)):
            image = np.full((height, width, 3), (40 * label) % 256, np.uint8)
            image[:, : i % width] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None and audio is not None:
            frame = av.AudioFrame.from_ndarray(audio[0][None], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = audio[1], 0
            out.mux(sound.encode(frame))
            out.mux(sound.encode())
    return path


# --- MNIST and FSDD ---------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array in IDX format (MNIST's)."""
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def make_mnist(folder: Path, per_class: int = 20, seed: int = 0, train: bool = False) -> Path:
    """MNIST-like IDX .gz files: digit ``d`` is a bright bar at row ``2 + 2d`` plus noise."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sets = {"t10k": per_class} | ({"train": 2 * per_class} if train else {})
    for prefix, count in sets.items():
        labels = np.repeat(np.arange(10, dtype=np.uint8), count)
        rng.shuffle(labels)
        images = rng.integers(0, 60, (len(labels), 28, 28)).astype(np.uint8)
        for i, digit in enumerate(labels):
            images[i, 2 + 2 * digit : 4 + 2 * digit, 4:24] = 250
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return folder


def make_fsdd(folder: Path, takes: int = 3) -> Path:
    """FSDD-like recordings ``{digit}_{speaker}_{take}.wav`` at 8 kHz, 0.3-0.5 s long."""
    for s, speaker in enumerate(FSDD_SPEAKERS):
        for digit in range(10):
            for take in range(takes):
                seconds = 0.3 + 0.1 * ((s + take) % 3)
                wave = tone(digit, seconds, 8000, seed=100 * s + 10 * digit + take)
                write_wav(folder / f"{digit}_{speaker}_{take}.wav", wave, 8000)
    return folder


def fsdd_archive(recordings: Path, archive: Path) -> Path:
    """The recordings packed like GitHub's tag archive: ``<repo>-1.0.10/recordings/*.wav``."""
    with tarfile.open(archive, "w:gz") as tar:
        for wav in sorted(recordings.glob("*.wav")):
            info = tarfile.TarInfo(f"free-spoken-digit-dataset-1.0.10/recordings/{wav.name}")
            data = wav.read_bytes()
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


# --- CREMA-D ----------------------------------------------------------------------------------


def cremad_key(actor: int, emotion: str, sentence: str = "IEO") -> str:
    return f"{1000 + actor:04d}_{sentence}_{emotion}_XX"


def make_cremad(root: Path, actors: int = 2) -> list[str]:
    """A CREMA-D release folder: AudioWAV/*.wav (16 kHz) + VideoFlash/*.flv; returns the keys."""
    keys = []
    for actor in range(1, actors + 1):
        for label, emotion in enumerate(CREMAD_EMOTIONS):
            key = cremad_key(actor, emotion)
            seconds = 1.2 + 0.4 * (actor % 2)
            write_wav(root / "AudioWAV" / f"{key}.wav", tone(label, seconds, 16000, actor), 16000)
            write_video(
                root / "VideoFlash" / f"{key}.flv",
                seconds + 0.8,
                label,
                codec="flv",
                container="flv",
            )
            keys.append(key)
    return keys


def write_cremad_csvs(folder: Path, train: list[str], test: list[str]) -> Path:
    """The official split CSVs: ``id,EMOTION`` rows, no header, CRLF line ends."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, keys in (("train.csv", train), ("test.csv", test)):
        rows = "".join(f"{k},{k.split('_')[2]}\r\n" for k in keys)
        (folder / name).write_bytes(rows.encode())
    return folder


# --- AVE, Kinetics-Sounds, VGGSound -----------------------------------------------------------


def write_clip(path: Path, label: int, seconds: float = 3.4) -> Path:
    """An mp4 (MPEG-4 video + AAC audio at 16 kHz) whose colour and pitch encode ``label``."""
    wave = tone(label, seconds, 16000, seed=label)
    return write_video(path, seconds, label, fps=4, size=(32, 32), audio=(wave, 16000))
