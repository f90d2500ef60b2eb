"""Command line: ``python -m g2d_lite <teacher|joint|student|evaluate> [options] [key=value ...]``.

Each training command writes a run folder (config.json, history.csv, steps.csv, metrics.json,
checkpoints/best.pt and last.pt). Re-running the same command on the same folder resumes.

Examples::

    python -m g2d_lite teacher --out runs/teachers                 # one teacher per modality
    python -m g2d_lite joint --out runs/joint
    python -m g2d_lite student --teachers runs/teachers --out runs/g2d
    python -m g2d_lite student --method g2d_partial --teachers runs/teachers epochs=45
    python -m g2d_lite evaluate --run runs/g2d
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from g2d_lite.config import METHODS, PROFILES, Config, parse_overrides, resolve
from g2d_lite.evaluate import evaluate
from g2d_lite.notebook import load_data
from g2d_lite.store import load_model, load_run
from g2d_lite.train import TrainResult, train_student, train_teacher


def _config(args: argparse.Namespace, method: str | None) -> Config:
    overrides: dict[str, Any] = {}
    if args.config:
        overrides.update(json.loads(Path(args.config).read_text()))
    overrides.update(parse_overrides(args.overrides))
    return resolve(args.profile, method=method, **overrides)


def _teacher_dirs(paths: Sequence[str]) -> list[Path]:
    """Teacher run folders: given directly, or found as ``teacher-*`` inside a parent folder."""
    dirs: list[Path] = []
    for path in map(Path, paths):
        if (path / "metrics.json").is_file():
            dirs.append(path)
        else:
            dirs.extend(sorted(p for p in path.glob("teacher-*") if (p / "metrics.json").is_file()))
    if not dirs:
        raise SystemExit(
            f"no finished teacher runs found in {list(paths)}; "
            "train them first: python -m g2d_lite teacher --out runs/teachers"
        )
    return dirs


def _summary(name: str, result: TrainResult) -> str:
    test = ", ".join(f"{k} {v:.2f}" for k, v in result.metrics["test"].items())
    epoch = result.metrics["selected_epoch"]
    return f"{name}: test {test} (epoch {epoch}, selected by {result.metrics['selection']})"


def _report(text: str) -> None:
    """Print once per job: under torchrun only rank 0 speaks."""
    if os.environ.get("RANK", "0") == "0":
        print(text)


def _run_teachers(args: argparse.Namespace) -> None:
    cfg = _config(args, None)
    data = load_data(cfg)
    modalities = [args.modality] if args.modality else list(data.info.modality_names)
    for m in modalities:
        result = train_teacher(cfg, data, m, Path(args.out) / f"teacher-{m}", not args.no_resume)
        _report(_summary(f"teacher {m}", result))


def _run_student(args: argparse.Namespace, method: str) -> None:
    cfg = _config(args, method)
    data = load_data(cfg)
    teachers = None
    if cfg.needs_teachers:
        if not args.teachers:
            raise SystemExit(f"method {method!r} needs teachers: pass --teachers RUN_DIR")
        runs = [load_run(d) for d in _teacher_dirs(args.teachers)]
        teachers = {r.metrics["modality"]: r.model for r in runs}
    result = train_student(cfg, data, teachers, Path(args.out), not args.no_resume)
    _report(_summary(method, result))


def _run_evaluate(args: argparse.Namespace) -> None:
    run = Path(args.run)
    cfg = Config.from_dict(json.loads((run / "config.json").read_text()))
    data = load_data(cfg)
    checkpoint = run / "checkpoints" / ("best.pt" if args.checkpoint == "best" else "last.pt")
    model = load_model(checkpoint)
    results = {split: evaluate(model, data[split]) for split in ("validation", "test")}
    print(json.dumps(results, indent=2))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (also used to render ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m g2d_lite",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def training(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
        sub.add_argument("--config", help="JSON file of config overrides")
        sub.add_argument("--out", required=True, help="run folder (resumed if it exists)")
        sub.add_argument(
            "--no-resume", action="store_true", help="start over even if --out has a run"
        )
        sub.add_argument("overrides", nargs="*", help="config overrides as key=value")
        return sub

    teacher = training("teacher", "train unimodal teachers (one per modality, or --modality)")
    teacher.add_argument("--modality", help="train only this modality's teacher")
    training("joint", "train the joint baseline (CE only, no balancing)")
    student = training("student", "train a multimodal student (G²D by default)")
    student.add_argument("--method", default="g2d", choices=sorted(METHODS))
    student.add_argument("--teachers", nargs="*", default=[], help="teacher run folder(s)")
    evaluation = commands.add_parser("evaluate", help="evaluate a run's checkpoint")
    evaluation.add_argument("--run", required=True, help="run folder")
    evaluation.add_argument("--checkpoint", default="best", choices=["best", "last"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the exit status (2 on a bad config or missing file)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "teacher":
            _run_teachers(args)
        elif args.command == "joint":
            args.teachers = []
            _run_student(args, "joint")
        elif args.command == "student":
            _run_student(args, args.method)
        else:
            _run_evaluate(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
