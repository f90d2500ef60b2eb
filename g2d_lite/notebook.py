"""What every numbered notebook does in its second cell, and how it hands results back.

Conventions (notebooks/README.md): the first code cell is tagged ``parameters`` and holds
literals only; the second calls :func:`setup`, which resolves the config, seeds, styles plots,
switches progress bars and creates the output folder. Each notebook ends with
:func:`save_metrics`, writing ``OUTPUT_DIR/metrics.json`` that papermill runs and tests read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import g2d_lite
from g2d_lite.atomic import atomic_write_text
from g2d_lite.config import METHODS, Config, method_clashes, require_config, resolve
from g2d_lite.data import DatasetSplits, load_dataset
from g2d_lite.devices import resolve_device
from g2d_lite.progress import progress_enabled
from g2d_lite.rundir import enclosing_run
from g2d_lite.seeding import seed_everything

FIGURE_DPI = 80  # keeps committed notebooks light


def set_style() -> None:
    """One plot style for every figure: seaborn whitegrid, colour-blind palette, small dpi."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    mpl.rcParams.update({"figure.figsize": (7.0, 3.6), "figure.dpi": FIGURE_DPI})


def setup(
    profile: str = "smoke",
    seed: int = 0,
    output_dir: str | Path = "../runs/latest",
    progress: bool = True,
    method: str | None = None,
    **overrides: Any,
) -> Config:
    """Resolve the run's config, seed everything, style plots and create ``output_dir``.

    ``overrides`` that are ``None`` keep the profile's value, so notebook parameters like
    ``EPOCHS = None`` mean "the profile decides".
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    clashes = method_clashes(method, given) if method in METHODS else []
    if clashes:
        raise ValueError(
            f"{', '.join(clashes)} contradicts method {method!r} (defined by "
            f"{', '.join(f'{k}={v!r}' for k, v in METHODS[method].items())}): the run would be "
            "another method recorded under its name; drop the override, or name the method "
            "that trains it"
        )
    cfg = resolve(
        profile, method=method, seed=seed, progress=progress_enabled(progress), **overrides
    )
    resolve_device(cfg.device)  # a missing GPU is said here, not after cached models load
    seed_everything(cfg.seed)
    set_style()
    _output_folder(output_dir).mkdir(parents=True, exist_ok=True)
    return cfg


def _output_folder(output_dir: str | Path) -> Path:
    """The notebook's folder for figures and metrics; a file in its place is named here rather
    than in pathlib's FileExistsError."""
    path = Path(output_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"output_dir {output_dir} is a file; give a folder for the notebook's figures and "
            "metrics (OUTPUT_DIR)"
        )
    outer = enclosing_run(path)
    if outer is not None:  # its metrics.json is the run's record of what it trained
        where = "the training run" if outer == path.resolve() else "inside the training run"
        raise ValueError(
            f"output_dir {output_dir} is {where} {outer}, whose metrics.json records the run: "
            "give the notebook's figures and metrics a folder of their own (OUTPUT_DIR)"
        )
    return path


def load_data(cfg: Config) -> DatasetSplits:
    """The config's dataset; the synthetic one is generated from the run's seed."""
    require_config(cfg, "load_data")
    options = dict(cfg.data_options)
    if cfg.dataset == "synthetic":
        options.setdefault("seed", cfg.seed)
    return load_dataset(cfg.dataset, cfg.data_root, **options)


def describe(cfg: Config) -> str:
    """A device- and path-free summary of the config, stable enough for nbval to compare."""
    require_config(cfg, "describe")
    keys = (
        "dataset",
        "encoder",
        "fusion",
        "epochs",
        "batch_size",
        "lr",
        "weight_decay",
        "lr_step",
        "balance_end_epoch",
        "selection",
        "seed",
    )
    return "\n".join(f"{k:>18}: {getattr(cfg, k)}" for k in keys)


def environment() -> dict[str, str]:
    """Versions and device, printed at the top of notebooks (not compared by nbval)."""
    return {
        "g2d_lite": g2d_lite.__version__,
        "torch": torch.__version__,
        "cuda": str(torch.cuda.is_available()),
        "threads": str(torch.get_num_threads()),
    }


def _plain(value: Any, where: str = "metrics", holders: tuple[int, ...] = ()) -> Any:
    """``value`` as strict JSON data: NumPy and 0-d torch numbers as Python ones (an int stays
    an int), NaN, infinities and pandas' missing values as null (``NaN`` is not JSON: jq,
    JavaScript and strict parsers refuse it). ``where`` names the value in an error;
    ``holders`` are the dicts and lists around it (one of them again is a cycle)."""
    if isinstance(value, Mapping | list | tuple):
        if id(value) in holders:
            raise ValueError(
                f"save_metrics cannot write {where}: it refers back to a dict or list that holds "
                "it (a cycle); store a copy of the values instead"
            )
        holders = (*holders, id(value))
    if isinstance(value, Mapping):
        keys = [str(k) for k in value]
        clash = sorted({k for k in keys if keys.count(k) > 1})
        if clash:  # {1: ..., "1": ...}: JSON keys are strings, so one would be lost
            raise ValueError(
                f"save_metrics: keys {clash} appear as a number and as text in {where}"
            )
        return {str(k): _plain(v, f"{where}[{k!r}]", holders) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]", holders) for i, v in enumerate(value)]
    if isinstance(value, torch.Tensor | np.ndarray) and value.ndim > 0:
        return _plain(value.tolist(), where)  # lists of plain numbers, as the reader expects
    one_number = (
        value.numel() == 1
        if isinstance(value, torch.Tensor)
        else (
            hasattr(value, "item") and getattr(value, "ndim", None) == 0  # a NumPy scalar
        )
    )
    if one_number:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if pd.isna(value) is True:  # pd.NA, pd.NaT: a missing value, like NaN
        return None
    if hasattr(value, "__float__"):
        return _plain(float(value), where)
    raise TypeError(
        f"save_metrics cannot write {where}, a {type(value).__name__}, as JSON; convert it "
        "first (a date with str(), a DataFrame with .to_dict('records'), a tensor with .tolist())"
    )


def _file_name(name: str) -> str:
    """A plain file name: the files belong in the output folder, not beside or above it."""
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(
            f"name must be a plain file name, without folders, got {name!r}: the file goes into "
            "output_dir (set that to write elsewhere)"
        )
    return name


def save_metrics(
    output_dir: str | Path, metrics: dict[str, Any], name: str = "metrics.json"
) -> Path:
    """Atomically write ``metrics`` as strict JSON into ``output_dir``; returns the file path.
    NaN becomes null (see :func:`_plain`)."""
    if isinstance(output_dir, Mapping) and isinstance(metrics, str | Path):
        raise TypeError(
            "save_metrics got the metrics first and the folder second: call "
            "save_metrics(OUTPUT_DIR, metrics) (save_figure takes the figure first)"
        )
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"metrics must be a dict of named values, e.g. {{'results': rows}}; got "
            f"{type(metrics).__name__}"
        )
    path = _output_folder(output_dir) / _file_name(name)
    _check_same_notebook(path, metrics)
    atomic_write_text(path, json.dumps(_plain(metrics), indent=2, sort_keys=True))
    return path


def _check_same_notebook(path: Path, metrics: Mapping[str, Any]) -> None:
    """Two notebooks given one OUTPUT_DIR: the second's metrics would replace the first's
    (in Jupyter no runner stands between them), so refuse to write over another notebook's."""
    try:
        theirs = json.loads(path.read_text()).get("notebook")
    except (OSError, ValueError, AttributeError):
        return
    ours = metrics.get("notebook")
    if theirs is not None and ours is not None and str(theirs) != str(ours):
        raise ValueError(
            f"{path} holds notebook {theirs}'s metrics, which notebook {ours}'s would replace: "
            f"give each notebook its own OUTPUT_DIR (e.g. ../runs/{ours})"
        )


# Extensions of other figure formats: a name ending in one is a mistake, while a name like
# "window_0.25" only holds a dot.
OTHER_FIGURE_FORMATS = frozenset(
    [
        "bmp",
        "eps",
        "gif",
        "jpeg",
        "jpg",
        "pdf",
        "pgf",
        "ps",
        "raw",
        "rgba",
        "svg",
        "svgz",
        "tif",
        "tiff",
        "webp",
    ]
)


def save_figure(fig: Any, output_dir: str | Path, name: str) -> Path:
    """Save a matplotlib figure as PNG beside the metrics (for reports and the README); ``name``
    is given without the extension, though a trailing ``.png`` is tolerated."""
    if not hasattr(fig, "savefig"):
        raise TypeError(
            f"fig must be a matplotlib figure (what the plots functions return), got "
            f"{type(fig).__name__}"
        )
    stem, dot, extension = str(name).rpartition(".")
    if dot and extension.lower() == "png":
        name = stem
    elif dot and extension.lower() in OTHER_FIGURE_FORMATS:
        raise ValueError(
            f"save_figure writes PNG files: give the name {name!r} without .{extension}"
        )
    folder = _output_folder(output_dir)
    folder.mkdir(parents=True, exist_ok=True)  # as save_metrics does
    path = folder / f"{_file_name(name)}.png"
    fig.savefig(path, dpi=FIGURE_DPI * 1.5, bbox_inches="tight")
    return path


def show_markdown(text: str) -> None:
    """Display ``text`` as Markdown: the notebooks' prose that depends on the data is built from
    the results and shown this way, so it is true for whatever dataset the notebook ran on."""
    from IPython.display import Markdown, display

    if not isinstance(text, str):
        raise TypeError(f"show_markdown takes text, got {type(text).__name__} {text!r:.60}")
    display(Markdown(text))
