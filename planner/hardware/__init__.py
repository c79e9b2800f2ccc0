"""The accelerator registry: datasheet figures in SI units with their sources."""

from __future__ import annotations

from planner._lazy import lazy_exports

_WHERE = {
    "Accelerator": "registry",
    "HardwareRegistry": "registry",
    "load_registry": "registry",
    "PRECISIONS": "registry",
}
__all__ = [
    "PRECISIONS",
    "Accelerator",
    "HardwareRegistry",
    "load_registry",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
