"""The work behind ``plan fit-samples``: per-group scaled-Beta fits and pass@k tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from planner.errors import PlannerInputError
from planner.io.runs import read_runs
from planner.serving.sampling import (
    ScaledBetaFit,
    check_counts,
    fit_power_law,
    unbiased_pass_at_k,
)

__all__ = ["DEFAULT_KS", "fit_sample_file"]

DEFAULT_KS = (1, 10, 100, 1000, 10000)
#: The observed k a report shows (with the largest observed), observed and fitted.
SHOWN_KS = (1, 2, 5, 10, 20, 50, 100)
#: Fewer problems ever solved than this and a single model's tail is treated as not identified:
#: a planner rule (Pythia 70M on MATH solves 2 of 128, and its own fit says pass@10000 = 0.75
#: where Brown et al. measured ~0.24).
UNIDENTIFIED_SOLVED = 5
TAIL_DRAWS = 20  # bootstrap draws over problems for an unidentified tail (seed 0)


def _tail_interval(n: np.ndarray, c: np.ndarray, ks: Sequence[int], n_min: int) -> dict[str, list[float]]:
    """A 90 % bootstrap band over problems for k beyond the samples; a draw that solves
    nothing says pass@k can be as low as what was seen (0 beyond it)."""
    rng = np.random.default_rng(0)
    far = [k for k in ks if k > n_min]
    draws = []
    for _ in range(TAIL_DRAWS):
        idx = rng.integers(0, len(n), len(n))
        if c[idx].sum() == 0:
            draws.append(np.zeros(len(far)))
            continue
        draws.append(ScaledBetaFit().fit(n[idx], c[idx]).pass_at_k(far))
    lo, hi = np.percentile(np.array(draws), [5, 95], axis=0)
    return {str(k): [float(a), float(b)] for k, a, b in zip(far, lo, hi, strict=True)}


def fit_sample_file(
    path: str, *, group_col: str | None = None, n_col: str = "n", c_col: str = "c", ks: Sequence[float] = (),
    where: Sequence[str] = (), progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    table = read_runs(path).where(where)
    for col in (n_col, c_col) + ((group_col,) if group_col else ()):
        if col not in table.header:
            raise PlannerInputError(f"{path}: no column '{col}' (columns: {', '.join(table.header)})")
    ks = tuple(int(k) for k in (ks or DEFAULT_KS))
    if any(k < 1 for k in ks):
        raise PlannerInputError("--k must be at least 1")
    n_all, c_all = table.numeric(n_col), table.numeric(c_col)
    groups = table.column(group_col) if group_col else ["all"] * len(table)
    check_counts(path, n_all, c_all, groups, n_col=n_col, c_col=c_col)
    order = list(dict.fromkeys(groups))
    entries = []
    for name in order:
        idx = [i for i, g in enumerate(groups) if g == name]
        n, c = n_all[idx].astype(int), c_all[idx].astype(int)
        fit = ScaledBetaFit().fit(n, c)
        n_min = int(n.min())
        observed = [k for k in range(1, n_min + 1)]
        unbiased = {k: unbiased_pass_at_k(n, c, k) for k in observed}  # every k: the power law is fitted on them all
        shown = [k for k in observed if k in SHOWN_KS or k == n_min]  # the fit is integrated at these only
        a_pl, b_pl = fit_power_law(list(unbiased), list(unbiased.values()))
        pred = fit.pass_at_k(ks)
        warnings = []
        solved = int((c > 0).sum())
        interval: dict[str, list[float]] = {}
        if solved < UNIDENTIFIED_SOLVED or fit.at_bound_:
            warnings.append(f"only {solved} of {len(c)} problems were ever solved or a parameter sits on its bound: "
                            f"the tail is not identified; pass@k beyond k = {n_min} is given as a bootstrap interval, not a point")
            interval = _tail_interval(n, c, ks, n_min)
        entry: dict[str, Any] = {
            "name": name,
            "n_problems": int(len(idx)),
            "samples_per_problem": n_min,
            "solved_problems": int((c > 0).sum()),
            "alpha": fit.alpha_,
            "beta": fit.beta_,
            "scale": fit.scale_,
            "params": {"alpha": fit.alpha_, "beta": fit.beta_, "scale": fit.scale_},
            "log_likelihood": fit.log_likelihood_,
            "pass_at_k": {str(k): (None if interval and k > n_min else float(v)) for k, v in zip(ks, pred, strict=True)},
            "pass_at_k_interval": interval,
            "pass_at_k_unbiased": {str(k): unbiased[k] for k in shown},
            "pass_at_k_fit_on_observed": {str(k): float(v) for k, v in zip(shown, fit.pass_at_k(shown), strict=True)},
            "power_law": {"a": a_pl, "b": b_pl},
            "pass_at_k_power_law": {str(k): float(np.exp(a_pl * k**b_pl)) for k in ks},
            "warnings": warnings,
        }
        entries.append(entry)
        if progress:
            progress(len(entries), len(order))
    return entries
