"""The paper's own CREMA-D numbers (docs/method.md §5), to set beside what a notebook measured.

Figures and tables that show them label them ``PAPER_LABEL`` ("paper, CREMA-D"), so they are
never read as results of this kit. The paper calls CREMA-D's visual modality "video"; its weak
modality there is video, its strong one audio.
"""

from __future__ import annotations

import pandas as pd

from g2d_lite.palette import canonical_method

DATASET = "CREMA-D"
PAPER_LABEL = f"paper, {DATASET}"
WEAK, STRONG = "video", "audio"
TEACHERS: dict[str, float] = {"audio": 61.69, "video": 76.48}
# method -> {"fused": ..., modality: branch accuracy}, what the paper reports (test accuracy %).
CREMAD: dict[str, dict[str, float]] = {
    "joint": {"fused": 67.47, "audio": 59.95, "video": 27.42},
    "joint+smp": {"fused": 80.78},
    "umt": {"fused": 67.61},
    "umt+smp": {"fused": 82.39},
    "ogm_ge": {"fused": 58.60},
    "g2d_no_smp": {"fused": 78.63},
    "g2d": {"fused": 85.89, "video": 72.72},
    "g2d_partial": {"fused": 81.99},
}


def fused(method: str) -> float | None:
    """The paper's fused CREMA-D accuracy of a method (a ``METHODS`` key or its label, "G²D"),
    or None when the paper reports none."""
    return CREMAD.get(canonical_method(method) or method, {}).get("fused")


def weak_gap() -> float:
    """How far the paper's video branch inside joint training falls below its teacher."""
    return TEACHERS[WEAK] - CREMAD["joint"][WEAK]


def weak_recovery() -> float:
    """The share (%) of that gap G²D closes in the paper."""
    return 100.0 * (CREMAD["g2d"][WEAK] - CREMAD["joint"][WEAK]) / weak_gap()


def figure1_scores() -> pd.DataFrame:
    """The paper's Figure 1 numbers in :func:`g2d_lite.diagnose.score_table`'s layout
    (``model, output, metric, score``), models named "teacher", "joint" and "G²D"."""
    rows = [("teacher", m, "acc", v) for m, v in TEACHERS.items()]
    for method, model in (("joint", "joint"), ("g2d", "G²D")):
        for output, value in CREMAD[method].items():
            rows.append((model, output, "acc", value))
    return pd.DataFrame(rows, columns=["model", "output", "metric", "score"])
