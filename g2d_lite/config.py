"""One flat configuration for every run, named profiles, and the named methods of the paper.

Flat on purpose: the same names work as papermill parameters, command-line ``key=value``
overrides and notebook sliders. Unknown keys are errors that list the valid ones.

Profiles:
- ``smoke``: the calibrated synthetic recipe (docs/method.md §6), about a minute per
  notebook on 2 CPU cores; what CI and the committed notebooks run.
- ``classroom``: the same data, 45 epochs (a wider margin between methods, a few minutes).
- ``paper``: the official CREMA-D recipe (SGD 1e-3, momentum 0.9, weight decay 1e-4,
  StepLR 200/0.1, 300 epochs, batch 16, late fusion, SMP epochs 0–150, ResNet-18), for a GPU.
- ``avmnist``: AV-MNIST-lite on a CPU: the smoke recipe with MLP encoders on 28×28 pooled,
  per-utterance standardised spectrograms (a few minutes for every method; without the
  standardisation the audio networks memorise the training speakers, benchmarks/RESULTS.md §4c).

Teachers keep their last epoch by default (``teacher_selection``): SMP ranks modalities by the
teachers' confidence on *training* batches, and an early, validation-selected teacher has not yet
fitted its training set, which can flip which encoder SMP freezes (notebook 02 shows this).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import json
import re
import sys
import typing
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from g2d_lite.data import DATASETS
from g2d_lite.losses import loss_weights
from g2d_lite.methods import UPDATE_RULES
from g2d_lite.models import ENCODERS, FUSIONS
from g2d_lite.typed_fields import coerce

# SMP and OGM rescale the standard step's gradients; the comparison methods (g2d_lite.methods)
# replace the step with their own update rule.
BALANCERS: tuple[str, ...] = ("none", "smp", "ogm", "ogm_ge", *UPDATE_RULES)
LOSSES: tuple[str, ...] = ("ce", "feature", "logit", "g2d")
LOSS_ALIASES: dict[str, str] = {"joint": "ce", "umt": "feature"}
SELECTIONS: tuple[str, ...] = ("validation", "test", "last")
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")
TEACHER_CACHE: tuple[str, ...] = ("auto", "never")
STEP_MODES: tuple[str, ...] = ("eager", "sync_free")
DATA_ON_DEVICE: tuple[str, ...] = ("auto", "always", "never")


@dataclass(frozen=True)
class Config:
    """Everything that decides a training run. ``None`` means "derive it" (see each comment)."""

    # data
    dataset: str = "synthetic"  # a name in g2d_lite.data.DATASETS
    data_root: str | None = None  # prepared cache folder (None: the dataset's default location)
    data_options: dict[str, Any] = field(default_factory=dict)  # loader knobs, e.g. synthetic ones
    modalities: tuple[str, ...] | None = None  # subset of the dataset's modalities (None: all)
    # model
    encoder: str = "auto"  # resnet18 | small_cnn | mlp | auto (small CNN, MLP for vectors)
    fusion: str = "late"  # late | sum | concat | film | gated
    # loss (docs/method.md §1): the variant sets feature/logit weights unless given explicitly
    loss: str = "g2d"  # ce (joint) | feature (UMT) | logit | g2d
    task_weight: float = 1.0
    feature_weight: float | None = None  # None: from the loss variant (alpha)
    logit_weight: float | None = None  # None: from the loss variant (beta)
    temperature: float = 1.0
    # balancing (docs/method.md §2-3)
    balance: str = "smp"  # none | smp | ogm | ogm_ge | agm | mla | reconboost | mmpareto | pmr
    balance_start_epoch: int = 0
    balance_end_epoch: int | None = None  # inclusive; None: epochs // 2 (official 0-150 of 300)
    smp_scope: str = "conv"  # conv (faithful) | all
    smp_mode: str = "zero"  # zero (faithful) | skip
    smp_schedule: str = "batch"  # batch (faithful) | staged
    smp_suppression: str = "complete"  # complete (G2D) | partial
    smp_alpha: float = 1.0  # partial suppression strength
    smp_stage_epochs: tuple[int, ...] | None = None  # staged schedule stage lengths
    ogm_alpha: float = 0.8  # OGM-GE's CREMA-D value
    ogm_noise: str = "both"  # OGM-GE noise: both (official) | modulated (only damped modalities)
    # comparison methods (g2d_lite/methods/*, defaults from each one's official code)
    agm_alpha: float = 1.0  # AGM modulation strength (official --alpha default)
    agm_ratio_cap: float = 10.0  # cap on optimal − current ratio (official CREMA-D script)
    mla_gradient_modification: bool = True  # MLA's shared-head gradient projection
    reconboost_boost_epochs: int = 4  # epochs boosting one modality per stage (README)
    reconboost_rectify_epochs: int = 4  # epochs of global rectification per stage (README)
    reconboost_w1: float = 5.0  # boosting loss: weight of the modality's own CE (README)
    reconboost_w2: float = 1.0  # boosting loss: weight of the reconcilement term (README)
    reconboost_consolidation: float = 0.5  # memory consolidation weight (official --alpha)
    reconboost_init: str = "scratch"  # scratch | teachers (the README's --use_pretrain)
    mmpareto_gamma: float = 1.5  # MMPareto gradient scale (official gamma)
    pmr_alpha: float = 2.0  # PMR prototype-loss weight (released CREMA-D concat runs)
    pmr_momentum: float = 0.0  # PMR prototype momentum (released CREMA-D runs)
    # optimisation
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_step: int | None = 20  # StepLR step in epochs (None: constant learning rate)
    lr_gamma: float = 0.1
    epochs: int = 30
    batch_size: int = 64
    drop_last: bool = True
    # run
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool | None = None  # bf16 autocast; None: on for CUDA
    channels_last: bool | None = None  # None: on for CUDA with CNN encoders
    compile: bool = False  # torch.compile the model
    step_mode: str = "eager"  # eager | sync_free (SMP/OGM on the device, NaN read per epoch)
    deterministic: bool = True  # deterministic kernels (bit-exact CPU reruns); off: cuDNN autotune
    selection: str = "validation"  # validation (honest) | test (paper protocol) | last
    teacher_selection: str = "last"  # the checkpoint a teacher keeps (see below)
    eval_every: int = 1  # evaluate validation and test every N epochs (and at the last)
    teacher_cache: str = "auto"  # auto: cache teacher outputs for deterministic inputs | never
    num_workers: int = 0  # DataLoader workers for on-disk datasets
    data_on_device: str = "auto"  # auto (on a GPU, if it fits) | always | never: the train split
    progress: bool = True  # progress bars (G2D_LITE_PROGRESS=0 turns them off everywhere)
    tensorboard: bool = (
        False  # also log each epoch's row to run_dir/tensorboard (needs tensorboard)
    )

    def __post_init__(self) -> None:
        for name, hint in _field_types().items():
            value = coerce(name, getattr(self, name), hint)
            object.__setattr__(self, name, value)  # frozen: set once, here
            _check_range(name, value)
        _check_choice("dataset", self.dataset, tuple(DATASETS))
        _check_choice("encoder", self.encoder, ENCODERS + ("auto",))
        _check_choice("fusion", self.fusion, FUSIONS)
        _check_choice("loss", self.loss, LOSSES + tuple(LOSS_ALIASES))
        _check_choice("balance", self.balance, BALANCERS)
        _check_choice("selection", self.selection, SELECTIONS)
        _check_choice("teacher_selection", self.teacher_selection, SELECTIONS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("teacher_cache", self.teacher_cache, TEACHER_CACHE)
        _check_choice("step_mode", self.step_mode, STEP_MODES)
        _check_choice("data_on_device", self.data_on_device, DATA_ON_DEVICE)
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"unknown device {self.device!r}; valid: auto, cpu, cuda, cuda:N, mps")
        if self.data_root is not None and not self.data_root.strip():
            raise ValueError(
                f"data_root {self.data_root!r} is empty, which would read the working folder as "
                "the cache: give the prepared cache's folder, or leave data_root out (None) for "
                "the dataset's default location"
            )
        if self.modalities is not None and len(set(self.modalities)) < len(self.modalities):
            twice = sorted({m for m in self.modalities if self.modalities.count(m) > 1})
            raise ValueError(f"modalities lists {', '.join(map(repr, twice))} more than once")
        self._check_window()

    def _check_window(self) -> None:
        """A balancing window must overlap training, or SMP/OGM silently never acts."""
        if self.balance == "none":
            return
        end = (
            f"balance_end_epoch ({self.balance_end_epoch})"
            if self.balance_end_epoch is not None
            else f"balance_end_epoch (by default epochs // 2 = {self.window_end})"
        )
        if self.window_end < self.balance_start_epoch:
            raise ValueError(
                f"{end} comes before balance_start_epoch ({self.balance_start_epoch}); the "
                f"{self.balance} window would be empty"
            )
        if self.balance_start_epoch >= self.epochs:
            raise ValueError(
                f"balance_start_epoch ({self.balance_start_epoch}) is after the last epoch "
                f"({self.epochs - 1}): {self.balance} would never act; lower it, or use a method "
                "without balancing"
            )

    @property
    def loss_variant(self) -> str:
        """The canonical loss name (aliases resolved)."""
        return LOSS_ALIASES.get(self.loss, self.loss)

    @property
    def distillation_weights(self) -> tuple[float, float]:
        """(feature, logit) KD weights: the loss variant's, unless set explicitly."""
        feature, logit = loss_weights(self.loss_variant)
        if self.feature_weight is not None:
            feature = self.feature_weight
        if self.logit_weight is not None:
            logit = self.logit_weight
        return feature, logit

    @property
    def needs_teachers(self) -> bool:
        """Whether a student under this config learns from (or is prioritised by, or starts
        from) teachers."""
        return (
            any(w > 0 for w in self.distillation_weights)
            or self.balance == "smp"
            or (self.balance == "reconboost" and self.reconboost_init == "teachers")
        )

    @property
    def window_end(self) -> int:
        """Last epoch (inclusive) of the SMP/OGM window."""
        return self.epochs // 2 if self.balance_end_epoch is None else self.balance_end_epoch

    def replace(self, **overrides: Any) -> Config:
        """A copy with ``overrides`` applied; unknown keys raise with the valid list."""
        _check_keys(overrides)
        return dataclasses.replace(self, **overrides)

    def updated(self, **overrides: Any) -> Config:
        """:meth:`replace`, except that ``data_options`` are merged into the current ones: an
        override of one loader knob keeps the profile's others (``audio_norm`` stays when you
        set ``in_memory``)."""
        options = overrides.get("data_options")
        if isinstance(options, Mapping):
            overrides = {**overrides, "data_options": {**self.data_options, **options}}
        return self.replace(**overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, as stored in run folders and checkpoints."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Stable (sorted) JSON, written as a run folder's config.json."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Config:
        """Rebuild a config from :meth:`to_dict` output (unknown keys are errors)."""
        if not isinstance(values, Mapping):
            raise TypeError(
                f"Config.from_dict takes a mapping of settings (e.g. json.load of a run's "
                f"config.json), got {type(values).__name__}"
            )
        _check_keys(values)
        return cls(**values)


class FrozenConfigError(dataclasses.FrozenInstanceError):
    """An assignment to a Config field: configs are values, so a change makes a new one."""


def _refuse_assignment(self: Config, name: str, value: Any) -> None:
    valid = sorted(f.name for f in fields(Config))
    if name not in valid:
        raise FrozenConfigError(f"Config has no key {name!r}; valid keys: {', '.join(valid)}")
    raise FrozenConfigError(
        f"a Config cannot be changed in place (cfg.{name} = ...): make a new one with "
        f"cfg.replace({name}={value!r}) or resolve(profile, {name}={value!r})"
    )


Config.__setattr__ = _refuse_assignment  # type: ignore[method-assign, assignment]


DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _at_least(low: float) -> tuple[Callable[[float], bool], str]:
    return (lambda v: v >= low), f"at least {low:g}"


def _above(low: float) -> tuple[Callable[[float], bool], str]:
    return (lambda v: v > low), f"above {low:g}"


# Valid ranges of the numeric fields (None, where a field allows it, is always valid).
RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "epochs": _at_least(1),
    "batch_size": _at_least(1),
    "eval_every": _at_least(1),
    "lr_step": _at_least(1),
    "seed": ((lambda v: 0 <= v < 2**31), "in 0 .. 2**31 - 1"),
    "balance_start_epoch": _at_least(0),
    "balance_end_epoch": _at_least(0),
    "num_workers": _at_least(0),
    "lr": _above(0),
    "temperature": _above(0),
    "task_weight": _at_least(0),
    "feature_weight": _at_least(0),
    "logit_weight": _at_least(0),
    "weight_decay": _at_least(0),
    "smp_alpha": _at_least(0),
    "ogm_alpha": _at_least(0),
    "momentum": ((lambda v: 0 <= v < 1), "in [0, 1)"),
    "lr_gamma": ((lambda v: 0 < v <= 1), "in (0, 1]"),
    "smp_stage_epochs": _at_least(1),
}


@functools.cache
def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(Config)


def _check_range(name: str, value: Any) -> None:
    if name not in RANGES or value is None:
        return
    valid, description = RANGES[name]
    for item in value if isinstance(value, tuple) else (value,):
        if not valid(item):
            raise ValueError(f"{name} must be {description}, got {item!r}")


# Settings a unimodal teacher never reads: teachers trained under configs that differ only in these
# are the same teacher (the artifact store reuses them).
STUDENT_ONLY: frozenset[str] = frozenset(
    {
        "modalities",
        "fusion",
        "loss",
        "task_weight",
        "feature_weight",
        "logit_weight",
        "temperature",
        "balance",
        "balance_start_epoch",
        "balance_end_epoch",
        "smp_scope",
        "smp_mode",
        "smp_schedule",
        "smp_suppression",
        "smp_alpha",
        "smp_stage_epochs",
        "ogm_alpha",
        "ogm_noise",
        "agm_alpha",
        "agm_ratio_cap",
        "mla_gradient_modification",
        "reconboost_boost_epochs",
        "reconboost_rectify_epochs",
        "reconboost_w1",
        "reconboost_w2",
        "reconboost_consolidation",
        "reconboost_init",
        "mmpareto_gamma",
        "pmr_alpha",
        "pmr_momentum",
        "selection",
        "teacher_cache",
    }
)

# Settings that change speed, logging or where files live, never a run's numbers.
RUNTIME_ONLY: frozenset[str] = frozenset(
    {"progress", "num_workers", "device", "data_root", "tensorboard"}
)


def recipe(cfg: Config, role: str) -> str:
    """The settings a run's numbers depend on, except its seed, written as the ones that differ
    from the defaults (``"epochs=3; lr=0.01"``; ``"defaults"`` for none): runs with one recipe
    are seeds of one experiment, and a table may average them; runs with two may not."""
    ignored = RUNTIME_ONLY | {"seed"} | (STUDENT_ONLY if role == "teacher" else frozenset())
    default = Config().to_dict()
    changed = [
        f"{key}={json.dumps(value, sort_keys=True, default=str)}"
        for key, value in cfg.to_dict().items()
        if key not in ignored and value != default[key]
    ]
    return "; ".join(changed) or "defaults"


PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {},
    "classroom": {"epochs": 45, "lr_step": 30},
    "paper": {
        "dataset": "cremad",
        "encoder": "resnet18",
        "lr": 1e-3,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "lr_step": 200,
        "lr_gamma": 0.1,
        "epochs": 300,
        "batch_size": 16,
        "drop_last": False,
        "balance_end_epoch": 150,
        "selection": "test",
        "num_workers": 8,
        "deterministic": False,
    },
    "avmnist": {
        "dataset": "avmnist",
        "encoder": "mlp",
        "data_options": {"audio_pool": 4, "audio_norm": "utterance"},
    },
}


# The paper's methods, its comparison methods and its ablations as config overrides
# (docs/method.md §3 and §5). The comparison methods train with
# their own objectives (loss "ce": no distillation); MLA and ReconBoost need their own heads.
class ReadOnlyTable(Mapping[str, Any]):
    """A mapping that refuses edits: a notebook cell changing ``METHODS["g2d"]`` would change
    what every later ``method="g2d"`` trains, and label that recipe G²D."""

    def __init__(self, values: Mapping[str, Any], fix: str) -> None:
        self._values, self._fix = dict(values), fix

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key]
        except (KeyError, TypeError):  # a typo (METHODS["G2D"]) is named with the valid keys
            names = [str(k) for k in self._values]
            near = difflib.get_close_matches(str(key).strip().lower(), names, n=1, cutoff=0.5)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise KeyError(f"no {key!r} here{hint}; the keys are {', '.join(names)}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return repr(self._values)

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError(f"this table is read-only: {self._fix}")

    def __delitem__(self, key: str) -> None:
        raise TypeError(f"this table is read-only: {self._fix}")


_CHANGE_A_METHOD = (
    "change a run, not the method, e.g. cfg.replace(**METHODS['g2d'], temperature=4.0)"
)
_METHOD_OVERRIDES: dict[str, dict[str, Any]] = {
    "joint": {"loss": "ce", "balance": "none"},
    "joint+smp": {"loss": "ce", "balance": "smp"},
    "ogm": {"loss": "ce", "balance": "ogm"},
    "ogm_ge": {"loss": "ce", "balance": "ogm_ge"},
    "umt": {"loss": "feature", "balance": "none"},
    "umt+smp": {"loss": "feature", "balance": "smp"},
    "logit_kd": {"loss": "logit", "balance": "none"},
    "g2d_no_smp": {"loss": "g2d", "balance": "none"},
    "g2d": {"loss": "g2d", "balance": "smp"},
    "g2d_partial": {"loss": "g2d", "balance": "smp", "smp_suppression": "partial"},
    "agm": {"loss": "ce", "balance": "agm"},
    "mla": {"loss": "ce", "balance": "mla", "fusion": "shared"},
    "reconboost": {"loss": "ce", "balance": "reconboost", "fusion": "boost"},
    "mmpareto": {"loss": "ce", "balance": "mmpareto"},
    "pmr": {"loss": "ce", "balance": "pmr"},
}
METHODS: Mapping[str, Mapping[str, Any]] = ReadOnlyTable(
    {name: ReadOnlyTable(v, _CHANGE_A_METHOD) for name, v in _METHOD_OVERRIDES.items()},
    _CHANGE_A_METHOD,
)


def require_config(cfg: Any, where: str) -> None:
    """A dict or a profile name where a :class:`Config` belongs is named with how to build one."""
    if not isinstance(cfg, Config):
        known = isinstance(cfg, str) and cfg in PROFILES
        example = f"resolve({cfg!r})" if known else "resolve(profile, **settings)"
        raise TypeError(
            f"{where} takes a Config, got {type(cfg).__name__} {str(cfg)[:60]!r}: build one with "
            f"g2d_lite.config.{example} (or Config.from_dict(values))"
        )


# The balances under which a balance-specific setting is read (by prefix, longest first).
READ_UNDER: dict[str, tuple[str, ...]] = {
    "smp_scope": ("smp", "ogm", "ogm_ge"),
    "ogm_noise": ("ogm_ge",),
    "smp_": ("smp",),
    "ogm_": ("ogm", "ogm_ge"),
    **{f"{rule}_": (rule,) for rule in UPDATE_RULES},
}


def unused_settings(cfg: Config, role: str = "student") -> list[str]:
    """Settings changed from their defaults that this run never reads: they are recorded in
    config.json all the same, so a comparison that varies one compares equal runs."""
    defaults = {f.name: f.default for f in fields(Config) if f.default is not dataclasses.MISSING}
    notes = []
    for name, default in defaults.items():
        value = getattr(cfg, name)
        if value == default:
            continue
        where = next((READ_UNDER[p] for p in READ_UNDER if name.startswith(p)), None)
        if name == "momentum" and cfg.optimizer != "sgd":
            why = f"it is an SGD setting, and optimizer={cfg.optimizer} ignores it"
        elif role == "student" and where is not None and cfg.balance not in where:
            why = f"only balance={' or '.join(where)} reads it, and this run has {cfg.balance}"
        elif name == "smp_alpha" and cfg.balance == "smp" and cfg.smp_suppression != "partial":
            why = "only smp_suppression=partial (method g2d_partial) reads it"
        else:
            continue
        notes.append(f"{name}={value!r} has no effect: {why}")
    return notes


def method_name(values: Mapping[str, Any] | Config) -> str | None:
    """The named method a config's values are (the most specific of those that match), so a
    message can say "method g2d" rather than list the internal settings that differ."""
    if isinstance(values, Config):  # a config itself, as a notebook holds it
        values = values.to_dict()
    matching = [
        (len(overrides), name)
        for name, overrides in METHODS.items()
        if all(values.get(k, getattr(Config, k, None)) == v for k, v in overrides.items())
    ]
    return max(matching)[1] if matching else None


def method_clashes(method: str, overrides: Mapping[str, Any]) -> list[str]:
    """The overrides (as ``key=value``) that change a setting ``method`` is defined by: with
    them the run would be another method recorded under ``method``'s name (g2d with loss=ce)."""
    defining = METHODS[method]
    return [
        f"{k}={overrides[k]!r}" for k in defining if overrides.get(k, defining[k]) != defining[k]
    ]


def resolve(profile: str = "smoke", method: str | None = None, **overrides: Any) -> Config:
    """Profile defaults, then a named method's settings, then explicit overrides.

    ``None`` overrides are ignored, so notebook parameters can default to "take the profile's".
    """
    _check_choice("profile", profile, tuple(PROFILES))
    values: dict[str, Any] = dict(PROFILES[profile])
    if method is not None:
        _check_choice("method", method, tuple(METHODS))
        values.update(METHODS[method])
    given = {k: v for k, v in overrides.items() if v is not None}
    check_profile_dataset(profile, given.get("dataset"))
    return Config.from_dict(values).updated(**given)


def check_profile_dataset(profile: str, dataset: Any) -> None:
    """A profile that carries one dataset's loader options cannot load another dataset: name
    the profile that fits instead of the options the person never typed."""
    home = PROFILES.get(profile, {}).get("dataset")
    if "data_options" not in PROFILES.get(profile, {}) or dataset in (None, home):
        return
    others = [p for p, v in PROFILES.items() if v.get("dataset") == dataset] or [
        p for p, v in PROFILES.items() if "dataset" not in v
    ]
    raise ValueError(
        f"profile {profile!r} is made for {home} (its data_options "
        f"{PROFILES[profile]['data_options']} are {home}'s); for dataset={dataset!r} choose "
        f"the profile {' or '.join(others)}"
    )


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Parse command-line ``key=value`` pairs; values are Python literals or plain strings.

    A key given twice keeps the last value, and says so (it is often a typo).
    """
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        raw = raw.strip()  # "epochs= 1": the spaces around a value mean nothing
        if not sep or not key.strip():
            raise ValueError(f"override {pair!r} is not of the form key=value")
        if key.strip() in parsed:
            print(f"note: {key.strip()} is given twice; the last value counts", file=sys.stderr)
        _check_typography(key.strip(), raw)
        if re.fullmatch(r"[+-]?0+[0-9]+", raw):  # "epochs=01" means 1 (Python refuses it)
            parsed[key.strip()] = int(raw)
            continue
        try:
            parsed[key.strip()] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            if raw.strip()[:1] in ("{", "[", "("):
                raise ValueError(
                    f"{key.strip()}={raw} is not a Python literal: check that its brackets and "
                    "quotes are closed; values are read, not run, so write numbers out (1000, not "
                    "10**3) and quote strings inside dicts, lists and tuples"
                ) from None
            parsed[key.strip()] = raw
            continue
        _note_repeated_dict_keys(key.strip(), raw)
    _check_keys(parsed)
    return parsed


# Characters that a PDF or a word processor puts where code has ASCII ones.
_TYPOGRAPHIC = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u201c": '"', "\u201d": '"',
    "\u2018": "'", "\u2019": "'", "\u00d7": "*", "\u00a0": " ",
}  # fmt: skip


def _check_typography(name: str, raw: str) -> None:
    """A value pasted from a paper (a Unicode minus, curly quotes) reads as text: name it."""
    found = [c for c in dict.fromkeys(raw) if c in _TYPOGRAPHIC]
    if found:
        named = ", ".join(
            f"{c!r} (U+{ord(c):04X}, {unicodedata.name(c, '?').lower()}) in place of "
            f"{_TYPOGRAPHIC[c]!r}"
            for c in found
        )
        raise ValueError(
            f"{name}={raw} contains {named}, typographic characters (pasted from a PDF or a "
            "word processor?); type the plain ASCII ones"
        )


def _note_repeated_dict_keys(name: str, raw: str) -> None:
    """``data_options={'n_train': 64, 'n_train': 96}`` keeps the last value: say so."""
    for node in ast.walk(ast.parse(raw, mode="eval")):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            for key in sorted({k for k in keys if keys.count(k) > 1}, key=str):
                print(f"note: {name} gives {key!r} twice; the last value counts", file=sys.stderr)


def _check_choice(name: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid choices: {', '.join(valid)}")


# Options of the commands that people put into config files; each is named with its flag.
COMMAND_OPTIONS = {
    "profile": "choose the profile with --profile NAME (in Python, the profile argument of "
    "setup or resolve); the other keys override its values",
    "method": "choose the method with --method NAME (in Python, cfg.replace(**METHODS[name]))",
    "out": "give the run folder with --out FOLDER (in Python, the run_dir argument)",
    "teachers": "give the teacher runs with --teachers FOLDER",
    "modality": "give the teacher's modality with --modality NAME",
}


def _check_keys(values: Mapping[str, Any]) -> None:
    valid = {f.name for f in fields(Config)}
    unknown = sorted(set(values) - valid)
    option = next((k for k in COMMAND_OPTIONS if k in unknown), None)
    if option is not None:  # a config file's values go on top of a profile and a command
        others = [k for k in unknown if k != option]
        raise ValueError(
            f"'{option}' is not a config key: {COMMAND_OPTIONS[option]}"
            + (
                f"; unknown too: {others} (valid keys: {', '.join(sorted(valid))})"
                if others
                else ""
            )
        )
    if unknown and (fix := _near_key(unknown[0], values[unknown[0]], valid)):
        raise ValueError(f"unknown config key {unknown[0]!r}: {fix}")
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; valid keys: {', '.join(sorted(valid))}")


def _near_key(key: str, value: Any, valid: set[str]) -> str | None:
    """The fix for a key that is a valid one spelled as the notebooks spell it (``EPOCHS``) or
    as a dotted path into a dict field (``data_options.n_train``), else None."""
    if key.lower() in valid and key != key.lower():
        return (
            f"config keys are lower case: write {key.lower()}={value!r} ({key} is the notebook "
            f"runner's parameter, python -m g2d_lite.run -p {key} ...)"
        )
    head, dot, inner = key.partition(".")
    if dot and head in valid and inner:
        return f"a key inside {head} is written {head}={{{inner!r}: {value!r}}}"
    return None
