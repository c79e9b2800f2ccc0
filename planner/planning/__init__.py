"""Planning: the user's question lowered onto one declared problem, solved, and mapped back
through named stages into one frozen :class:`Plan`."""

from __future__ import annotations

from planner._lazy import lazy_exports

_WHERE = {
    "plan": "pipeline",
    "Plan": "pipeline",
    "Allocation": "pipeline",
    "Baseline": "pipeline",
    "Assumption": "pipeline",
    "Request": "pipeline",
    "Resolved": "pipeline",
    "ServingSection": "pipeline",
    "Uncertainty": "pipeline",
    "SCHEMA_VERSION": "pipeline",
    "GENERIC_DEFAULT_MFU": "pipeline",
}
__all__ = [
    "GENERIC_DEFAULT_MFU",
    "SCHEMA_VERSION",
    "Allocation",
    "Assumption",
    "Baseline",
    "Plan",
    "Request",
    "Resolved",
    "ServingSection",
    "Uncertainty",
    "plan",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
