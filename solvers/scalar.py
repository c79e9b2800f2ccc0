"""A 1-D oracle: eliminate D with the active constraint, search log N with scipy.

* ``min_loss``:    D(N) = (C - 2 N D_inf) / (6N) on N in (0, C / (2 D_inf)).
* ``min_compute``: D(N) = (B / (target - E - A N^-alpha))^(1/beta) for N above the size
  whose parameter term alone uses up the target.

Both reduced objectives are unimodal in log N, so a bounded Brent search finds the optimum.
Slow and bound-free by design: it exists to hold the convex backend to account in tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy.optimize import brentq, minimize_scalar

from solvers.problem import AllocationProblem, AllocationSolution, check_reachable

__all__ = ["solve_scalar"]


def solve_scalar(problem: AllocationProblem, xatol: float = 1e-10,
                 inference_cost: Callable[[float], float] | None = None) -> AllocationSolution:
    """The 1-D oracle. ``inference_cost(N)``, when given, replaces the problem's serving terms
    with an exact lifetime serving cost (increasing in N), as planners price it."""
    if problem.bounded:
        raise ValueError("the scalar oracle handles unbounded problems only")
    check_reachable(problem)
    law, d_inf = problem.law, problem.inference_tokens
    serve = inference_cost or problem.inference_flops

    if problem.objective == "min_loss":
        c = problem.budget_flops
        hi = math.log(c / (2.0 * d_inf)) if d_inf > 0 else math.log(c)
        for coef, e in problem.serving_terms:  # N where this term alone spends the budget
            hi = min(hi, math.log(c / coef) / e)
        if inference_cost is not None:  # N where serving alone spends the budget
            hi = min(hi, brentq(lambda x: inference_cost(math.exp(x)) - c, math.log(1.0), hi))

        def tokens(log_n: float) -> float:
            n = math.exp(log_n)
            return max(c - serve(n), 1e-300) / (6.0 * n)

        def objective(log_n: float) -> float:
            return math.log(law.loss(math.exp(log_n), tokens(log_n)))

        lo = hi - 80.0
    else:
        excess = problem.target_loss - law.E
        lo = math.log(law.A / excess) / law.alpha  # parameter term alone = excess here

        def tokens(log_n: float) -> float:
            left = excess - law.A * math.exp(-law.alpha * log_n)
            return (law.B / max(left, 1e-300)) ** (1.0 / law.beta)

        def objective(log_n: float) -> float:
            n = math.exp(log_n)
            return math.log(6.0 * n * tokens(log_n) + serve(n))

        hi = lo + 80.0
    # Brent on a bracket found by a coarse grid (the objective is unimodal in log N).
    # lo is excluded (min_compute: D is infinite there); hi is kept (min_loss optima sit near it).
    grid = [lo + (hi - lo) * i / 400 for i in range(1, 401)]
    values = [objective(x) for x in grid]
    i = min(range(len(values)), key=values.__getitem__)
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    res = minimize_scalar(objective, bounds=(a, b), method="bounded", options={"xatol": xatol})
    n = math.exp(res.x)
    d = tokens(res.x)
    return AllocationSolution(
        params=n,
        tokens=d,
        loss=law.loss(n, d),
        train_flops=6.0 * n * d,
        inference_flops=serve(n),
        status="optimal",
        backend="scipy-bounded-brent",
    )
