"""What the notebook runner finds where it is about to write a notebook's results.

An ``--out`` folder may already hold the notebook: the runner's own earlier run (replaced
freely when it failed or was killed, or when it had the same parameters), a finished run with
other parameters (another seed, more epochs: a result someone may still want), or a notebook
the runner never wrote or that was edited after the run (a student's answers). The last two are
refused unless ``--replace`` says to replace them, as the training commands refuse to start
another run over a finished one.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from g2d_lite.errors import KitError

REPLACE = "--replace"


def _default_value(source: str) -> Any:
    """A parameter's default as the notebook's parameters cell writes it, read as a literal."""
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return source  # an expression papermill could not evaluate either: compare its text


def changed_parameters(
    old: Mapping[str, Any], new: Mapping[str, Any], declared: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """``NAME old -> new`` for each parameter whose value differs between two runs, a parameter
    one of them left at the notebook's default counted at that default (not as None)."""
    defaults = {k: _default_value(str(v.get("default"))) for k, v in declared.items()}

    def value(given: Mapping[str, Any], name: str) -> Any:
        return given[name] if name in given else defaults.get(name)

    return [
        f"{name} {value(old, name)!r} -> {value(new, name)!r}"
        for name in sorted(set(old) | set(new))
        if name != "OUTPUT_DIR" and value(old, name) != value(new, name)
    ]


def _edited_cell(executed: Mapping[str, Any], source: Mapping[str, Any]) -> int | None:
    """The first cell (1-based) of an executed notebook that its run did not write: a cell
    without papermill's record (added in Jupyter), or one whose text differs from the source
    notebook's (edited), apart from the cells papermill adds: the parameters it injected and,
    in a notebook that failed, the banner naming the failed cell."""
    ours = {"injected-parameters", "papermill-error-cell-tag"}
    ran = [c for c in executed.get("cells", []) if not ours & set(_tags(c))]
    theirs = source.get("cells", [])
    for n, cell in enumerate(ran, 1):
        if "papermill" not in cell.get("metadata", {}):
            return n
        if n > len(theirs) or _text(cell) != _text(theirs[n - 1]):
            return n
    return len(ran) + 1 if len(ran) < len(theirs) else None


def _tags(cell: Mapping[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _text(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def check_earlier_run(
    executed: Path,
    source: Path,
    values: Mapping[str, Any],
    declared: Mapping[str, Mapping[str, Any]],
    replace: bool,
) -> str | None:
    """Refuse to replace a notebook at ``executed`` that the runner did not write as it is, or
    a finished run with other parameters (unless ``replace``); returns the note to print when
    an earlier run is replaced, else None."""
    if not executed.exists():
        return None
    folder, name = executed.parent, executed.name
    keep = f"choose another --out to keep it, or pass {REPLACE} to replace it"
    try:
        notebook = json.loads(executed.read_text(encoding="utf-8"))
        record = notebook["metadata"]["papermill"]
        old = dict(record["parameters"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        if replace:
            return f"{folder}/{name}, which the runner did not write, is replaced ({REPLACE})"
        raise KitError(
            f"--out {folder} holds {name}, which the runner did not write (it has no papermill "
            f"record: a copy of your own?); running would replace it: {keep}"
        ) from None
    edited = _edited_cell(notebook, json.loads(source.read_text(encoding="utf-8")))
    changed = changed_parameters(old, values, declared)
    finished = record.get("exception") is None and record.get("end_time") is not None
    if replace:
        what = "edited after its run" if edited else f"with other parameters ({', '.join(changed)})"
        return f"{folder}/{name}, {what}, is replaced ({REPLACE})" if edited or changed else None
    if edited is not None:
        raise KitError(
            f"--out {folder} holds {name} edited after its run (cell {edited} is not what the "
            f"run wrote: your answers or notes?); running would replace it: {keep}"
        )
    if changed and finished:
        raise KitError(
            f"--out {folder} holds a finished run of {name} with other parameters "
            f"({', '.join(changed)}); running would replace its results: {keep}"
        )
    if changed:
        return (
            f"{folder} holds an unfinished earlier run of {name} with other parameters "
            f"({', '.join(changed)}); it is replaced"
        )
    return None
