"""Repeated sampling: pass@k from one model's per-problem data.

* Unbiased pass@k from n samples with c correct (Chen et al. 2021):
  ``1 - C(n-c, k) / C(n, k)``, computed through log-gamma for every k at once.
* Per-problem success probabilities follow a scaled Beta: ``p = s X``, ``X ~ Beta(a, b)``
  on (0, 1), so p lives on (0, s) (Schaeffer et al. 2025). Then
  ``pass@k = 1 - E[(1 - s X)^k]``; for s = 1 it is ``1 - B(a, b + k) / B(a, b)`` exactly, and
  ``-log pass@k ~ k^-a`` for large k: the Beta's tail exponent a is the power-law exponent.
* :class:`ScaledBetaFit` maximises the likelihood of the per-problem counts,
  ``P(c) = C(n, c) E[(sX)^c (1 - sX)^(n-c)]``, which keeps the discretisation at 1/n (a
  problem with 0 correct of n still says something). The expectation is a degree-n
  polynomial in X, so Gauss-Jacobi quadrature with n/2 + 1 nodes is exact.
* The aggregate curve's exponentiated power law (Brown et al. 2024, Large Language Monkeys):
  ``log pass@k ~ a k^b``, fitted by least squares on ``log(-log pass@k)`` vs ``log k``.
* :class:`TaskProfile` keeps one model's tail exponent and scale. Plans do not use it: how
  accuracy moves with the model needs the law across sizes (:mod:`planner.serving.task_law`).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from planner.errors import PlannerInputError

__all__ = ["ScaledBetaFit", "TaskProfile", "check_counts", "fit_power_law", "scaled_beta_pass_at_k", "unbiased_pass_at_k",
           "unbiased_pass_at_k_per_problem"]


def check_counts(path: str, n: np.ndarray, c: np.ndarray, groups: Sequence[str], *, n_col: str = "n", c_col: str = "c") -> None:
    """Per-problem counts as read from a user's file: whole numbers with 0 <= c <= n, and
    within the planner's limits on samples per problem and groups (README, 'Limits')."""
    from planner.defaults import LIMITS

    if np.any(n != np.round(n)) or np.any(c != np.round(c)) or np.any(c > n) or np.any(c < 0) or np.any(n < 1):
        raise PlannerInputError(f"{path}: '{c_col}' and '{n_col}' must be whole numbers with 0 <= {c_col} <= {n_col}, {n_col} >= 1")
    if n.max() > LIMITS["samples_per_problem"]:
        raise PlannerInputError(f"{path}: {int(n.max()):,} samples per problem is above the planner's limit of "
                                f"{LIMITS['samples_per_problem']:,} (the likelihood's quadrature grows with n; README, "
                                f"'Limits'): give the counts of each problem's first {LIMITS['samples_per_problem']:,} samples")
    if len(set(groups)) > LIMITS["groups"]:
        raise PlannerInputError(f"{path}: {len(set(groups)):,} groups is above the planner's limit of {LIMITS['groups']} "
                                "(README, 'Limits'): select some with --where")


def unbiased_pass_at_k_per_problem(n: Sequence[int], c: Sequence[int], ks: Sequence[int]) -> np.ndarray:
    """Each problem's unbiased pass@k, ``1 - C(n-c, k) / C(n, k)``, for every k in ``ks``:
    an array of shape (problems, len(ks)). The ratio is taken in log-gamma form (one pass for
    every k, no product over the samples; absolute error ~1e-12 at n = 1,000) and its
    complement by ``expm1``; a problem never solved is exactly 0. Needs every k <= n."""
    from scipy.special import gammaln

    n = np.asarray(n, dtype=float)[:, None]
    c = np.asarray(c, dtype=float)[:, None]
    k = np.asarray(ks, dtype=float)[None, :]
    if np.any(k > n):
        raise PlannerInputError(f"pass@{int(k.max())} needs at least {int(k.max())} samples per problem")
    room = n - c - k  # >= 0: some k-subset of the samples is all wrong
    log_ratio = gammaln(n - c + 1) - gammaln(np.maximum(room, 0) + 1) - gammaln(n + 1) + gammaln(n - k + 1)
    return np.where(room >= 0, np.where(c > 0, -np.expm1(log_ratio), 0.0), 1.0)  # c = 0: exactly 0, not round-off


def unbiased_pass_at_k(n: Sequence[int], c: Sequence[int], k: int) -> float:
    """Mean over problems of the unbiased pass@k estimator (needs k <= n)."""
    return float(unbiased_pass_at_k_per_problem(n, c, [k]).mean())


def scaled_beta_pass_at_k(a: float, b: float, s: float, ks: Sequence[float]) -> np.ndarray:
    """pass@k of p = s X, X ~ Beta(a, b), for every k in ``ks``.

    s = 1: the closed form ``1 - B(a, b + k) / B(a, b)``. Otherwise
    ``E[(1 - sX)^k]`` is integrated after substituting ``u = x^a`` (which removes the
    ``x^(a-1)`` singularity); for b < 1 quad's algebraic weight takes the ``(1 - u)^(b-1)``
    singularity, and the peak of width ``(1/(k s))^a`` near u = 0 is given to quad as break
    points.
    """
    from scipy.integrate import IntegrationWarning, quad
    from scipy.special import betaln

    ks = np.asarray(ks, dtype=float)
    if s >= 1 - 1e-12:
        return 1.0 - np.exp(betaln(a, b + ks) - betaln(a, b))
    lb = betaln(a, b)
    out = []
    warnings.filterwarnings("ignore", category=IntegrationWarning, module=__name__)
    if a >= 1.0:  # no singularity at 0: integrate over x, with the Beta's bulk as break points
        mean = a / (a + b)
        sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        for k in ks:
            pts = sorted({min(max(p, 1e-12), 1 - 1e-12) for p in (mean - 4 * sd, mean, mean + 4 * sd, 1.0 / max(k * s, 1.0))})

            def h(x: float, k: float = k) -> float:
                if x <= 0.0 or x >= 1.0:
                    return 0.0
                return math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) + k * math.log1p(-s * x) - lb)

            edges = [0.0, *pts, 1.0]
            total = sum(quad(h, lo, hi, limit=200)[0] for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo)
            out.append(1.0 - total)
        return np.clip(np.array(out), 0.0, 1.0)
    for k in ks:
        def g(u: float, k: float = k) -> float:
            if u <= 0.0:
                return 1.0 / a
            x = u ** (1.0 / a)
            if x >= 1.0:
                return 0.0
            ratio = math.log1p(-x) - math.log1p(-u) if u < 1 else 0.0
            return math.exp(k * math.log1p(-s * x) + (b - 1.0) * ratio) / a

        width = min(1.0, (1.0 / max(k * s, 1.0)) ** a)
        breaks = sorted({min(0.999, c * width) for c in (0.1, 1.0, 10.0) if c * width < 0.999})
        edges = [0.0, *breaks, 1.0]
        total = 0.0
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            if hi == 1.0 and b < 1.0:  # integrable singularity at u = 1: quad's algebraic weight
                val = quad(g, lo, hi, weight="alg", wvar=(0.0, b - 1.0), limit=200)[0]
            else:
                val = quad(lambda u, k=k: _x_integrand(u, a, b, s, k), lo, hi, limit=200)[0]
            total += val
        out.append(1.0 - total * math.exp(-lb))
    return np.clip(np.array(out), 0.0, 1.0)


def _x_integrand(u: float, a: float, b: float, s: float, k: float) -> float:
    """(1 - s x)^k (1 - x)^(b-1) / a at x = u^(1/a), in one exponent (no overflow)."""
    if u <= 0.0:
        return 1.0 / a
    x = u ** (1.0 / a)
    if x >= 1.0:
        return 0.0
    return math.exp(k * math.log1p(-s * x) + (b - 1.0) * math.log1p(-x)) / a


# Search box for the Beta shape parameters: keeps degenerate corners (a Beta collapsing onto
# a point) out of reach. A fit that ends within 1 % of an edge is flagged (``at_bound_``).
ALPHA_BOUNDS = (0.01, 20.0)
BETA_BOUNDS = (0.01, 1e4)


class ScaledBetaFit:
    """Maximum-likelihood scaled Beta for per-problem correct-of-n counts.

    Attributes after :meth:`fit`: ``alpha_``, ``beta_``, ``scale_``, ``log_likelihood_``,
    ``n_problems_``, ``at_bound_`` (a shape parameter ended on the search box's edge).
    """

    def __init__(self, *, fit_scale: bool = True) -> None:
        self.fit_scale = fit_scale

    @staticmethod
    def _loglik(theta: np.ndarray, counts: dict[tuple[int, int], int], fit_scale: bool) -> float:
        from scipy.special import betaln, gammaln, logsumexp, roots_jacobi

        a, b = math.exp(theta[0]), math.exp(theta[1])
        s = 1.0 / (1.0 + math.exp(-theta[2])) if fit_scale else 1.0
        n_max = max(n for n, _ in counts)
        m = n_max // 2 + 2
        t, w = roots_jacobi(m, b - 1.0, a - 1.0)
        x = (1.0 + t) / 2.0
        log_w = np.log(w) - (a + b - 1.0) * math.log(2.0) - betaln(a, b)
        nc = np.array(list(counts), dtype=float)  # one row per distinct (n, c), all pairs at once
        n, c = nc[:, :1], nc[:, 1:]
        mult = np.fromiter(counts.values(), dtype=float, count=len(counts))
        terms = log_w + c * np.log(s * x) + (n - c) * np.log1p(-s * x)
        log_binom = gammaln(n[:, 0] + 1) - gammaln(c[:, 0] + 1) - gammaln(n[:, 0] - c[:, 0] + 1)
        return float(mult @ (log_binom + logsumexp(terms, axis=1)))

    def _safe_loglik(self, theta: np.ndarray, counts: dict[tuple[int, int], int]) -> float:
        value = self._loglik(theta, counts, self.fit_scale)
        return value if np.isfinite(value) else -1e300

    def fit(self, n: Sequence[int], c: Sequence[int]) -> ScaledBetaFit:
        from scipy.optimize import minimize

        n = np.asarray(n, dtype=int)
        c = np.asarray(c, dtype=int)
        if n.size < 3:
            raise PlannerInputError(f"{n.size} problems cannot identify a difficulty distribution: give at least 3")
        if np.any(n < 1) or np.any(c < 0) or np.any(c > n):
            raise PlannerInputError("counts must satisfy 0 <= correct <= samples, samples >= 1")
        if c.sum() == 0:
            raise PlannerInputError("no problem was ever solved: pass@k cannot be extrapolated from zeros alone")
        counts: dict[tuple[int, int], int] = {}
        for nj, cj in zip(n, c, strict=True):
            counts[(int(nj), int(cj))] = counts.get((int(nj), int(cj)), 0) + 1
        # Bounded search in (log a, log b, logit s) from a small grid of starts.
        bounds = [tuple(map(math.log, ALPHA_BOUNDS)), tuple(map(math.log, BETA_BOUNDS)), (-7.0, 12.0)]
        best = None
        for a0, b0, s0 in itertools.product((0.05, 0.2, 0.8), (1.0, 20.0, 500.0), (0.3, 0.99)):
            x0 = np.array([math.log(a0), math.log(b0), math.log(s0 / (1 - s0))])
            if not self.fit_scale:
                x0[2] = 12.0  # ignored: the likelihood uses s = 1
            with np.errstate(all="ignore"):
                res = minimize(lambda th: -self._safe_loglik(th, counts), x0, method="L-BFGS-B",
                               bounds=bounds, options={"maxiter": 500})
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                best = res
        if best is None:
            raise PlannerInputError("the difficulty distribution could not be fitted to these counts")
        a, b = math.exp(best.x[0]), math.exp(best.x[1])
        self.alpha_, self.beta_ = a, b
        self.at_bound_ = any(v <= lo * 1.01 or v >= hi * 0.99 for v, (lo, hi) in ((a, ALPHA_BOUNDS), (b, BETA_BOUNDS)))
        self.scale_ = 1.0 / (1.0 + math.exp(-best.x[2])) if self.fit_scale else 1.0
        self.log_likelihood_ = -float(best.fun)
        self.n_problems_ = int(n.size)
        return self

    def pass_at_k(self, ks: Sequence[float]) -> np.ndarray:
        if not hasattr(self, "alpha_"):
            raise RuntimeError("call fit() before pass_at_k()")
        return scaled_beta_pass_at_k(self.alpha_, self.beta_, self.scale_, ks)


def fit_power_law(ks: Sequence[float], pass_at_k: Sequence[float]) -> tuple[float, float]:
    """(a, b) of ``log pass@k = a k^b`` by least squares on ``log(-log pass@k)``."""
    ks = np.asarray(ks, dtype=float)
    pk = np.asarray(pass_at_k, dtype=float)
    ok = (pk > 0) & (pk < 1)
    if ok.sum() < 2:
        raise PlannerInputError("the aggregate curve needs two or more k with 0 < pass@k < 1")
    slope, intercept = np.polyfit(np.log(ks[ok]), np.log(-np.log(pk[ok])), 1)
    return -math.exp(intercept), float(slope)


@dataclass(frozen=True)
class TaskProfile:
    """A task's difficulty distribution: tail exponent ``alpha`` and ceiling ``scale``.

    ``pass_at_k(acc1, k)`` gives pass@k for a model whose single-sample accuracy is
    ``acc1``: the Beta keeps ``alpha`` and ``scale`` and takes the ``beta`` that makes
    its mean ``scale * alpha / (alpha + beta)`` equal ``acc1``.
    """

    name: str
    alpha: float
    scale: float
    source: str = ""

    def beta_for(self, acc1: float) -> float:
        acc1 = min(max(acc1, 1e-9), self.scale * (1 - 1e-9))
        return self.alpha * (self.scale / acc1 - 1.0)

    def pass_at_k(self, acc1: float, ks: Sequence[float]) -> np.ndarray:
        return scaled_beta_pass_at_k(self.alpha, self.beta_for(acc1), self.scale, ks)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
