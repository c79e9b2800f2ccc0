"""KKT multipliers for a point of a two-variable convex problem: the reduced backend's certificate.

Given the objective's gradient and the active constraints' gradients (in log variables), find
``lambda >= 0`` minimising ``|grad F + sum lambda_i grad G_i|``. A zero residual certifies the
point optimal, and the multipliers are the duals (sensitivities) the GP backend reports.
"""

from __future__ import annotations

import math

__all__ = ["multipliers", "multipliers_small", "nnls_multipliers"]

# A whisker of ridge picks, among equally good multipliers (degenerate vertices, e.g. a
# training cap equal to the budget), the smallest, which shares the multiplier the way the
# GP's interior point does; it moves well-posed multipliers by ~1e-12 (a planner choice).
_RIDGE = 1e-6


def multipliers(grad_f: tuple[float, float], active: list[tuple[float, float]]) -> tuple[list[float], float]:
    """lambda >= 0 minimising |grad F + sum lambda_i g_i| (with the ridge), and that residual."""
    if not active:
        return [], math.hypot(*grad_f)
    if len(active) <= 2:  # the planner's usual case, in closed form
        return multipliers_small(grad_f, active)
    return nnls_multipliers(grad_f, active)


def nnls_multipliers(grad_f: tuple[float, float], active: list[tuple[float, float]]) -> tuple[list[float], float]:
    """The same by scipy's non-negative least squares, for any number of active constraints."""
    import numpy as np
    from scipy.optimize import nnls

    a = np.array(active, dtype=float).T  # 2 x k
    g = np.asarray(grad_f, dtype=float)
    k = a.shape[1]
    lam, _ = nnls(np.vstack([a, _RIDGE * np.eye(k)]), np.concatenate([-g, np.zeros(k)]))
    return [float(v) for v in lam], float(np.linalg.norm(a @ lam + g))


def _dot(u: tuple[float, float], v: tuple[float, float]) -> float:
    return u[0] * v[0] + u[1] * v[1]


def _cross(u: tuple[float, float], v: tuple[float, float]) -> float:
    return u[0] * v[1] - u[1] * v[0]


def _residual(grad_f: tuple[float, float], active: list[tuple[float, float]], lam: list[float]) -> float:
    return math.hypot(grad_f[0] + sum(v * g[0] for v, g in zip(lam, active)),
                      grad_f[1] + sum(v * g[1] for v, g in zip(lam, active)))


def multipliers_small(grad_f: tuple[float, float], active: list[tuple[float, float]]) -> tuple[list[float], float]:
    """The ridge-NNLS of :func:`multipliers` for one or two active constraints, exactly.

    The quadratic is convex in lambda, so its minimiser over lambda >= 0 is the unconstrained
    one when that is non-negative, else the better of the faces lambda_i = 0."""
    r2 = _RIDGE * _RIDGE

    def objective(lam: list[float]) -> float:
        return _residual(grad_f, active, lam) ** 2 + r2 * sum(v * v for v in lam)

    def single(i: int) -> list[float]:
        lam = [0.0] * len(active)
        lam[i] = max(0.0, -_dot(active[i], grad_f) / (_dot(active[i], active[i]) + r2))
        return lam

    if len(active) == 1:
        lam = single(0)
    else:
        # The normal equations (A'A + r^2 I) lambda = -A'g solved by Cramer's rule, with the
        # Lagrange and Binet-Cauchy identities written out so that nearly parallel gradients
        # (a degenerate vertex) lose no digits to cancellation.
        a, b, g = active[0], active[1], grad_f
        ab = _cross(a, b)
        det = ab * ab + r2 * (_dot(a, a) + _dot(b, b)) + r2 * r2
        lam = [(-ab * _cross(g, b) - r2 * _dot(a, g)) / det, (ab * _cross(g, a) - r2 * _dot(b, g)) / det]
        if min(lam) < 0:
            lam = min(single(0), single(1), key=objective)
    return lam, _residual(grad_f, active, lam)
