"""planner.plan(): budgets in every unit, the Sardana headline, baselines, JSON content."""

from __future__ import annotations

import json
import math

import pytest
from scipy.optimize import brentq

import planner
from planner.errors import InfeasiblePlanError, PlannerInputError
from planner.planning import GENERIC_DEFAULT_MFU
from solvers.closed_form import optimal_allocation
from solvers.problem import LawCoefficients

H100_PEAK = 989.4e12  # dense BF16, NVIDIA H100 SXM datasheet
H100_MFU = 0.38  # registry default (Dubey et al. 2024)


def chinchilla_13b_loss(law_name: str) -> float:
    law = LawCoefficients.of(planner.get_law(law_name))
    log_c = brentq(lambda lc: math.log(optimal_allocation(law, math.exp(lc))[0] / 13e9), 40, 70)
    return law.loss(*optimal_allocation(law, math.exp(log_c)))


def test_sardana_headline_reproduces():
    # Sardana et al. 2024: the loss of a Chinchilla-optimal 13B model, served for 2T
    # tokens, is reached more cheaply by a ~7B model, saving ~1.7e22 FLOPs (~17 %).
    p = planner.plan(target_loss=chinchilla_13b_loss("sardana2024"), infer_tokens=2e12, law="sardana2024", serving_cost="flops")
    assert p.result.params == pytest.approx(7e9, rel=0.05)
    assert p.baseline.params == pytest.approx(13e9, rel=1e-6)
    assert p.baseline.savings_fraction == pytest.approx(0.17, abs=0.01)
    assert p.baseline.savings_flops == pytest.approx(1.7e22, rel=0.05)
    assert p.result.train_tokens > p.baseline.train_tokens


def test_budget_plan_splits_lifetime_compute():
    # Sardana's accounting at the registry's MFU (no layout): every number has a closed form.
    p = planner.plan(budget_flops=1e23, gpu="h100", infer_tokens=1e12, serving_cost="flops", choose_layout=False)
    r = p.result
    assert r.total_flops == pytest.approx(1e23, rel=1e-6)
    assert r.train_flops == pytest.approx(6 * r.params * r.train_tokens)
    assert r.inference_flops == pytest.approx(2 * r.params * 1e12)
    assert r.gpu_hours == pytest.approx(1e23 / (H100_PEAK * H100_MFU * 3600), rel=1e-6)
    assert r.cost_usd is None
    # Serving pushes the model below the inference-blind baseline, and wins on loss.
    assert r.params < p.baseline.params
    assert p.baseline.loss_delta <= 0
    assert p.baseline.total_flops == pytest.approx(1e23, rel=1e-9)


def test_budget_units_agree():
    by_flops = planner.plan(budget_flops=3.6e22, gpu="h100", mfu=0.5)
    gpu_hours = 3.6e22 / (H100_PEAK * 0.5 * 3600)
    by_hours = planner.plan(gpu_hours=gpu_hours, gpu="h100", mfu=0.5)
    by_dollars = planner.plan(dollars=gpu_hours * 2.0, price_usd_per_gpu_hour=2.0, gpu="h100", mfu=0.5)
    # A cluster-deadline budget counts only productive time (goodput, default 90 %).
    by_cluster = planner.plan(gpus=100, days=gpu_hours / 100 / 24 / 0.9, gpu="h100", mfu=0.5)
    for other in (by_hours, by_dollars, by_cluster):
        assert other.resolved.budget_flops == pytest.approx(3.6e22, rel=1e-12)
        assert other.result.params == pytest.approx(by_flops.result.params, rel=1e-6)
    assert by_dollars.result.cost_usd == pytest.approx(gpu_hours * 2.0, rel=1e-6)
    assert by_cluster.result.wall_clock_days == pytest.approx(gpu_hours / 100 / 24 / 0.9, rel=1e-6)


def test_fp8_uses_its_own_measured_efficiency_never_the_bf16_mfu_on_the_fp8_peak():
    bf16 = planner.plan(gpu_hours=1e5, gpu="h100", choose_layout=False)
    fp8 = planner.plan(gpu_hours=1e5, gpu="h100", precision="fp8", choose_layout=False)
    accel = planner.load_registry().get("h100-sxm")
    # Megatron-Bridge's measured FP8 MFU on H100 (0.372 of the FP8 peak), not 2x the BF16 FLOPs.
    expected = accel.fp8_mfu * accel.fp8_flops_per_s / (accel.default_mfu * accel.bf16_flops_per_s)
    assert fp8.resolved.mfu == accel.fp8_mfu
    assert fp8.resolved.budget_flops / bf16.resolved.budget_flops == pytest.approx(expected, rel=1e-9)
    assert expected < 2.0


def test_unmeasured_fp8_is_no_faster_than_bf16_and_says_so():
    bf16 = planner.plan(gpu_hours=1e5, gpu="h200-sxm", choose_layout=False)
    fp8 = planner.plan(gpu_hours=1e5, gpu="h200-sxm", precision="fp8", choose_layout=False)
    assert fp8.resolved.budget_flops == pytest.approx(bf16.resolved.budget_flops, rel=1e-9)
    assert any("no measured fp8 MFU" in w for w in fp8.warnings)


def test_deadline_caps_training_only():
    free = planner.plan(budget_flops=1e24, infer_tokens=1e12, gpus=512)
    days = free.result.wall_clock_days / 2
    capped = planner.plan(budget_flops=1e24, infer_tokens=1e12, gpus=512, days=days)
    assert capped.result.wall_clock_days == pytest.approx(days, rel=1e-5)
    assert "max_train_flops" in capped.result.binding
    assert capped.result.loss > free.result.loss
    assert any("deadline binds" in w for w in capped.warnings)


def test_generic_mfu_is_flagged():
    p = planner.plan(budget_flops=1e22, gpu="mi250x", choose_layout=False)
    assert p.resolved.mfu == GENERIC_DEFAULT_MFU
    assert any("no published MFU" in w for w in p.warnings)
    mfu = next(a for a in p.assumptions if a.name == "MFU")
    assert "generic" in mfu.source


def test_downstream_error_with_gadre_law():
    p = planner.plan(budget_flops=1e22, law="gadre2024-rpj")
    law = planner.get_law("gadre2024-rpj")
    assert p.result.downstream_error["17-task"] == pytest.approx(law.downstream["17-task"].error(p.result.loss))


def test_extrapolation_warning():
    p = planner.plan(budget_flops=1e25)
    assert any(w.startswith("extrapolation") for w in p.warnings)


def test_plan_is_frozen_and_deterministic():
    a = planner.plan(budget_flops=1e23, infer_tokens=1e12)
    b = planner.plan(budget_flops=1e23, infer_tokens=1e12)
    assert a.to_json() == b.to_json()
    with pytest.raises(AttributeError):
        a.result = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        a.result.downstream_error["x"] = 1.0  # type: ignore[index]


def test_json_document_schema():
    doc = json.loads(planner.plan(budget_flops=1e23, infer_tokens=1e12, price_usd_per_gpu_hour=3.0).to_json())
    assert {"schema_version", "inputs", "assumptions", "result", "baseline", "warnings"} <= set(doc)
    for key in ("params", "train_tokens", "tokens_per_param", "loss", "train_flops", "inference_flops",
                "total_flops", "gpu_hours", "cost_usd", "elasticity"):
        assert isinstance(doc["result"][key], float), key
    assert doc["result"]["cost_usd"] == pytest.approx(doc["result"]["gpu_hours"] * 3.0)
    assert all({"name", "value", "source"} <= set(a) for a in doc["assumptions"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(budget_flops=-1), "positive"),
        (dict(budget_flops=0), "positive"),
        (dict(budget_flops=float("nan")), "finite"),
        (dict(budget_flops=float("inf")), "finite"),
        (dict(budget_flops=1e23, gpu_hours=10), "conflicting"),
        (dict(budget_flops=1e23, target_loss=2.0), "conflicting"),
        (dict(dollars=100), "needs --price"),
        (dict(days=3), "--days alone is a deadline"),
        (dict(), "no budget"),
        (dict(budget_flops=1e23, gpu="nope"), "unknown accelerator"),
        (dict(budget_flops=1e23, law="nope"), "unknown law"),
        (dict(budget_flops=1e23, mfu=1.2), r"\(0, 1\]"),
        (dict(budget_flops=1e23, infer_tokens=-5), "non-negative"),
        (dict(budget_flops=1e23, gpu="a100", precision="fp8"), "no dense fp8"),
        (dict(gpus=0, days=1), "positive integer"),
    ],
)
def test_bad_inputs(kwargs, message):
    with pytest.raises(PlannerInputError, match=message):
        planner.plan(**kwargs)


def test_infeasible_target_names_binding_and_relief():
    with pytest.raises(InfeasiblePlanError) as info:
        planner.plan(target_loss=2.0, gpus=8, days=1)
    assert "deadline" in info.value.binding
    assert "days" in info.value.relief and "GPUs" in info.value.relief
    # The relief it names is enough: that many days makes it feasible.
    days_needed = float(info.value.relief.split("at least ")[1].split(" days")[0])
    ok = planner.plan(target_loss=2.0, gpus=8, days=days_needed * 1.01)
    assert ok.result.loss <= 2.0 + 1e-9
