"""Training steps per second: joint training, G²D (cached and online teachers), official-style loop.

Same student, data and batches for every variant; only what happens around the student's
forward/backward differs:

- ``joint``: the kit's Trainer, CE only (the floor).
- ``g2d cached``: the kit's Trainer, G²D loss + SMP, teacher outputs computed once before
  training and looked up by sample index (inputs are deterministic).
- ``g2d online``: the same with ``teacher_cache="never"``: teachers run on every batch.
- ``official-style``: the BASELINE compared against, :func:`official_style_epochs`, a plain
  re-implementation of the official code's loop (reference/paper.md §3.3), written from its
  description; the kit never uses it.

Timing: whole training epochs (``perf_counter``), the first ``--warmup`` epochs of every run and
its last epoch (which evaluates) dropped; runs are repeated ``--repeats`` times, interleaved
across variants in a rotating order so load drift hits them alike; the median epoch is
reported per step. SMP is kept active in every timed epoch. Teachers are untrained (speed does
not depend on their weights). Batches are in-memory tensor slices for all variants, so data
loading is not measured.

    python -m benchmarks.throughput
    python -m benchmarks.throughput --encoder resnet18 --batch-size 16
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.common import (
    Row,
    base_parser,
    epoch_seconds,
    machine,
    markdown_table,
    pass_fail,
    report,
    set_threads,
    write_rows,
)
from g2d_lite.batches import batch_order, iterate_batches
from g2d_lite.config import Config, resolve
from g2d_lite.data.base import DatasetSplits
from g2d_lite.models import ENCODERS, UnimodalClassifier, build_student, build_teacher
from g2d_lite.notebook import load_data
from g2d_lite.train import train_student

MAX_CACHED_OVER_JOINT = 1.10  # the brief's target: cached G²D costs at most 1.10x a joint step
JOINT, CACHED, ONLINE, OFFICIAL = "joint", "g2d cached", "g2d online", "official-style"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = base_parser(__doc__)
    parser.add_argument("--encoder", default="auto", choices=(*ENCODERS, "auto"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--steps-per-epoch", type=int, default=31, help="train size = this x batch size"
    )
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run (>= warmup + 2)")
    parser.add_argument("--warmup", type=int, default=1, help="epochs dropped at the start")
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant")
    args = parser.parse_args(argv)
    if args.epochs < args.warmup + 2:
        parser.error("--epochs must leave at least one timed epoch: warmup + 2 or more")
    return args


def config(args: argparse.Namespace, method: str, **overrides: object) -> Config:
    """The smoke profile, sized for timing: SMP on in every epoch, one evaluation at the end."""
    n_eval = args.batch_size
    return resolve(
        "smoke",
        method=method,
        encoder=args.encoder,
        batch_size=args.batch_size,
        epochs=args.epochs,
        eval_every=args.epochs,
        balance_end_epoch=args.epochs,
        device="cpu",
        progress=False,
        data_options={
            "n_train": args.steps_per_epoch * args.batch_size,
            "n_validation": n_eval,
            "n_test": n_eval,
        },
        **overrides,
    )


def untrained_teachers(cfg: Config, data: DatasetSplits) -> dict[str, UnimodalClassifier]:
    return {m: build_teacher(data.info, m, cfg.encoder).eval() for m in data.info.modality_names}


# ------------------------------------------------------------------------ the baseline
def official_style_epochs(
    cfg: Config, data: DatasetSplits, teacher_files: Mapping[str, Path], log_file: Path
) -> list[float]:
    """BASELINE (not the kit): the official G²D training loop, re-implemented plainly.

    As in ``rAIson-Lab/G2D`` (reference/paper.md §3.3): teachers rebuilt and re-loaded from a
    saved state_dict every epoch and run on every batch under ``no_grad``; SMP scores as
    per-sample Python sums ``sum([softmax(l)[i][y[i]] for i in range(B)])`` for teachers and
    student branches; a score row per batch; the mask found by matching modality names in
    ``named_parameters`` with ``p.dim() == 4``. Differences, all in its favour: batches are the
    kit's in-memory slices (no DataLoader), score rows are written once per epoch, a tie picks
    the first modality instead of raising, and there is no per-epoch test evaluation.
    Returns each epoch's seconds.
    """
    torch.manual_seed(cfg.seed)
    student = build_student(data.info, cfg.encoder, cfg.fusion)
    optimizer = torch.optim.SGD(
        student.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, cfg.lr_step or 10**9, cfg.lr_gamma)
    softmax = nn.Softmax(dim=1)
    temperature = cfg.temperature
    seconds = []
    for epoch in range(cfg.epochs):
        started = time.perf_counter()
        teachers = {}
        for m, path in teacher_files.items():
            teacher = build_teacher(data.info, m, cfg.encoder)
            teacher.load_state_dict(torch.load(path))
            teachers[m] = teacher.eval()
        student.train()
        order = batch_order(len(data.train), cfg.batch_size, True, cfg.seed, epoch, cfg.drop_last)
        rows = []
        for batch in iterate_batches(data.train, order):
            x, label = batch.inputs, batch.targets
            out = student(x)
            with torch.no_grad():
                t_out = {m: t(x[m]) for m, t in teachers.items()}
            loss = F.cross_entropy(out.logits, label)
            for m, t in t_out.items():
                kl = F.kl_div(
                    F.log_softmax(out.logits / temperature, dim=1),
                    F.softmax(t.logits / temperature, dim=1),
                    reduction="batchmean",
                )
                loss = loss + kl * temperature**2 + F.mse_loss(out.features[m], t.features)
            optimizer.zero_grad()
            loss.backward()
            n = label.size(0)
            score_t = {
                m: sum([softmax(t.logits)[i][label[i]] for i in range(n)]) for m, t in t_out.items()
            }
            score_s = {
                m: sum([softmax(b)[i][label[i]] for i in range(n)])
                for m, b in out.branch_logits.items()
            }
            leader = min(score_t, key=lambda m: score_t[m])
            coeff = {m: float(m == leader) for m in score_t}
            if cfg.balance_start_epoch <= epoch <= cfg.window_end:
                for name, parameter in student.named_parameters():
                    for m in coeff:  # official: name.split('.')[0] is 'audio_net', ours 'encoders'
                        if m in name.split(".")[1] and parameter.dim() == 4:
                            parameter.grad *= coeff[m]
            optimizer.step()
            scores = [s.item() for s in (*score_t.values(), *score_s.values())]
            rows.append([epoch, *coeff.values(), *scores])
        with log_file.open("a", newline="") as handle:
            csv.writer(handle).writerows(rows)
        scheduler.step()
        seconds.append(time.perf_counter() - started)
    return seconds


# ------------------------------------------------------------------------ measuring
Runner = Callable[[], list[float]]


def runners(args: argparse.Namespace, workdir: Path) -> dict[str, Runner]:
    """One callable per variant, each training a fresh student and returning epoch seconds."""
    g2d = config(args, "g2d")
    data = load_data(g2d)
    teachers = untrained_teachers(g2d, data)
    files = {}
    for m, teacher in teachers.items():
        files[m] = workdir / f"teacher-{m}.pt"
        torch.save(teacher.state_dict(), files[m])

    def kit(cfg: Config) -> Runner:
        return lambda: epoch_seconds(train_student(cfg, data, teachers).history, args.warmup)

    def official() -> list[float]:
        seconds = official_style_epochs(g2d, data, files, workdir / "scores.csv")
        return seconds[args.warmup : -1]

    return {
        JOINT: kit(config(args, "joint")),
        CACHED: kit(g2d),
        ONLINE: kit(config(args, "g2d", teacher_cache="never")),
        OFFICIAL: official,
    }


def measure(variants: Mapping[str, Runner], repeats: int) -> dict[str, list[float]]:
    """Timed epoch seconds per variant, runs interleaved in a rotating order."""
    names = list(variants)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name] += variants[name]()
            print(f"repeat {repeat} {name}: {seconds[name][-1]:.3f} s/epoch", file=sys.stderr)
    return seconds


def rows_from(seconds: Mapping[str, list[float]], args: argparse.Namespace) -> list[Row]:
    steps = args.steps_per_epoch
    per_step = {name: statistics.median(s) / steps for name, s in seconds.items()}
    rows = []
    for name, values in seconds.items():
        ms = per_step[name] * 1000
        rows.append(
            {
                "variant": name,
                "ms/step (median)": f"{ms:.1f}",
                "min–max ms/step": f"{min(values) / steps * 1000:.1f}–"
                f"{max(values) / steps * 1000:.1f}",
                "steps/s": f"{1 / per_step[name]:.1f}",
                "samples/s": f"{args.batch_size / per_step[name]:.0f}",
                "× joint": f"{per_step[name] / per_step[JOINT]:.2f}",
                "official-style ÷ this": f"{per_step[OFFICIAL] / per_step[name]:.2f}",
                "timed epochs": len(values),
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    info, started = machine(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="g2d-throughput-") as tmp:
        seconds = measure(runners(args, Path(tmp)), args.repeats)
    rows = rows_from(seconds, args)
    ratio = statistics.median(seconds[CACHED]) / statistics.median(seconds[JOINT])
    speedup = statistics.median(seconds[OFFICIAL]) / statistics.median(seconds[CACHED])
    passed = ratio <= MAX_CACHED_OVER_JOINT
    encoder = "small_cnn" if args.encoder == "auto" else args.encoder
    setup = (
        f"synthetic defaults, encoder {encoder}, batch {args.batch_size}, "
        f"{args.steps_per_epoch} steps/epoch, {args.epochs} epochs per run ({args.warmup} warm-up"
        f" and the evaluating last one dropped), {args.repeats} runs per variant, CPU."
    )
    checks = (
        f"- cached G²D step ÷ joint step: {ratio:.3f} (target <= {MAX_CACHED_OVER_JOINT}):"
        f" {pass_fail(passed)}\n"
        f"- official-style step ÷ cached G²D step: {speedup:.2f}"
    )
    print(report("Throughput benchmark", [setup, markdown_table(rows), checks], info, started))
    if args.out:
        raw = [{"variant": k, "epoch_seconds": v} for k, v in seconds.items()]
        write_rows(args.out, rows, {"machine": info, "args": vars(args), "raw": raw})
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
