"""A training split held on the training device: uploaded once, batches gathered there.

CREMA-D's training split at the paper's shapes (one stored frame per clip and its
spectrogram) is about 1.6 GB: it fits in a GPU many times over, yet the CPU path decodes,
crops and normalises every frame in DataLoader workers, every epoch. :class:`ResidentSplit`
uploads the raw arrays once (uint8 frames, float16 spectrograms) and does per batch, on the
device, what the readers do per sample: the paper's random resized crop and flip of the frames
(:mod:`g2d_lite.data.device_augment`) and the random time crop of long spectrograms. In-memory
splits (synthetic data, AV-MNIST) are simply moved. Only training splits go there; evaluation
keeps the CPU readers, so reported accuracies do not depend on where training ran.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from g2d_lite.data.base import MultimodalDataset
from g2d_lite.data.device_augment import augment_frames
from g2d_lite.data.readers import Frames, MemmapDataset, Spectrograms


class ResidentSplit(MultimodalDataset):
    """``source``'s samples on ``device``; :meth:`transform_batch` finishes a gathered batch."""

    def __init__(self, source: MultimodalDataset, device: torch.device) -> None:
        self.info, self.split = source.info, source.split
        self.deterministic = source.deterministic
        self.device = device
        self.frames: dict[str, int] = {}  # modality -> output frame size, for uint8 frames
        self.spectrograms: dict[str, int | None] = {}  # modality -> time window (None: all)
        tensors = source.as_tensors()
        if tensors is not None:
            inputs = dict(tensors[0])
        elif isinstance(source, MemmapDataset):
            inputs = {m: self._upload(m, read, source.rows) for m, read in source.readers.items()}
        else:
            raise ValueError(
                f"{source.info.name}/{source.split} cannot be held on the device (neither in "
                "memory nor a prepared cache); use data_on_device='never'"
            )
        self.inputs = {m: x.to(device) for m, x in inputs.items()}
        self._targets = source.targets.to(device)

    def _upload(self, modality: str, read: object, rows: np.ndarray) -> Tensor:
        if isinstance(read, Frames):
            self.frames[modality] = read.size
            return torch.from_numpy(np.ascontiguousarray(read.source.array[read.picks[rows]]))
        if isinstance(read, Spectrograms):
            self.spectrograms[modality] = read.width
            return torch.from_numpy(np.ascontiguousarray(read.source.array[rows]))[:, None]
        return torch.stack([read(int(r)) for r in rows])

    def __len__(self) -> int:
        return len(self._targets)

    def __getitem__(self, index: int) -> tuple[dict[str, Tensor], Tensor]:
        inputs, targets = self.as_tensors()
        return {m: x[index] for m, x in inputs.items()}, targets[index]

    def as_tensors(self) -> tuple[dict[str, Tensor], Tensor]:
        return self.inputs, self._targets

    @property
    def targets(self) -> Tensor:
        return self._targets

    @property
    def bytes(self) -> int:
        """Device memory the split holds."""
        return sum(x.numel() * x.element_size() for x in self.inputs.values())

    def transform_batch(
        self, inputs: dict[str, Tensor], generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """What the CPU readers do per sample, for a whole gathered batch: frames ``(B, T, H, W,
        3)`` uint8 -> augmented ``(B, 3, T, s, s)``; float16 spectrograms -> float32, randomly
        cropped to their window when longer."""
        out = dict(inputs)
        for m, size in self.frames.items():
            clips = inputs[m]
            b, t = clips.shape[:2]
            frames = augment_frames(clips.flatten(0, 1), size, generator)
            out[m] = frames.view(b, t, 3, size, size).permute(0, 2, 1, 3, 4)
        for m, width in self.spectrograms.items():
            spec = inputs[m]
            slack = spec.shape[-1] - (width or spec.shape[-1])
            if slack > 0:
                start = torch.floor(
                    torch.rand(len(spec), device=spec.device, generator=generator) * (slack + 1)
                ).long()
                index = start[:, None] + torch.arange(width, device=spec.device)
                index = index[:, None, None, :].expand(*spec.shape[:-1], width)
                spec = spec.gather(-1, index)
            out[m] = spec.float()
        return out
