"""Exercises: the instructor notebooks are well-formed nbgrader sources, and the self-study copies
(``python -m g2d_lite.exercises build``) hide the solutions, lock the cells and carry the data.

Running them is tested elsewhere: nbval runs the instructor notebooks, and tests/test_classroom.py
grades sample submissions with nbgrader (a blank copy fails every check, the solutions pass all)
and checks that the self-study copies are the notebooks nbgrader releases.
"""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys

import nbformat
import pytest

from g2d_lite.exercises import CODE_STUB, HIDDEN_TESTS, SOLUTION, build, replace_regions
from g2d_lite.run import EXERCISE_DIR, exercise_notebooks
from tests.notebook_checks import feedback_for, rerun_check_failures

INSTRUCTOR = exercise_notebooks()
IDS = [p.name for p in INSTRUCTOR]


def _role(cell):
    return cell.metadata.get("nbgrader", {})


def _marked_lines(source, markers):
    """Lines strictly inside the marked regions of ``source``."""
    begin, end = markers
    inside, lines = False, []
    for line in source.splitlines():
        if line.strip() in (begin, end):
            inside = line.strip() == begin
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    build(out)
    return out


def test_there_are_four_exercises():
    assert [p.name[:4] for p in INSTRUCTOR] == ["ex01", "ex02", "ex03", "ex04"]


@pytest.mark.parametrize("path", INSTRUCTOR, ids=IDS)
def test_every_cell_has_an_nbgrader_role(path):
    """Answers are editable solution cells; checks are locked, worth points, hold visible and
    hidden tests and run the answer through without_kit; every other cell is read-only."""
    nb = nbformat.read(path, as_version=4)
    ids = [_role(c).get("grade_id") for c in nb.cells]
    assert None not in ids and len(set(ids)) == len(ids), "every cell needs a unique grade_id"
    answers = [c for c in nb.cells if _role(c).get("solution")]
    checks = [c for c in nb.cells if _role(c).get("grade")]
    assert answers and len(answers) == len(checks), "one check cell per answer cell"
    for cell in answers:
        assert not _role(cell)["locked"] and SOLUTION[0] in cell.source
    for cell in checks:
        name = _role(cell)["grade_id"]
        assert _role(cell)["locked"] and _role(cell)["points"] > 0, name
        assert HIDDEN_TESTS[0] in cell.source, f"{name} has no hidden tests"
        visible = replace_regions(cell.source, HIDDEN_TESTS, ())
        assert "without_kit(" in visible, f"{name} does not guard against calling the kit"
    for cell in nb.cells:
        if cell not in answers and cell not in checks:
            assert _role(cell)["locked"], f"{_role(cell)['grade_id']} should be read-only"


@pytest.mark.parametrize("path", INSTRUCTOR, ids=IDS)
def test_student_copy_hides_solutions_and_hidden_tests(path, student_dir):
    instructor = nbformat.read(path, as_version=4)
    student = nbformat.read(student_dir / path.name, as_version=4)
    text = "\n".join(c.source for c in student.cells)
    for marker in (*SOLUTION, *HIDDEN_TESTS):
        assert marker not in text
    visible = "\n".join(
        replace_regions(replace_regions(c.source, SOLUTION, ()), HIDDEN_TESTS, ())
        for c in instructor.cells
    )
    for cell in instructor.cells:
        for line in _marked_lines(cell.source, SOLUTION) + _marked_lines(cell.source, HIDDEN_TESTS):
            if line not in visible:  # a line also shown elsewhere gives nothing away
                assert line not in text, f"student copy shows {line!r}"
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert code.count(CODE_STUB[1]) == sum(c.source.count(SOLUTION[0]) for c in instructor.cells)
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("path", INSTRUCTOR, ids=IDS)
def test_student_copy_locks_cells_as_nbgrader_does(path, student_dir):
    for cell in nbformat.read(student_dir / path.name, as_version=4).cells:
        assert cell.metadata["deletable"] is False
        assert cell.metadata.get("editable", True) is bool(_role(cell)["solution"])


def test_student_copies_carry_the_data_of_the_diagnosis_exercise(student_dir):
    data = sorted(p.relative_to(EXERCISE_DIR) for p in EXERCISE_DIR.rglob("*.csv"))
    assert data, "exercise 4 reads the tables of a run"
    for relative in data:
        assert (student_dir / relative).read_bytes() == (EXERCISE_DIR / relative).read_bytes()


def test_a_link_inside_out_is_refused_even_under_force(tmp_path):
    """Probe W77: a link at --out/ex04_run was reported as a changed copy, and --force wrote the
    kit's tables into the link's target."""
    victim = tmp_path / "victim"
    shutil.copytree(EXERCISE_DIR / "ex04_run", victim)
    (victim / "README.md").write_text("MY OWN README")
    before = {p: p.read_bytes() for p in victim.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    out.mkdir()
    (out / "ex04_run").symlink_to(victim)
    for force in (False, True):
        with pytest.raises(ValueError, match="ex04_run is a link to .*does not write through"):
            build(out, force=force)
    assert {p: p.read_bytes() for p in victim.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in out.iterdir()) == ["ex04_run"]


def test_build_skips_notebooks_without_nbgrader_cells_and_lists_loose_files(tmp_path, capsys):
    """Probe W76: a scratch notebook and a loose solutions.py went to the students unmentioned."""
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(INSTRUCTOR[0], source)
    scratch = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def logit_kd(): ...")])
    nbformat.write(scratch, source / "answers_scratch.ipynb")
    (source / "solutions.py").write_text("SECRET = 1\n")
    written = build(tmp_path / "out", source)
    assert [p.name for p in written] == [INSTRUCTOR[0].name]
    assert not (tmp_path / "out" / "answers_scratch.ipynb").exists()
    notes = capsys.readouterr().err
    assert "not built: answers_scratch.ipynb: no nbgrader cell" in notes
    assert "copied beside the notebooks for the students: solutions.py" in notes


ZERO = "return torch.tensor(0.0, requires_grad=True)"


@pytest.mark.parametrize(
    ("body", "after", "rebound"),
    [
        (ZERO, "expect_close = lambda *a, **k: None", "expect_close"),
        (ZERO, "without_kit = lambda f: f", "without_kit"),
        (ZERO, "kit_logit_kd = logit_kd", "kit_logit_kd"),
        (f"global expect_close\nexpect_close = lambda *a, **k: None\n{ZERO}", "", "expect_close"),
    ],
    ids=["expect_close", "without_kit", "kit_reference", "rebound_while_checked"],
)
def test_an_answer_that_rebinds_a_checker_is_refused(body, after, rebound):
    """Probe W70: an answer cell that rebound expect_close passed every check with constants."""
    feedback = feedback_for(INSTRUCTOR[0], "logit_kd", body, after)
    assert feedback.startswith(f"{rebound} was rebound in this notebook"), feedback
    assert "restart the kernel" in feedback


def test_replace_regions_keeps_indentation_and_rejects_unbalanced_markers():
    source = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
    assert replace_regions(source, SOLUTION, CODE_STUB) == (
        "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    )
    with pytest.raises(ValueError, match="never closed"):
        replace_regions("### BEGIN SOLUTION\nx = 1", SOLUTION, CODE_STUB)
    with pytest.raises(ValueError, match="without a matching"):
        replace_regions("x = 1\n### END SOLUTION", SOLUTION, CODE_STUB)


def test_a_solution_cell_with_mistyped_markers_ships_no_answer():
    """Probe R24: '## BEGIN SOLUTION' (two #) left the instructor's answer in the copy; like
    nbgrader, a solution cell without markers is all answer."""
    import nbformat

    from g2d_lite.exercises import CODE_STUB, student_version

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("## BEGIN SOLUTION\nanswer = 42\n## END SOLUTION")
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "a"}
    notebook.cells.append(cell)
    student = student_version(notebook)
    assert "42" not in student.cells[0].source
    assert student.cells[0].source == "\n".join(CODE_STUB)


def _recovery_answer(when: str, otherwise: str) -> str:
    """ex04's recovery answer with its gap test and its value for a gap too small changed."""
    return (
        'sign, least = (1.0, MIN_GAP) if metric == "acc" else (-1.0, 0.0)\n'
        "out = {}\n"
        "for m in teacher:\n"
        "    gap = sign * (teacher[m] - joint[m])\n"
        "    closed = sign * (student[m] - joint[m])\n"
        f"    out[m] = 100.0 * closed / gap if {when} else {otherwise}\n"
        "return out"
    )


@pytest.mark.parametrize(
    ("notebook", "function", "body", "feedback"),
    [
        (  # probe Q66: only the generic advice
            "ex01_distillation_losses",
            "logit_kd",
            "s = F.log_softmax(student_logits / temperature, dim=0)\n"
            "t = F.softmax(teacher_logits / temperature, dim=0)\n"
            "return F.kl_div(s, t, reduction='batchmean') * temperature**2",
            "the softmax runs over the batch (dim=0)",
        ),
        (  # probe Q65: the missing return was blamed on .item()
            "ex01_distillation_losses",
            "logit_kd",
            "s = F.log_softmax(student_logits / temperature, dim=1)\n"
            "F.kl_div(s, F.softmax(teacher_logits / temperature, dim=1), reduction='batchmean')",
            "got None, so the function returned nothing",
        ),
        (  # probe T64: a detached answer passed the visible check; torch raised in the hidden one
            "ex01_distillation_losses",
            "feature_kd",
            "return F.mse_loss(student_features, teacher_features).detach()",
            "feature_kd must let the gradient reach the student's features: do not detach them",
        ),
        (  # probe T64, computed in NumPy and wrapped in a tensor
            "ex01_distillation_losses",
            "feature_kd",
            "s, t = student_features.detach().numpy(), teacher_features.numpy()\n"
            "return torch.tensor(((s - t) ** 2).mean())",
            "compute in torch, not NumPy",
        ),
        (  # probe W71: the Huber loss equals the MSE where every error is below 1
            "ex01_distillation_losses",
            "feature_kd",
            "return 2 * F.smooth_l1_loss(student_features, teacher_features)",
            "this is the smooth L1 (Huber) loss, the squared error only where it is below 1",
        ),
        (  # probe Z65: a convolution's bias was called a BatchNorm parameter
            "ex02_smp",
            "mask_gradients",
            "for m, encoder in encoders.items():\n"
            "    for layer in encoder.modules():\n"
            "        if isinstance(layer, nn.Conv2d):\n"
            "            for p in layer.parameters():\n"
            "                p.grad.mul_(kappa[m])",
            "this Conv2d bias is 1-D, so its gradient stays as it was",
        ),
        (  # own probe: tensors passed the check, then broke the notebook's round()
            "ex03_ogm_ge",
            "branch_scores",
            "return {m: torch.softmax(x, 1).gather(1, target[:, None]).sum()"
            " for m, x in branch_logits.items()}",
            "return plain Python floats, one per key (tensor.item()), got tensors",
        ),
        (  # probe R60: "no common mistake"
            "ex02_smp",
            "teacher_confidence",
            "return {m: o.gather(1, target.view(-1, 1)).mean().item()"
            " for m, o in teacher_outputs.items()}",
            "ρ is a probability: apply the softmax to the logits",
        ),
        (  # probe R62: the cause restated the rule
            "ex02_smp",
            "mask_gradients",
            "return {m: [p.grad * kappa[m] for p in e.parameters()] for m, e in encoders.items()}",
            "the gradient was left as it was: change p.grad in place",
        ),
        (  # probe R68: a Series with the right labels was "one value for each of"
            "ex04_diagnosis",
            "leader_share",
            "import pandas as pd\nreturn pd.Series({'all': 0.0, 'audio': 0.0, 'visual': 100.0})",
            "return a dict (one value per key), got a Series: convert it with .to_dict()",
        ),
        (  # probe S67
            "ex01_distillation_losses",
            "logit_kd",
            "s = F.log_softmax(student_logits / temperature, dim=1)\n"
            "t = F.softmax(teacher_logits / temperature, dim=1)\n"
            "return F.kl_div(s, t, reduction='batchmean') * temperature",
            "the factor is T², not T",
        ),
        (  # probe S68
            "ex01_distillation_losses",
            "logit_kd",
            "s = F.log_softmax(student_logits / temperature, dim=1)\n"
            "t = F.softmax(teacher_logits / temperature, dim=1)\n"
            "return F.kl_div(s, t, reduction='sum') * temperature**2",
            "reduction='sum' also sums over the samples",
        ),
        (  # probe S72
            "ex02_smp",
            "teacher_confidence",
            "return {m: F.log_softmax(o, 1).gather(1, target.view(-1, 1)).mean().item()"
            " for m, o in teacher_outputs.items()}",
            "use softmax, not log_softmax",
        ),
        (  # probe S125
            "ex02_smp",
            "teacher_confidence",
            "return {m: 100 * F.softmax(o, 1).gather(1, target.view(-1, 1)).mean().item()"
            " for m, o in teacher_outputs.items()}",
            "not a percentage",
        ),
        (  # probe S77
            "ex03_ogm_ge",
            "branch_scores",
            "return {m: torch.softmax(x, 0).gather(1, target[:, None]).sum().item()"
            " for m, x in branch_logits.items()}",
            "the softmax runs over the batch (dim=0)",
        ),
        (  # probe V78: a wrong argument to tanh got only the case's description
            "ex03_ogm_ge",
            "ogm_coefficients",
            "kappa = {}\n"
            "for m, s in scores.items():\n"
            "    others = [v for n, v in scores.items() if n != m]\n"
            "    ratio = s / (sum(others) / len(others)) if others else 1.0\n"
            "    kappa[m] = 1.0 - math.tanh(alpha / ratio) if ratio > 1 else 1.0\n"
            "return kappa",
            "For audio: r = 3.17 / 1.446 (its score over the mean of the others') = 2.192, so"
            " κ = 1 − tanh(0.8 × 2.192) = 0.05819",
        ),
        (  # probe G07: a value without a gradient got full marks
            "ex01_distillation_losses",
            "logit_kd",
            "s = F.log_softmax(student_logits / temperature, dim=1)\n"
            "t = F.softmax(teacher_logits / temperature, dim=1)\n"
            "return torch.tensor(F.kl_div(s, t, reduction='batchmean').item() * temperature**2)",
            "logit_kd must let the gradient reach the student's logits",
        ),
        (  # probe G07, the whole loss under no_grad
            "ex01_distillation_losses",
            "g2d_total",
            "with torch.no_grad():\n"
            "    total = F.cross_entropy(fused_logits, target) if task == 'classification' else"
            " F.mse_loss(fused_logits, target.view_as(fused_logits))\n"
            "    for m, teacher in teacher_outputs.items():\n"
            "        total = total + feature_kd(student_features[m], teacher_features[m])\n"
            "        total = total + (logit_kd(fused_logits, teacher, temperature)"
            " if task == 'classification' else F.mse_loss(fused_logits, teacher))\n"
            "return total",
            "g2d_total must let the gradient reach the student's fused logits",
        ),
        (  # probe G08: the weights masked along with their gradients
            "ex02_smp",
            "mask_gradients",
            "for m, encoder in encoders.items():\n"
            "    for p in encoder.parameters():\n"
            "        if p.ndim == 4:\n"
            "            p.grad.mul_(kappa[m])\n"
            "            with torch.no_grad():\n"
            "                p.mul_(kappa[m])",
            "mask_gradients changed the weights of",
        ),
        (  # probe G09: True/False for 1.0/0.0
            "ex02_smp",
            "smp_mask",
            "lowest = min(rho.values())\n"
            "leaders = [m for m, r in rho.items() if r == lowest]\n"
            "return {m: len(leaders) > 1 or m == leaders[0] for m in rho}",
            "return numbers, got True/False",
        ),
        (  # probe AC02: ρ within 0.1 of the lowest was called a tie
            "ex02_smp",
            "smp_mask",
            "lowest = min(rho.values())\n"
            "leaders = [m for m, r in rho.items() if r - lowest < 0.1]\n"
            "if len(leaders) > 1:\n"
            "    return dict.fromkeys(rho, 1.0)\n"
            "return {m: float(m == leaders[0]) for m in rho}",
            "a tie is exact equality (r == lowest); close values still have one leader",
        ),
        (  # probe AC09: a gap of exactly MIN_GAP got NaN
            "ex04_diagnosis",
            "recovery",
            _recovery_answer(when="gap > least", otherwise="math.nan"),
            "a gap of exactly MIN_GAP (2 points) is not below it",
        ),
        (  # probe AF04: 0 for "no gap" was "no common mistake gives this value"
            "ex04_diagnosis",
            "recovery",
            _recovery_answer(when="gap > 0 and gap >= least", otherwise="0.0"),
            "gives math.nan, not 0: the recovery of no gap is undefined",
        ),
        (  # probe AC34: the notebook's TARGET read instead of the target argument
            "ex02_smp",
            "teacher_confidence",
            "return {m: F.softmax(o, 1).gather(1, TARGET.view(-1, 1)).mean().item()"
            " for m, o in teacher_outputs.items()}",
            "use the target you are given, not the notebook's TARGET",
        ),
        (  # probe AC34, in ex01's task term
            "ex01_distillation_losses",
            "g2d_total",
            "total = F.cross_entropy(fused_logits, TARGET) if task == 'classification' else"
            " F.mse_loss(fused_logits, target.view_as(fused_logits))\n"
            "for m, teacher in teacher_outputs.items():\n"
            "    total = total + feature_kd(student_features[m], teacher_features[m])\n"
            "    total = total + (logit_kd(fused_logits, teacher, temperature)"
            " if task == 'classification' else F.mse_loss(fused_logits, teacher))\n"
            "return total",
            "use the target you are given, not the notebook's TARGET",
        ),
        (  # probe AC17: a right formula computed in float16
            "ex01_distillation_losses",
            "feature_kd",
            "return F.mse_loss(student_features.half(), teacher_features.half())",
            "your result is a torch.float16 tensor, the inputs are torch.float32",
        ),
        (  # probe AC35: the hidden case's hint was dropped on wrong keys
            "ex04_diagnosis",
            "branch_scores",
            'row = history.loc[history["epoch"] == epoch].iloc[0]\n'
            'return {c.split("/")[2]: float(row[c]) for c in history.columns'
            ' if c.startswith(split + "/acc/")}',
            "got [].\nLikely cause: read the metric and the modalities from the column names",
        ),
        (  # probe AC36: the notebook's STEPS read instead of the steps argument
            "ex04_diagnosis",
            "leader_share",
            'columns = [c for c in STEPS.columns if c.startswith("kappa/")]\n'
            'names = [c.split("/", 1)[1] for c in columns]\n'
            "labels = []\n"
            "for _, row in STEPS[columns].iterrows():\n"
            "    full = [n for n, c in zip(names, columns) if row[c] >= 1.0]\n"
            '    labels.append("all" if len(full) == len(names) else "+".join(full))\n'
            "counts = pd.Series(labels).value_counts()\n"
            "return {label: 100.0 * n / len(STEPS) for label, n in counts.items()}",
            "you read the notebook's STEPS: use the steps table leader_share is given",
        ),
    ],
    ids=[
        "dim0",
        "no-return",
        "detached",
        "numpy",
        "huber",
        "conv-bias",
        "tensors",
        "no-softmax",
        "returned",
        "series",
        "T-not-T2",
        "sum",
        "log-softmax",
        "percent",
        "ex03-dim0",
        "tanh-argument",
        "logit-item",
        "total-no-grad",
        "mask-weights",
        "bool-kappa",
        "near-tie",
        "gap-at-min",
        "zero-not-nan",
        "global-target",
        "global-target-total",
        "float16",
        "keys-hint",
        "global-steps",
    ],
)
def test_common_wrong_answers_get_feedback_naming_the_mistake(notebook, function, body, feedback):
    message = feedback_for(EXERCISE_DIR / f"{notebook}.ipynb", function, body)
    assert feedback in message, message


def test_a_build_killed_before_its_manifest_finishes_when_rerun(tmp_path):
    """Probe M21: a build killed after writing the copies but before .built.json was refused
    on the rerun as "has changed since it was built (a student's answers or data?)"."""
    out = tmp_path / "student"
    written = build(out)
    manifest = out / ".built.json"
    manifest.unlink()
    copies = {p: p.read_bytes() for p in written}
    assert build(out) == written and manifest.is_file()
    assert {p: p.read_bytes() for p in written} == copies
    manifest.unlink()  # a student's edit in a copy without a manifest is still never overwritten
    written[0].write_bytes(copies[written[0]] + b" ")
    with pytest.raises(ValueError, match="has changed since it was built"):
        build(out)
    assert written[0].read_bytes().endswith(b" ")


def test_a_source_one_level_too_high_names_the_folder_below(tmp_path):
    """Probe M39: --source classroom/source (the notebooks are in source/g2d/) said "pass
    --source DIR", repeating what the user did."""
    inner = tmp_path / "source" / "g2d"
    shutil.copytree(EXERCISE_DIR, inner)
    with pytest.raises(FileNotFoundError, match=f"one level down: pass --source {inner}$"):
        build(tmp_path / "out", tmp_path / "source")


def test_a_rehearsal_with_an_exercise_it_has_no_samples_for_writes_nothing(tmp_path):
    """Probe M20: sample_submissions.py after a fifth exercise was added: KeyError
    'ex05_attention' and a half-written archive."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "samples", EXERCISE_DIR.parents[1] / "classroom" / "sample_submissions.py"
    )
    samples = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = samples  # dataclasses look their module up there
    spec.loader.exec_module(samples)
    for folder in ("release", "source"):
        (tmp_path / folder / "g2d").mkdir(parents=True)
        for name in ("ex01_distillation_losses", "ex05_attention"):
            (tmp_path / folder / "g2d" / f"{name}.ipynb").write_text("{}")
    assert samples.main(["--course", str(tmp_path)]) == 2
    assert not (tmp_path / "downloaded").exists()


def test_handins_that_would_stop_or_spoil_grading_are_named_before_nbgrader_runs(tmp_path, capsys):
    """Probe M11 (a damaged .zip stopped zip_collect for the whole class), M15 (the right answers
    in a fresh notebook: autograde KeyError, graded 0), M16 (a text file named like the
    notebook), M17 (..._v2.ipynb: "No notebooks found"), M18 (...-Copy1.ipynb or an empty
    folder: no row in grades.csv)."""
    import zipfile

    from g2d_lite import exercises

    course = tmp_path / "course"
    release = build(course / "release" / "g2d")
    archive = course / "downloaded" / "g2d" / "archive"
    ex01 = release[0]
    for student in ("good", "copy1", "v2", "text", "stripped", "twice"):
        shutil.copytree(course / "release" / "g2d", archive / student, ignore=_only_notebooks)
    (archive / "copy1" / ex01.name).rename(archive / "copy1" / f"{ex01.stem}-Copy1.ipynb")
    (archive / "v2" / ex01.name).rename(archive / "v2" / f"{ex01.stem}_v2.ipynb")
    (archive / "text" / ex01.name).write_text("this is not a notebook")
    stripped = nbformat.read(ex01, as_version=4)
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    nbformat.write(stripped, archive / "stripped" / ex01.name)
    (archive / "twice" / "old").mkdir()
    shutil.copy(ex01, archive / "twice" / "old" / ex01.name)
    (archive / "empty").mkdir()
    (archive / "truncated.zip").write_bytes(b"PK\x03\x04 cut off")
    with zipfile.ZipFile(archive / "zipped.zip", "w") as z:
        z.write(ex01, f"g2d/{ex01.name}")
    assert exercises.main(["handins", "--course", str(course)]) == 1
    out = capsys.readouterr().out.splitlines()
    problems = {line.split(":", 1)[0].rsplit("/", 1)[-1]: line for line in out[:-1]}
    assert "is named like no released notebook" in problems["copy1"]
    assert f"rename it to {ex01.stem}.ipynb" in problems["v2"]
    assert "is not a notebook (NotJSONError" in problems["text"]
    assert "lost the nbgrader metadata of answer cell" in problems["stripped"]
    assert "handed in 2 times" in problems["twice"]
    assert "holds no notebook" in problems["empty"]
    assert "does not open as a zip" in problems["truncated.zip"]
    assert not any(k in problems for k in ("good", "zipped.zip"))
    assert "note: zipped hands in no ex02_smp" in "\n".join(out)
    assert out[-1] == "9 hand-ins checked: 7 problems to fix before `nbgrader zip_collect g2d`"
    status = exercises.main(["handins", "--course", str(tmp_path / "nowhere")])
    assert status == 2 and "nowhere does not exist" in capsys.readouterr().err
    (tmp_path / "new").mkdir()  # a course not yet released: generate it
    (tmp_path / "new" / "nbgrader_config.py").write_text("c = get_config()\n")
    status = exercises.main(["handins", "--course", str(tmp_path / "new")])
    assert status == 2 and "run `nbgrader generate_assignment g2d`" in capsys.readouterr().err


def _only_notebooks(folder, names):
    return [n for n in names if not n.endswith(".ipynb")]


def test_a_check_cell_rerun_after_run_all_still_passes():
    """Probe 26 AC01: ex02's last cell takes an optimiser step, which imports torch._dynamo and
    rewraps torch.manual_seed; every check rerun after that was refused as "torch.manual_seed
    was replaced". A fresh process, as a kernel is: this one may have imported torch._dynamo."""
    # the helper's own source, since importing tests.notebook_checks imports torch._dynamo
    script = "\n".join(
        [
            "import json, sys",
            "from pathlib import Path",
            inspect.getsource(rerun_check_failures),
            "failures = [f for p in sys.argv[1:] for f in rerun_check_failures(Path(p))]",
            "print(json.dumps(failures))",
        ]
    )
    notebooks = [str(p) for p in exercise_notebooks()]
    done = subprocess.run(
        [sys.executable, "-c", script, *notebooks], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []
