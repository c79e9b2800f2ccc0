"""What-if budgeting: sweeps over any plan flag, scenarios side by side, and sweeps that run
on an optuna storage shared by many workers."""

from __future__ import annotations

from planner._lazy import lazy_exports

_WHERE = {
    "SweepPoint": "sweep", "PointResult": "sweep", "expand_axis": "sweep", "grid": "sweep", "run_point": "sweep",
    "run_points": "sweep", "row_of": "sweep", "regime_changes": "sweep",
    "compare_rows": "compare", "differences": "compare",
    "open_storage": "store", "run_on_storage": "store", "read_results": "store",
}
__all__ = [
    "PointResult",
    "SweepPoint",
    "compare_rows",
    "differences",
    "expand_axis",
    "grid",
    "open_storage",
    "read_results",
    "regime_changes",
    "row_of",
    "run_on_storage",
    "run_point",
    "run_points",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
