"""compute-planner: plan large-model compute from scaling laws and hardware.

The stable library API::

    import planner
    p = planner.plan(budget_flops=1e23, gpu="h100", infer_tokens=1e12)
    p.result.params, p.result.train_tokens, p.result.loss
    p.to_json(); planner.Plan.from_json(p.to_json()) == p

The house, lowest layer first (``tests/test_architecture.py`` enforces it):
``io`` < ``hardware``, ``laws`` < ``systems`` < ``serving`` < ``planning`` < ``report`` < ``cli``;
``errors``, ``defaults``, ``units`` sit below them all, and ``solvers`` imports nothing from
``planner``. Names are loaded on first use so that ``import planner`` (and ``plan --help``)
stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner._compat import install as _install_moved_paths
from planner._lazy import lazy_exports

_WHERE = {
    "plan": "planning",
    "Plan": "planning",
    "Allocation": "planning",
    "Baseline": "planning",
    "Assumption": "planning",
    "ClusterChoice": "planning",
    "ServingSection": "planning",
    "Uncertainty": "planning",
    "Request": "planning",
    "ChinchillaLaw": "laws",
    "DownstreamMap": "laws",
    "get_law": "laws",
    "Accelerator": "hardware",
    "HardwareRegistry": "hardware",
    "load_registry": "hardware",
    "PlannerError": "errors",
    "PlannerInputError": "errors",
    "InfeasiblePlanError": "errors",
    "SolverError": "errors",
    "InternalError": "errors",
}
__all__ = [
    "Accelerator",
    "Allocation",
    "Assumption",
    "Baseline",
    "ChinchillaLaw",
    "ClusterChoice",
    "DownstreamMap",
    "HardwareRegistry",
    "InfeasiblePlanError",
    "InternalError",
    "Plan",
    "PlannerError",
    "PlannerInputError",
    "Request",
    "ServingSection",
    "SolverError",
    "Uncertainty",
    "get_law",
    "load_registry",
    "plan",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
_install_moved_paths()

if TYPE_CHECKING:
    from planner.errors import (
        InfeasiblePlanError,
        InternalError,
        PlannerError,
        PlannerInputError,
        SolverError,
    )
    from planner.hardware import Accelerator, HardwareRegistry, load_registry
    from planner.laws import ChinchillaLaw, DownstreamMap, get_law
    from planner.planning import (
        Allocation,
        Assumption,
        Baseline,
        ClusterChoice,
        Plan,
        Request,
        ServingSection,
        Uncertainty,
        plan,
    )
