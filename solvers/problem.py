"""The declaration of an allocation problem, shared by every backend.

Two objectives over N (parameters) and D (training tokens), with the loss law
``L(N, D) = E + A/N^alpha + B/D^beta`` and lifetime compute ``6 N D + 2 N D_inf``
(training plus serving ``D_inf`` tokens; Sardana et al. 2024's accounting):

* ``min_loss``:    minimise L(N, D)  s.t. 6ND + 2N D_inf <= budget_flops
* ``min_compute``: minimise 6ND + 2N D_inf  s.t. L(N, D) <= target_loss

Either may add N <= max_params, D <= max_tokens and 6ND <= max_train_flops (a cluster and
a deadline cap the training compute only), and hold the plan inside a law's support:
N >= min_params and min_tokens_per_param <= D/N <= max_tokens_per_param (monomial
constraints, so the problem stays a GP). Serving priced on an accelerator's roofline adds
monomials ``c N^e`` (e > 0) to the lifetime cost; the problem stays a GP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["AllocationProblem", "AllocationSolution", "Constraint", "LawCoefficients", "Objective", "elasticity_from_duals"]


class Constraint:
    """The constraint names every backend reports in :attr:`AllocationSolution.binding`."""

    BUDGET = "lifetime_budget"
    TARGET = "target_loss"
    MAX_PARAMS = "max_params"
    MAX_TOKENS = "max_tokens"
    MAX_TRAIN = "max_train_flops"
    MIN_PARAMS = "min_params"
    MIN_RATIO = "min_tokens_per_param"
    MAX_RATIO = "max_tokens_per_param"


# A constraint counts as binding when its dual exceeds this, in every backend (duals are
# elasticities, dimensionless, so an absolute threshold is meaningful; a planner choice).
BINDING_DUAL_TOL = 1e-6


Objective = Literal["min_loss", "min_compute"]


@dataclass(frozen=True)
class LawCoefficients:
    """Coefficients of ``E + A/N^alpha + B/D^beta`` (any object with these attributes works)."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    @classmethod
    def of(cls, law: object) -> LawCoefficients:
        return cls(*(float(getattr(law, k)) for k in ("E", "A", "B", "alpha", "beta")))

    def loss(self, params: float, tokens: float) -> float:
        return self.E + self.A * params ** (-self.alpha) + self.B * tokens ** (-self.beta)


@dataclass(frozen=True)
class AllocationProblem:
    law: LawCoefficients
    objective: Objective
    budget_flops: float | None = None
    target_loss: float | None = None
    inference_tokens: float = 0.0
    max_params: float | None = None
    max_tokens: float | None = None
    max_train_flops: float | None = None
    #: The law's support: smallest model, and the range of tokens per parameter, it holds on.
    min_params: float | None = None
    min_tokens_per_param: float | None = None
    max_tokens_per_param: float | None = None
    #: Further serving cost as monomials ``coef * N**exponent`` (roofline-priced serving:
    #: weights ~ N, attention ~ N^(2/3), KV traffic ~ N^(1/3) under the shape rule).
    serving_terms: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.objective == "min_loss" and self.budget_flops is None:
            raise ValueError("min_loss needs budget_flops")
        if self.objective == "min_compute" and self.target_loss is None:
            raise ValueError("min_compute needs target_loss")
        for name in ("budget_flops", "target_loss", "max_params", "max_tokens", "max_train_flops", "min_params",
                     "min_tokens_per_param", "max_tokens_per_param"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be positive and finite, got {v}")
        if not (math.isfinite(self.inference_tokens) and self.inference_tokens >= 0):
            raise ValueError(f"inference_tokens must be >= 0, got {self.inference_tokens}")
        for coef, exponent in self.serving_terms:
            if not (math.isfinite(coef) and coef > 0 and math.isfinite(exponent) and exponent > 0):
                raise ValueError(f"serving term {coef} * N^{exponent} must have coef > 0 and exponent > 0")

    @property
    def bounded(self) -> bool:
        """Whether any bound or support constraint is set (the 1-D oracles take none)."""
        return any(getattr(self, k) is not None for k in (
            "max_params", "max_tokens", "max_train_flops", "min_params", "min_tokens_per_param", "max_tokens_per_param"))

    def train_flops(self, params: float, tokens: float) -> float:
        return 6.0 * params * tokens

    def inference_flops(self, params: float) -> float:
        return 2.0 * params * self.inference_tokens + sum(c * params**e for c, e in self.serving_terms)


@dataclass(frozen=True)
class AllocationSolution:
    """What a backend returns.

    ``elasticity`` is d log L / d log C at the optimum: for ``min_loss`` with respect to the
    lifetime budget, for ``min_compute`` the reciprocal of d log C* / d log target. It is
    ``None`` when the lifetime-compute constraint is not the one that binds.
    ``binding`` names the constraints active at the optimum.
    """

    params: float
    tokens: float
    loss: float
    train_flops: float
    inference_flops: float
    status: str
    backend: str
    elasticity: float | None = None
    binding: tuple[str, ...] = ()

    @property
    def total_flops(self) -> float:
        return self.train_flops + self.inference_flops


class SolveFailed(RuntimeError):
    """The numerical solver gave no optimal answer for a problem that has one."""


class InfeasibleProblem(Exception):
    """No (N, D) satisfies the constraints.

    Attributes:
        constraint: which one binds: ``"irreducible_loss"`` (target at or below E),
            ``"bounds"`` (max_params / max_tokens cap the reachable loss),
            ``"max_train_flops"`` (the training-compute cap is too small) or
            ``"support"`` (the smallest model the law holds on already costs more than
            the budget).
        detail: numbers that say what would relieve it (e.g. ``floor_loss``,
            ``tokens_needed``, ``train_flops_needed``).
    """

    def __init__(self, constraint: str, **detail: float) -> None:
        self.constraint = constraint
        self.detail = detail
        super().__init__(f"infeasible ({constraint}): {detail}")


def check_reachable(problem: AllocationProblem) -> None:
    """Raise :class:`InfeasibleProblem` when the target loss cannot be reached at all.

    Covers the analytic cases (target at or below E; bounds on N and D). The training-
    compute cap needs a solve and is checked by the backend.
    """
    if problem.objective != "min_compute":
        return
    law, target = problem.law, problem.target_loss
    assert target is not None
    if target <= law.E:
        raise InfeasibleProblem("irreducible_loss", E=law.E, target_loss=target)
    n_term = law.A * problem.max_params ** (-law.alpha) if problem.max_params else 0.0
    d_term = law.B * problem.max_tokens ** (-law.beta) if problem.max_tokens else 0.0
    floor = law.E + n_term + d_term
    if target <= floor:
        detail = {"floor_loss": floor, "target_loss": target}
        slack = target - law.E
        if problem.max_tokens and slack - d_term > 0:  # params needed at max_tokens
            detail["params_needed"] = (law.A / (slack - d_term)) ** (1 / law.alpha)
        if problem.max_params and slack - n_term > 0:  # tokens needed at max_params
            detail["tokens_needed"] = (law.B / (slack - n_term)) ** (1 / law.beta)
        raise InfeasibleProblem("bounds", **detail)


def check_support_affordable(problem: AllocationProblem) -> None:
    """Raise :class:`InfeasibleProblem` ("support") when even the cheapest plan the law's support
    allows (the smallest model at the fewest tokens per parameter) costs the whole budget."""
    if problem.objective != "min_loss" or not (problem.min_params or problem.min_tokens_per_param):
        return
    n = problem.min_params or 1.0
    d = n * (problem.min_tokens_per_param or 0.0)
    cheapest = problem.train_flops(n, d) + problem.inference_flops(n)
    if cheapest >= problem.budget_flops:
        raise InfeasibleProblem("support", min_params=n, cheapest_flops=cheapest,
                                budget_flops=problem.budget_flops, serving_flops=problem.inference_flops(n))


def elasticity_from_duals(problem: AllocationProblem, duals: dict[str, float]) -> float | None:
    """The solution's elasticity from its constraint duals, the same in every backend.

    ``min_loss``: d log L* / d log C, minus the budget's dual. ``min_compute``: the target's
    dual is -d log C* / d log(target - E), so d log L / d log C* is its inverse rescaled to
    log target; None where the target does not bind."""
    if problem.objective == "min_loss":
        return -duals.get(Constraint.BUDGET, 0.0)
    lam, target = duals.get(Constraint.TARGET, 0.0), problem.target_loss
    return 1.0 / (-lam * target / (target - problem.law.E)) if lam > BINDING_DUAL_TOL else None
