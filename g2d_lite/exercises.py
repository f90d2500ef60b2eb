"""Student copies of the exercise notebooks: ``python -m g2d_lite.exercises build --out DIR``.

Instructor notebooks (``notebooks/exercises/``) use nbgrader's markers, so nbgrader can also
grade them. This ~nbgrader ``generate_assignment`` stand-in needs no database:

- code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes ``# YOUR CODE HERE`` and
  ``raise NotImplementedError`` (Markdown: ``YOUR ANSWER HERE``), at the marker's indentation;
- lines from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` are removed;
- outputs and execution counts are cleared.

Student copies raise on purpose, so they never go through papermill.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

from g2d_lite.errors import OneLineParser, run_command

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError")
MARKDOWN_STUB = ("YOUR ANSWER HERE",)
SOURCE_DIR = Path(__file__).resolve().parent.parent / "notebooks" / "exercises"


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


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of an instructor notebook with solutions stubbed, hidden tests gone, no outputs."""
    student = nbformat.from_dict(notebook)
    for index, cell in enumerate(student.cells):
        try:
            if cell.cell_type == "code":
                cell.source = replace_regions(cell.source, SOLUTION, CODE_STUB)
                cell.source = replace_regions(cell.source, HIDDEN_TESTS, ())
                cell.outputs = []
                cell.execution_count = None
            elif cell.cell_type == "markdown":
                cell.source = replace_regions(cell.source, SOLUTION, MARKDOWN_STUB)
        except ValueError as error:
            raise ValueError(f"cell {index}: {error}") from None
    return student


def build(out_dir: str | Path, source_dir: str | Path = SOURCE_DIR) -> list[Path]:
    """Write the student version of every ``*.ipynb`` in ``source_dir`` into ``out_dir``."""
    sources = sorted(Path(source_dir).glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no exercise notebooks in {source_dir}; pass --source DIR")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sources:
        try:
            student = student_version(nbformat.read(path, as_version=4))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        target = out_dir / path.name
        nbformat.write(student, target)
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Build the student copies; every failure is one line on stderr and exit status 2."""
    parser = OneLineParser(prog="python -m g2d_lite.exercises", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="write student copies of the exercise notebooks")
    make.add_argument("--out", default="build/student", help="output folder")
    make.add_argument("--source", default=str(SOURCE_DIR), help="instructor notebooks folder")
    args = parser.parse_args(argv)

    def body() -> None:
        for path in build(args.out, args.source):
            print(path)

    return run_command(parser.prog, body, args.debug)


if __name__ == "__main__":
    sys.exit(main())
