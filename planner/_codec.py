"""Frozen records to JSON-ready data and back, driven by their type hints.

``to_data`` turns dataclasses, mappings and tuples into dicts and lists; ``from_data``
rebuilds a record of a given type from them, so ``Plan.from_json(p.to_json()) == p``.
Non-finite floats are written as None (JSON has no NaN) and read back as NaN where the
field is a plain float. Standard library only.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from planner._frozen import FrozenDict

__all__ = ["from_data", "to_data"]


def to_data(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_data(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return to_data(obj.item())
    return obj


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_data(tp: Any, data: Any) -> Any:
    """Rebuild a value of type ``tp`` from :func:`to_data` output."""
    origin = typing.get_origin(tp)
    if tp is Any or tp is object:
        return data
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if data is None and type(None) in options:
            return None
        last: Exception | None = None
        for option in options:
            if option is type(None):
                continue
            try:
                return from_data(option, data)
            except (TypeError, ValueError, KeyError) as exc:
                last = exc
        raise TypeError(f"no option of {tp} fits {data!r}") from last
    if origin is typing.Literal:
        return data
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, Mapping):
            raise TypeError(f"{tp.__name__} needs a mapping, got {type(data).__name__}")
        hints = _hints(tp)
        kwargs = {f.name: from_data(hints[f.name], data[f.name]) for f in dataclasses.fields(tp) if f.init and f.name in data}
        return tp(**kwargs)
    if origin in (tuple,):
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_data(args[0], v) for v in data)
        return tuple(from_data(a, v) for a, v in zip(args, data, strict=True))
    if origin in (list,):
        (arg,) = typing.get_args(tp)
        return [from_data(arg, v) for v in data]
    if origin in (dict, Mapping, typing.Mapping) or tp in (dict, Mapping):
        args = typing.get_args(tp) or (str, Any)
        return FrozenDict({k: from_data(args[1], v) for k, v in data.items()})
    if tp is float:
        if data is None:
            return math.nan
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise TypeError(f"expected a number, got {data!r}")
        return float(data)
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise TypeError(f"expected an integer, got {data!r}")
        return data
    if tp is bool:
        if not isinstance(data, bool):
            raise TypeError(f"expected true/false, got {data!r}")
        return data
    if tp is str:
        if not isinstance(data, str):
            raise TypeError(f"expected a string, got {data!r}")
        return data
    if tp is type(None):
        if data is not None:
            raise TypeError("expected null")
        return None
    return data
