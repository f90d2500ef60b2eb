"""``python -m g2d_lite``: see :mod:`g2d_lite.cli`."""

import sys

from g2d_lite.cli import main

sys.exit(main())
