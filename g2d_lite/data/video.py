"""Video decoding with PyAV: frames at 1 fps and the soundtrack, from any container FFmpeg reads.

1 fps means the first frame of every second, as the official code's OpenCV extraction keeps
(frame ``k * fps`` for ``k = 0, 1, ...``); times come from the frames' timestamps, so variable
frame rates work too.
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from g2d_lite.data.audio import AUDIO_ERRORS

# What decoding a damaged or foreign file can raise; such a clip is reported, not fatal.
VIDEO_ERRORS: tuple[type[Exception], ...] = (av.FFmpegError, *AUDIO_ERRORS)


def frames_at_1fps(path: Path, size: tuple[int, int]) -> np.ndarray:
    """The first frame of each second, resized to ``size = (H, W)``: ``(F, H, W, 3)`` uint8.

    Resizing is bilinear with antialiasing (torchvision), the same filter the loaders use.
    Raises ``ValueError`` when the file has no video stream or no decodable frame.
    """
    kept: list[np.ndarray] = []
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or 25)
        start: float | None = None
        next_second = 0
        for index, frame in enumerate(container.decode(stream)):
            time = frame.time if frame.time is not None else index / rate
            start = time if start is None else start
            second = math.floor(time - start + 1e-6)
            if second >= next_second:
                kept.append(frame.to_ndarray(format="rgb24"))
                next_second = second + 1
    if not kept:
        raise ValueError("no video frame could be decoded")
    return resize_frames(np.stack(kept), size)


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(F, H, W, 3)`` uint8 frames resized to ``size = (H, W)``, still uint8."""
    if frames.shape[1:3] == tuple(size):
        return frames
    tensor = torch.from_numpy(frames).permute(0, 3, 1, 2)
    resized = TF.resize(tensor, list(size), antialias=True)
    return resized.permute(0, 2, 3, 1).contiguous().numpy()


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """A video's first audio stream as a mono float32 waveform (channel mean) and its rate."""
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("the file has no audio stream")
        stream = container.streams.audio[0]
        planar = av.AudioResampler(format="fltp")  # any sample format -> (channels, n) float
        for frame in container.decode(stream):
            chunks.extend(f.to_ndarray().mean(axis=0) for f in planar.resample(frame))
        chunks.extend(f.to_ndarray().mean(axis=0) for f in planar.resample(None))
        rate = int(stream.rate)
    wave = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if wave.size == 0:
        raise ValueError("the audio stream holds no samples")
    return wave, rate


def segment_centres(count: int, picks: int) -> list[int]:
    """``picks`` indices into ``count`` items, one at the centre of each equal segment."""
    return [((2 * i + 1) * count) // (2 * picks) for i in range(picks)]
