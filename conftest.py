"""Repository-wide pytest hooks.

nbval compares stderr and HTML by default; both carry run-specific noise (warnings with
temporary paths, DataFrame HTML styling), so notebooks are compared on plain text only
(notebooks/README.md, nbval). Images and widget views are already skipped by nbval.

``scripts/test.sh`` spreads the suite over the cores with pytest-xdist (``--dist loadscope``:
each module and each notebook runs in one worker, so nbval's cells share one kernel and a
module's fixtures are built once); the scheduler below also keeps the notebook chain together.
"""

from __future__ import annotations

from typing import Any

import pytest

NBVAL_SKIP_COMPARE: tuple[str, ...] = ("stderr", "text/html", "application/javascript")


def in_notebook_chain(scope: str) -> bool:
    """The papermill runs of the numbered notebooks and nbval on the committed ones share one
    model cache (G2D_LITE_TEST_ARTIFACT_DIR): run in two workers they would train the same runs
    at once, so they form one scope, in collection order."""
    path = scope.split("::", 1)[0]
    numbered = path.startswith("notebooks/") and path.count("/") == 1
    return path == "tests/test_notebooks.py" or (numbered and path.endswith(".ipynb"))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``--dist loadscope``: xdist's module scopes, the notebook chain as one of them."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class NotebookChainScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return "notebook-chain" if in_notebook_chain(scope) else scope

    return NotebookChainScheduling(config, log)


def pytest_collectstart(collector: Any) -> None:
    """Extend nbval's ``skip_compare`` on its notebook collectors; nothing else is touched."""
    skip = getattr(collector, "skip_compare", None)
    if skip is not None:
        collector.skip_compare = skip + tuple(k for k in NBVAL_SKIP_COMPARE if k not in skip)
