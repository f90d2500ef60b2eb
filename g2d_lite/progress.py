"""Progress bars with one switch: the ``progress`` config flag or ``G2D_LITE_PROGRESS=0``.

``TQDM_DISABLE`` does not reach notebook widget bars, so the kit passes ``disable=`` itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_enabled(requested: bool = True) -> bool:
    """False when the caller or the environment (``G2D_LITE_PROGRESS=0``) turns bars off."""
    return requested and os.environ.get("G2D_LITE_PROGRESS", "1") not in ("0", "false", "no")


def progress(
    iterable: Iterable[T], enabled: bool = True, desc: str = "", total: int | None = None
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar unless progress is switched off."""
    return iter(
        tqdm(
            iterable,
            desc=desc,
            total=total,
            disable=not progress_enabled(enabled),
            leave=False,
            dynamic_ncols=True,
        )
    )
