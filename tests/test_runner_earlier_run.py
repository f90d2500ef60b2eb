"""The notebook runner and what it finds in ``--out``: its own earlier run with the same
parameters is rerun, a finished one with other parameters or a notebook it did not write as it
is (a student's copy, answers added after the run) is refused unless ``--replace`` (probe 30
BA17, BA20: both were overwritten, the first with a note after the fact)."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from g2d_lite import run as runner
from g2d_lite.earlier_run import changed_parameters
from g2d_lite.errors import KitError
from tests.bad_inputs import tree_bytes
from tests.helpers import write_notebook


@pytest.fixture
def notebook(tmp_path):
    """A notebook that writes its SEED into OUTPUT_DIR (or fails when asked), in a second."""
    body = (
        "import pathlib\n"
        'if pathlib.Path(OUTPUT_DIR, "fail").exists():\n'
        '    raise ValueError("asked to fail")\n'
        'pathlib.Path(OUTPUT_DIR, "seed.txt").write_text(str(SEED))'
    )
    return write_notebook(
        tmp_path / "01_seed.ipynb", 'OUTPUT_DIR = "."\nSEED = 0', body, markdown="# a run"
    )


def test_a_finished_run_with_other_parameters_is_kept_unless_replace(notebook, tmp_path, capsys):
    out = tmp_path / "out"
    runner.run_notebook(notebook, {}, out)
    runner.run_notebook(notebook, {"SEED": 0}, out)  # the default given: the same run
    assert "note:" not in capsys.readouterr().err
    before = tree_bytes(out)
    with pytest.raises(KitError, match=r"holds a finished run of 01_seed.ipynb with other pa"):
        runner.run_notebook(notebook, {"SEED": 1}, out)
    assert tree_bytes(out) == before
    runner.run_notebook(notebook, {"SEED": 1}, out, replace=True)
    assert "(SEED 0 -> 1), is replaced (--replace)" in capsys.readouterr().err
    assert (out / "seed.txt").read_text() == "1"


def test_a_notebook_edited_after_its_run_or_not_the_runners_is_kept(notebook, tmp_path):
    out = tmp_path / "out"
    runner.run_notebook(notebook, {}, out)
    executed = nbformat.read(out / notebook.name, as_version=4)
    executed.cells.append(nbformat.v4.new_markdown_cell("My answers: the audio branch"))
    nbformat.write(executed, out / notebook.name)
    before = tree_bytes(out)
    with pytest.raises(KitError, match=r"edited after its run \(cell 4 is not what the run"):
        runner.run_notebook(notebook, {}, out)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / notebook.name).write_bytes(notebook.read_bytes())  # a copy to work in
    with pytest.raises(KitError, match="which the runner did not write .*--replace"):
        runner.run_notebook(notebook, {}, mine)
    assert (
        tree_bytes(out) == before and (mine / notebook.name).read_bytes() == notebook.read_bytes()
    )
    runner.run_notebook(notebook, {}, out, replace=True)
    assert "My answers" not in (out / notebook.name).read_text()


def test_a_failed_earlier_run_is_replaced_with_a_note(notebook, tmp_path, capsys):
    out = tmp_path / "out"
    runner.run_notebook(notebook, {}, out)
    executed = json.loads((out / notebook.name).read_text())
    executed["metadata"]["papermill"]["exception"] = True  # as papermill records a failed cell
    (out / notebook.name).write_text(json.dumps(executed))
    runner.run_notebook(notebook, {"SEED": 2}, out)
    assert "unfinished earlier run of 01_seed.ipynb" in capsys.readouterr().err
    assert (out / "seed.txt").read_text() == "2"


def test_parameters_left_at_their_default_compare_as_the_default():
    """BA17 also: a first run that left SEED at its default was reported as "SEED None"."""
    declared = {"SEED": {"default": "0"}, "PROFILE": {"default": "'smoke'"}}
    assert changed_parameters({}, {"SEED": 1}, declared) == ["SEED 0 -> 1"]
    assert changed_parameters({"PROFILE": "smoke"}, {}, declared) == []
    assert changed_parameters({"OUTPUT_DIR": "a"}, {"OUTPUT_DIR": "b"}, declared) == []


def test_a_notebook_that_failed_is_rerun_in_place(notebook, tmp_path):
    """Probe 31 CA23: after a failed run, the same command was refused as "edited after its
    run": papermill's own banner above the failed cell read as a cell someone added."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "fail").write_text("")
    with pytest.raises(runner.NotebookFailedError, match="asked to fail"):
        runner.run_notebook(notebook, {}, out)
    assert "papermill-error-cell-tag" in (out / notebook.name).read_text()
    (out / "fail").unlink()
    runner.run_notebook(notebook, {}, out)
    assert (out / "seed.txt").read_text() == "0"


def test_the_files_listed_after_a_run_are_the_runs_own(notebook, tmp_path, capsys):
    """Probe 33 EA28: a figure someone left in a run's folder was listed, after a rerun, among
    that run's "executed notebooks and figures"."""
    out = tmp_path / "out"
    runner.run_notebook(notebook, {}, out)
    (out / "my_plot.png").write_bytes(b"png")
    old = (out / "my_plot.png").stat().st_mtime - 3600
    os.utime(out / "my_plot.png", (old, old))
    runner.run_notebook(notebook, {}, out)
    capsys.readouterr()
    runner.print_outputs([out])
    listed = capsys.readouterr().out
    assert f"{out}: 01_seed.ipynb (also there, not written by this run: my_plot.png)" in listed
