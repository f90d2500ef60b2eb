"""What the check cells of the exercise notebooks call (``notebooks/exercises/``).

A failing check should teach: :func:`expect_close` says what was expected, what came back and,
when the answer equals what a known mistake would give, names that mistake. A check must also
mean something: the checks compare answers with the kit's own implementation, so
:func:`without_kit` refuses an answer that calls the kit (``g2d_lite.…``) instead of computing.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import pandas as pd
import torch

T = TypeVar("T")
KIT = "g2d_lite"
NO_MATCH = "no common mistake gives this value; go through the formula in the text step by step"


class KitCallError(AssertionError):
    """An answer called the kit's implementation, which the checks use as the reference."""


def _kit_function(frame: FrameType) -> str | None:
    """``module.qualname`` of a frame running kit code (other than this module), else None."""
    module = frame.f_globals.get("__name__", "")
    in_kit = module != __name__ and (module == KIT or module.startswith(KIT + "."))
    if not in_kit or frame.f_code.co_name == "<module>":  # importing a kit module is no call
        return None
    return f"{module}.{frame.f_code.co_qualname}"


def _public(name: str) -> bool:
    """Whether a qualified name is one a student could have called on purpose (not a private
    helper, a dunder method or a generated function)."""
    last = name.rsplit(".", 1)[-1]
    return not last.startswith("_") and "<" not in name


class KitReplacedError(AssertionError):
    """An answer cell replaced a kit function that the checks use as the reference."""


class SetupNotRunError(AssertionError):
    """A check cell ran in a kernel where the notebook's setup cell has not (a restart)."""


_ORIGINALS: dict[tuple[str, str], object] = {}  # (module, name) -> the kit's own object
_EMPTY_CELL = object()


def _insides(function: object) -> tuple[object, ...]:
    """What a function runs with besides its identity: its code, defaults and closure cells.
    An answer can swap these in place (``expect_close.__code__ = ...``) and keep the object."""
    cells = []
    for cell in getattr(function, "__closure__", None) or ():
        try:
            cells.append(cell.cell_contents)
        except ValueError:  # a cell not yet filled
            cells.append(_EMPTY_CELL)
    kwdefaults = getattr(function, "__kwdefaults__", None)
    return (
        getattr(function, "__code__", None),
        getattr(function, "__defaults__", None),
        dict(kwdefaults) if kwdefaults else None,
        tuple(cells),
    )


def _same_insides(function: object, remembered: tuple[object, ...]) -> bool:
    """Whether ``function`` still runs what it did when remembered (cells compared by identity:
    their contents may be tensors)."""
    code, defaults, kwdefaults, cells = _insides(function)
    return (
        code is remembered[0]
        and defaults == remembered[1]
        and kwdefaults == remembered[2]
        and len(cells) == len(remembered[3])
        and all(a is b for a, b in zip(cells, remembered[3], strict=True))
    )


_INSIDES: dict[int, tuple[object, tuple[object, ...]]] = {}  # id -> (function, its insides)


def _remember_insides(function: object) -> None:
    if id(function) not in _INSIDES:
        _INSIDES[id(function)] = (function, _insides(function))


def _changed_inside(function: object) -> bool:
    """Whether a remembered function's code, defaults or closure was replaced in place."""
    held = _INSIDES.get(id(function))
    return held is not None and held[0] is function and not _same_insides(function, held[1])


def _kit_modules() -> list[tuple[str, Any]]:
    prefix = KIT + "."
    return [(n, m) for n, m in list(sys.modules.items()) if n == KIT or n.startswith(prefix)]


def _remember_kit() -> None:
    """Note every public function and class of the kit modules loaded so far (the setup cell
    loads them before any answer cell runs), to tell later whether one was replaced."""
    for module_name, module in _kit_modules():
        for name, value in list(vars(module).items()):
            own = getattr(value, "__module__", None) == module_name
            # this module's private helpers too: every comparison goes through _close
            shown = not name.startswith("_") or (
                module_name == __name__ and not name.startswith("__")
            )
            if own and callable(value) and shown:
                _remember_insides(_ORIGINALS.setdefault((module_name, name), value))


# What the checks and the kit compute with: an answer that sets torch.allclose to "always
# True" (or F.mse_loss to a constant) would pass every check, so these are guarded as well.
_GUARDED_LIBRARIES = ("torch", "torch.nn.functional", "math")


def _remember_libraries() -> None:
    for module_name in _GUARDED_LIBRARIES:
        for name, value in list(vars(sys.modules[module_name]).items()):
            if callable(value) and not name.startswith("_") and not inspect.isclass(value):
                _remember_insides(_ORIGINALS.setdefault((module_name, name), value))


def _intact(current: object, original: object) -> bool:
    """Whether ``current`` is still ``original``, or torch's own wrapper of it: the first
    optimiser step imports ``torch._dynamo``, which rewraps ``torch.manual_seed`` (a wrapper whose
    code lives in torch's files, unlike one an answer cell defines)."""
    if current is original:
        return not _changed_inside(current)
    code = getattr(current, "__code__", None)
    return (
        getattr(current, "__wrapped__", None) is original
        and code is not None
        and Path(code.co_filename).is_relative_to(Path(torch.__file__).parent)
    )


def check_kit_intact() -> None:
    """Refuse to check while a kit function the checks compare with has been replaced (say, an
    answer cell's ``smp.teacher_confidence = teacher_confidence``): the check would compare the
    answer with itself. Code set on defeating the checks in the student's own kernel can; this
    catches the shortcut, and says how to undo it."""
    replaced = [
        f"{module}.{name}"
        for (module, name), value in _ORIGINALS.items()
        if module in sys.modules and not _intact(getattr(sys.modules[module], name, None), value)
    ]
    if replaced:
        whose = "the kit's " if replaced[0].startswith(KIT) else ""
        raise KitReplacedError(
            f"{whose}{replaced[0]} was replaced in this kernel (by a cell that assigns to it?)"
            ". The checks compare your answers with the kit using it, so they cannot run: "
            "remove that assignment, restart the kernel and run all cells again."
        )
    _remember_kit()


_SEALED: list[tuple[Mapping[str, Any], dict[str, object]]] = []  # (a notebook's globals, names)


def seal_checkers(namespace: Mapping[str, Any]) -> None:
    """Note the modules, functions and classes in a notebook's globals (the checkers, the setup
    cell's ``kit_*`` references): the setup cell calls this last, so that
    :func:`checkers_intact` can tell whether an answer rebound one of them. One notebook per
    kernel: a new seal replaces the last."""
    names = {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_")
        and (inspect.ismodule(value) or inspect.isfunction(value) or inspect.isclass(value))
    }
    _SEALED[:] = [(namespace, names)]
    for value in names.values():
        if inspect.isfunction(value):
            _remember_insides(value)


def checkers_intact(namespace: Mapping[str, Any]) -> None:
    """Refuse to check while a name the check cells call was rebound in the sealed notebook's
    globals (``expect_close = lambda *a, **k: None``, say): every check would pass. Each check
    cell imports this afresh and calls it first, and :func:`without_kit` calls it again after
    the answer ran, so an answer can rebind nothing unnoticed. A notebook whose setup cell has
    not run in this kernel is told to run it (not left to a NameError in the check)."""
    names = next((n for sealed, n in _SEALED if sealed is namespace), None)
    if names is None and "_ih" in namespace:  # a notebook's globals (IPython's input history)
        raise SetupNotRunError(
            "this notebook's setup cell (its first code cell) has not run in this kernel (was "
            "it restarted?): run that cell, or Run All, then this check again"
        )
    rebound = [name for name, value in (names or {}).items() if namespace.get(name) is not value]
    if rebound:
        raise KitReplacedError(
            f"{rebound[0]} was rebound in this notebook (by a cell that assigns to it or defines"
            " it?). The checks call it, so they cannot run: remove that assignment, restart the "
            "kernel and run all cells again."
        )
    altered = [name for name, value in (names or {}).items() if _changed_inside(value)]
    if altered:
        raise KitReplacedError(
            f"{altered[0]}'s code was replaced in this notebook (by a cell that assigns to its "
            "__code__, defaults or closure?). The checks call it, so they cannot run: remove "
            "that assignment, restart the kernel and run all cells again."
        )
    check_kit_intact()


def without_kit(function: Callable[..., T]) -> Callable[..., T]:
    """``function`` wrapped so that a call fails with :class:`KitCallError` if it ran any kit
    code: however the kit was reached (an import, an alias, a helper that calls it)."""

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> T:
        __tracebackhide__ = True  # IPython shows the check's line, not this wrapper
        check_kit_intact()
        called: list[str] = []  # the first kit function reached; if private, a public one

        def profile(frame: FrameType, event: str, arg: Any) -> None:
            if event != "call" or (called and _public(called[-1])):
                return
            name = _kit_function(frame)
            if name and (not called or _public(name)):
                called.append(name)

        inputs = _snapshot([*args, *kwargs.values()])
        previous, previous_threads = sys.getprofile(), threading.getprofile()
        sys.setprofile(profile)
        threading.setprofile(profile)  # an answer may run the kit in a thread it starts
        failure: Exception | None = None
        try:
            result = function(*args, **kwargs)
        except NotImplementedError as error:  # not written yet: this answer, or one it calls
            stub = _raised_in(error)
            if stub in (None, function.__name__):
                raise
            raise AssertionError(
                f"{function.__name__} calls your {stub}, which is not written yet (it still "
                f"raises NotImplementedError): write {stub} first, then run this check again"
            ) from error
        except AssertionError:  # the answer's own assert
            raise
        except Exception as error:
            failure = error
        finally:
            removed = sys.getprofile() is not profile
            sys.setprofile(previous)
            threading.setprofile(previous_threads)
        if removed:
            raise KitReplacedError(
                f"{function.__name__} changed sys.setprofile, which the checks use to see whether"
                " an answer calls the kit: remove that call, restart the kernel and run all "
                "cells again."
            )
        checkers_intact(getattr(function, "__globals__", {}))
        if called:
            raise KitCallError(
                f"{function.__name__} calls the kit's own {called[-1]}. The checks compare your "
                f"code with the kit, so an answer that calls it proves nothing: write "
                f"{function.__name__} with torch (and pandas) only."
            )
        if failure is not None:
            raise AssertionError(_failed_call(function.__name__, failure, kwargs)) from failure
        _refuse_changed_inputs(function.__name__, inputs)
        return result

    return guarded


def _raised_in(error: BaseException) -> str | None:
    """The name of the function whose frame raised ``error`` (the innermost one)."""
    tb = error.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_name


def _failed_call(name: str, error: Exception, kwargs: Mapping[str, Any]) -> str:
    """What a check says when an answer raised: the error and the simple settings of the call
    (``task='regression'``, say), which are often what the answer did not handle."""
    settings = ", ".join(
        f"{k}={v!r}" for k, v in kwargs.items() if isinstance(v, str | int | float | bool)
    )
    where = f" (called with {settings})" if settings else ""
    return (
        f"{name} raised {type(error).__name__}: {error}{where}. Read the text on what "
        f"{name} must do in this case; the error above points at the line"
    )


def _snapshot(values: Sequence[Any]) -> list[tuple[Any, Any]]:
    """(object, copy) of every tensor and DataFrame among ``values`` and inside their dicts,
    lists and tuples: what an answer could change in place. Modules are left out on purpose:
    some answers must edit gradients."""
    found: list[tuple[Any, Any]] = []
    for value in values:
        if isinstance(value, torch.Tensor):
            found.append((value, value.detach().clone()))
        elif isinstance(value, pd.DataFrame):
            found.append((value, value.copy(deep=True)))
        elif isinstance(value, dict):  # its entries too: rho[m] = 0 spoils the caller's dict
            found.append((value, dict(value)))
            found += _snapshot(list(value.values()))
        elif isinstance(value, list | tuple):
            found += _snapshot(list(value))
    return found


def _same_entry(now: Any, before: Any) -> bool:
    """The same object, or an equal plain value (tensors are compared on their own)."""
    if now is before:
        return True
    if isinstance(now, torch.Tensor) or isinstance(before, torch.Tensor):
        return False
    try:
        return bool(now == before)
    except (TypeError, ValueError):  # e.g. arrays, whose == is elementwise
        return False


def _unchanged(value: Any, copy_: Any) -> bool:
    if isinstance(value, pd.DataFrame):
        return value.equals(copy_)
    if isinstance(value, dict):
        return value.keys() == copy_.keys() and all(_same_entry(value[k], copy_[k]) for k in copy_)
    now = value.detach()
    if now.shape != copy_.shape:
        return False
    same = now == copy_
    if now.is_floating_point():
        same |= now.isnan() & copy_.isnan()
    return bool(same.all())


def _refuse_changed_inputs(name: str, inputs: list[tuple[Any, Any]]) -> None:
    """An answer that edits its arguments in place would pass its own check and spoil the
    notebook's data for the next one, which then blames a right answer. Tensors are put back;
    a DataFrame cannot be, so the message says to rerun the cell that made it."""
    changed = [(value, copy_) for value, copy_ in inputs if not _unchanged(value, copy_)]
    if not changed:
        return
    restored = all(isinstance(value, torch.Tensor | dict) for value, _ in changed)
    for value, copy_ in changed:
        if isinstance(value, torch.Tensor):
            with torch.no_grad():
                if value.shape == copy_.shape:
                    value.copy_(copy_)
                else:  # reshaped in place (unsqueeze_, t_): copy_ would broadcast or fail
                    value.set_(copy_.clone())
        elif isinstance(value, dict):
            value.clear()
            value.update(copy_)
    undo = (
        "the inputs were put back as they were"
        if restored
        else "rerun the cells above that made its input tables"
    )
    raise AssertionError(
        f"{name} (or an answer of yours it calls) changed its input in place (an in-place "
        "operation such as sub_, +=, or an assignment into it). Compute on new values instead "
        f"(x - y, not x.sub_(y)); {undo}."
    )


def _as_tensors(value: Any) -> dict[str, torch.Tensor] | torch.Tensor:
    if isinstance(value, Mapping):
        return {str(k): torch.as_tensor(v, dtype=torch.float64) for k, v in value.items()}
    return torch.as_tensor(value, dtype=torch.float64)


def _close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    try:
        a, b = _as_tensors(a), _as_tensors(b)
    except (TypeError, ValueError, RuntimeError):  # not numbers: a wrong answer, not a crash
        return False
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or set(a) != set(b):
            return False
        return all(_close(a[k], b[k], rtol, atol) for k in a)
    if a.shape != b.shape:
        return False
    return bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def describe(value: Any) -> str:
    """A short, readable rendering of a number, a tensor or a dict of them for feedback."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        values = [f"{v:.4g}" for v in value.detach().flatten()[:4].tolist()]
        more = ", …" if value.numel() > 4 else ""
        return f"a tensor of shape {tuple(value.shape)} [{', '.join(values)}{more}]"
    if isinstance(value, torch.Tensor | float | int) and not isinstance(value, bool):
        number = float(value)
        return "nan" if math.isnan(number) else f"{number:.6g}"
    return repr(value)


def expect_close(
    actual: Any,
    expected: Any,
    what: str,
    likely: Mapping[str, Any] | None = None,
    hint: str = NO_MATCH,
    accept: Sequence[Any] = (),
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> None:
    """Raise an AssertionError unless ``actual`` is close to ``expected`` or to one of the
    values in ``accept`` (other answers that count as right).

    ``actual`` and ``expected`` are numbers, tensors or flat dicts of them (keys must agree;
    NaN equals NaN; an ``expected`` dict of dicts is a TypeError). ``likely`` maps the cause of
    a common mistake to the value that mistake returns (None when it does not apply here); the
    message names the first match, else a result less precise than ``expected``, else ``hint``:
    also when the keys or the shape are wrong.
    """
    __tracebackhide__ = True
    _refuse_nested(expected)
    if actual is None and expected is not None:
        raise AssertionError(
            f"{what}: got None, so the function returned nothing: end it with `return ...` "
            "(an answer that only prints, or changes a copy, returns None)"
        )
    if (
        isinstance(expected, Mapping)
        and isinstance(actual, Mapping)
        and not any(isinstance(v, torch.Tensor) for v in expected.values())
        and any(isinstance(v, torch.Tensor) for v in actual.values())
    ):
        raise AssertionError(
            f"{what}: return plain Python floats, one per key (tensor.item()), got tensors "
            f"{describe(actual)}"
        )
    if _holds_bool(actual) and not _holds_bool(expected):
        raise AssertionError(
            f"{what}: return numbers, got True/False {describe(actual)}: write 1.0 and 0.0 "
            "(float(flag)); the kit's functions refuse a boolean where a number goes"
        )
    if isinstance(expected, torch.Tensor) and not isinstance(actual, torch.Tensor):
        raise AssertionError(
            f"{what}: expected a tensor, got {type(actual).__name__} {describe(actual)}: return "
            "the torch result itself (no .item() or float()), so gradients can flow through it"
        )
    if any(_close(actual, value, rtol, atol) for value in (expected, *accept)):
        return
    cause = _cause(actual, expected, likely or {}, hint, rtol, atol)
    tensors = isinstance(actual, torch.Tensor) and isinstance(expected, torch.Tensor)
    if tensors and actual.shape != expected.shape:
        raise AssertionError(
            f"{what}: expected a tensor of shape {tuple(expected.shape)}, "
            f"got shape {tuple(actual.shape)}{_because(cause)}"
        )
    if (
        isinstance(expected, Mapping)
        and not isinstance(actual, Mapping)
        and hasattr(actual, "to_dict")
    ):
        raise AssertionError(
            f"{what}: return a dict (one value per key), got a {type(actual).__name__}: convert "
            "it with .to_dict()"
        )
    if isinstance(expected, Mapping) and (
        not isinstance(actual, Mapping) or set(map(str, actual)) != set(map(str, expected))
    ):
        got = sorted(map(str, actual)) if isinstance(actual, Mapping) else describe(actual)
        raise AssertionError(
            f"{what}: expected one value for each of {sorted(map(str, expected))}, got {got}"
            + _because(cause)
        )
    wanted, got = _side_by_side(expected, actual)
    raise AssertionError(f"{what}: expected {wanted}, got {got}.\nLikely cause: {cause}")


def _refuse_nested(expected: Any) -> None:
    """A check written with a dict of dicts would call even a right answer different (an inner
    dict is no number), so it is refused for the instructor who wrote it, not the student."""
    if not isinstance(expected, Mapping):
        return
    inner = [key for key, value in expected.items() if isinstance(value, Mapping)]
    if inner:
        raise TypeError(
            f"expect_close compares numbers, tensors or dicts of them; {inner[0]!r} holds a "
            f"{type(expected[inner[0]]).__name__}: call expect_close once per inner dict"
        )


def _cause(
    actual: Any,
    expected: Any,
    likely: Mapping[str, Any],
    hint: str,
    rtol: float,
    atol: float,
) -> str:
    """The likely cause of a wrong answer: the first mistake in ``likely`` whose value it equals
    (its keys may differ from ``expected``'s: reading a global table, say), else a result less
    precise than ``expected`` (the formula may be right), else ``hint``."""
    named = (n for n, v in likely.items() if v is not None and _close(actual, v, rtol, atol))
    return next(named, None) or _lost_precision(actual, expected) or hint


def _lost_precision(actual: Any, expected: Any) -> str | None:
    """What to do when ``actual`` is a floating tensor of lower precision than ``expected`` (the
    kit computes in the inputs' dtype): the rounding alone makes it differ."""
    floats = all(isinstance(v, torch.Tensor) and v.is_floating_point() for v in (actual, expected))
    if not floats or torch.finfo(actual.dtype).bits >= torch.finfo(expected.dtype).bits:
        return None
    return (
        f"your result is a {actual.dtype} tensor, the inputs are {expected.dtype}: compute in "
        f"the inputs' dtype (drop .half(), .bfloat16() or .to({actual.dtype}))"
    )


def _because(cause: str) -> str:
    """The cause appended to a message about the form of an answer, unless it is the generic
    advice (which is about values, not keys or shapes)."""
    return "" if cause == NO_MATCH else f".\nLikely cause: {cause}"


def _holds_bool(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_holds_bool(v) for v in value.values())
    return isinstance(value, bool)


def expect_gradient(result: Any, what: str, fix: str) -> None:
    """Raise an AssertionError unless ``result`` is a tensor a gradient flows back through (an
    answer with ``.item()``, ``.detach()`` or ``torch.no_grad()`` has the right value but cannot
    train anything). Call it on the answer's result for inputs that require a gradient."""
    __tracebackhide__ = True
    if not getattr(result, "requires_grad", False):
        raise AssertionError(
            f"{what} must let the gradient reach {fix}: do not detach them (no .item(), "
            "no .detach(), no torch.no_grad(), and compute in torch, not NumPy)"
        )


def _side_by_side(expected: Any, actual: Any) -> tuple[str, ...]:
    """Both values rendered for comparison; two numbers at the same precision, enough digits
    to tell them apart, so that 0.14577 is not set beside a "0.146" that reads as its rounding."""
    if not (_is_number(expected) and _is_number(actual)):
        return describe(expected), describe(actual)
    e, a = float(expected), float(actual)
    if not (math.isfinite(e) and math.isfinite(a)):
        return describe(expected), describe(actual)
    digits = max(_significant(f"{e:.6g}"), _significant(f"{a:.6g}"))
    while digits < 12 and f"{e:#.{digits}g}" == f"{a:#.{digits}g}":
        digits += 1
    return tuple(f"{v:#.{digits}g}".replace(".e", "e").rstrip(".") for v in (e, a))


def _significant(text: str) -> int:
    """The significant digits a number was written with: "0.146" has 3, "1e-09" has 1."""
    mantissa = text.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    return max(len(mantissa), 1)


def _is_number(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() == 1
    return isinstance(value, int | float) and not isinstance(value, bool)


def small_encoder() -> torch.nn.Module:
    """A two-layer CNN encoder: convolution kernels (4-D parameters) with a BatchNorm (1-D
    weight and bias) between them, so a check can tell which gradients an answer touched."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


def encoders_with_gradients(
    names: Sequence[str], inputs: torch.Tensor, seed: int
) -> tuple[dict[str, torch.nn.Module], dict[str, torch.nn.Module]]:
    """Two identical sets of :func:`small_encoder`, one per modality name, with the gradients
    of the same made-up loss: one set for the answer, one for the kit's reference."""
    if isinstance(names, str) or not names:
        raise ValueError(f"names must be a list of modality names, e.g. ['audio'], got {names!r}")
    torch.manual_seed(seed)
    answer = {m: small_encoder() for m in names}
    reference = {m: copy.deepcopy(e) for m, e in answer.items()}
    for encoders in (answer, reference):
        sum(e(inputs).pow(2).sum() for e in encoders.values()).backward()
    return answer, reference


_remember_kit()
_remember_libraries()
