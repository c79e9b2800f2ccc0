"""Allocation reduced to one dimension and certified by its KKT conditions: the fast path.

In log variables ``x = log N``, ``y = log D`` every problem of :mod:`solvers.problem` is convex
(it is a geometric program): the objective ``F`` (log loss, or log lifetime compute) and every
constraint ``G_i <= 0`` are convex. The loss falls in both N and D and the lifetime compute rises
in both, so at an optimum ``y`` sits on the tightest bound on the side the objective pushes to:

* ``min_loss``: ``y(x) = min`` of the upper bounds -- the budget's ``log((C - S(N)) / 6N)``
  (``S`` the serving cost), ``log max_tokens``, ``log(max_train / 6) - x``, ``x + log r_max``.
  Each is concave, so their minimum is; ``F`` is convex and non-increasing in ``y``, so
  ``h(x) = F(x, y(x))`` is convex (the composition rule).
* ``min_compute``: ``y(x) = max`` of the lower bounds -- the target's
  ``log(B / (excess - A N^-alpha)) / beta`` and ``x + log r_min``; each convex, ``F``
  non-decreasing in ``y``, so ``h`` is convex again.

The bounds on the other side (``D/N >= r_min`` for ``min_loss``; ``max_tokens``,
``max_train_flops``, ``D/N <= r_max`` for ``min_compute``) hold where the concave function
``upper(x) - lower(x)`` is non-negative, an interval, cut further by the bounds on N. Brent's
root search on ``h'`` (monotone) then finds the optimum to ~1e-13 in log N.

The answer carries its certificate: the multipliers ``lambda >= 0`` of the active constraints
that make ``grad F + sum lambda_i grad G_i = 0`` (non-negative least squares), which are the duals
cvxpy's DGP reports (``lambda_i = -d F* / d log c_i``), so the binding set and the elasticity
mean the same as in :mod:`solvers.convex`. Where the certificate fails, or the problem is
infeasible (to name the constraint that binds), the problem goes to the cvxpy GP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from solvers.kkt import multipliers
from solvers.problem import (
    BINDING_DUAL_TOL,
    AllocationProblem,
    AllocationSolution,
    Constraint,
    check_reachable,
    check_support_affordable,
    elasticity_from_duals,
)

__all__ = ["solve_reduced"]

# Numerical settings, all planner choices (none is a published figure):
# a constraint is active when its log-residual is within this of zero (x is found to ~1e-13);
_ACTIVE_TOL = 1e-9
# the certificate: the KKT residual, relative to |grad F|, must be below this;
_KKT_TOL = 1e-7
# how far below the domain's upper end (min_loss) / above its lower end (min_compute) the
# search looks, in log N: e^80 ~ 5.5e34, wider than any model the laws describe;
_SPAN = 80.0
_XTOL = 1e-13  # Brent's absolute tolerance in log N
_STEP = 0.25  # first step out from the guess when bracketing h' (log N; doubles each step)
_TINY = 1e-300  # keeps logarithms finite at the domain's edge
_MEET_TOL = 1e-12  # relative: a kink's y is on both bounds, with no third one below it


@dataclass(frozen=True)
class _Line:
    """A bound on y that is linear in x: ``y = slope * x + offset``."""

    name: str
    slope: float
    offset: float


class _Reduced:
    """The problem in (x, y): the curved bound (budget or target), the linear ones, the N box."""

    def __init__(self, p: AllocationProblem) -> None:
        law = p.law
        self.p, self.law = p, law
        # Serving cost as monomials c N^e (inference tokens are the term 2 D_inf N).
        terms = list(p.serving_terms)
        if p.inference_tokens > 0:
            terms.append((2.0 * p.inference_tokens, 1.0))
        self.terms = terms
        log6 = math.log(6.0)
        same: list[_Line] = []   # bounds on the side the objective pushes y to
        other: list[_Line] = []  # bounds on the far side
        upper = same if p.objective == "min_loss" else other
        lower = other if p.objective == "min_loss" else same
        if p.max_tokens is not None:
            upper.append(_Line(Constraint.MAX_TOKENS, 0.0, math.log(p.max_tokens)))
        if p.max_train_flops is not None:
            upper.append(_Line(Constraint.MAX_TRAIN, -1.0, math.log(p.max_train_flops) - log6))
        if p.max_tokens_per_param is not None:
            upper.append(_Line(Constraint.MAX_RATIO, 1.0, math.log(p.max_tokens_per_param)))
        if p.min_tokens_per_param is not None:
            lower.append(_Line(Constraint.MIN_RATIO, 1.0, math.log(p.min_tokens_per_param)))
        self.same, self.other = same, other
        if p.objective == "min_loss":
            c = p.budget_flops
            hi = math.log(c / 6.0)  # one training token: D only shrinks as N grows
            for coef, e in terms:  # where this serving term alone spends the budget
                hi = min(hi, math.log(c / coef) / e)
            lo = hi - _SPAN
        else:
            lo = math.log(law.A / (p.target_loss - law.E)) / law.alpha  # the N term alone uses the target
            hi = lo + _SPAN
        if p.max_params is not None:
            hi = min(hi, math.log(p.max_params))
        if p.min_params is not None:
            lo = max(lo, math.log(p.min_params))
        self.lo, self.hi = lo, hi

    def guess(self) -> float:
        """Where training alone would put x (Hoffmann et al.'s closed form); only a start."""
        law, p = self.law, self.p
        a, b = law.alpha, law.beta
        if p.objective == "min_loss":
            g = (a * law.A / (b * law.B)) ** (1.0 / (a + b))
            return math.log(g) + b / (a + b) * math.log(p.budget_flops / 6.0)
        # min 6ND at the target: A N^-alpha takes the share beta / (alpha + beta) of the excess.
        return math.log(law.A * (a + b) / (b * (p.target_loss - law.E))) / a

    # -- the curved bound and its slope ---------------------------------------------------
    def serving(self, n: float) -> tuple[float, float]:
        """S(N) and N S'(N)."""
        s = ds = 0.0
        for coef, e in self.terms:
            v = coef * n**e
            s += v
            ds += e * v
        return s, ds

    def curve(self, x: float) -> tuple[float, float]:
        """The budget's (min_loss) or the target's (min_compute) y and dy/dx at x."""
        n, law = math.exp(x), self.law
        if self.p.objective == "min_loss":
            c = self.p.budget_flops
            s, ds = self.serving(n)
            left = max(c - s, c * _TINY)
            return math.log(left / 6.0) - x, -ds / left - 1.0
        excess = self.p.target_loss - law.E
        a_term = law.A * n ** (-law.alpha)
        left = max(excess - a_term, excess * _TINY)
        return (math.log(law.B / left)) / law.beta, -law.alpha * a_term / left / law.beta

    def y(self, x: float) -> tuple[float, float, str]:
        """The active bound on the objective's side: y, its slope and its name."""
        y, slope = self.curve(x)
        name = Constraint.BUDGET if self.p.objective == "min_loss" else Constraint.TARGET
        sign = 1.0 if self.p.objective == "min_loss" else -1.0  # min of upper bounds, max of lower ones
        for line in self.same:
            v = line.slope * x + line.offset
            if sign * v < sign * y:
                y, slope, name = v, line.slope, line.name
        return y, slope, name

    def bound(self, name: str, x: float) -> tuple[float, float]:
        """One same-side bound's y and slope at x (the curve, or a line by its name)."""
        if name in (Constraint.BUDGET, Constraint.TARGET):
            return self.curve(x)
        line = next(line for line in self.same if line.name == name)
        return line.slope * x + line.offset, line.slope

    def dh_on(self, name: str, x: float) -> float:
        """h' at x with ``name`` the active bound (a one-sided derivative at a kink)."""
        return self._h_slope(x, *self.bound(name, x))

    def gap(self, x: float) -> tuple[float, float]:
        """How far y(x) is inside the far-side bounds (concave in x), and its slope."""
        y, slope, _ = self.y(x)
        best, best_slope = math.inf, 0.0
        for line in self.other:
            v = (y - (line.slope * x + line.offset)) if self.p.objective == "min_loss" else (line.slope * x + line.offset - y)
            s = (slope - line.slope) if self.p.objective == "min_loss" else (line.slope - slope)
            if v < best:
                best, best_slope = v, s
        return best, best_slope

    def dh(self, x: float) -> float:
        """d/dx of the reduced objective F(x, y(x))."""
        y, slope, _ = self.y(x)
        return self._h_slope(x, y, slope)

    def _h_slope(self, x: float, y: float, slope: float) -> float:
        # Near the domain's edge y runs to +-infinity; the gradient's ratios settle long before.
        fx, fy = self.grad_objective(math.exp(x), math.exp(min(max(y, -300.0), 300.0)))
        return fx + fy * slope

    # -- gradients in log-log space (for h' and the certificate) --------------------------
    def grad_objective(self, n: float, d: float) -> tuple[float, float]:
        law = self.law
        if self.p.objective == "min_loss":
            a_term, b_term = law.A * n ** (-law.alpha), law.B * d ** (-law.beta)
            f = law.E + a_term + b_term
            return -law.alpha * a_term / f, -law.beta * b_term / f
        return self._grad_lifetime(n, d)

    def _grad_lifetime(self, n: float, d: float) -> tuple[float, float]:
        s, ds = self.serving(n)
        train = 6.0 * n * d
        total = train + s
        return (train + ds) / total, train / total

    def constraints(self, n: float, d: float) -> list[tuple[str, float, tuple[float, float]]]:
        """Every constraint as (name, log-residual G <= 0, grad G), in the GP backend's order."""
        p, law = self.p, self.law
        out: list[tuple[str, float, tuple[float, float]]] = []
        x, y = math.log(n), math.log(d)
        if p.objective == "min_loss":
            s, _ = self.serving(n)
            out.append((Constraint.BUDGET, math.log((6.0 * n * d + s) / p.budget_flops), self._grad_lifetime(n, d)))
        else:
            a_term, b_term = law.A * n ** (-law.alpha), law.B * d ** (-law.beta)
            r = a_term + b_term
            out.append((Constraint.TARGET, math.log(r / (p.target_loss - law.E)), (-law.alpha * a_term / r, -law.beta * b_term / r)))
        if p.max_params is not None:
            out.append((Constraint.MAX_PARAMS, x - math.log(p.max_params), (1.0, 0.0)))
        if p.max_tokens is not None:
            out.append((Constraint.MAX_TOKENS, y - math.log(p.max_tokens), (0.0, 1.0)))
        if p.max_train_flops is not None:
            out.append((Constraint.MAX_TRAIN, math.log(6.0 * n * d / p.max_train_flops), (1.0, 1.0)))
        if p.min_params is not None:
            out.append((Constraint.MIN_PARAMS, math.log(p.min_params) - x, (-1.0, 0.0)))
        if p.min_tokens_per_param is not None:
            out.append((Constraint.MIN_RATIO, math.log(p.min_tokens_per_param) + x - y, (1.0, -1.0)))
        if p.max_tokens_per_param is not None:
            out.append((Constraint.MAX_RATIO, y - x - math.log(p.max_tokens_per_param), (-1.0, 1.0)))
        return out


def _root(f, a: float, b: float) -> float:  # noqa: ANN001 - a scalar function
    from scipy.optimize import brentq

    return brentq(f, a, b, xtol=_XTOL, rtol=4 * math.ulp(1.0), maxiter=200)  # brentq's smallest rtol (4 machine epsilons)


def _bracket(f, lo: float, hi: float, x0: float) -> tuple[float, float]:  # noqa: ANN001
    """A sub-interval of [lo, hi] (where the increasing ``f`` changes sign) around ``x0``.

    Steps out from ``x0`` by doubling widths, so Brent starts from a bracket about as wide as
    the guess was wrong rather than from the whole 80-unit domain."""
    x0 = min(max(x0, lo), hi)
    v = f(x0)
    if v == 0:
        return x0, x0
    step, inner = _STEP, x0
    while True:
        outer = x0 - step if v > 0 else x0 + step
        if outer <= lo or outer >= hi:
            return (lo, inner) if v > 0 else (inner, hi)
        if (f(outer) > 0) != (v > 0):
            return (outer, inner) if v > 0 else (inner, outer)
        inner, step = outer, 2.0 * step


def _argmin(r: _Reduced, lo: float, hi: float) -> float:
    """The minimiser of the convex h on [lo, hi]."""
    if r.dh(lo) >= 0:
        return lo
    if r.dh(hi) <= 0:
        return hi
    return _minimise(r, *_bracket(r.dh, lo, hi, r.guess()))


def _minimise(r: _Reduced, a: float, b: float) -> float:
    """The root of h' in [a, b], where h' changes sign.

    h' jumps where the active bound switches (e.g. the budget curve meets D/N <= r_max), and
    the optimum often sits on such a kink, where Brent can only bisect (~60 evaluations). So
    when the bracket's ends have different active bounds, first find where those two meet (a
    smooth root) and compare h' on either side of it; plain Brent on [a, b] is the fallback."""
    name_a, name_b = r.y(a)[2], r.y(b)[2]
    if name_a != name_b:
        meet = lambda x: r.bound(name_a, x)[0] - r.bound(name_b, x)[0]  # noqa: E731
        fa, fb = meet(a), meet(b)
        if fa * fb < 0:
            k = _root(meet, a, b)
            y_k, _, name_k = r.y(k)
            if name_k in (name_a, name_b) and abs(y_k - r.bound(name_a, k)[0]) <= _MEET_TOL * max(1.0, abs(y_k)):
                left, right = r.dh_on(name_a, k), r.dh_on(name_b, k)
                if left <= 0 <= right:
                    return k
                if left > 0 and r.dh(a) < 0:
                    return _root(r.dh, a, k)
                if right < 0 and r.dh(b) > 0:
                    return _root(r.dh, k, b)
    return _root(r.dh, a, b)


def _feasible_interval(r: _Reduced) -> tuple[float, float] | None:
    """The x where the far-side bounds hold, inside [lo, hi]; None if there is none."""
    lo, hi = r.lo, r.hi
    if hi < lo:  # (equal bounds pin N: a one-point interval)
        return None
    if not r.other:
        return lo, hi

    def gap(x: float) -> float:
        return r.gap(x)[0]

    # The gap is concave: it peaks where its slope stops being positive. Zeros count as the
    # far side of each search, so a plateau (equal ratio bounds) is found at its left end.
    def falling(x: float) -> float:
        slope = r.gap(x)[1]
        return slope if slope > 0 else min(slope, -_TINY)

    def inside(x: float) -> float:
        v = gap(x)
        return v if v < 0 else max(v, _TINY)

    top = lo if falling(lo) < 0 else hi if falling(hi) > 0 else _root(falling, lo, hi)
    if gap(top) < 0:
        return None
    left = lo if gap(lo) >= 0 else _root(inside, lo, top)
    right = hi if gap(hi) >= 0 else _root(inside, top, hi)
    return left, right


def solve_reduced(problem: AllocationProblem) -> AllocationSolution:
    """Solve ``problem`` by its 1-D reduction; fall back to the cvxpy GP where the KKT
    certificate fails or the problem is infeasible (which the GP backend explains)."""
    check_reachable(problem)
    r = _Reduced(problem)
    if r.hi < r.lo:  # no N in the box (e.g. min_params beyond what the budget reaches)
        return _infeasible(problem)
    # Minimise over the N box first: where that point already keeps the far-side bounds it is
    # the optimum (a subset's minimiser found in the superset); h is convex, so otherwise the
    # optimum is the feasible interval's end nearest it.
    x = _argmin(r, r.lo, r.hi)
    if r.other and r.gap(x)[0] < 0:
        interval = _feasible_interval(r)
        if interval is None:
            return _infeasible(problem)
        x = min(max(x, interval[0]), interval[1])
    y, _, _ = r.y(x)
    n, d = math.exp(x), math.exp(y)
    cons = r.constraints(n, d)
    if any(g > _ACTIVE_TOL for _, g, _ in cons):  # the reduction left the feasible set
        return _fallback(problem)
    active = [(name, grad) for name, g, grad in cons if g >= -_ACTIVE_TOL]
    grad_f = r.grad_objective(n, d)
    lam, residual = multipliers(grad_f, [g for _, g in active])
    if residual > _KKT_TOL * max(math.hypot(*grad_f), 1e-12):
        return _fallback(problem)
    duals = {name: v for (name, _), v in zip(active, lam)}
    binding = tuple(name for name, _, _ in cons if duals.get(name, 0.0) > BINDING_DUAL_TOL)
    return AllocationSolution(
        params=n,
        tokens=d,
        loss=problem.law.loss(n, d),
        train_flops=problem.train_flops(n, d),
        inference_flops=problem.inference_flops(n),
        status="optimal",
        backend="reduced-1d/brent+kkt",
        elasticity=elasticity_from_duals(problem, duals),
        binding=binding,
    )


def _infeasible(problem: AllocationProblem) -> AllocationSolution:
    """Name the binding constraint: the support check here (without cvxpy), else the GP's."""
    check_support_affordable(problem)  # the common way a planner's choice is out of reach
    return _fallback(problem)


def _fallback(problem: AllocationProblem) -> AllocationSolution:
    from solvers.convex import solve_convex

    return solve_convex(problem)
