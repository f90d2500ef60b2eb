"""Check a class after grading: ``python -m g2d_lite.exercises graded --course DIR``.

``nbgrader autograde`` drops a student whose kernel failed (it prints "Removing failed
assignment" among hundreds of lines and goes on), and ``nbgrader export`` then gives that student
0 as if nothing had been handed in. Work collected again after grading (late work, a
``zip_collect --force``) keeps its old grade until autograde runs again. This compares
``submitted/`` with ``autograded/`` and names each such student with the command that grades
them, before the grades go out.
"""

from __future__ import annotations

import difflib
import shlex
import sqlite3
import warnings
from pathlib import Path

import nbformat

from g2d_lite.errors import KitError
from g2d_lite.handins import Report


def _notebooks(folder: Path) -> dict[str, float]:
    """The notebooks directly in ``folder`` (an assignment's folder), by name, with their mtimes."""
    return {p.name: p.stat().st_mtime for p in folder.glob("*.ipynb")}


def _student_cells(path: Path) -> list[str] | None:
    """The text of every cell of a notebook that autograde keeps as the student left it (all
    but the locked cells it restores from the release), or None when it does not read."""
    try:  # read as version 4: a hand-in saved by an old Jupyter (version 3) has no "cells"
        with warnings.catch_warnings():  # nbformat's notes on a hand-in's format: not ours
            warnings.simplefilter("ignore")
            cells = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)["cells"]
        kept = [
            c
            for c in cells
            if c.get("metadata", {}).get("nbgrader", {}).get("locked") is not True
            or c["metadata"]["nbgrader"].get("solution")
        ]
        return [
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in kept
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError):
        return None


def _same_work(submitted: Path, graded: Path) -> bool:
    """Whether a notebook collected again after grading holds the work that was graded (a
    `zip_collect --force` collects every student again): then its grade is current."""
    mine = _student_cells(submitted)
    return mine is not None and mine == _student_cells(graded)


def _autograded_students(course: Path, assignment: str) -> set[str] | None:
    """The students autograde has started on (it records their submission in the course's
    ``gradebook.db`` before running them, and keeps it when they fail), or None when there is
    no gradebook to read."""
    database = course / "gradebook.db"
    if not database.is_file():
        return None
    try:
        with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as connection:
            rows = connection.execute(
                "SELECT s.student_id FROM submitted_assignment s "
                "JOIN assignment a ON s.assignment_id = a.id WHERE a.name = ?",
                (assignment,),
            ).fetchall()
    except sqlite3.Error:  # another nbgrader's layout, or a damaged file: say less
        return None
    return {student for (student,) in rows}


def _missing_grade(student: str, assignment: str, started: set[str] | None, regrade: str) -> str:
    """Why a student has no autograded folder: autograde failed for them, or never ran."""
    lacks = f"{student} handed in work but has no autograded/{student}/{assignment}/"
    if started is not None and student not in started:
        return f"{lacks}: autograde has not run for them, so they would get 0: run `{regrade}`"
    if started is None:
        return (
            f"{lacks}, so they would get 0: autograde has not run for them, or failed (its "
            f"output then says 'Removing failed assignment'); run `{regrade}`"
        )
    return (
        f"{lacks}: autograde failed for them (its output says 'Removing failed assignment'), "
        f"so they would get 0; read that output for {student}, then run `{regrade}` (if it "
        "fails again, their own code stops the kernel, e.g. exit() or a crash: grade them by "
        "hand, or take that cell out of their submitted copy and run it again)"
    )


def _student_problem(
    course: Path, student: str, assignment: str, started: set[str] | None
) -> str | None:
    """Why one student's submission has no up-to-date grade, or None when it has one."""
    regrade = (
        f"nbgrader autograde {shlex.quote(assignment)} --student {shlex.quote(student)} --force"
    )
    submitted_folder = course / "submitted" / student / assignment
    submitted = _notebooks(submitted_folder)
    graded_folder = course / "autograded" / student / assignment
    if not graded_folder.is_dir():
        return _missing_grade(student, assignment, started, regrade)
    graded = _notebooks(graded_folder)
    ungraded = sorted(set(submitted) - set(graded))
    if ungraded:
        return f"{student}: {', '.join(ungraded)} handed in but not graded: run `{regrade}`"
    newer = sorted(
        name
        for name, mtime in submitted.items()
        if mtime > graded[name] and not _same_work(submitted_folder / name, graded_folder / name)
    )
    if newer:
        return (
            f"{student}: {', '.join(newer)} collected again after it was graded, so its grade is "
            f"the old work's: run `{regrade}`"
        )
    return None


def check_autograded(course: str | Path, assignment: str = "g2d") -> Report:
    """Every student in ``course/submitted/`` checked for an up-to-date ``autograded/`` copy."""
    course = Path(course)
    submitted = course / "submitted"
    students = [p.parent.name for p in sorted(submitted.glob(f"*/{assignment}")) if p.is_dir()]
    if not students:
        collected = {p.name for p in submitted.glob("*/*") if p.is_dir()}
        near = difflib.get_close_matches(assignment, sorted(collected), n=1)
        if near:
            raise KitError(
                f"no student in {submitted} has a {assignment}/ folder, but they have "
                f"{near[0]}/: did you mean --assignment {near[0]}?"
            )
        raise KitError(
            f"no student in {submitted} has a {assignment}/ folder: run `nbgrader zip_collect "
            f"{assignment}` and `nbgrader autograde {assignment}` in the course folder first"
        )
    if not (course / "autograded").is_dir():
        raise KitError(
            f"{course / 'autograded'} does not exist: run `nbgrader autograde {assignment}` in "
            "the course folder first"
        )
    started = _autograded_students(course, assignment)
    problems = [
        problem
        for student in students
        if (problem := _student_problem(course, student, assignment, started)) is not None
    ]
    return Report(len(students), problems, [])
