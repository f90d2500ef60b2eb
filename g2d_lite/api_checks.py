"""Argument checks for the functions a notebook user calls (diagnose, results, plots, dynamics).

They run where a person's input enters, so that a typo or a swapped argument is refused in one
line that names the argument and the fix, instead of a pandas ``KeyError`` or a torch shape error
from deep inside, or, worse, a plausible table computed from the wrong thing.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

# Splits whose scores a finished run's metrics hold; "val" is how history.csv spells the first.
METRICS_SPLITS: dict[str, str] = {"validation": "validation", "val": "validation", "test": "test"}


def require_keys(values: Mapping[str, Any], names: Iterable[str], what: str, fix: str) -> None:
    """Every name in ``names`` is a key of ``values``; else say which are missing and what
    ``values`` has (``what`` names the argument, ``fix`` says how to put it right)."""
    missing = [n for n in names if n not in values]
    if missing:
        have = ", ".join(map(str, values)) or "nothing"
        raise ValueError(f"{what} has no {', '.join(map(repr, missing))} (it has {have}); {fix}")


def metrics_split(split: Any) -> str:
    """The metrics key of ``split``: "validation" (or "val") or "test". Runs keep no selected
    train-split scores; the per-epoch ones are in the history."""
    if split not in METRICS_SPLITS:
        raise ValueError(
            f"unknown split {split!r}: a run's metrics hold 'validation' (or 'val') and 'test'; "
            "per-epoch train scores are in learning_curves(runs, split='train')"
        )
    return METRICS_SPLITS[split]


def table_split(table: pd.DataFrame, split: Any, made_by: str) -> str:
    """The split a table's figure or summary names: the one ``made_by`` recorded in
    ``table.attrs`` unless given (test for a table made by hand); a contradiction is refused,
    since the title would name the wrong split."""
    recorded = table.attrs.get("split")
    if split is None:
        return recorded or "test"
    split = metrics_split(split)
    if recorded is not None and split != recorded:
        raise ValueError(
            f"these are {recorded} scores ({made_by}(..., {recorded!r})), but split={split!r} "
            f"would name them {split}: leave split out, or make the table from the {split} split"
        )
    return split


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int of at least 1, or a message naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


def require_bool(name: str, value: Any) -> None:
    """A switch is True or False: the string "no" is truthy and would switch it on."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} is True or False, got {value!r}")


def column_names(value: Any, name: str) -> list[str]:
    """A list of column names; a single string is one name, not a sequence of letters."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a column name or a list of them, got {value!r}")
    return list(value)


def not_empty(runs: Mapping[str, Any], what: str, example: str) -> None:
    """At least one run to draw from; pandas' "No objects to concatenate" says nothing."""
    if not isinstance(runs, Mapping):
        raise TypeError(f"{what} must be a dict of runs, e.g. {example}; got {type(runs).__name__}")
    if not runs:
        raise ValueError(f"{what} is empty: pass at least one run, e.g. {example}")


def require_columns(
    frame: Any, columns: Iterable[str | None], maker: str, allow_empty: bool = False
) -> None:
    """``frame`` is a DataFrame with ``columns`` (``None`` entries are skipped) and, unless
    ``allow_empty``, at least one row: an empty table gives an empty figure or a table of
    nothing, with no word of why. ``maker`` names the call that makes such a frame."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a DataFrame from {maker}, got {type(frame).__name__}")
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns)) or "none"
        raise ValueError(
            f"the table lacks the columns {missing} (it has {have}); make it with {maker}"
        )
    if frame.empty and not allow_empty:
        raise ValueError(
            f"the table has no rows: nothing to draw or measure; make it with {maker}, and "
            "check that a filter applied to it kept some rows"
        )


def finite_number(name: str, value: Any) -> float:
    """``value`` as a finite float, or a message naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)
