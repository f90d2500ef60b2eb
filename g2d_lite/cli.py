"""Command line: ``python -m g2d_lite <teacher|joint|student|evaluate> [options] [key=value ...]``.

Each training command writes a run folder (config.json, history.csv, steps.csv, metrics.json,
checkpoints/best.pt and last.pt). Re-running the same command on the same folder resumes.

Examples::

    python -m g2d_lite teacher --out runs/teachers          # one teacher per modality
    python -m g2d_lite joint --out runs/joint
    python -m g2d_lite student --teachers runs/teachers --out runs/g2d
    python -m g2d_lite student --method g2d_partial --teachers runs/teachers --out runs/p epochs=45
    python -m g2d_lite evaluate --run runs/g2d
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from g2d_lite import slots
from g2d_lite.checkpoint import load_checkpoint
from g2d_lite.config import (
    METHODS,
    PROFILES,
    Config,
    check_profile_dataset,
    method_clashes,
    method_name,
    parse_overrides,
    resolve,
)
from g2d_lite.data.base import MissingDatasetError
from g2d_lite.errors import (
    KitError,
    OneLineParser,
    dangling_link,
    debug_option,
    path_argument,
    returns_status,
    run_command,
)
from g2d_lite.evaluate import evaluate
from g2d_lite.locks import special_file_kind
from g2d_lite.losses import LOSS_VARIANTS
from g2d_lite.notebook import load_data
from g2d_lite.parallel import wanted_jobs
from g2d_lite.preflight import check_folder_takes
from g2d_lite.progress import progress_enabled
from g2d_lite.provenance import check_same_data, data_fingerprint
from g2d_lite.rundir import (
    BEST,
    LAST,
    RunFolder,
    enclosing_run,
    is_cache_entry,
    is_training_run,
)
from g2d_lite.store import load_run, model_from_checkpoint
from g2d_lite.train import TrainResult, train_student, train_teacher

PROG = "python -m g2d_lite"


def _config_file(path: str) -> dict[str, Any]:
    """Overrides from a ``--config`` JSON file (a UTF-8 BOM is fine), or a clear error; a key
    given twice keeps the last value and says so, as on the command line."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        for key in sorted({k for k in keys if keys.count(k) > 1}):
            print(f"note: {key} is given twice in {path}; the last value counts", file=sys.stderr)
        return dict(items)

    kind = special_file_kind(Path(path).resolve())
    if kind in ("a device", "a socket"):  # read without end; a pipe (<(...)) is fine
        raise KitError(
            f"--config {path} is {kind}, not a file: give a JSON file of config keys, e.g. "
            '{"epochs": 2}'
        )
    try:
        values = json.loads(Path(path).read_text(encoding="utf-8-sig"), object_pairs_hook=pairs)
    except FileNotFoundError:
        raise KitError(f"--config file {path} does not exist") from None
    except ValueError as error:  # UnicodeDecodeError too
        hint = (
            ": the params/*.yaml files are the notebook runner's (python -m g2d_lite.run -f "
            'FILE); here give a JSON object of config keys, e.g. {"epochs": 2}, and pick a '
            "profile with --profile NAME"
            if Path(path).suffix.lower() in (".yaml", ".yml")
            else ""
        )
        raise KitError(f"--config file {path} is not valid JSON ({error}){hint}") from None
    except RecursionError:
        raise KitError(
            f"--config file {path} is nested too deeply to read; a config is flat key: value "
            "pairs (data_options one level down)"
        ) from None
    if not isinstance(values, dict):
        raise KitError(f"--config file {path} must hold a JSON object of key: value overrides")
    if {"role", "checkpoints"} <= set(values):  # what a finished run's metrics.json holds
        raise KitError(
            f"--config {path} is a run's metrics.json, not a config; the run's settings are in "
            f"{Path(path).with_name('config.json')}"
        )
    return values


def _config(args: argparse.Namespace, method: str | None) -> Config:
    """Profile, then method, then --config, then key=value (an explicit None is kept;
    data_options merge into the profile's)."""
    overrides: dict[str, Any] = {}
    if args.config:
        overrides.update(_config_file(args.config))
    typed = parse_overrides(args.overrides)
    from_file = (args.config, set(overrides) - set(typed))
    for key, value in typed.items():
        both = isinstance(value, dict) and isinstance(overrides.get(key), dict)
        overrides[key] = {**overrides[key], **value} if both else value  # data_options merge
    root = overrides.get("data_root")
    if isinstance(root, str) and root.strip():  # recorded absolute: evaluate from anywhere
        overrides["data_root"] = str(Path(root).expanduser().resolve())
    check_profile_dataset(args.profile, overrides.get("dataset"))
    cfg = resolve(args.profile, method=method).updated(**overrides)  # bad values first
    _check_method_kept(method, overrides, cfg, args.command, from_file)
    if args.command == "teacher":
        _note_student_settings(overrides, resolve(args.profile))
    return cfg


# What only a student reads: a teacher is one encoder and a classifier trained with CE alone.
STUDENT_SETTINGS = ("fusion", "loss", "balance", "feature_weight", "logit_weight", "temperature")
STUDENT_PREFIXES = ("smp_", "ogm_", "agm_", "mla_", "pmr_", "reconboost_", "mmpareto_", "balance_")


def _note_student_settings(overrides: dict[str, Any], profile: Config) -> None:
    """A student's setting given to ``teacher`` changes nothing the teacher trains, yet is
    recorded in its config.json: say so, rather than let the folder claim it (a shared config
    file given to both commands is fine, so this is a note, not a refusal)."""
    for key, value in overrides.items():
        student_only = key in STUDENT_SETTINGS or key.startswith(STUDENT_PREFIXES)
        if student_only and value != getattr(profile, key, value):
            print(
                f"note: {key}={value!r} has no effect on a teacher (one encoder and a classifier, "
                "trained with CE alone): it is a student setting",
                file=sys.stderr,
            )


def _active_terms(weights: tuple[float, float]) -> tuple[str, ...]:
    """The distillation terms (feature, logit) that ``weights`` switch on."""
    return tuple(name for name, w in zip(("feature", "logit"), weights, strict=True) if w > 0)


def _loss_with_terms(terms: tuple[str, ...]) -> str:
    """The loss variant (losses.LOSS_VARIANTS) that trains exactly these terms."""
    return next(name for name, w in LOSS_VARIANTS.items() if _active_terms(w) == terms)


def _check_method_kept(
    method: str | None,
    overrides: dict[str, Any],
    cfg: Config,
    command: str,
    from_file: tuple[str | None, set[str]],
) -> None:
    """An override that changes what the named method is trains another method under the first
    one's name (``--method g2d_partial loss=ce`` is joint + partial SMP; ``--method logit_kd
    feature_weight=1`` is the G²D loss): refuse it. Reweighting a term the method has is fine."""
    if method is None:
        return
    defining = METHODS[method]
    clashes = method_clashes(method, overrides)
    expected = _active_terms(resolve(method=method).distillation_weights)
    actual = _active_terms(cfg.distillation_weights)
    if not clashes and actual == expected:
        return
    clashes = clashes or [
        f"{k}={overrides[k]!r}" for k in ("feature_weight", "logit_weight") if k in overrides
    ]
    trained = method_name({**cfg.to_dict(), "loss": _loss_with_terms(actual)})
    if trained is None or trained == method:
        nearest = ""
    elif command == "joint" or cfg.needs_teachers:
        teachers = " --teachers <teacher folder>" if cfg.needs_teachers else ""
        command_line = f"python -m g2d_lite student --method {trained}{teachers} --out <folder>"
        nearest = f"; the nearest named method is {trained}: `{command_line}`"
    else:
        nearest = f"; the nearest named method is {trained} (--method {trained})"
    trains = "+".join(["CE", *expected])
    defined = f"(it trains {trains} with {', '.join(f'{k}={v!r}' for k, v in defining.items())})"
    file, file_keys = from_file
    keys = [clash.split("=", 1)[0] for clash in clashes]
    if file and set(keys) <= file_keys:  # a run's config.json reused: it holds its method too
        raise KitError(
            f"--config {file} sets {', '.join(clashes)}, which contradicts method {method} "
            f"{defined}; remove {', '.join(keys)} from the file (a run's config.json holds every "
            "setting, its own method's too)"
        )
    raise KitError(
        f"{', '.join(clashes)} contradicts method {method} {defined}: the run would be another "
        f"method recorded as {method}; drop the override{nearest}"
    )


def _teacher_dirs(paths: Sequence[str]) -> list[Path]:
    """Teacher run folders: given directly, or found as ``teacher-*`` inside a parent folder."""
    dirs: list[Path] = []
    resolved = [Path(os.path.realpath(p)) for p in paths]  # a looping link is named below
    for i, folder in enumerate(resolved):
        if folder in resolved[:i]:
            first = paths[resolved.index(folder)]
            same = f" (the same folder as {first})" if first != paths[i] else ""
            raise KitError(f"--teachers {paths[i]} is given twice{same}; give each folder once")
        parent = next((j for j, other in enumerate(resolved) if other in folder.parents), None)
        if parent is not None:
            raise KitError(
                f"--teachers {paths[i]} is inside --teachers {paths[parent]}, which already "
                "gives its runs; give the parent folder or the run folders, not both"
            )
    for path in map(Path, paths):
        if nowhere := dangling_link(path):
            raise KitError(f"--teachers {path} {nowhere}; point --teachers at the runs' folder")
        if not path.exists():
            raise KitError(f"--teachers {path} does not exist")
        if RunFolder(path).state() in ("started", "in_progress", "finished"):
            dirs.append(path)  # a run folder itself; load_run says if it is unfinished
        elif RunFolder(path.parent).state() in ("in_progress", "finished"):
            raise KitError(
                f"--teachers {path} is inside the run folder {path.parent}; pass {path.parent} "
                "itself (or the --out folder of `python -m g2d_lite teacher` that holds it)"
            )
        elif not any(path.glob("teacher-*")) and (found := _notebook_results(path)):
            kind, where = found
            raise KitError(
                f"--teachers {path} is {kind}, not teacher runs; {where.format(role='teacher')}"
                ": pass those, or train teachers with: python -m g2d_lite teacher --out "
                "runs/teachers"
            )
        else:
            dirs.extend(p for p in sorted(path.glob("teacher-*")) if p.is_dir())
    if not dirs:
        below = sorted({p.parent for path in map(Path, paths) for p in path.glob("*/teacher-*")})
        if below:  # a folder of runs given, the teachers' folder one level down
            listed = " or ".join(f"--teachers {shlex.quote(str(b))}" for b in below[:3])
            raise KitError(
                f"no teacher runs directly in {', '.join(paths)}, but one level down: give {listed}"
            )
        raise KitError(
            f"no teacher runs found in {list(paths)}; "
            "train them first: python -m g2d_lite teacher --out runs/teachers"
        )
    return dirs


def _recorded_model_cache(results: Path) -> str | None:
    """The model cache (ARTIFACT_DIR) an executed notebook in ``results`` ran with, if any."""
    for executed in sorted(results.glob("*.ipynb")):
        try:
            metadata = json.loads(executed.read_text())["metadata"]
            return str(metadata["papermill"]["parameters"]["ARTIFACT_DIR"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def _is_notebook_results(folder: Path) -> bool:
    """Whether ``folder`` is what the notebook runner writes for one notebook (its executed
    copy and metrics.json), which holds no runs: they are in its model cache."""
    return (folder / "metrics.json").is_file() and any(folder.glob("*.ipynb"))


def _notebook_results(path: Path) -> tuple[str, str] | None:
    """For a notebook's results folder, or a grid of them (``run --grid``), what it is and
    where its runs are, with a ``{role}`` placeholder (the model cache the notebooks record)."""
    if not path.is_dir():
        return None
    if _is_notebook_results(path):
        points = [path]
        kind = "a notebook's results folder"
    else:
        points = [p for p in sorted(path.iterdir()) if p.is_dir() and _is_notebook_results(p)]
        if not points:
            return None
        names = ", ".join(p.name for p in points[:3]) + (", ..." if len(points) > 3 else "")
        kind = f"a grid of notebook results ({names})"
    cache = next((c for p in points if (c := _recorded_model_cache(p))), None)
    where = (
        f"its runs are in the model cache {cache}, as {{role}}-<name>-<key> folders"
        if cache
        else "its runs are {role}-<name>-<key> folders in its model cache (ARTIFACT_DIR)"
    )
    return kind, where


def _teachers(
    paths: Sequence[str], out: str, modalities: Sequence[str], cfg: Config, other_data: bool
) -> dict[str, Any]:
    """One finished teacher per modality, from ``--teachers`` folders (never the student's own
    ``--out``, which the student would overwrite), trained on the student's dataset unless
    ``other_data`` (--allow-teacher-data-mismatch)."""
    teachers: dict[str, Any] = {}
    dirs = _teacher_dirs(paths)
    target = Path(out).resolve()
    for d in dirs:
        if target == d.resolve() or d.resolve() in target.parents:
            raise KitError(
                f"--out {out} is (inside) the teacher folder {d}; a student cannot write over its "
                "own teacher: choose another --out"
            )
    runs = [load_run(d) for d in dirs]
    for run in runs:
        if run.metrics.get("role") != "teacher":
            raise KitError(
                f"{run.run_dir} holds a {run.metrics.get('role')} run, not a teacher: --teachers "
                "takes the --out folder of `python -m g2d_lite teacher` (or the teacher-<modality> "
                "folders inside it); train teachers there first"
            )
        modality = run.metrics["modality"]
        if modality in teachers:
            raise KitError(
                f"two teachers for {modality!r} ({teachers[modality][0]} and {run.run_dir}); "
                "pass one folder per modality"
            )
        teachers[modality] = (run.run_dir, run.model)
    if not other_data:
        _check_teachers_dataset(runs, cfg)
    _check_no_teacher_missing({m: d for m, (d, _) in teachers.items()}, modalities)
    return {m: model for m, (_, model) in teachers.items()}


def _check_teachers_dataset(runs: Sequence[TrainResult], cfg: Config) -> None:
    """Teachers of another dataset: name the data settings they were trained with, as the
    student command line that uses them (the profile made for that dataset, when it matches)."""
    other = next((r for r in runs if r.config.dataset != cfg.dataset), None)
    if other is None:
        return
    theirs = other.config
    keys = ("dataset", "encoder", "data_options")
    profile = next(
        (
            name
            for name, values in PROFILES.items()
            if values.get("dataset") == theirs.dataset
            and all(getattr(resolve(name), k) == getattr(theirs, k) for k in keys)
        ),
        None,
    )
    if profile is not None:
        settings = [f"--profile {profile}"]
    else:
        settings = [f"dataset={theirs.dataset}"]
        if theirs.encoder != Config().encoder:
            settings.append(f"encoder={theirs.encoder}")
        if theirs.data_options:  # a dict literal, quoted for the shell
            settings.append(f'"data_options={dict(theirs.data_options)!r}"')
    if theirs.data_root is not None:
        settings.append(shlex.quote(f"data_root={theirs.data_root}"))
    raise KitError(
        f"the teachers in {other.run_dir} were trained on {theirs.dataset}, and this student's "
        f"data is {cfg.dataset}: give the student their data settings ({' '.join(settings)}), "
        f"or train teachers on {cfg.dataset}"
    )


def _check_no_teacher_missing(given: dict[str, Path], modalities: Sequence[str]) -> None:
    """Teachers for only some of the student's modalities: name the missing ones and where
    they are (beside the given run folders, as `teacher --out` writes them) or how to train
    them. Teachers of other modalities are left to the trainer, which names their dataset."""
    missing = [m for m in modalities if m not in given]
    if not missing or not set(given) <= set(modalities):
        return
    parents = sorted({d.parent for d in given.values()})
    found = [p / f"teacher-{m}" for p in parents for m in missing if (p / f"teacher-{m}").is_dir()]
    names = ", ".join(f"{m} from {d}" for m, d in given.items())
    quoted = [shlex.quote(str(p)) for p in (*found, parents[0])]  # pasted into a shell
    if found:
        fix = (
            f"add {' '.join(f'--teachers {f}' for f in quoted[:-1])}, or give the folder that "
            f"holds them all: --teachers {quoted[-1]}"
        )
    else:
        fix = f"train {'it' if len(missing) == 1 else 'them'}: " + "; ".join(
            f"python -m g2d_lite teacher --modality {m} --out {quoted[-1]}" for m in missing
        )
    raise KitError(
        f"teachers cover modalities {sorted(given)} but the student has {list(modalities)}: no "
        f"teacher for {', '.join(map(repr, missing))} (given: {names}); {fix}"
    )


def _summary(name: str, result: TrainResult) -> str:
    test = ", ".join(f"{k} {v:.2f}" for k, v in result.metrics["test"].items())
    epoch = result.metrics["selected_epoch"]
    return f"{name}: test {test} (epoch {epoch}, selected by {result.metrics['selection']})"


def _report(text: str) -> None:
    """Print once per job: under torchrun only rank 0 speaks."""
    if os.environ.get("RANK", "0") == "0":
        print(text)


def _run_teachers(args: argparse.Namespace) -> None:
    cfg = _config(args, None)
    data = load_data(cfg)
    names = data.info.modality_names
    if args.modality and args.modality not in names:
        raise KitError(
            f"--modality {args.modality!r} is not in {cfg.dataset}; it has {', '.join(names)}"
        )
    wanted = cfg.modalities if cfg.modalities is not None else names
    unknown = [m for m in wanted if m not in names]
    if unknown:  # before the first teacher trains, not after it (probe 31 CA03)
        raise KitError(
            f"modalities={list(wanted)} names {', '.join(map(repr, unknown))}, which "
            f"{cfg.dataset} does not have; it has {', '.join(names)}"
        )
    if args.modality and args.modality not in wanted:
        raise KitError(
            f"--modality {args.modality} contradicts modalities={list(wanted)}; give one of them"
            " (for a teacher, --modality alone is enough)"
        )
    _check_teachers_out(Path(args.out), names)
    modalities = [args.modality] if args.modality else list(wanted)
    if not args.no_resume:  # each folder a refusal would stop at, before the first trains
        for m in modalities:
            check_folder_takes(RunFolder(Path(args.out) / f"teacher-{m}"), cfg, "teacher", m, data)
    for m in modalities:
        result = train_teacher(cfg, data, m, Path(args.out) / f"teacher-{m}", not args.no_resume)
        _report(_summary(f"teacher {m}", result))


def _check_teachers_out(out: Path, modalities: Sequence[str]) -> None:
    """``teacher --out`` is a folder of teacher-<modality> runs (beside other runs of the
    command line, as in runs/): one that holds anything else (a notebook's results, the model
    cache, the kit's own files) is someone else's, and the runs would be written among them.
    (A training run itself, or a folder inside one, is refused by the run folder.)"""
    if not out.is_dir() or enclosing_run(out) is not None:
        return
    ours = {f"teacher-{m}" for m in modalities}
    others = sorted(
        p.name
        for p in out.iterdir()
        if p.name not in ours and (is_cache_entry(p) or not is_training_run(p))
    )
    if others:
        listed = ", ".join(others[:3]) + (", …" if len(others) > 3 else "")
        raise KitError(
            f"--out {out} holds files that are not this dataset's teacher runs ({listed}): "
            "teacher --out is a folder of teacher-<modality> runs; choose a new or empty folder"
        )


def _run_student(args: argparse.Namespace, method: str) -> None:
    cfg = _config(args, method)
    teachers = None
    if cfg.needs_teachers and not getattr(args, "teachers", None):
        if args.command == "joint":
            raise KitError(
                f"joint training takes no teachers, but balance={cfg.balance!r} with loss="
                f"{cfg.loss!r} needs them; for joint training with SMP run `python -m g2d_lite "
                "student --method joint+smp --teachers <teacher folder> --out <folder>`"
            )
        why = (
            "reconboost_init='teachers' starts it from teachers"
            if cfg.balance == "reconboost"
            else f"method {method!r} needs teachers"
        )
        raise KitError(
            f"{why}: pass --teachers RUN_DIR (the --out of `python -m g2d_lite teacher`)"
        )
    if not cfg.needs_teachers and getattr(args, "teachers", None):
        print(
            f"note: --teachers is not used: method {method!r} learns from no teachers",
            file=sys.stderr,
        )
    data = load_data(cfg)
    if cfg.needs_teachers:
        modalities = [m.name for m in data.info.modalities]
        allowed = args.allow_teacher_data_mismatch
        teachers = _teachers(args.teachers, args.out, modalities, cfg, allowed)
    result = train_student(
        cfg,
        data,
        teachers,
        Path(args.out),
        not args.no_resume,
        check_teacher_data=not args.allow_teacher_data_mismatch,
    )
    _report(_summary(method, result))


def _evaluated_checkpoint(folder: RunFolder, which: str) -> dict[str, Any]:
    """The checkpoint ``evaluate`` reads: a finished run's, after checking its files belong
    together; an unfinished run's latest, with a note saying so."""
    state = folder.state()
    if state == "absent":
        raise KitError(f"--run {folder.path} does not exist")
    if state in ("empty", "foreign"):
        if found := _notebook_results(folder.path):
            kind, where = found
            raise KitError(
                f"--run {folder.path} is {kind}, not a training run; "
                f"{where.format(role='teacher/student')}: give one of those to --run"
            )
        raise folder.not_a_run("give the folder a training command wrote with --out", "--run")
    if state == "finished":
        _, best = folder.load_finished()
        return best if which == "best" else folder.load_last()
    holder = folder.holder()
    if holder is not None:
        raise KitError(f"{folder.path} is being written by {holder.describe()}; {holder.advice()}")
    path = folder.file(BEST if which == "best" else LAST)
    if not folder.file(LAST).is_file() or not path.is_file():
        raise KitError(
            f"no epoch of the run in {folder.path} has finished yet (no {path.name}); run or "
            "resume it first"
        )
    checkpoint = load_checkpoint(path)
    print(
        f"note: {folder.path} is unfinished; evaluating its {which} checkpoint (epoch "
        f"{checkpoint['epoch']} of {checkpoint['config']['epochs']})",
        file=sys.stderr,
    )
    return checkpoint


def _run_evaluate(args: argparse.Namespace) -> None:
    folder = RunFolder(args.run)
    state = _evaluated_checkpoint(folder, args.checkpoint)
    cfg = folder.config()
    if args.data_root:
        if cfg.dataset == "synthetic":
            raise KitError(
                "--data-root does not apply to a synthetic run (its data are generated from the "
                "seed in config.json); drop it"
            )
        if not Path(args.data_root).is_dir():
            raise KitError(f"--data-root {args.data_root} is not a folder; give the moved cache's")
        cfg = cfg.replace(data_root=str(Path(args.data_root).resolve()))
    try:
        data = load_data(cfg)
    except MissingDatasetError as error:
        if args.data_root:
            raise
        source = (
            f"the run's data_root, from {folder.file('config.json')}"
            if cfg.data_root
            else "where G2D_LITE_DATA or the default points now (the run recorded no data_root)"
        )
        raise MissingDatasetError(
            f"{error} (the path is {source}; if the cache is elsewhere, pass --data-root <its "
            "folder> instead of building a new one)"
        ) from None
    if not args.allow_data_mismatch:
        check_same_data(
            state.get("data"),
            data_fingerprint(data),
            f"the run in {args.run}",
            "pass --allow-data-mismatch",
            f"the data at {cfg.data_root}" if cfg.data_root else "the data loaded now",
        )
    model = model_from_checkpoint(state)
    results = {split: evaluate(model, data[split]) for split in ("validation", "test")}
    print(json.dumps(results, indent=2))


STUDENT_ONLY = ("--method", "--teachers", "--allow-teacher-data-mismatch")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (also used to render ``--help``)."""
    parser = OneLineParser(
        prog=PROG,
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True)

    debug = debug_option()

    def training(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, parents=[debug])
        sub.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
        sub.add_argument("--config", type=path_argument, help="JSON file of config overrides")
        sub.add_argument(
            "--out",
            type=path_argument,
            required=True,
            help="run folder (resumed if it exists)",
        )
        sub.add_argument(
            "--no-resume", action="store_true", help="start over even if --out has a run"
        )
        sub.add_argument("overrides", nargs="*", help="config overrides as key=value")
        return sub

    teacher = training("teacher", "train unimodal teachers (one per modality, or --modality)")
    teacher.add_argument("--modality", help="train only this modality's teacher")
    training("joint", "train the joint baseline (CE only, no balancing)")
    student = training("student", "train a multimodal student (G²D by default)")
    student.add_argument("--method", default="g2d", choices=sorted(METHODS))
    student.add_argument(
        "--teachers",
        type=path_argument,
        action="append",
        default=[],
        metavar="DIR",
        help="a teacher run folder, or a folder of teacher-* runs (repeat for several)",
    )
    student.add_argument(
        "--allow-teacher-data-mismatch",
        action="store_true",
        help="accept teachers trained on other data than the student's (their runs record it)",
    )
    evaluation = commands.add_parser(
        "evaluate", help="evaluate a run's checkpoint", parents=[debug]
    )
    evaluation.add_argument("--run", type=path_argument, required=True, help="run folder")
    evaluation.add_argument("--checkpoint", default="best", choices=["best", "last"])
    evaluation.add_argument(
        "--data-root",
        type=path_argument,
        help="read the data from this cache folder instead of the run's data_root (a moved cache)",
    )
    evaluation.add_argument(
        "--allow-data-mismatch",
        action="store_true",
        help="evaluate even if the data rebuilt from config.json differ from the run's",
    )
    return parser


def _student_option_elsewhere(command: str, tokens: Sequence[str]) -> str | None:
    """The error for ``--method`` or ``--teachers`` given to ``joint`` or ``teacher``, whose
    method is fixed: it names the ``student`` command line that takes them."""
    at = [i for i, t in enumerate(tokens) if t.partition("=")[0] in STUDENT_ONLY]
    if command not in ("joint", "teacher") or not at:
        return None
    option, equals, method = tokens[at[0]].partition("=")
    if not equals and at[0] + 1 < len(tokens):
        method = tokens[at[0] + 1]
    known = option == "--method" and method in METHODS
    teachers = " --teachers <teacher folder>"
    if known and not resolve(method=method).needs_teachers:
        teachers = ""
    what = "the joint baseline (CE only)" if command == "joint" else "unimodal teachers"
    methods = "" if known else f" (methods: {', '.join(sorted(METHODS))})"
    return (
        f"{option} is not an option of `{command}`, which always trains {what}: for another "
        f"method run `python -m g2d_lite student --method {method if known else '<method>'}"
        f"{teachers} --out <folder>`{methods}"
    )


def _option_slip(tokens: Sequence[str]) -> str | None:
    """The error for a common slip of options, named with its fix: a config key typed as an
    option (``--epochs 1``), the notebook runner's ``-p NAME VALUE``, or a second value after
    ``--modality`` or ``--teachers``, which take one each (it was read as an override)."""
    keys = {f.name for f in fields(Config)}
    for i, token in enumerate(tokens):
        following = [t for t in tokens[i + 1 : i + 3] if not t.startswith("-")]
        name, equals, value = token.removeprefix("--").partition("=")
        key = name.replace("-", "_")
        if token.startswith("--") and key in keys:
            value = value if equals else (following[:1] or ["<value>"])[0]
            return (
                f"{token.partition('=')[0]} is not an option: config values are key=value "
                f"overrides; write {key}={value}"
            )
        if token == "-p":
            name, value = [*following, "<NAME>", "<VALUE>"][:2]
            return (
                "-p NAME VALUE is the notebook runner's (python -m g2d_lite.run); here config "
                f"values are key=value overrides: write {name.lower()}={value}"
            )
        left = tokens[i + 2] if i + 2 < len(tokens) else ""  # a second value after the option
        if token not in ("--modality", "--teachers") or not left or left[0] == "-" or "=" in left:
            continue
        if token == "--modality":
            return (
                f"--modality takes one modality ({left!r} is left over): drop --modality "
                "to train a teacher for every modality, or run once per modality"
            )
        joined = f"{tokens[i + 1]} {left}"
        if Path(joined).exists():  # an unquoted folder name with a space, split by the shell
            return (
                f"--teachers {tokens[i + 1]} {left}: {joined!r} is one folder, split at its "
                f"space by the shell; quote it: --teachers {shlex.quote(joined)}"
            )
        return (
            f"--teachers takes one folder per flag ({left!r} is left over): repeat "
            f"--teachers {left}, or give the folder that holds the teacher runs"
        )
    return None


@returns_status
def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the exit status (2 on bad input, one line on stderr)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may come anywhere, also after options (argparse takes one run of them)
    stray = [a for a in extra if a.startswith("-") or "=" not in a]
    words = [a for a in getattr(args, "overrides", ()) if "=" not in a]  # read as overrides
    tokens = list(sys.argv[1:] if argv is None else argv)
    if (stray or words) and hasattr(args, "overrides") and (slip := _option_slip(tokens)):
        parser.error(slip)
    if stray and (slip := _student_option_elsewhere(args.command, tokens)):
        parser.error(slip)
    if stray or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]

    def body() -> None:
        slots.pool()  # the environment is checked before the data are read
        wanted_jobs(1)  # a G2D_LITE_JOBS typo is refused, as the notebook runner does
        progress_enabled()
        if args.command == "teacher":
            _run_teachers(args)
        elif args.command == "joint":
            args.teachers, args.allow_teacher_data_mismatch = [], False
            _run_student(args, "joint")
        elif args.command == "student":
            _run_student(args, args.method)
        else:
            _run_evaluate(args)

    return run_command(PROG, body, args.debug)
