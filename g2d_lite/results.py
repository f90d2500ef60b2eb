"""Results tables: flat rows (one per model and seed) written into ``metrics.json``, and the
``mean ± std`` summary the notebooks, the papermill runner and its grid mode all print.

A row is ``{"method", "seed", "protocol", "acc", "acc/<m>", ...}``: the fused test metric and
every branch's, taken at the epoch the run's ``selection`` picked. Teachers have no fused
output, so a teacher's accuracy sits in its modality's column. Tables say which protocol
chose the epoch and over how many seeds they average (docs/method.md §4).
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from g2d_lite.api_checks import column_names
from g2d_lite.config import METHODS, Config
from g2d_lite.palette import canonical_method

# selection rule -> the protocol name used in tables (docs/method.md §4)
PROTOCOLS: dict[str, str] = {"validation": "honest", "test": "paper", "last": "last"}
ROW_KEYS: tuple[str, ...] = ("method", "seed", "protocol")
# the run's settings other than its seed (config.recipe): rows of one group must share it
RECIPE = "recipe"


def _is_number(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def result_row(method: str, metrics: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """One table row from a run's ``metrics`` (``TrainResult.metrics``), named ``method``.

    ``extra`` adds grouping columns (for example ``fusion="sum"``); it cannot replace what the
    run's metrics say (its seed, the protocol that chose its epoch, its scores).
    """
    if not isinstance(method, str) or not method.strip():
        raise ValueError(f"method must name the row's model, e.g. 'g2d', got {method!r}")
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
    if metrics["selection"] not in PROTOCOLS:
        raise ValueError(
            f"metrics select by {metrics['selection']!r}, which is no selection rule of the kit "
            f"({', '.join(PROTOCOLS)}): pass a run's own metrics"
        )
    seed = metrics["seed"]
    whole = _is_number(seed, numbers.Real) and float(seed).is_integer()
    if not whole:
        raise ValueError(f"the metrics' seed must be a whole number, got {seed!r}")
    scores = {k: v for k, v in metrics["test"].items() if k.split("/")[0] == name}
    if name not in scores:
        raise ValueError(f"the metrics' test scores hold no {name!r}: pass a run's own metrics")
    unusable = {
        k: v for k, v in scores.items() if isinstance(v, bool) or not isinstance(v, numbers.Real)
    }
    if unusable:
        raise ValueError(f"the metrics' test scores must be numbers, got {unusable}")
    _check_method_matches_run(method, metrics)
    test = {k: float(v) for k, v in scores.items()}
    if metrics["role"] == "teacher":
        test = {f"{name}/{metrics['modality']}": test[name]}
    derived = [k for k in extra if k in (*ROW_KEYS, RECIPE) or k.split("/")[0] in ("acc", "mae")]
    if derived:
        raise ValueError(
            f"result_row derives {derived} from the run's metrics; an extra column may not "
            "replace them (a label of your own needs another name, e.g. run_seed=...)"
        )
    return {
        "method": method,
        "seed": int(seed),
        "protocol": PROTOCOLS[metrics["selection"]],
        **({RECIPE: metrics[RECIPE]} if isinstance(metrics.get(RECIPE), str) else {}),
        **extra,
        **test,
    }


def _check_method_matches_run(method: str, metrics: Mapping[str, Any]) -> None:
    """A row named after one of the kit's methods holds a run of that kind: a teacher's metrics
    under "g2d", or a run without teachers under a distilling method (and the reverse), would
    put a wrong number in the method's place. Other names are the user's own labels."""
    key = canonical_method(method)
    if key is None:
        return
    if metrics["role"] == "teacher":
        raise ValueError(
            f"these are the {metrics['modality']} teacher's metrics, not a {key} run's: name the "
            f"row after the teacher, e.g. result_row('{metrics['modality']} teacher', ...)"
        )
    if "method" in metrics and metrics["method"] != key:  # runs record it since probe 30
        trained = metrics["method"]
        what = f"a {trained} run" if trained else "a run of no named method"
        fix = f", e.g. result_row('{trained}', ...)" if trained else " (a label of your own)"
        raise ValueError(
            f"these metrics are of {what} (its settings), not a {key} run: name the row after "
            f"the method the run used{fix}"
        )
    if "teachers" not in metrics:  # metrics written before runs recorded their teachers
        return
    needs, has = Config().replace(**METHODS[key]).needs_teachers, bool(metrics["teachers"])
    if needs != has:
        run = "distilled from teachers" if has else "trained without teachers"
        method_does = "distils from teachers" if needs else "trains without them"
        raise ValueError(
            f"these metrics are of a run {run}, and {key} {method_does}: name the row after the "
            "method the run used"
        )


def read_rows(metrics_file: str | Path) -> list[dict[str, Any]]:
    """A notebook's ``metrics.json``'s ``results`` rows (none when the notebook writes no
    table). A training run's own ``metrics.json`` holds no rows: it is refused with the call
    that makes its row."""
    if Path(metrics_file).is_dir():
        inside = Path(metrics_file) / "metrics.json"
        run = (
            " (a training run's folder: its row is result_row(name, store.load_run(folder)"
            ".metrics))"
            if (Path(metrics_file) / "config.json").is_file()
            else ""
        )
        raise IsADirectoryError(
            f"{metrics_file} is a folder{run}; rows are read from a notebook's metrics.json file"
            + (f", e.g. {inside}" if inside.is_file() and not run else "")
        )
    if not Path(metrics_file).is_file():
        raise FileNotFoundError(
            f"{metrics_file} is not a file: did its notebook run to the end? (a notebook writes "
            "metrics.json in its output folder)"
        )
    if Path(metrics_file).suffix.lower() != ".json":
        raise ValueError(
            f"{metrics_file} is not a metrics.json: rows are read from the metrics.json a "
            "notebook writes into its output folder (a run's history.csv holds none)"
        )
    try:
        payload = json.loads(Path(metrics_file).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{metrics_file} is not valid JSON ({error}); rerun its notebook"
        ) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("results", []), list):
        raise ValueError(f"{metrics_file} is not a notebook's metrics.json (no results list)")
    if "results" not in payload and "role" in payload:
        raise ValueError(
            f"{metrics_file} is a training run's metrics, which hold no table rows: use "
            "result_row(name, store.load_run(<its folder>).metrics)"
        )
    rows = payload.get("results", [])
    if not all(isinstance(row, dict) for row in rows):
        raise ValueError(f"{metrics_file}: its results are not rows (dicts)")
    return [dict(row) for row in rows]


def load_rows(
    metrics_files: Iterable[str | Path], labels: Mapping[str, Mapping[str, Any]] | None = None
) -> pd.DataFrame:
    """All rows of several ``metrics.json`` files in one frame.

    ``labels`` maps a file path to extra columns for its rows, for example a grid point's
    parameters; a path matches however it is spelled (str or Path, relative or absolute). A
    label for none of the files is an error, as is a missing file.
    """
    if isinstance(metrics_files, str | Path):
        raise TypeError(
            "metrics_files must be a list of paths; for one file: "
            f"load_rows([{str(metrics_files)!r}])"
        )
    files = list(metrics_files)
    if labels is not None and (
        not isinstance(labels, Mapping) or not all(isinstance(v, Mapping) for v in labels.values())
    ):
        raise TypeError(
            "labels maps each file to its extra columns, e.g. {'runs/a/metrics.json': "
            f"{{'lr': 0.01}}}}; got {labels!r:.80}"
        )
    keyed = {Path(key).resolve(): dict(value) for key, value in (labels or {}).items()}
    reserved = sorted({k for v in keyed.values() for k in v if k in ROW_KEYS or "/" in k})
    if reserved:
        raise ValueError(
            f"labels may not be named {reserved}: the rows' own columns; name the label otherwise"
        )
    unmatched = set(keyed) - {Path(f).resolve() for f in files}
    if unmatched:
        raise ValueError(
            f"labels name files that are not in metrics_files: {sorted(map(str, unmatched))}"
        )
    rows = []
    for file in files:
        extra = keyed.get(Path(file).resolve(), {})
        rows += [{**extra, **row} for row in read_rows(file)]
    return pd.DataFrame(rows)


def metric_columns(rows: pd.DataFrame) -> list[str]:
    """The score columns of ``rows``: fused first, then branches in order of appearance."""
    if not isinstance(rows, pd.DataFrame):
        rows = pd.DataFrame(list(rows))
    keys = set(ROW_KEYS)
    scores = [c for c in rows.columns if c.split("/")[0] in ("acc", "mae") and c not in keys]
    return sorted(scores, key=lambda c: "/" in c)


def _mean_std(values: pd.Series) -> str:
    """``mean ± std``; a seed whose score is NaN (a diverged run) is left out of it and said."""
    lost = int(values.isna().sum())
    values = values.dropna()
    if values.empty:
        return "—"
    text = (
        f"{values.iloc[0]:.1f}"
        if len(values) == 1
        else (f"{values.mean():.1f} ± {values.std(ddof=1):.1f}")
    )
    return f"{text} ({lost} NaN left out)" if lost else text


def summarise(
    rows: pd.DataFrame | Iterable[Mapping[str, Any]], by: Sequence[str] = ("method",)
) -> pd.DataFrame:
    """``mean ± std`` (sample std over seeds) of every score column per group, in first-seen
    order, with the protocol(s) and the number of seeds stated on each line.

    Duplicate rows (the same cached model reported by two notebooks) count once. Two rows of
    one group, seed and protocol with different scores are refused: they are two different
    runs (say, two points of a grid) that ``by`` does not tell apart. So is a group whose runs
    were trained with different settings (their ``recipe``, say 1 and 3 epochs): a mean over
    them is no mean over seeds.
    """
    if isinstance(rows, Mapping | str) or not isinstance(rows, pd.DataFrame | Iterable):
        raise TypeError(
            "rows must be a list of result_row dicts or a DataFrame of them, got "
            f"{type(rows).__name__}: for one row, summarise([row])"
        )
    if not isinstance(rows, pd.DataFrame):  # rows from result_row, as a list
        rows = pd.DataFrame(list(rows))
    by = column_names(by, "by")
    if not by:
        raise ValueError("by names no column: give at least one, e.g. by=('method',)")
    if rows.empty:  # a filter that matched nothing: an empty table would read as a result
        raise ValueError(
            "rows is empty: there is nothing to summarise; pass result_row(...) of each run "
            "(if rows came from a filter, it matched no row)"
        )
    missing = [key for key in [*by, "seed", "protocol"] if key not in rows]
    if missing and not {"seed", "protocol"} & set(missing):  # result_row's rows; by is wrong
        near = {k.lower() for k in missing} & {str(c).lower() for c in rows.columns}
        hint = f": did you mean {sorted(near)}?" if near else ""
        raise ValueError(
            f"by={list(by)} names {missing}, no column of rows (columns: "
            f"{', '.join(map(str, rows.columns))}){hint}"
        )
    if missing:
        raise ValueError(f"rows lack the columns {missing}; make each row with result_row")
    scores = metric_columns(rows)
    _check_values(rows, scores)
    kept = [*by, "seed", "protocol", *scores, *([RECIPE] if RECIPE in rows else [])]
    rows = rows.drop_duplicates(subset=list(dict.fromkeys(kept)), keep="first")
    _refuse_recipe_mix(rows, by)
    _refuse_clashes(rows, [*by, "seed", "protocol"])
    _refuse_protocol_mix(rows, by)
    grouped = rows.groupby(by, sort=False, dropna=False)
    table = grouped[scores].agg(_mean_std)
    table.columns = [_column_title(c) for c in scores]
    if "protocol" not in by:
        table["protocol"] = grouped["protocol"].agg(lambda p: ", ".join(sorted(set(p))))
    table["seeds"] = grouped["seed"].nunique()
    return table.reset_index()


def _check_values(rows: pd.DataFrame, scores: list[str]) -> None:
    """Seeds are whole numbers (0 and "0" would count as two seeds) and scores are numbers."""
    seeds = [s for s in rows["seed"] if isinstance(s, bool) or not isinstance(s, numbers.Integral)]
    if seeds:
        raise ValueError(
            f"seeds must be whole numbers, got {seeds[0]!r}: make rows with result_row"
        )
    for column in scores:
        if not pd.api.types.is_numeric_dtype(rows[column]):
            raise ValueError(
                f"the scores in {column!r} must be numbers, got {rows[column].tolist()}"
            )


def _settings(recipe: str) -> dict[str, str]:
    """A recipe's ``key=value`` parts (config.recipe), as a mapping."""
    parts = (part.partition("=") for part in recipe.split("; "))
    return {key: value for key, sep, value in parts if sep}


def _refuse_recipe_mix(rows: pd.DataFrame, by: list[str]) -> None:
    """Rows of one group trained with different settings are different experiments: averaging
    them as seeds (a 1-epoch and a 3-epoch run as "2 seeds") would state a mean nobody ran.
    Rows without a recipe (hand-made, or from metrics older than recipes) are not compared."""
    if RECIPE not in rows or RECIPE in by:
        return
    for key, group in rows.groupby(by, sort=False, dropna=False):
        recipes = list(dict.fromkeys(group[RECIPE].dropna()))
        if len(recipes) < 2:
            continue
        settings = [_settings(r) for r in recipes]
        differ = sorted({k for s in settings for k in s if len({t.get(k) for t in settings}) > 1})
        ways = "; ".join(
            f"seed {', '.join(map(str, sorted(set(group.loc[group[RECIPE] == r, 'seed']))))}: "
            + (", ".join(f"{k}={s.get(k, 'default')}" for k in differ) or r)
            for r, s in zip(recipes, settings, strict=True)
        )
        values = key if isinstance(key, tuple) else (key,)
        where = ", ".join(f"{k}={v!r}" for k, v in zip(by, values, strict=True))
        raise ValueError(
            f"{where} holds runs trained with {len(recipes)} different settings ({ways}): a mean "
            f"over them is no mean over seeds; add a column telling them apart to by= (e.g. "
            f"result_row(..., {differ[0] if differ else 'label'}=...)) or add {RECIPE!r} to by="
        )


def _refuse_protocol_mix(rows: pd.DataFrame, by: list[str]) -> None:
    """One seed's run chosen by two protocols is one run, not two seeds to average."""
    repeated = rows[rows.duplicated(subset=[*by, "seed"], keep=False)]
    if not repeated.empty:
        row = repeated.iloc[0]
        where = ", ".join(f"{k}={row[k]!r}" for k in by)
        raise ValueError(
            f"{where}, seed {row['seed']} appears under the protocols "
            f"{sorted(set(repeated['protocol']))}: a mean over them would count one run twice; "
            "add 'protocol' to by=, or keep one protocol"
        )


def _refuse_clashes(rows: pd.DataFrame, key: list[str]) -> None:
    """Say which rows share ``key`` but not their scores, and which columns would separate them."""
    clashing = rows[rows.duplicated(subset=key, keep=False)]
    if clashing.empty:
        return
    _, group = next(iter(clashing.groupby(key, sort=False, dropna=False)))
    differ = [c for c in rows.columns if c not in key and group[c].nunique(dropna=False) > 1]
    labels = [c for c in differ if c not in metric_columns(rows)]
    first = {k: group.iloc[0][k] for k in key}
    where = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in first.items())
    fix = (
        f"add {labels} to by="
        if labels
        else "label each run (load_rows(files, labels={file: {...}})) and add the label to by="
    )
    raise ValueError(
        f"{len(clashing)} rows share {where} but differ in {differ}: they are different runs that "
        f"by={key[:-2]} does not tell apart; {fix}"
    )


def _column_title(column: str) -> str:
    metric, _, modality = column.partition("/")
    return f"{modality} {metric}" if modality else f"fused {metric}"
