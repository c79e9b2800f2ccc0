"""Task profiles for pass@k planning: presets and profiles saved by ``plan fit-samples``.

A profile is a difficulty distribution (:class:`planner.sampling.TaskProfile`): the Beta
tail exponent ``alpha`` and ceiling ``scale`` of single-sample success probabilities.
"""

from __future__ import annotations

from pathlib import Path

from planner.errors import PlannerInputError
from planner.io.store import save_task_table, saved_task_files, user_task_dir
from planner.io.toml import check_keys, load_toml_file, unknown_name
from planner.serving.sampling import TaskProfile

__all__ = ["PRESET_TASKS", "get_task", "save_task", "user_task_dir"]

#: Fitted by compute-planner (``ScaledBetaFit(fit_scale=False)``, i.e. a Beta on (0, 1)) to
#: the MATH per-problem counts of Pythia 12B in planner/data/measured/math_pythia_per_problem_100samples.csv
#: (Brown et al. 2024, Large Language Monkeys, as processed by Schaeffer et al. 2025):
#: tail exponent alpha = 0.286. A profile for planning keeps only the tail: the accuracy
#: comes from the loss (inference.md's chain), so the scale is 1.
PRESET_TASKS = {
    "math": TaskProfile(
        name="math", alpha=0.286, scale=1.0,
        source="Beta tail exponent fitted by maximum likelihood to Pythia 12B on MATH, 128 problems x 100 samples (Brown et al. 2024; Schaeffer et al. 2025)",
    ),
}


def get_task(name: str) -> TaskProfile:
    key = name.strip().lower()
    if key in PRESET_TASKS:
        return PRESET_TASKS[key]
    path = user_task_dir() / f"{key}.toml"
    if not path.is_file() and Path(name).is_file():
        path = Path(name)
    if not path.is_file():
        saved = list(saved_task_files())
        raise unknown_name("task profile", name, [*PRESET_TASKS, *saved])
    data = load_toml_file(path, "task profile")
    tables = [v for v in data.values() if isinstance(v, dict)]
    table = tables[0] if len(tables) == 1 and "alpha" not in data else data
    check_keys(f"task profile {path}", table, {"alpha", "scale", "beta", "source", "group", "n_problems", "log_likelihood"})
    try:
        return TaskProfile(name=path.stem, alpha=float(table["alpha"]), scale=float(table["scale"]), source=str(table.get("source", path)))
    except (KeyError, ValueError, TypeError):
        raise PlannerInputError(f"task profile {path}: needs numbers alpha and scale") from None


def save_task(name: str, table: dict, *, overwrite: bool = False) -> Path:
    """Write a fitted task profile to the user's task directory."""
    return save_task_table(name, table, overwrite=overwrite, reserved=set(PRESET_TASKS))
