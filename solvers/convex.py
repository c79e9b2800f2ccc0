"""Allocation as a geometric program (cvxpy DGP), cached per problem shape.

The loss ``E + A N^-alpha + B D^-beta`` is a posynomial in (N, D) and lifetime compute
``6ND + 2N D_inf`` is one too, so both objectives of :mod:`solvers.problem` are geometric
programs. Every coefficient -- exponents included -- is a cvxpy ``Parameter`` and the
problems are DPP, so each *shape* (objective, which optional constraints exist) is built
and compiled once; later calls only assign parameter values and re-solve (~1-2 ms).

Elasticities come from dual values: in the log-log transformed problem the dual ``lam``
of ``g(x) <= c`` is ``-d log f* / d log c``.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import cvxpy as cp

from solvers.problem import (
    BINDING_DUAL_TOL,
    AllocationProblem,
    AllocationSolution,
    Constraint,
    InfeasibleProblem,
    SolveFailed,
    check_reachable,
    check_support_affordable,
    elasticity_from_duals,
)

__all__ = ["cache_info", "solve_convex"]

# Clarabel's default tolerances (1e-8) leave N*, D* ~1e-4 from the closed form on this
# flat objective; these keep them ~1e-6 at little extra cost.
_SOLVER_OPTS = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


@dataclass
class _Built:
    problem: cp.Problem
    params: dict[str, cp.Parameter]
    constraints: dict[str, cp.Constraint]
    N: cp.Variable
    D: cp.Variable
    last: dict[str, float] = field(default_factory=dict)

    def assign(self, values: dict[str, float | None]) -> None:
        """Set parameter values, skipping unchanged ones (cvxpy validates every assignment,
        which costs as much as the solve itself in a budget sweep)."""
        for key, param in self.params.items():
            value = values[key]
            if self.last.get(key) != value:
                param.value = value
                self.last[key] = value


def _shape(p: AllocationProblem) -> tuple[Any, ...]:
    return (
        p.objective,
        p.inference_tokens > 0,
        p.max_params is not None,
        p.max_tokens is not None,
        p.max_train_flops is not None,
        p.min_params is not None,
        p.min_tokens_per_param is not None,
        p.max_tokens_per_param is not None,
        len(p.serving_terms),
    )


@functools.lru_cache(maxsize=64)
def _build(shape: tuple[Any, ...]) -> _Built:
    objective, has_inf, has_np, has_nd, has_train, has_min_n, has_min_r, has_max_r, n_serve = shape
    N = cp.Variable(pos=True, name="N")
    D = cp.Variable(pos=True, name="D")
    par = {k: cp.Parameter(pos=True, name=k) for k in ("E", "A", "B", "alpha", "beta")}
    reducible = par["A"] / N ** par["alpha"] + par["B"] / D ** par["beta"]
    train = 6 * N * D
    lifetime = train
    if has_inf:
        par["D_inf"] = cp.Parameter(pos=True, name="D_inf")
        lifetime = train + 2 * N * par["D_inf"]
    for i in range(n_serve):  # coefficient and exponent both parameters: one compile per term count
        par[f"serve{i}"] = cp.Parameter(pos=True, name=f"serve{i}")
        par[f"serve_exp{i}"] = cp.Parameter(pos=True, name=f"serve_exp{i}")
        lifetime = lifetime + par[f"serve{i}"] * N ** par[f"serve_exp{i}"]
    cons: dict[str, cp.Constraint] = {}
    if objective == "min_loss":
        par["budget"] = cp.Parameter(pos=True, name="budget")
        goal = cp.Minimize(par["E"] + reducible)
        cons[Constraint.BUDGET] = lifetime <= par["budget"]
    else:
        # Written as reducible <= target - E: better scaled than E + ... <= target.
        par["excess"] = cp.Parameter(pos=True, name="excess")
        goal = cp.Minimize(lifetime)
        cons[Constraint.TARGET] = reducible <= par["excess"]
    if has_np:
        par["max_params"] = cp.Parameter(pos=True, name="max_params")
        cons[Constraint.MAX_PARAMS] = N <= par["max_params"]
    if has_nd:
        par["max_tokens"] = cp.Parameter(pos=True, name="max_tokens")
        cons[Constraint.MAX_TOKENS] = D <= par["max_tokens"]
    if has_train:
        par["max_train"] = cp.Parameter(pos=True, name="max_train")
        cons[Constraint.MAX_TRAIN] = train <= par["max_train"]
    if has_min_n:
        par["min_params"] = cp.Parameter(pos=True, name="min_params")
        cons[Constraint.MIN_PARAMS] = par["min_params"] <= N
    if has_min_r:
        par["min_ratio"] = cp.Parameter(pos=True, name="min_ratio")
        cons[Constraint.MIN_RATIO] = par["min_ratio"] * N <= D
    if has_max_r:
        par["max_ratio"] = cp.Parameter(pos=True, name="max_ratio")
        cons[Constraint.MAX_RATIO] = D <= par["max_ratio"] * N
    prob = cp.Problem(goal, list(cons.values()))
    assert prob.is_dgp(dpp=True), "allocation GP must stay DPP so re-solves are cheap"
    return _Built(prob, par, cons, N, D)


def _solve(prob: cp.Problem) -> str:
    """Solve with tight tolerances; if Clarabel cannot certify them, retry at its defaults."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "solution may be inaccurate": handled here
        with contextlib.suppress(cp.error.SolverError):
            prob.solve(gp=True, solver=cp.CLARABEL, **_SOLVER_OPTS)
        if prob.status != cp.OPTIMAL:
            try:
                prob.solve(gp=True, solver=cp.CLARABEL)
            except cp.error.SolverError as exc:
                raise SolveFailed(f"Clarabel failed on the allocation GP: {exc}") from None
    return prob.status


def cache_info() -> Any:
    """How many problem shapes are compiled (for tests and benchmarks)."""
    return _build.cache_info()


def solve_convex(problem: AllocationProblem) -> AllocationSolution:
    """Solve ``problem`` as a geometric program; raise :class:`InfeasibleProblem` if none."""
    check_reachable(problem)
    built = _build(_shape(problem))
    law = problem.law
    values = {key: getattr(law, key) for key in ("E", "A", "B", "alpha", "beta")}
    values["D_inf"] = problem.inference_tokens
    if problem.objective == "min_loss":
        values["budget"] = problem.budget_flops
    else:
        values["excess"] = problem.target_loss - law.E
    values["max_params"] = problem.max_params
    values["max_tokens"] = problem.max_tokens
    values["max_train"] = problem.max_train_flops
    values["min_params"] = problem.min_params
    values["min_ratio"] = problem.min_tokens_per_param
    values["max_ratio"] = problem.max_tokens_per_param
    for i, (coef, exponent) in enumerate(problem.serving_terms):
        values[f"serve{i}"] = coef
        values[f"serve_exp{i}"] = exponent
    built.assign(values)
    status = _solve(built.problem)
    if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        if problem.max_train_flops is not None and problem.objective == "min_compute":
            needed = solve_convex(replace(problem, max_train_flops=None, inference_tokens=0.0, serving_terms=()))
            raise InfeasibleProblem(
                Constraint.MAX_TRAIN,
                train_flops_needed=needed.train_flops,
                max_train_flops=problem.max_train_flops,
            )
        check_support_affordable(problem)
        raise SolveFailed(f"GP solver returned status '{status}' for a feasible problem")
    n, d = float(built.N.value), float(built.D.value)
    duals = {name: float(c.dual_value or 0.0) for name, c in built.constraints.items()}
    binding = tuple(name for name, lam in duals.items() if lam > BINDING_DUAL_TOL)
    loss = law.loss(n, d)
    elasticity = elasticity_from_duals(problem, duals)
    return AllocationSolution(
        params=n,
        tokens=d,
        loss=loss,
        train_flops=problem.train_flops(n, d),
        inference_flops=problem.inference_flops(n),
        status=status,
        backend="cvxpy-dgp/clarabel",
        elasticity=elasticity,
        binding=binding,
    )
