"""Exercises: instructor notebooks pass, generated student copies hide the solutions, and every
self-check cell of a blank student copy fails (nbgrader's ``validate`` and ``validate --invert``
without nbgrader). Student copies raise on purpose, so they run under nbclient, never papermill.
"""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from g2d_lite.exercises import CODE_STUB, HIDDEN_TESTS, SOLUTION, build, replace_regions
from g2d_lite.run import EXERCISE_DIR, KERNEL, exercise_notebooks

INSTRUCTOR = exercise_notebooks()


def _execute(path, allow_errors=False):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, kernel_name=KERNEL, timeout=300, allow_errors=allow_errors,
        resources={"metadata": {"path": str(EXERCISE_DIR)}},
    )  # fmt: skip
    client.execute()
    return nb


def _graded(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def _marked_lines(source, markers):
    """Lines strictly inside the marked regions of ``source``."""
    begin, end = markers
    inside, lines = False, []
    for line in source.splitlines():
        if line.strip() in (begin, end):
            inside = line.strip() == begin
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    build(out)
    return out


def test_there_are_exercises():
    assert len(INSTRUCTOR) >= 2
    for path in INSTRUCTOR:
        nb = nbformat.read(path, as_version=4)
        assert _graded(nb), f"{path.name} has no self-check cell (nbgrader grade: true)"
        assert any(SOLUTION[0] in c.source for c in nb.cells), f"{path.name} has no solution"


@pytest.mark.parametrize("path", INSTRUCTOR, ids=[p.name for p in INSTRUCTOR])
def test_instructor_version_passes(path):
    _execute(path)  # raises CellExecutionError on any failing cell


@pytest.mark.parametrize("path", INSTRUCTOR, ids=[p.name for p in INSTRUCTOR])
def test_student_copy_hides_solutions_and_hidden_tests(path, student_dir):
    instructor = nbformat.read(path, as_version=4)
    student = nbformat.read(student_dir / path.name, as_version=4)
    text = "\n".join(c.source for c in student.cells)
    for marker in (*SOLUTION, *HIDDEN_TESTS):
        assert marker not in text
    visible = "\n".join(
        replace_regions(replace_regions(c.source, SOLUTION, ()), HIDDEN_TESTS, ())
        for c in instructor.cells
    )
    for cell in instructor.cells:
        for line in _marked_lines(cell.source, SOLUTION) + _marked_lines(cell.source, HIDDEN_TESTS):
            if line not in visible:  # a line also shown elsewhere gives nothing away
                assert line not in text, f"student copy shows {line!r}"
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert code.count(CODE_STUB[1]) == sum(c.source.count(SOLUTION[0]) for c in instructor.cells)
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("path", INSTRUCTOR, ids=[p.name for p in INSTRUCTOR])
def test_every_check_fails_in_a_blank_student_copy(path, student_dir):
    nb = _execute(student_dir / path.name, allow_errors=True)
    for cell in _graded(nb):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert errors, f"check {cell.metadata.nbgrader.grade_id} passes without an answer"
        assert errors[0].ename == "NotImplementedError", errors[0].evalue
    for cell in nb.cells:  # nothing fails for another reason than a missing answer
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                assert output.ename == "NotImplementedError", output.evalue


def test_replace_regions_keeps_indentation_and_rejects_unbalanced_markers():
    source = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
    assert replace_regions(source, SOLUTION, CODE_STUB) == (
        "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError"
    )
    with pytest.raises(ValueError, match="never closed"):
        replace_regions("### BEGIN SOLUTION\nx = 1", SOLUTION, CODE_STUB)
    with pytest.raises(ValueError, match="without a matching"):
        replace_regions("x = 1\n### END SOLUTION", SOLUTION, CODE_STUB)
