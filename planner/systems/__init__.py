"""Training systems: model shapes, memory, step time, layout search, launcher exports, calibration."""

from __future__ import annotations

from planner._lazy import lazy_exports

_WHERE = {
    "ModelShape": "shape",
    "shape_for_params": "shape",
    "complete_shape": "shape",
    "LLAMA3_RULE": "shape",
    "Calibration": "perf",
    "load_calibration": "perf",
    "evaluate": "perf",
    "memory_per_gpu": "perf",
    "Layout": "layout",
    "LayoutResult": "layout",
    "LayoutSearch": "layout",
    "search_layouts": "layout",
    "evaluate_layout": "layout",
    "calibration_warnings": "layout",
    "export": "exports",
    "LaunchConfig": "exports",
    "LaunchSpec": "exports",
    "run_layout": "layout_request",
}
__all__ = [
    "LLAMA3_RULE",
    "Calibration",
    "LaunchConfig",
    "LaunchSpec",
    "Layout",
    "LayoutResult",
    "LayoutSearch",
    "ModelShape",
    "calibration_warnings",
    "complete_shape",
    "evaluate",
    "evaluate_layout",
    "export",
    "load_calibration",
    "memory_per_gpu",
    "run_layout",
    "search_layouts",
    "shape_for_params",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
