"""Fit scaling laws to your own runs, with bootstrap uncertainty.

Estimators follow scikit-learn's contract: the constructor stores settings, ``fit`` does
the work and sets attributes ending in ``_``, ``predict`` refuses to run before ``fit``.
Pure numpy/scipy; no files, no printing.

Loss laws (``form="chinchilla"`` or ``"overtrain"``) are fitted as in Hoffmann et al.
2022 and Besiroglu et al. 2024 (shared/reference/laws.md sec. 1): with x = log N,
y = log D and theta = (a, b, e, alpha, beta),

    minimise  sum_i Huber_delta( LSE(a - alpha x_i, b - beta y_i, e) - log L_i ),  delta = 1e-3

so that A = e^a, B = e^b, E = e^e. L-BFGS starts from a grid (alpha, beta in 0..2 step 0.5,
e in -1..1 step 0.5, a, b in 0..25 step 5); the whole grid is scored at once and the
``n_starts`` best points are polished, keeping the best optimum. ``overtrain`` ties
alpha = beta (Gadre et al. 2024). ``objective="lsq"`` minimises squared error of L itself,
the criterion of Gadre et al.'s ``curve_fit`` protocol.

The downstream map ``Err(L) = epsilon - k exp(-gamma L)`` is fitted by least squares on
the error (Gadre et al. 2024), again from a grid of starts.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from planner.defaults import DEFAULT_HUBER_DELTA
from planner.errors import PlannerInputError

__all__ = [
    "COEFFICIENTS",
    "LOSS_FORMS",
    "BootstrapResult",
    "DownstreamFit",
    "LossLawFit",
    "bootstrap",
    "data_fingerprint",
    "percentile_interval",
]

LOSS_FORMS = ("chinchilla", "overtrain")
COEFFICIENTS = ("E", "A", "B", "alpha", "beta")

# The starting grid of laws.md sec. 1 (Besiroglu et al. 2024's protocol).
_GRID_EXPONENT = np.arange(0.0, 2.01, 0.5)
_GRID_E = np.arange(-1.0, 1.01, 0.5)
_GRID_AB = np.arange(0.0, 25.01, 5.0)
_LBFGS = {"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-12}


def data_fingerprint(*columns: Sequence[float]) -> str:
    """A short hash of the data a law was fitted on (order-sensitive, 16 hex chars)."""
    h = hashlib.sha256()
    for col in columns:
        h.update(np.asarray(col, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def _as_positive_array(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise PlannerInputError(f"{name} has a missing or non-finite value (row {bad[0] + 1})")
    bad = np.flatnonzero(arr <= 0)
    if bad.size:
        raise PlannerInputError(f"{name} must be positive; row {bad[0] + 1} is {arr[bad[0]]:g}")
    return arr


#: Grid points x rows scored at once by the start-point grid (memory, not results).
_GRID_CELLS = 1 << 21


def _huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Huber loss and its derivative, elementwise."""
    a = np.abs(r)
    quad = a <= delta
    value = np.where(quad, 0.5 * r * r, delta * (a - 0.5 * delta))
    grad = np.where(quad, r, delta * np.sign(r))
    return value, grad


class LossLawFit:
    """Fit ``L = E + A/N^alpha + B/D^beta`` to runs (N parameters, D tokens, L loss).

    Args:
        form: ``"chinchilla"`` (5 free coefficients) or ``"overtrain"`` (alpha = beta).
        objective: ``"huber"`` (Huber on log residuals) or ``"lsq"`` (squares of L).
        delta: Huber threshold on log residuals.
        n_starts: how many of the best grid points L-BFGS polishes.

    Attributes set by :meth:`fit`: ``coef_`` (dict E, A, B, alpha, beta), ``theta_``
    (a, b, e, alpha, beta), ``objective_value_``, ``log_residuals_`` (log L_hat - log L),
    ``n_runs_``, ``fingerprint_``, ``params_range_``, ``tokens_per_param_range_``.
    """

    def __init__(
        self,
        form: str = "chinchilla",
        *,
        objective: str = "huber",
        delta: float = DEFAULT_HUBER_DELTA,
        n_starts: int = 16,
    ) -> None:
        self.form = form
        self.objective = objective
        self.delta = delta
        self.n_starts = n_starts

    # -------------------------------------------------------------- checks
    def _check_settings(self) -> None:
        if self.form not in LOSS_FORMS:
            raise PlannerInputError(f"unknown form '{self.form}'; choose one of {', '.join(LOSS_FORMS)} (or downstream)")
        if self.objective not in ("huber", "lsq"):
            raise PlannerInputError(f"unknown objective '{self.objective}'; use huber or lsq")
        if not (self.delta > 0 and self.n_starts >= 1):
            raise PlannerInputError("delta must be positive and n_starts at least 1")

    @property
    def n_free(self) -> int:
        return 5 if self.form == "chinchilla" else 4

    def _check_identifiable(self, n: np.ndarray, d: np.ndarray) -> None:
        if n.size < self.n_free + 1:
            raise PlannerInputError(
                f"{n.size} runs cannot identify the {self.form} form: it has {self.n_free} "
                f"coefficients, so give at least {self.n_free + 1} runs"
            )
        if np.unique(n).size < 2:
            raise PlannerInputError("all runs have one model size: the parameter exponent cannot be identified")
        if np.unique(d).size < 2:
            raise PlannerInputError("all runs have one token count: the data exponent cannot be identified")
        if np.unique(np.round(np.log(d / n), 9)).size < 2:
            raise PlannerInputError(
                "every run has the same tokens-per-parameter ratio: N and D move together, so "
                "their terms cannot be separated; add runs at another ratio"
            )

    # -------------------------------------------------------------- model
    def _expand(self, theta: np.ndarray) -> np.ndarray:
        """Free coefficients -> (a, b, e, alpha, beta) on the last axis."""
        if self.form == "chinchilla":
            return theta
        return np.concatenate([theta, theta[..., 3:4]], axis=-1)

    def _objective_and_grad(self, theta: np.ndarray, x: np.ndarray, y: np.ndarray, log_l: np.ndarray, l_obs: np.ndarray) -> tuple[float, np.ndarray]:
        # Written with plain ufuncs (no scipy.special wrappers): this runs ~10^5 times in a
        # bootstrap, and call overhead dominates at a few hundred runs.
        if self.form == "chinchilla":
            a, b, e, alpha, beta = theta
        else:
            a, b, e, alpha = theta
            beta = alpha
        t1 = a - alpha * x
        t2 = b - beta * y
        m = np.maximum(np.maximum(t1, t2), e)
        e1, e2, e3 = np.exp(t1 - m), np.exp(t2 - m), np.exp(e - m)
        s = e1 + e2 + e3
        lse = m + np.log(s)
        if self.objective == "huber":
            r = lse - log_l
            ar = np.abs(r)
            quad = ar <= self.delta
            total = float(np.where(quad, 0.5 * r * r, self.delta * (ar - 0.5 * self.delta)).sum())
            dr = np.clip(r, -self.delta, self.delta)
        else:
            pred = np.exp(lse)
            r = pred - l_obs
            total = float(0.5 * (r @ r))
            dr = r * pred  # d/d lse of 0.5 r^2
        dr = dr / s  # fold the softmax denominator in once
        g1, g2 = dr * e1, dr * e2
        ga, gb, ge = g1.sum(), g2.sum(), (dr * e3).sum()
        galpha, gbeta = -(g1 @ x), -(g2 @ y)
        if self.form == "chinchilla":
            return total, np.array([ga, gb, ge, galpha, gbeta])
        return total, np.array([ga, gb, ge, galpha + gbeta])

    def _grid(self) -> np.ndarray:
        if self.form == "chinchilla":
            axes = (_GRID_AB, _GRID_AB, _GRID_E, _GRID_EXPONENT, _GRID_EXPONENT)
        else:
            axes = (_GRID_AB, _GRID_AB, _GRID_E, _GRID_EXPONENT)
        return np.array(list(itertools.product(*axes)), dtype=float)

    def _score_grid(self, grid: np.ndarray, x: np.ndarray, y: np.ndarray, log_l: np.ndarray, l_obs: np.ndarray) -> np.ndarray:
        full = self._expand(grid)
        a, b, e, alpha, beta = (full[:, i : i + 1] for i in range(5))
        total = np.zeros(len(grid))
        step = max(1, _GRID_CELLS // len(grid))  # rows per chunk: memory bounded whatever the run count
        for i in range(0, x.size, step):
            xs, ys = x[i : i + step], y[i : i + step]
            lse = np.logaddexp(np.logaddexp(a - alpha * xs, b - beta * ys), e)
            if self.objective == "huber":
                value, _ = _huber(lse - log_l[i : i + step], self.delta)
            else:
                value = 0.5 * (np.exp(lse) - l_obs[i : i + step]) ** 2
            total += value.sum(axis=1)
        return total

    # -------------------------------------------------------------- API
    def fit(self, params: Any, tokens: Any, loss: Any, *, starts: Sequence[np.ndarray] | None = None) -> LossLawFit:
        """Fit to runs from the best grid points, or only from ``starts`` (free coefficients)
        when given (the bootstrap warm-starts every refit from the full-data optima)."""
        self._check_settings()
        n = _as_positive_array("params", params)
        d = _as_positive_array("tokens", tokens)
        l_obs = _as_positive_array("loss", loss)
        if not (n.size == d.size == l_obs.size):
            raise PlannerInputError("params, tokens and loss must have the same length")
        self._check_identifiable(n, d)
        x, y, log_l = np.log(n), np.log(d), np.log(l_obs)
        if starts is None:
            grid = self._grid()
            scores = self._score_grid(grid, x, y, log_l, l_obs)
            starts = [grid[i] for i in np.argsort(scores, kind="stable")[: self.n_starts]]
        best, optima = None, []
        for start in starts:
            res = minimize(
                self._objective_and_grad, np.asarray(start, dtype=float), args=(x, y, log_l, l_obs),
                jac=True, method="L-BFGS-B", options=_LBFGS,
            )
            if np.all(np.isfinite(res.x)):
                optima.append(res)
                if best is None or res.fun < best.fun:
                    best = res
        if best is None:
            raise PlannerInputError("the fit did not converge from any starting point")
        theta = self._expand(best.x)
        if theta[3] <= 0 or theta[4] <= 0:
            raise PlannerInputError(
                f"the best fit has a non-positive exponent (alpha {theta[3]:.3g}, beta {theta[4]:.3g}): "
                "the runs do not follow a decreasing power law"
            )
        self.theta_ = theta
        self.free_theta_ = best.x
        # Distinct local optima, best first: the bootstrap restarts from these.
        self.optima_ = [r.x for r in sorted(optima, key=lambda r: r.fun)]
        a, b, e, alpha, beta = theta
        self.coef_ = {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": alpha, "beta": beta}
        self.objective_value_ = float(best.fun)
        self.n_runs_ = int(n.size)
        self.fingerprint_ = data_fingerprint(n, d, l_obs)
        self.params_range_ = (float(n.min()), float(n.max()))
        self.tokens_per_param_range_ = (float((d / n).min()), float((d / n).max()))
        self.log_residuals_ = np.log(self.predict(n, d)) - log_l
        return self

    def predict(self, params: Any, tokens: Any) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise RuntimeError("call fit() before predict()")
        c = self.coef_
        return c["E"] + c["A"] * np.asarray(params, float) ** -c["alpha"] + c["B"] * np.asarray(tokens, float) ** -c["beta"]

    def outliers(self, threshold: float = 3.0) -> np.ndarray:
        """Indices of runs whose log residual is over ``threshold`` robust SDs (1.4826 MAD)."""
        r = self.log_residuals_
        mad = 1.4826 * np.median(np.abs(r - np.median(r)))
        if mad == 0:
            return np.array([], dtype=int)
        return np.flatnonzero(np.abs(r - np.median(r)) > threshold * mad)


class DownstreamFit:
    """Fit ``Err(L) = epsilon - k exp(-gamma L)`` by least squares on the error.

    Attributes set by :meth:`fit`: ``coef_`` (k, gamma, epsilon), ``residuals_``,
    ``n_runs_``, ``fingerprint_``.
    """

    def __init__(self, *, n_starts: int = 8) -> None:
        self.n_starts = n_starts

    @staticmethod
    def _sse_and_grad(theta: np.ndarray, loss: np.ndarray, err: np.ndarray) -> tuple[float, np.ndarray]:
        log_k, gamma, eps = theta
        decay = np.exp(log_k - gamma * loss)
        r = eps - decay - err
        return float(0.5 * r @ r), np.array([-(r @ decay), r @ (decay * loss), r.sum()])

    def fit(self, loss: Any, error: Any, *, starts: Sequence[np.ndarray] | None = None) -> DownstreamFit:
        l_obs = _as_positive_array("loss", loss)
        err = np.asarray(error, dtype=float).ravel()
        if err.size != l_obs.size:
            raise PlannerInputError("loss and error must have the same length")
        bad = np.flatnonzero(~np.isfinite(err) | (err < 0) | (err > 1))
        if bad.size:
            raise PlannerInputError(f"error must be a fraction in [0, 1]; row {bad[0] + 1} is {err[bad[0]]}")
        if l_obs.size < 4:
            raise PlannerInputError(f"{l_obs.size} runs cannot identify the 3-coefficient downstream map: give at least 4")
        if np.unique(l_obs).size < 3:
            raise PlannerInputError("the downstream map needs runs at 3 or more distinct losses")
        # Grid over (log k, gamma, epsilon); theta uses log k so k stays positive.
        if starts is None:
            grid = np.array(list(itertools.product(np.log([0.5, 1, 2, 4, 8]), [0.25, 0.5, 1.0, 2.0], [0.5, 0.75, 1.0])))
            sse = np.array([self._sse_and_grad(g, l_obs, err)[0] for g in grid])
            starts = [grid[i] for i in np.argsort(sse, kind="stable")[: self.n_starts]]
        best = None
        for start in starts:
            res = minimize(self._sse_and_grad, np.asarray(start, dtype=float), args=(l_obs, err), jac=True, method="L-BFGS-B", options=_LBFGS)
            if np.all(np.isfinite(res.x)) and (best is None or res.fun < best.fun):
                best = res
        if best is None:
            raise PlannerInputError("the downstream fit did not converge from any starting point")
        log_k, gamma, eps = best.x
        if gamma <= 0:
            raise PlannerInputError("the best downstream fit has gamma <= 0: error does not fall with loss in these runs")
        self.free_theta_ = best.x
        self.optima_ = [best.x]
        self.coef_ = {"k": math.exp(log_k), "gamma": float(gamma), "epsilon": float(eps)}
        self.n_runs_ = int(l_obs.size)
        self.fingerprint_ = data_fingerprint(l_obs, err)
        self.residuals_ = self.predict(l_obs) - err
        return self

    def predict(self, loss: Any) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise RuntimeError("call fit() before predict()")
        c = self.coef_
        return c["epsilon"] - c["k"] * np.exp(-c["gamma"] * np.asarray(loss, float))


def percentile_interval(values: Any, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of ``values`` (bootstrap draws)."""
    lo, hi = np.percentile(np.asarray(values, dtype=float), [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


@dataclass(frozen=True)
class BootstrapResult:
    """Coefficient draws from refits on runs resampled with replacement.

    ``draws`` has one row per successful refit, columns ``names``; ``failed`` counts
    resamples that could not be fitted (e.g. all runs of one size drawn).
    """

    names: tuple[str, ...]
    draws: np.ndarray
    seed: int
    requested: int
    failed: int

    def interval(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        return {name: percentile_interval(self.draws[:, i], level) for i, name in enumerate(self.names)}


def bootstrap(
    estimator: LossLawFit | DownstreamFit,
    columns: Sequence[Any],
    n_draws: int,
    *,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> BootstrapResult:
    """Refit ``estimator`` (already fitted on ``columns``) on ``n_draws`` resamples of the runs.

    Each refit warm-starts from the best full-data optima. Deterministic for a given ``seed``.
    """
    if not hasattr(estimator, "coef_"):
        raise RuntimeError("fit the estimator on the full data before bootstrapping")
    if n_draws < 1:
        raise PlannerInputError("--bootstrap needs at least 1 draw")
    cols = [np.asarray(c, dtype=float) for c in columns]
    size = cols[0].size
    rng = np.random.default_rng(seed)
    clone = type(estimator)(**_settings(estimator))
    # Each refit starts from the two best full-data optima instead of the whole grid: a
    # resample moves the optimum a little, and this keeps 1,000 draws well under a minute.
    starts = estimator.optima_[:2]
    names = tuple(estimator.coef_)
    rows, failed = [], 0
    for i in range(n_draws):
        idx = rng.integers(0, size, size)
        try:
            clone.fit(*(c[idx] for c in cols), starts=starts)
            rows.append([clone.coef_[k] for k in names])
        except PlannerInputError:
            failed += 1
        if progress is not None:
            progress(i + 1, n_draws)
    draws = np.array(rows, dtype=float).reshape(-1, len(names))
    return BootstrapResult(names=names, draws=draws, seed=seed, requested=n_draws, failed=failed)


def _settings(est: LossLawFit | DownstreamFit) -> dict[str, Any]:
    if isinstance(est, LossLawFit):
        return {"form": est.form, "objective": est.objective, "delta": est.delta, "n_starts": est.n_starts}
    return {"n_starts": est.n_starts}
