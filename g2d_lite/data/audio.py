"""Audio front-ends: WAV reading (soundfile), resampling, fixed-length clips, log-STFT, noise.

Waveforms are 1-D float32 arrays or tensors; spectrograms come from ``torch.stft`` with a
periodic Hann window and ``center=True`` with zero padding, which is what ``librosa.stft``
(the official code's front-end) does by default since librosa 0.10.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile
import torch
import torchaudio.transforms as AT

# What reading a damaged file can raise (soundfile's errors are RuntimeErrors); such a sample
# is reported and counted, not fatal.
AUDIO_ERRORS: tuple[type[Exception], ...] = (RuntimeError, OSError, ValueError, EOFError)


# Integer WAVs read as float lie within ±1; float WAVs may run a little hot, but not by 36 dB.
MAX_PEAK = 64.0
# FSDD's shortest take is 0.14 s; a recording under 50 ms cannot be a spoken digit or a clip.
MIN_SECONDS = 0.05
# Telephone speech is 8 kHz; a header claiming under 4 kHz is damaged or mis-written (read as
# given, the samples would be resampled into a slowed-down sound many seconds long).
MIN_RATE = 4000
MAX_RATE = 384_000  # the highest rate audio interfaces record at
_HEADER_BYTES = 1 << 16  # enough for the chunks before "data" in any WAV seen in practice


def wav_shortfall(header: bytes, size: int) -> tuple[int, int] | None:
    """``(frames promised, frames present)`` when a RIFF/WAVE file of ``size`` bytes is shorter
    than its ``data`` chunk says, else ``None`` (also for non-WAV or streamed headers).

    Readers quietly return the frames that are there, so a cut-off download would otherwise
    enter a cache as a short recording.
    """
    if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return None
    position, block_align = 12, 0
    while position + 8 <= len(header):
        chunk = header[position : position + 4]
        length = int.from_bytes(header[position + 4 : position + 8], "little")
        if chunk == b"fmt ":
            block_align = int.from_bytes(header[position + 20 : position + 22], "little")
        elif chunk == b"data":
            if not block_align or length in (0, 0xFFFFFFFF):
                return None
            present = max(size - position - 8, 0)
            return (length // block_align, present // block_align) if present < length else None
        position += 8 + length + (length & 1)
    return None


def _check_complete(source: Path | BinaryIO) -> None:
    if isinstance(source, io.BytesIO):
        data = source.getbuffer()
        header, size = bytes(data[:_HEADER_BYTES]), len(data)
    elif isinstance(source, str | Path):
        with open(source, "rb") as handle:
            header, size = handle.read(_HEADER_BYTES), Path(source).stat().st_size
    else:
        return
    shortfall = wav_shortfall(header, size)
    if shortfall is not None:
        promised, present = shortfall
        raise ValueError(
            f"truncated WAV: its header promises {promised:,} frames, the file holds {present:,}"
        )


class SilentAudio(ValueError):
    """A readable recording that is silent once averaged to mono: reported as silent, not as
    unreadable."""


def read_wav(source: Path | BinaryIO) -> tuple[np.ndarray, int]:
    """A WAV file (path or open binary file) as a mono float32 waveform and its sample rate.

    Raises ``ValueError`` for a file with fewer frames than its header promises, and for what
    :func:`checked_mono` refuses, so an empty or cut-off recording is reported like a corrupt
    one instead of producing a silent or short spectrogram.
    """
    _check_complete(source)
    data, rate = soundfile.read(source, dtype="float32", always_2d=True)
    return checked_mono(data, int(rate)), int(rate)


def checked_mono(data: np.ndarray, rate: int) -> np.ndarray:
    """``(samples, channels)`` audio averaged to mono, after the checks every sound source gets
    (WAV files and soundtracks decoded from video alike). Raises ``ValueError`` for no samples,
    under ``MIN_SECONDS`` of them, a rate under ``MIN_RATE``, NaN or infinite samples or a peak
    past ``MAX_PEAK``, and :class:`SilentAudio` when every sample is zero or the channels
    cancel (a looped blip or a silent track would enter a cache as a sound)."""
    if data.shape[0] == 0:
        raise ValueError("the file holds no audio samples")
    if rate > MAX_RATE:
        raise ValueError(
            f"sample rate {rate:,} Hz is above any recording rate ({MAX_RATE:,} Hz at most): a "
            "damaged or mis-written header"
        )
    if rate < MIN_RATE:
        raise ValueError(
            f"sample rate {rate} Hz is below any audio rate (speech needs {MIN_RATE:,} Hz or "
            "more): a damaged or mis-written header"
        )
    if data.shape[0] < MIN_SECONDS * rate:
        raise ValueError(
            f"the file holds {data.shape[0]} samples ({1000 * data.shape[0] / rate:.1f} ms at "
            f"{rate} Hz), too short to hold a spoken word or a clip's sound: a damaged or cut file"
        )
    if not np.isfinite(data).all():
        raise ValueError("the file holds NaN or infinite samples")
    peak = float(np.abs(data).max())
    if peak > MAX_PEAK:
        raise ValueError(
            f"its samples reach {peak:.3g}, far past a WAV's full scale of ±1: a damaged or "
            "mis-encoded file (one such file would change the scaling of the whole split)"
        )
    wave = data.mean(axis=1)
    if peak == 0:
        raise SilentAudio("every sample is zero")
    if not np.any(wave):
        raise SilentAudio(
            "its channels cancel when averaged to mono (one channel inverted?): keep one channel"
        )
    return wave


@lru_cache(maxsize=8)
def _resampler(rate: int, target: int) -> AT.Resample:
    # The module builds its sinc kernel once; torchaudio.functional.resample rebuilds it per call.
    return AT.Resample(rate, target)


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``wave`` at ``target`` Hz (torchaudio's windowed-sinc resampler; a no-op if equal)."""
    if rate == target:
        return wave.astype(np.float32, copy=False)
    with torch.no_grad():
        resampler = _resampler(tractable_rate(rate, target), target)
        return resampler(torch.from_numpy(np.ascontiguousarray(wave))).numpy()


def tractable_rate(rate: int, target: int) -> int:
    """``rate``, or for an odd one the nearest multiple of 100 Hz: torchaudio's kernel grows with
    the reduced ratio of the two rates (96,001 to 8,000 Hz asks for 6 GB), and snapping changes
    the speed by well under 1 % (an odd rate is a mis-written header or a hand-made file)."""
    if rate // math.gcd(rate, target) <= 1000:
        return rate
    return max(100, round(rate / 100) * 100)


def loop_to_length(wave: np.ndarray, length: int) -> np.ndarray:
    """Repeat ``wave`` end to end until it is ``length`` long, then cut: the official code's
    tiling (CREMA-D: 3 s from a clip tiled 3x; VGGSound: tiled to >= 10 s)."""
    return np.resize(wave, length).astype(np.float32, copy=False)


def centre_to_length(wave: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop a long waveform, or centre it in zeros if short (AV-MNIST's 1 s window)."""
    if len(wave) >= length:
        start = (len(wave) - length) // 2
        return wave[start : start + length].astype(np.float32, copy=False)
    out = np.zeros(length, np.float32)
    start = (length - len(wave)) // 2
    out[start : start + len(wave)] = wave
    return out


def log_stft(waves: torch.Tensor, n_fft: int, hop: int, eps: float = 1e-7) -> torch.Tensor:
    """``log(|STFT| + eps)`` of one waveform ``(n,)`` or a batch ``(B, n)``.

    Output ``(..., n_fft // 2 + 1, 1 + n // hop)``; no normalisation, as in the official code.
    """
    window = torch.hann_window(n_fft, dtype=waves.dtype)
    spec = torch.stft(
        waves,
        n_fft=n_fft,
        hop_length=hop,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    return torch.log(spec.abs() + eps)


def noise_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``noise`` scaled so that ``signal`` power over it is ``snr_db`` decibels.

    Powers are means of squares; a silent signal or noise gets no noise added.
    """
    p_signal = float(np.mean(np.square(signal, dtype=np.float64)))
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    if p_signal == 0.0 or p_noise == 0.0:
        return np.zeros_like(noise, dtype=np.float32)
    gain = np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (noise * gain).astype(np.float32)
