"""Committed notebooks are clean: what papermill and nbval need, and nothing a refresh adds.

See notebooks/README.md: outputs come only from ``python -m g2d_lite.run refresh``
(papermill with no parameters, then nbstripout), so these checks fail when a notebook was
saved from an interactive session or edited by hand without a refresh.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from g2d_lite.run import exercise_notebooks, normalise, numbered_notebooks

COMMITTED = [*numbered_notebooks(), *exercise_notebooks()]
SHARED_PARAMETERS = (
    "DATASET",
    "PROFILE",
    "SEED",
    "DEVICE",
    "EPOCHS",
    "OUTPUT_DIR",
    "ARTIFACT_DIR",
    "PROGRESS",
)
FORBIDDEN_TAGS = {"injected-parameters", "papermill-error-cell-tag", "raises-exception"}


def _ids(paths):
    return [p.name for p in paths]


def _code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", COMMITTED, ids=_ids(COMMITTED))
def test_first_code_cell_is_literal_parameters(path):
    first = _code_cells(path)[0]
    assert "parameters" in first.metadata.get("tags", []), "tag the first code cell `parameters`"
    for node in ast.parse(first.source).body:
        assert isinstance(node, ast.Assign | ast.AnnAssign), (
            f"not an assignment: {ast.unparse(node)}"
        )
        ast.literal_eval(node.value)  # literals only: derived values go in the next cell


@pytest.mark.parametrize("path", COMMITTED, ids=_ids(COMMITTED))
def test_metadata_and_outputs_are_clean(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    # JupyterLab rewrites any other display name on opening (and autosaves the notebook).
    assert nb.metadata.kernelspec.display_name == "Python 3 (ipykernel)"
    assert "papermill" not in nb.metadata and "widgets" not in nb.metadata
    for index, cell in enumerate(nb.cells):
        tags = set(cell.metadata.get("tags", []))
        assert not tags & FORBIDDEN_TAGS, f"cell {index} is tagged {sorted(tags & FORBIDDEN_TAGS)}"
        if cell.cell_type != "code":
            continue
        assert not any(o.output_type == "error" for o in cell.outputs), f"cell {index} errors"
        if cell.outputs:
            assert cell.execution_count is not None, f"cell {index} has outputs but no count"


def test_normalised_by_nbstripout():
    assert normalise(COMMITTED, verify=True), (
        "a notebook is not normalised: run `python -m g2d_lite.run refresh`"
    )


@pytest.mark.parametrize("path", numbered_notebooks(), ids=_ids(numbered_notebooks()))
def test_numbered_notebook_conventions(path):
    cells = _code_cells(path)
    names = {
        node.target.id if isinstance(node, ast.AnnAssign) else node.targets[0].id
        for node in ast.parse(cells[0].source).body
    }
    missing = sorted(set(SHARED_PARAMETERS) - names)
    assert not missing, f"parameters cell lacks {missing}"
    assert re.search(r"^cfg = setup\(", cells[1].source, re.M), "second cell must call setup()"
    checks = sum("# NBVAL_CHECK_OUTPUT" in c.source for c in cells)
    assert 2 <= checks <= 5, f"{checks} NBVAL_CHECK_OUTPUT cells; use 2-5"
    assert any("save_metrics(" in c.source for c in cells), "end with save_metrics(OUTPUT_DIR, ...)"
