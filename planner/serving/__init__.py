"""Serving: roofline and Kinetics cost, QAT, pass@k and task profiles, and the lowering of serving onto the planning problem."""

from __future__ import annotations

from planner._lazy import lazy_exports

_WHERE = {
    "ServingSpec": "cost",
    "ServingCost": "cost",
    "serving_cost": "cost",
    "kinetics_eflops": "cost",
    "kv_bytes_per_token": "cost",
    "weight_bound_decode_s": "cost",
    "queries_for": "cost",
    "qat_fraction": "qat",
    "precision_factor": "qat",
    "qat_plan": "qat",
    "QATResult": "qat",
    "TaskProfile": "sampling",
    "ScaledBetaFit": "sampling",
    "unbiased_pass_at_k": "sampling",
    "scaled_beta_pass_at_k": "sampling",
    "get_task": "tasks",
    "save_task": "tasks",
    "PRESET_TASKS": "tasks",
    "fit_sample_file": "sample_fit",
    "serving_terms": "joint",
}
__all__ = [
    "PRESET_TASKS",
    "QATResult",
    "ScaledBetaFit",
    "ServingCost",
    "ServingSpec",
    "TaskProfile",
    "fit_sample_file",
    "get_task",
    "kinetics_eflops",
    "kv_bytes_per_token",
    "precision_factor",
    "qat_fraction",
    "qat_plan",
    "queries_for",
    "save_task",
    "scaled_beta_pass_at_k",
    "serving_cost",
    "serving_terms",
    "unbiased_pass_at_k",
    "weight_bound_decode_s",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
