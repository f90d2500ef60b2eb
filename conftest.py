"""Repository-wide pytest hooks.

nbval compares stderr and HTML by default; both carry run-specific noise (warnings with
temporary paths, DataFrame HTML styling), so notebooks are compared on plain text only
(notebooks/README.md, nbval). Images and widget views are already skipped by nbval.

``scripts/test.sh`` spreads the suite over the cores with pytest-xdist (``--dist loadscope``:
each module and each notebook runs in one worker, so nbval's cells share one kernel and a
module's fixtures are built once); the scheduler below also keeps the notebook chain together.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
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


def _dump_child_stacks(item: pytest.Item) -> None:
    """Print the Python stacks of this test's process and of every process it started (py-spy):
    a hang inside a notebook kernel or a forked training worker shows up here only as a wait."""
    import psutil

    spy = Path(sys.executable).with_name("py-spy")
    lines = [f"\n+++ {item.nodeid} is still running; the stacks of its processes +++"]
    here = psutil.Process()
    for child in [here, *here.children(recursive=True)]:
        try:
            command = " ".join(child.cmdline())[:200]
            done = subprocess.run(
                [str(spy), "dump", "--pid", str(child.pid)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            lines += [f"--- pid {child.pid}: {command}", done.stdout or done.stderr]
        except (OSError, subprocess.SubprocessError, psutil.Error) as error:
            lines.append(f"--- pid {child.pid}: no stack ({error})")
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:  # pytest-timeout does the same before it prints
        capture.suspend_global_capture(in_=True)
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Any:
    """A minute before pytest-timeout stops a hung test (``timeout`` in pyproject.toml), show
    where its child processes are stuck."""
    timeout = float(item.config.getini("timeout") or 0)
    if timeout <= 0:
        yield
        return
    timer = threading.Timer(max(1.0, timeout - 60), _dump_child_stacks, args=(item,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
