"""Shared pieces of the bad-input tests: tiny CLI runs and the check every refusal must pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# One epoch of the synthetic data at a size that trains in a fraction of a second.
TINY = [
    "epochs=1",
    "batch_size=32",
    "progress=False",
    "data_options={'n_train': 64, 'n_validation': 32, 'n_test': 32}",
]


def refused(capsys, status: int, expected_status: int = 2, *needles: str) -> str:
    """Assert a command refused cleanly: its exit status, exactly one line on stderr, no
    traceback, and every ``needle`` (the offending thing, the fix) named in that line."""
    err = capsys.readouterr().err
    assert status == expected_status, f"exit {status}, expected {expected_status}: {err}"
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("note:")]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{err}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in: {lines[0]}"
    return lines[0]


def run_module(
    *args: str, cwd: Path | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    """``python -m <args>`` in a fresh interpreter (one torch thread, no progress bars)."""
    env = {
        **os.environ,
        "G2D_LITE_PROGRESS": "0",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO),
    }
    env.pop("G2D_LITE_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its content, to prove a refusal changed nothing."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
