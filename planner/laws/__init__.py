"""Scaling laws: forms and presets, fitting to your runs, prediction, and the training recipe."""

from __future__ import annotations

from planner._lazy import lazy_exports

_WHERE = {
    "ChinchillaLaw": "catalog",
    "DownstreamMap": "catalog",
    "DEFAULT_LAW": "catalog",
    "get_law": "catalog",
    "get_downstream": "catalog",
    "law_from_table": "catalog",
    "preset_names": "catalog",
    "presets": "catalog",
    "saved_laws": "catalog",
    "LossLawFit": "fitting",
    "DownstreamFit": "fitting",
    "bootstrap": "fitting",
    "BootstrapResult": "fitting",
    "fit_runs": "lawfit",
    "FitOutcome": "lawfit",
    "predict": "prediction",
    "TrainingRecipe": "recipe",
    "training_recipe": "recipe",
    "LR_RULES": "recipe",
}
__all__ = [
    "DEFAULT_LAW",
    "LR_RULES",
    "BootstrapResult",
    "ChinchillaLaw",
    "DownstreamFit",
    "DownstreamMap",
    "FitOutcome",
    "LossLawFit",
    "TrainingRecipe",
    "bootstrap",
    "fit_runs",
    "get_downstream",
    "get_law",
    "law_from_table",
    "predict",
    "preset_names",
    "presets",
    "saved_laws",
    "training_recipe",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
