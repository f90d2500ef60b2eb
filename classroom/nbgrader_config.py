"""nbgrader configuration of the g2d-lite course; run every nbgrader command from this folder.

The assignment ``g2d`` is ``source/g2d/``, a link to ``notebooks/exercises/``: the instructor
notebooks are the one source of the course, of the self-study copies and of the CI test.
The grading sequence, step by step, is in docs/classroom.md.
"""

c = get_config()  # noqa: F821 (nbgrader defines get_config when it reads this file)

c.CourseDirectory.course_id = "g2d-lite"
# A check cell deleted by a student is put back before grading, with a note saying so.
c.OverwriteCells.add_missing_cells = True
# Each cell of an exercise runs in well under a second on a laptop, but the first imports
# torch, which took over 30 s on a loaded 2-core machine; nbgrader then drops the student's
# whole hand-in (graded 0, like a blank copy). 120 s leaves room for that and still stops an
# answer that never returns (an endless loop), at two minutes per cell that calls it.
c.Execute.timeout = 120
# Offline collection (nbgrader zip_collect): downloaded/g2d/archive/ holds one folder or one
# .zip per student, named by the student id, with the returned notebooks inside (at any depth).
c.FileNameCollectorPlugin.named_regexp = (
    r".*[/\\]extracted[/\\](?P<student_id>[^/\\]+)[/\\](?:.*[/\\])?(?P<file_id>ex\d\d_\w+)\.ipynb$"
)
