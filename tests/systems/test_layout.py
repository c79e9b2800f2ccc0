"""Layout search: exhaustive vs Bayesian, held fields, accelerators, exports, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import planner
from planner.errors import InfeasiblePlanError
from planner.hardware.registry import load_registry
from planner.systems import (
    Layout,
    evaluate_layout,
    search_layouts,
)
from planner.systems.exports import LaunchSpec, export
from planner.systems.shape import ModelShape, shape_for_params

REG = load_registry(user_config=False)
GPT3 = ModelShape(layers=96, hidden=12288, heads=96, kv_heads=96, ffn=4 * 12288, vocab=51200, seq=2048, mlp="gelu", tied_embeddings=True)




@pytest.fixture(scope="module")
def gpt3_search():
    return search_layouts(GPT3, REG.get("h100"), 1024, 1536)


def test_exhaustive_best_is_the_minimum(gpt3_search):
    s = gpt3_search
    assert s.best.fits and s.evaluated <= s.space_size
    times = [r.step_time_s for r in s.top]
    assert times == sorted(times)
    # Re-evaluating the winner alone gives the same numbers.
    again = evaluate_layout(GPT3, REG.get("h100"), 1024, 1536, s.best.layout)
    assert again.step_time_s == pytest.approx(s.best.step_time_s, rel=1e-12)
    assert s.why


def test_bayesian_reaches_the_exhaustive_optimum_cheaply(gpt3_search):
    b = search_layouts(GPT3, REG.get("h100"), 1024, 1536, method="bayesian", trials=300, seed=0)
    assert b.best.step_time_s <= 1.02 * gpt3_search.best.step_time_s
    assert b.evaluated <= gpt3_search.evaluated / 10
    again = search_layouts(GPT3, REG.get("h100"), 1024, 1536, method="bayesian", trials=300, seed=0)
    assert again.best.layout == b.best.layout  # seeded


def test_fixed_fields_are_held():
    s = search_layouts(GPT3, REG.get("h100"), 1024, 1536, fixed={"t": 8, "recompute": 2})
    assert all(r.layout.t == 8 and r.layout.recompute == "full" for r in s.top)


def test_memory_prunes_and_reports_the_shortfall():
    with pytest.raises(InfeasiblePlanError, match="no layout fits in memory.*GB over"):
        search_layouts(GPT3, REG.get("h100"), 8, 64)


@pytest.mark.parametrize("gpu", ["h100", "mi250x", "b200", "a100"])
def test_accelerators_give_sensible_layouts(gpu):
    acc = REG.get(gpu)
    s = search_layouts(shape_for_params(70e9, seq=4096), acc, 512, 1024)
    assert s.best.fits and 0.05 < s.best.mfu < 0.8
    assert s.best.memory_per_gpu_bytes <= acc.hbm_bytes


def test_mi250x_tensor_parallel_inside_a_package_is_cheaper():
    mi = REG.get("mi250x")
    shape = shape_for_params(13e9, seq=4096)
    base = dict(p=1, c=1, v=1, b=1, recompute="full", sp=True, zero=1)
    # Without --tp-comm-overlap, so the link tier shows in the exposed traffic.
    two = evaluate_layout(shape, mi, 64, 256, Layout(t=2, d=32, **base), tp_overlap=False)
    four = evaluate_layout(shape, mi, 64, 256, Layout(t=4, d=16, **base), tp_overlap=False)
    per_layer_two = two.breakdown["tp_comm"] / 32
    per_layer_four = four.breakdown["tp_comm"] / 16
    assert per_layer_two < per_layer_four  # 200 GB/s inside the package vs 50 GB/s across


def test_exports_name_the_layout(gpt3_search):
    lay = gpt3_search.best.layout
    spec = LaunchSpec(shape=GPT3, layout=lay, global_batch=1536, n_gpus=1024)
    args = export("megatron", spec).to_text()
    assert f"--tensor-model-parallel-size {lay.t}" in args and f"--pipeline-model-parallel-size {lay.p}" in args
    assert "--global-batch-size 1536" in args and "--nnodes 128" in args
    bridge = export("nemo", spec)  # NeMo Framework containers run Megatron-Bridge
    assert bridge.format == "megatron-bridge" and bridge.fields["model"]["tensor_model_parallel_size"] == lay.t


def test_layout_cli_search_and_evaluation(cli):
    code, out, _ = cli("layout", "--params", "7B", "--gpus", "64", "--global-batch", "512", "--json")
    doc = json.loads(out)
    assert code == 0
    for key in ("mfu", "hfu", "step_time_s", "tokens_per_s", "memory_per_gpu_bytes", "fits", "layout", "top"):
        assert key in doc
    lay = doc["layout"]
    argv = ["layout", "--params", "7B", "--gpus", "64", "--global-batch", "512", "--json",
            "--tp", str(lay["tp"]), "--pp", str(lay["pp"]), "--dp", str(lay["dp"]), "--cp", str(lay["cp"]),
            "--vp", str(lay["vp"]), "--micro-batch", str(lay["micro_batch"]), "--recompute", lay["recompute"],
            "--zero", str(lay["zero"]), "--sequence-parallel" if lay["sequence_parallel"] else "--no-sequence-parallel"]
    code, out, _ = cli(*argv)
    ev = json.loads(out)
    assert code == 0 and ev["method"] == "evaluation" and ev["step_time_s"] == pytest.approx(doc["step_time_s"])
    code, out, _ = cli("layout", "--params", "70B", "--gpus", "8", "--global-batch", "64", "--tp", "1", "--pp", "1",
                       "--dp", "8", "--cp", "1", "--vp", "1", "--micro-batch", "1", "--recompute", "none", "--zero", "0",
                       "--no-sequence-parallel", "--json")
    bad = json.loads(out)
    assert code == 0 and not bad["fits"] and "GB over" in bad["why"]
    code, out, _ = cli("layout", "--params", "7B", "--gpus", "64", "--global-batch", "512", "--export", "megatron")
    assert code == 0 and "--tensor-model-parallel-size" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["layout", "--gpus", "8"], "give --params"),
        (["layout", "--params", "7B", "--gpus", "8", "--tp", "3"], "no layout"),
        (["layout", "--params", "7B", "--gpus", "6", "--tp", "2", "--pp", "1", "--dp", "2", "--cp", "1", "--vp", "1",
          "--micro-batch", "1", "--recompute", "none", "--zero", "1", "--sequence-parallel", "--global-batch", "8"], "not --gpus 6"),
    ],
)
def test_layout_usage_errors(cli, argv, message):
    code, _, err = cli(*argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_plan_uses_the_layout_mfu_consistently():
    p = planner.plan(gpu_hours=4e5, gpus=512, infer_tokens=1e12)
    assert p.layout is not None
    assert p.resolved.mfu == pytest.approx(p.layout.best.mfu, rel=1e-3)  # fixed point reached
    peak = p.accelerator.bf16_flops_per_s
    assert p.result.total_flops == pytest.approx(4e5 * 3600 * peak * p.resolved.mfu, rel=1e-6)
    assert p.recipe.batch_sequences == p.layout.global_batch
    doc = p.to_dict()
    assert doc["layout"]["layout"]["tp"] == p.layout.best.layout.t
    fixed = planner.plan(gpu_hours=5e5, gpus=512, infer_tokens=1e12, mfu=0.3)
    assert fixed.resolved.mfu == 0.3 and fixed.layout is not None
    assert np.isclose(planner.plan(gpu_hours=5e5, gpus=512, choose_layout=False).resolved.mfu, 0.38)


def test_plan_export_cli(cli):
    code, out, _ = cli("--budget", "1e23", "--gpus", "256", "--export", "megatron")
    assert code == 0 and "--micro-batch-size" in out and "--lr" in out
    code, out, _ = cli("--budget", "1e23", "--export", "nemo")  # on the recommended cluster
    assert code == 0 and "tensor_model_parallel_size" in out and "Megatron-Bridge 0.7.0" in out
    code, _, err = cli("--budget", "1e23", "--no-layout", "--export", "nemo")
    assert code == 2 and "--no-layout" in err


def test_explicit_shape_flags_keep_multi_head_attention_and_the_rule_for_the_rest():
    from planner.systems.layout_request import shape_from_flags

    gpt = shape_from_flags(None, 2048, {"layers": 96, "hidden": 12288, "heads": 96, "mlp": "gelu"})
    assert (gpt.kv_heads, gpt.ffn, gpt.vocab) == (96, 4 * 12288, 128256)
    llama = shape_from_flags(None, 8192, {"layers": 80, "hidden": 8192, "kv_heads": 8})
    assert (llama.heads, llama.kv_heads, llama.ffn) == (64, 8, 28672)  # Llama 3 70B's MLP width


def test_a_repeated_search_is_served_from_memory_only_when_it_sees_the_same_batches():
    import planner.systems.layout as layout

    h100 = load_registry().get("h100")
    shape = shape_for_params(7e9, seq=2048)
    layout.forget_searches()
    first = layout.search_layouts(shape, h100, 64, layout.BatchTarget(2000.6015924, 2.0))
    # The fixed point's last digits round no layout's batch differently: the same record.
    assert layout.search_layouts(shape, h100, 64, layout.BatchTarget(2000.6015951, 2.0)) is first
    # A target that rounds some layout's batch differently is searched afresh, and matches a
    # search with nothing remembered.
    moved = layout.search_layouts(shape, h100, 64, layout.BatchTarget(1500.0, 2.0))
    assert moved is not first
    layout.forget_searches()
    assert layout.search_layouts(shape, h100, 64, layout.BatchTarget(1500.0, 2.0)) == moved
    assert layout.search_layouts(shape, h100, 64, layout.BatchTarget(2000.6015924, 2.0)) == first
