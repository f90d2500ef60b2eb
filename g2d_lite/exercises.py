"""Student copies of the exercise notebooks: ``python -m g2d_lite.exercises build --out DIR``
(``handins --course DIR`` checks a class's hand-ins before grading, :mod:`g2d_lite.handins`, and
``graded --course DIR`` checks after grading that each has a grade, :mod:`g2d_lite.autograded`).

The instructor notebooks (``notebooks/exercises/``) carry nbgrader's markers and cell metadata,
so the classroom route (``classroom/``, docs/classroom.md) grades them with nbgrader. This
stand-in for ``nbgrader generate_assignment`` is the self-study route: it needs no nbgrader and
no database, and writes the same student notebooks:

- code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()`` (Markdown: ``YOUR ANSWER HERE``), at the marker's indentation;
- lines from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` are removed;
- outputs and execution counts are cleared;
- cells are locked as nbgrader locks them: checks and read-only cells can be neither edited
  nor deleted in Jupyter, answer cells cannot be deleted;
- the other files of the folder (the data exercise 4 reads) are copied beside the notebooks.

Student copies raise on purpose, so they never go through papermill.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat

from g2d_lite.atomic import atomic_write_text
from g2d_lite.autograded import check_autograded
from g2d_lite.errors import (
    OneLineParser,
    dangling_link,
    path_argument,
    returns_status,
    run_command,
)
from g2d_lite.handins import check_handins

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = ("YOUR ANSWER HERE",)
SOURCE_DIR = Path(__file__).resolve().parent.parent / "notebooks" / "exercises"
IGNORED = (".ipynb_checkpoints", "__pycache__", "*.pyc")  # nbgrader's default ignore list
MANIFEST = ".built.json"  # what the last build wrote, so a student's edits are never overwritten


def replace_regions(source: str, markers: tuple[str, str], stub: Sequence[str]) -> str:
    """Replace each marked region (markers included) by ``stub`` lines at the begin marker's
    indentation; an empty ``stub`` deletes the region. Unbalanced markers raise ValueError."""
    begin, end = markers
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise ValueError(f"line {number}: {begin!r} inside an open region; add {end!r}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + s for s in stub]
        elif stripped == end:
            if not inside:
                raise ValueError(f"line {number}: {end!r} without a matching {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{begin!r} is never closed; add {end!r}")
    return "\n".join(out)


def unanswered_cells(notebook: nbformat.NotebookNode) -> list[int]:
    """The indices of code cells that still hold the student stub (``# YOUR CODE HERE`` and
    its ``raise``): a student copy not yet answered, which raises on purpose when run."""
    found = []
    for index, cell in enumerate(notebook.cells):
        lines = [line.strip() for line in cell.source.splitlines()]
        pairs = zip(lines, lines[1:], strict=False)
        if cell.cell_type == "code" and any(pair == CODE_STUB for pair in pairs):
            found.append(index)
    return found


def lock(cell: nbformat.NotebookNode) -> None:
    """Jupyter's edit and delete locks, set as nbgrader's ``LockCells`` sets them."""
    role = cell.metadata.get("nbgrader", {})
    if role.get("solution"):  # an answer: editable, but it must stay
        cell.metadata["deletable"] = False
    elif role.get("grade") or role.get("locked"):  # a check or a read-only cell
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of an instructor notebook with solutions stubbed, hidden tests gone, no outputs
    and locked cells."""
    student = nbformat.from_dict(notebook)
    for index, cell in enumerate(student.cells):
        lock(cell)
        marked = any(line.strip() == SOLUTION[0] for line in cell.source.splitlines())
        if cell.metadata.get("nbgrader", {}).get("solution") and not marked:
            # as nbgrader does: a solution cell without markers is all answer (a mistyped
            # marker must not ship the instructor's answer)
            stub = CODE_STUB if cell.cell_type == "code" else MARKDOWN_STUB
            cell.source = "\n".join(stub)
        try:
            code = cell.cell_type == "code"  # markdown and raw cells get the text stub
            cell.source = replace_regions(
                cell.source, SOLUTION, CODE_STUB if code else MARKDOWN_STUB
            )
            cell.source = replace_regions(cell.source, HIDDEN_TESTS, ())
            if code:
                cell.outputs = []
                cell.execution_count = None
        except ValueError as error:
            raise ValueError(f"cell {index}: {error}") from None
    return student


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _notebook_text(student: nbformat.NotebookNode) -> str:
    """The bytes ``nbformat.write`` gives (it ends the file with a newline)."""
    text = nbformat.writes(student)
    return text if text.endswith("\n") else text + "\n"


def _check_targets(out_dir: Path, source_dir: Path, texts: Mapping[Path, str], force: bool) -> None:
    """Never write over the instructor notebooks, nor over a copy a student has worked in. A
    copy that is what this build writes is no one's work (a build killed before it wrote its
    manifest left it), so it is written again."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} is a file; give a folder for the student copies")
    if source_dir.resolve() in out_dir.resolve().parents:
        raise ValueError(
            f"--out {out_dir} is inside the --source folder {source_dir}: the next build would"
            " copy the student copies along with the instructor notebooks; choose another --out"
        )
    if out_dir.resolve() == source_dir.resolve():
        raise ValueError(
            f"--out {out_dir} is the --source folder: the student copies would replace the "
            "instructor notebooks; choose another --out"
        )
    _check_not_the_kits(out_dir)
    built = _read_manifest(out_dir)
    expected = {p.name: hashlib.sha256(t.encode()).hexdigest() for p, t in texts.items()}
    expected |= {str(p): _digest(source_dir / p) for p in _data_files(source_dir)}
    for name in [*expected, MANIFEST]:
        _refuse_links(out_dir, Path(name))
    for name in expected:
        target = out_dir / name
        if force or not target.is_file():
            continue
        if _digest(target) not in (built.get(name), expected[name]):
            raise ValueError(
                f"{target} has changed since it was built (a student's answers or data?); pass "
                "--force to overwrite it, or choose another --out"
            )


def _refuse_links(out_dir: Path, name: Path) -> None:
    """A link inside --out (to a folder or a file) would have the build overwrite its target,
    which was never built there: refused even under --force."""
    path = out_dir
    for part in name.parts:
        path = path / part
        if path.is_symlink():
            raise ValueError(
                f"{path} is a link to {path.readlink()}; the build does not write through "
                "links: remove the link or choose another --out"
            )


def _data_files(source_dir: Path) -> list[Path]:
    """The files copied beside the notebooks (relative to ``source_dir``), as copytree does."""
    files = []
    for path in sorted(source_dir.rglob("*")):
        relative = path.relative_to(source_dir)
        ignored = any(
            fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in IGNORED
        )
        if path.is_file() and not ignored and path.suffix != ".ipynb":
            files.append(relative)
    return files


def _check_not_the_kits(out_dir: Path) -> None:
    """Student copies never land among the kit's own notebooks, in a run folder or a cache."""
    kit_notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    resolved = out_dir.resolve()
    if resolved == kit_notebooks:
        raise ValueError(
            f"--out {out_dir} is the kit's notebooks/ folder: the student copies would sit beside "
            "the committed notebooks; choose another --out (default build/student)"
        )
    if any((out_dir / name).exists() for name in ("config.json", "checkpoints", "meta.json")):
        raise ValueError(
            f"--out {out_dir} holds a training run or a data cache; choose a folder of its own "
            "for the student copies (default build/student)"
        )


def _read_sources(sources: list[Path]) -> dict[Path, nbformat.NotebookNode]:
    """Every student version, made before anything is written: one bad notebook in --source
    leaves --out untouched. A notebook without a single nbgrader cell is no exercise (a scratch
    copy could hold answers): it is skipped, and a note names it."""
    students, skipped = {}, []
    for path in sources:
        try:
            instructor = nbformat.read(path, as_version=4)
            if not any("nbgrader" in cell.metadata for cell in instructor.cells):
                skipped.append(path.name)
                continue
            students[path] = student_version(instructor)
        except (ValueError, OSError) as error:
            why = " ".join(str(error).split())[:120]
            raise ValueError(
                f"{path} is not a readable exercise notebook ({why}); fix it or move it out of "
                "--source"
            ) from None
        stubs = unanswered_cells(instructor)
        if stubs:  # its answers are stubs already: a build of it would lose their signatures
            raise ValueError(
                f"{path} is a student copy ({len(stubs)} cells hold '# YOUR CODE HERE'), not an "
                f"instructor notebook: --source takes the notebooks with the solutions (default "
                f"{SOURCE_DIR})"
            )
    if skipped:
        print(
            f"note: not built: {', '.join(skipped)}: no nbgrader cell, so not an exercise "
            "notebook; give it nbgrader cells to build it",
            file=sys.stderr,
        )
    return students


def _copy_data(source_dir: Path, out_dir: Path) -> None:
    """The folder's other files (data) beside the notebooks; a broken link is named. Notebooks
    in subfolders are not copied (one could hold a solution), and a note names them."""
    nested = sorted(
        str(p.relative_to(source_dir))
        for p in source_dir.glob("*/**/*.ipynb")
        if not set(p.relative_to(source_dir).parts) & set(IGNORED)
    )
    if nested:
        print(
            f"note: not copied: {', '.join(nested[:5])}: only notebooks at the top of --source "
            "are built (a notebook in a subfolder could hold a solution); move it up to build it",
            file=sys.stderr,
        )
    copied: dict[str, int] = {}  # a top-level file or folder -> how many files it holds
    for relative in _data_files(source_dir):
        top = relative.parts[0] + ("/" if len(relative.parts) > 1 else "")
        copied[top] = copied.get(top, 0) + 1
    if copied:
        listed = ", ".join(f"{n} ({k} files)" if n.endswith("/") else n for n, k in copied.items())
        print(
            f"note: copied beside the notebooks for the students: {listed}; remove from --source"
            " what they must not see",
            file=sys.stderr,
        )
    try:
        shutil.copytree(
            source_dir,
            out_dir,
            ignore=shutil.ignore_patterns(*IGNORED, "*.ipynb"),
            dirs_exist_ok=True,
        )
    except shutil.Error as error:
        first = error.args[0][0] if error.args and error.args[0] else ("?", "?", str(error))
        raise ValueError(
            f"{first[0]} cannot be copied ({first[2]}): a broken link or unreadable file in "
            "--source; fix it or remove it"
        ) from None


def _read_manifest(out_dir: Path) -> dict[str, str]:
    path = out_dir / MANIFEST
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return values if isinstance(values, dict) else {}


def build(
    out_dir: str | Path, source_dir: str | Path = SOURCE_DIR, force: bool = False
) -> list[Path]:
    """Write the student version of every ``*.ipynb`` in ``source_dir`` into ``out_dir``, and
    copy the folder's other files (data) beside them.

    A copy changed since it was written (``MANIFEST`` records what was written) is not
    overwritten unless ``force``: it may hold a student's answers. ``~`` is expanded as a shell
    would (from Python a literal ``~`` folder would appear in the working folder).
    """
    source_dir = Path(source_dir).expanduser()
    if not source_dir.is_dir():
        what = "is a file" if source_dir.exists() else "does not exist"
        raise FileNotFoundError(
            f"--source {source_dir} {what}: give the folder of the instructor notebooks "
            f"(by default {SOURCE_DIR})"
        )
    students = _read_sources(sorted(source_dir.glob("*.ipynb")))
    if not students:
        below = sorted({p.parent for p in source_dir.glob("*/*.ipynb")})
        hint = "pass --source DIR"
        if len(below) == 1:
            hint = f"they are one level down: pass --source {below[0]}"
        raise FileNotFoundError(f"no exercise notebooks in {source_dir}; {hint}")
    out_dir = Path(out_dir).expanduser()
    if nowhere := dangling_link(out_dir):
        raise ValueError(f"--out {out_dir} {nowhere}; remove the link or create its target")
    texts = {path: _notebook_text(student) for path, student in students.items()}
    _check_targets(out_dir, source_dir, texts, force)
    _copy_data(source_dir, out_dir)
    written = []
    for path, text in texts.items():
        target = out_dir / path.name
        atomic_write_text(target, text)  # a kill leaves the old copy or the new one, never half
        written.append(target)
    manifest = {p.name: _digest(p) for p in written}
    manifest |= {str(p): _digest(out_dir / p) for p in _data_files(source_dir)}
    atomic_write_text(out_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return written


@returns_status
def main(argv: Sequence[str] | None = None) -> int:
    """Build the student copies, or check hand-ins; every failure is one line on stderr (exit 2)."""
    parser = OneLineParser(prog="python -m g2d_lite.exercises", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="write student copies of the exercise notebooks")
    make.add_argument("--out", type=path_argument, default="build/student", help="output folder")
    make.add_argument(
        "--source",
        type=path_argument,
        default=str(SOURCE_DIR),
        help="instructor notebooks folder",
    )
    make.add_argument(
        "--force", action="store_true", help="overwrite copies changed since they were built"
    )
    handins = commands.add_parser(
        "handins", help="check a class's hand-ins before nbgrader collects and grades them"
    )
    handins.add_argument("--course", type=path_argument, default=".", help="the course folder")
    handins.add_argument("--assignment", default="g2d", help="the assignment's name")
    graded = commands.add_parser(
        "graded", help="check after nbgrader autograde that every hand-in has an up-to-date grade"
    )
    graded.add_argument("--course", type=path_argument, default=".", help="the course folder")
    graded.add_argument("--assignment", default="g2d", help="the assignment's name")
    args = parser.parse_args(argv)

    def body() -> int:
        if args.command == "handins":
            return _report_handins(args.course, args.assignment)
        if args.command == "graded":
            return _report_graded(args.course, args.assignment)
        for path in build(args.out, args.source, args.force):
            print(path)
        return 0

    return run_command(parser.prog, body, args.debug)


def _report_handins(course: str, assignment: str) -> int:
    """Print each problem and note of :func:`g2d_lite.handins.check_handins`; 1 if any problem."""
    report = check_handins(course, assignment)
    for line in report.problems:
        print(line)
    for line in report.notes:
        print(f"note: {line}")
    count = len(report.problems)
    ready = f"{count} {'problem' if count == 1 else 'problems'} to fix before `nbgrader zip_collect"
    ready = f"{ready} {assignment}`" if count else "every one can be collected and graded"
    print(f"{report.handins} hand-ins checked: {ready}")
    return 1 if report.problems else 0


def _report_graded(course: str, assignment: str) -> int:
    """Print each student of :func:`g2d_lite.autograded.check_autograded` who lacks an
    up-to-date grade; 1 if any does."""
    report = check_autograded(course, assignment)
    for line in report.problems:
        print(line)
    count = len(report.problems)
    verdict = f"{count} without an up-to-date grade" if count else "every one is graded"
    print(f"{report.handins} submissions checked: {verdict}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
