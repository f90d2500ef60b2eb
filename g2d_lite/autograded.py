"""Check a class after grading: ``python -m g2d_lite.exercises graded --course DIR``.

``nbgrader autograde`` drops a student whose kernel failed (it prints "Removing failed
assignment" among hundreds of lines and goes on), and ``nbgrader export`` then gives that student
0 as if nothing had been handed in. Work collected again after grading (late work, a
``zip_collect --force``) keeps its old grade until autograde runs again. This compares
``submitted/`` with ``autograded/`` and names each such student with the command that grades
them, before the grades go out.
"""

from __future__ import annotations

from pathlib import Path

from g2d_lite.errors import KitError
from g2d_lite.handins import Report


def _notebooks(folder: Path) -> dict[str, float]:
    """The notebooks directly in ``folder`` (an assignment's folder), by name, with their mtimes."""
    return {p.name: p.stat().st_mtime for p in folder.glob("*.ipynb")}


def _student_problem(course: Path, student: str, assignment: str) -> str | None:
    """Why one student's submission has no up-to-date grade, or None when it has one."""
    regrade = f"nbgrader autograde {assignment} --student {student} --force"
    submitted = _notebooks(course / "submitted" / student / assignment)
    graded_folder = course / "autograded" / student / assignment
    if not graded_folder.is_dir():
        return (
            f"{student} handed in work but has no autograded/{student}/{assignment}/: autograde "
            f"failed for them (its output says 'Removing failed assignment'), so they would get "
            f"0; read that output for {student}, then run `{regrade}`"
        )
    graded = _notebooks(graded_folder)
    ungraded = sorted(set(submitted) - set(graded))
    if ungraded:
        return f"{student}: {', '.join(ungraded)} handed in but not graded: run `{regrade}`"
    newer = sorted(name for name, mtime in submitted.items() if mtime > graded[name])
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
        raise KitError(
            f"no student in {submitted} has a {assignment}/ folder: run `nbgrader zip_collect "
            f"{assignment}` and `nbgrader autograde {assignment}` in the course folder first"
        )
    if not (course / "autograded").is_dir():
        raise KitError(
            f"{course / 'autograded'} does not exist: run `nbgrader autograde {assignment}` in "
            "the course folder first"
        )
    problems = [
        problem
        for student in students
        if (problem := _student_problem(course, student, assignment)) is not None
    ]
    return Report(len(students), problems, [])
