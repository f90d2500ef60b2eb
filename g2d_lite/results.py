"""Results tables: flat rows (one per model and seed) written into ``metrics.json``, and the
``mean ± std`` summary the notebooks, the papermill runner and its grid mode all print.

A row is ``{"method", "seed", "protocol", "acc", "acc/<m>", ...}``: the fused test metric and
every branch's, taken at the epoch the run's ``selection`` picked. Teachers have no fused
output, so a teacher's accuracy sits in its modality's column. Tables say which protocol
chose the epoch and over how many seeds they average (docs/method.md §4).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

# selection rule -> the protocol name used in tables (docs/method.md §4)
PROTOCOLS: dict[str, str] = {"validation": "honest", "test": "paper", "last": "last"}
ROW_KEYS: tuple[str, ...] = ("method", "seed", "protocol")


def result_row(method: str, metrics: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """One table row from a run's ``metrics`` (``TrainResult.metrics``), named ``method``.

    ``extra`` adds grouping columns (for example ``fusion="sum"``).
    """
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"metrics must be a run's metrics mapping (TrainResult.metrics), got "
            f"{type(metrics).__name__}"
        )
    needed = ["metric", "test", "role", "seed", "selection"]
    needed += ["modality"] if metrics.get("role") == "teacher" else []
    missing = [key for key in needed if key not in metrics]
    if missing:
        raise ValueError(
            f"metrics lack {missing}: pass a run's TrainResult.metrics (a finished run folder's: "
            "load_run(folder).metrics), not a hand-made dict"
        )
    name = metrics["metric"]
    test = {k: float(v) for k, v in metrics["test"].items() if k.split("/")[0] == name}
    if metrics["role"] == "teacher":
        test = {f"{name}/{metrics['modality']}": test[name]}
    return {
        "method": method,
        "seed": int(metrics["seed"]),
        "protocol": PROTOCOLS[metrics["selection"]],
        **extra,
        **test,
    }


def read_rows(metrics_file: str | Path) -> list[dict[str, Any]]:
    """A ``metrics.json``'s ``results`` rows (none when the notebook writes no table)."""
    payload = json.loads(Path(metrics_file).read_text())
    return [dict(row) for row in payload.get("results", [])]


def load_rows(
    metrics_files: Iterable[str | Path], labels: Mapping[str, Mapping[str, Any]] | None = None
) -> pd.DataFrame:
    """All rows of several ``metrics.json`` files in one frame.

    ``labels`` maps a file path (as given) to extra columns for its rows, for example a grid
    point's parameters. Missing files are an error naming the file.
    """
    rows = []
    for file in metrics_files:
        if not Path(file).is_file():
            raise FileNotFoundError(f"{file} does not exist: did its notebook run to the end?")
        extra = dict((labels or {}).get(str(file), {}))
        rows += [{**extra, **row} for row in read_rows(file)]
    return pd.DataFrame(rows)


def metric_columns(rows: pd.DataFrame) -> list[str]:
    """The score columns of ``rows``: fused first, then branches in order of appearance."""
    keys = set(ROW_KEYS)
    scores = [c for c in rows.columns if c.split("/")[0] in ("acc", "mae") and c not in keys]
    return sorted(scores, key=lambda c: "/" in c)


def _mean_std(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "—"
    if len(values) == 1:
        return f"{values.iloc[0]:.1f}"
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"


def summarise(
    rows: pd.DataFrame | Iterable[Mapping[str, Any]], by: Sequence[str] = ("method",)
) -> pd.DataFrame:
    """``mean ± std`` (sample std over seeds) of every score column per group, in first-seen
    order, with the protocol(s) and the number of seeds stated on each line.

    Duplicate rows (the same cached model reported by two notebooks) count once.
    """
    if not isinstance(rows, pd.DataFrame):  # rows from result_row, as a list
        rows = pd.DataFrame(list(rows))
    by = list(by)
    missing = [key for key in [*by, "seed", "protocol"] if not rows.empty and key not in rows]
    if missing:
        raise ValueError(f"rows lack the columns {missing}; make each row with result_row")
    if rows.empty:
        return pd.DataFrame(columns=[*by, "protocol", "seeds"])
    scores = metric_columns(rows)
    rows = rows.drop_duplicates(subset=[*by, "seed", "protocol"], keep="first")
    grouped = rows.groupby(by, sort=False, dropna=False)
    table = grouped[scores].agg(_mean_std)
    table.columns = [_column_title(c) for c in scores]
    table["protocol"] = grouped["protocol"].agg(lambda p: ", ".join(sorted(set(p))))
    table["seeds"] = grouped["seed"].nunique()
    return table.reset_index()


def _column_title(column: str) -> str:
    metric, _, modality = column.partition("/")
    return f"{modality} {metric}" if modality else f"fused {metric}"
