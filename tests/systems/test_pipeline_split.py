"""Uneven pipeline stages (Megatron's first/last-stage split), as Llama 3 405B ran them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.hardware.registry import load_registry
from planner.systems.exports import LaunchSpec, export
from planner.systems.layout import Layout, candidates, search_layouts
from planner.systems.shape import ModelShape, pipeline_layout, pipeline_split

LLAMA_405B = ModelShape(layers=126, hidden=16384, heads=128, kv_heads=8, ffn=53248, vocab=128256, seq=8192, mlp="swiglu")
H100 = load_registry(user_config=False).get("h100-sxm")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(layers=st.integers(1, 200), stages=st.integers(1, 64))
def test_a_split_covers_every_layer_and_no_stage_is_longer_than_ceil(layers, stages):
    split = pipeline_split(layers, stages)
    if split is None:
        assert stages > layers or (layers % stages and stages > 2)
        return
    first, middle, last = split
    assert first + (stages - 2) * middle + last == layers if stages > 1 else first == layers
    assert middle == -(-layers // stages) and 1 <= first <= middle and 1 <= last <= middle


def test_llama3_405b_split_and_layout_string():
    assert pipeline_split(126, 16) == (7, 8, 7)
    text = pipeline_layout(126, 16, 4)
    chunks = text.split("|")
    assert len(chunks) == 64 and text.count("t") == 126
    assert chunks[0] == "Et" and chunks[-1] == "tL" and all(c == "tt" for c in chunks[1:-1])


def test_the_search_considers_pp16_for_126_layers_and_finds_meta_or_better():
    cands = candidates(LLAMA_405B, H100, 16384, 2048, {})
    assert 16 in set(cands["p"].tolist())
    free = search_layouts(LLAMA_405B, H100, 16384, 2048)
    meta = search_layouts(LLAMA_405B, H100, 16384, 2048, fixed={"t": 8, "p": 16, "c": 1})
    assert free.best.tokens_per_s >= 0.9 * meta.best.tokens_per_s


def test_uneven_exports_name_the_split():
    lay = Layout(t=8, p=16, d=128, c=1, v=1, b=1, recompute="none", sp=True, zero=1)
    args = export("megatron", LaunchSpec(shape=LLAMA_405B, layout=lay, global_batch=2048, n_gpus=16384)).to_text()
    assert "--decoder-first-pipeline-num-layers 7" in args and "--decoder-last-pipeline-num-layers 7" in args
    interleaved = Layout(t=8, p=16, d=128, c=1, v=4, b=1, recompute="none", sp=True, zero=1)
    args = export("megatron", LaunchSpec(shape=LLAMA_405B, layout=interleaved, global_batch=2048, n_gpus=16384)).to_text()
    assert "--pipeline-model-parallel-layout 'Et|" in args and "virtual-pipeline-stage" not in args
    bridge = export("megatron-bridge", LaunchSpec(shape=LLAMA_405B, layout=lay, global_batch=2048, n_gpus=16384))
    assert bridge.fields["model"]["num_layers_in_first_pipeline_stage"] == 7
