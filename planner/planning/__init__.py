"""Planning: the user's question lowered onto one declared problem, solved, and mapped back
through named stages into one frozen :class:`Plan`."""

from __future__ import annotations

from planner._lazy import lazy_exports

_WHERE = {
    "plan": "pipeline",
    "Plan": "records",
    "Allocation": "records",
    "Baseline": "records",
    "Assumption": "records",
    "ClusterChoice": "records",
    "ClusterOption": "records",
    "Request": "records",
    "Resolved": "records",
    "ServingSection": "records",
    "Uncertainty": "records",
    "SCHEMA_VERSION": "records",
    "GENERIC_DEFAULT_MFU": "resolve",  # defined in planner.defaults; 0.1 imported it from planner.planning
}
__all__ = [
    "GENERIC_DEFAULT_MFU",
    "SCHEMA_VERSION",
    "Allocation",
    "Assumption",
    "Baseline",
    "ClusterChoice",
    "ClusterOption",
    "Plan",
    "Request",
    "Resolved",
    "ServingSection",
    "Uncertainty",
    "plan",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
