"""The parallel test run (scripts/test.sh, pytest-xdist) keeps the notebook chain in one worker:
the papermill runs and nbval on the numbered notebooks train into one shared model cache."""

import pytest

from conftest import in_notebook_chain


@pytest.mark.parametrize(
    ("scope", "chained"),
    [
        ("tests/test_notebooks.py", True),
        ("tests/test_notebooks.py::TestSomething", True),
        ("notebooks/01_teacher_training.ipynb", True),
        ("notebooks/04_ablations.ipynb", True),
        ("notebooks/exercises/ex04_diagnosis.ipynb", False),  # its own run folder, own kernel
        ("tests/test_classroom.py", False),
        ("tests/test_notebooks_params.py", False),  # its own models: beside the chain
        ("notebooks/README.md", False),
    ],
)
def test_the_notebook_chain_is_one_scope(scope, chained):
    assert in_notebook_chain(scope) is chained
