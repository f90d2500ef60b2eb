"""Video decoding with PyAV: one frame per second and the soundtrack, from any FFmpeg container.

Two rules choose the frames kept per second of video (``FRAME_RULES``):

- ``"official"`` (default): every ``int(fps)``-th decoded frame, counting from the first, as the
  official G²D extraction script (``video2frame_update``, OpenCV) keeps them. The rate is
  truncated, so a 29.97 fps clip keeps frames 0, 29, 58, …: a 60-frame clip keeps 3 frames.
- ``"first-of-second"``: the first frame of each second of the frames' timestamps (frames 0
  and 30 of the same clip: 2 frames). Follows variable frame rates, but is not what the paper's
  frames were made with.

The count matters beyond storage: the loaders pick a clip's training frame with the official
seeded ``np.random.choice`` over the frames present, so a different count shows another frame.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from g2d_lite.data.audio import AUDIO_ERRORS, checked_mono
from g2d_lite.errors import KitError

try:
    import av
except ModuleNotFoundError as missing:  # the `video` extra; the loaders never need it
    raise KitError(
        "PyAV is not installed, and reading video needs it: pip install av (the kit's `video` "
        "extra; bash scripts/setup_env.sh installs it)"
    ) from missing

# What decoding a damaged or foreign file can raise; such a clip is reported, not fatal.
VIDEO_ERRORS: tuple[type[Exception], ...] = (av.FFmpegError, *AUDIO_ERRORS)
FRAME_RULES: tuple[str, ...] = ("official", "first-of-second")
# A video is cut off (a half download) when it decodes this much less than its container
# declares: a share of the frames and at least this many seconds of them, so that a stream a
# little shorter than its soundtrack, or a few pre-roll frames dropped, are not called truncated.
TRUNCATED_SHARE, TRUNCATED_SECONDS = 0.1, 1.0


def still_image(path: Path) -> str | None:
    """The image format (``"JPEG"``) of a file that is a still picture, not a video, else None.

    FFmpeg opens a photo renamed ``.mp4`` as a one-frame image pipe, and it would be reported
    as a clip without a soundtrack, pointing at the wrong fix. A file FFmpeg cannot open is
    left to the decoders to report."""
    try:
        with av.open(str(path)) as container:
            name = container.format.name
    except VIDEO_ERRORS:
        return None
    return name.removesuffix("_pipe").upper() if name.endswith("_pipe") else None


def frame_step(rate: float) -> int:
    """Frames between two kept frames under the official rule: the rate truncated, as the
    official script's ``int(cv2.CAP_PROP_FPS)``. Raises ``ValueError`` below 1 fps."""
    step = int(rate)
    if step < 1:
        raise ValueError(f"frame rate {rate:g} fps is below 1: no frame per second to keep")
    return step


def frames_per_second(path: Path, size: tuple[int, int], rule: str = "official") -> np.ndarray:
    """One frame per second of video under ``rule``, resized to ``size = (H, W)``:
    ``(F, H, W, 3)`` uint8.

    The official rule reads the rate FFmpeg guesses for the stream (``av_guess_frame_rate``, what
    OpenCV's FFmpeg backend reports as ``CAP_PROP_FPS``). Resizing is bilinear with antialiasing
    (torchvision), the filter the loaders use. Raises ``ValueError`` for an unknown rule, a file
    without a video stream or without a decodable frame.
    """
    if rule not in FRAME_RULES:
        raise ValueError(f"unknown frame rule {rule!r}; valid rules: {', '.join(FRAME_RULES)}")
    kept: list[np.ndarray] = []
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.guessed_rate or stream.average_rate or 25)
        step = frame_step(rate) if rule == "official" else 0
        start: float | None = None
        next_second = decoded = 0
        for index, frame in enumerate(container.decode(stream)):
            decoded = index + 1
            if rule == "official":
                if index % step == 0:
                    kept.append(frame.to_ndarray(format="rgb24"))
                continue
            time = frame.time if frame.time is not None else index / rate
            start = time if start is None else start
            second = math.floor(time - start + 1e-6)
            if second >= next_second:
                kept.append(frame.to_ndarray(format="rgb24"))
                next_second = second + 1
        if not kept:
            raise ValueError("no video frame could be decoded")
        check_complete(container, stream, decoded)
    return resize_frames(np.stack(kept), size)


def declared_frames(container: av.container.InputContainer, stream: av.VideoStream) -> int | None:
    """How many frames the container says the video holds: its frame count, else its duration
    (the stream's, else the file's, as FLV keeps it) times the average rate; None if unknown."""
    if stream.frames:
        return int(stream.frames)
    rate = stream.average_rate or stream.guessed_rate
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    else:
        return None
    return round(seconds * float(rate)) if rate else None


def check_complete(
    container: av.container.InputContainer, stream: av.VideoStream, decoded: int
) -> None:
    """Raise ``ValueError`` for a video that decodes far fewer frames than it declares: readers
    stop quietly where a cut-off file ends, and the clip would enter the cache short (with
    another frame shown by the official frame pick), as a truncated WAV would."""
    promised = declared_frames(container, stream)
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    if promised is None or promised - decoded < max(
        TRUNCATED_SHARE * promised, TRUNCATED_SECONDS * rate
    ):
        return
    raise ValueError(
        f"truncated video: {decoded:,} of the {promised:,} frames its container declares "
        f"({promised / rate:.1f} s) could be decoded: a cut-off file; fetch it again"
    )


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(F, H, W, 3)`` uint8 frames resized to ``size = (H, W)``, still uint8."""
    if frames.shape[1:3] == tuple(size):
        return frames
    tensor = torch.from_numpy(frames).permute(0, 3, 1, 2)
    resized = TF.resize(tensor, list(size), antialias=True)
    return resized.permute(0, 2, 3, 1).contiguous().numpy()


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """A video's first audio stream as a mono float32 waveform (channel mean) and its rate,
    checked as a WAV's samples are (:func:`~g2d_lite.data.audio.checked_mono`): a 10 ms or
    silent soundtrack would otherwise be looped into a 10 s tone."""
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
    return checked_mono(wave[:, None], rate), rate


def segment_centres(count: int, picks: int) -> list[int]:
    """``picks`` indices into ``count`` items, one at the centre of each equal segment."""
    return [((2 * i + 1) * count) // (2 * picks) for i in range(picks)]
