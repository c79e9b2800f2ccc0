"""The work behind ``plan fit-samples``: one model's pass@k beyond its samples, per group.

Up to the samples drawn (k <= n) pass@k is the unbiased estimate. Beyond them it is the
aggregate curve's exponentiated power law, ``log pass@k = a k^b`` (Brown et al. 2024), fitted
on every observed k, with a 90 % bootstrap band over problems. That estimator was chosen over
the scaled Beta (Schaeffer et al. 2025; still fitted and shown, and the family of the task law
across sizes) on real 10,000-sample counts: from 100-sample draws of Pythia 410M, 2.8B and 12B's
MATH samples the power law's mean error at k = 1,000 and 10,000 was about a third of the Beta's,
with less spread; 160M, 1B and 6.9B then checked it (``benchmarks/tail_check.py``, README).
Where the data cannot identify the tail (fewer than 5 problems ever solved) the two estimators
part widely (Pythia 70M's shipped counts: 0.15 against 0.73 at k = 10,000), so there is no point, only a band
spanning both estimators' bootstrap bands.
"""

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
    unbiased_pass_at_k_per_problem,
)

__all__ = ["DEFAULT_KS", "TAIL_LEVEL", "fit_group", "fit_sample_file", "power_law_tail"]

DEFAULT_KS = (1, 10, 100, 1000, 10000)
#: The observed k a report shows (with the largest observed), observed and fitted.
SHOWN_KS = (1, 2, 5, 10, 20, 50, 100)
#: Fewer problems ever solved than this and a single model's tail is treated as not identified:
#: a planner rule (Pythia 70M on MATH solves 2 of 128 in 100 samples; its scaled Beta says
#: pass@10000 = 0.73 where its 10,000 real samples solve 0.27).
UNIDENTIFIED_SOLVED = 5
TAIL_DRAWS = 20  # bootstrap draws of the scaled Beta over problems for an unidentified tail (each a full fit)
#: Coverage of the band beyond the samples: a planner choice. On 100-sample draws of the real
#: 10,000 samples it covered the truth in 85-100 % of 100 draws per size and k
#: (tests/serving/test_tail_truth.py; 75-100 % of 20 in benchmarks/tail_check.py).
TAIL_LEVEL = 0.90


def _power_law_at(curve: np.ndarray, ks_obs: np.ndarray, far: np.ndarray) -> np.ndarray:
    """pass@k at ``far`` from the power law fitted to one aggregate observed curve."""
    try:
        a, b = fit_power_law(ks_obs, curve)
    except PlannerInputError:  # fewer than two observed k strictly inside (0, 1): nothing to extrapolate
        return np.full(far.shape, float(curve[-1]))
    return np.exp(a * far**b)


def _power_law_band(per_problem: np.ndarray, ks_obs: np.ndarray, far: np.ndarray, draws: int,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The power law's band at ``far``: problems resampled with replacement, each draw's curve refitted."""
    rng = np.random.default_rng(seed)
    rows = len(per_problem)
    preds = np.array([_power_law_at(per_problem[rng.integers(0, rows, rows)].mean(axis=0), ks_obs, far) for _ in range(draws)])
    tail = 100 * (1 - TAIL_LEVEL) / 2
    lo, hi = np.percentile(preds, [tail, 100 - tail], axis=0)
    return lo, hi


def _beta_band(n: np.ndarray, c: np.ndarray, far: Sequence[int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The scaled Beta's band over problems for an unidentified tail (a draw that solves
    nothing counts as 0; the caller floors the band at what was seen)."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(TAIL_DRAWS):
        idx = rng.integers(0, len(n), len(n))
        draws.append(np.zeros(len(far)) if c[idx].sum() == 0 else ScaledBetaFit().fit(n[idx], c[idx]).pass_at_k(far))
    tail = 100 * (1 - TAIL_LEVEL) / 2
    lo, hi = np.percentile(np.array(draws), [tail, 100 - tail], axis=0)
    return lo, hi


def power_law_tail(n: np.ndarray, c: np.ndarray, ks: Sequence[float], *, draws: int = 100,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pass@k at ``ks`` (each beyond the samples) from the power law fitted on every observed k,
    with its bootstrap band over problems floored at the largest observed: (point, lo, hi)."""
    ks_obs = np.arange(1, int(np.min(n)) + 1)
    return _tail(unbiased_pass_at_k_per_problem(n, c, ks_obs), np.asarray(ks, dtype=float), draws, seed)


def _tail(per_problem: np.ndarray, far: np.ndarray, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`power_law_tail` from each problem's observed curve (k = 1..n)."""
    ks_obs = np.arange(1, per_problem.shape[1] + 1)
    curve = per_problem.mean(axis=0)
    point = _power_law_at(curve, ks_obs, far)
    if draws < 1:  # no bootstrap asked for: a band of no width, which the caller leaves out
        return point, point, point
    lo, hi = _power_law_band(per_problem, ks_obs, far, draws, seed)
    floor = curve[-1]  # pass@k never falls with k: no lower than what the samples already show
    return point, np.maximum(lo, floor), np.maximum(hi, floor)


def fit_group(name: str, n: np.ndarray, c: np.ndarray, ks: Sequence[int], *, draws: int = 100, seed: int = 0) -> dict[str, Any]:
    """One group's entry of ``plan fit-samples``: the scaled Beta, the observed curve, and
    pass@k at ``ks`` (unbiased up to the samples, the power law beyond, with its band)."""
    n, c = np.asarray(n, dtype=int), np.asarray(c, dtype=int)
    fit = ScaledBetaFit().fit(n, c)
    n_min = int(n.min())
    ks_obs = np.arange(1, n_min + 1)
    per_problem = unbiased_pass_at_k_per_problem(n, c, ks_obs)  # every k: the power law is fitted on them all
    curve = per_problem.mean(axis=0)
    a_pl, b_pl = fit_power_law(ks_obs, curve)
    shown = [k for k in ks_obs.tolist() if k in SHOWN_KS or k == n_min]  # the Beta is integrated at these only
    far = np.array([k for k in ks if k > n_min], dtype=float)
    solved = int((c > 0).sum())
    identified = solved >= UNIDENTIFIED_SOLVED
    warnings = []
    beyond, lo, hi = _tail(per_problem, far, draws, seed) if far.size else (np.empty(0),) * 3
    if far.size and not identified:
        warnings.append(f"only {solved} of {len(c)} problems were ever solved: the tail is not identified; pass@k beyond "
                        f"k = {n_min} is a band spanning the power law's and the scaled Beta's {TAIL_LEVEL:.0%} bootstrap "
                        "bands, not a point")
        beta_lo, beta_hi = _beta_band(n, c, far.astype(int).tolist(), seed)
        lo, hi = np.maximum(np.minimum(lo, beta_lo), curve[-1]), np.maximum(hi, beta_hi)
    banded = far.size and (draws >= 1 or not identified)  # --bootstrap 0: points only where identified
    at = dict(zip(far.astype(int).tolist(), beyond.tolist(), strict=True))
    point = {str(k): (float(curve[k - 1]) if k <= n_min else (at[k] if identified else None)) for k in ks}
    return {
        "name": name,
        "n_problems": int(len(n)),
        "samples_per_problem": n_min,
        "solved_problems": solved,
        "alpha": fit.alpha_,
        "beta": fit.beta_,
        "scale": fit.scale_,
        "params": {"alpha": fit.alpha_, "beta": fit.beta_, "scale": fit.scale_},
        "log_likelihood": fit.log_likelihood_,
        "beta_at_bound": bool(fit.at_bound_),
        "pass_at_k": point,
        "pass_at_k_interval": {str(int(k)): [float(a), float(b)] for k, a, b in zip(far, lo, hi, strict=True)} if banded else {},
        "interval_level": TAIL_LEVEL,
        "pass_at_k_unbiased": {str(k): float(curve[k - 1]) for k in shown},
        "pass_at_k_fit_on_observed": {str(k): float(v) for k, v in zip(shown, fit.pass_at_k(shown), strict=True)},
        "pass_at_k_beta": {str(k): float(v) for k, v in zip(ks, fit.pass_at_k(ks), strict=True)},
        "power_law": {"a": a_pl, "b": b_pl},
        "warnings": warnings,
    }


def fit_sample_file(
    path: str, *, group_col: str | None = None, n_col: str = "n", c_col: str = "c", ks: Sequence[float] = (),
    where: Sequence[str] = (), draws: int = 100, seed: int = 0, progress: Callable[[int, int], None] | None = None,
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
        entries.append(fit_group(name, n_all[idx].astype(int), c_all[idx].astype(int), ks, draws=draws, seed=seed))
        if progress:
            progress(len(entries), len(order))
    return entries
