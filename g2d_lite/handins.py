"""Check a class's hand-ins before grading: ``python -m g2d_lite.exercises handins --course DIR``.

nbgrader's offline route (docs/classroom.md) fails late and far from the cause on hand-ins that
are common in a real class: one damaged ``.zip`` stops ``zip_collect`` for everyone; a notebook
named ``…-Copy1.ipynb`` is skipped with a warning among many lines, and its student then has no
row in ``grades.csv``; ``…_v2.ipynb`` is collected and then graded as "no notebooks found"; a
text file with the right name, or the right answers pasted into a new notebook (without
nbgrader's cell metadata), stops ``autograde`` with a traceback and scores 0, like a blank copy.
This reads ``downloaded/<assignment>/archive/`` against ``release/<assignment>/`` and names each
such hand-in with what to do, before any nbgrader command runs.
"""

from __future__ import annotations

import difflib
import ntpath
import warnings
import zipfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nbformat

from g2d_lite.errors import KitError

IGNORED_PARTS = {".ipynb_checkpoints", "__MACOSX"}  # editor and archiver leftovers
# A hand-in must be a .zip or a folder; this check does not look into an archive inside one
ARCHIVES = (".zip", ".tar.gz", ".tgz", ".tar", ".7z", ".rar")


@dataclass(frozen=True)
class Report:
    """What the check found: ``problems`` stop or spoil grading, ``notes`` are for the record."""

    handins: int
    problems: list[str]
    notes: list[str]


@dataclass(frozen=True)
class Released:
    """What a hand-in of one released notebook must keep: its answer cells (autograde stops on
    a missing one), and for each check cell the answer cells above it in the release (autograde
    runs the cells in the hand-in's order, so a check moved above one fails)."""

    answers: set[str]
    answers_above: dict[str, list[str]]


def _answer_cells(notebook: nbformat.NotebookNode) -> set[str]:
    """Grade ids of the cells nbgrader needs in a hand-in: autograde stops on a missing one."""
    return {
        cell.metadata["nbgrader"]["grade_id"]
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def _released_notebook(path: Path) -> Released:
    """The answer cells of a released notebook, and those above each of its check cells."""
    notebook = nbformat.read(path, as_version=4)
    answers: list[str] = []
    above: dict[str, list[str]] = {}
    for cell in notebook.cells:
        role = cell.metadata.get("nbgrader", {})
        if role.get("solution"):
            answers.append(role["grade_id"])
        elif role.get("grade"):
            above[role["grade_id"]] = list(answers)
    return Released(set(answers), above)


def _folders(path: Path) -> list[Path]:
    """The folders directly in ``path`` (none when it is no folder)."""
    return sorted(p for p in path.iterdir() if p.is_dir()) if path.is_dir() else []


def _not_a_course(course: Path) -> str | None:
    """Why ``course`` is no course folder at all (no nbgrader_config.py, no release/), with the
    folders it may have meant: a mistyped ``--course`` told to generate a release there would
    start a new, empty course. None when it may be a course."""
    if (course / "nbgrader_config.py").is_file() or (course / "release").is_dir():
        return None
    siblings = [p for p in _folders(course.parent) if p.name != course.name]
    near = difflib.get_close_matches(course.name, [p.name for p in siblings], n=3)
    inside = dict.fromkeys(_folders(course) + siblings)  # "." is its own parent
    courses = [p for p in inside if (p / "nbgrader_config.py").is_file()]
    meant = [course.parent / name for name in near] or courses
    fix = ", ".join(f"--course {p}" for p in meant[:3]) or "--course classroom in a clone"
    what = "is no course folder" if course.is_dir() else "does not exist"
    return (
        f"{course} {what} (no nbgrader_config.py there, no release/): give the course folder, "
        f"e.g. {fix}"
    )


def _missing_release(course: Path, assignment: str) -> str:
    """Why ``course`` has no release of ``assignment``, with the fix: a folder inside the course
    (release/, say) is named with the course folder to run in; a folder that is no course (a
    typo) with the folders it may mean; another assignment's name in the wrong case is a typo
    (generating it would make a second assignment); else generate it."""
    release = course / "release" / assignment
    parent = course.resolve().parent
    if (parent / "nbgrader_config.py").is_file() and (parent / "release" / assignment).is_dir():
        return (
            f"{release} not found here ({course.resolve()}), which is inside the course: run "
            f"handins in the course folder {parent}, the one with nbgrader_config.py, or pass "
            f"--course {parent}"
        )
    not_a_course = _not_a_course(course)
    if not_a_course:
        return not_a_course
    others = {
        p.name.lower(): p.name for p in release.parent.glob("*") if p.is_dir() and p != release
    }
    near = difflib.get_close_matches(assignment.lower(), list(others), n=1)
    fix = f"run `nbgrader generate_assignment {assignment}` in the course folder first"
    return f"no released notebooks in {release}: " + (
        f"did you mean --assignment {others[near[0]]}?" if near else fix
    )


def _released(course: Path, assignment: str) -> dict[str, Released]:
    """The released notebooks (by name) and what a hand-in of each must keep."""
    release = course / "release" / assignment
    found = sorted(release.glob("*.ipynb")) if release.is_dir() else []
    if not found:
        raise KitError(_missing_release(course, assignment))
    return {p.stem: _released_notebook(p) for p in found}


def _archive_suffix(name: str) -> str | None:
    """The archive extension ``name`` ends in (any case), or None."""
    return next((s for s in ARCHIVES if name.lower().endswith(s)), None)


def _ignored(name: str) -> bool:
    """Whether a path in a hand-in is an editor or archiver leftover, which nobody grades."""
    return bool(IGNORED_PARTS & set(PurePosixPath(name).parts))


def _collected(name: str) -> bool:
    """Whether zip_collect collects this file (it matches ``.ipynb`` in lower case only)."""
    return name.endswith(".ipynb") and not _ignored(name)


def _contents(entry: Path) -> tuple[list[str], dict[str, bytes]]:
    """The paths in a folder or a zip hand-in (a zip's as it names them, leftovers included),
    and the bytes of each notebook zip_collect would collect; a zip that does not open raises
    :class:`zipfile.BadZipFile`."""
    if entry.is_dir():
        files = {p.relative_to(entry).as_posix(): p for p in entry.rglob("*") if p.is_file()}
        return sorted(files), {n: p.read_bytes() for n, p in files.items() if _collected(n)}
    with zipfile.ZipFile(entry) as archive:
        damaged = archive.testzip()
        if damaged is not None:
            raise zipfile.BadZipFile(f"its member {damaged} is damaged")
        names = sorted(archive.namelist())
        return names, {n: archive.read(n) for n in names if _collected(n)}


def _points_outside(name: str) -> bool:
    """Whether zip_collect (setuptools' ``_resolve_dest``) refuses this zip member, stopping
    the collection for the whole class with ``UnsafeMember``."""
    return (
        name.startswith("/")
        or "\\" in name
        or bool(ntpath.splitdrive(name)[0])
        or ".." in name.split("/")
    )


def _moved_checks(inside: str, notebook: nbformat.NotebookNode, released: Released) -> list[str]:
    """Check cells dragged above an answer cell they follow in the release: nbgrader does not
    restore the order, so autograde runs the check first and it fails (a NameError), costing a
    right answer its points, although it passed in the student's kernel that ran the old order."""
    order: dict[str | None, int] = {}
    for index, grade_id in enumerate(_cell_ids(notebook)):
        order.setdefault(grade_id, index)  # a duplicated cell is a problem of its own
    problems = []
    for check, answers in released.answers_above.items():
        below = [a for a in answers if check in order and order.get(a, -1) > order[check]]
        if below:  # a missing answer cell (order -1) is named by _notebook_problems
            last = max(below, key=order.__getitem__)
            problems.append(
                f"{inside}: the check cell {check} comes before its answer {last} (it follows it "
                "in the release), so autograde would run it first and fail it for a right "
                f"answer: move it back below {last} (or ask the student to)"
            )
    return problems


def _cell_ids(notebook: nbformat.NotebookNode) -> list[str | None]:
    """The grade id of every cell of a notebook, in order (None for a cell without one)."""
    return [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells]


def _source_markers(inside: str, notebook: nbformat.NotebookNode) -> list[str]:
    """A notebook still holding nbgrader's solution or hidden-test markers is the instructor's
    source (a clone's notebooks/exercises/), not the released copy: autograde would give its
    reference answers full marks, and its hidden checks are in plain view."""
    from g2d_lite.exercises import HIDDEN_TESTS, SOLUTION  # exercises imports this module

    lines = {line.strip() for cell in notebook.cells for line in cell.source.splitlines()}
    marks = {SOLUTION[0]: "solutions", HIDDEN_TESTS[0]: "hidden tests"}
    found = {begin: what for begin, what in marks.items() if begin in lines}
    if not found:
        return []
    return [
        f"{inside} holds the instructor's {' and '.join(found.values())} ({', '.join(found)} …): "
        "it is the source notebook, not the released copy; check how the student got it"
    ]


def _lost_answers(
    inside: str,
    answers: set[str],
    stem: str,
    released: dict[str, Released],
    present: Mapping[str, bytes],
) -> str:
    """The problem of a hand-in lacking answer cells of its release: another exercise saved
    under this one's name (its cells are all there; a second copy of it when that one is
    handed in too, holding its own cells), or answers pasted into a new notebook."""
    lost = sorted(released[stem].answers - answers)
    owner = next(
        (
            other
            for other, r in released.items()
            if other != stem and r.answers and r.answers <= answers
        ),
        None,
    )
    if (
        owner is not None
        and owner in present
        and released[owner].answers <= _answers_in(present[owner])
    ):
        return (
            f"{inside} is a second copy of {owner}.ipynb (its answer cells, not those of "
            f"{stem}.ipynb), which is handed in too; autograde would stop on it and grade it "
            f"0: ask the student for {stem}.ipynb"
        )
    if owner is not None:
        return (
            f"{inside} holds the answer cells of {owner}.ipynb, not those of {stem}.ipynb (saved "
            f"under the other exercise's name?); autograde would stop on it and grade it 0: "
            f"rename it to {owner}.ipynb (swap the names back if two were exchanged)"
        )
    return (
        f"{inside} has lost the nbgrader metadata of answer cell {', '.join(lost)} (answers "
        "pasted into a new notebook?); autograde would stop on it and grade it 0: paste the "
        "answers into the cells of the released copy"
    )


def _answers_in(data: bytes) -> set[str]:
    """The answer cells of a handed-in notebook's bytes (none when it does not read)."""
    try:
        with warnings.catch_warnings():  # nbformat's notes on a hand-in's ids: not ours to print
            warnings.simplefilter("ignore")
            return _answer_cells(nbformat.reads(data.decode("utf-8"), as_version=4))
    except Exception:  # noqa: BLE001 - an unreadable notebook is named where it is checked
        return set()


def _foreign_answers(
    inside: str, answers: set[str], stem: str, released: dict[str, Released]
) -> list[str]:
    """Answer cells of another exercise in this one (a cell copied between notebooks in
    JupyterLab keeps its grade id): nbgrader finds no such cell in this notebook and fails
    the student's whole assignment."""
    owners: dict[str, list[str]] = {}
    for other, release in sorted(released.items()):
        for answer in release.answers if other != stem else ():
            owners.setdefault(answer, []).append(f"{other}.ipynb")
    return [
        f"{inside} holds answer cell {cell} of {' or '.join(owners[cell])} (copied between "
        "notebooks?), which fails autograde for all of this student's work (0 points): delete "
        "that cell "
        f"from {PurePosixPath(inside).name}"
        for cell in sorted(answers - released[stem].answers)
        if cell in owners
    ]


def _notebook_problems(
    inside: str,
    data: bytes,
    stem: str,
    released: dict[str, Released],
    present: Mapping[str, bytes],
) -> list[str]:
    """Why autograde would fail on the notebook ``inside`` a hand-in (of the released notebook
    ``stem``, beside the notebooks ``present``, by name), or spoil its grade."""
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as error:  # noqa: BLE001 - any reason it does not read is the same problem
        reason = " ".join(str(error).split())[:80]
        return [
            f"{inside} is not a notebook ({type(error).__name__}: {reason}); autograde would stop "
            "on it and grade it 0: ask the student for the notebook itself"
        ]
    problems = _source_markers(inside, notebook)
    answers = _answer_cells(notebook)
    if released[stem].answers - answers:
        problems.append(_lost_answers(inside, answers, stem, released, present))
    else:
        problems += _foreign_answers(inside, answers, stem, released)
    # JupyterLab's "Duplicate cell" copies the nbgrader metadata, grade_id included
    ids = Counter(_cell_ids(notebook))
    problems += [
        f"{inside}: cell {grade_id} appears {'twice' if count == 2 else f'{count} times'} (a "
        "duplicated cell?), which fails autograde for all of this student's work (0 points): "
        "delete the copy, keep the one to grade"
        for grade_id, count in ids.items()
        if grade_id is not None and count > 1
    ]
    return problems + _moved_checks(inside, notebook, released[stem])


def _near(stem: str, released: list[str]) -> list[str]:
    """The released notebook a misnamed one most likely is (``ex01_…-Copy1``, a typo)."""
    started = [name for name in released if stem.startswith(name)]
    return started or difflib.get_close_matches(stem, released, n=1, cutoff=0.5)


def _wrong_name(stem: str, released: list[str]) -> str:
    """The problem of a notebook named like none of the released ones."""
    near = _near(stem, released)
    rename = f"rename it to {near[0]}.ipynb" if near else f"names: {', '.join(released)}"
    return f"is named like no released notebook, so it would not be graded: {rename}"


def _not_a_zip(entry: Path, student: str) -> str:
    """The problem of a hand-in that is a file but not a ``.zip``, with its fix."""
    suffix = _archive_suffix(entry.name)
    if suffix == ".zip":
        return (
            f"ends in {entry.suffix}, which zip_collect does not unpack (it matches .zip in lower "
            f"case only): rename it to {student}.zip"
        )
    fix = (
        f"unpack it into a folder {student}/ or ask the student for a .zip"
        if suffix
        else "put it in a folder named by the student's id, or move it out of the archive"
    )
    return f"neither a .zip nor a folder, so it cannot be checked: {fix}"


def _handin_problems(
    entry: Path, student: str, released: dict[str, Released]
) -> tuple[list[str], list[str], list[str]]:
    """The problems of one zip or folder hand-in (without its path), the released notebooks it
    lacks, and its extra notebooks (a scratch notebook beside every exercise: zip_collect skips
    it, and nothing is lost)."""
    try:
        names, notebooks = _contents(entry)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        return (
            [
                f"does not open as a zip ({error}; a truncated upload?): one such file stops "
                "zip_collect for the whole class; ask the student for it again, or move it out of "
                "the archive"
            ],
            [],
            [],
        )
    problems = [
        f"member {name} points outside the zip: zip_collect would stop on it for the whole "
        f"class; unpack it into a folder {student}/, or ask the student for a plain zip"
        for name in names
        if entry.is_file() and _points_outside(name)
    ]
    kept = [name for name in names if not _ignored(name)]
    for name in kept:
        suffix = PurePosixPath(name).suffix
        if suffix.lower() == ".ipynb" and suffix != ".ipynb":
            problems.append(
                f"{name} ends in {suffix}, which zip_collect skips (it matches .ipynb in lower "
                f"case only): rename it to {PurePosixPath(name).stem}.ipynb"
            )
    if not notebooks and not problems:
        inner = [name for name in kept if _archive_suffix(name)]
        kind = "folder" if entry.is_dir() else "zip"
        if entry.is_dir() and len(inner) > 1 and len(inner) == len(kept):
            problems.append(
                f"holds {', '.join(inner)}, one hand-in each (a bulk download unpacked one level"
                f" too deep?): move them up into {entry.parent}/, one hand-in per student"
            )
        elif inner:
            problems.append(
                f"holds {', '.join(inner)} inside the {kind} and no notebook beside it, so it "
                f"cannot be checked: unpack it into a folder {student}/"
            )
        else:
            problems.append(
                "holds no notebook: the student would get no row in grades.csv; ask the student "
                "for the notebooks"
            )
    handed_in: dict[str, list[str]] = {}
    strays: list[str] = []
    present = {PurePosixPath(i).stem: data for i, data in notebooks.items()}
    for inside, data in notebooks.items():
        stem = PurePosixPath(inside).stem
        if stem not in released:
            strays.append(inside)
            continue
        handed_in.setdefault(stem, []).append(inside)
        problems += _notebook_problems(inside, data, stem, released, present)
    problems += [
        f"{stem}.ipynb is handed in {len(copies)} times ({', '.join(copies)}): two copies stop "
        "zip_collect for the whole class; keep the one to grade"
        for stem, copies in handed_in.items()
        if len(copies) > 1
    ]
    missing = sorted(set(released) - set(handed_in))
    extra: list[str] = []
    for inside in strays:  # a renamed exercise is a problem; a scratch notebook is not
        stem = PurePosixPath(inside).stem
        if missing or _near(stem, list(released)):
            problems.append(f"{inside} {_wrong_name(stem, list(released))}")
        else:
            extra.append(inside)
    return problems, missing, extra


def check_handins(course: str | Path, assignment: str = "g2d") -> Report:
    """Every hand-in in ``course/downloaded/<assignment>/archive/`` checked against the release."""
    course = Path(course)
    released = _released(course, assignment)
    archive = course / "downloaded" / assignment / "archive"
    if not archive.is_dir():
        raise KitError(
            f"{archive} does not exist: put each student's work there, as <student id>.zip or a "
            "folder <student id>/ (docs/classroom.md, step 3)"
        )
    problems: list[str] = []
    notes: list[str] = []
    # zip_collect names a student by the zip or folder; ids in another case are two students
    by_student: dict[str, list[tuple[str, str]]] = {}  # (entry, student id) by the id's lower case
    entries = sorted(p for p in archive.iterdir() if not p.name.startswith("."))
    if not entries:
        raise KitError(
            f"{archive} holds no hand-ins: put each student's work there, as <student id>.zip or "
            "a folder <student id>/ (docs/classroom.md, step 3)"
        )
    for entry in entries:
        suffix = None if entry.is_dir() else _archive_suffix(entry.name)
        student = entry.name[: -len(suffix)] if suffix else entry.name
        if entry.is_file() and entry.suffix != ".zip":
            problems.append(f"{entry}: {_not_a_zip(entry, student)}")
            continue
        label = f"{entry.name}/" if entry.is_dir() else entry.name
        by_student.setdefault(student.lower(), []).append((label, student))
        found, missing, extra = _handin_problems(entry, student, released)
        problems += [f"{entry}: {problem}" for problem in found]
        if missing:
            notes.append(f"{student} hands in no {', '.join(missing)} (each scores 0)")
        if extra:
            notes.append(
                f"{student} also hands in {', '.join(extra)}, no exercise: zip_collect skips it"
            )
    problems += [_twice(archive, names) for names in by_student.values() if len(names) > 1]
    return Report(len(entries), problems, notes)


def _twice(archive: Path, entries: list[tuple[str, str]]) -> str:
    """The problem of one student handed in as several entries (each with its student id): under
    one id zip_collect sees each notebook twice; under ids that differ only in case nbgrader
    grades two students, and an import that matches ids in any case takes either grade."""
    ids = {student for _, student in entries}
    both = f"{archive}/{' and '.join(sorted(label for label, _ in entries))}"
    if len(ids) == 1:
        return (
            f"{both} are both student {ids.pop()}: zip_collect would see each notebook twice; "
            "keep one"
        )
    return (
        f"{both} differ only in case: the same student? nbgrader grades them as two students "
        "(two rows in grades.csv); keep one"
    )
