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
    "ServingSpec",
    "ServingCost",
    "serving_cost",
    "kinetics_eflops",
    "kv_bytes_per_token",
    "weight_bound_decode_s",
    "queries_for",
    "qat_fraction",
    "precision_factor",
    "qat_plan",
    "QATResult",
    "TaskProfile",
    "ScaledBetaFit",
    "unbiased_pass_at_k",
    "scaled_beta_pass_at_k",
    "get_task",
    "save_task",
    "PRESET_TASKS",
    "fit_sample_file",
    "serving_terms",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
