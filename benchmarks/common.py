"""Shared plumbing for the benchmark scripts: the machine description, tables, output files.

Benchmarks on shared CPUs are noisy, so every script prints what it ran on (CPU, threads, GPU,
versions, date, load average at start and end) next to its table, and can save its raw rows
(``--out rows.json`` with the machine and command, or ``--out rows.csv`` with the rows only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import torch

import g2d_lite

Row = dict[str, Any]


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, ``platform`` elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_average() -> str:
    """1/5/15-minute load averages: on a shared machine they say how far to trust timings."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def machine() -> Row:
    """What the numbers were measured on."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu,
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "none",
        "python": platform.python_version(),
        "g2d_lite": g2d_lite.__version__,
        "load_start": load_average(),
    }


def command_line() -> str:
    """The command that produced this output, as one could retype it (``-m`` kept)."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    script = ["-m", spec.name] if spec is not None else [sys.argv[0]]
    return " ".join(shlex.quote(a) for a in ["python", *script, *sys.argv[1:]])


def machine_markdown(info: Mapping[str, Any]) -> str:
    """The machine description as a markdown bullet list."""
    return "\n".join(f"- {key}: {value}" for key, value in info.items())


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub-markdown table; missing cells are blank, floats keep what the caller formatted."""
    if not rows:
        return "(no rows)"
    columns = list(columns or dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def mean_std(values: Iterable[float], digits: int = 1) -> str:
    """``mean ± sample std`` (ddof = 1); a single value has no spread and prints alone."""
    values = [float(v) for v in values]
    if not values:
        return ""
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def pass_fail(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def base_parser(description: str, threads: int = 1) -> argparse.ArgumentParser:
    """Arguments every benchmark shares: ``--out`` and ``--threads`` (default ``threads``)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, help="also write the raw rows to this .json (with machine) or .csv"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=threads,
        help=f"torch CPU threads, 0 keeps torch's default (default {threads}; on a small shared"
        " machine 2 OpenMP threads oversubscribed by other jobs were up to 10x slower than 1)",
    )
    return parser


def set_threads(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)


def write_rows(path: Path, rows: Sequence[Row], meta: Mapping[str, Any]) -> None:
    """Raw rows as CSV, or as JSON together with ``meta`` (machine, command, summaries)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        pd.DataFrame(list(rows)).to_csv(path, index=False)
    elif path.suffix == ".json":
        path.write_text(json.dumps({**meta, "rows": list(rows)}, indent=2, default=str))
    else:
        raise ValueError(f"--out must end in .json or .csv, got {path}")


def report(title: str, sections: Sequence[str], info: Row, started: float) -> str:
    """The printed report: title, sections, then the machine with the load and the wall time
    (since ``started``, a ``time.perf_counter()`` value) at the end."""
    info = {**info, "load_end": load_average(), "wall_s": round(time.perf_counter() - started)}
    body = "\n\n".join(sections)
    return f"## {title}\n\n`{command_line()}`\n\n{body}\n\nMachine:\n{machine_markdown(info)}\n"


def epoch_seconds(history: pd.DataFrame, warmup: int = 1) -> list[float]:
    """Training-only epoch times from a Trainer history: drops ``warmup`` epochs at the start
    and the last epoch (it also evaluates, the other epochs do not when ``eval_every`` is large).
    """
    seconds = history["seconds"].tolist()
    return seconds[warmup:-1]
