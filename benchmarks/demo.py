"""The demo from an empty model cache, timed per notebook: what `bash scripts/demo.sh` costs.

Runs notebooks 01-04 with their defaults (the smoke profile on the synthetic data, one torch
thread per process, as `scripts/demo.sh` sets), each into a temporary folder with a fresh
model cache, once per ``--jobs`` setting (``G2D_LITE_JOBS``: 1 trains one run at a time,
``auto`` one run per idle core). Prints a table of wall seconds per notebook and the machine:

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


def time_demo(jobs: str) -> dict[str, float]:
    """Wall seconds of each numbered notebook, run in order from an empty model cache."""
    env = {**run.RUN_ENV, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if jobs != "auto":
        env[ENV] = jobs
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="g2d-demo-") as tmp:
        params = {"ARTIFACT_DIR": str(Path(tmp) / "artifacts")}
        for notebook in run.numbered_notebooks():
            out = Path(tmp) / notebook.stem[:2]
            started = time.perf_counter()
            values = {**run.for_notebook(params, notebook), "OUTPUT_DIR": str(out)}
            run.execute(notebook, out / notebook.name, values, env=env)
            seconds[notebook.stem[:2]] = time.perf_counter() - started
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, help="also write the rows to this .json or .csv")
    parser.add_argument(
        "--jobs", default="1,auto", help="comma list of G2D_LITE_JOBS settings (default 1,auto)"
    )
    args = parser.parse_args(argv)
    info = machine()
    rows = []
    for jobs in [j.strip() for j in args.jobs.split(",") if j.strip()]:
        seconds = time_demo(jobs)
        rows.append({"G2D_LITE_JOBS": jobs, **seconds, "total": sum(seconds.values())})
        print(markdown_table(rows[-1:]), flush=True)
    info["load_end"] = load_average()
    print(f"\n{command_line()}\n")
    print(markdown_table(rows, ["G2D_LITE_JOBS", "01", "02", "03", "04", "total"]))
    print(f"\n{machine_markdown({**info, 'usable_cores': len(os.sched_getaffinity(0))})}")
    if args.out:
        write_rows(args.out, rows, {"machine": info, "command": command_line()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
