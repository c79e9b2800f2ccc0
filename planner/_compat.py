"""Old flat module paths (before 0.2), kept importable for one release.

``planner.qat``, ``planner.fitting`` ... moved into the domain subpackages. Importing an
old path gives the new module (the same object) and a DeprecationWarning naming it. This
shim goes in the release after 0.2. Standard library only.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from typing import Any

__all__ = ["MOVED", "install"]

#: old module -> new module
MOVED = {
    "planner._toml": "planner.io.toml",
    "planner.config": "planner.io.config",
    "planner.lawstore": "planner.io.store",
    "planner.rundata": "planner.io.runs",
    "planner.fitting": "planner.laws.fitting",
    "planner.lawfit": "planner.laws.lawfit",
    "planner.prediction": "planner.laws.prediction",
    "planner.recipe": "planner.laws.recipe",
    "planner.shape": "planner.systems.shape",
    "planner.perf": "planner.systems.perf",
    "planner.layout": "planner.systems.layout",
    "planner.layout_cli": "planner.systems.layout_request",
    "planner.calibration": "planner.systems.calibration",
    "planner.qat": "planner.serving.qat",
    "planner.sampling": "planner.serving.sampling",
    "planner.tasks": "planner.serving.tasks",
    "planner.sample_fit": "planner.serving.sample_fit",
    "planner.serve_plan": "planner.serving.joint",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: Any) -> Any:
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; the old path goes in the next release", DeprecationWarning, stacklevel=3)
        return importlib.import_module(new)

    def exec_module(self, module: Any) -> None:
        """Nothing to run: the new module is already loaded (its own name and spec kept)."""


def install() -> None:
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())
