"""Closed forms for the Chinchilla law: the training-only optimum and baselines.

For ``L = E + A/N^alpha + B/D^beta`` and training compute ``C = 6ND`` (Hoffmann et al.
2022, eq. 4; shared/reference/laws.md sec. 1):

    G  = (alpha A / (beta B))^(1/(alpha+beta))
    N* = G (C/6)^(beta/(alpha+beta)),   D* = (C/6)^(alpha/(alpha+beta)) / G

Both reducible terms then scale as (C/6)^(-alpha beta/(alpha+beta)), so the optimal loss is
``E + K (C/6)^(-gamma)`` with ``gamma = alpha beta/(alpha+beta)`` and
``K = A G^-alpha + B G^beta``, which inverts to the compute needed for a target loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy.optimize import brentq

from solvers.problem import (
    AllocationProblem,
    AllocationSolution,
    InfeasibleProblem,
    LawCoefficients,
    check_reachable,
)

__all__ = [
    "chinchilla_sized_for_lifetime_budget",
    "optimal_allocation",
    "optimal_loss",
    "solve_closed_form",
    "train_flops_for_loss",
]


def _g(law: LawCoefficients) -> float:
    return (law.alpha * law.A / (law.beta * law.B)) ** (1.0 / (law.alpha + law.beta))


def optimal_allocation(law: LawCoefficients, train_flops: float) -> tuple[float, float]:
    """Compute-optimal (N*, D*) for ``train_flops`` with no inference term."""
    s = law.alpha + law.beta
    g = _g(law)
    base = train_flops / 6.0
    return g * base ** (law.beta / s), base ** (law.alpha / s) / g


def optimal_loss(law: LawCoefficients, train_flops: float) -> float:
    n, d = optimal_allocation(law, train_flops)
    return law.loss(n, d)


def train_flops_for_loss(law: LawCoefficients, target_loss: float) -> float:
    """Least training compute whose compute-optimal model reaches ``target_loss``."""
    if target_loss <= law.E:
        raise InfeasibleProblem("irreducible_loss", E=law.E, target_loss=target_loss)
    g = _g(law)
    k = law.A * g ** (-law.alpha) + law.B * g**law.beta
    gamma = law.alpha * law.beta / (law.alpha + law.beta)
    return 6.0 * ((target_loss - law.E) / k) ** (-1.0 / gamma)


def chinchilla_sized_for_lifetime_budget(
    law: LawCoefficients,
    lifetime_flops: float,
    inference_tokens: float = 0.0,
    inference_cost: Callable[[float], float] | None = None,
) -> tuple[float, float]:
    """The compute-optimal (training-only) model whose training plus serving fills the budget.

    This is what a planner that ignores inference would size, held to the same lifetime
    budget: find C_t with ``C_t + serve(N*(C_t)) = lifetime_flops`` (monotone in C_t), where
    serving costs ``2 N D_inf`` or ``inference_cost(N)`` when given.
    """
    if inference_cost is None:
        if inference_tokens <= 0:
            return optimal_allocation(law, lifetime_flops)

        def inference_cost(n: float) -> float:
            return 2.0 * n * inference_tokens

    def excess(log_ct: float) -> float:
        ct = math.exp(log_ct)
        n, _ = optimal_allocation(law, ct)
        return math.log(max(ct + inference_cost(n), math.ulp(0.0))) - math.log(lifetime_flops)  # no log(0) at tiny budgets

    hi = math.log(lifetime_flops)
    lo = hi - 200.0  # e^-200 of the budget: the inference term dominates long before
    log_ct = brentq(excess, lo, hi, xtol=1e-12, rtol=1e-14)
    return optimal_allocation(law, math.exp(log_ct))


def solve_closed_form(problem: AllocationProblem) -> AllocationSolution:
    """Exact solution for problems with no inference demand and no bounds."""
    if problem.inference_tokens > 0 or problem.bounded:
        raise ValueError("closed form covers training-only problems without bounds")
    check_reachable(problem)
    law = problem.law
    if problem.objective == "min_loss":
        c = problem.budget_flops
    else:
        c = train_flops_for_loss(law, problem.target_loss)
    n, d = optimal_allocation(law, c)
    loss = law.loss(n, d)
    gamma = law.alpha * law.beta / (law.alpha + law.beta)
    elasticity = -gamma * (loss - law.E) / loss  # d log L / d log C along the frontier
    return AllocationSolution(
        params=n,
        tokens=d,
        loss=loss,
        train_flops=6.0 * n * d,
        inference_flops=0.0,
        status="optimal",
        backend="closed-form",
        elasticity=elasticity,
        binding=("lifetime_budget",) if problem.objective == "min_loss" else ("target_loss",),
    )
