"""Papermill runner for the numbered notebooks: ``python -m g2d_lite.run TARGET [options]``.

    python -m g2d_lite.run 01                            # one notebook -> runs/01/
    python -m g2d_lite.run 03 --profile classroom -p SEED 1 --out runs/g2d-seed1
    python -m g2d_lite.run 03 -f params/paper.yaml       # GPU: the official CREMA-D recipe
    python -m g2d_lite.run 04 --grid SEED=0,1,2          # one run per grid point, then mean ± std
    python -m g2d_lite.run 04 -f params/ablation_ci.yaml # a grid from a file (lists are axes)
    python -m g2d_lite.run demo                          # 01 -> 04 on synthetic data, smoke
    python -m g2d_lite.run all -f params/classroom.yaml  # 01 -> 04 with any parameters
    python -m g2d_lite.run refresh                       # re-execute the committed notebooks

Parameters come from ``--profile NAME`` (``params/NAME.yaml``), then ``-f`` files, then ``-p``,
later ones winning. Names are checked against each notebook's ``parameters`` cell before
anything runs (papermill itself only warns about a typo). In a params file a *list* value is a
grid axis. Notebooks run with ``notebooks/`` as working directory, kernel ``python3`` and
progress bars off; each writes its ``metrics.json`` and figures into its run folder.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import papermill as pm
import yaml
from jupyter_client.manager import AsyncKernelManager

from g2d_lite import rundir, slots
from g2d_lite.config import METHODS, PROFILES, resolve
from g2d_lite.data.paths import missing_dataset, resolve_root
from g2d_lite.data.synthetic import DEFAULT_MODALITIES, apply_knobs
from g2d_lite.devices import DeviceError, resolve_device
from g2d_lite.earlier_run import check_earlier_run
from g2d_lite.errors import (
    KitError,
    OneLineParser,
    control_character,
    dangling_link,
    returns_status,
    run_command,
)
from g2d_lite.exercises import unanswered_cells
from g2d_lite.locks import locked
from g2d_lite.models import FUSIONS
from g2d_lite.parallel import usable_cores, wanted_jobs
from g2d_lite.results import load_rows, summarise

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
EXERCISE_DIR = NOTEBOOK_DIR / "exercises"
PARAMS_DIR = REPO_ROOT / "params"
RUNS_DIR = REPO_ROOT / "runs"
KERNEL = "python3"
CELL_TIMEOUT = 3600  # seconds: a stuck kernel fails a run instead of hanging it (and CI)
NORMALISE_ARGS: tuple[str, ...] = (
    "--keep-output",
    "--keep-count",
    "--extra-keys",
    "metadata.papermill cell.metadata.papermill cell.metadata.execution metadata.widgets",
)
# Headless runs: no progress bars (they freeze as 0 % widgets). Refresh runs on CPU with one
# thread: results then do not depend on the core count, and shared cores are not oversubscribed.
RUN_ENV: dict[str, str] = {"G2D_LITE_PROGRESS": "0"}
REFRESH_ENV: dict[str, str] = {
    **RUN_ENV,
    "CUDA_VISIBLE_DEVICES": "",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

Params = dict[str, Any]


# Notebook parameters that the notebooks' setup() passes on to the config: checked against the
# config's field types before any notebook starts.
CONFIG_PARAMETERS: dict[str, str] = {
    "PROFILE": "profile",
    "DATASET": "dataset",
    "SEED": "seed",
    "DEVICE": "device",
    "EPOCHS": "epochs",
    "TEACHER_SELECTION": "teacher_selection",
}
_TYPES: dict[str, type] = {"int": int, "bool": bool, "str": str, "dict": dict, "float": float}
# Text parameters that name kit things, as comma-separated lists: checked before running.
LISTED_CHOICES: dict[str, tuple[str, ...]] = {
    "METHODS": tuple(METHODS),
    "FUSIONS": FUSIONS,
    "SPLIT": ("test", "validation"),
    "PEERS": tuple(METHODS),
}


Rule = Callable[[Any], "str | None"]  # None when the value is fine, else what it should be


def _number_at_least(
    low: float, strict: bool = False, none_ok: bool = False, whole: bool = False
) -> Rule:
    """``whole``: a count (of epochs, samples), which the config takes as an int only."""
    kinds = int if whole else int | float

    def check(v: Any) -> str | None:
        if v is None and none_ok:
            return None
        ok = isinstance(v, kinds) and not isinstance(v, bool) and math.isfinite(v)
        if ok and (v > low if strict else v >= low):
            return None
        bound = f"above {low:g}" if strict else f"at least {low:g}"
        return f"{'an integer' if whole else 'a number'} {bound}{', or None' if none_ok else ''}"

    return check


def _comma_numbers(kind: type, low: float, high: float | None, what: str) -> Rule:
    def check(v: Any) -> str | None:
        try:
            numbers = [kind(x) for x in str(v).split(",") if x.strip()]
        except ValueError:
            return what
        if any(x < low or (high is not None and x > high) for x in numbers):
            return what
        return None

    return check


def _synthetic_knobs(v: Any) -> str | None:
    try:
        apply_knobs(DEFAULT_MODALITIES, dict(v))
    except (TypeError, ValueError) as error:
        return f"synthetic knobs as {{name: value}} ({error})"
    return None


# Values only a notebook reads: wrong, they fail in a late cell, so they are refused here.
VALUE_RULES: dict[str, Rule] = {
    "CROSSOVER_DATA": _synthetic_knobs,
    "N_SAMPLES": _number_at_least(1, whole=True),
    "QUICK_TRAIN_EPOCHS": _number_at_least(1, whole=True),
    "PEER_EPOCHS": _number_at_least(1, none_ok=True, whole=True),
    "TEMPERATURE": _number_at_least(0, strict=True),
    "ALPHA": _number_at_least(0),
    "SEEDS": _comma_numbers(int, 0, None, 'a comma list of seeds >= 0, e.g. "0,1,2"'),
    "WINDOWS": _comma_numbers(
        float, 1e-9, 1.0, 'a comma list of fractions of training in (0, 1], e.g. "0.25,0.5"'
    ),
}


class RunError(KitError, RuntimeError):
    """A run could not start or a notebook failed; the message says what to do."""


class NotebookFailedError(RunError):
    """A cell raised; the executed notebook holds the traceback."""

    exit_code = 1


# ------------------------------------------------------------------------------ notebooks
def numbered_notebooks() -> list[Path]:
    """``notebooks/NN_*.ipynb`` in order."""
    found = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise RunError(
            f"no numbered notebooks in {NOTEBOOK_DIR}; run from a clone of the repository "
            "installed with `pip install -e .`"
        )
    return found


def exercise_notebooks() -> list[Path]:
    """The instructor versions of the exercises (student copies are generated, never run)."""
    return sorted(EXERCISE_DIR.glob("*.ipynb"))


def find_notebook(key: str) -> Path:
    """A notebook by number or name prefix ("01", "04_ablations", "ex01") or by path."""
    path = Path(key)
    if path.suffix == ".ipynb" and path.is_file():
        return path.resolve()
    candidates = [*numbered_notebooks(), *exercise_notebooks()]
    matches = [nb for nb in candidates if nb.stem.startswith(key)]
    if not matches and key.isdigit():  # "1" means 01
        matches = [nb for nb in candidates if nb.stem.startswith(key.zfill(2))]
    if len(matches) != 1:
        names = ", ".join(nb.stem for nb in candidates)
        problem = "matches several notebooks" if matches else "matches no notebook"
        raise RunError(f"{key!r} {problem}; give a number (01) or a name prefix of: {names}")
    return matches[0]


@functools.cache
def declared_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """The notebook's parameters cell as papermill parses it: name -> type, default, help
    (read once per process)."""
    return pm.inspect_notebook(str(notebook))


# ------------------------------------------------------------------------------ parameters
def parse_value(raw: str) -> Any:
    """Coerce a command-line value the way ``papermill -p`` does: bool, None, int, float, str."""
    literals = {"True": True, "False": False, "None": None}
    if raw in literals:
        return literals[raw]
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


class _ParamsLoader(yaml.SafeLoader):
    """YAML as a person means it in a parameter file: a key given twice is noted (the last
    counts), and a number with a leading zero (YAML 1.1 reads ``010`` as octal 8) is refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        for key in sorted({k for k in keys if keys.count(k) > 1}, key=str):
            print(
                f"note: {key} is given twice in {self.name}; the last value counts", file=sys.stderr
            )
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        if re.fullmatch(r"[-+]?0[0-9_]+", node.value):
            raise RunError(
                f"{self.name}, line {node.start_mark.line + 1}: {node.value} has a leading zero, "
                f"which YAML reads as an octal number ({super().construct_yaml_int(node)}); write "
                f"it without the zero, or quote it"
            )
        return super().construct_yaml_int(node)


_ParamsLoader.add_constructor("tag:yaml.org,2002:int", _ParamsLoader.construct_yaml_int)


def load_params_file(path: str | Path) -> Params:
    """A YAML mapping of parameter names to values (a list value is a grid axis)."""
    path = Path(path)
    if path.is_dir():
        raise RunError(
            f"parameter file {path} is a folder; give a YAML file such as params/smoke.yaml"
        )
    if not path.is_file():
        path = _kit_params_file(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise RunError(
            f"parameter file {path} is not UTF-8 text ({error.reason} at byte {error.start}); "
            "save it as UTF-8 (editors call it 'UTF-8', not 'UTF-16' or 'Unicode')"
        ) from None
    try:
        loader = _ParamsLoader(text)
        loader.name = str(path)
        try:
            values = loader.get_single_data() or {}
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "it cannot be parsed"
        raise RunError(f"{path} is not valid YAML{where}: {problem}") from None
    if not isinstance(values, dict):
        raise RunError(f"{path} must hold a mapping NAME: value, got {type(values).__name__}")
    return values


def _kit_params_file(path: Path) -> Path:
    """The kit's own file for a ``-f`` path not found from here (the README's
    ``params/paper.yaml``, or a bare ``paper.yaml``, typed outside the repository), said in a
    note; else the error lists the kit's files by their full path."""
    candidates = [] if path.is_absolute() else [REPO_ROOT / path, PARAMS_DIR / path]
    for candidate in candidates:
        if candidate.is_file():
            print(f"note: reading the kit's {candidate} (no {path} here)", file=sys.stderr)
            return candidate
    available = ", ".join(p.stem for p in sorted(PARAMS_DIR.glob("*.yaml")))
    raise RunError(
        f"parameter file {path} not found (looked from {Path.cwd()}); the kit ships "
        f"{available} in {PARAMS_DIR}: give -f {PARAMS_DIR}/NAME.yaml (or --profile NAME for "
        "a profile)"
    )


def profile_params(profile: str) -> Params:
    """``params/<profile>.yaml`` when the kit ships one, else just ``PROFILE``. A parameter
    file that is no profile (``ablation_ci``, a path) is named as such, with the -f it needs."""
    if profile not in PROFILES:
        file = Path(profile).expanduser()
        if not file.is_file():
            file = PARAMS_DIR / f"{file.stem}.yaml"  # "ablation_ci", or "ablation_ci.yaml"
        if file.is_file():
            raise RunError(
                f"--profile {profile} is a parameter file, not a profile ({', '.join(PROFILES)}):"
                f" give it as -f {file}"
            )
    path = PARAMS_DIR / f"{profile}.yaml"
    values = load_params_file(path) if path.is_file() else {}
    return {**values, "PROFILE": profile}


def check_parameter_names(params: Mapping[str, Any], notebooks: Sequence[Path]) -> None:
    """Every name must be a parameter of at least one of ``notebooks``; else list the valid ones."""
    valid: set[str] = set()
    for nb in notebooks:
        valid |= set(declared_parameters(nb))
    valid.discard("OUTPUT_DIR")  # set by the runner from --out
    unknown = sorted(set(params) - valid)
    if unknown:
        where = ", ".join(nb.stem for nb in notebooks)
        raise RunError(
            f"unknown parameter(s) {unknown} for {where}; valid names: {', '.join(sorted(valid))}"
        )


def _check_listed(name: str, value: Any) -> None:
    valid = LISTED_CHOICES.get(name)
    if valid is None or not isinstance(value, str):
        return
    unknown = [v.strip() for v in value.split(",") if v.strip() and v.strip() not in valid]
    if unknown:
        raise RunError(f"parameter {name}: unknown {', '.join(unknown)}; valid: {', '.join(valid)}")


FOLDER_PARAMETERS = {"ARTIFACT_DIR", "GRID_DIR"}


def _check_model_cache(value: str, path: Path) -> None:
    """ARTIFACT_DIR must be a folder of its own for trained models: not a dataset cache, a
    training run, a notebook's results, a folder of command-line runs or the kit's notebooks,
    and a place where it can be made."""
    if (path / "meta.json").is_file():
        raise RunError(
            f"parameter ARTIFACT_DIR {value!r} is {path}, a dataset cache (it holds meta.json); "
            "give the trained models a folder of their own"
        )
    if (outer := rundir.enclosing_run(path)) is not None:
        raise RunError(
            f"parameter ARTIFACT_DIR {value!r} is {path}, inside the training run {outer}; give "
            "the trained models a folder of their own"
        )
    if (path / "metrics.json").is_file():
        raise RunError(
            f"parameter ARTIFACT_DIR {value!r} is {path}, a notebook's results folder (it holds "
            "metrics.json); give the trained models a folder of their own"
        )
    if path.is_dir():
        _check_cache_entries(value, path)
    else:
        _check_can_create(value, path)
    if path == NOTEBOOK_DIR or NOTEBOOK_DIR in path.parents:
        raise RunError(
            f"parameter ARTIFACT_DIR {value!r} is {path}, among the kit's notebooks; give a "
            "folder outside notebooks/ (the default is ../artifacts, relative to notebooks/)"
            f"{_from_here(value)}"
        )


def _from_here(value: str) -> str:
    """A hint for a relative folder parameter that names a folder of the shell's working
    folder: the kernel reads it from notebooks/, so the absolute path is what was meant."""
    here = Path(value).expanduser().resolve()
    relative = not Path(value).expanduser().is_absolute()
    return (
        f"; from this folder it is {here}: pass that absolute path"
        if relative and here.is_dir()
        else ""
    )


def _check_cache_entries(value: str, path: Path) -> None:
    """A model cache holds only its own entries: training runs of the command line there (a
    `teacher --out` folder, runs/) would sit beside cache entries of the same teachers, and
    that folder would no longer work as --teachers."""
    runs = sorted(
        p.name for p in path.iterdir() if rundir.is_training_run(p) and not rundir.is_cache_entry(p)
    )
    if runs:
        raise RunError(
            f"parameter ARTIFACT_DIR {value!r} is {path}, which holds runs of the command line "
            f"({', '.join(runs[:3])}); give the trained models a folder of their own"
        )


def _check_can_create(value: str, path: Path) -> None:
    """A model cache that does not exist yet is made by the notebook's first training cell: in
    a place it cannot be made, that cell fails minutes in. (A read-only cache that exists and
    holds every model is fine.)"""
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not (parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)):
        raise RunError(
            f"parameter ARTIFACT_DIR {value!r} is {path}, which does not exist and cannot be "
            f"created ({parent} is not a folder you can write to); give a folder you can write to"
        )


def _folder_parameter(name: str, value: Any) -> Any:
    """A folder parameter as the absolute path the kernel will use: ``~`` expanded, a relative
    path taken from notebooks/ (where the kernel runs). A file, an empty ARTIFACT_DIR, a model
    cache among the kit's notebooks or inside a training run, or a GRID_DIR that does not
    exist fail in a late cell, so they are refused here."""
    if not isinstance(value, str) or (name == "GRID_DIR" and not value):
        return value  # an empty GRID_DIR means no grid to summarise
    if not value.strip():
        raise RunError(
            f"parameter {name} is empty; give a folder (relative paths start in notebooks/)"
        )
    given = Path(value).expanduser()
    path = (given if given.is_absolute() else NOTEBOOK_DIR / given).resolve()
    if path.exists() and not path.is_dir():
        raise RunError(
            f"parameter {name} {value!r} is a file ({path}); give a folder "
            "(relative paths start in notebooks/)"
        )
    if name == "ARTIFACT_DIR":
        _check_model_cache(value, path)
    if name == "GRID_DIR" and not path.is_dir():
        raise RunError(
            f"parameter GRID_DIR {value!r} is {path}, which does not exist (relative paths "
            f"start in notebooks/){_from_here(value)}"
        )
    return str(path)


def check_parameter_values(params: Mapping[str, Any], notebooks: Sequence[Path]) -> Params:
    """Each value must have its parameter's declared type (a number given to a text parameter
    becomes text), and the config parameters must make a valid config: a typo fails here, in
    one line, not in a notebook's second cell. Grid axes are checked value by value."""
    declared: dict[str, str] = {}
    for nb in notebooks:
        for name, spec in declared_parameters(nb).items():
            declared.setdefault(name, spec["inferred_type_name"])
    checked: Params = {}
    params = {
        name: (
            ([_folder_parameter(name, v) for v in value] if isinstance(value, list)
             else _folder_parameter(name, value))
            if name in FOLDER_PARAMETERS
            else value
        )
        for name, value in params.items()
    }  # fmt: skip
    for name, value in params.items():
        values = value if isinstance(value, list) else [value]
        wanted = _TYPES.get(declared.get(name, ""))
        if wanted is str:
            values = [
                str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                for v in values
            ]
        for v in values:
            ok = (
                wanted is None
                or isinstance(v, wanted)
                and not (wanted is int and isinstance(v, bool))
            )
            if not ok:
                hint = (
                    f"; give a mapping in a -f YAML file ({name}: {{key: value}})"
                    if wanted is dict
                    else f"; write -p {name} True or -p {name} False"
                    if wanted is bool
                    else ""
                )
                raise RunError(
                    f"parameter {name} takes {declared[name]} values, got {v!r} "
                    f"({type(v).__name__}){hint}"
                )
        for v in values:
            _check_listed(name, v)
            rule = VALUE_RULES.get(name)
            problem = rule(v) if rule is not None else None
            if problem is not None:
                raise RunError(f"parameter {name} takes {problem}, got {v!r}")
        checked[name] = values if isinstance(value, list) else values[0]
    for point in grid_points(
        {k: v if isinstance(v, list) else [v] for k, v in checked.items() if k in CONFIG_PARAMETERS}
    ):
        fields = {CONFIG_PARAMETERS[k]: v for k, v in point.items()}
        profile = fields.pop("profile", "smoke")
        try:  # a device the machine lacks too: with cached models a notebook might never use it
            cfg = resolve(profile, **fields)
            resolve_device(cfg.device)
        except DeviceError as error:  # in the runner's own syntax, not the command line's
            message = str(error).replace("device=cpu", "-p DEVICE cpu")
            raise RunError(f"parameter DEVICE: {message}") from None
        except ValueError as error:
            given = ", ".join(f"{k}={v!r}" for k, v in sorted(point.items()))
            raise RunError(f"{error} (from the parameters {given})") from None
        _check_prepared(cfg.dataset, cfg.data_root)
        if cfg.epochs < 2 and any(nb.name == "04_ablations.ipynb" for nb in notebooks):
            raise RunError(
                f"EPOCHS {cfg.epochs}: 04_ablations.ipynb's window ablation needs EPOCHS 2 or "
                "more (with one epoch every SMP window ends at epoch 0, where the no-SMP anchor "
                "is); give -p EPOCHS 2 or more"
            )
    return checked


def _check_prepared(dataset: str, data_root: str | None) -> None:
    """A recorded dataset must be prepared before its first notebook starts, not found missing
    in a cell minutes later."""
    if dataset == "synthetic":
        return
    root = resolve_root(dataset, data_root)
    if not root.is_dir() or not any(root.iterdir()):
        raise RunError(str(missing_dataset(dataset, root, "nothing there yet")))


def split_grid(params: Mapping[str, Any]) -> tuple[Params, dict[str, list[Any]]]:
    """Separate fixed values from grid axes (the list values)."""
    fixed = {k: v for k, v in params.items() if not isinstance(v, list)}
    axes = {k: v for k, v in params.items() if isinstance(v, list)}
    for name, values in axes.items():
        if not values:
            raise RunError(f"grid axis {name} has no values; give at least one")
    return fixed, axes


def parse_grid_option(specs: Iterable[str]) -> dict[str, list[Any]]:
    """``["SEED=0,1,2", "EPOCHS=5,10"]`` -> ``{"SEED": [0, 1, 2], "EPOCHS": [5, 10]}``."""
    axes = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        if not sep or not raw or not name.strip():
            raise RunError(f"--grid {spec!r} must look like NAME=v1,v2 (for example SEED=0,1,2)")
        if name.strip() in axes:
            raise RunError(
                f"--grid gives {name.strip()} twice; give one axis per name with all its values "
                f"(--grid {name.strip()}=v1,v2,v3)"
            )
        axes[name.strip()] = [parse_value(v.strip()) for v in raw.split(",")]
    return axes


def grid_points(axes: Mapping[str, list[Any]]) -> list[Params]:
    """The Cartesian product of the axes, in the order given."""
    names = list(axes)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes.values())]


def check_grid(axes: Mapping[str, list[Any]]) -> None:
    """Every grid point must be distinct and get a folder of its own (two points written into
    one folder would leave only the last one's results)."""
    for name, values in axes.items():
        repeated = sorted({repr(v) for v in values if values.count(v) > 1})
        if repeated:
            raise RunError(f"grid axis {name} lists {', '.join(repeated)} more than once")
    folders: dict[str, Params] = {}
    for point in grid_points(axes):
        other = folders.setdefault(point_name(point), point)
        if other is not point:
            raise RunError(
                f"grid points {other} and {point} would share the folder {point_name(point)!r}; "
                "give values that differ in more than their slashes"
            )


def point_name(point: Mapping[str, Any]) -> str:
    """A folder name for a grid point, e.g. ``SEED=1_EPOCHS=5``."""
    return "_".join(f"{k}={v}" for k, v in point.items()).replace("/", "-") or "default"


def for_notebook(params: Mapping[str, Any], notebook: Path) -> Params:
    """The subset of ``params`` that ``notebook`` declares (runs of several notebooks share one
    parameter set; each notebook gets its own names)."""
    declared = declared_parameters(notebook)
    return {k: v for k, v in params.items() if k in declared}


# ------------------------------------------------------------------------------ execution
class LocalKernelManager(AsyncKernelManager):
    """Kernels on this machine talk over local (IPC) sockets: no TCP port on the network, and
    no "running over TCP without encryption" warning on every run. ``kernel_env`` is added to
    the kernel's environment and ``kernel_cwd`` is its working folder, set for the kernel alone
    (papermill's ``cwd`` changes this process's folder, which notebooks run side by side in
    threads would leave wrong)."""

    kernel_env: Mapping[str, str] = {}
    kernel_cwd: str | None = None

    def __init__(self, **kwargs: Any) -> None:
        # sockets of their own: kernels started at once would otherwise share ./kernel-ipc-N
        ip = str(Path(tempfile.gettempdir()) / f"g2d-kernel-{uuid.uuid4().hex}-ipc")
        super().__init__(transport="ipc", ip=ip, **kwargs)

    async def start_kernel(self, **kwargs: Any) -> None:  # type: ignore[override]
        kwargs["env"] = {**os.environ, **kwargs.get("env", {}), **self.kernel_env}
        if self.kernel_cwd is not None:
            kwargs["cwd"] = self.kernel_cwd
        await super().start_kernel(**kwargs)


def execute(
    notebook: Path,
    output: Path,
    params: Mapping[str, Any],
    cwd: Path = NOTEBOOK_DIR,
    log_output: bool = False,
    timeout: int | None = CELL_TIMEOUT,
    env: Mapping[str, str] = RUN_ENV,
) -> Path:
    """Execute ``notebook`` into ``output`` (its folder is created) with papermill.

    ``env`` is set for the kernel. A failing cell raises :class:`RunError` that names the cell,
    the error and where the executed notebook (with the traceback) was written. A cell that runs
    longer than ``timeout`` seconds fails the run rather than hanging it.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    manager = type(
        "KernelManager", (LocalKernelManager,), {"kernel_env": dict(env), "kernel_cwd": str(cwd)}
    )
    try:
        pm.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(params),
            kernel_name=KERNEL,
            progress_bar=False,
            log_output=log_output,
            execution_timeout=timeout,
            coalesce_streams=True,  # one stdout output per cell, however the kernel flushed it
            kernel_manager_class=manager,
        )
    except TimeoutError as error:
        raise NotebookFailedError(
            f"{notebook.name}: a cell ran longer than {timeout} s; the run was stopped ({error})"
        ) from error
    except pm.PapermillExecutionError as error:
        raise NotebookFailedError(
            f"{notebook.name} failed in cell {error.cell_index} (exec count {error.exec_count}): "
            f"{error.ename}: {error.evalue}\n  the executed notebook is {output}"
        ) from error
    return output


def check_notebook_out(out: Path) -> None:
    """A notebook's folder must not be, or be inside, or hold a training run: its metrics.json
    would replace the run's, or make a folder of runs read as one."""
    outer = rundir.enclosing_run(out)
    if outer is not None:
        where = "holds a training run" if outer == out.resolve() else f"is inside the run {outer}"
        raise RunError(
            f"--out {out} {where} (its {rundir.CONFIG} and checkpoints): the notebook's "
            "metrics.json would replace that run's; choose another --out"
        )
    runs = (
        sorted(p.name for p in out.glob("*/") if rundir.is_training_run(p)) if out.is_dir() else []
    )
    if runs:
        raise RunError(
            f"--out {out} holds training runs ({', '.join(runs[:3])}); a notebook's metrics.json "
            "there would make the folder read as a run; choose another --out"
        )


RESULT_SUFFIXES = (".json", ".png", ".pdf", ".svg", ".csv")  # what a notebook writes beside it


def check_not_the_users_files(run_dir: Path, notebook: Path) -> None:
    """Results in a folder without the executed notebook were not written by the runner (a
    folder of the user's own): the run would replace them, so refuse to write there."""
    if not run_dir.is_dir() or (run_dir / notebook.name).exists():
        return
    theirs = sorted(
        p.name for p in run_dir.iterdir() if p.is_file() and p.suffix.lower() in RESULT_SUFFIXES
    )
    if theirs:
        raise RunError(
            f"--out {run_dir} holds files the runner did not write ({', '.join(theirs[:3])}"
            f"{', …' if len(theirs) > 3 else ''}) that {notebook.name}'s results could replace; "
            "choose a new or empty --out"
        )


def _check_cache_apart(artifact_dir: object, run_dir: Path) -> None:
    """The model cache and the notebook's results folder are two folders, neither inside the
    other: mixed, the folder holds training runs beside a metrics.json, and the next run into
    it is refused."""
    if not isinstance(artifact_dir, str) or not artifact_dir:
        return
    cache = (NOTEBOOK_DIR / Path(artifact_dir).expanduser()).resolve()  # the kernel's view
    if cache == run_dir or run_dir in cache.parents or cache in run_dir.parents:
        where = "is" if cache == run_dir else "is inside" if run_dir in cache.parents else "holds"
        raise RunError(
            f"parameter ARTIFACT_DIR {cache} {where} the results folder --out {run_dir}; give "
            "the trained models a folder of their own (the default is ../artifacts, relative to "
            "notebooks/)"
        )


def writes_metrics(notebook: Path) -> bool:
    """Whether the notebook writes metrics.json (into OUTPUT_DIR); the exercises write none."""
    return "OUTPUT_DIR" in declared_parameters(notebook)


def check_not_a_student_copy(notebook: Path) -> None:
    """A student copy raises at each unanswered cell on purpose: say that, not its traceback."""
    try:
        cells = unanswered_cells(nbformat.read(notebook, as_version=4))
    except (OSError, ValueError, AttributeError):
        return  # papermill names an unreadable notebook itself
    if cells:
        where = ", ".join(map(str, cells[:4])) + (", …" if len(cells) > 4 else "")
        raise RunError(
            f"{notebook} is a student copy with {len(cells)} unanswered exercise cell(s) "
            f"(cells {where} still say '# YOUR CODE HERE'): open it in Jupyter and answer them "
            f"(the check below each answer says whether it is right); the runner runs the "
            f"instructor version as `run {notebook.stem}`"
        )


def run_notebook(
    notebook: Path,
    params: Mapping[str, Any],
    run_dir: Path,
    log_output: bool = False,
    env: Mapping[str, str] = RUN_ENV,
    replace: bool = False,
) -> Path:
    """One papermill run into ``run_dir``: the executed notebook plus its metrics and figures.

    ``OUTPUT_DIR`` is set to ``run_dir`` (absolute, so it does not depend on the kernel's cwd).
    A finished run there with other parameters, or a notebook the runner did not write as it
    is, is replaced only when ``replace`` (:mod:`g2d_lite.earlier_run`).
    """
    run_dir = run_dir.resolve()
    if run_dir == NOTEBOOK_DIR or NOTEBOOK_DIR in run_dir.parents:
        raise RunError(
            f"--out {run_dir} is inside the kit's notebooks/ folder: the run would write over or "
            "beside the committed notebooks; choose another --out (default runs/)"
        )
    check_notebook_out(run_dir)
    others = sorted(p.name for p in run_dir.glob("*.ipynb") if p.name != notebook.name)
    if others:
        raise RunError(
            f"--out {run_dir} holds the results of {others[0]}; {notebook.name}'s metrics.json "
            "would replace that notebook's: give each notebook its own --out"
        )
    check_not_the_users_files(run_dir, notebook)
    check_not_a_student_copy(notebook)
    values = for_notebook(params, notebook)
    _check_cache_apart(values.get("ARTIFACT_DIR"), run_dir)
    if writes_metrics(notebook):
        values["OUTPUT_DIR"] = str(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with locked(run_dir, "another --out") as notes:  # a second runner would replace our results
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        declared = declared_parameters(notebook)
        replaced = check_earlier_run(run_dir / notebook.name, notebook, values, declared, replace)
        if replaced:
            print(f"note: {replaced}", file=sys.stderr)
        # the notebook writes metrics.json last: an earlier run's, left beside a rerun that is
        # killed or fails, would be read as this run's results
        (run_dir / "metrics.json").unlink(missing_ok=True)
        print(f"running {notebook.name} -> {run_dir}", flush=True)
        return execute(notebook, run_dir / notebook.name, values, log_output=log_output, env=env)


def normalise(paths: Sequence[Path], verify: bool = False) -> bool:
    """Normalise notebooks with nbstripout, keeping outputs and execution counts but dropping
    papermill, timing and widget metadata. ``verify`` only checks; returns True if clean."""
    flags = ["--verify"] if verify else []
    command = [sys.executable, "-m", "nbstripout", *NORMALISE_ARGS, *flags, *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 and not verify:
        raise RunError(f"nbstripout failed on {list(map(str, paths))}: {done.stderr.strip()}")
    return done.returncode == 0


def refresh(notebooks: Sequence[Path], failed_dir: Path = RUNS_DIR / "refresh-failed") -> None:
    """Re-execute committed notebooks in place with no parameters, on CPU, then normalise them.

    Each notebook runs in a temporary copy with its own folder as working directory; the
    original is replaced only when the run succeeds (a failed run is kept in ``failed_dir``).
    """
    with tempfile.TemporaryDirectory(prefix="g2d-refresh-") as tmp:
        for nb in notebooks:
            print(f"refreshing {nb.relative_to(REPO_ROOT)}", flush=True)
            output = Path(tmp) / nb.name
            try:
                execute(nb, output, {}, cwd=nb.parent, env=REFRESH_ENV)
            except RunError:
                if output.is_file():
                    failed_dir.mkdir(parents=True, exist_ok=True)
                    shutil.copy(output, failed_dir / nb.name)
                raise
            normalise([output])
            changed = output.read_bytes() != nb.read_bytes()
            shutil.copy(output, nb)
            print(f"  {'updated' if changed else 'unchanged'}", flush=True)


# ------------------------------------------------------------------------------ tables
def results_table(
    run_dirs: Sequence[Path], labels: Mapping[Path, Params] | None = None
) -> pd.DataFrame:
    """Rows of every run folder's ``metrics.json`` summarised as mean ± std per method (and per
    grid axis other than the seed)."""
    files = [d / "metrics.json" for d in run_dirs]
    extra = {str(d / "metrics.json"): dict(v) for d, v in (labels or {}).items()}
    rows = load_rows(files, extra)
    axes = sorted({k for v in (labels or {}).values() for k in v} - {"SEED"})
    return summarise(rows, by=[*axes, "method"])


def print_table(title: str, table: pd.DataFrame) -> None:
    print(f"\n{title}")
    print(table.to_string(index=False) if not table.empty else "(no result rows)")


def print_outputs(run_dirs: Sequence[Path]) -> None:
    """Where the executed notebooks and figures of these runs are: the files each run wrote
    (since its notebook started), apart from others someone left in its folder."""
    print("\nexecuted notebooks and figures:")
    for d in run_dirs:
        started = _run_started(d)
        shown = sorted(p for p in d.iterdir() if p.suffix in (".ipynb", ".png"))
        ours = [p.name for p in shown if started is None or p.stat().st_mtime >= started]
        others = [p.name for p in shown if p.name not in ours]
        also = f" (also there, not written by this run: {', '.join(others)})" if others else ""
        print(f"  {d}: {', '.join(ours)}{also}")


def _run_started(run_dir: Path) -> float | None:
    """When the run in ``run_dir`` started (its executed notebook's papermill record), as a
    timestamp, or None when that cannot be read."""
    for notebook in run_dir.glob("*.ipynb"):
        try:
            record = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]["papermill"]
            return datetime.fromisoformat(record["start_time"]).timestamp()
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


# ------------------------------------------------------------------------------ commands
def _params(args: argparse.Namespace) -> tuple[Params, Params]:
    """(values from --profile and -f files, values from -p). Files are shared by every notebook,
    so their names are checked against all of them; -p names against the notebook(s) run."""
    shared: Params = profile_params(args.profile) if args.profile else {}
    for file in args.file:
        shared.update(load_params_file(file))
    explicit: Params = {}
    for name, value in args.param:
        if name in explicit:
            print(
                f"note: -p {name} is given twice; the last value ({value}) counts", file=sys.stderr
            )
        explicit[name] = parse_value(value)
    if "OUTPUT_DIR" in {**shared, **explicit}:
        raise RunError("choose the run folder with --out; the runner sets OUTPUT_DIR itself")
    check_parameter_names(shared, numbered_notebooks())
    return shared, explicit


def training_slots() -> int:
    """Runs that may train at once on this machine: one per core for the kernels' thread count
    (``G2D_LITE_JOBS`` when set)."""
    threads = os.environ.get("OMP_NUM_THREADS", "").strip()
    return wanted_jobs(int(threads) if threads.isdigit() and int(threads) > 0 else usable_cores())


def side_by_side(params: Mapping[str, Any]) -> bool:
    """Whether the notebooks of ``all`` may run at once: on the CPU, with a core to spare per
    run (as :mod:`g2d_lite.parallel` decides). They share the model cache, where a run one
    notebook trains is waited for by the others (:mod:`g2d_lite.store`), so every number is
    the one a run in order gives."""
    fields = {CONFIG_PARAMETERS[k]: v for k, v in params.items() if k in CONFIG_PARAMETERS}
    cfg = resolve(fields.pop("profile", "smoke"), **fields)
    return resolve_device(cfg.device).type == "cpu" and training_slots() > 1


def run_notebooks(
    notebooks: Sequence[Path],
    params: Mapping[str, Any],
    out: Path,
    together: bool,
    log_output: bool = False,
    replace: bool = False,
) -> dict[Path, float]:
    """Run each notebook into ``out/<its number>``, all at once when ``together``, else in
    order; return each one's wall seconds. Together, they share one pool of training slots,
    one per core (:mod:`g2d_lite.slots`). Every notebook runs to its end; the first failure
    is raised after the others finish."""
    run_dirs = {nb: (out / nb.stem[:2]).resolve() for nb in notebooks}
    seconds: dict[Path, float] = {}
    pool = tempfile.TemporaryDirectory(prefix="g2d-slots-") if together else None
    env = dict(RUN_ENV)
    if pool is not None:
        env[slots.ENV] = slots.pool_spec(Path(pool.name), training_slots())

    def one(nb: Path) -> None:
        started = time.perf_counter()
        run_notebook(nb, params, run_dirs[nb], log_output, env, replace)
        seconds[run_dirs[nb]] = time.perf_counter() - started
        if together:
            print(f"finished {nb.name} in {seconds[run_dirs[nb]]:.0f} s", flush=True)

    if pool is not None:
        with pool, ThreadPoolExecutor(max_workers=len(notebooks)) as threads:
            futures = [threads.submit(one, nb) for nb in notebooks]
            failures = [f.exception() for f in futures if f.exception() is not None]
        if failures:
            raise failures[0]
    else:
        for nb in notebooks:
            one(nb)
    return {d: seconds[d] for d in run_dirs.values()}


def _run_pipeline(args: argparse.Namespace, params: Params) -> None:
    notebooks = numbered_notebooks()
    fixed, axes = split_grid(check_parameter_values(params, notebooks))
    if axes:
        raise RunError(f"grid axes {sorted(axes)} need a single notebook, e.g. `run 04 --grid`")
    out = Path(args.out) if args.out else RUNS_DIR / args.target
    check_notebook_out(out)
    together = side_by_side(fixed) and not args.log_output
    if together:
        print(f"running {len(notebooks)} notebooks side by side (they share the model cache)")
    run_dirs = list(run_notebooks(notebooks, fixed, out, together, args.log_output, args.replace))
    print_table("results (test accuracy %, mean ± std over seeds)", results_table(run_dirs))
    print_outputs(run_dirs)


def _run_single(args: argparse.Namespace, notebook: Path, params: Params) -> None:
    fixed, axes = split_grid(check_parameter_values(params, [notebook]))
    check_grid(axes)
    if not axes:
        run_dir = Path(args.out) if args.out else RUNS_DIR / notebook.stem[:2]
        run_notebook(notebook, fixed, run_dir, args.log_output, replace=args.replace)
        if writes_metrics(notebook):
            print_table("results (test accuracy %)", results_table([run_dir]))
        print_outputs([run_dir.resolve()])
        return
    out = Path(args.out) if args.out else RUNS_DIR / f"{notebook.stem[:2]}-grid"
    check_notebook_out(out)
    points = {point_name(p) for p in grid_points(axes)}
    stale = sorted(p.parent.name for p in out.glob("*/*.ipynb") if p.parent.name not in points)
    if stale:
        raise RunError(
            f"--out {out} holds grid points this grid does not have ({', '.join(stale[:3])}); a "
            "summary of the folder (GRID_DIR) would average them in: choose another --out, or "
            "remove them"
        )
    labels: dict[Path, Params] = {}
    for point in grid_points(axes):
        run_dir = (out / point_name(point)).resolve()
        run_notebook(notebook, {**fixed, **point}, run_dir, args.log_output, replace=args.replace)
        labels[run_dir] = point
    if not writes_metrics(notebook):
        print_outputs(list(labels))
        return
    table = results_table(list(labels), labels)
    table.to_csv(out / "summary.csv", index=False)
    print_table(f"grid results over {len(labels)} runs (test accuracy %, mean ± std)", table)
    print(f"\nsummary table: {out / 'summary.csv'}")
    print_outputs(list(labels))


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m g2d_lite.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "target",
        help="a notebook (01..04, or a name prefix), all, demo (all on synthetic data), refresh",
    )
    parser.add_argument("--profile", help="smoke | classroom | paper: loads params/PROFILE.yaml")
    parser.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter (typed like papermill -p)",
    )
    parser.add_argument(
        "-f", "--file", action="append", default=[], help="YAML parameter file (repeatable)"
    )
    parser.add_argument(
        "--grid", action="append", default=[], metavar="NAME=V1,V2", help="a grid axis"
    )
    parser.add_argument(
        "--out",
        type=os.path.expanduser,
        help=f"run folder (default: the kit's {RUNS_DIR}/ and in it NN for notebook NN, NN-grid "
        "for its grid, all or demo for those targets; a relative --out starts from the current "
        "folder)",
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="replace a finished run in --out made with other parameters, or a notebook there "
        "that the runner did not write as it is (by default both are refused)",
    )
    parser.add_argument("--log-output", action="store_true", help="stream cell outputs")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument(
        "--only", nargs="+", metavar="NOTEBOOK", help="refresh: just these notebooks"
    )
    return parser


@returns_status
def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; returns 0, 1 when a notebook failed, 2 on bad input."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    overrides = [token for token in extra if "=" in token and not token.startswith("-")]
    if overrides:  # python -m g2d_lite's syntax, a slip between the kit's two commands
        name, _, value = overrides[0].partition("=")
        parser.error(
            f"{overrides[0]} is python -m g2d_lite's syntax; the runner takes notebook "
            f"parameters as -p NAME VALUE: -p {name.upper()} {value}"
        )
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.log_output:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run_command("python -m g2d_lite.run", lambda: _main(args), args.debug)


def _main(args: argparse.Namespace) -> None:
    if args.target == "refresh":
        if args.param or args.file or args.grid or args.profile:
            raise RunError("refresh takes no parameters: it reruns the committed defaults")
        chosen = [find_notebook(k) for k in args.only or []]  # a typo is named first
        if args.out is not None:
            first = (args.only or ["01"])[0]
            raise RunError(
                "refresh re-executes the committed notebooks in place and takes no --out; to "
                f"run one into a folder: python -m g2d_lite.run {first} --out {args.out}"
            )
        outside = [nb for nb in chosen if NOTEBOOK_DIR not in nb.parents]
        if outside:
            raise RunError(
                f"refresh re-executes the kit's committed notebooks only; {outside[0]} is not "
                f"one of them (run it with: python -m g2d_lite.run {outside[0]})"
            )
        notebooks = chosen or [
            *numbered_notebooks(),
            *exercise_notebooks(),
        ]
        refresh(notebooks)
        return
    if args.only:
        find_notebook(args.only[0])  # a typo is named before a command that repeats it
        raise RunError(
            "--only applies to refresh; to run one notebook give it as the target"
            f" (python -m g2d_lite.run {args.only[0]})"
        )
    if args.out is not None and not args.out.strip():
        raise RunError("--out is empty; give a folder for the run (or leave --out out: runs/)")
    if args.out is not None and (problem := control_character(args.out)):
        raise RunError(f"--out {problem}")
    out = Path(args.out) if args.out else None
    if out is not None and (nowhere := dangling_link(out)):
        raise RunError(f"--out {out} {nowhere}; point --out at a real folder")
    if out is not None and out.exists() and not out.is_dir():
        raise RunError(f"--out {out} is a file, not a folder; give a folder for the run")
    training_slots()  # a G2D_LITE_JOBS typo is refused here, not in a notebook's cell 11
    shared, explicit = _params(args)
    if args.target in ("all", "demo"):
        check_parameter_names(explicit, numbered_notebooks())
        if args.grid:
            raise RunError("--grid needs a single notebook, e.g. `run 04 --grid SEED=0,1,2`")
        params = {**shared, **explicit}
        if args.target == "demo":
            if params.get("DATASET", "synthetic") != "synthetic":
                raise RunError(
                    f"demo runs the embedded synthetic data, not DATASET {params['DATASET']!r}; "
                    f"for that dataset run `python -m g2d_lite.run all -p DATASET "
                    f"{params['DATASET']}` (AV-MNIST: `run all --profile avmnist`)"
                )
            params = {"PROFILE": "smoke", **params, "DATASET": "synthetic"}
        _run_pipeline(args, params)
    else:
        notebook = find_notebook(args.target)
        grid = parse_grid_option(args.grid)
        file_axes = {k for k, v in shared.items() if isinstance(v, list)}
        both = sorted(set(grid) & (set(explicit) | file_axes))
        if both:
            raise RunError(
                f"{', '.join(both)} is both a --grid axis and a -p value or a -f grid axis; give "
                "it once (the other values would be replaced by every grid point)"
            )
        check_parameter_names({**explicit, **grid}, [notebook])
        _run_single(args, notebook, {**shared, **explicit, **grid})


if __name__ == "__main__":
    sys.exit(main())
