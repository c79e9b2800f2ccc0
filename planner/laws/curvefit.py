"""Fitting a loss-curve law to training curves: the work behind ``plan curve fit``.

Input: rows of ``step, lr, loss`` (several runs told apart by a run column), CSV or JSON
lines. Each run's learning rate at every step is rebuilt from its logged points
(:func:`planner.laws.schedules.lr_from_points`: linear between logs, a linear ramp from 0
before the first). The fit minimises a soft-L1 (Huber-like) loss of the relative residuals,
each curve weighted equally (its residuals scaled by sqrt(mean points / its points)), with
scipy's ``least_squares`` from a small grid of starts, the coefficients in log space (all are
positive). Outliers are residuals beyond ``OUTLIER_SIGMAS`` robust standard
deviations (1.4826 x MAD); the soft-L1 loss already keeps them from steering the fit.

With several runs, each run is also held back in turn (fit on the others, predict it): the
held-back errors are the honest ones. Note that WSD curves branched from a constant run share
its stable prefix, so holding back one of them is not a fully independent test.

Bootstrap intervals resample whole curves when there are at least three, otherwise moving
blocks of ``BLOCK`` logged points within each curve (loss residuals are autocorrelated).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from planner.defaults import LIMITS
from planner.errors import PlannerInputError
from planner.laws.curves import (
    CURVE_FORMS,
    DEFAULT_LAMBDA,
    PARAM_NAMES,
    CurveLaw,
    curve_features,
    curve_gradient,
    curve_loss,
)
from planner.laws.schedules import lr_from_points, warmup_end

__all__ = ["Curve", "CurveFitOutcome", "curve_errors", "curves_from_table", "fit_curve_law", "fit_curves", "read_curves"]

#: Soft-L1 threshold on relative residuals: 0.1 % of the loss, about the fits' mean in-sample
#: error on the shipped curves (0.08-0.11 %, README) (a planner choice).
F_SCALE = 1e-3
#: Planner choices, not published figures: a point is an outlier beyond this many robust SD;
#: the block bootstrap resamples runs of this many logged points (2,048 steps of the shipped
#: curves, logged every 128; the residual correlation length was not measured).
OUTLIER_SIGMAS = 4.0
BLOCK = 16
#: Starts of the fit (a planner choice: a grid around the values fitted on the shipped curves,
#: e.g. L0 2.8-3.1, A ~0.5-0.6, alpha ~0.47-0.50; the papers' own values were not available here).
_STARTS = {
    "annealing": [(L0, A, a, C) for L0 in (1.5, 3.0) for A in (0.5, 1.0) for a in (0.3, 0.6) for C in (0.5, 2.0)],
    "multi-power": [(L0, 0.5, 0.5, B, C, 0.5, 0.5) for L0 in (1.5, 3.0) for B in (100.0, 1000.0) for C in (0.5, 5.0)],
}
#: Bounds on the multi-power coefficients (a planner choice): fitted on few schedules its
#: decay term is poorly identified and otherwise runs off to C -> 0, B -> inf.
_MPL_BOUNDS = {"beta": (0.05, 5.0), "gamma": (0.0, 1.5), "C": (1e-3, 1e3)}


@dataclass(frozen=True)
class Curve:
    """One training curve: logged ``steps`` and ``loss``, and the rate at every step."""

    run: str
    steps: np.ndarray = field(repr=False)
    loss: np.ndarray = field(repr=False)
    lr: np.ndarray = field(repr=False)

    @property
    def peak_lr(self) -> float:
        return float(self.lr.max())

    @property
    def warmup(self) -> int:
        return warmup_end(self.lr)


@dataclass(frozen=True)
class CurveFitOutcome:
    law: CurveLaw
    per_run: list[dict[str, Any]]
    held_back: list[dict[str, Any]]
    outliers: list[dict[str, Any]]
    intervals: dict[str, tuple[float, float]] | None
    level: float
    data_file: str
    r2: float

    def to_dict(self) -> dict[str, Any]:
        return {"law": self.law.to_dict(), "r2": self.r2, "per_run": self.per_run, "held_back": self.held_back,
                "outliers": self.outliers, "intervals": {k: list(v) for k, v in self.intervals.items()} if self.intervals else None,
                "level": self.level, "data_file": self.data_file}


def curves_from_table(table: Any, *, run_col: str | None = None, step_col: str = "step", lr_col: str = "lr",
                      loss_col: str | None = None) -> list[Curve]:
    """Curves from a :class:`planner.io.runs.RunTable`, one per value of the run column."""
    for col in (step_col, lr_col):
        if col not in table.header:
            raise PlannerInputError(f"{table.path}: no column '{col}' (columns: {', '.join(table.header)})")
    loss_col = table.find("loss", loss_col)
    if run_col is None:
        run_col = next((c for c in ("run", "run_id", "name", "curve") if c in table.header), None)
    elif run_col not in table.header:
        raise PlannerInputError(f"{table.path}: no column '{run_col}' (columns: {', '.join(table.header)})")
    steps, lrs, losses = table.numeric(step_col), table.numeric(lr_col), table.numeric(loss_col)
    names = table.column(run_col) if run_col else ["run"] * len(table)
    out = []
    for name in dict.fromkeys(names):
        idx = [i for i, n in enumerate(names) if n == name]
        s, v, y = steps[idx], lrs[idx], losses[idx]
        order = np.argsort(s, kind="stable")
        s, v, y = s[order], v[order], y[order]
        if s.size < 3:
            raise PlannerInputError(f"{table.path}: run '{name}' has {s.size} rows; a curve needs at least 3")
        if np.any(s != np.round(s)):
            raise PlannerInputError(f"{table.path}: run '{name}': steps must be whole numbers")
        if not np.all(np.isfinite(y)) or np.any(y <= 0):
            raise PlannerInputError(f"{table.path}: run '{name}': losses must be positive numbers")
        lr = lr_from_points(s, v, where=f"{table.path}: run '{name}'")
        if not np.any(lr > 0):
            raise PlannerInputError(f"{table.path}: run '{name}': the learning rate is never above 0")
        out.append(Curve(run=str(name), steps=s.astype(int), loss=y, lr=lr))
    return out


def read_curves(path: str, *, where: Sequence[str] = (), **columns: Any) -> list[Curve]:
    from planner.io.runs import read_runs

    return curves_from_table(read_runs(path).where(where), **columns)


def _bounds(form: str) -> tuple[np.ndarray, np.ndarray]:
    lo = np.full(len(PARAM_NAMES[form]), -np.inf)
    hi = np.full(len(PARAM_NAMES[form]), np.inf)
    if form == "multi-power":
        for k, (a, b) in _MPL_BOUNDS.items():
            i = PARAM_NAMES[form].index(k)
            lo[i], hi[i] = (np.log(a) if a > 0 else -30.0), np.log(b)
    return lo, hi


def _solve(form: str, feats: Sequence[tuple[Any, ...]], ys: Sequence[np.ndarray], start: Sequence[float] | None = None) -> np.ndarray:
    from scipy.optimize import least_squares

    lo, hi = _bounds(form)
    # Each curve weighs the same whatever its number of logged points (a 72k-step run logs 6x
    # more than a 16k one): a run is one experiment.
    mean_n = float(np.mean([y.size for y in ys]))
    weights = [np.sqrt(mean_n / y.size) for y in ys]

    def residuals(q: np.ndarray) -> np.ndarray:
        p = np.exp(q)
        return np.concatenate([w * (curve_loss(form, p, f) - y) / y for f, y, w in zip(feats, ys, weights, strict=True)])

    def jacobian(q: np.ndarray) -> np.ndarray:  # d residual / d log coefficient
        p = np.exp(q)
        return np.concatenate([(w / y)[:, None] * curve_gradient(form, p, f) * p[None, :]
                               for f, y, w in zip(feats, ys, weights, strict=True)])

    starts = [start] if start is not None else _STARTS[form]
    best = None
    for s in starts:
        q0 = np.clip(np.log(np.maximum(s, 1e-12)), lo + 1e-9, hi - 1e-9)
        with np.errstate(over="ignore", invalid="ignore"):
            r = least_squares(residuals, q0, jac=jacobian, bounds=(lo, hi), loss="soft_l1", f_scale=F_SCALE)
        if np.all(np.isfinite(r.fun)) and (best is None or r.cost < best.cost):
            best = r
    if best is None:
        raise PlannerInputError("the curve fit did not converge from any start")
    return np.exp(best.x)


def fit_curve_law(curves: Sequence[Curve], form: str = "annealing", *, name: str = "fit", lam: float = DEFAULT_LAMBDA,
                  start: Sequence[float] | None = None, features: Sequence[tuple[Any, ...]] | None = None) -> CurveLaw:
    """The law of ``form`` fitted to ``curves`` (no intervals, no held-back runs); ``features``
    (each curve's :func:`curve_features`, when the caller refits the same curves) are reused."""
    if form not in CURVE_FORMS:
        raise PlannerInputError(f"unknown curve form '{form}'; use one of {', '.join(CURVE_FORMS)}")
    if not curves:
        raise PlannerInputError("no curves to fit")
    feats = features if features is not None else [curve_features(form, c.lr, c.steps, lam) for c in curves]
    p = _solve(form, feats, [c.loss for c in curves], start)
    first = curves[0]
    return CurveLaw(name=name, form=form, coefficients=dict(zip(PARAM_NAMES[form], map(float, p), strict=True)),
                    peak_lr=max(c.peak_lr for c in curves), warmup=first.warmup, lam=lam,
                    fit_steps=(int(min(c.steps[0] for c in curves)), int(max(c.steps[-1] for c in curves))))


def curve_errors(law: CurveLaw, c: Curve, lr: np.ndarray | None = None) -> dict[str, Any]:
    """How far the law is from curve ``c``: under its own schedule, or under ``lr`` (a predicted
    schedule), over the logged steps that schedule covers."""
    lr = c.lr if lr is None else lr
    keep = c.steps <= lr.size
    if not np.any(keep):
        return {"run": c.run, "points": 0}
    steps, loss = c.steps[keep], c.loss[keep]
    pred = law.loss(lr, steps)
    rel = (pred - loss) / loss
    return {"run": c.run, "points": int(steps.size), "last_step": int(steps[-1]),
            "mean_abs_rel_error": float(np.mean(np.abs(rel))), "max_abs_rel_error": float(np.max(np.abs(rel))),
            "final_loss": float(loss[-1]), "predicted_final_loss": float(pred[-1]), "final_rel_error": float(rel[-1])}


def _resample(curves: Sequence[Curve], feats: Sequence[Any], rng: np.random.Generator) -> tuple[list[Curve], list[Any] | None]:
    """A bootstrap sample: whole curves drawn with replacement (three or more; their features
    reused), else moving blocks of ``BLOCK`` logged points in each curve (features anew)."""
    if len(curves) >= 3:
        idx = rng.integers(0, len(curves), len(curves))
        return [curves[i] for i in idx], [feats[i] for i in idx]
    out = []
    for c in curves:
        n = c.steps.size
        starts = rng.integers(0, max(n - BLOCK, 0) + 1, int(np.ceil(n / BLOCK)))
        idx = np.unique(np.concatenate([np.arange(s, min(s + BLOCK, n)) for s in starts]))
        out.append(Curve(run=c.run, steps=c.steps[idx], loss=c.loss[idx], lr=c.lr))
    return out, None


def _check_work(curves: Sequence[Curve], form: str, n_bootstrap: int, holdout: bool) -> None:
    """At most ``LIMITS['curves']`` curves and ``LIMITS['curve_fit_work']`` fits x logged points
    (a multi-power point weighs more: its decay term is a points x 400 matrix)."""
    if len(curves) > LIMITS["curves"]:
        raise PlannerInputError(f"{len(curves)} curves, above the planner's limit of {LIMITS['curves']} (README, 'Limits')")
    if not 0 <= n_bootstrap <= LIMITS["curve_bootstrap"]:
        raise PlannerInputError(f"bootstrap draws must be between 0 and {LIMITS['curve_bootstrap']} (README, 'Limits')")
    fits = 1 + n_bootstrap + (len(curves) if holdout and len(curves) >= 2 else 0)
    points = sum(c.steps.size for c in curves) * (LIMITS["multi_power_point_weight"] if form == "multi-power" else 1)
    if fits * points > LIMITS["curve_fit_work"]:
        raise PlannerInputError(f"{fits} fits x {points:,} weighted points is above the planner's limit of "
                                f"{LIMITS['curve_fit_work']:,} (README, 'Limits'): fewer --bootstrap draws, --no-holdout, "
                                "fewer curves (--where), or the annealing form")


def fit_curves(curves: Sequence[Curve], form: str = "annealing", *, n_bootstrap: int = 0, seed: int = 0, level: float = 0.9,
               holdout: bool = True, data_file: str = "", lam: float = DEFAULT_LAMBDA,
               progress: Callable[[int, int], None] | None = None) -> CurveFitOutcome:
    """Fit, report in-sample errors per run, held-back errors (each run left out in turn when
    there are several), outliers and bootstrap intervals. Refuses work beyond the planner's
    limits (README, 'Limits') before fitting anything."""
    _check_work(curves, form, n_bootstrap, holdout)
    if form not in CURVE_FORMS:
        raise PlannerInputError(f"unknown curve form '{form}'; use one of {', '.join(CURVE_FORMS)}")
    feats = [curve_features(form, c.lr, c.steps, lam) for c in curves]  # once: every refit of these curves reuses them
    law = fit_curve_law(curves, form, lam=lam, features=feats)
    per_run = [curve_errors(law, c) for c in curves]
    y = np.concatenate([c.loss for c in curves])
    pred = np.concatenate([law.loss(c.lr, c.steps) for c in curves])
    r2 = float(1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)) if y.size > 1 and np.ptp(y) > 0 else float("nan")
    rel = (pred - y) / y
    mad = 1.4826 * float(np.median(np.abs(rel - np.median(rel))))
    outliers = []
    if mad > 0:
        offset = 0
        for c in curves:
            for j in range(c.steps.size):
                if abs(rel[offset + j]) > OUTLIER_SIGMAS * mad:
                    outliers.append({"run": c.run, "step": int(c.steps[j]), "loss": float(c.loss[j]), "rel_residual": float(rel[offset + j])})
            offset += c.steps.size
    held = []
    if holdout and len(curves) >= 2:
        for i, c in enumerate(curves):
            rest = [j for j in range(len(curves)) if j != i]
            refit = fit_curve_law([curves[j] for j in rest], form, lam=lam, start=law.vector, features=[feats[j] for j in rest])
            held.append(curve_errors(refit, c))
    draws: list[tuple[float, ...]] = []
    if n_bootstrap:
        rng = np.random.default_rng(seed)
        for b in range(n_bootstrap):
            picked, picked_feats = _resample(curves, feats, rng)
            d = fit_curve_law(picked, form, lam=lam, start=law.vector, features=picked_feats)
            draws.append(d.vector)
            if progress:
                progress(b + 1, n_bootstrap)
    intervals = None
    if draws:
        from planner.laws.fitting import percentile_interval

        a = np.array(draws)
        intervals = {k: percentile_interval(a[:, i], level) for i, k in enumerate(PARAM_NAMES[form])}
    info = {"data_file": data_file, "runs": [c.run for c in curves], "points": int(y.size), "r2": r2,
            "objective": f"soft-L1 on relative residuals, f_scale {F_SCALE}", "date": _dt.date.today().isoformat()}
    law = replace(law, draws=tuple(draws), source=f"fitted to {data_file or 'curves'}", fit_info=info)
    return CurveFitOutcome(law=law, per_run=per_run, held_back=held, outliers=outliers, intervals=intervals, level=level,
                           data_file=data_file, r2=r2)
