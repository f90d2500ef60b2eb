"""Checkpoints that hold data, never code, written atomically.

A checkpoint holds everything a resumed run needs to continue bit for bit: the model,
optimizer and scheduler states, the epoch, histories, selection bookkeeping, the RNG states,
and the config and library versions for provenance. Every value is a tensor or plain data
(dicts, lists, strings, numbers), so :func:`load_checkpoint` reads it with
``torch.load(weights_only=True)``: a crafted file in someone's teacher folder cannot run code
on the machine that opens it; it is refused with a message instead.
"""

from __future__ import annotations

import codecs
import io
import pickle
import platform
import random
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

import g2d_lite
from g2d_lite.atomic import atomic_write
from g2d_lite.data.base import DatasetInfo, ModalitySpec
from g2d_lite.errors import KitError

FORMAT = "g2d-lite/checkpoint"
FORMAT_VERSION = 2


class CheckpointError(KitError):
    """A checkpoint cannot be used: absent, damaged, foreign or unsafe to load."""


def versions() -> dict[str, str]:
    """Library versions stored with every checkpoint and run folder."""
    import torchvision

    return {
        "g2d_lite": str(g2d_lite.__version__),
        "torch": str(torch.__version__),  # a TorchVersion, which is not plain data
        "torchvision": str(torchvision.__version__),
        "numpy": str(np.__version__),
        "python": platform.python_version(),
    }


def info_to_dict(info: DatasetInfo) -> dict[str, Any]:
    """What a model needs of a :class:`DatasetInfo`, as plain data (``extra`` is left out)."""
    return {
        "name": info.name,
        "modalities": [asdict(m) for m in info.modalities],
        "task": info.task,
        "class_names": list(info.class_names),
        "target_dim": info.target_dim,
    }


def info_from_dict(values: dict[str, Any]) -> DatasetInfo:
    """The inverse of :func:`info_to_dict`."""
    modalities = tuple(
        ModalitySpec(m["name"], tuple(m["shape"]), m["kind"]) for m in values["modalities"]
    )
    return DatasetInfo(
        name=values["name"],
        modalities=modalities,
        task=values["task"],
        class_names=tuple(values["class_names"]),
        target_dim=values["target_dim"],
    )


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Atomically save ``state`` (plus format and versions) with ``torch.save``.

    The bytes are built in memory and then written: torch's zip writer reports a full disk as
    an opaque ``RuntimeError``, a plain file write as the ``OSError`` (ENOSPC) it is.
    """
    state = {**state, "format": FORMAT, "format_version": FORMAT_VERSION, "versions": versions()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda handle: handle.write(buffer.getbuffer()))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, refusing anything else."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a folder, not a checkpoint: pass a file such as {path / 'checkpoints'}"
            "/best.pt, or read a whole run folder with g2d_lite.store.load_run"
        )
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    kind = _other_kind(path)  # history.csv, an .npy: another file, not a damaged checkpoint
    if kind is not None:
        raise CheckpointError(
            f"{path} is not a checkpoint but {kind}: pass a run's checkpoints/best.pt or "
            "checkpoints/last.pt"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(  # torch names the refused global: "unsupported GLOBAL posix.system ..."
            r"unsupported (?!operand)(?:global:? |class:? )?(?:GLOBAL )?([A-Za-z_][\w.]*)",
            str(error),
            re.IGNORECASE,
        )
        if found is None:  # not a pickle of ours at all: random bytes, a cut-off old file
            raise CheckpointError(
                f"{path} cannot be read (truncated or corrupt: {_first_sentence(error)}); "
                "restore it, or start the run over with --no-resume"
            ) from error
        raise CheckpointError(
            f"refusing to load {path}: it holds Python objects ({found.group(1)}) that could run"
            " code when opened, and g2d-lite checkpoints hold plain data only; retrain it with"
            " this version of g2d-lite"
        ) from error
    except Exception as error:  # noqa: BLE001 - whatever a damaged file makes torch.load raise
        raise CheckpointError(
            f"{path} cannot be read (truncated or corrupt: {_first_sentence(error)});"
            " restore it, or start the run over with --no-resume"
        ) from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a g2d-lite checkpoint (no {FORMAT!r} marker)")
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written in checkpoint format {state.get('format_version')}, this "
            f"g2d-lite reads format {FORMAT_VERSION}; retrain it with this version"
        )
    return state


def _other_kind(path: Path) -> str | None:
    """What a file recognisably is when it is not a checkpoint (a zip archive or a pickle):
    a NumPy array or text; ``None`` for anything else, damaged checkpoints included."""
    with path.open("rb") as file:
        head = file.read(512)
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy array file"
    try:  # incremental: a character cut at byte 512 is not an error
        text = codecs.getincrementaldecoder("utf-8")().decode(head)
    except UnicodeDecodeError:
        return None
    readable = bool(text) and all(c.isprintable() or c in "\r\n\t" for c in text)
    return "a text file" if readable else None


def _first_sentence(error: BaseException) -> str:
    return " ".join(str(error).split()).split(". ")[0][:160]


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch RNG states (CUDA too when present), as plain data."""
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"]["key"] = numpy_state["state"]["key"].tolist()
    state = {
        "python": random.getstate(),
        "numpy": numpy_state,
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = dict(numpy_state["state"])
    numpy_state["state"]["key"] = np.asarray(numpy_state["state"]["key"], dtype=np.uint32)
    np.random.set_state(numpy_state)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
