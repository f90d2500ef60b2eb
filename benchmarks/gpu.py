"""GPU speed and memory at the paper's scale: ResNet-18 on CREMA-D-shaped tensors.

Audio 1x257x188 log-STFT spectrograms and visual 3x1x224x224 frames (one frame per clip),
6 classes, through the kit's Trainer exactly as the paper profile runs it (bf16 autocast and
channels_last on CUDA, SGD): both unimodal teachers, joint training and G²D with SMP, the
latter with cached and with online teachers (CREMA-D's training frames are augmented, so the
kit runs the teachers online there). The data are random tensors of those shapes held on the
device in a TensorMultimodalDataset, so data loading and decoding are NOT measured: the
numbers are the GPU-bound ceiling. Teachers are untrained (speed does not depend on weights).

Reported per batch size: training samples/s (median over epochs, warm-up and the evaluating
last epoch dropped), peak memory of the run (``torch.cuda.max_memory_allocated`` above what
was allocated before it, the data included in neither), evaluation samples/s, and an estimate
of the paper's full CREMA-D protocol (two teachers and the student, 300 epochs each over
6,698 train clips, testing 744 clips every epoch) from those rates. ``--modes`` picks how the
Trainer runs: ``autotune`` is the paper profile as it is (deterministic kernels off, cuDNN
autotuning on), ``deterministic`` switches deterministic kernels on, ``compile`` adds
``torch.compile`` to the paper profile (compilation happens in the dropped warm-up epoch),
``sync_free`` runs the step without host synchronisation (:mod:`g2d_lite.sync_free`); the
default compares the eager and the sync-free step.

    python -m benchmarks.gpu                      # on a CUDA machine, about a minute on an H200
    python -m benchmarks.gpu --batch-sizes 16 --modes compile
    python -m benchmarks.gpu --device cpu --quick # tiny shapes, checks the script end to end
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from benchmarks.common import (
    Row,
    base_parser,
    epoch_seconds,
    machine,
    markdown_table,
    report,
    set_threads,
    write_rows,
)
from g2d_lite.config import Config, resolve
from g2d_lite.data.base import DatasetInfo, DatasetSplits, ModalitySpec, TensorMultimodalDataset
from g2d_lite.evaluate import predict
from g2d_lite.models import build_teacher
from g2d_lite.train import Trainer, resolve_device

SHAPES: dict[str, dict[str, tuple[int, ...]]] = {
    "full": {"audio": (1, 257, 188), "visual": (3, 1, 224, 224)},
    "quick": {"audio": (1, 32, 24), "visual": (3, 1, 32, 32)},
}
KINDS = {"audio": "spectrogram", "visual": "video"}
CLASSES = 6
# The official CREMA-D protocol (reference/paper.md §5.2, §6).
PAPER_EPOCHS, PAPER_TRAIN, PAPER_TEST = 300, 6698, 744
# How the Trainer runs, as config overrides on top of the paper profile.
MODES: dict[str, dict[str, object]] = {
    "autotune": {},
    "sync_free": {"step_mode": "sync_free"},
    "deterministic": {"deterministic": True},
    "compile": {"compile": True},
}
TEACHER_A, TEACHER_V, JOINT, CACHED, ONLINE = (
    "teacher audio",
    "teacher visual",
    "joint",
    "g2d cached",
    "g2d online",
)
VARIANTS = [TEACHER_A, TEACHER_V, JOINT, CACHED, ONLINE]
LAUNCHES = ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernelEx")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = base_parser(__doc__, threads=0)
    parser.add_argument("--device", default="cuda", help="cuda | cuda:N | cpu (default cuda)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes and sizes (CPU check)")
    parser.add_argument("--batch-sizes", default=None, help="comma-separated (default 16,128)")
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="default 16 (quick 2)")
    parser.add_argument("--epochs", type=int, default=4, help="per run: 1 warm-up, last evaluates")
    parser.add_argument("--eval-size", type=int, default=None, help="default 512 (quick 8)")
    parser.add_argument(
        "--modes",
        default="autotune,sync_free",
        help=f"comma-separated from {sorted(MODES)}: autotune is the paper profile as it is"
        " (the eager step); sync_free decides SMP/OGM on the device and checks NaN once per"
        " epoch; deterministic turns deterministic kernels on; compile adds torch.compile",
    )
    parser.add_argument(
        "--profile",
        default="",
        help=f"comma-separated variants to profile with torch.profiler after timing: {VARIANTS}",
    )
    parser.add_argument("--profile-rows", type=int, default=12, help="operators listed (12)")
    args = parser.parse_args(argv)
    args.profile = [v for v in args.profile.split(",") if v]
    unknown = [v for v in args.profile if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown --profile variants {unknown}; valid: {VARIANTS}")
    quick = args.quick
    args.shapes = SHAPES["quick" if quick else "full"]
    args.batch_sizes = [
        int(b) for b in (args.batch_sizes or ("4,8" if quick else "16,128")).split(",")
    ]
    args.steps_per_epoch = args.steps_per_epoch or (2 if quick else 16)
    args.eval_size = args.eval_size or (8 if quick else 512)
    args.modes = args.modes.split(",")
    unknown = sorted(set(args.modes) - set(MODES))
    if unknown:
        parser.error(f"unknown --modes {unknown}; valid: {sorted(MODES)}")
    if args.epochs < 3:
        parser.error("--epochs must be at least 3 (warm-up, timed, evaluating)")
    return args


def random_splits(
    shapes: Mapping[str, tuple[int, ...]], n_train: int, n_eval: int, device: torch.device
) -> DatasetSplits:
    """Random CREMA-D-shaped tensors, already on ``device`` (no host-to-device copies)."""
    info = DatasetInfo(
        name="cremad_shaped",
        modalities=tuple(ModalitySpec(m, s, KINDS[m]) for m, s in shapes.items()),
        class_names=tuple(f"class{i}" for i in range(CLASSES)),
    )
    torch.manual_seed(0)

    def split(name: str, n: int) -> TensorMultimodalDataset:
        inputs = {m: torch.randn((n, *s), device=device) for m, s in shapes.items()}
        targets = torch.randint(0, CLASSES, (n,), device=device)
        return TensorMultimodalDataset(info, name, inputs, targets)

    return DatasetSplits(info, split("train", n_train), split("validation", n_eval),
                         split("test", n_eval))  # fmt: skip


def run_config(
    args: argparse.Namespace, batch_size: int, mode: str, method: str, **extra: object
) -> Config:
    """The paper profile (ResNet-18, SGD, late fusion) sized for timing; SMP on throughout."""
    return resolve(
        "paper",
        method=method,
        batch_size=batch_size,
        epochs=args.epochs,
        eval_every=args.epochs,
        balance_end_epoch=args.epochs,
        device=args.device,
        num_workers=0,
        progress=False,
        **MODES[mode],
        **extra,
    )


@dataclass
class Measured:
    train_rate: float  # samples/s
    peak_mib: float | None
    trainer: Trainer


def train_once(trainer: Trainer, device: torch.device) -> Measured:
    """Fit ``trainer``; return its median training rate and the run's peak memory."""
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    history = trainer.fit(resume=False).history
    peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20 if cuda else None
    samples = len(trainer.data.train)
    rate = samples / statistics.median(epoch_seconds(history))
    return Measured(rate, peak, trainer)


def eval_rate(model: torch.nn.Module, data: DatasetSplits, device: torch.device) -> float:
    """Samples/s of ``predict`` (the Trainer's evaluation) on the test split, after a warm-up."""
    predict(model, data.test, device=device, amp=device.type == "cuda")
    started = time.perf_counter()
    predict(model, data.test, device=device, amp=device.type == "cuda")
    return len(data.test) / (time.perf_counter() - started)


def variant_builders(
    args: argparse.Namespace, data: DatasetSplits, batch_size: int, mode: str
) -> dict[str, Callable[[], Trainer]]:
    """A fresh Trainer per variant, keyed by the variant's name."""
    modalities = data.info.modality_names

    def teachers() -> dict[str, torch.nn.Module]:
        return {m: build_teacher(data.info, m, "resnet18") for m in modalities}

    def config(method: str, **extra: object) -> Config:
        return run_config(args, batch_size, mode, method, **extra)

    trainers = {
        f"teacher {m}": lambda m=m: Trainer(config("joint"), data, "teacher", m) for m in modalities
    }
    trainers |= {
        JOINT: lambda: Trainer(config("joint"), data),
        CACHED: lambda: Trainer(config("g2d"), data, teachers=teachers()),
        ONLINE: lambda: Trainer(config("g2d", teacher_cache="never"), data, teachers=teachers()),
    }
    return trainers


def measure_batch(
    args: argparse.Namespace, data: DatasetSplits, batch_size: int, mode: str
) -> dict[str, Row]:
    """Every variant at one batch size; rows keyed by variant."""
    device = resolve_device(args.device)
    rows = {}
    for name, build in variant_builders(args, data, batch_size, mode).items():
        result = train_once(build(), device)
        rows[name] = {
            "batch": batch_size,
            "mode": mode,
            "variant": name,
            "train samples/s": round(result.train_rate, 1),
            "ms/step": round(1000 * batch_size / result.train_rate, 1),
            "peak MiB": "n/a" if result.peak_mib is None else round(result.peak_mib),
            "eval samples/s": round(eval_rate(result.trainer.model, data, device), 1),
        }
        print(f"{rows[name]}", file=sys.stderr, flush=True)
        del result
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def profile_variant(args: argparse.Namespace, build: Callable[[], Trainer], name: str) -> str:
    """Where one variant's training step goes: torch.profiler over the timed epochs (after the
    warm-up, before the evaluating last epoch), per step: host time, GPU kernel time, kernel
    launches, and the operators that cost the host most."""
    cuda = resolve_device(args.device).type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    profiler = profile(activities=activities)

    def window(_: Trainer, epoch: int) -> None:
        if epoch == 0:
            profiler.start()
        elif epoch == args.epochs - 2:
            profiler.stop()

    trainer = build()
    trainer.callbacks.append(window)
    trainer.fit(resume=False)
    events = profiler.key_averages()
    steps = args.steps_per_epoch * (args.epochs - 2)
    host_ms = sum(e.self_cpu_time_total for e in events) / 1000 / steps
    kernels = [e for e in events if e.device_type == DeviceType.CUDA]  # not the ops above them
    kernel_ms = sum(e.self_device_time_total for e in kernels) / 1000 / steps
    launches = sum(e.count for e in events if e.key in LAUNCHES) / steps
    top = events.table(sort_by="self_cpu_time_total", row_limit=args.profile_rows)
    section = (
        f"#### Profile: {name}\n\nper step: host (operators, profiler on) {host_ms:.1f} ms, "
        f"GPU kernels {kernel_ms:.2f} ms, {launches:.0f} kernel launches\n\n```\n{top}\n```"
    )
    print(section, file=sys.stderr, flush=True)  # kept even if a later part runs out of time
    return section


def paper_estimate(rows: Mapping[str, Row]) -> Row:
    """Hours for the full CREMA-D protocol at these rates: 2 teachers + the student (online)."""

    def hours(variant: str) -> float:
        row = rows[variant]
        per_epoch = PAPER_TRAIN / row["train samples/s"] + PAPER_TEST / row["eval samples/s"]
        return PAPER_EPOCHS * per_epoch / 3600

    parts = {v: hours(v) for v in (TEACHER_A, TEACHER_V, ONLINE)}
    first = next(iter(rows.values()))
    return {
        "batch": first["batch"],
        "mode": first["mode"],
        "teacher audio h": f"{parts[TEACHER_A]:.2f}",
        "teacher visual h": f"{parts[TEACHER_V]:.2f}",
        "G²D student (online teachers) h": f"{parts[ONLINE]:.2f}",
        "total h": f"{sum(parts.values()):.2f}",
        "with cached teachers h": f"{parts[TEACHER_A] + parts[TEACHER_V] + hours(CACHED):.2f}",
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    device = resolve_device(args.device)
    info = machine()
    started = time.perf_counter()
    rows: list[Row] = []
    estimates: list[Row] = []
    profiles: list[str] = []
    for batch_size in args.batch_sizes:
        data = random_splits(args.shapes, args.steps_per_epoch * batch_size, args.eval_size, device)
        for mode in args.modes:
            measured = measure_batch(args, data, batch_size, mode)
            rows += measured.values()
            estimates.append(paper_estimate(measured))
            builders = variant_builders(args, data, batch_size, mode)
            profiles += [
                profile_variant(args, builders[v], f"{v}, batch {batch_size}, {mode}")
                for v in args.profile
            ]
        del data
    shapes = ", ".join(f"{m} {'x'.join(map(str, s))}" for m, s in args.shapes.items())
    setup = (
        f"ResNet-18 encoders, {shapes}, {CLASSES} classes, device {device}, "
        f"{args.steps_per_epoch} steps/epoch, {args.epochs} epochs per run, eval on "
        f"{args.eval_size} samples; random in-memory data on the device (loading not measured)."
    )
    caveat = " (--quick: tiny shapes, a check of the script, not an estimate)" if args.quick else ""
    estimate = (
        f"Estimated paper protocol ({PAPER_EPOCHS} epochs x {PAPER_TRAIN} train + {PAPER_TEST}"
        f" test clips per model), GPU-bound (no data loading){caveat}:\n\n"
        + markdown_table(estimates)
    )
    sections = [setup, markdown_table(rows), estimate, *profiles]
    print(report("GPU benchmark", sections, info, started))
    if args.out:
        meta = {"machine": info, "args": vars(args), "estimates": estimates}
        write_rows(args.out, rows, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
