"""The shape rule's fast search (per-width parameter counts computed once) against the rule
written out naively: every candidate width built as a ModelShape and compared."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.systems.shape import (
    LLAMA3_RULE,
    ModelShape,
    _round_up,
    divisors,
    shape_for_params,
    smooth_dims,
)


def _naive(params: float, seq: int, mlp: str = "swiglu", vocab: int = LLAMA3_RULE["vocab"]) -> ModelShape:
    rule = LLAMA3_RULE

    def build(hidden: int, layers: int) -> ModelShape:
        head_dim = rule["head_dim"] if hidden >= 1024 else 64
        heads = max(1, hidden // head_dim)
        kv = math.gcd(heads, rule["kv_heads"]) if heads >= rule["kv_heads"] else heads
        ffn = _round_up(rule["ffn_ratio"] * hidden, rule["ffn_multiple"]) if mlp == "swiglu" else 4 * hidden
        return ModelShape(layers=layers, hidden=hidden, heads=heads, kv_heads=kv, ffn=ffn, vocab=vocab, seq=seq, mlp=mlp, head_dim=head_dim)

    best = None
    for hidden in [*range(256, 1024, 128), *range(1024, 8192, 512), *range(8192, 131073, 1024)]:
        nominal = max(1, round(hidden / rule["hidden_per_layer"]))
        probe = build(hidden, 1)
        fit = (params - (probe.params - probe.params_per_layer)) / probe.params_per_layer
        fit = 4 * round(fit / 4) if nominal >= 16 else round(fit)
        small = nominal < 16
        lo, hi = math.floor((0.5 if small else 0.75) * nominal), math.ceil((2.0 if small else 1.3) * nominal)
        s = build(hidden, max(1, int(min(max(fit, lo), hi, 1e9)) or 1))
        err = abs(math.log(s.params / params))
        if best is None or err < best[0] - 1e-12:
            best = (err, s)
    return best[1]


@settings(max_examples=300, deadline=None)
@given(st.floats(1e6, 5e12), st.sampled_from([2048, 8192]), st.sampled_from(["swiglu", "gelu"]), st.sampled_from([128256, 32000]))
def test_fast_shape_search_is_the_naive_rule(params, seq, mlp, vocab):
    assert shape_for_params(params, seq=seq, mlp=mlp, vocab=vocab) == _naive(params, seq, mlp, vocab)


def test_llama3_sizes_come_back():
    assert (shape_for_params(8.03e9).layers, shape_for_params(8.03e9).hidden) == (32, 4096)
    assert (shape_for_params(70.6e9).layers, shape_for_params(70.6e9).hidden) == (80, 8192)


def _nominal_count(h: float) -> float:
    """The rule's nominal parameter count at hidden width h (h / 128 layers), term by term."""
    rule = LLAMA3_RULE
    kv = min(h, rule["kv_heads"] * rule["head_dim"])
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * rule["ffn_ratio"] * h + 2 * h
    return h / rule["hidden_per_layer"] * per_layer + 2 * rule["vocab"] * h + h


@settings(max_examples=300, deadline=None)
@given(log10_params=st.floats(-3, 30))
def test_smooth_dims_solves_the_nominal_count(log10_params):
    params = 10.0**log10_params
    layers, width, kv = smooth_dims(params)
    assert _nominal_count(width) == pytest.approx(params, rel=1e-12)
    assert layers == width / LLAMA3_RULE["hidden_per_layer"] and kv == min(width, 1024.0)


def test_smooth_dims_is_continuous_across_the_kv_cap():
    at_cap = _nominal_count(1024.0)
    below, above = smooth_dims(at_cap * (1 - 1e-12))[1], smooth_dims(at_cap * (1 + 1e-12))[1]
    assert below == pytest.approx(1024.0, rel=1e-11) and above == pytest.approx(1024.0, rel=1e-11)


@given(x=st.integers(1, 200_000))
def test_divisors_are_the_brute_force_ones(x):
    assert divisors(x) == tuple(k for k in range(1, x + 1) if x % k == 0)
