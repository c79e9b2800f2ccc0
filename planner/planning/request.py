"""Stage 1, request: every check of the user's question, once, before anything is solved."""

from __future__ import annotations

from typing import Any

from planner.defaults import KV_BITS, LIMITS, OBJECTIVES, SERVING_COSTS, WEIGHT_BITS
from planner.errors import PlannerInputError
from planner.laws.optimizers import OPTIMIZERS
from planner.planning.records import Request
from planner.validate import check_fraction, check_int, check_positive

__all__ = ["BUDGET_FLAGS", "make_request"]

BUDGET_FLAGS = {"budget_flops": "--budget", "gpu_hours": "--gpu-hours", "dollars": "--dollars"}


def _budget_kind(r: dict[str, Any]) -> str:
    """Which budget the flags give; conflicting or incomplete flags raise."""
    given = [f for f in BUDGET_FLAGS if r[f] is not None]
    if len(given) > 1:
        raise PlannerInputError(f"conflicting budget flags {' and '.join(BUDGET_FLAGS[g] for g in given)}: give one budget")
    if r["target_loss"] is not None and given:
        raise PlannerInputError(
            f"conflicting flags --target-loss and {BUDGET_FLAGS[given[0]]}: a target loss "
            "minimises compute, a budget minimises loss; give one"
        )
    if r["dollars"] is not None and r["price_usd_per_gpu_hour"] is None:
        raise PlannerInputError("--dollars needs --price (US dollars per GPU-hour)")
    if given:
        return {"budget_flops": "flops", "gpu_hours": "gpu_hours", "dollars": "dollars"}[given[0]]
    if r["target_loss"] is not None:
        return "target"
    if r["gpus"] is not None and r["days"] is not None:
        return "cluster"
    if r["days"] is not None:
        raise PlannerInputError("--days alone is a deadline, not a budget: add --gpus (a cluster budget) or a budget "
                                "(--budget, --gpu-hours, --dollars with --price)")
    raise PlannerInputError(
        "no budget: give --budget FLOPs, --gpu-hours, --dollars with --price, --gpus with --days, or --target-loss"
    )


def _check_serving(r: dict[str, Any]) -> None:
    if r["objective"] not in OBJECTIVES:
        raise PlannerInputError(f"unknown objective '{r['objective']}'; choose {', '.join(OBJECTIVES)}")
    if r["serving_cost"] is not None and r["serving_cost"] not in SERVING_COSTS:
        raise PlannerInputError(f"unknown serving cost '{r['serving_cost']}'; use {' or '.join(SERVING_COSTS)}")
    if r["samples_grid"] not in ("pow2", "all"):
        raise PlannerInputError(f"unknown samples grid '{r['samples_grid']}'; use pow2 or all")
    if r["bits"] is not None and r["bits"] not in WEIGHT_BITS:
        raise PlannerInputError(f"--bits must be one of {', '.join(map(str, WEIGHT_BITS))}, got {r['bits']}")
    if r["kv_bits"] not in KV_BITS:
        raise PlannerInputError(f"--kv-bits must be one of {', '.join(map(str, KV_BITS))}, got {r['kv_bits']}")
    if r["objective"] == "pass@k" and r["task"] is None:
        raise PlannerInputError("--objective pass@k needs a task law (--task math, or one saved by plan fit-samples --sizes --save)")
    if r["objective"] != "loss" and r["budget_kind"] == "target":
        raise PlannerInputError(f"--objective {r['objective']} needs a budget (--budget, --gpu-hours, --dollars or --gpus/--days), not --target-loss")
    if r["samples"] is not None and r["samples"] > r["max_samples"]:
        raise PlannerInputError(f"--samples {r['samples']} is above --max-samples {r['max_samples']}")


def make_request(**given: Any) -> Request:
    """Check every input and say which budget was given (names are checked when resolved)."""
    r = dict(given)
    for name, flag in (("budget_flops", "budget"), ("gpu_hours", "gpu-hours"), ("dollars", "dollars"),
                       ("price_usd_per_gpu_hour", "price"), ("days", "days"), ("target_loss", "target-loss"),
                       ("max_params", "max-params"), ("max_tokens", "max-tokens"), ("serve_memory_bytes", "serve-memory"),
                       ("latency_s", "latency")):
        r[name] = check_positive(flag, r[name])
    if r["price_usd_per_gpu_hour"] is not None and r["price_usd_per_gpu_hour"] > LIMITS["price_usd_per_gpu_hour"]:
        raise PlannerInputError(f"--price {r['price_usd_per_gpu_hour']:g} is above the planner's bound of "
                                f"{LIMITS['price_usd_per_gpu_hour']:g} US$ per GPU-hour (README, 'Limits')")
    r["infer_tokens"] = check_positive("infer-tokens", r["infer_tokens"], allow_zero=True) or 0.0
    r["gpus"] = check_int("gpus", r["gpus"], maximum=LIMITS["gpus"])
    r["max_unique_tokens"] = check_positive("max-unique-tokens", r["max_unique_tokens"])
    r["verifier_flops"] = check_positive("verifier-flops", r["verifier_flops"], allow_zero=True) or 0.0
    r["reward_model_params"] = check_positive("reward-model", r["reward_model_params"])
    if r["verifier_flops"] and r["reward_model_params"] is not None:
        raise PlannerInputError("give --verifier-flops (an automatic verifier) or --reward-model (a scorer), not both")
    for name in ("samples", "max_samples", "prompt_tokens", "gen_tokens", "serve_batch", "max_serve_batch", "seq_len",
                 "max_uncertainty_draws", "max_gpus"):
        r[name] = check_int(name.replace("_", "-"), r[name], maximum=LIMITS.get(name))
    if r["mfu"] is not None:
        r["mfu"] = check_fraction("mfu", r["mfu"])
    r["goodput"] = check_fraction("goodput", r["goodput"])
    if not 0 < r["interval_level"] < 1:
        raise PlannerInputError(f"interval level must be in (0, 1), got {r['interval_level']}")
    r["optimizer"] = str(r.get("optimizer") or "adamw").strip().lower()
    if r["optimizer"] not in OPTIMIZERS:
        raise PlannerInputError(f"unknown optimizer '{r['optimizer']}'; measured ones: {', '.join(OPTIMIZERS)}")
    r["budget_kind"] = _budget_kind(r)
    _check_serving(r)
    return Request(**r)
