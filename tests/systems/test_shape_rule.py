"""The shape rule's fast search (per-width parameter counts computed once) against the rule
written out naively: every candidate width built as a ModelShape and compared."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.systems.shape import LLAMA3_RULE, ModelShape, _round_up, shape_for_params


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
