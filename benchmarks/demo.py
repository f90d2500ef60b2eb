"""The demo from an empty model cache, timed per notebook: what `bash scripts/demo.sh` costs.

Runs notebooks 01-04 with their defaults (the smoke profile on the synthetic data, one torch
thread per process, as `scripts/demo.sh` sets) into a temporary folder with a fresh model
cache, once per ``--jobs`` setting (``G2D_LITE_JOBS``: 1 runs the notebooks in order and
trains one run at a time; ``auto`` runs them side by side, one training run per idle core).
Prints each notebook's wall seconds (they overlap when side by side), the total, and the
machine:

    python -m benchmarks.demo --jobs 1,auto
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    command_line,
    load_average,
    machine,
    machine_markdown,
    markdown_table,
    write_rows,
)
from g2d_lite import run
from g2d_lite.parallel import ENV


def time_demo(jobs: str) -> dict[str, float | str]:
    """Wall seconds of each numbered notebook and of the whole demo from an empty model cache,
    scheduled as `python -m g2d_lite.run demo` schedules them (side by side unless
    ``G2D_LITE_JOBS=1``)."""
    if jobs == "auto":
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = jobs
    with tempfile.TemporaryDirectory(prefix="g2d-demo-") as tmp:
        params = {"ARTIFACT_DIR": str(Path(tmp) / "artifacts")}
        together = run.side_by_side(params)
        started = time.perf_counter()
        seconds = run.run_notebooks(run.numbered_notebooks(), params, Path(tmp), together)
        total = time.perf_counter() - started
    row: dict[str, float | str] = {"side_by_side": "yes" if together else "no"}
    row.update({path.name: value for path, value in seconds.items()})
    return {**row, "total": total}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, help="also write the rows to this .json or .csv")
    parser.add_argument(
        "--jobs", default="1,auto", help="comma list of G2D_LITE_JOBS settings (default 1,auto)"
    )
    args = parser.parse_args(argv)
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # as scripts/demo.sh
    info = machine()
    rows = []
    for jobs in [j.strip() for j in args.jobs.split(",") if j.strip()]:
        rows.append({"G2D_LITE_JOBS": jobs, **time_demo(jobs)})
        print(markdown_table(rows[-1:]), flush=True)
    info["load_end"] = load_average()
    print(f"\n{command_line()}\n")
    print(markdown_table(rows, ["G2D_LITE_JOBS", "side_by_side", "01", "02", "03", "04", "total"]))
    print(f"\n{machine_markdown({**info, 'usable_cores': len(os.sched_getaffinity(0))})}")
    if args.out:
        write_rows(args.out, rows, {"machine": info, "command": command_line()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
