"""Where prepared dataset caches live, and the command that builds each one.

One rule for every dataset, so notebooks, scripts and tests agree without passing paths around:
``$G2D_LITE_DATA/<name>`` when the variable is set, else ``<repo>/data_cache/<name>`` (the
repository that holds this package, or the working directory for an installed wheel).
"""

from __future__ import annotations

import os
from pathlib import Path

from g2d_lite.data.base import MissingDatasetError

ENV_VAR = "G2D_LITE_DATA"

# The commands that build each cache (best first); a missing cache's error message quotes them.
PREPARE_COMMANDS: dict[str, tuple[str, ...]] = {
    "avmnist": (
        "python data_scripts/prepare_avmnist.py --download",
        "python data_scripts/prepare_avmnist.py --mnist-dir <MNIST folder> "
        "--fsdd-dir <FSDD recordings folder>",
    ),
    "cremad": (
        "python data_scripts/prepare_cremad.py --root <CREMA-D folder with AudioWAV/ and "
        "VideoFlash/> --split-dir <folder with the official train.csv and test.csv>",
    ),
    "ave": ("python data_scripts/prepare_clips.py --dataset ave --root <AVE_Dataset folder>",),
    "kinetics_sounds": (
        "python data_scripts/prepare_clips.py --dataset kinetics_sounds --root <folder of clips> "
        "--annotations <folder with my_train.txt and my_test.txt>",
    ),
    "vggsound": (
        "python data_scripts/prepare_clips.py --dataset vggsound --root <folder of clips> "
        "--annotations <folder with vggsound.csv>",
    ),
}


def _base_dir() -> Path:
    """The repository root when running from a checkout, else the working directory."""
    repo = Path(__file__).resolve().parents[2]
    return repo if (repo / "pyproject.toml").is_file() else Path.cwd()


def default_root(name: str) -> Path:
    """The default cache folder of dataset ``name``."""
    env = os.environ.get(ENV_VAR)
    base = Path(env) if env else _base_dir() / "data_cache"
    return base / name


def resolve_root(name: str, root: str | os.PathLike[str] | None) -> Path:
    """``root`` as a Path, or the default cache folder when it is ``None``."""
    return Path(root) if root is not None else default_root(name)


def missing_dataset(name: str, root: Path, what: str) -> MissingDatasetError:
    """The error a loader raises for an absent cache: it names the exact command to run."""
    out = "" if root == default_root(name) else f" --out {root}"
    commands = "\n    or: ".join(command + out for command in PREPARE_COMMANDS[name])
    return MissingDatasetError(
        f"{name}: no prepared cache at {root} ({what}). Build it first with:\n    {commands}\n"
        "(data_scripts/README.md says where to get the source data.)"
    )
