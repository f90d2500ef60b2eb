"""Modality imbalance and its repair: teachers, joint training and every G²D ablation, N seeds.

The paper's Figure-1 story as one table (DESIGN §2.5, reference/synthetic.md §3): inside joint
training the weak modality's branch falls far below its own unimodal teacher, and G²D brings
it back. Teachers are trained once per seed and shared by every student. Each cell is
mean ± sample std over seeds, on the test split, under the chosen protocol; the targets are
checked on the first protocol given (validation-selected by default).

    python -m benchmarks.imbalance --seeds 0,1,2
    python -m benchmarks.imbalance --profile classroom --seeds 0,1,2
    python -m benchmarks.imbalance --profile avmnist --data-root data_cache/avmnist
    python -m benchmarks.imbalance --methods paper   # the paper's comparison table

``--methods paper`` runs the paper's table (joint, AGM, OGM-GE, MLA, ReconBoost, UMT, MMPareto,
PMR, G²D) and prints it beside the paper's CREMA-D and AV-MNIST numbers, with each method's
training cost per epoch relative to joint training (benchmarks/paper_table.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.common import (
    Row,
    base_parser,
    machine,
    markdown_table,
    mean_std,
    pass_fail,
    report,
    set_threads,
    write_rows,
)
from benchmarks.paper_table import FOOTNOTE, PAPER_METHODS, side_by_side, wins
from g2d_lite.config import METHODS, PROFILES, SELECTIONS, Config, parse_overrides, resolve
from g2d_lite.evaluate import predict
from g2d_lite.notebook import load_data
from g2d_lite.smp import teacher_confidence
from g2d_lite.train import TrainResult, train_student, train_teacher

COMPARED: tuple[str, ...] = (
    "joint",
    "joint+smp",
    "umt",
    "g2d_no_smp",
    "g2d",
    "g2d_partial",
    "ogm_ge",
)
PROTOCOLS: dict[str, str] = {
    "honest": "best validation epoch, tested once",
    "last": "last epoch",
    "paper": "best test epoch (the official code's selection)",
}
TEACHERS = "teachers"
# The brief's targets (reference/synthetic.md §3-5): checked on the first protocol.
MIN_GAP, MIN_RECOVERY, MIN_GAIN, MIN_SMP_SHARE = 15.0, 0.5, 3.0, 0.9


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = base_parser(__doc__)
    parser.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument(
        "--methods",
        default=",".join(COMPARED),
        help=f"comma-separated, from {sorted(METHODS)}; 'paper' for the paper's comparison table",
    )
    parser.add_argument(
        "--dataset", help="a g2d_lite dataset name (default: the profile's, synthetic for smoke)"
    )
    parser.add_argument("--data-root", help="prepared cache folder (real datasets)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (default cpu)")
    parser.add_argument(
        "--protocols",
        default="honest,last,paper",
        help=f"comma-separated from {list(PROTOCOLS)}; the first decides PASS/FAIL",
    )
    parser.add_argument(
        "--teacher-selection",
        choices=SELECTIONS,
        help="the epoch whose weights the teachers keep and the students learn from (default:"
        " the config's teacher_selection, 'last'); 'validation' shows SMP flipping",
    )
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra config overrides"
    )
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.methods = list(PAPER_METHODS) if args.methods == "paper" else args.methods.split(",")
    args.protocols = args.protocols.split(",")
    for method in args.methods:
        if method not in METHODS:
            parser.error(f"unknown method {method!r}; valid: {sorted(METHODS)}")
    for protocol in args.protocols:
        if protocol not in PROTOCOLS:
            parser.error(f"unknown protocol {protocol!r}; valid: {list(PROTOCOLS)}")
    args.overrides = parse_overrides(args.set)
    return args


def run_config(args: argparse.Namespace, seed: int, method: str | None = None) -> Config:
    return resolve(
        args.profile,
        method=method,
        seed=seed,
        dataset=args.dataset,
        data_root=args.data_root,
        device=args.device,
        teacher_selection=args.teacher_selection,
        progress=False,
        **args.overrides,
    )


def protocol_rows(seed: int, model: str, result: TrainResult, extra: Row) -> list[Row]:
    """One row per protocol: the test metrics at the epoch that protocol selects."""
    rows = []
    for protocol, chosen in result.metrics["protocols"].items():
        test = {k: v for k, v in chosen["test"].items() if k.startswith("acc")}
        rows.append(
            {"seed": seed, "model": model, "protocol": protocol, "epoch": chosen["epoch"]}
            | test
            | extra
        )
    return rows


def smp_leader_shares(result: TrainResult) -> Row:
    """Share of in-window batches each modality led (κ = 1 while every other κ < 1)."""
    cfg, steps = result.config, result.steps
    if cfg.balance != "smp" or steps.empty:
        return {}
    window = steps[(steps.epoch >= cfg.balance_start_epoch) & (steps.epoch <= cfg.window_end)]
    kappas = window.filter(like="kappa/")
    shares = {}
    for column in kappas:
        others = kappas.drop(columns=column)
        led = (kappas[column] == 1) & (others < 1).all(axis=1)
        shares[f"led/{column.removeprefix('kappa/')}"] = float(led.mean())
    return shares


def train_seed(args: argparse.Namespace, seed: int) -> list[Row]:
    """Both teachers once, then every student method distilled from them."""
    cfg = run_config(args, seed)
    data = load_data(cfg)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="g2d-imbalance-") as tmp:  # restores selected weights
        results = {
            m: train_teacher(cfg, data, m, run_dir=Path(tmp) / m, resume=False)
            for m in data.info.modality_names
        }
    teachers = {m: r.model for m, r in results.items()}
    confidence: Row = {}
    for m, model in teachers.items():
        pred = predict(model, data.train, device=model.head.weight.device)
        confidence |= teacher_confidence({m: pred.logits}, pred.targets, data.info.task)
    seconds = sum(r.metrics["train_seconds"] for r in results.values())
    for protocol in PROTOCOLS:
        row: Row = {"seed": seed, "model": TEACHERS, "protocol": protocol, "seconds": seconds}
        for m, r in results.items():
            chosen = r.metrics["protocols"][protocol]
            row |= {f"acc/{m}": chosen["test"]["acc"], f"epoch/{m}": chosen["epoch"]}
        rows.append(row | {f"train_conf/{m}": c for m, c in confidence.items()})
    log(f"seed {seed} teachers: {_brief(rows[0])}")
    for method in args.methods:
        student_cfg = run_config(args, seed, method)
        result = train_student(student_cfg, data, teachers if student_cfg.needs_teachers else None)
        extra = {"seconds": result.metrics["train_seconds"]} | smp_leader_shares(result)
        rows += protocol_rows(seed, method, result, extra)
        log(f"seed {seed} {method}: {_brief(rows[-1])}")
    return rows


def _brief(row: Row) -> str:
    return ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ summaries
def modalities_of(frame: pd.DataFrame) -> list[str]:
    return [c.removeprefix("acc/") for c in frame.columns if c.startswith("acc/")]


def weak_modality(frame: pd.DataFrame, protocol: str) -> str | None:
    """The modality whose branch inside joint training lags its own teacher the most."""
    gaps = per_seed_gaps(frame, protocol)
    return max(gaps, key=lambda m: statistics.fmean(gaps[m])) if gaps else None


def per_seed_gaps(frame: pd.DataFrame, protocol: str) -> dict[str, list[float]]:
    """Teacher accuracy minus the joint model's branch accuracy, per modality and seed."""
    teachers, joint = (_by_seed(frame, protocol, model) for model in (TEACHERS, "joint"))
    if teachers is None or joint is None:
        return {}
    return {m: (teachers[f"acc/{m}"] - joint[f"acc/{m}"]).tolist() for m in modalities_of(frame)}


def _by_seed(frame: pd.DataFrame, protocol: str, model: str) -> pd.DataFrame | None:
    part = frame[(frame.protocol == protocol) & (frame.model == model)]
    return part.set_index("seed").sort_index() if len(part) else None


def summary_table(frame: pd.DataFrame, protocol: str, weak: str | None) -> list[Row]:
    """Mean ± std per model: fused and branch accuracies, SMP leadership, train time."""
    rows = []
    for model, part in frame[frame.protocol == protocol].groupby("model", sort=False):
        row: Row = {"model": model, "fused": "—" if model == TEACHERS else mean_std(part["acc"])}
        for m in modalities_of(frame):
            row[m] = mean_std(part[f"acc/{m}"])
        shares = part.get(f"led/{weak}")
        row[f"SMP: {weak} led"] = (
            mean_std(shares, 2) if shares is not None and shares.notna().all() else ""
        )
        row["train s"] = mean_std(part["seconds"], 0)
        rows.append(row)
    return rows


def derived(frame: pd.DataFrame, protocol: str, weak: str) -> dict[str, list[float]]:
    """Per-seed gap, G²D's recovery of it, and G²D's fused gain over joint training."""
    teachers, joint, g2d = (_by_seed(frame, protocol, m) for m in (TEACHERS, "joint", "g2d"))
    if teachers is None or joint is None or g2d is None:
        return {}
    gap = teachers[f"acc/{weak}"] - joint[f"acc/{weak}"]
    recovery = (g2d[f"acc/{weak}"] - joint[f"acc/{weak}"]) / gap
    return {
        "gap": gap.tolist(),
        "recovery": recovery.tolist(),
        "gain": (g2d["acc"] - joint["acc"]).tolist(),
        "smp": g2d[f"led/{weak}"].tolist() if f"led/{weak}" in g2d else [],
    }


def checks_table(
    frame: pd.DataFrame, protocols: Sequence[str], weak: str
) -> tuple[list[Row], list[bool]]:
    """The derived quantities under every protocol, targets checked on the first one."""
    values = {p: derived(frame, p, weak) for p in protocols}
    first = values[protocols[0]]
    if not first:
        return [], []
    strong = ", ".join(m for m in modalities_of(frame) if m != weak)
    specs = [
        ("gap", f"{weak} gap: teacher − branch in joint (points)", f">= {MIN_GAP:g}", MIN_GAP, 1),
        ("recovery", f"G²D recovery of the {weak} gap (fraction)", f">= {MIN_RECOVERY}",
         MIN_RECOVERY, 2),
        ("gain", "G²D fused − joint fused (points)", f">= {MIN_GAIN:g}", MIN_GAIN, 1),
        ("smp", f"G²D: SMP window batches where {weak} led ({strong} frozen)",
         f"> {MIN_SMP_SHARE}", MIN_SMP_SHARE, 3),
    ]  # fmt: skip
    rows, results = [], []
    for key, label, target, threshold, digits in specs:
        if not first[key]:
            continue
        mean = statistics.fmean(first[key])
        ok = mean > threshold if key == "smp" else mean >= threshold
        results.append(ok)
        row: Row = {"quantity": label}
        row |= {p: mean_std(values[p][key], digits) for p in protocols}
        row["per seed"] = " / ".join(f"{v:.{digits}f}" for v in first[key])
        row |= {"target": target, "result": pass_fail(ok)}
        rows.append(row)
    return rows, results


def confidence_line(frame: pd.DataFrame) -> str:
    teachers = frame[(frame.model == TEACHERS) & (frame.protocol == "honest")]
    parts = [
        f"{c.removeprefix('train_conf/')} {mean_std(teachers[c] * 100)} %"
        for c in teachers.columns
        if c.startswith("train_conf/")
    ]
    return "Teachers' mean true-class probability on the training set (what SMP ranks): " + (
        ", ".join(parts)
    )


def render(args: argparse.Namespace, frame: pd.DataFrame) -> tuple[str, list[Row], bool]:
    protocols = args.protocols
    cfg = run_config(args, args.seeds[0])
    weak = weak_modality(frame, protocols[0])
    sections = [
        f"{cfg.dataset}, profile {args.profile}, device {args.device}, seeds "
        f"{','.join(map(str, args.seeds))}, teachers keep their `{cfg.teacher_selection}` "
        "epoch; test accuracy (%), mean ± sample std over seeds. Weak modality (largest "
        f"teacher − joint branch gap): {weak}."
    ]
    for protocol in protocols:
        table = summary_table(frame, protocol, weak)
        sections.append(
            f"### Protocol `{protocol}`: {PROTOCOLS[protocol]}\n\n" + markdown_table(table)
        )
    sections.append(confidence_line(frame))
    peers = side_by_side(frame, protocols, weak)
    if len(peers) > 1 and "joint" in args.methods:
        beaten, not_beaten = wins(frame, protocols[0])
        verdict = ""
        if "g2d" in args.methods:
            verdict = f"G²D's mean fused accuracy (`{protocols[0]}`) is above " + (
                f"{', '.join(beaten) or 'none of them'} and not above {', '.join(not_beaten)}."
                if not_beaten
                else "every other method's."
            )
        sections.append(
            "### Beside the paper's table\n\n"
            + markdown_table(peers)
            + f"\n\n{verdict}\n\n{FOOTNOTE}".rstrip()
        )
    check_rows, results = checks_table(frame, protocols, weak) if weak else ([], [])
    if check_rows:
        sections.append(
            f"### Targets (checked on `{protocols[0]}`)\n\n" + markdown_table(check_rows)
        )
    return "\n\n".join(sections), check_rows, all(results)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    info, started = machine(), time.perf_counter()
    rows = [row for seed in args.seeds for row in train_seed(args, seed)]
    frame = pd.DataFrame(rows)
    text, check_rows, passed = render(args, frame)
    print(report("Imbalance benchmark", [text], info, started))
    if args.out:
        meta: Mapping[str, Any] = {"machine": info, "args": vars(args), "checks": check_rows}
        write_rows(args.out, rows, meta)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
