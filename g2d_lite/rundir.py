"""The run folder: its layout, its lock, its states and the order its files are written in.

Layout::

    config.json           the run's config, written once the run is accepted (never on a refusal)
    checkpoints/last.pt   the commit point: after epoch e, everything a resume needs, including
                          the selected epoch's weights
    checkpoints/best.pt   the selected epoch's weights, derived from last.pt
    history.csv           one row per finished epoch (derived from last.pt)
    steps.csv             per-step SMP/OGM log, written when the run finishes
    metrics.json          written last, only by a finished run: its presence means "finished"
    .lock                 held while a process writes the folder

Why this order holds whatever instant a kill lands at: ``last.pt`` is written first each epoch
and carries the selected epoch and its weights, so every other file can be rebuilt from it.
A kill before its rename leaves the previous epoch intact; a kill after it leaves ``best.pt`` or
``history.csv`` one epoch behind, which :meth:`RunFolder.repair` rewrites from ``last.pt`` on
resume. ``metrics.json`` comes after everything else and records both checkpoints' epochs and
sizes, and :meth:`RunFolder.load_finished` checks them, so a finished run's best weights, last
weights and metrics always agree. Starting over (``--no-resume``) deletes ``metrics.json``
first, so a half-rewritten folder is never mistaken for a finished one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from g2d_lite.atomic import atomic_write_text, is_temporary, remove_stale_temporaries
from g2d_lite.checkpoint import load_checkpoint, save_checkpoint
from g2d_lite.config import Config
from g2d_lite.data.cache import file_sha256
from g2d_lite.errors import KitError, dangling_link
from g2d_lite.locks import (
    LOCK,
    FolderLockedError,
    LockHolder,
    holder,
    locked,
    special_file_kind,
)

CONFIG = "config.json"
HISTORY = "history.csv"
STEPS = "steps.csv"
METRICS = "metrics.json"
CHECKPOINTS = "checkpoints"
LAST = f"{CHECKPOINTS}/last.pt"
BEST = f"{CHECKPOINTS}/best.pt"
# Every file a run writes; anything else in a non-empty folder makes it someone else's.
_DAMAGED_CONFIG = (
    "the run folder was edited or damaged: restore the file, or retrain into it with --no-resume"
)
_REWRITE = "delete metrics.json and rerun the same command to rewrite the run's files"
RUN_FILES = (CONFIG, HISTORY, STEPS, METRICS, LOCK, CHECKPOINTS, "tensorboard")
# Config fields that may differ when resuming (they do not change the numbers).
RESUMABLE_CHANGES = frozenset({"progress", "num_workers", "device", "data_root", "tensorboard"})
STATES = ("absent", "empty", "foreign", "started", "in_progress", "finished")
# Keys every config.json the kit writes holds (Config fields since the first release).
_KIT_KEYS = frozenset({"dataset", "loss", "balance", "epochs", "seed"})


def is_training_run(folder: Path) -> bool:
    """Whether ``folder`` holds a training run's files (a notebook's output folder does not)."""
    return (folder / CONFIG).is_file() or (folder / CHECKPOINTS).is_dir()


# The model cache's entries: <role>-<label>-<key>, the key 12 hex digits of the run's hash
# (g2d_lite.store); the command line's run folders are named by the user.
_CACHE_ENTRY = re.compile(r"(teacher|student)-.+-[0-9a-f]{12}")


def is_cache_entry(folder: Path) -> bool:
    """Whether ``folder`` is an entry of a model cache (what store.py trains into)."""
    return _CACHE_ENTRY.fullmatch(folder.name) is not None and is_training_run(folder)


def enclosing_run(path: Path) -> Path | None:
    """The training run folder that is ``path`` or holds it, if any. ``..`` is resolved first:
    ``../sibling`` from inside a run is beside the run, not in it."""
    path = Path(path).expanduser().resolve()
    for folder in (path, *path.parents):
        if is_training_run(folder):
            return folder
    return None


class RunFolderError(KitError):
    """The folder cannot be used as asked; the message says why and what to do instead."""


class RunLockedError(RunFolderError, FolderLockedError):
    """Another live process is writing the folder."""


class RunFolder:
    """One training run's folder (see the module docstring for its layout and write order)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()

    def file(self, name: str) -> Path:
        """The path of one of the run's files (``CONFIG``, ``LAST``, ...)."""
        return self.path / name

    # ------------------------------------------------------------------ state
    def state(self) -> str:
        """One of :data:`STATES`, read from which files exist."""
        if nowhere := dangling_link(self.path):
            raise RunFolderError(f"{self.path} {nowhere}; point --out at a real folder")
        if not self.path.exists():
            return "absent"
        if not self.path.is_dir():
            raise RunFolderError(f"{self.path} is a file, not a run folder: give a folder path")
        # a writer killed in its first write leaves only a temporary: still this kit's folder
        names = {p.name for p in self.path.iterdir() if not is_temporary(p.name)}
        if not names:
            return "empty"
        self._check_layout()
        if not names & set(RUN_FILES) - {LOCK}:
            return "empty" if names <= {LOCK} else "foreign"
        if CONFIG not in names and (self.file(LAST).is_file() or self.file(BEST).is_file()):
            raise RunFolderError(  # written first, removed last: the kit never leaves this
                f"{self.path} is a g2d-lite run whose config.json is missing (its checkpoints "
                "are there), so nothing can check them against a command: restore config.json "
                f"from a copy, or delete {self.path} (or choose a new --out) and retrain"
            )
        if not self._is_kit_run(names):
            return "foreign"
        if self.file(METRICS).is_file():
            return "finished"
        if self.file(LAST).is_file():
            return "in_progress"
        if self.file(CONFIG).is_file():
            return "started"
        return "in_progress" if self.file(CHECKPOINTS).is_dir() else "foreign"

    def _is_kit_run(self, names: set[str]) -> bool:
        """Files with the run's names that another tool wrote are not a run: a config.json
        without the kit's keys (a model folder's), or a metrics.json without the config.json a
        run writes first (a notebook's output folder)."""
        if CONFIG not in names:
            return METRICS not in names
        try:
            values = json.loads(self.file(CONFIG).read_text())
        except (OSError, ValueError):
            return True  # damaged, not foreign: config() names the damage
        return not isinstance(values, dict) or set(values) >= _KIT_KEYS  # a list: damage

    def _check_layout(self) -> None:
        """A folder where the run keeps a file (or a file where it keeps ``checkpoints/``) is
        damage, not a state: say so rather than read the folder as unfinished or half-written.
        So is a link in place of one of its files or of ``checkpoints/``: the run would read,
        or be taken for, another folder's files (the folder itself may be a link)."""
        for name in (CONFIG, HISTORY, STEPS, METRICS, LOCK, CHECKPOINTS, LAST, BEST):
            link = self.file(name)
            if link.is_symlink():
                raise RunFolderError(
                    f"{link} is a symbolic link to {os.readlink(link)}, where the run keeps "
                    "its own file or folder: it reads and writes no other place's; "
                    "choose a new --out (or replace the link by what it points to)"
                )
        for name in (CONFIG, HISTORY, STEPS, METRICS, LOCK, LAST, BEST):
            kind = special_file_kind(self.file(name))
            if kind is not None:
                raise RunFolderError(
                    f"{self.file(name)} is {kind} where the run keeps its {Path(name).name} file "
                    "(reading it would hang): remove it (or restore the file) and rerun"
                )
            if self.file(name).is_dir():
                raise RunFolderError(
                    f"{self.file(name)} is a folder where the run keeps its {Path(name).name} "
                    "file: move that folder away (or restore the file) and rerun"
                )
        checkpoints = self.file(CHECKPOINTS)
        if checkpoints.exists() and not checkpoints.is_dir():
            raise RunFolderError(
                f"{checkpoints} is a file where the run keeps its checkpoints folder: move it "
                "away and rerun"
            )

    def check_writable(self) -> None:
        """Refuse, before anything is deleted, a folder the run could not write back into."""
        for path in (self.path, self.file(CHECKPOINTS)):
            if path.is_dir() and not os.access(path, os.W_OK):
                raise RunFolderError(
                    f"permission denied for {path} (read-only): choose a folder you can write "
                    "to, or fix its rights"
                )

    def check_usable(self) -> str:
        """The state, or an error when the path is a file, someone else's folder, or a folder
        inside another run (whose files it would be mistaken for, or hide among)."""
        outer = enclosing_run(self.path.resolve().parent)
        if outer is not None:
            raise RunFolderError(
                f"{self.path} is inside the training run {outer}; choose a folder outside it "
                "for --out"
            )
        state = self.state()
        if state == "foreign" and (inside := self._teacher_runs_inside()):
            raise RunFolderError(
                f"{self.path} is a folder of teacher runs ({', '.join(inside)}), where a run "
                "cannot write its own files: choose another --out (give this folder to a "
                "student as --teachers)"
            )
        if state == "foreign":
            raise RunFolderError(
                f"{self.path} is not empty and holds no g2d-lite run: choose a new or empty folder "
                "for --out (the kit will not write run files among someone else's)"
            )
        return state

    def _teacher_runs_inside(self) -> list[str]:
        """The teacher-<modality> runs in the folder ``teacher --out`` wrote."""
        return sorted(p.name for p in self.path.glob("teacher-*") if (p / CONFIG).is_file())

    # ------------------------------------------------------------------ lock
    def holder(self) -> LockHolder | None:
        """The live process writing this folder, or ``None``."""
        return holder(self.path)

    @contextlib.contextmanager
    def writing(self) -> Iterator[list[str]]:
        """Hold the folder's lock while the body writes it; yields notes for the user (a stale
        lock recovered). A second writer gets :class:`RunLockedError` naming the holder."""
        self.check_usable()
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            with locked(self.path, "another --out") as notes:
                yield notes
        except FolderLockedError as error:
            raise RunLockedError(str(error)) from None

    # ------------------------------------------------------------------ writes
    def remove_temporaries(self) -> list[Path]:
        """Temporaries that killed writers left (call only while holding the lock)."""
        return remove_stale_temporaries(self.path) + remove_stale_temporaries(
            self.file(CHECKPOINTS)
        )

    def finished_summary(self) -> str:
        """What a finished run here is, in a few words (role, modality, recipe, test score), for
        the note that starting over discards it."""
        try:
            metrics = json.loads(self.file(METRICS).read_text())
            role = f"{metrics['role']}" + (
                f" ({metrics['modality']})" if metrics.get("modality") else ""
            )
            metric = metrics.get("metric", "acc")
            score = f"test {metric} {float(metrics['test'][metric]):.2f}"
            recipe = metrics.get("recipe") or "defaults"
        except (OSError, ValueError, KeyError, TypeError):
            return "finished run"
        return f"finished {role} run ({recipe}; {score})"

    def discard(self) -> None:
        """Remove an earlier run's files, ``metrics.json`` first (the folder then never counts
        as finished while it is rewritten). Only the run's own files are touched."""
        self.check_writable()
        for name in (METRICS, LAST, BEST, STEPS, HISTORY, CONFIG):
            self.file(name).unlink(missing_ok=True)

    def write_config(self, text: str) -> None:
        """The run's config.json (skipped when it already holds exactly ``text``)."""
        path = self.file(CONFIG)
        if not (path.is_file() and path.read_text() == text):
            atomic_write_text(path, text)

    def commit_epoch(
        self, state: dict[str, Any], best: dict[str, Any] | None, history: list[dict[str, Any]]
    ) -> None:
        """One epoch's writes, in the order that keeps the folder consistent: ``last.pt`` (the
        commit point), then ``best.pt`` when it changed, then ``history.csv``."""
        self._check_still_here()
        save_checkpoint(self.file(LAST), state)
        if best is not None:
            save_checkpoint(self.file(BEST), best)
        self.write_table(HISTORY, history)

    def _check_still_here(self) -> None:
        """The folder was moved or deleted while the run wrote it: stop rather than recreate the
        old path without its config.json."""
        if not self.file(CONFIG).is_file():
            raise RunFolderError(
                f"{self.path} (or its config.json) disappeared while the run was writing it, "
                "moved or deleted by someone; the epochs so far went with the folder: resume "
                "the run with --out set to where it is now"
            )

    def read_table(self, name: str) -> pd.DataFrame:
        """A CSV table of the run. An empty steps table is a run that logged no steps (no SMP);
        an empty or garbled file is otherwise named, not passed on as a pandas error."""
        path = self.file(name)
        try:
            return pd.read_csv(path)
        except pd.errors.EmptyDataError:
            if name == STEPS:
                return pd.DataFrame()
            raise RunFolderError(f"{path} is empty: it was truncated; {_REWRITE}") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as error:
            reason = str(error).strip().splitlines()[0]
            raise RunFolderError(
                f"{path} is not a readable CSV table ({reason}): it was edited or damaged; "
                f"{_REWRITE}"
            ) from None

    def write_table(self, name: str, rows: list[dict[str, Any]]) -> None:
        """A CSV table, atomically."""
        atomic_write_text(self.file(name), pd.DataFrame(rows).to_csv(index=False))

    def finish(
        self, history: list[dict[str, Any]], steps: list[dict[str, Any]], metrics: dict[str, Any]
    ) -> None:
        """The finished run's tables, then ``metrics.json`` last, recording both checkpoints."""
        self._check_still_here()
        self.write_table(HISTORY, history)
        self.write_table(STEPS, steps)
        record = dict(metrics, checkpoints=self._checkpoint_record(metrics["selected_epoch"]))
        atomic_write_text(self.file(METRICS), json.dumps(record, indent=2))

    def _checkpoint_record(self, selected: int) -> dict[str, Any]:
        record: dict[str, Any] = {"best": {"epoch": selected}, "last": {}}
        for key, name in (("best", BEST), ("last", LAST)):
            path = self.file(name)
            if path.is_file():
                record[key].update(bytes=path.stat().st_size, sha256=file_sha256(path))
        return record

    # ------------------------------------------------------------------ reads
    def read_config(self) -> dict[str, Any]:
        """config.json as a dict, or a clear error when it is damaged."""
        try:
            values = json.loads(self.file(CONFIG).read_text())
        except FileNotFoundError:
            raise RunFolderError(
                f"{self.path} holds no config.json: it is not a run folder"
            ) from None
        except ValueError as error:
            raise RunFolderError(
                f"{self.file(CONFIG)} is not valid JSON ({error}); {_DAMAGED_CONFIG}"
            ) from None
        if not isinstance(values, dict):
            raise RunFolderError(
                f"{self.file(CONFIG)} holds a {type(values).__name__}, not a config; "
                f"{_DAMAGED_CONFIG}"
            )
        return values

    def config(self) -> Config:
        """config.json as a :class:`Config`; a key or value it cannot hold is named with the
        file it came from (the user typed none of it)."""
        try:
            return Config.from_dict(self.read_config())
        except (ValueError, TypeError) as error:
            raise RunFolderError(f"{self.file(CONFIG)}: {error}; {_DAMAGED_CONFIG}") from None

    def not_a_run(self, fix: str, flag: str = "") -> RunFolderError:
        """The error for a folder that holds no run. The folder ``teacher --out`` wrote holds
        one run per modality (teacher-<modality>/): those are named instead of ``fix``."""
        where = f"{flag} {self.path}" if flag else str(self.path)
        inside = self._teacher_runs_inside()
        if inside:
            return RunFolderError(
                f"{where} is a folder of teacher runs ({', '.join(inside)}): name one of them, "
                f"e.g. {shlex.quote(str(self.path / inside[0]))}"
            )
        outer = enclosing_run(self.path.resolve().parent) if self.path.exists() else None
        if outer is not None:  # its checkpoints/ folder, say: the run is the folder around it
            return RunFolderError(f"{where} is inside the run {outer}: give {outer} itself")
        return RunFolderError(f"{where} holds no g2d-lite run (no config.json): {fix}")

    def load_last(self, map_location: str | torch.device = "cpu") -> dict[str, Any]:
        """The commit point of an unfinished or finished run."""
        if not self.file(LAST).is_file():  # deleted by hand: the run cannot resume without it
            raise RunFolderError(
                f"{self.file(LAST)} is missing from this run; last.pt holds the run itself, so "
                "retrain the run with --no-resume"
            )
        return load_checkpoint(self.file(LAST), map_location)

    def repair(self, last: dict[str, Any], best: dict[str, Any] | None) -> None:
        """On resume: rewrite ``best.pt`` and ``history.csv`` from ``last.pt`` (``best`` is what
        best.pt must hold, or ``None`` before any selection). Always, not only when they are
        behind it: a best.pt swapped in from another run at the same epoch would otherwise be
        kept, and then recorded in metrics.json as this run's. The writes are byte-identical
        when nothing was wrong."""
        if best is not None:
            save_checkpoint(self.file(BEST), best)
        self.write_table(HISTORY, last["history"])

    def _check_derived_files(self, best: dict[str, Any], last: dict[str, Any]) -> None:
        """config.json, history.csv and steps.csv agree with the checkpoints they were written
        with: a hand edit (a fusion changed, a column dropped) would otherwise be read as the
        run's own, while metrics.json and the weights are checksummed."""
        self.config()  # a key or value no Config holds is named first
        ignored = RESUMABLE_CHANGES | {"data_options"}
        differ = config_differences(self.read_config(), best.get("config", {}), ignored)
        if differ:
            raise RunFolderError(
                f"{self.file(CONFIG)} differs from the run's checkpoint in {', '.join(differ)}: "
                f"{_DAMAGED_CONFIG}"
            )
        for name in (HISTORY, STEPS):
            if not self.file(name).is_file():
                raise RunFolderError(
                    f"{self.file(name)} is missing from this finished run: it was deleted or "
                    f"moved; put it back, or {_REWRITE}"
                )
        for name, key in ((HISTORY, "history"), (STEPS, "steps")):
            table, recorded = self.read_table(name), pd.DataFrame(last.get(key, []))
            if table.empty and recorded.empty:
                continue
            try:
                pd.testing.assert_frame_equal(table, recorded, check_dtype=False)
            except AssertionError:
                raise RunFolderError(
                    f"{self.file(name)} is not the {key} table its checkpoint records (columns "
                    f"or values differ): it was edited or damaged; {_REWRITE}"
                ) from None

    def load_finished(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(metrics, best checkpoint)`` of a finished run, after checking that metrics.json,
        best.pt and last.pt belong together and that no one is rewriting the folder."""
        holder = self.holder()
        if holder is not None:
            raise RunLockedError(
                f"{self.path} is being written by {holder.describe()}; {holder.advice()}"
            )
        state = self.state()
        if state in ("absent", "empty", "foreign"):
            raise self.not_a_run(
                "name a folder a g2d-lite command trained into (its --out), or move this one "
                "out of the way"
            )
        if state != "finished":
            raise RunFolderError(
                f"{self.path} holds no finished run (no metrics.json); run or resume it first"
            )
        try:
            metrics = json.loads(self.file(METRICS).read_text())
        except ValueError as error:
            raise RunFolderError(
                f"{self.file(METRICS)} is not valid JSON ({error}): it was truncated or edited; "
                "rerun the same training command, which rewrites it from the finished run"
            ) from None
        record = metrics.get("checkpoints") if isinstance(metrics, dict) else None
        if not isinstance(record, dict):
            raise RunFolderError(
                f"{self.file(METRICS)} has no record of its checkpoints (written by an older "
                "g2d-lite?); retrain the run with --no-resume"
            )
        for key, name in (("last", LAST), ("best", BEST)):
            path = self.file(name)
            expected = record.get(key, {})
            fix = (
                "rerun the same training command, which rewrites best.pt from last.pt"
                if name == BEST
                else self._last_pt_fix()
            )
            if not path.is_file():
                raise RunFolderError(f"{path} is missing from this finished run; {fix}")
            if path.stat().st_size != expected.get("bytes") or file_sha256(path) != expected.get(
                "sha256"
            ):
                raise RunFolderError(
                    f"{path} and {METRICS} do not belong together (metrics.json records another "
                    f"size or SHA-256): one of them was replaced or damaged; {fix}"
                )
        last = load_checkpoint(self.file(LAST))
        self._check_identity(metrics, last)
        self._check_metrics_against_history(metrics, last)
        best = load_checkpoint(self.file(BEST))
        self._check_derived_files(best, last)
        if best.get("epoch") != metrics.get("selected_epoch"):
            raise RunFolderError(
                f"{self.file(BEST)} holds epoch {best.get('epoch')} but metrics.json selected "
                f"epoch {metrics.get('selected_epoch')}; retrain the run with --no-resume"
            )
        return metrics, best

    def _last_pt_fix(self) -> str:
        """What to do about a last.pt that metrics.json does not record: an earlier checkpoint of
        this very run (a backup restored) resumes with the same command, which ends where the
        run ended; anything else means training it again."""
        try:
            last = load_checkpoint(self.file(LAST))
            ours = last.get("config") == self.read_config()
        except Exception:  # noqa: BLE001 - unreadable or foreign: the retrain advice below
            ours = False
        if ours and isinstance(last.get("epoch"), int):
            return (
                f"last.pt holds epoch {last['epoch']} of this run (an earlier checkpoint, "
                "restored?): rerun the same training command, which resumes from it and "
                "rewrites metrics.json"
            )
        return "last.pt holds the run itself, so retrain the run with --no-resume"

    def _check_identity(self, metrics: dict[str, Any], last: dict[str, Any]) -> None:
        """What metrics.json says the run is (its role, modality, dataset, seed, epochs) is what
        its checkpoint holds: a hand-edited claim must not make a joint run pass as a teacher, or
        the audio teacher as the visual one."""
        cfg = last.get("config") if isinstance(last.get("config"), dict) else {}
        info = last.get("info") if isinstance(last.get("info"), dict) else {}
        held = {
            "role": last.get("role"),
            "modality": last.get("modality"),
            "dataset": info.get("name"),
            "seed": cfg.get("seed"),
            "epochs": cfg.get("epochs"),
        }
        for key, value in held.items():
            if metrics.get(key) != value:
                raise RunFolderError(
                    f"{self.file(METRICS)} says {key} {metrics.get(key)!r}, but the run's "
                    f"checkpoint holds {key} {value!r}: the file was edited or comes from another "
                    "run; delete it and rerun the same command to rewrite it from the finished run"
                )

    def _check_metrics_against_history(self, metrics: dict[str, Any], last: dict[str, Any]) -> None:
        """The reported scores are the history's at the selected epoch: a hand-edited number in
        metrics.json is refused, not reported as the run's."""
        epoch = metrics.get("selected_epoch")
        history = {r.get("epoch"): r for r in last.get("history", [])}
        claims = [(split, epoch, metrics.get(split)) for split in ("validation", "test")]
        for name, protocol in (metrics.get("protocols") or {}).items():
            if isinstance(protocol, dict) and "test" in protocol:  # each protocol's epoch, too
                claims.append((f"{name} protocol's test", protocol.get("epoch"), protocol["test"]))
        for what, at, scores in claims:
            prefix = "val" if what == "validation" else "test"
            recorded = _prefixed(history[at], prefix) if at in history else None
            if recorded != scores:
                raise RunFolderError(
                    f"{self.file(METRICS)}: the {what} scores are not the run's own (its history "
                    f"at epoch {at} says {recorded}): the file was edited or damaged; delete "
                    "it and rerun the same command to rewrite it from the finished epochs"
                )


def config_differences(
    a: Mapping[str, Any], b: Mapping[str, Any], ignored: set[str] | frozenset[str]
) -> list[str]:
    """The config keys (outside ``ignored``) whose values differ, compared as JSON with sorted
    keys: dicts that differ only in key order are the same."""

    def same(value: Any) -> str:
        return json.dumps(value, sort_keys=True, default=str)

    return sorted(k for k in (a.keys() | b.keys()) - ignored if same(a.get(k)) != same(b.get(k)))


def _prefixed(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    """``{"acc": …}`` from a history row's ``{"test/acc": …}`` columns."""
    return {k[len(prefix) + 1 :]: v for k, v in row.items() if k.startswith(prefix + "/")}
