"""Five sample students, to rehearse the grading sequence (docs/classroom.md) and for its test.

Each sample hands in all four exercises, built from the released notebooks and the instructor's
solutions: ``correct`` (the solutions), ``blank`` (the release untouched), ``mistake1`` and
``mistake2`` (one common mistake per exercise) and ``kit`` (answers that call g2d_lite instead
of computing). They are written where ``nbgrader zip_collect`` looks, in both forms it takes:
``downloaded/g2d/archive/<student>.zip`` or a folder ``downloaded/g2d/archive/<student>/``.

    python sample_submissions.py     # in the course folder, after nbgrader generate_assignment
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from g2d_lite.exercises import SOLUTION, replace_regions

ASSIGNMENT = "g2d"
STUDENTS = ("correct", "blank", "mistake1", "mistake2", "kit")
ZIPPED = ("correct", "mistake1", "kit")  # the others hand in a folder


@dataclass(frozen=True)
class Answer:
    """One answer cell: the instructor's solution with ``old`` replaced by ``new``, or the
    whole solution region replaced by ``new`` when ``old`` is None."""

    cell: str
    new: str
    old: str | None = None

    def apply(self, solution: str) -> str:
        if self.old is None:
            return replace_regions(solution, SOLUTION, self.new.splitlines())
        if self.old not in solution:
            raise ValueError(f"{self.cell}: {self.old!r} is not in the instructor's solution")
        return solution.replace(self.old, self.new)


@dataclass(frozen=True)
class Sample:
    """A sample's answers to one exercise, the checks they fail and a phrase the feedback on
    the first failing check must contain."""

    answers: tuple[Answer, ...]
    fails: tuple[str, ...]
    feedback: str


KIT = "calls the kit's own"
SAMPLES: dict[str, dict[str, Sample]] = {
    "ex01_distillation_losses": {
        "mistake1": Sample(
            (Answer("logit_kd", old=" * temperature**2", new=""),),
            ("check_logit_kd",),
            "the T² factor is missing",
        ),
        "mistake2": Sample(
            (
                Answer(
                    "g2d_total",
                    old="logit_kd(fused_logits, teacher, temperature)",
                    new="logit_kd(branch_logits[m], teacher, temperature)",
                ),
            ),
            ("check_g2d_total",),
            "the logit term uses the branch logits",
        ),
        "kit": Sample(
            (
                Answer(
                    "logit_kd", "return kit_logit_kd(student_logits, teacher_logits, temperature)"
                ),
                Answer(
                    "feature_kd",
                    "from g2d_lite import losses\n"
                    'return losses._feature_kd(student_features, teacher_features, "m")',
                ),
                Answer(
                    "g2d_total",
                    "return g2d_loss(fused_logits, student_features, teacher_outputs,"
                    " teacher_features, target, temperature=temperature, task=task)[0]",
                ),
            ),
            ("check_logit_kd", "check_feature_kd", "check_g2d_total"),
            KIT,
        ),
    },
    "ex02_smp": {
        "mistake1": Sample(
            (
                Answer(
                    "mask_gradients",
                    old="p.ndim == 4 and p.grad is not None",
                    new="p.grad is not None",
                ),
            ),
            ("check_mask_gradients",),
            # which 1-D parameter is named first depends on the CPU's rounding: the first conv bias
            # feeds a BatchNorm, so its gradient is rounding noise near the tolerance
            "only the 4-D convolution kernels are masked",
        ),
        "mistake2": Sample(
            (
                Answer(
                    "smp_mask",
                    "values = sorted(rho.values())\n"
                    "if values[0] == values[-1]:  # a tie\n"
                    "    return dict.fromkeys(rho, 1.0)\n"
                    "leader = min(rho, key=rho.get)\n"
                    "return {m: float(m == leader) for m in rho}",
                ),
            ),
            ("check_smp_mask",),
            "compare each ρ with the minimum",
        ),
        "kit": Sample(
            (
                Answer(
                    "teacher_confidence",
                    "return smp.teacher_confidence(teacher_outputs, target, task)",
                ),
                Answer(
                    "smp_mask",
                    "return smp.SMP(start_epoch=0, end_epoch=0).coefficients(rho, epoch=0)",
                ),
                Answer(
                    "mask_gradients", "smp.SMP(start_epoch=0, end_epoch=0).apply(encoders, kappa)"
                ),
            ),
            ("check_teacher_confidence", "check_smp_mask", "check_mask_gradients"),
            KIT,
        ),
    },
    "ex03_ogm_ge": {
        "mistake1": Sample(
            (
                Answer(
                    "ogm_coefficients",
                    old="s / (sum(others) / len(others))",
                    new="s / sum(others)",
                ),
            ),
            ("check_ogm_coefficients",),
            "compared with the *mean* score of the others",
        ),
        "mistake2": Sample(
            (
                Answer(
                    "ogm_ge",
                    old="std = p.grad.std() + 1e-8",
                    new="p.grad.mul_(k)\n                std = p.grad.std() + 1e-8",
                ),
                Answer(
                    "ogm_ge", old="p.grad.mul_(k).add_(std * noise)", new="p.grad.add_(std * noise)"
                ),
            ),
            ("check_ogm_ge",),
            "the std of the gradient *before* scaling",
        ),
        "kit": Sample(
            (
                Answer(
                    "branch_scores",
                    "sums, _ = smp.teacher_confidence_sums(branch_logits, target)\n"
                    "return {m: s.item() for m, s in sums.items()}",
                ),
                Answer("ogm_coefficients", "return kit_ogm(scores, alpha)"),
                Answer(
                    "ogm_ge",
                    "balancer = smp.OGM(start_epoch=0, end_epoch=0, gradient_noise=True)\n"
                    "balancer.apply(encoders, kappa, epoch=0, generator=generator)",
                ),
            ),
            ("check_branch_scores", "check_ogm_coefficients", "check_ogm_ge"),
            KIT,
        ),
    },
    "ex04_diagnosis": {
        "mistake1": Sample(
            (
                Answer(
                    "imbalance_gaps",
                    old='sign = 1.0 if metric == "acc" else -1.0',
                    new="sign = 1.0",
                ),
            ),
            ("check_imbalance_gaps",),
            "for the MAE lower is better",
        ),
        "mistake2": Sample(
            (
                Answer(
                    "leader_share",
                    'columns = [c for c in steps.columns if c.startswith("kappa/")]\n'
                    "return {\n"
                    '    c.split("/", 1)[1]: 100.0 * (steps[c] >= 1.0).mean() for c in columns\n'
                    "}",
                ),
            ),
            ("check_leader_share",),
            "labelled 'all' once",
        ),
        "kit": Sample(
            (
                Answer(
                    "branch_scores",
                    "from g2d_lite.train import TrainResult\n"
                    "run = TrainResult(None, history, None, {}, None)\n"
                    "curves = diagnose.learning_curves({'run': run}, split=split)\n"
                    "rows = curves[(curves.epoch == epoch) & (curves.output != 'fused')]\n"
                    "return dict(zip(rows.output, rows.score.astype(float)))",
                ),
                Answer(
                    "imbalance_gaps",
                    "table = diagnose.gap_table(teacher, joint, metric=metric)\n"
                    'return table.set_index("modality")["gap"].to_dict()',
                ),
                Answer(
                    "recovery",
                    "table = diagnose.gap_table(teacher, joint, student, metric=metric)\n"
                    'return table.set_index("modality")["recovery"].to_dict()',
                ),
                Answer(
                    "leader_share",
                    'return diagnose.leader_share(steps).set_index("leader")["share"].to_dict()',
                ),
            ),
            ("check_branch_scores", "check_imbalance_gaps", "check_recovery", "check_leader_share"),
            KIT,
        ),
    },
}


def _role(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def points(source: nbformat.NotebookNode) -> dict[str, float]:
    """Points of each check cell of an instructor notebook, by grade id."""
    return {
        _role(c)["grade_id"]: float(_role(c)["points"])
        for c in source.cells
        if _role(c).get("grade")
    }


def failing_checks(source: nbformat.NotebookNode, notebook: str, student: str) -> set[str]:
    """The check cells (grade ids) that ``student``'s copy of ``notebook`` should fail."""
    if student == "blank":
        return set(points(source))
    sample = SAMPLES[notebook].get(student)
    return set(sample.fails) if sample else set()


def expected_score(source: nbformat.NotebookNode, notebook: str, student: str) -> float:
    """The score nbgrader should give ``student``'s copy of ``notebook``."""
    failed = failing_checks(source, notebook, student)
    return sum(p for grade_id, p in points(source).items() if grade_id not in failed)


def submission(
    release: nbformat.NotebookNode, source: nbformat.NotebookNode, notebook: str, student: str
) -> nbformat.NotebookNode:
    """``student``'s copy of a released notebook: every answer cell filled in as the sample
    answers (the instructor's solution unless the sample changes it)."""
    if student == "blank":
        return release
    solutions = {_role(c)["grade_id"]: c.source for c in source.cells if _role(c).get("solution")}
    sample = SAMPLES[notebook].get(student)
    for answer in sample.answers if sample else ():
        solutions[answer.cell] = answer.apply(solutions[answer.cell])
    copy = nbformat.from_dict(release)
    for cell in copy.cells:
        if _role(cell).get("solution"):
            lines = solutions[_role(cell)["grade_id"]].splitlines()
            cell.source = "\n".join(line for line in lines if line.strip() not in SOLUTION)
    return copy


def write_samples(course: Path) -> list[Path]:
    """Write the five samples into ``course/downloaded/g2d/archive/``; returns what it wrote."""
    release_dir, source_dir = course / "release" / ASSIGNMENT, course / "source" / ASSIGNMENT
    notebooks = sorted(p.stem for p in release_dir.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(
            f"no released notebooks in {release_dir}: run `nbgrader generate_assignment "
            f"{ASSIGNMENT}` in the course folder first"
        )
    unknown = [name for name in notebooks if name not in SAMPLES]
    if unknown:  # refused before anything is written: a half-written archive grades wrong
        raise ValueError(
            f"no sample answers for {', '.join(unknown)}: add them to SAMPLES in "
            f"{Path(__file__).name}, or move {unknown[0]}.ipynb out of {release_dir} for the "
            "rehearsal"
        )
    archive = course / "downloaded" / ASSIGNMENT / "archive"
    written = []
    for student in STUDENTS:
        folder = archive / student
        folder.mkdir(parents=True, exist_ok=True)
        for name in notebooks:
            release = nbformat.read(release_dir / f"{name}.ipynb", as_version=4)
            source = nbformat.read(source_dir / f"{name}.ipynb", as_version=4)
            nbformat.write(submission(release, source, name, student), folder / f"{name}.ipynb")
        if student in ZIPPED:
            shutil.make_archive(str(folder), "zip", folder)
            shutil.rmtree(folder)
            written.append(folder.parent / f"{student}.zip")
        else:
            written.append(folder)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", default=".", help="the course folder (default: here)")
    args = parser.parse_args(argv)
    try:
        for path in write_samples(Path(args.course)):
            print(path)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
