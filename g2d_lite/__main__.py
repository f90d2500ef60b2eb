"""``python -m g2d_lite``: see :mod:`g2d_lite.cli`."""

import sys

try:
    from g2d_lite.cli import main
except KeyboardInterrupt:  # ctrl-C while torch is still importing: no traceback either
    print("python -m g2d_lite: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
