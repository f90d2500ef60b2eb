"""Progress bars with one switch: the ``progress`` config flag or ``G2D_LITE_PROGRESS=0``.

``TQDM_DISABLE`` does not reach notebook widget bars, so the kit passes ``disable=`` itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

from g2d_lite.api_checks import require_bool
from g2d_lite.switches import env_switch

T = TypeVar("T")


SWITCH_ENV = "G2D_LITE_PROGRESS"


def progress_enabled(requested: bool = True) -> bool:
    """False when the caller or the environment (``G2D_LITE_PROGRESS=0``, ``off``, ``false``,
    ``no``, in any case) turns bars off. Any other value is refused: a typo would otherwise
    leave the bars on without a word; so is a ``requested`` that is not a bool (the string
    "no" is truthy)."""
    require_bool("progress", requested)
    return requested and env_switch(SWITCH_ENV, True, "show progress bars")


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
