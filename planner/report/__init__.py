"""Rendering with rich: the plan, fits, layouts and sample fits. Pure: records in, renderables out."""

from __future__ import annotations

from planner._lazy import lazy_exports

_WHERE = {
    "render_plan": "plan",
    "render_fit": "tables",
    "render_layouts": "tables",
    "render_sample_fits": "tables",
}
__all__ = [
    "render_fit",
    "render_layouts",
    "render_plan",
    "render_sample_fits",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
