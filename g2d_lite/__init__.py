"""g2d-lite: a small, faithful, teachable implementation of G2D (Gradient-Guided Distillation).

Unimodal teachers are distilled into a multimodal student with feature and logit distillation,
while Sequential Modality Prioritization (SMP) lets the least confident modality lead.
"""

__version__ = "0.1.0"


def _check_working_folder() -> None:
    """A deleted current folder makes torch's import die with an unrelated oneMKL error; say
    what is wrong before anything imports it."""
    import os
    import sys

    try:
        os.getcwd()
    except FileNotFoundError:
        print(
            "g2d-lite: error: the current folder no longer exists (deleted or moved away); "
            "cd into an existing folder and run the command again",
            file=sys.stderr,
        )
        raise SystemExit(2) from None


_check_working_folder()
