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
    "ChinchillaLaw",
    "DownstreamMap",
    "DEFAULT_LAW",
    "get_law",
    "get_downstream",
    "law_from_table",
    "preset_names",
    "presets",
    "saved_laws",
    "LossLawFit",
    "DownstreamFit",
    "bootstrap",
    "BootstrapResult",
    "fit_runs",
    "FitOutcome",
    "predict",
    "TrainingRecipe",
    "training_recipe",
    "LR_RULES",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
