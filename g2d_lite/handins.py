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
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nbformat

from g2d_lite.errors import KitError

IGNORED_PARTS = {".ipynb_checkpoints", "__MACOSX"}  # editor and archiver leftovers


@dataclass(frozen=True)
class Report:
    """What the check found: ``problems`` stop or spoil grading, ``notes`` are for the record."""

    handins: int
    problems: list[str]
    notes: list[str]


def _answer_cells(notebook: nbformat.NotebookNode) -> set[str]:
    """Grade ids of the cells nbgrader needs in a hand-in: autograde stops on a missing one."""
    return {
        cell.metadata["nbgrader"]["grade_id"]
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def _released(course: Path, assignment: str) -> dict[str, set[str]]:
    """The released notebooks (by name) and the answer cells each must keep."""
    release = course / "release" / assignment
    found = sorted(release.glob("*.ipynb")) if release.is_dir() else []
    if not found:
        raise KitError(
            f"no released notebooks in {release}: run `nbgrader generate_assignment {assignment}`"
            " in the course folder first"
        )
    return {p.stem: _answer_cells(nbformat.read(p, as_version=4)) for p in found}


def _notebooks(entry: Path) -> Iterator[tuple[str, bytes]]:
    """(path inside the hand-in, bytes) of every notebook in a folder or a zip; a zip that does
    not open raises :class:`zipfile.BadZipFile`."""
    if entry.is_dir():
        for path in sorted(entry.rglob("*.ipynb")):
            relative = path.relative_to(entry)
            if path.is_file() and not IGNORED_PARTS & set(relative.parts):
                yield str(relative), path.read_bytes()
        return
    with zipfile.ZipFile(entry) as archive:
        damaged = archive.testzip()
        if damaged is not None:
            raise zipfile.BadZipFile(f"its member {damaged} is damaged")
        for name in sorted(archive.namelist()):
            member = PurePosixPath(name)
            if member.suffix == ".ipynb" and not IGNORED_PARTS & set(member.parts):
                yield name, archive.read(name)


def _notebook_problem(data: bytes, needed: set[str]) -> str | None:
    """Why autograde would fail on this file, or None."""
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as error:  # noqa: BLE001 - any reason it does not read is the same problem
        reason = " ".join(str(error).split())[:80]
        return (
            f"is not a notebook ({type(error).__name__}: {reason}); autograde would stop on it "
            "and grade it 0: ask the student for the notebook itself"
        )
    lost = sorted(needed - _answer_cells(notebook))
    if lost:
        return (
            f"has lost the nbgrader metadata of answer cell {', '.join(lost)} (answers pasted "
            "into a new notebook?); autograde would stop on it and grade it 0: paste the answers "
            "into the cells of the released copy"
        )
    return None


def _wrong_name(stem: str, released: list[str]) -> str:
    """The problem of a notebook named like none of the released ones."""
    started = [name for name in released if stem.startswith(name)]
    near = started or difflib.get_close_matches(stem, released, n=1, cutoff=0.5)
    rename = f"rename it to {near[0]}.ipynb" if near else f"names: {', '.join(released)}"
    return f"is named like no released notebook, so it would not be graded: {rename}"


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
    entries = sorted(p for p in archive.iterdir() if not p.name.startswith("."))
    for entry in entries:
        student = entry.stem if entry.suffix == ".zip" else entry.name
        if not entry.is_dir() and entry.suffix != ".zip":
            problems.append(f"{entry}: neither a .zip nor a folder: zip_collect cannot read it")
            continue
        try:
            found = list(_notebooks(entry))
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            problems.append(
                f"{entry}: does not open as a zip ({error}; a truncated upload?): one such file "
                "stops zip_collect for the whole class; ask the student for it again, or move it "
                "out of the archive"
            )
            continue
        if not found:
            problems.append(
                f"{entry}: holds no notebook: the student would get no row in grades.csv"
            )
            continue
        handed_in: dict[str, list[str]] = {}
        for inside, data in found:
            stem = PurePosixPath(inside).stem
            if stem not in released:
                problems.append(f"{entry}: {inside} {_wrong_name(stem, list(released))}")
                continue
            handed_in.setdefault(stem, []).append(inside)
            problem = _notebook_problem(data, released[stem])
            if problem:
                problems.append(f"{entry}: {inside} {problem}")
        for stem, copies in handed_in.items():
            if len(copies) > 1:
                problems.append(
                    f"{entry}: {stem}.ipynb is handed in {len(copies)} times ({', '.join(copies)})"
                    ": two copies stop zip_collect for the whole class; keep the one to grade"
                )
        missing = sorted(set(released) - set(handed_in))
        if missing:
            notes.append(f"{student} hands in no {', '.join(missing)} (each scores 0)")
    return Report(len(entries), problems, notes)
