"""One plain run into a fresh run folder, timed: what a user's `teacher` or `student` costs.

Comparing two versions of the kit (is a plain run slower after a change?) needs both timed on
the same load, so run this alternately from each checkout, each in a fresh process, and
compare the paired CPU times (RESULTS.md §8):

    for i in 1 2 3 4 5; do for root in ../old-checkout .; do
      (cd $root && PYTHONPATH=$PWD python -m benchmarks.plain_run student --epochs 10)
    done; done

Prints one line: ``<run> <cpu seconds> <wall seconds>`` (the timed call only; data generation
and, for the student, its teachers are not timed).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from g2d_lite.config import resolve
from g2d_lite.notebook import load_data
from g2d_lite.train import train_student, train_teacher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("run", choices=["teacher", "student"], help="a teacher or a G²D student")
    parser.add_argument("--epochs", type=int, default=10, help="epochs (smoke profile: 30)")
    args = parser.parse_args(argv)
    cfg = resolve("smoke", epochs=args.epochs, progress=False)
    data = load_data(cfg)
    teachers = {}
    if args.run == "student":
        teachers = {m: train_teacher(cfg, data, m).model for m in data.info.modality_names}
    with tempfile.TemporaryDirectory(prefix="g2d-plain-") as tmp:
        folder = Path(tmp) / "run"
        cpu, wall = time.process_time(), time.perf_counter()
        if args.run == "teacher":
            train_teacher(cfg, data, "audio", run_dir=folder)
        else:
            train_student(cfg, data, teachers, run_dir=folder)
        print(args.run, round(time.process_time() - cpu, 3), round(time.perf_counter() - wall, 3))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
