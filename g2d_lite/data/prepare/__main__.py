"""``python -m g2d_lite.data.prepare <dataset> [options]``: build one dataset's cache."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import import_module

from g2d_lite.errors import KitError

BUILDERS = {
    "avmnist": "AV-MNIST-lite from MNIST and the Free Spoken Digit Dataset",
    "cremad": "CREMA-D from its official release",
    "clips": "AVE, Kinetics-Sounds or VGGSound from a folder of clips (--dataset NAME)",
}
PROG = "python -m g2d_lite.data.prepare"


def usage() -> str:
    lines = [f"usage: {PROG} <dataset> [options]   ({PROG} <dataset> --help for its options)"]
    lines += [f"  {name:<8} {what}" for name, what in BUILDERS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the builder named by the first argument."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    if args[0] not in BUILDERS:
        print(
            f"{PROG}: error: unknown dataset {args[0]!r}; valid: {', '.join(BUILDERS)}",
            file=sys.stderr,
        )
        return 2
    try:
        builder = import_module(f"g2d_lite.data.prepare.{args[0]}")
    except KitError as missing:  # a video builder without PyAV
        print(f"{PROG}: error: {missing}", file=sys.stderr)
        return 2
    return builder.main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
