"""compute-planner: plan large-model compute from scaling laws and hardware.

The stable library API::

    import planner
    p = planner.plan(budget_flops=1e23, gpu="h100", infer_tokens=1e12)
    p.result.params, p.result.train_tokens, p.result.loss
    p.to_json()

Names are loaded on first use so that ``import planner`` (and ``plan --help``) stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "plan",
    "Plan",
    "Allocation",
    "Baseline",
    "Assumption",
    "ChinchillaLaw",
    "DownstreamMap",
    "get_law",
    "Accelerator",
    "HardwareRegistry",
    "load_registry",
    "PlannerError",
    "PlannerInputError",
    "InfeasiblePlanError",
    "SolverError",
]

_WHERE = {
    "plan": "planner.planning",
    "Plan": "planner.planning",
    "Allocation": "planner.planning",
    "Baseline": "planner.planning",
    "Assumption": "planner.planning",
    "ChinchillaLaw": "planner.laws",
    "DownstreamMap": "planner.laws",
    "get_law": "planner.laws",
    "Accelerator": "planner.hardware",
    "HardwareRegistry": "planner.hardware",
    "load_registry": "planner.hardware",
    "PlannerError": "planner.errors",
    "PlannerInputError": "planner.errors",
    "InfeasiblePlanError": "planner.errors",
    "SolverError": "planner.errors",
}

if TYPE_CHECKING:
    from planner.errors import InfeasiblePlanError, PlannerError, PlannerInputError, SolverError
    from planner.hardware import Accelerator, HardwareRegistry, load_registry
    from planner.laws import ChinchillaLaw, DownstreamMap, get_law
    from planner.planning import Allocation, Assumption, Baseline, Plan, plan


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'planner' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
