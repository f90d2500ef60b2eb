"""What the notebook tests share: the kernels' environment, reading a run's metrics.json, and
the words a recorded dataset's notebook must not contain."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from g2d_lite import run

KERNEL_ENV = {**run.RUN_ENV, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
CHANCE = 10.0  # the synthetic dataset's 10 balanced classes


def notebook_metrics(run_dir: Path) -> dict:
    """The metrics.json a notebook run wrote into ``run_dir``."""
    path = run_dir / "metrics.json"
    assert path.is_file(), f"{path} missing: the notebook did not reach save_metrics"
    return json.loads(path.read_text())


# Words that belong to the synthetic generator's story and must not reach a recorded dataset's
# notebook, plus every modality name the dataset does not have.
SYNTHETIC_ONLY = ("ripple", "glyph", "blank frame", "noise-only", "two dials")
MODALITY_NAMES = ("audio", "visual", "image", "text")  # "video": the paper's CREMA-D column


def rendered_text(notebook: Path) -> str:
    """What a reader sees: markdown cells and every text output, not the code."""
    nb = json.loads(notebook.read_text())
    parts = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for mime in ("text/markdown", "text/plain"):
                parts.append("".join(output.get("data", {}).get(mime, "")))
    return "\n".join(parts)


def assert_no_foreign_words(notebook: Path, modalities: tuple[str, ...]) -> None:
    text = rendered_text(notebook).lower()
    foreign = [w for w in SYNTHETIC_ONLY if w in text]
    foreign += [  # "\text{...}" in LaTeX is not the text modality
        m for m in MODALITY_NAMES if m not in modalities and re.search(rf"(?<!\\)\b{m}\b", text)
    ]
    assert not foreign, f"{notebook.name} talks about {foreign} on this dataset"


def feedback_for(notebook: Path, function: str, body: str, after: str = "") -> str:
    """The message of the first check an exercise notebook fails when the solution of
    ``function`` is replaced by ``body``, and ``after`` is added to its answer cell at the top
    level (its code cells run in order, in this process, from the notebook's folder); "" when
    every check passes."""
    import contextlib
    import textwrap

    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    namespace: dict = {}
    with contextlib.chdir(notebook.parent):
        for cell in cells:
            source = "".join(cell["source"])
            if source.startswith(f"def {function}("):
                head = source[: source.index("### BEGIN SOLUTION")].rstrip(" ")
                source = head + textwrap.indent(body, "    ") + "\n" + after
            try:
                exec(compile(source, str(notebook), "exec"), namespace)
            except AssertionError as error:
                return str(error)
    return ""


def rerun_check_failures(notebook: Path) -> list[str]:
    """Run every code cell of an exercise notebook in order (in this process, from its folder),
    then every check cell once more, as a student does after Run All; the messages of the
    checks that fail on the second run."""
    import contextlib

    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    checks = [c for c in cells if c["metadata"].get("nbgrader", {}).get("grade")]
    namespace: dict = {}
    failures = []
    with contextlib.chdir(notebook.parent):
        for cell in cells:
            exec(compile("".join(cell["source"]), str(notebook), "exec"), namespace)
        for cell in checks:
            try:
                exec(compile("".join(cell["source"]), str(notebook), "exec"), namespace)
            except AssertionError as error:
                failures.append(f"{cell['metadata']['nbgrader']['grade_id']}: {error}")
    return failures
