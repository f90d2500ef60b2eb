"""nbgrader configuration of the g2d-lite course; run every nbgrader command from this folder.

The assignment ``g2d`` is ``source/g2d/``, a link to ``notebooks/exercises/``: the instructor
notebooks are the one source of the course, of the self-study copies and of the CI test.
The grading sequence, step by step, is in docs/classroom.md.
"""

c = get_config()  # noqa: F821 (nbgrader defines get_config when it reads this file)

c.CourseDirectory.course_id = "g2d-lite"
# A check cell deleted by a student is put back before grading, with a note saying so.
c.OverwriteCells.add_missing_cells = True
# Each cell of an exercise runs in well under a second on a laptop (the first, which imports
# torch, in a few): this stops an answer that never returns (an endless loop) after 30 s per
# cell that calls it, where 120 s cost minutes per hand-in.
c.Execute.timeout = 30
# Offline collection (nbgrader zip_collect): downloaded/g2d/archive/ holds one folder or one
# .zip per student, named by the student id, with the returned notebooks inside (at any depth).
c.FileNameCollectorPlugin.named_regexp = (
    r".*[/\\]extracted[/\\](?P<student_id>[^/\\]+)[/\\](?:.*[/\\])?(?P<file_id>ex\d\d_\w+)\.ipynb$"
)
