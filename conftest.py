"""Repository-wide pytest hooks.

nbval compares stderr and HTML by default; both carry run-specific noise (warnings with
temporary paths, DataFrame HTML styling), so notebooks are compared on plain text only
(notebooks/README.md, nbval). Images and widget views are already skipped by nbval.
"""

from __future__ import annotations

from typing import Any

NBVAL_SKIP_COMPARE: tuple[str, ...] = ("stderr", "text/html", "application/javascript")


def pytest_collectstart(collector: Any) -> None:
    """Extend nbval's ``skip_compare`` on its notebook collectors; nothing else is touched."""
    skip = getattr(collector, "skip_compare", None)
    if skip is not None:
        collector.skip_compare = skip + tuple(k for k in NBVAL_SKIP_COMPARE if k not in skip)
