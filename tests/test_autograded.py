"""``python -m g2d_lite.exercises graded``: after ``nbgrader autograde``, every student who
handed in work has an up-to-date grade, and the ones who do not are named with the fix. These
folders are laid out as nbgrader writes them (test_classroom.py checks nbgrader's own)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from g2d_lite import exercises
from g2d_lite.autograded import check_autograded
from g2d_lite.errors import KitError

NOTEBOOKS = ("ex01_distillation_losses.ipynb", "ex02_smp.ipynb")


def _graded_course(root: Path, students: tuple[str, ...] = ("alice", "bob")) -> Path:
    """A course folder after zip_collect and autograde, every student graded."""
    for student in students:
        for stage, when in (("submitted", 1_000_000), ("autograded", 2_000_000)):
            folder = root / stage / student / "g2d"
            folder.mkdir(parents=True)
            for name in NOTEBOOKS:
                (folder / name).write_text("{}")
                os.utime(folder / name, (when, when))
    return root


def _graded(root: Path, capsys, *extra: str) -> tuple[int, str]:
    status = exercises.main(["graded", "--course", str(root), *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out + err


def test_a_fully_graded_class_passes(tmp_path, capsys):
    status, text = _graded(_graded_course(tmp_path), capsys)
    assert status == 0 and "2 submissions checked: every one is graded" in text


def test_a_student_whose_grading_failed_is_named_with_the_regrade_command(tmp_path, capsys):
    root = _graded_course(tmp_path)
    (root / "autograded" / "bob" / "g2d" / NOTEBOOKS[0]).unlink()
    (root / "autograded" / "bob" / "g2d" / NOTEBOOKS[1]).unlink()
    (root / "autograded" / "bob" / "g2d").rmdir()
    status, text = _graded(root, capsys)
    assert status == 1
    assert "bob handed in work but has no autograded/bob/g2d/" in text
    assert "Removing failed assignment" in text
    assert "`nbgrader autograde g2d --student bob --force`" in text
    assert "alice" not in text


def _gradebook(root: Path, started: tuple[str, ...]) -> None:
    """The tables of nbgrader's gradebook.db that say whom autograde has started on."""
    with sqlite3.connect(root / "gradebook.db") as db:
        db.execute("CREATE TABLE assignment (id VARCHAR(32), name VARCHAR(128))")
        db.execute("CREATE TABLE submitted_assignment (assignment_id VARCHAR, student_id VARCHAR)")
        db.execute("INSERT INTO assignment VALUES ('a1', 'g2d'), ('a2', 'other')")
        db.executemany("INSERT INTO submitted_assignment VALUES ('a1', ?)", [(s,) for s in started])
        db.execute("INSERT INTO submitted_assignment VALUES ('a2', 'carol')")


def test_a_student_never_autograded_is_not_called_a_failure(tmp_path, capsys):
    """Probe 30 BC33: after autograding some students, the others were said to have failed
    ("its output says 'Removing failed assignment'"), an output that never existed. The
    gradebook tells them apart: autograde records a submission before running it."""
    root = _graded_course(tmp_path, ("alice", "bob", "carol"))
    for student in ("bob", "carol"):
        for name in NOTEBOOKS:
            (root / "autograded" / student / "g2d" / name).unlink()
        (root / "autograded" / student / "g2d").rmdir()
    _gradebook(root, ("alice", "bob"))  # carol was autograded for another assignment only
    status, text = _graded(root, capsys)
    bob, carol = (line for line in text.splitlines() if line.startswith(("bob", "carol")))
    assert status == 1
    assert "autograde failed for them" in bob and "Removing failed assignment" in bob
    assert "if it fails again, their own code stops the kernel" in bob  # probe 31 CC38
    assert "autograde has not run for them" in carol and "failed" not in carol
    assert "`nbgrader autograde g2d --student carol --force`" in carol


def test_a_student_id_with_a_space_is_quoted_in_the_command(tmp_path, capsys):
    """Probe 30 BC24: `--student José Pérez` was printed unquoted; pasted, nbgrader refused
    the second word."""
    root = _graded_course(tmp_path, ("José Pérez",))
    (root / "autograded" / "José Pérez" / "g2d" / NOTEBOOKS[1]).unlink()
    status, text = _graded(root, capsys)
    assert status == 1 and "`nbgrader autograde g2d --student 'José Pérez' --force`" in text


def test_a_notebook_handed_in_but_not_graded_is_named(tmp_path, capsys):
    root = _graded_course(tmp_path)
    (root / "autograded" / "alice" / "g2d" / NOTEBOOKS[1]).unlink()
    status, text = _graded(root, capsys)
    assert status == 1 and f"alice: {NOTEBOOKS[1]} handed in but not graded" in text


def test_work_collected_again_after_grading_is_named(tmp_path, capsys):
    """Late work put in with ``zip_collect --force`` keeps the old grade until autograde runs."""
    root = _graded_course(tmp_path)
    late = root / "submitted" / "alice" / "g2d" / NOTEBOOKS[0]
    os.utime(late, (3_000_000, 3_000_000))
    status, text = _graded(root, capsys)
    assert status == 1
    assert f"alice: {NOTEBOOKS[0]} collected again after it was graded" in text
    assert "--student alice --force" in text


def _notebook(answer: str, extra_cell: bool = False) -> str:
    """A hand-in: a locked check cell (autograde restores it from the release), an answer."""
    check = {"nbgrader": {"grade": True, "locked": True, "grade_id": "check"}}
    answer_cell = {"nbgrader": {"solution": True, "locked": False, "grade_id": "answer"}}

    def code(metadata: dict, source: str) -> dict:
        fields = {"metadata": metadata, "source": source, "outputs": [], "execution_count": None}
        return {"cell_type": "code", **fields}

    cells = [code(answer_cell, answer), code(check, "assert f() == 1")]
    if extra_cell:  # a cell of the student's own: autograde runs it too
        cells.append(code({}, "f = lambda: 2"))
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_work_collected_again_unchanged_keeps_its_grade(tmp_path, capsys):
    """Probe 30 BC30: `zip_collect --force` collects every student again, and every one was
    listed as regraded work; only those whose own cells changed are."""
    root = _graded_course(tmp_path, ("alice", "bob", "carol"))
    for student, handed_in in (
        ("alice", _notebook("def f(): return 1")),  # the same work: its grade is current
        ("bob", _notebook("def f(): return 2")),  # a changed answer
        ("carol", _notebook("def f(): return 1", extra_cell=True)),  # a cell added
    ):
        graded = root / "autograded" / student / "g2d" / NOTEBOOKS[0]
        graded.write_text(_notebook("def f(): return 1").replace("== 1", "== 1  # restored"))
        os.utime(graded, (2_000_000, 2_000_000))
        late = root / "submitted" / student / "g2d" / NOTEBOOKS[0]
        late.write_text(handed_in)
        os.utime(late, (3_000_000, 3_000_000))
    status, text = _graded(root, capsys)
    assert status == 1 and "alice" not in text
    assert f"bob: {NOTEBOOKS[0]} collected again" in text
    assert f"carol: {NOTEBOOKS[0]} collected again" in text


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("nothing collected", "run `nbgrader zip_collect g2d`"),
        ("not autograded", "autograded does not exist: run `nbgrader autograde g2d`"),
        ("other assignment", "no student in"),
        ("mistyped", "have g2d/: did you mean --assignment g2d?"),  # probe 31 CC40
    ],
)
def test_a_course_not_yet_graded_is_named_with_the_step_to_run(tmp_path, capsys, layout, expected):
    if layout == "not autograded":
        (tmp_path / "submitted" / "alice" / "g2d").mkdir(parents=True)
    if layout in ("other assignment", "mistyped"):
        _graded_course(tmp_path)
    extra = {"other assignment": ("--assignment", "ps1"), "mistyped": ("--assignment", "g2d_")}
    extra = extra.get(layout, ())
    status, text = _graded(tmp_path, capsys, *extra)
    assert status == 2 and expected in text
    with pytest.raises(KitError):
        check_autograded(tmp_path, *extra[1:])


def test_an_old_format_hand_in_collected_again_unchanged_keeps_its_grade(tmp_path, capsys):
    """Probe 32 DC24: a hand-in saved as nbformat 3 (no "cells", "worksheets" instead) was
    listed as regraded work after every `zip_collect --force`, though byte-identical."""
    import nbformat

    root = _graded_course(tmp_path, ("old",))
    graded = root / "autograded" / "old" / "g2d" / NOTEBOOKS[0]
    graded.write_text(_notebook("def f(): return 1"))
    os.utime(graded, (2_000_000, 2_000_000))
    version3 = nbformat.writes(nbformat.convert(nbformat.read(graded, as_version=4), 3), version=3)
    late = root / "submitted" / "old" / "g2d" / NOTEBOOKS[0]
    late.write_text(version3)
    os.utime(late, (3_000_000, 3_000_000))
    status, text = _graded(root, capsys)
    assert status == 0 and "every one is graded" in text
