"""The classroom route end to end, as docs/classroom.md runs it, offline.

A course is built from the repository's template (``classroom/``, whose ``source/g2d`` is the
instructor notebooks), nbgrader releases it, five sample students hand it in
(``classroom/sample_submissions.py``: correct, blank, two common mistakes, answers calling the
kit), and nbgrader collects, autogrades, writes the feedback pages and exports the grades.
"""

from __future__ import annotations

import csv
import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from g2d_lite.exercises import build
from g2d_lite.run import REPO_ROOT

pytestmark = pytest.mark.slow
TEMPLATE = REPO_ROOT / "classroom"
ASSIGNMENT = "g2d"


def _load_samples():
    spec = importlib.util.spec_from_file_location("samples", TEMPLATE / "sample_submissions.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


samples = _load_samples()
NOTEBOOKS = sorted(p.stem for p in (TEMPLATE / "source" / ASSIGNMENT).glob("*.ipynb"))
CASES = [(nb, student) for nb in NOTEBOOKS for student in samples.STUDENTS]


def _nbgrader(course: Path, *args: str) -> None:
    """One nbgrader command in the course folder. nbgrader runs ``alembic`` from PATH, and the
    kernels it starts must import this checkout's g2d_lite."""
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1",
        "G2D_LITE_PROGRESS": "0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stderr[-4000:]}"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    if importlib.util.find_spec("nbgrader") is None:
        pytest.fail("nbgrader is missing: bash scripts/setup_env.sh installs requirements.lock")
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(TEMPLATE, root, dirs_exist_ok=True)  # follows the source/g2d link
    _nbgrader(root, "generate_assignment", ASSIGNMENT)
    samples.write_samples(root)
    handins = subprocess.run(
        [sys.executable, "-m", "g2d_lite.exercises", "handins", "--course", str(root)],
        capture_output=True,
        text=True,
    )
    assert handins.returncode == 0, handins.stdout + handins.stderr  # nbgrader's own release
    _nbgrader(root, "zip_collect", ASSIGNMENT)
    _nbgrader(root, "autograde", ASSIGNMENT)
    _nbgrader(root, "generate_feedback", ASSIGNMENT)
    _nbgrader(root, "export", "--to", "grades.csv")
    return root


def _source(name):
    return nbformat.read(TEMPLATE / "source" / ASSIGNMENT / f"{name}.ipynb", as_version=4)


def _failed_checks(nb):
    """Grade id -> the error of every check cell that failed in an autograded notebook."""
    failed = {}
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if cell.metadata.get("nbgrader", {}).get("grade") and errors:
            failed[cell.metadata.nbgrader.grade_id] = errors[0]
    return failed


def test_grades_csv_has_every_student_with_the_expected_total(course):
    with open(course / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert sorted(rows) == sorted(samples.STUDENTS)
    full = sum(sum(samples.points(_source(nb)).values()) for nb in NOTEBOOKS)
    for student, row in rows.items():
        expected = sum(samples.expected_score(_source(nb), nb, student) for nb in NOTEBOOKS)
        assert (float(row["score"]), float(row["max_score"])) == (expected, full), student


@pytest.mark.parametrize(("notebook", "student"), CASES)
def test_each_submission_fails_exactly_the_expected_checks(course, notebook, student):
    from nbgrader.api import Gradebook

    path = course / "autograded" / student / ASSIGNMENT / f"{notebook}.ipynb"
    failed = _failed_checks(nbformat.read(path, as_version=4))
    source = _source(notebook)
    expected = samples.failing_checks(source, notebook, student)
    assert set(failed) == expected, {k: e.evalue[:300] for k, e in failed.items()}
    if student == "kit":
        assert {e.ename for e in failed.values()} == {"KitCallError"}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        graded = gradebook.find_submission_notebook(notebook, ASSIGNMENT, student)
        assert graded.score == samples.expected_score(source, notebook, student)
        assert graded.max_score == sum(samples.points(source).values())


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_blank_copy_fails_every_check_only_for_lack_of_an_answer(course, notebook):
    path = course / "autograded" / "blank" / ASSIGNMENT / f"{notebook}.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert set(_failed_checks(nb)) == set(samples.points(_source(notebook)))
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                assert output.ename == "NotImplementedError", output.evalue


@pytest.mark.parametrize(
    ("notebook", "student"), [c for c in CASES if c[1] in samples.SAMPLES[c[0]]]
)
def test_feedback_page_names_the_likely_cause(course, notebook, student):
    page = course / "feedback" / student / ASSIGNMENT / f"{notebook}.html"
    text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
    assert samples.SAMPLES[notebook][student].feedback in text


def test_self_study_copies_are_the_notebooks_nbgrader_releases(course, tmp_path):
    build(tmp_path)
    for name in NOTEBOOKS:
        ours = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
        released = nbformat.read(course / "release" / ASSIGNMENT / f"{name}.ipynb", as_version=4)
        assert len(ours.cells) == len(released.cells)
        for mine, theirs in zip(ours.cells, released.cells, strict=True):
            assert (mine.cell_type, mine.source) == (theirs.cell_type, theirs.source)
            for lock in ("deletable", "editable"):
                assert mine.metadata.get(lock) == theirs.metadata.get(lock), (name, lock)


def test_graded_check_passes_after_autograde_and_names_a_dropped_student(course, tmp_path):
    """On nbgrader's own folders: every rehearsal student is graded; a student whose autograded
    copy nbgrader removed ("Removing failed assignment") is named with the command to regrade."""
    check = [sys.executable, "-m", "g2d_lite.exercises", "graded", "--course"]
    done = subprocess.run([*check, str(course)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(samples.STUDENTS)} submissions checked: every one is graded" in done.stdout
    for folder in ("submitted", "autograded"):
        shutil.copytree(course / folder, tmp_path / folder)
    shutil.copy2(course / "gradebook.db", tmp_path)  # it names whom autograde started on
    shutil.rmtree(tmp_path / "autograded" / "mistake1")
    done = subprocess.run([*check, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"nbgrader autograde {ASSIGNMENT} --student mistake1 --force" in done.stdout
    assert "autograde failed for them" in done.stdout
    assert "1 without an up-to-date grade" in done.stdout
