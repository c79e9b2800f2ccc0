"""The work behind ``plan fit-samples --sizes``: a task law across model sizes from per-problem
counts, with the per-size fits, bootstrap intervals over problems and a leave-sizes-out check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from planner.errors import PlannerInputError
from planner.serving.task_law import (
    SizeCounts,
    beta_binomial_fit,
    bootstrap_task_law,
    fit_task_law,
    leave_out_check,
)
from planner.serving.tasks import (
    TASK_LAW_KEYS,
    check_task_name,
    read_size_counts,
    save_task,
)

__all__ = ["DEFAULT_TASK_KS", "fit_task_file", "task_law_report"]

DEFAULT_TASK_KS = (1, 10, 100, 1000, 10000)


def task_law_report(sizes: Sequence[SizeCounts], ks: Sequence[int], *, name: str, loss_law: str, source: str,
                    draws: int = 100, seed: int = 0) -> dict[str, Any]:
    """The pooled law, each size's own fit beside it (with bootstrap bands), and the check that
    holds two sizes out at a time."""
    law = fit_task_law(sizes, name=name, loss_law=loss_law, source=source)
    bands = bootstrap_task_law(sizes, ks, draws=draws, seed=seed) if draws else {}
    rows = []
    for s in sizes:
        a, b = beta_binomial_fit(s.n, s.c)
        pred = law.pass_at_k(s.loss, ks)
        n_min = min(s.n)
        rows.append({"size": s.name, "loss": s.loss, "solved": int(sum(c > 0 for c in s.c)), "problems": len(s.c),
                     "own_fit": {"alpha": a, "beta": b}, "law_alpha": float(law.alpha(s.loss)), "law_mean": float(law.mean(s.loss)),
                     "observed": {str(k): s.observed_pass_at_k(int(k)) for k in ks if k <= n_min},
                     "predicted": {str(k): float(v) for k, v in zip(ks, pred, strict=True)},
                     "interval": {str(k): [float(x) for x in bands[s.name][i]] for i, k in enumerate(ks)} if bands else {}})
    # Hold two sizes out when at least three remain to fit (the mean has a curvature term), one
    # when only four sizes are given; with three there is nothing to hold out.
    n_out = 2 if len(sizes) >= 5 else (1 if len(sizes) == 4 else 0)
    held = leave_out_check(sizes, ks=(1, 100) if min(min(s.n) for s in sizes) >= 100 else (1,), held=n_out) if n_out else []
    check_ks = sorted(held[0]["observed"]) if held else []
    errors = {str(k): float(np.mean([abs(r["predicted"][k] - r["observed"][k]) for r in held])) for k in check_ks}
    return {"task_law": law.to_dict(), "sizes": rows, "leave_two_out": {"rows": held, "mean_abs_error": errors, "held_out": n_out},
            "bootstrap": {"draws": draws, "seed": seed, "level": 0.9, "over": "problems"}}


def fit_task_file(path: str, *, group_col: str, sizes_path: str, law: str, n_col: str = "n", c_col: str = "c",
                  ks: Sequence[float] = (), where: Sequence[str] = (), draws: int = 100, seed: int = 0,
                  save_name: str | None = None, overwrite: bool = False) -> dict[str, Any]:
    ks = tuple(int(k) for k in (ks or DEFAULT_TASK_KS))
    if save_name is not None:
        check_task_name(save_name, overwrite=overwrite)
    sizes, law_name = read_size_counts(path, group_col, sizes_path, law, n_col=n_col, c_col=c_col, where=where)
    if save_name is not None and law_name == "given losses":
        raise PlannerInputError("--save needs the losses from a named law (give params and tokens in --sizes, and --law), "
                                "so a plan can evaluate the law at its own model")
    report = task_law_report(sizes, ks, name=save_name or "task", loss_law=law_name,
                             source=f"fitted with `plan fit-samples --sizes {sizes_path}` on {path}", draws=draws, seed=seed)
    if save_name is not None:
        t = report["task_law"]
        report["saved_to"] = str(save_task(save_name, {**{k: t[k] for k in TASK_LAW_KEYS}, "loss_law": t["loss_law"],
                                                       "sizes": list(t["sizes"]), "source": t["source"]}, overwrite=overwrite))
    return report
