"""What a run folder costs: whole training runs with and without one.

A run folder adds a lock, an atomic ``last.pt`` per epoch (plus ``best.pt`` when the selection
changes), ``history.csv`` per epoch and the final tables. This times whole runs of a teacher and
a G²D student under the smoke profile (the notebooks' runs), in memory (``run_dir=None``) and
into a fresh folder, interleaved ``--repeats`` times, and reports the median seconds per run and
the folder's cost per epoch. Run it on two checkouts to compare versions of the kit.

    python -m benchmarks.run_folder --repeats 3
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import base_parser, machine, markdown_table, report, set_threads, write_rows
from g2d_lite.config import resolve
from g2d_lite.notebook import load_data
from g2d_lite.train import train_student, train_teacher


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per variant")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per run (smoke: 30)")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    started = time.perf_counter()
    info = machine()
    cfg = resolve("smoke", epochs=args.epochs, progress=False)
    data = load_data(cfg)
    teachers = {m: train_teacher(cfg, data, m).model for m in data.info.modality_names}
    runs = {
        "teacher": lambda folder: train_teacher(cfg, data, "audio", run_dir=folder),
        "g2d student": lambda folder: train_student(cfg, data, teachers, run_dir=folder),
    }
    seconds: dict[tuple[str, str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="g2d-bench-") as tmp:
        for repeat in range(args.repeats):
            for name, run in runs.items():
                for where in ("memory", "folder"):
                    folder = Path(tmp) / f"{name}-{repeat}" if where == "folder" else None
                    wall, cpu = time.perf_counter(), time.process_time()
                    run(folder)
                    seconds.setdefault((name, where, "wall"), []).append(time.perf_counter() - wall)
                    seconds.setdefault((name, where, "cpu"), []).append(time.process_time() - cpu)
    rows = []
    for name in runs:
        for clock in ("wall", "cpu"):
            memory = statistics.median(seconds[(name, "memory", clock)])
            folder = statistics.median(seconds[(name, "folder", clock)])
            rows.append(
                {
                    "run": name,
                    "clock": clock,
                    "in memory (s)": round(memory, 2),
                    "with folder (s)": round(folder, 2),
                    "folder cost per epoch (ms)": round(1000 * (folder - memory) / args.epochs, 1),
                    "ratio": round(folder / memory, 3),
                }
            )
    print(report("Run folder cost", [markdown_table(rows)], info, started))
    if args.out:
        raw = [
            {"run": k[0], "where": k[1], "clock": k[2], "seconds": v} for k, v in seconds.items()
        ]
        write_rows(args.out, raw, {"machine": info, "summary": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
