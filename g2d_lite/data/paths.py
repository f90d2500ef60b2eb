"""Where prepared dataset caches live, and the command that builds each one.

One rule for every dataset, so notebooks, scripts and tests agree without passing paths around:
``$G2D_LITE_DATA/<name>`` when the variable is set, else ``<repo>/data_cache/<name>`` (the
repository that holds this package, or the working directory for an installed wheel).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from g2d_lite.data.base import MissingDatasetError
from g2d_lite.errors import KitError
from g2d_lite.locks import LOCK, holder

ENV_VAR = "G2D_LITE_DATA"

# The commands that build each cache (best first); a missing cache's error message quotes them.
# Module entry points work from any folder (data_scripts/prepare_*.py are thin wrappers).
PREPARE = "python -m g2d_lite.data.prepare"
SPLIT_DIR = " --split-dir <folder with the official train.csv and test.csv>"
LFS_POINTER = "is a Git LFS pointer, not the array"
PREPARE_COMMANDS: dict[str, tuple[str, ...]] = {
    "avmnist": (
        f"{PREPARE} avmnist --download",
        f"{PREPARE} avmnist --mnist-dir <MNIST folder> --fsdd-dir <FSDD recordings folder>",
    ),
    "cremad": (
        f"{PREPARE} cremad --root <CREMA-D folder with AudioWAV/ and VideoFlash/>{SPLIT_DIR}",
    ),
    "ave": (f"{PREPARE} clips --dataset ave --root <AVE_Dataset folder>",),
    "kinetics_sounds": (
        f"{PREPARE} clips --dataset kinetics_sounds --root <folder of clips> "
        "--annotations <folder with my_train.txt and my_test.txt>",
    ),
    "vggsound": (
        f"{PREPARE} clips --dataset vggsound --root <folder of clips> "
        "--annotations <folder with vggsound.csv>",
    ),
}


def _base_dir() -> Path:
    """The repository root when running from a checkout, else the working directory."""
    repo = Path(__file__).resolve().parents[2]
    return repo if (repo / "pyproject.toml").is_file() else Path.cwd()


def checkout_root(name: str) -> Path:
    """Where dataset ``name``'s cache goes when ``G2D_LITE_DATA`` is not set."""
    return _base_dir() / "data_cache" / name


def data_env() -> str | None:
    """``G2D_LITE_DATA`` with ``$VAR`` / ``${VAR}`` and a leading ``~`` expanded, as a shell
    would: .env files, ``docker --env-file`` and launch.json keep them literally, and a cache
    would otherwise go to a folder named ``$HOME`` in the working folder. A variable that is
    not set is refused rather than kept as a folder name."""
    env = os.environ.get(ENV_VAR)
    if not env:
        return env
    expanded = os.path.expanduser(os.path.expandvars(env))
    unset = re.search(r"\$\{?\w+\}?", expanded)
    if unset:
        raise MissingDatasetError(
            f"{ENV_VAR}={env} holds the variable {unset.group(0)}, which is not set here: "
            f"give {ENV_VAR} the path itself"
        )
    return expanded


def default_root(name: str) -> Path:
    """The default cache folder of dataset ``name``."""
    env = data_env()
    if env and Path(env).exists() and not Path(env).is_dir():
        raise MissingDatasetError(
            f"{ENV_VAR}={env} is a file; point it at the folder that holds the dataset caches, "
            "or unset it"
        )
    return Path(env) / name if env else checkout_root(name)


def resolve_root(name: str, root: str | os.PathLike[str] | None) -> Path:
    """``root`` as a Path, or the default cache folder when it is ``None``; a file is refused,
    and so is an empty string (an unset variable), which Path would read as the working folder."""
    if isinstance(root, str) and not root.strip():
        raise ValueError(
            f"{name}: root is an empty string; pass the cache folder, or None for the default "
            f"({default_root(name)})"
        )
    path = Path(root) if root is not None else default_root(name)
    if path.exists() and not path.is_dir():
        raise MissingDatasetError(
            f"{name}: {path} is a file, not a cache folder; give data_root (or --out) the folder "
            "the prepare command writes"
        )
    return path


def prepare_commands(
    name: str, root: Path, options: Sequence[str] = (), local_first: bool = False
) -> str:
    """The commands that (re)build cache ``name`` at ``root`` (with ``options``), as one phrase;
    ``local_first`` puts the build from local folders before ``--download`` (for a cache that
    was built so: offline, the download would fail)."""
    out = "" if root == default_root(name) else f" --out {root}"
    out += "".join(f" {word}" for word in options)
    commands = sorted(PREPARE_COMMANDS[name], key=lambda c: local_first and "--download" in c)
    return " (or: ".join(command + out for command in commands) + (")" if len(commands) > 1 else "")


# Files that mark a folder of a dataset's raw sources (what a build reads, not what it writes),
# with the build option that takes such a folder.
SOURCE_MARKS: dict[str, tuple[tuple[str, str], ...]] = {
    "avmnist": (("*-idx[13]-ubyte*", "--mnist-dir"), ("*.wav", "--fsdd-dir")),
    "cremad": (("AudioWAV", "--root"), ("VideoFlash", "--root"), ("*.flv", "--root")),
    "ave": (("*.mp4", "--root"),),
    "kinetics_sounds": (("*.mp4", "--root"),),
    "vggsound": (("*.mp4", "--root"),),
}


def cache_dataset(folder: Path) -> str | None:
    """The dataset a kit cache at ``folder`` was built for (from its meta.json), else None."""
    try:
        identity = json.loads((folder / "meta.json").read_text()).get("identity", {})
    except (OSError, ValueError, AttributeError):
        return None
    return identity.get("dataset") if isinstance(identity, dict) else None


def other_cache_hint(name: str, root: Path) -> str | None:
    """When ``root`` is another dataset's cache, or a folder inside this dataset's cache."""
    root = Path(root)
    other = cache_dataset(root)
    if other is not None and other != name:
        return (
            f"{name}: {root} holds a prepared {other} cache, not a {name} one; give data_root "
            f"a {name} cache (or set dataset={other}). The {name} build: "
            f"{prepare_commands(name, default_root(name))}"
        )
    if not (root / "meta.json").exists() and cache_dataset(root.parent) == name:
        return (
            f"{name}: {root} is a folder inside the {name} cache at {root.parent}; give "
            f"data_root={root.parent}"
        )
    return None


def folder_hint(name: str, root: Path) -> str | None:
    """What ``root`` is, when it is not a cache of ``name``: another dataset's cache, a folder
    inside one, a training run, or the raw sources (common slips with data_root)."""
    root = Path(root)
    if not root.is_dir():
        return _cache_above_hint(name, root)
    hint = other_cache_hint(name, root)
    if hint is not None:
        return hint
    inside = sorted(p.parent for p in root.glob("*/meta.json") if cache_dataset(p.parent) == name)
    if inside:  # the folder that holds the caches, given where a cache was meant
        return (
            f"{name}: {root} is no cache, but holds the {name} cache {inside[0]}: give that "
            "folder itself (data_root, or --data-root for evaluate)"
        )
    if (root / "config.json").is_file() or (root / "checkpoints").is_dir():
        return (
            f"{name}: {root} is a training run's folder (config.json, checkpoints), not a "
            f"dataset cache; give data_root the folder the build wrote. The build: "
            f"{prepare_commands(name, default_root(name))}"
        )
    return source_folder_hint(name, root)


def _cache_above_hint(name: str, root: Path) -> str | None:
    """When the absent ``root`` sits in a folder that is itself a cache: the folder was named
    where the folder that holds the caches was meant (``G2D_LITE_DATA=<cache>``)."""
    above = cache_dataset(root.parent)
    if above is None:
        return None
    env = data_env()
    if env and root == default_root(name):
        slip = f"{ENV_VAR}={env} names a prepared {above} cache itself"
        if root.parent.name == above:  # <parent>/<dataset>: the folder the loader looks for
            fix = f"set {ENV_VAR}={root.parent.parent} (the folder that holds the caches)"
        else:  # a cache folder of another name is found only by its own path
            fix = (
                f"give data_root={root.parent} (or name the folder {above} and set {ENV_VAR} "
                "to the folder above it)"
            )
    else:
        fix = f"give data_root the cache folder itself ({root.parent})"
        slip = f"{root.parent} is a prepared {above} cache itself"
    if above != name:
        fix += f", and dataset={above} or a {name} cache"
    return f"{name}: no cache at {root}: {slip}; {fix}"


def source_folder_hint(name: str, root: Path) -> str | None:
    """What to do when ``root`` holds a dataset's raw sources rather than a prepared cache (a
    common slip: data_root given the download folder)."""
    if not Path(root).is_dir() or (Path(root) / "meta.json").exists():
        return None
    for pattern, option in SOURCE_MARKS.get(name, ()):
        found = sorted(p.name for p in Path(root).glob(pattern))
        if found:
            return (
                f"{name}: {root} holds the raw sources ({found[0]}), not a prepared cache; give it "
                f"to the build ({option} {root}) and data_root the folder the build writes "
                f"(--out). The build: {prepare_commands(name, default_root(name))}"
            )
    return None


# What an audio + video cache build writes beside meta.json; frame_counts.npy only the kit's.
AV_CACHE_FILES = frozenset(
    {"audio.npy", "frames.npy", "frame_counts.npy", "index.csv", "labels.npy", "splits"}
)


def lost_meta(root: Path) -> bool:
    """Whether ``root`` holds an audio + video cache's files and nothing else, but no meta.json:
    a kit cache whose manifest was deleted, which its build may rebuild in place."""
    names = {p.name for p in root.iterdir()} - {LOCK} if root.is_dir() else set()
    return "frame_counts.npy" in names and names <= AV_CACHE_FILES


def missing_dataset(name: str, root: Path, what: str) -> MissingDatasetError:
    """The error a loader raises for an absent cache: it names the exact command to run."""
    if name in (*CLIP_DATASETS, "cremad") and lost_meta(Path(root)):
        return damaged_dataset(name, root, ["meta.json is missing, so its files cannot be checked"])
    hint = folder_hint(name, root)
    if hint is not None:
        return MissingDatasetError(hint)
    env = data_env()
    if env and not Path(env).is_absolute() and root == default_root(name):
        return MissingDatasetError(
            f"{name}: no prepared cache at {root.absolute()} ({what}): {ENV_VAR}={env} is "
            f"relative, so it is resolved from the working folder {Path.cwd()}; set {ENV_VAR} to "
            "an absolute path"
        )
    return MissingDatasetError(
        f"{name}: no prepared cache at {root} ({what}). Build it with: "
        f"{prepare_commands(name, root, interrupted_build_options(root))}; "
        "data_scripts/README.md says where to get the sources"
    )


def interrupted_build_options(root: Path) -> list[str]:
    """The options of the build interrupted at ``root`` (its .build/identity.json), as words:
    the command that resumes it must repeat them, or it is refused as other settings."""
    try:
        work = json.loads((Path(root) / ".build" / "identity.json").read_text())  # cache.WORK_DIR
        identity, shard_size = work["identity"], int(work["shard_size"])
        options = recorded_options(identity)
        name = identity["dataset"]
    except (OSError, ValueError, KeyError, TypeError, KitError):
        return []
    default = next(
        (a.default for a in _builder(name).parser()._actions if a.dest == "shard_size"),
        shard_size,
    )
    return options + (["--shard-size", str(shard_size)] if shard_size != default else [])


CLIP_DATASETS = ("ave", "kinetics_sounds", "vggsound")  # built by ``prepare clips``


def _builder(name: str) -> Any:
    """The prepare module that builds dataset ``name`` (one for all clip datasets)."""
    return import_module(f"g2d_lite.data.prepare.{'clips' if name in CLIP_DATASETS else name}")


def recorded_options(identity: Any) -> list[str]:
    """The build options a cache's recorded identity holds off their defaults, as command-line
    words: a repair must rebuild the same data, and nobody remembers the options a year on."""
    if not isinstance(identity, Mapping) or identity.get("dataset") not in PREPARE_COMMANDS:
        return []
    module = _builder(identity["dataset"])
    params = dict(identity.get("params") or {})
    params.update(params.pop("recipe", None) or {})  # clip recipes: --frame-size and the like
    if "mnist_train" in params:
        params["no_mnist_train"] = not params.pop("mnist_train")
    if "snr_db" in params and params["snr_db"] is None:  # JSON has no inf
        params["snr_db"] = float("inf")
    words: list[str] = []
    for action in module.parser()._actions:
        if action.dest not in params or not action.option_strings:
            continue
        value, default = params[action.dest], action.default
        if value == (list(default) if isinstance(default, tuple) else default):
            continue
        flag = action.option_strings[0]
        if isinstance(value, bool):
            words += [flag] if value else []
        elif isinstance(value, list) and action.nargs is None:  # a comma-separated list
            words += [flag, ",".join(map(str, value)) or "''"]
        else:
            values = value if isinstance(value, list) else [value]
            words += [flag, *(f"{v:g}" if isinstance(v, float) else str(v) for v in values)]
    return words


def recorded_labels_file(identity: Any) -> str | None:
    """The --labels CSV a clip cache was built from (its recorded annotation file, when that is
    not the dataset's own list), else None: the repair must name --labels, not --annotations."""
    if not isinstance(identity, Mapping) or identity.get("dataset") not in CLIP_DATASETS:
        return None
    sources = identity.get("sources")
    recorded = sources.get("annotations") if isinstance(sources, Mapping) else None
    if not isinstance(recorded, Mapping) or not recorded:
        return None
    own = import_module("g2d_lite.data.prepare.clips").FORMATS[identity["dataset"]].files
    return None if set(recorded) <= set(own) else str(next(iter(recorded)))


def with_labels_file(command: str, labels: str | None) -> str:
    """A clip build's command reading ``labels`` (--labels) in place of its annotation folder."""
    if labels is None:
        return command
    command = re.sub(r" --annotations <[^>]*>", "", command)
    option = f" --labels <path to {labels}>"
    return re.sub(r"--root <[^>]*>", lambda root: root.group(0) + option, command, count=1)


def damaged_dataset(
    name: str, root: Path, problems: list[str], meta: Mapping[str, Any] | None = None
) -> MissingDatasetError:
    """The error for a cache whose files do not match its meta.json: the build command that made
    it (from local folders or downloaded, as ``meta`` records), with the options its identity
    records, finds the damage itself and rebuilds. Files that are Git LFS pointers need
    `git lfs pull`, not a rebuild from the raw release."""
    meta = meta if isinstance(meta, Mapping) else {}
    identity = meta.get("identity")
    local_first = meta.get("downloaded_from") == {}
    more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
    if any(LFS_POINTER in p for p in problems):
        return MissingDatasetError(
            f"{name}: the cache at {root} holds Git LFS pointers, not its arrays ({problems[0]}"
            f"{more}): run `git lfs pull` in the repository that holds {root}"
        )
    sizes_right = all("does not match its SHA-256" in p for p in problems)
    plus = " plus --verify (the sizes are right, so only its checksums find the damage)"
    plus, verify = (plus, ["--verify"]) if sizes_right else ("", [])
    try:
        options = [*recorded_options(identity), *verify]
        commands = prepare_commands(name, root, options, local_first)
        commands = with_labels_file(commands, recorded_labels_file(identity))
    except KitError as missing:  # a video builder without PyAV: its options cannot be read
        recorded = f"{root}/meta.json"
        commands = prepare_commands(name, root, verify, local_first=local_first)
        commands = f"{commands}, with the options in {recorded} ({missing})"
    sources = identity.get("sources") if isinstance(identity, Mapping) else None
    if isinstance(sources, Mapping) and sources.get("split_csvs") == {}:  # built without them
        commands = commands.replace(SPLIT_DIR, "")
    return MissingDatasetError(
        f"{name}: the cache at {root} is damaged ({problems[0]}{more}); rebuild it by rerunning "
        f"the command that built it, with the same options{plus}: {commands}"
    )


def check_not_being_built(name: str, root: Path) -> None:
    """A cache another process is building now is neither missing nor damaged: name the builder
    and say to wait (rerunning its command would only be refused by its lock)."""
    builder = holder(root) if Path(root).is_dir() else None
    if builder is not None:
        raise MissingDatasetError(
            f"{name}: the cache at {root} is being built by {builder.describe()}; wait for that "
            "build to finish, then run this again"
        )
