"""``plan validate``: every shipped run, predicted and measured, in and out of sample, beside
a constant-utilisation baseline fitted on calibration rows only -- and the issue-12 targets
the step-time model is held to on runs nobody fitted."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from planner.hardware.registry import load_registry
from planner.systems.calibration import load_cases, load_check_cases
from planner.systems.layout import Layout, evaluate_layout, search_layouts
from planner.systems.perf import load_calibration
from planner.systems.shape import ModelShape, shape_for_params
from planner.systems.validation import baseline_hfu, summarise, validate

REG = load_registry(user_config=False)
H100 = REG.get("h100-sxm")


@pytest.fixture(scope="module")
def rows():
    return validate()


def test_every_shipped_run_is_listed_once_and_labelled(rows):
    fitted = sum(len(g) for g in load_cases().values())
    checks = load_check_cases()
    assert sum(r.in_sample for r in rows) == fitted
    assert sum(not r.in_sample for r in rows) == sum(len(g) for g in checks.values()) == 6 + 6 + 3
    # No run is both fitted and checked.
    assert not {r.run for r in rows if r.in_sample} & {r.run for r in rows if not r.in_sample}
    assert all(math.isfinite(r.predicted) and r.predicted > 0 and r.measured > 0 for r in rows)


def test_the_baseline_constant_comes_from_calibration_rows_only(rows):
    hfu = baseline_hfu(load_cases())
    assert 0.2 < hfu < 0.7
    # Meta's runs state no recompute and report model TFLOP/s: the baseline is HFU x BF16 peak.
    llama = [r for r in rows if r.source.startswith("Dubey")]
    assert llama and all(r.baseline == pytest.approx(hfu * H100.bf16_flops_per_s / 1e12) for r in llama)
    # Adding a checking group to the calibration groups would move the constant: it is not in there.
    assert baseline_hfu({**load_cases(), **load_check_cases()}) != pytest.approx(hfu, rel=1e-9)


def test_out_of_sample_error_is_at_most_half_the_constant_baselines(rows):
    out = [r for r in rows if not r.in_sample]
    err = np.abs([r.error for r in out])
    base = np.abs([r.baseline_error for r in out])
    print("\nout of sample: model %.1f %%, constant HFU %.1f %%, worst %.1f %%" % (100 * err.mean(), 100 * base.mean(), 100 * err.max()))
    assert err.mean() <= base.mean() / 2
    assert err.max() <= 0.25
    for s in summarise(rows):
        if not s.in_sample:
            assert s.mean_abs_error < s.baseline_mean_abs_error, s.source


def test_in_sample_errors_stay_low(rows):
    by = {(s.source, s.in_sample): s for s in summarise(rows)}
    for source in ("Narayanan et al. 2021 (A100)", "Korthikanti et al. 2022 (A100)",
                   "Megatron-LM r0.8 weak scaling (H100, BF16)", "Megatron-Bridge (FP8; H100, B200, GB200)"):
        assert by[(source, True)].mean_abs_error <= 0.06, source
    # vTrain's 1,549 mostly launch-bound small-model runs: as shipped before the H100 terms.
    assert by[("vTrain multi-node (A100)", True)].mean_abs_error <= 0.07
    assert by[("vTrain single-node (A100)", True)].mean_abs_error <= 0.066


def test_a_given_calibration_replaces_the_shipped_one_for_every_row(rows):
    # benchmarks/calibrate.py prints this table from its refit: the shipped constants give the
    # shipped table, other constants move every model prediction and leave the baseline alone.
    shipped = load_calibration(H100)
    assert validate(shipped) == rows
    slower = validate(replace(shipped, layer_dispatch_s=2 * shipped.layer_dispatch_s))
    assert all(s.predicted != r.predicted and s.baseline == r.baseline for s, r in zip(slower, rows, strict=True))


def test_validate_json_is_one_valid_document(cli):
    code, out, _ = cli("validate", "--json")
    assert code == 0
    doc = json.loads(out)
    assert {s["source"] for s in doc["summary"]} >= {"Narayanan et al. 2021 (A100)", "vTrain single-node (A100)"}
    assert all("error" in r and "in_sample" in r for r in doc["rows"])
    assert any(not r["in_sample"] for r in doc["rows"])
    code, out, _ = cli("validate", "--rows")
    assert code == 0 and "Out-of-sample runs" in out


@pytest.mark.parametrize(("params", "gpus", "batch"), [(2e9, 8, 512), (8e9, 8, 512), (7e9, 64, 512), (16e9, 128, 512), (13e9, 192, 768)])
def test_h100_dense_small_models_predict_published_mfu(params, gpus, batch):
    # Published H100 runs of 2B-16B reach roughly 40-50 % MFU (Megatron-LM's table: 41-49 %);
    # the free layout search must land in 40-55 %, not the 57-83 % of A100 physics.
    found = search_layouts(shape_for_params(params, seq=4096), H100, gpus, batch)
    assert 0.40 <= found.best.mfu <= 0.55


def test_zero3_at_a_fixed_batch_is_communication_bound_when_gpus_double():
    # With the global batch fixed, doubling the GPUs of a ZeRO-3 / FSDP run halves each GPU's
    # work but not the parameter traffic through its port: per-GPU throughput falls by >= 1/3.
    shape = shape_for_params(7e9, seq=4096)
    per_gpu = []
    for gpus, micro in ((128, 4), (256, 2), (512, 1)):
        r = evaluate_layout(shape, H100, gpus, 512, Layout(t=1, p=1, d=gpus, c=1, v=1, b=micro, recompute="none", sp=False, zero=3))
        per_gpu.append(r.tokens_per_s / gpus)
    assert per_gpu[1] <= per_gpu[0] * 2 / 3 and per_gpu[2] <= per_gpu[1] * 2 / 3


def test_llama3_405b_free_search_is_within_ten_percent_of_metas_held_layout():
    shape = ModelShape(layers=126, hidden=16384, heads=128, kv_heads=8, ffn=53248, vocab=128256, seq=8192, mlp="swiglu")
    free = search_layouts(shape, H100, 16384, 2048)
    held = search_layouts(shape, H100, 16384, 2048, fixed={"t": 8, "p": 16, "c": 1})
    assert free.best.tokens_per_s >= 0.9 * held.best.tokens_per_s
    assert held.best.layout.p == 16  # 126 layers over 16 stages: Megatron's uneven split is searchable


def test_tp_overlap_hides_tensor_parallel_traffic_behind_the_linear_layers():
    shape = shape_for_params(30e9, seq=4096)
    lay = Layout(t=8, p=1, d=4, c=1, v=1, b=1, recompute="none", sp=True, zero=1)
    plain = evaluate_layout(shape, H100, 32, 256, lay, tp_overlap=False)
    hidden = evaluate_layout(shape, H100, 32, 256, lay, tp_overlap=True)
    assert hidden.breakdown["tp_comm"] < plain.breakdown["tp_comm"]
    assert hidden.step_time_s < plain.step_time_s


# Dash et al. 2023 ("Optimizing Distributed Training on Frontier for Large Language Models",
# arXiv 2312.12705): GPT 175B (96 layers x 12,288, 96 heads, seq 2,048) on 1,024 MI250X GCDs at
# 36.14 % of peak. The layout is the first author's launch scripts (github.com/sajal-vt/
# Megatron-DeepSpeed-ORNL, branch FA2 `launch_gpt175b_bf16.slurm` and branch frontier-sd
# `launch_gpt175b_srun.frontier`, which agree): TP4, PP16, micro-batch 1, full activation
# recompute, flash attention, DeepSpeed ZeRO-1, fp16 (MI250X's fp16 and bf16 matrix peaks are
# equal), no sequence parallelism or TP overlap (not in that Megatron-DeepSpeed fork), whose
# GPTModelPipe runs on DeepSpeed's pipeline engine.
FRONTIER_175B = ModelShape(layers=96, hidden=12288, heads=96, kv_heads=96, ffn=4 * 12288, vocab=51200, seq=2048, mlp="gelu")
FRONTIER_175B_MFU = 0.3614


@pytest.mark.parametrize("global_batch", [1280, 10240])
def test_frontier_175b_with_the_authors_layout_is_within_15_percent_of_the_paper(global_batch):
    # The parts of the paper we could read give no global batch at 1,024 GCDs: 1,280 is the
    # scripts' value, 10,240 that value weak-scaled from the scripts' 128 GCDs (the paper
    # reports 100 % weak scaling).
    # A caution the README repeats: the author's own log of this layout on 128 GCDs (branch
    # frontier-sd, logs/gpt175b_megatron_16N_newcomm-405287.o) reads 196.5 s per step, 58.6 %
    # MFU, above what this model allows (283 s) and above MI250X's measured matmul ceiling with
    # the recompute counted; the paper and its log disagree, and the log is not a publication.
    mi250x = REG.get("mi250x")
    lay = Layout(t=4, p=16, d=16, c=1, v=1, b=1, recompute="full", sp=False, zero=1)
    r = evaluate_layout(FRONTIER_175B, mi250x, 1024, global_batch, lay, flash_attention=True, tp_overlap=False, overlap_grad_reduce=False,
                        pipeline_engine="deepspeed")  # Megatron-DeepSpeed pipelines on DeepSpeed's engine
    assert r.fits
    assert abs(r.mfu / FRONTIER_175B_MFU - 1) <= 0.15, r.mfu
    # The free search is not held to the paper: it finds layouts the authors did not run (no
    # recompute, sequence parallelism with TP overlap, interleaving), so it must do better.
    free = search_layouts(FRONTIER_175B, mi250x, 1024, global_batch)
    assert free.best.mfu > r.mfu
