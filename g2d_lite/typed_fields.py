"""Values checked against a dataclass field's type, so a typo fails with a sentence.

Config values arrive as command-line literals, YAML, JSON, papermill parameters and slider
values. Python would accept ``epochs="abc"`` or ``epochs=True`` until deep inside training;
:func:`coerce` turns each value into exactly the field's type or raises ``ValueError`` saying
what was expected. A single string where a tuple is expected (``modalities=audio``) is what a
person means by a one-item (or comma-separated) list, not a sequence of letters.
"""

from __future__ import annotations

import math
import os
import types
import typing
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np

_NON_FINITE = ("nan", "inf", "infinity")  # how a person writes them; not numbers for a field
_KINDS = {int: "an integer", float: "a number", bool: "True or False", str: "a string"}


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is tuple:
        return f"a list of {_describe(typing.get_args(hint)[0]).split(' ', 1)[1]}s"
    if origin is dict:
        return "a mapping of names to values"
    return _KINDS.get(hint, str(hint))


def _fail(name: str, hint: Any, value: Any, optional: bool) -> ValueError:
    also = " or None" if optional else ""
    return ValueError(
        f"{name} must be {_describe(hint)}{also}, got {value!r} ({type(value).__name__})"
    )


def _scalar(name: str, value: Any, hint: Any, optional: bool) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:  # numpy's integers too (np.int64 from a sweep): stored as plain int
        if isinstance(value, Integral) and not isinstance(value, bool | np.bool_):
            return int(value)
    elif hint is float:
        if isinstance(value, Real) and not isinstance(value, bool | np.bool_):
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            return float(value)
        if isinstance(value, str) and value.strip().lower().lstrip("+-") in _NON_FINITE:
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, os.PathLike):
            return os.fspath(value)
    else:
        return value
    raise _fail(name, hint, value, optional)


def _items(name: str, value: Any, item: Any, hint: Any, optional: bool) -> tuple[Any, ...]:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if item is int:
            try:
                return tuple(int(p) for p in parts)
            except ValueError:
                raise _fail(name, hint, value, optional) from None
        return tuple(parts)
    if isinstance(value, int | float) and not isinstance(value, bool) and item is not str:
        value = [value]
    if not isinstance(value, list | tuple):
        raise _fail(name, hint, value, optional)
    return tuple(_scalar(f"{name}[{i}]", v, item, False) for i, v in enumerate(value))


def coerce(name: str, value: Any, hint: Any) -> Any:
    """``value`` as the type ``hint`` names (int, float, bool, str, ``tuple[X, ...]``, dict,
    and each of those ``| None``), or a ``ValueError`` naming the field and what it takes."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    if value is None:
        if optional:
            return None
        raise _fail(name, hint, value, optional)
    origin = typing.get_origin(hint)
    if origin is tuple:
        return _items(name, value, typing.get_args(hint)[0], hint, optional)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _fail(name, hint, value, optional)
        return dict(value)
    return _scalar(name, value, hint, optional)
