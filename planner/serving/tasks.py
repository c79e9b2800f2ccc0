"""Task laws for pass@k planning: the shipped ``math`` law and laws saved by ``plan fit-samples``.

A task law (:class:`planner.serving.task_law.TaskLaw`) gives pass@k from a model's loss under a
named scaling law, fitted across model sizes. A single model's difficulty fit (alpha, scale)
cannot say how accuracy moves with the model, so planning refuses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from planner.errors import PlannerInputError
from planner.io import measured_data_dir
from planner.io.runs import read_runs
from planner.io.store import (
    check_save_name,
    save_task_table,
    saved_task_files,
    user_task_dir,
)
from planner.io.text import is_file
from planner.io.toml import check_keys, load_toml_file, unknown_name
from planner.serving.sampling import check_counts
from planner.serving.task_law import SizeCounts, TaskLaw

__all__ = ["PRESET_TASKS", "TASK_LAW_KEYS", "check_task_name", "get_task", "pythia_math_sizes", "read_size_counts", "save_task", "user_task_dir"]

_PYTHIA = ("Pythia 70M", "Pythia 160M", "Pythia 410M", "Pythia 1B", "Pythia 2.8B", "Pythia 6.9B", "Pythia 12B")  # worst first

#: Fitted by compute-planner (``fit_task_law``, pooled Beta-binomial maximum likelihood) to the
#: MATH per-problem counts of seven Pythia models, 128 problems x 100 samples each
#: (planner/data/measured/math_pythia_per_problem_100samples.csv: Brown et al. 2024, Large
#: Language Monkeys, as processed by Schaeffer et al. 2025), each model's loss being
#: besiroglu2024's at its parameters and 299,892,736,000 training tokens
#: (planner/data/measured/pythia_models.csv, from the Pythia README). tests/serving/
#: test_task_law.py refits it from those files and checks these numbers.
PRESET_TASKS = {
    "math": TaskLaw(
        name="math", m0=-4.810607864299214, m1=-4.844697354634739, m2=-4.51802354874599,
        a0=-1.7088492523801435, a1=-1.473318026501938, center=2.3778733264338827,
        loss_lo=2.100493571671225, loss_hi=2.848002411822043, loss_law="besiroglu2024", sizes=_PYTHIA,
        source="pooled Beta-binomial fit to Pythia 70M-12B on MATH (128 problems x 100 samples; Brown et al. 2024, "
               "Schaeffer et al. 2025), indexed by besiroglu2024's loss at each model's N and 300B tokens",
    ),
}

#: Keys of a saved task law (plan fit-samples --save), besides the profile's provenance.
TASK_LAW_KEYS = ("m0", "m1", "m2", "a0", "a1", "center", "loss_lo", "loss_hi")


def read_size_counts(path: str | Path, group_col: str, sizes_path: str | Path, law: str, *, n_col: str = "n", c_col: str = "c",
                     where: Sequence[str] = ()) -> tuple[list[SizeCounts], str]:
    """Per-problem counts of each group in ``path`` with the group's loss from ``sizes_path``
    (its ``loss``, or ``law`` at its ``params`` and ``tokens``), worst first; and the name of
    what gave the losses."""
    counts = read_runs(path).where(where)
    for col in (n_col, c_col, group_col):
        if col not in counts.header:
            raise PlannerInputError(f"{path}: no column '{col}' (columns: {', '.join(counts.header)})")
    table = read_runs(sizes_path)
    key = group_col if group_col in table.header else ("model" if "model" in table.header else None)
    if key is None:
        raise PlannerInputError(f"{sizes_path}: needs a '{group_col}' (or 'model') column naming each group")
    if "loss" in table.header:
        losses = dict(zip(table.column(key), table.numeric("loss"), strict=True))
        law_name = "given losses"
    elif {"params", "tokens"} <= set(table.header):
        from planner.laws.catalog import get_law

        the_law = get_law(law)
        losses = {g: float(the_law.loss(p, d)) for g, p, d in zip(table.column(key), table.numeric("params"), table.numeric("tokens"), strict=True)}
        law_name = the_law.name
    else:
        raise PlannerInputError(f"{sizes_path}: give each group's 'loss', or its 'params' and 'tokens' (the --law gives the loss)")
    groups = counts.column(group_col)
    n_all, c_all = counts.numeric(n_col), counts.numeric(c_col)
    check_counts(str(path), n_all, c_all, groups, n_col=n_col, c_col=c_col)
    out = []
    for name in dict.fromkeys(groups):
        if name not in losses:
            raise PlannerInputError(f"{sizes_path}: no row for group '{name}' of {path}")
        idx = [i for i, g in enumerate(groups) if g == name]
        out.append(SizeCounts(name, float(losses[name]), tuple(int(n_all[i]) for i in idx), tuple(int(c_all[i]) for i in idx)))
    if len({s.loss for s in out}) < 3:
        raise PlannerInputError("a task law needs three or more model sizes of different losses")
    return sorted(out, key=lambda s: -s.loss), law_name


def pythia_math_sizes(law_name: str = "besiroglu2024") -> list[SizeCounts]:
    """The shipped Pythia MATH counts with each model's loss under ``law_name`` (worst first)."""
    data = measured_data_dir()
    sizes, _ = read_size_counts(data / "math_pythia_per_problem_100samples.csv", "model", data / "pythia_models.csv", law_name)
    return sizes


def get_task(name: str) -> TaskLaw:
    key = name.strip().lower()
    if key in PRESET_TASKS:
        return PRESET_TASKS[key]
    path = user_task_dir() / f"{key}.toml"
    if not is_file(path) and is_file(name):
        path = Path(name)
    if not is_file(path):
        saved = list(saved_task_files())
        raise unknown_name("task profile", name, [*PRESET_TASKS, *saved])
    data = load_toml_file(path, "task profile")
    tables = [v for v in data.values() if isinstance(v, dict)]
    table = tables[0] if len(tables) == 1 and "m0" not in data and "alpha" not in data else data
    if "m0" not in table:
        raise PlannerInputError(f"task profile {path} is one model's difficulty fit, not a law across sizes: planning needs "
                                "how accuracy moves with the model; refit with plan fit-samples --sizes FILE --save NAME")
    check_keys(f"task profile {path}", table, set(TASK_LAW_KEYS) | {"loss_law", "source", "sizes", "name"})
    try:
        values = {k: float(table[k]) for k in TASK_LAW_KEYS}
        sizes = tuple(str(x) for x in table.get("sizes", ()))
        return TaskLaw(name=path.stem, loss_law=str(table["loss_law"]), source=str(table.get("source", path)), sizes=sizes, **values)
    except (KeyError, ValueError, TypeError):
        raise PlannerInputError(f"task profile {path}: needs numbers {', '.join(TASK_LAW_KEYS)} and a loss_law") from None


def check_task_name(name: str, *, overwrite: bool = False) -> None:
    """Refuse a task-law name that cannot be saved, before any fitting."""
    check_save_name(user_task_dir(), "task profile", name, overwrite=overwrite, reserved=set(PRESET_TASKS))


def save_task(name: str, table: dict, *, overwrite: bool = False) -> Path:
    """Write a fitted task law to the user's task directory."""
    return save_task_table(name, table, overwrite=overwrite, reserved=set(PRESET_TASKS))
