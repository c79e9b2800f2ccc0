"""Base records: the picklable frozen mapping and the type-driven JSON codec."""

from __future__ import annotations

import json
import math
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner._codec import from_data, to_data
from planner._frozen import FrozenDict


@dataclass(frozen=True)
class Inner:
    x: float
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner
    maybe: Inner | None
    pairs: tuple[tuple[float, float], ...]
    table: Any = field(default_factory=lambda: FrozenDict({}))
    count: int = 0
    flag: bool = False


floats = st.floats(allow_nan=False, allow_infinity=False)
inners = st.builds(Inner, x=floats, tags=st.lists(st.text(max_size=5), max_size=3).map(tuple))


@given(st.builds(Outer, name=st.text(max_size=10), inner=inners, maybe=st.one_of(st.none(), inners),
                 pairs=st.lists(st.tuples(floats, floats), max_size=3).map(tuple), count=st.integers(0, 10**6),
                 flag=st.booleans()))
def test_codec_round_trips_through_json(record):
    back = from_data(Outer, json.loads(json.dumps(to_data(record), allow_nan=False)))
    assert back == record


def test_non_finite_floats_become_null_and_nan():
    doc = to_data(Inner(x=math.inf))
    assert doc["x"] is None and math.isnan(from_data(Inner, doc).x)


def test_codec_rejects_wrong_types():
    with pytest.raises(TypeError):
        from_data(Inner, {"x": "1.0"})


def test_frozen_dict_is_read_only_picklable_and_equal_to_a_dict():
    d = FrozenDict({"a": 1})
    assert d == {"a": 1} and pickle.loads(pickle.dumps(d)) == d
    with pytest.raises(TypeError):
        d["a"] = 2  # type: ignore[index]
    with pytest.raises(AttributeError):
        d.x = 1  # type: ignore[attr-defined]
