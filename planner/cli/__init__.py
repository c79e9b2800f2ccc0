"""The ``plan`` command line: thin commands over the library."""

from __future__ import annotations

from planner._lazy import lazy_exports

_WHERE = {
    "main": "app",
    "cli": "app",
}
__all__ = [
    "cli",
    "main",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
