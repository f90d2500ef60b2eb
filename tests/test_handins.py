"""``python -m g2d_lite.exercises handins``: hand-ins that passed the check and then stopped or
spoiled ``nbgrader zip_collect`` or ``autograde`` (probe G11-G21) are named, with the fix."""

from __future__ import annotations

import copy
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from g2d_lite import exercises
from g2d_lite.exercises import build
from tests.test_exercises import _only_notebooks

EX01 = "ex01_distillation_losses"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A course folder with the release and one good hand-in, the folder ``good/``."""
    course = tmp_path / "course"
    build(course / "release" / "g2d")
    _folder(course, "good")
    return course


def _archive(course: Path) -> Path:
    return course / "downloaded" / "g2d" / "archive"


def _folder(course: Path, student: str) -> Path:
    """The released notebooks handed in, untouched, as the folder ``<student>/``."""
    folder = _archive(course) / student
    shutil.copytree(course / "release" / "g2d", folder, ignore=_only_notebooks)
    return folder


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _handins(course: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The exit status and what the check printed (stdout and stderr)."""
    status = exercises.main(["handins", "--course", str(course), *args])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def _released(course: Path, name: str = EX01) -> bytes:
    return (course / "release" / "g2d" / f"{name}.ipynb").read_bytes()


def test_a_student_as_both_a_folder_and_a_zip_is_named(course, capsys):
    """G11: alice/ and alice.zip passed; zip_collect then stopped on "Duplicate submission
    file" and collected nobody."""
    _folder(course, "alice")
    _zip(_archive(course) / "alice.zip", {f"g2d/{EX01}.ipynb": _released(course)})
    status, out = _handins(course, capsys)
    assert status == 1
    assert "alice.zip and alice/ are both student alice: zip_collect would see each" in out
    assert "1 problem to fix" in out


def test_a_duplicated_cell_is_named(course, capsys):
    """G12: an answer cell duplicated in JupyterLab (same grade_id) passed; autograde then
    failed the student's whole assignment (KeyError 'grade_id', 0 points)."""
    path = _folder(course, "alice") / f"{EX01}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    for grade_id in ("logit_kd", "intro"):  # an answer cell and a Markdown cell
        index = next(
            i
            for i, cell in enumerate(notebook.cells)
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id
        )
        duplicate = copy.deepcopy(notebook.cells[index])
        duplicate.id = f"copy-of-{grade_id}"
        notebook.cells.insert(index + 1, duplicate)
    nbformat.write(notebook, path)
    status, out = _handins(course, capsys)
    assert status == 1
    for grade_id in ("logit_kd", "intro"):
        assert f"cell {grade_id} appears twice (a duplicated cell?)" in out
    assert "delete the copy, keep the one to grade" in out
    assert "good" not in out


def test_a_zip_member_outside_the_zip_is_named(course, capsys):
    """G17: a member ``../x`` or ``/x`` passed; zip_collect then stopped for the whole class
    with an UnsafeMember traceback."""
    ex01 = _released(course)
    _zip(_archive(course) / "alice.zip", {f"g2d/{EX01}.ipynb": ex01, "../notes.txt": b"hi"})
    _zip(_archive(course) / "bob.zip", {f"/home/bob/{EX01}.ipynb": ex01})
    status, out = _handins(course, capsys)
    assert status == 1
    assert "member ../notes.txt points outside the zip" in out
    assert f"member /home/bob/{EX01}.ipynb points outside the zip" in out
    assert "unpack it into a folder bob/" in out


def test_a_zip_inside_the_zip_is_named(course, capsys):
    """G18: a zip holding only another zip was reported as "holds no notebook"."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr(f"g2d/{EX01}.ipynb", _released(course))
    _zip(_archive(course) / "alice.zip", {"g2d.zip": inner.getvalue()})
    status, out = _handins(course, capsys)
    assert status == 1
    assert "holds g2d.zip inside the zip" in out and "unpack it into a folder alice/" in out
    assert "holds no notebook" not in out


def test_a_notebook_with_an_upper_case_extension_is_named(course, capsys):
    """G19: ``….IPYNB`` (zip_collect matches ``.ipynb`` only) was reported as "holds no
    notebook", in a folder or a zip."""
    (_archive(course) / "alice").mkdir()
    (_archive(course) / "alice" / f"{EX01}.IPYNB").write_bytes(_released(course))
    _zip(_archive(course) / "bob.zip", {f"g2d/{EX01}.Ipynb": _released(course)})
    status, out = _handins(course, capsys)
    assert status == 1
    assert f"{EX01}.IPYNB ends in .IPYNB" in out and f"{EX01}.Ipynb ends in .Ipynb" in out
    assert out.count(f"rename it to {EX01}.ipynb") == 2
    assert "holds no notebook" not in out


def test_an_archive_that_is_not_a_zip_is_named_with_the_fix(course, capsys):
    """G20: a .tar.gz or .7z hand-in was named as a problem, without a fix."""
    notebook = _released(course)
    with tarfile.open(_archive(course) / "alice.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo(f"g2d/{EX01}.ipynb")
        info.size = len(notebook)
        archive.addfile(info, io.BytesIO(notebook))
    (_archive(course) / "bob.7z").write_bytes(b"7z\xbc\xaf\x27\x1c")
    status, out = _handins(course, capsys)
    assert status == 1
    assert "unpack it into a folder alice/ or ask the student for a .zip" in out
    assert "unpack it into a folder bob/ or ask the student for a .zip" in out


def test_an_assignment_named_in_the_wrong_case_gets_the_released_name(course, capsys):
    """G21: --assignment G2D with release/g2d/ advised `nbgrader generate_assignment G2D`,
    which makes a second assignment."""
    for name in ("G2D", "g2"):
        status, out = _handins(course, capsys, "--assignment", name)
        assert status == 2 and "did you mean --assignment g2d?" in out
        assert "generate_assignment" not in out


def test_probe_25_hand_in_cases(course, capsys):
    """J08 (an empty archive/ was "every one can be collected"), J09 (a bulk download unpacked
    one level too deep: "unpack it into a folder" it already was), J11 (a scratch notebook
    beside every exercise was a problem with no fix; zip_collect just skips it)."""
    scratch = _folder(course, "carol") / "scratch.ipynb"
    scratch.write_bytes(_released(course))
    status, out = _handins(course, capsys)
    assert status == 0, out
    assert "carol also hands in scratch.ipynb, no exercise: zip_collect skips it" in out
    bulk = _archive(course) / "submissions_CS501"
    bulk.mkdir()
    for student in ("alice", "bob"):
        _zip(bulk / f"{student}.zip", {f"g2d/{EX01}.ipynb": _released(course)})
    status, out = _handins(course, capsys)
    assert status == 1
    assert "holds alice.zip, bob.zip, one hand-in each" in out
    assert f"move them up into {_archive(course)}/" in out
    shutil.rmtree(_archive(course))
    _archive(course).mkdir()
    status, out = _handins(course, capsys)
    assert status == 2 and "holds no hand-ins: put each student's work there" in out


def test_a_check_cell_dragged_above_its_answer_is_named(course, capsys):
    """AC27: ex02's check_teacher_confidence swapped with the answer cell above it passed;
    autograde then ran the check first (NameError) and took 2 points from a right answer."""
    path = _folder(course, "rex") / "ex02_smp.ipynb"
    notebook = nbformat.read(path, as_version=4)
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in notebook.cells]
    answer, check = ids.index("teacher_confidence"), ids.index("check_teacher_confidence")
    notebook.cells[answer], notebook.cells[check] = notebook.cells[check], notebook.cells[answer]
    nbformat.write(notebook, path)
    status, out = _handins(course, capsys)
    assert status == 1
    assert (
        "rex: ex02_smp.ipynb: the check cell check_teacher_confidence comes before its answer "
        "teacher_confidence" in out
    )
    assert "move it back below teacher_confidence (or ask the student to)" in out
    assert out.count("comes before its answer") == 1 and "good" not in out


def test_handins_run_inside_the_course_names_the_course_folder(course, capsys, monkeypatch):
    """AC38: run from release/ it said "run `nbgrader generate_assignment g2d`", which rewrites
    gradebook.db, while the release was one folder up."""
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    monkeypatch.chdir(course / "release")
    status = exercises.main(["handins"])
    err = capsys.readouterr().err
    assert status == 2 and "generate_assignment" not in err
    assert f"run handins in the course folder {course.resolve()}, the one with" in err
    assert f"or pass --course {course.resolve()}" in err


def test_one_student_under_ids_differing_only_in_case_is_named(course, capsys):
    """AF14: Alice.zip beside alice/ passed; nbgrader then graded two students, Alice and
    alice, and an import matching ids in any case took either grade."""
    _folder(course, "alice")
    _zip(_archive(course) / "Alice.zip", {f"g2d/{EX01}.ipynb": _released(course)})
    status, out = _handins(course, capsys)
    assert status == 1
    assert "Alice.zip and alice/ differ only in case: the same student?" in out
    assert "nbgrader grades them as two students (two rows in grades.csv); keep one" in out
    assert "1 problem to fix" in out


def test_a_hand_in_of_the_instructor_notebooks_is_named(course, capsys):
    """AF26: the instructor's notebooks (solutions and hidden tests inside) handed in passed;
    autograde would have given their reference answers full marks."""
    bob = _archive(course) / "bob"
    bob.mkdir()
    shutil.copy(exercises.SOURCE_DIR / f"{EX01}.ipynb", bob)
    status, out = _handins(course, capsys)
    assert status == 1
    assert (
        f"bob: {EX01}.ipynb holds the instructor's solutions and hidden tests (### BEGIN "
        "SOLUTION, ### BEGIN HIDDEN TESTS …): it is the source notebook, not the released copy; "
        "check how the student got it" in out
    )
    assert "good" not in out


def test_a_course_folder_that_does_not_exist_is_named_not_generate_assignment(
    course, capsys, monkeypatch
):
    """AF36: --course nocourse (a typo) advised `nbgrader generate_assignment g2d` there, which
    would start a new, empty course."""
    monkeypatch.chdir(course.parent)
    status = exercises.main(["handins", "--course", "nocourse"])
    err = capsys.readouterr().err
    assert status == 2 and "generate_assignment" not in err
    assert "nocourse does not exist (no nbgrader_config.py there, no release/)" in err
    assert "give the course folder, e.g. --course course" in err


def test_two_exercises_saved_under_each_others_names_are_named_with_the_rename(course, capsys):
    """Probe 30 BC28: ex01 and ex02 exchanged names were called answers "pasted into a new
    notebook" to be pasted back by hand; every cell is there, only the names are swapped."""
    folder = _folder(course, "alice")
    ex02 = "ex02_smp"
    (folder / "swap").write_bytes((folder / f"{EX01}.ipynb").read_bytes())
    (folder / f"{EX01}.ipynb").write_bytes((folder / f"{ex02}.ipynb").read_bytes())
    (folder / "swap").rename(folder / f"{ex02}.ipynb")
    status, out = _handins(course, capsys)
    assert status == 1 and "pasted into a new notebook" not in out
    assert f"{ex02}.ipynb holds the answer cells of {EX01}.ipynb, not those of" in out
    assert f"rename it to {ex02}.ipynb (swap the names back" in out
    assert "2 problems to fix" in out


def test_a_second_copy_of_one_exercise_and_a_cell_copied_between_notebooks_are_named(
    course, capsys
):
    """Probe 34 FC23: ex01 saved again as ex02_smp.ipynb (ex01 handed in too) was told to be
    renamed to ex01, over the real one; FC26: an answer cell of ex03 pasted into ex01 passed,
    and autograde then failed the whole hand-in (0 of 22)."""
    folder = _folder(course, "lee")
    (folder / "ex02_smp.ipynb").write_bytes((folder / f"{EX01}.ipynb").read_bytes())
    status, out = _handins(course, capsys)
    assert status == 1 and "rename it" not in out
    assert f"ex02_smp.ipynb is a second copy of {EX01}.ipynb" in out
    assert "ask the student for ex02_smp.ipynb" in out
    shutil.rmtree(folder)
    folder = _folder(course, "omar")
    ex01 = nbformat.read(folder / f"{EX01}.ipynb", as_version=4)
    ex03 = nbformat.read(folder / "ex03_ogm_ge.ipynb", as_version=4)
    answer = next(c for c in ex03.cells if c.metadata.get("nbgrader", {}).get("solution"))
    ex01.cells.append(copy.deepcopy(answer))
    nbformat.write(ex01, folder / f"{EX01}.ipynb")
    status, out = _handins(course, capsys)
    grade_id = answer.metadata["nbgrader"]["grade_id"]
    assert status == 1
    assert f"holds answer cell {grade_id} of ex03_ogm_ge.ipynb" in out and "(copied betw" in out
    assert f"delete that cell from {EX01}.ipynb" in out
