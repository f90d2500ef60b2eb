"""The one dataset contract every loader in the kit follows.

A sample is ``(inputs, target)`` where ``inputs`` maps modality name -> tensor. Datasets state
their modalities, task and classes in a :class:`DatasetInfo`, and come as a
:class:`DatasetSplits` with train, validation and test (always a validation split, so the honest
protocol is always possible).

Datasets that fit in memory are :class:`TensorMultimodalDataset`: training iterates them by
slicing whole tensors, with no per-sample Python work. Larger ones (memory-mapped caches with
augmentation) implement ``__getitem__`` and are batched by a DataLoader.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any, Literal

import torch
from torch.utils.data import Dataset

from g2d_lite.data.validate import (
    DatasetError,
    check_dense,
    check_inputs,
    check_not_empty,
    check_rows,
    check_targets,
)
from g2d_lite.errors import KitError

Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = ("classification", "regression")
SPLITS: tuple[str, ...] = ("train", "validation", "test")
MODALITY_KINDS: tuple[str, ...] = ("spectrogram", "image", "video", "vector")
# The per-sample shape each CNN kind's encoder reads (vectors take any shape; they are flattened).
_KIND_SHAPES: dict[str, tuple[str, ...]] = {
    "spectrogram": ("C", "H", "W"),
    "image": ("C", "H", "W"),
    "video": ("C", "T", "H", "W"),
}


# labels the diagnostics give to steps, samples and outputs ("all" trained, "audio+visual" led,
# "none" informative, the "fused" prediction); a modality of that name would be read as one
RESERVED_NAMES = ("all", "none", "fused")
_NAME_SEPARATORS = "+/\\."  # leader labels, folder names, and module paths (ModuleDict keys)


def _check_modality_name(name: str) -> None:
    bad = sorted({c for c in name if c in _NAME_SEPARATORS})
    if name.lower() in RESERVED_NAMES or bad or name != name.strip():
        why = (
            f"{name!r} is a label the diagnostics use for steps, samples or outputs"
            if name.lower() in RESERVED_NAMES
            else f"{bad} separate names in leader labels, folders and module paths"
            if bad
            else "outer spaces would name another folder and encoder"
        )
        raise ValueError(
            f"modality name {name!r} cannot be used: {why}; rename the modality "
            "(letters, digits, '_' and '-', e.g. 'depth_map')"
        )


@dataclass(frozen=True)
class ModalitySpec:
    """Shape and kind of one modality, per sample (no batch dimension).

    ``kind`` picks a sensible default encoder: spectrogram/image -> 2-D CNN, video ->
    frames folded into the batch (shape ``(C, T, H, W)``), vector -> MLP.
    """

    name: str
    shape: tuple[int, ...]
    kind: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(
                f"a modality needs a name (it names its encoder, teacher and run folder), got "
                f"{self.name!r}"
            )
        _check_modality_name(self.name)
        shape = self.shape
        if (
            not isinstance(shape, (tuple, list))
            or not shape
            or not all(isinstance(n, Integral) and not isinstance(n, bool) and n > 0 for n in shape)
        ):
            raise ValueError(
                f"modality {self.name!r}: shape must be a tuple of positive whole numbers per "
                f"sample (no batch dimension), e.g. (1, 16, 16) or (40,), got {shape!r}"
            )
        object.__setattr__(self, "shape", tuple(int(n) for n in shape))
        if self.kind not in MODALITY_KINDS:
            raise ValueError(
                f"modality {self.name!r}: unknown kind {self.kind!r}; valid kinds: {MODALITY_KINDS}"
            )
        wanted = _KIND_SHAPES.get(self.kind)
        if wanted is not None and len(self.shape) != len(wanted):
            raise ValueError(
                f"modality {self.name!r}: kind {self.kind!r} takes a ({', '.join(wanted)}) "
                f"shape per sample, got {self.shape}; for flat features use kind 'vector'"
            )

    @property
    def channels(self) -> int:
        """Input channels for a CNN (1 for vectors, where it is unused)."""
        return self.shape[0] if self.kind != "vector" else 1


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset before seeing a sample."""

    name: str
    modalities: tuple[ModalitySpec, ...]
    task: Task = "classification"
    class_names: tuple[str, ...] = ()
    target_dim: int = 1  # regression outputs per sample
    extra: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; valid tasks: {TASKS}")
        if isinstance(self.class_names, str):
            raise TypeError(
                f"class_names must be a tuple of names, got the string {self.class_names!r} "
                f"(read letter by letter it would be {len(self.class_names)} classes); pass "
                f"{tuple(c.strip() for c in self.class_names.split(','))!r}"
            )
        if isinstance(self.modalities, (str, ModalitySpec)) or not all(
            isinstance(m, ModalitySpec) for m in self.modalities
        ):
            raise TypeError(
                "modalities must be a tuple of ModalitySpec(name, shape, kind), e.g. "
                "(ModalitySpec('audio', (1, 16, 16), 'spectrogram'),), got "
                f"{self.modalities!r}"[:300]
            )
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "class_names", tuple(self.class_names))
        if self.task == "classification" and len(self.class_names) < 2:
            raise ValueError("a classification dataset needs at least two class_names")
        names = [m.name for m in self.modalities]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate modality names: {names}")
        classes = list(self.class_names)
        unnamed = next(
            (i for i, c in enumerate(classes) if c is None or str(c).strip() == ""), None
        )
        if unnamed is not None:  # plots, checkpoints and provenance show each class by its name
            raise ValueError(
                f"class_names[{unnamed}] is {classes[unnamed]!r}: every class needs a non-empty "
                "name"
            )
        repeated = sorted({c for c in classes if classes.count(c) > 1})
        if repeated:
            raise ValueError(
                f"class names {repeated} appear more than once; each class needs its own name "
                "(its label is its position in class_names)"
            )

    @property
    def modality_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.modalities)

    @property
    def num_outputs(self) -> int:
        """Width of the model's output layer: classes, or regression targets."""
        return len(self.class_names) if self.task == "classification" else self.target_dim

    def spec(self, modality: str) -> ModalitySpec:
        """The spec of one modality, or a clear error listing the valid names."""
        for m in self.modalities:
            if m.name == modality:
                return m
        raise KeyError(f"unknown modality {modality!r}; this dataset has {self.modality_names}")


class MultimodalDataset(Dataset):
    """Base class: ``dataset[i] -> (dict[str, Tensor], target)``.

    ``deterministic`` says whether the same index always yields the same tensors (no random
    augmentation). Teacher outputs are cached only for deterministic datasets.
    """

    info: DatasetInfo
    split: str
    deterministic: bool = True

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        raise NotImplementedError  # pragma: no cover - abstract

    def as_tensors(self) -> tuple[dict[str, torch.Tensor], torch.Tensor] | None:
        """All samples as stacked tensors when they fit in memory, else ``None``."""
        return None

    @property
    def targets(self) -> torch.Tensor:
        """All targets, in index order (used for stratification and class counts)."""
        return torch.stack([self[i][1] for i in range(len(self))])


FINGERPRINT_VALUES = 64  # values per modality in a sample's fingerprint


def _fingerprints(inputs: Mapping[str, torch.Tensor]) -> list[bytes]:
    """A cheap key per sample: evenly spaced values of each modality, as bytes. Values are
    copied, not summed, so equal samples always give equal keys."""
    n = len(next(iter(inputs.values())))
    picked = []
    for name in sorted(inputs):
        flat = inputs[name].reshape(n, -1)
        step = max(1, flat.shape[1] // FINGERPRINT_VALUES)
        picked.append(flat[:, ::step].to(torch.float64))
    keys = torch.cat(picked, dim=1).numpy()
    return [row.tobytes() for row in keys]


def _first_rows(split: MultimodalDataset) -> dict[bytes, int]:
    """Each sample fingerprint of an in-memory split, with the first row that has it ({} for a
    split on disk, which is not compared)."""
    first: dict[bytes, int] = {}
    if isinstance(split, TensorMultimodalDataset) and len(split):
        for row, key in enumerate(_fingerprints(split.inputs)):
            first.setdefault(key, row)
    return first


def _copies(held: MultimodalDataset, train: MultimodalDataset, first: Mapping[bytes, int]) -> int:
    """How many of ``held``'s samples are exact copies of ``train`` samples, in any order (a
    test split of shuffled train rows, a validation split sliced from the train tensors):
    the fingerprints in ``first`` (:func:`_first_rows` of ``train``, made once for every split
    compared with it) find the candidates, an exact comparison confirms them."""
    if held is train:
        return len(held)
    tensors = isinstance(held, TensorMultimodalDataset) and isinstance(
        train, TensorMultimodalDataset
    )
    if not tensors or not len(held) or not first or held.inputs.keys() != train.inputs.keys():
        return 0
    candidates = [
        (row, first[key]) for row, key in enumerate(_fingerprints(held.inputs)) if key in first
    ]
    return sum(
        all(torch.equal(held.inputs[m][row], train.inputs[m][other]) for m in held.inputs)
        for row, other in candidates
    )


UNTRAINED_FIX = "shuffle the samples before splitting them"


def _warn_untrained_classes(splits: DatasetSplits) -> None:
    """A class absent from an in-memory train split (sorted-then-sliced arrays) cannot be
    learnt, yet the scores still count it: say so, since training itself runs without a word."""
    train = splits.train
    if splits.info.task != "classification" or not isinstance(train, TensorMultimodalDataset):
        return
    present = set(train.targets.tolist())
    names = splits.info.class_names
    missing = [name for c, name in enumerate(names) if c not in present]
    if missing:
        warnings.warn(
            f"{splits.info.name}: train has no sample of class {missing[0]!r}"
            f"{f' and {len(missing) - 1} more' if len(missing) > 1 else ''} ({len(missing)} of "
            f"{len(names)} classes), which a model cannot learn; {UNTRAINED_FIX}",
            stacklevel=4,
        )


def _same_samples(a: MultimodalDataset, b: MultimodalDataset) -> bool:
    """The same split, or two in-memory splits holding the same samples in any order."""
    if a is b:
        return True
    return len(a) == len(b) and _copies(a, b, _first_rows(b)) == len(a)


class TensorMultimodalDataset(MultimodalDataset):
    """An in-memory dataset: one tensor per modality plus a target tensor, all length N."""

    def __init__(
        self,
        info: DatasetInfo,
        split: str,
        inputs: Mapping[str, torch.Tensor],
        targets: torch.Tensor,
    ) -> None:
        if not isinstance(info, DatasetInfo):
            raise TypeError(
                f"info must be a DatasetInfo (the data's info, e.g. data.info), got "
                f"{type(info).__name__}"
            )
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid splits: {SPLITS}")
        if not isinstance(inputs, Mapping):
            raise TypeError(
                f"inputs must map each modality name to its tensor, e.g. {{'audio': x_audio}}; "
                f"got {type(inputs).__name__}"
            )
        if set(inputs) != set(info.modality_names):
            raise ValueError(
                f"inputs have modalities {sorted(inputs)}, info declares {info.modality_names}"
            )
        where = f"{info.name}/{split}"
        for name, tensor in {**inputs, "targets": targets}.items():
            what = "targets" if name == "targets" else f"modality {name!r}"
            if not isinstance(tensor, torch.Tensor):
                raise DatasetError(
                    f"{where}: {what} is a {type(tensor).__name__}, not a torch.Tensor; convert "
                    "it with torch.as_tensor(...) (and .float() for inputs, .long() for labels)"
                )
            check_dense(what, tensor, where)
            if tensor.ndim == 0:
                raise DatasetError(
                    f"{where}: {what} is a 0-d tensor (one number), not one row per sample; "
                    "give shape (N, ...), e.g. torch.tensor([1]) for a single label"
                )
        check_rows(
            {"targets": len(targets), **{f"modality {m!r}": len(t) for m, t in inputs.items()}},
            where,
            "every modality needs one row per target",
        )
        for name, tensor in inputs.items():
            expected = info.spec(name).shape
            if tuple(tensor.shape[1:]) != tuple(expected):
                raise DatasetError(
                    f"{where}: modality {name!r} has sample shape {tuple(tensor.shape[1:])}, "
                    f"info declares {expected}"
                )
            check_inputs(name, tensor, where)
        check_targets(targets, info.task, info.num_outputs, where)
        self.info = info
        self.split = split
        # detached: a tensor left requiring grad (features taken without no_grad) would have
        # every training step back-propagate into the data and accumulate a gradient there
        self.inputs = {name: inputs[name].detach() for name in info.modality_names}
        self._targets = targets.detach()

    def __len__(self) -> int:
        return len(self._targets)

    def __getitem__(self, index: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return {m: t[index] for m, t in self.inputs.items()}, self._targets[index]

    def as_tensors(self) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return self.inputs, self._targets

    @property
    def targets(self) -> torch.Tensor:
        return self._targets


@dataclass
class DatasetSplits:
    """Train, validation and test splits of one dataset, sharing one :class:`DatasetInfo`.

    ``source`` says how they were loaded (the dataset name and every loader option, defaults
    filled in), for the run's data fingerprint (:mod:`g2d_lite.provenance`).
    """

    info: DatasetInfo
    train: MultimodalDataset
    validation: MultimodalDataset
    test: MultimodalDataset
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for split in SPLITS:
            if not isinstance(getattr(self, split), MultimodalDataset):
                raise TypeError(
                    f"DatasetSplits needs a dataset for every split ({', '.join(SPLITS)}); "
                    f"{split} is {type(getattr(self, split)).__name__} (a TensorMultimodalDataset "
                    "of held-out samples, for example)"
                )
        for split in SPLITS:
            declared = getattr(self, split).info
            if (declared.task, tuple(declared.class_names), declared.num_outputs) != (
                self.info.task,
                tuple(self.info.class_names),
                self.info.num_outputs,
            ):
                raise DatasetError(
                    f"{self.info.name}: the {split} split has task {declared.task!r} with classes "
                    f"{list(declared.class_names)[:5]} ({declared.num_outputs} outputs), the "
                    f"dataset {self.info.task!r} with {list(self.info.class_names)[:5]} "
                    f"({self.info.num_outputs} outputs); every split must share one DatasetInfo"
                )
            for m in self.info.modalities:
                other = declared.spec(m.name).shape if m.name in declared.modality_names else None
                if other != m.shape:
                    raise DatasetError(
                        f"{self.info.name}: the {split} split's {m.name!r} samples have shape "
                        f"{other}, the dataset's {m.shape}; every split must hold the same "
                        "modalities at the same shapes"
                    )
        train_rows = _first_rows(self.train)
        copies = {s: _copies(self[s], self.train, train_rows) for s in ("validation", "test")}
        for split, n in copies.items():
            if n and n == len(self[split]) == len(self.train):
                warnings.warn(
                    f"{self.info.name}: the {split} split is the train split itself (or its "
                    "samples, copied), so the "
                    f"{split} scores measure fitting, not generalisation; give it held-out samples",
                    stacklevel=3,
                )
            elif n:
                warnings.warn(
                    f"{self.info.name}: {n:,} of the {len(self[split]):,} {split} samples are "
                    f"copies of train samples, so the {split} scores partly measure fitting; "
                    f"give the {split} split held-out samples (drop those rows from it or from "
                    "train)",
                    stacklevel=3,
                )
        test_is_train = copies["test"] == len(self.test) == len(self.train)
        if _same_samples(self.validation, self.test) and not test_is_train:
            warnings.warn(
                f"{self.info.name}: the validation split is the test split itself, so the "
                "'honest' selection picks its epoch on test (the paper's protocol, not an honest "
                "number); give it held-out samples (e.g. a share of the train split)",
                stacklevel=3,
            )
        check_not_empty(
            self.sizes(),
            self.info.name,
            "every split needs samples (rebuild the data with larger split fractions, or give "
            "more samples)",
        )
        _warn_untrained_classes(self)

    def __getitem__(self, split: str) -> MultimodalDataset:
        if split not in SPLITS:
            raise KeyError(f"unknown split {split!r}; valid splits: {SPLITS}")
        return getattr(self, split)

    def sizes(self) -> dict[str, int]:
        """Samples per split, e.g. for a notebook's dataset summary."""
        return {s: len(self[s]) for s in SPLITS}


class MissingDatasetError(KitError, FileNotFoundError):
    """A prepared dataset cache is missing; the message names the script that builds it."""
