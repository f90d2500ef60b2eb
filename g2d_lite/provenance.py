"""Provenance: a fingerprint of the data a run saw, so teachers and students can be matched.

A teacher distilled into a student trained on other data (another synthetic seed, another
input size, AV-MNIST prepared with another ``audio_norm``) gives numbers that mean nothing, and
nothing in the tensors' shapes need betray it. Every run records :func:`data_fingerprint` of its
splits; a student compares its own with its teachers' and refuses on a difference, saying what
differs (:func:`fingerprint_differences`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import torch

from g2d_lite.data.base import SPLITS, DatasetSplits
from g2d_lite.errors import KitError

_CACHE_ATTRIBUTE = "_g2d_fingerprint"
# Compared in this order; the first keys explain a difference better than the content hash.
_KEYS = ("dataset", "task", "classes", "modalities", "options", "cache", "splits", "content")


class DataMismatchError(KitError):
    """Teachers (or a run being evaluated) were trained on other data than this run's."""


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), for stable comparisons."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _content_parts(data: DatasetSplits) -> list[tuple[str, list[torch.Tensor]]]:
    """Per split, what the content hash reads: the targets and, for in-memory splits, every
    input tensor; for on-disk splits, the cache rows they read (the cache's own checksums
    cover the files)."""
    parts = []
    for split in SPLITS:
        dataset = data[split]
        tensors = dataset.as_tensors()
        if tensors is not None:
            inputs, targets = tensors
            read = [targets, *(inputs[m] for m in sorted(inputs))]
        else:
            rows = getattr(dataset, "rows", None)
            read = [dataset.targets] + (
                [torch.from_numpy(np.asarray(rows))] if rows is not None else []
            )
        parts.append((f"{split}:{len(dataset)}", read))
    return parts


def _content_digest(parts: list[tuple[str, list[torch.Tensor]]]) -> str:
    """SHA-256 over :func:`_content_parts`."""
    digest = hashlib.sha256()
    for label, tensors in parts:
        digest.update(f"{label}\n".encode())
        for tensor in tensors:
            array = tensor.detach().cpu().contiguous().numpy()
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()[:16]


def _edits(parts: list[tuple[str, list[torch.Tensor]]]) -> tuple[tuple[str, int, int], ...]:
    """Which tensors the hash read, and torch's count of in-place edits of each: data edited in
    place (``mul_``, item assignment) or given other tensors is hashed again, never reported
    under the hash of what it was."""
    return tuple((label, id(t), t._version) for label, tensors in parts for t in tensors)


def data_fingerprint(data: DatasetSplits) -> dict[str, Any]:
    """What identifies ``data``: dataset, task, classes, input shapes, loader options, the cache's
    checksum manifest, split sizes and a content hash. Computed again only after an edit."""
    parts = _content_parts(data)
    cached = getattr(data, _CACHE_ATTRIBUTE, None)
    if cached is not None and cached[0] == _edits(parts):
        return cached[1]
    info = data.info
    fingerprint = _plain(
        {
            "dataset": info.name,
            "task": info.task,
            "classes": list(info.class_names),
            "modalities": {
                m.name: {"shape": list(m.shape), "kind": m.kind} for m in info.modalities
            },
            "options": data.source.get("options"),
            "cache": info.extra.get("cache_sha256"),
            "splits": data.sizes(),
            "in_memory": all(data[s].as_tensors() is not None for s in SPLITS),
            "content": _content_digest(parts),
        }
    )
    setattr(data, _CACHE_ATTRIBUTE, (_edits(parts), fingerprint))
    return fingerprint


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of a model's parameters and buffers: which teacher a student learned from, so a
    folder is never resumed or re-reported under other teachers."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{name}{array.dtype}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()[:16]


def _option_differences(theirs: Any, ours: Any) -> list[str]:
    if not isinstance(theirs, dict) or not isinstance(ours, dict):
        return [f"loader options {theirs} vs {ours}"]
    return [
        f"option {key} {theirs.get(key, 'unset')!r} vs {ours.get(key, 'unset')!r}"
        for key in sorted(set(theirs) | set(ours))
        if theirs.get(key) != ours.get(key)
    ]


def fingerprint_differences(theirs: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """What differs between two fingerprints, most telling first, as "theirs vs ours" phrases.

    A difference in the content alone is reported only when nothing above it explains it. When
    both datasets are held in memory the content hash sees every input value, so equal samples
    are the same data whatever options produced them.
    """
    same_samples = bool(
        theirs.get("content") == ours.get("content")
        and theirs.get("in_memory")
        and ours.get("in_memory")
    )
    found: list[str] = []
    for key in _KEYS:
        if same_samples and key in ("options", "cache"):
            continue
        a, b = theirs.get(key), ours.get(key)
        if a == b or (key == "content" and found):
            continue
        if key == "modalities" and isinstance(a, dict) and isinstance(b, dict):
            for m in sorted(set(a) | set(b)):
                if a.get(m) != b.get(m):
                    shape_a = (a.get(m) or {}).get("shape")
                    shape_b = (b.get(m) or {}).get("shape")
                    found.append(f"{m} input shape {shape_a} vs {shape_b}")
        elif key == "options":
            found += _option_differences(a, b)
        elif key == "content":
            found.append("the samples themselves (same settings: another build, or edited data)")
        else:
            found.append(f"{key} {a} vs {b}")
    return found


def check_same_data(
    theirs: dict[str, Any] | None,
    ours: dict[str, Any],
    what: str,
    override: str,
    ours_what: str = "this run",
) -> None:
    """Raise :class:`DataMismatchError` when ``theirs`` (``what``'s data) differs from ``ours``.

    ``None`` (a model made by hand, with no record) is accepted: there is nothing to compare.
    """
    if theirs is None:
        return
    differences = fingerprint_differences(theirs, ours)
    if differences:
        raise DataMismatchError(
            f"{what} saw other data than {ours_what} ({what} vs {ours_what}): "
            f"{'; '.join(differences)}. Use matching data, or {override} if you mean it"
        )
