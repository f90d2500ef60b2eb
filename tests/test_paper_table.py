"""The benchmark's side-by-side with the paper's table: costs, verdicts, the paper's numbers."""

import pandas as pd
import pytest

from benchmarks.paper_table import PAPER_ACCURACY, relative_cost, side_by_side, wins


def _frame() -> pd.DataFrame:
    rows = []
    for seed, (joint, g2d, pareto) in enumerate([(70.0, 84.0, 85.0), (72.0, 86.0, 85.0)]):
        for protocol in ("honest", "paper"):
            for model, acc, seconds in (("joint", joint, 10.0), ("g2d", g2d, 12.0),
                                        ("mmpareto", pareto, 25.0)):  # fmt: skip
                rows.append({"seed": seed, "model": model, "protocol": protocol, "acc": acc,
                             "acc/visual": acc - 20, "seconds": seconds})  # fmt: skip
    return pd.DataFrame(rows)


def test_cost_is_relative_to_joint_training():
    frame = _frame()
    assert relative_cost(frame, "mmpareto") == pytest.approx(2.5)
    assert relative_cost(frame.query("model != 'joint'"), "g2d") is None


def test_rows_follow_the_papers_order_and_carry_its_numbers():
    rows = side_by_side(_frame(), ["honest", "paper"], "visual")
    assert [r["method"] for r in rows] == ["joint", "mmpareto", "g2d"]
    g2d = rows[-1]
    assert g2d["fused, honest"] == "85.0 ± 1.4"
    assert g2d["visual branch, honest"] == "65.0 ± 1.4"
    assert g2d["cost/epoch ×joint"] == "1.20"
    assert g2d["paper CREMA-D*"] == f"{PAPER_ACCURACY['g2d'][0]:.2f}"
    assert rows[1]["paper AV-MNIST*"] == "—"  # MMPareto: not in the paper's AV-MNIST table


def test_wins_split_the_peers_by_mean_fused_accuracy():
    assert wins(_frame(), "honest") == (["joint"], ["mmpareto"])
