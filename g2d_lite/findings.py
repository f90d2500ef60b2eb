"""What these data show: the paper's claims (docs/method.md §5) checked on a notebook's numbers.

Each notebook ends with :func:`claims` rendered by :func:`claims_markdown`: per claim the
paper's CREMA-D numbers, the numbers measured here, and whether the claim held on these data,
held in part, or did not. A claim needs runs a notebook may not have trained (e.g. the G²D loss
without SMP); it is then left out rather than guessed. Scores use the run's metric; for an error
metric (regression) "better" means lower.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from g2d_lite import api_checks, paper
from g2d_lite.diagnose import MIN_GAP, higher_is_better, require_methods, require_roles
from g2d_lite.palette import canonical_method
from g2d_lite.train import TrainResult

HELD, PARTLY, NOT_HELD = "held", "held in part", "did not hold"
HALF = 50.0  # a recovery of at least half the gap counts as the branch brought back


@dataclass(frozen=True)
class Evidence:
    """What a notebook measured, on one split, in the run's metric.

    ``teachers``: modality -> teacher score. ``fused``: method (a ``METHODS`` key) -> fused
    score. ``branches``: method -> modality -> branch score. ``weak``: the modality whose joint
    branch lost most to its teacher. ``weak_led``: % of SMP-window steps the weak modality led
    in G²D, if G²D used SMP.
    """

    weak: str
    teachers: Mapping[str, float]
    fused: Mapping[str, float]
    branches: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    weak_led: float | None = None
    metric: str = "acc"
    split: str | None = None  # recorded by evidence_from_runs, named by claims_markdown

    def __post_init__(self) -> None:
        if self.weak not in self.teachers:
            raise ValueError(
                f"weak modality {self.weak!r} has no teacher score (teachers: "
                f"{', '.join(self.teachers)}): a claim about it could not be checked"
            )
        higher_is_better(self.metric)
        if self.weak_led is not None and not 0.0 <= self.weak_led <= 100.0:
            raise ValueError(f"weak_led is a share of steps in %, in [0, 100]; got {self.weak_led}")

    def better(self, a: float, b: float) -> float:
        """How much better ``a`` is than ``b`` (positive = better) in this metric."""
        return (a - b) if higher_is_better(self.metric) else (b - a)

    def branch(self, method: str) -> float | None:
        return self.branches.get(method, {}).get(self.weak)


def _row(claim: str, reported: str, here: str, verdict: str) -> dict[str, str]:
    return {"claim": claim, f"{paper.PAPER_LABEL}": reported, "here": here, "verdict": verdict}


def _gap_claims(e: Evidence) -> list[dict[str, str]]:
    rows = []
    teacher, joint, g2d = e.teachers.get(e.weak), e.branch("joint"), e.branch("g2d")
    if teacher is None or joint is None:
        return rows
    gap = e.better(teacher, joint)
    reported = (
        f"video branch {paper.CREMAD['joint']['video']:.2f} vs its teacher "
        f"{paper.TEACHERS['video']:.2f} (gap {paper.weak_gap():.1f})"
    )
    here = f"{e.weak} branch {joint:.1f} vs its teacher {teacher:.1f} (gap {gap:.1f})"
    starved = HELD if gap >= MIN_GAP else NOT_HELD
    rows.append(_row("joint training starves the weak modality's branch", reported, here, starved))
    if g2d is None or gap < MIN_GAP:
        return rows
    recovery = 100.0 * e.better(g2d, joint) / gap
    verdict = HELD if recovery >= HALF else PARTLY if recovery > 0 else NOT_HELD
    rows.append(
        _row(
            "G²D brings that branch back",
            f"{paper.CREMAD['g2d']['video']:.2f}: {paper.weak_recovery():.0f} % of the gap",
            f"{g2d:.1f}: {recovery:.0f} % of the gap",
            verdict,
        )
    )
    return rows


def _compare(
    e: Evidence, claim: str, better: str, worse: str, branch_too: bool = False
) -> list[dict[str, str]]:
    if better not in e.fused or worse not in e.fused:
        return []
    delta = e.better(e.fused[better], e.fused[worse])
    reported = "—"
    if paper.fused(better) is not None and paper.fused(worse) is not None:
        reported = f"{paper.fused(worse):.2f} → {paper.fused(better):.2f}"
    here = f"fused {e.fused[worse]:.1f} → {e.fused[better]:.1f} ({delta:+.1f})"
    verdict = HELD if delta > 0 else NOT_HELD
    b_better, b_worse = e.branch(better), e.branch(worse)
    if branch_too and b_better is not None and b_worse is not None:
        branch_delta = e.better(b_better, b_worse)
        here += f"; {e.weak} branch {b_worse:.1f} → {b_better:.1f} ({branch_delta:+.1f})"
        if (delta > 0) != (branch_delta > 0):
            verdict = PARTLY
    return [_row(claim, reported, here, verdict)]


def claims(e: Evidence) -> pd.DataFrame:
    """One row per paper claim these numbers can test: ``claim, paper, here, verdict``."""
    if not isinstance(e, Evidence):
        raise TypeError(
            f"claims takes an Evidence, e.g. evidence_from_runs(...), got {type(e).__name__}"
        )
    rows = _gap_claims(e)
    rows += _compare(e, "G²D beats joint training", "g2d", "joint")
    if e.weak_led is not None:
        verdict = HELD if e.weak_led >= HALF else NOT_HELD
        rows.append(
            _row(
                "SMP lets the weak modality lead",
                "the video encoder trains while audio waits",
                f"{e.weak} led {e.weak_led:.1f} % of the window's steps",
                verdict,
            )
        )
    rows += _compare(e, "SMP helps the G²D loss", "g2d", "g2d_no_smp", branch_too=True)
    rows += _compare(e, "SMP helps joint training", "joint+smp", "joint", branch_too=True)
    rows += _compare(e, "SMP helps UMT", "umt+smp", "umt")
    rows += _compare(e, "complete suppression beats partial", "g2d", "g2d_partial")
    table = pd.DataFrame(rows, columns=["claim", paper.PAPER_LABEL, "here", "verdict"])
    if e.split is not None:
        table.attrs["split"] = e.split
    return table


def claims_markdown(table: pd.DataFrame, dataset: str, split: str | None = None) -> str:
    """The claims table as Markdown under a one-line summary of how many held; ``split`` is
    the evidence's own by default, and one that contradicts it is refused."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"claims_markdown takes the claims table (a DataFrame), got {table!r}")
    api_checks.require_columns(table, ("claim", "here", "verdict"), "findings.claims", True)
    split = api_checks.table_split(table, split, "evidence_from_runs")
    if table.empty:
        return f"No claim of the paper can be checked with the runs of this notebook on {dataset}."
    counts = table["verdict"].value_counts()
    summary = ", ".join(f"{counts[v]} {v}" for v in (HELD, PARTLY, NOT_HELD) if counts.get(v, 0))
    lines = [
        f"**What these data show** ({dataset}, {split} split): of {len(table)} "
        f"{'claim' if len(table) == 1 else 'claims'} of the paper checked here, {summary}.",
        "",
        f"| claim | {paper.PAPER_LABEL} (reported) | here | verdict |",
        "|---|---|---|---|",
    ]
    for row in table.itertuples(index=False):
        lines.append(f"| {row[0]} | {row[1]} | {row[2]} | **{row[3]}** |")
    return "\n".join(lines)


def evidence_from_runs(
    weak: str,
    teachers: Mapping[str, TrainResult],
    students: Mapping[str, TrainResult],
    split: str,
    weak_led: float | None = None,
) -> Evidence:
    """:class:`Evidence` read from trained runs' ``metrics[split]`` (``students`` keyed by
    ``METHODS`` names or their labels, e.g. "G²D")."""
    split = api_checks.metrics_split(split)
    api_checks.not_empty(students, "students", "{'joint': joint}")
    require_roles(teachers, True, "teachers")
    require_roles(students, False, "students")
    api_checks.require_keys(teachers, [weak], "teachers", "weak must be one of the modalities")
    metric = next(iter(students.values())).metrics.get("metric", "acc")
    fused, branches = {}, {}
    require_methods(students)
    for name, run in students.items():
        key = canonical_method(name) or name
        values = run.metrics[split]
        fused[key] = values[metric]
        branches[key] = {m: values[f"{metric}/{m}"] for m in teachers if f"{metric}/{m}" in values}
    scores = {m: run.metrics[split][metric] for m, run in teachers.items()}
    if isinstance(weak_led, numbers.Real) and math.isnan(weak_led):  # no SMP window ran
        weak_led = None
    led = None if weak_led is None else api_checks.finite_number("weak_led", weak_led)
    return Evidence(weak, scores, fused, branches, led, metric, split)
