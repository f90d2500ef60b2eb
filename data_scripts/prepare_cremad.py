"""Thin front-end: the logic is g2d_lite.data.prepare.cremad (run with --help for the options)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from g2d_lite.data.prepare.__main__ import main  # noqa: E402  (names a missing PyAV in one line)

if __name__ == "__main__":
    sys.exit(main(["cremad", *sys.argv[1:]]))
