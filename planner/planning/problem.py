"""The one declared planning problem: the user's question lowered, solved, and mapped back.

Every unit the user may give is lowered onto the same problem over (N, D) for each discrete
serving choice (weight bits b, samples per query k):

* budget units -> training-FLOP equivalents at the training MFU (:func:`lifetime_budget`;
  the way back is :func:`planner.units.gpu_hours`);
* serving bits -> the law ``L(rho_b N, D)`` (:func:`planner.serving.joint.served_coefficients`;
  the way back is the same law at the chosen N, D: :attr:`Choice.loss`);
* serving cost -> monomials in N at the plan's training-FLOP-equivalent price
  (:class:`planner.serving.joint.ServingLowering`; the way back is its exact ``cost``);
* latency and serving-memory bounds -> a cap on N (bisection on the exact serving model);
* the law's support (smallest fitted model, fitted tokens-per-parameter range) -> bounds
  on N and D/N (:class:`Support`), unless the user asks to extrapolate.

``solve_choice`` solves one (b, k) and maps the solution back exactly: with the budget
binding, D is recomputed so that training plus the exact serving cost spends the budget;
the loss is the served law at (N, D). ``search`` compares the choices with the one discrete
search of :mod:`solvers.discrete`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from planner.errors import InfeasiblePlanError, PlannerInputError, SolverError
from planner.laws.catalog import DownstreamMap
from planner.serving.joint import (
    ServingLowering,
    objective_value,
    served_coefficients,
    serving_cap,
    task_loss,
)
from planner.serving.qat import qat_fraction
from planner.serving.task_law import TaskLaw
from planner.units import SECONDS_PER_HOUR, fmt_flops

__all__ = ["Choice", "PlanningProblem", "Search", "Support", "explain_infeasible", "lifetime_budget", "search", "solve_choice"]

# Numerical settings, not published figures. Re-matching the serving monomials stops when N is
# within _TERM_RTOL of the fixed point: N moved by less than that, or the re-matching converges
# linearly (each step at most half the last) and the steps still to come sum to less (D is then
# recomputed exactly, so this only bounds how far N is from the fixed point); 2-4 rounds are
# typical, _MAX_TERM_ROUNDS is a safety stop.
_MAX_TERM_ROUNDS = 30
_TERM_RTOL = 1e-5
#: Two re-matches this close, two apart, with no contraction between: a 2-cycle (the shape rule's
#: discrete steps make the serving cost jump between two N; both are feasible plans).
_CYCLE_RTOL = 1e-3
_TIE_RTOL = 1e-4  # choices this close on the objective tie; the cheaper to serve wins
_REFINE = 16  # choices a warm-started search of more than 64 re-solves (a numerical setting)
_N_START = 1e9  # where the first monomials are matched (any N in the shape rule's range works)


def lifetime_budget(kind: str, *, budget_flops: float | None, gpu_hours_given: float | None, dollars: float | None,
                    price: float | None, gpus: int | None, days: float | None, goodput: float,
                    flops_per_gpu_s: float) -> tuple[float | None, float | None]:
    """(lifetime budget, training-compute cap) in training-FLOP equivalents at this MFU.

    A pure function of ``flops_per_gpu_s`` (training MFU x peak): a GPU-hours or dollars
    budget buys that much GPU-time; a cluster and deadline buy its productive time (goodput).
    """
    per_hour = flops_per_gpu_s * SECONDS_PER_HOUR
    cluster = gpus * days * 24.0 * per_hour * goodput if gpus is not None and days is not None else None
    budget = {
        "flops": budget_flops,
        "gpu_hours": gpu_hours_given * per_hour if gpu_hours_given is not None else None,
        "dollars": dollars / price * per_hour if dollars is not None and price else None,
        "cluster": cluster,
        "target": None,
    }[kind]
    for value, what in ((budget, "budget"), (cluster, "training deadline")):
        if value is not None and not math.isfinite(value):
            raise PlannerInputError(f"the {what} overflows floating point ({value} FLOPs): give a smaller --days, --gpus, --gpu-hours or --dollars")
    return budget, (cluster if kind != "cluster" else None)


@dataclass(frozen=True)
class Support:
    """Where the plan is allowed to go: the law's fitted range (and the smallest model the
    shape rule can build). ``None`` fields are unbounded."""

    min_params: float | None = None
    min_tokens_per_param: float | None = None
    max_tokens_per_param: float | None = None
    source: str = ""


#: Binding names of the support constraints, as the report says them.
SUPPORT_BINDING = {"min_params": "law_support_params", "min_tokens_per_param": "law_support_ratio",
                   "max_tokens_per_param": "law_support_ratio"}


@dataclass(frozen=True)
class PlanningProblem:
    """Everything one solve needs, in solver units (FLOPs are training-FLOP equivalents)."""

    coeffs: Any  # solvers.problem.LawCoefficients of the 16-bit law
    objective: str  # "min_loss" or "min_compute"
    budget_flops: float | None
    target_loss: float | None
    max_params: float | None
    max_tokens: float | None
    max_train_flops: float | None
    serving: ServingLowering  # spec holds the base choice; bits and k are set per choice
    quality: str  # loss, error or pass@k
    downstream: DownstreamMap | None
    task: TaskLaw | None
    bits_choices: tuple[int, ...]
    sample_choices: tuple[int, ...]
    latency_s: float | None = None
    serve_memory_bytes: float | None = None
    support: Support = Support()
    task_coeffs: Any = None  # the law whose loss indexes the task law (pass@k)

    def task_loss(self, params: float, tokens: float, bits: int) -> float | None:
        """The model's loss under the task law's own scaling law, at these serving widths."""
        if self.task is None:
            return None
        return task_loss(self.task_coeffs, params, tokens, bits, self.serving.spec.kv_bits)

    def with_law(self, coeffs: Any) -> PlanningProblem:
        return replace(self, coeffs=coeffs)

    def lowering(self, bits: int, samples: int) -> ServingLowering:
        return replace(self.serving, spec=replace(self.serving.spec, weight_bits=bits, samples=samples))


@dataclass(frozen=True)
class Choice:
    """One (bits, k) solved and mapped back."""

    bits: int
    samples: int
    params: float
    tokens: float
    loss: float
    objective_value: float
    train_flops: float
    inference_flops: float
    qat_fraction: float
    binding: tuple[str, ...]
    elasticity: float | None
    status: str
    backend: str
    term_rounds: int

    @property
    def lifetime_flops(self) -> float:
        return self.train_flops + self.inference_flops


@dataclass(frozen=True)
class Search:
    best: Choice
    choices: tuple[Choice, ...]
    method: str
    infeasible: tuple[tuple[int, int, str], ...]


class _Infeasible(Exception):
    def __init__(self, reason: str, exc: Any = None) -> None:
        self.reason, self.exc = reason, exc
        super().__init__(reason)


def _caps(problem: PlanningProblem, low: ServingLowering) -> tuple[float | None, str | None]:
    """The tightest cap on N and where it comes from (--max-params, latency, serving memory)."""
    cap, source = problem.max_params, "max_params" if problem.max_params else None
    for limit, what in ((problem.latency_s, "latency"), (problem.serve_memory_bytes, "serving_memory")):
        if limit is None:
            continue
        n_max, reachable = serving_cap(what, limit, low.accel, low.spec)
        if not reachable:
            raise _Infeasible(f"{what.replace('_', ' ')} bound unreachable even at 1M parameters")
        if n_max is not None and (cap is None or n_max < cap):
            cap, source = n_max, what
    return cap, source


def _on_ratio_bound(problem: PlanningProblem, low: ServingLowering, n: float, ratio: float) -> tuple[float, float]:
    """(N, D) on the ray D = ratio N that spends the budget exactly with the exact serving cost."""
    from scipy.optimize import brentq

    def spent(log_n: float) -> float:
        m = math.exp(log_n)
        return math.log((6.0 * ratio * m * m + low.cost(m)) / problem.budget_flops)

    lo, hi = math.log(n) - 1.0, math.log(n) + 1.0
    for _ in range(60):  # widen the bracket; spent() increases with N
        if spent(lo) <= 0 and spent(hi) >= 0:
            m = math.exp(brentq(spent, lo, hi, xtol=1e-13))
            return m, ratio * m
        lo, hi = (lo - 1.0, hi) if spent(lo) > 0 else (lo, hi + 1.0)
    raise _Infeasible(f"no model on the tokens-per-parameter bound {ratio:g} spends the budget")


def _tokens_back(problem: PlanningProblem, eff: Any, n: float, d: float, serve: float, binding: tuple[str, ...]) -> float:
    """D from the exact costs: the budget spent exactly, or the target met exactly."""
    if problem.objective == "min_loss" and "lifetime_budget" in binding:
        d = (problem.budget_flops - serve) / (6.0 * n)
        if problem.max_tokens is not None:
            d = min(d, problem.max_tokens)
        if problem.max_train_flops is not None:
            d = min(d, problem.max_train_flops / (6.0 * n))
        if problem.support.max_tokens_per_param is not None:
            d = min(d, problem.support.max_tokens_per_param * n)
    elif problem.objective == "min_compute":
        left = problem.target_loss - eff.E - eff.A * n ** (-eff.alpha)
        if left > 0:
            d = (eff.B / left) ** (1.0 / eff.beta)
    return d


def solve_choice(problem: PlanningProblem, bits: int, samples: int, n_start: float | None = None) -> Choice:
    """Solve one (bits, k) of the declared problem; raise ``_Infeasible`` with the reason.
    ``n_start`` (e.g. the same choice's N at the previous fixed-point round) is where the
    serving monomials are first matched; it changes how many re-matches run, not the answer
    beyond the re-matching tolerance."""
    from solvers.problem import AllocationProblem, InfeasibleProblem, SolveFailed
    from solvers.reduced import solve_reduced

    low = problem.lowering(bits, samples)
    eff = served_coefficients(problem.coeffs, bits, low.spec.kv_bits)
    cap, cap_source = _caps(problem, low)
    sup = problem.support
    if cap is not None and sup.min_params is not None and cap < sup.min_params:
        raise _Infeasible(f"{cap_source.replace('_', ' ')} caps N at {cap:.3g}, below the law's support ({sup.min_params:.3g})")
    n0 = n_start or _N_START
    n0 = min(cap, n0) if cap else n0
    n0 = max(n0, sup.min_params or 0.0)
    budget = problem.budget_flops
    if budget is not None and low.constant_cost() > 0:
        budget = budget - low.constant_cost()
        if budget <= 0:
            raise _Infeasible(f"choosing among {samples} samples alone costs {low.constant_cost():.3g} of the {problem.budget_flops:.3g} budget")
    rounds = 0
    last_step: float | None = None
    sols: list[Any] = []
    for rounds in range(1, _MAX_TERM_ROUNDS + 1):
        prob = AllocationProblem(law=eff, objective=problem.objective, budget_flops=budget,
                                 target_loss=problem.target_loss, max_params=cap, max_tokens=problem.max_tokens,
                                 max_train_flops=problem.max_train_flops, serving_terms=low.terms(n0),
                                 min_params=sup.min_params, min_tokens_per_param=sup.min_tokens_per_param,
                                 max_tokens_per_param=sup.max_tokens_per_param)
        try:
            sol = solve_reduced(prob)
        except InfeasibleProblem as exc:
            if exc.constraint == "support" and n0 != sup.min_params:
                n0 = sup.min_params  # the monomials were matched far away: check the support's edge exactly
                continue
            raise _Infeasible(exc.constraint, exc) from None
        except SolveFailed as exc:
            raise SolverError(f"{exc}; please report the inputs") from None
        step, sols = sol.params - n0, [*sols, sol]
        ratio = abs(step / last_step) if last_step else 1.0  # the re-matching's contraction, seen on two steps
        settled = (low.cost_model == "flops" or abs(step) <= _TERM_RTOL * n0
                   or (ratio <= 0.5 and abs(step) * ratio / (1.0 - ratio) <= _TERM_RTOL * sol.params))
        if not settled and ratio > 0.5 and len(sols) >= 3 and abs(sols[-1].params / sols[-3].params - 1.0) <= _CYCLE_RTOL:
            sol = min(sols[-2:], key=lambda s: s.params)  # a 2-cycle (the shape rule's steps): keep the smaller N
            break
        last_step, n0 = step, sol.params
        if settled:
            break
    n = sol.params
    binding = tuple({"max_params": cap_source or "max_params"}.get(b, b) for b in sol.binding)
    if "max_tokens_per_param" in binding and "lifetime_budget" in binding and problem.objective == "min_loss":
        n, _ = _on_ratio_bound(problem, low, n, sup.max_tokens_per_param)
    serve = low.cost(n)
    d = _tokens_back(problem, eff, n, sol.tokens, serve, binding)
    binding = tuple(dict.fromkeys(SUPPORT_BINDING.get(b, b) for b in binding))
    if not (d > 0 and math.isfinite(d)):  # the monomials never settled near this choice: skip it, say why
        raise _Infeasible(f"serving cost did not settle in {rounds} re-matches")
    loss = eff.loss(n, d)
    return Choice(bits=bits, samples=samples, params=n, tokens=d, loss=loss,
                  objective_value=objective_value(problem.quality, loss, problem.downstream, problem.task, samples,
                                                  problem.task_loss(n, d, bits)),
                  train_flops=6.0 * n * d, inference_flops=serve, qat_fraction=qat_fraction(n, d, bits), binding=binding,
                  elasticity=sol.elasticity, status=sol.status, backend=sol.backend, term_rounds=rounds)


def _score(problem: PlanningProblem, c: Choice) -> float:
    """Lower is better: the objective in budget mode (pass@k negated), lifetime cost for a target."""
    if problem.objective == "min_compute":
        return c.lifetime_flops
    return -c.objective_value if problem.quality == "pass@k" else c.objective_value


def search(problem: PlanningProblem, *, seed: int = 0, warm: Search | None = None) -> Search:
    """Best (bits, k): every pair when there are at most 64, else optuna's TPE (seeded).

    Candidates are ordered fewer samples first, then more bits, so among choices within
    1e-4 (relative) of the best objective the one cheapest to serve wins. ``warm`` (a search
    of a nearby problem) starts each choice at its N there.
    """
    from solvers.discrete import bayesian, exhaustive

    grid = [(b, k) for k in sorted(problem.sample_choices) for b in sorted(problem.bits_choices, reverse=True)]
    cands = {"bits": np.array([b for b, _ in grid]), "samples": np.array([k for _, k in grid])}
    solved: dict[int, Choice | None] = {}
    infeasible: list[tuple[int, int, str]] = []
    first_exc: list[Any] = []

    def one(i: int) -> float:
        if i not in solved:
            # Start the serving monomials at this choice's N in a nearby problem, else at the N of
            # the last choice solved (neighbours on the grid differ by one bit width or sample
            # count): fewer re-matches, the same answer within the re-matching tolerance.
            near = starts.get(grid[i]) or (last[0] if last else None)
            try:
                solved[i] = solve_choice(problem, *grid[i], n_start=near)
                last[:] = [solved[i].params]
            except _Infeasible as exc:
                solved[i] = None
                infeasible.append((*grid[i], exc.reason))
                if exc.exc is not None and not first_exc:
                    first_exc.append(exc.exc)
        c = solved[i]
        return math.inf if c is None else _score(problem, c)

    index = {k: i for i, k in enumerate(grid)}
    last: list[float] = []
    starts = {(c.bits, c.samples): c.params for c in warm.choices} if warm is not None else {}

    def score(c: dict[str, np.ndarray]) -> np.ndarray:
        return np.array([one(index[(int(b), int(k))]) for b, k in zip(c["bits"], c["samples"], strict=True)])

    def feasible(c: dict[str, np.ndarray]) -> np.ndarray:
        return np.ones(len(c["bits"]), dtype=bool)

    if len(grid) <= 64:
        found = exhaustive(cands, feasible, score)
    elif warm is not None and warm.choices:
        # A nearby problem (the next fixed-point round) keeps its predecessor's ranking: re-solve
        # the _REFINE best choices it found, and every power-of-two k, instead of searching afresh.
        keep = sorted(warm.choices, key=lambda c: _score(problem, c))[:_REFINE]
        pow2 = [i for i, (_, k) in enumerate(grid) if k & (k - 1) == 0]
        pick = np.array(sorted({index[(c.bits, c.samples)] for c in keep} | set(pow2)))
        sub = exhaustive({k: v[pick] for k, v in cands.items()}, feasible, score)
        found = replace(sub, order=pick[sub.order], space_size=len(grid), method="refined")
    else:
        found = bayesian(cands, feasible, score, n_trials=min(len(grid), 200), seed=seed, warm_starts=[0])
    choices = [solved[i] for i in sorted(solved) if solved[i] is not None]
    if not choices:
        raise _no_choice(infeasible, first_exc)
    best_score = float(found.scores[0])
    tol = _TIE_RTOL * max(abs(best_score), 1e-12)
    best_i = min(int(i) for i, s in zip(found.order, found.scores, strict=True) if s <= best_score + tol)
    method = {"exhaustive": "exhaustive", "refined": f"bayesian (optuna TPE); later rounds re-solve its {_REFINE} best and every power-of-two k"}.get(
        found.method, "bayesian (optuna TPE)")
    return Search(best=solved[best_i], choices=tuple(choices), method=method, infeasible=tuple(infeasible))


def _no_choice(infeasible: list[tuple[int, int, str]], first_exc: list[Any]) -> Exception:
    if first_exc:
        return first_exc[0]  # the solver's own infeasibility: the caller explains it
    reasons = "; ".join(sorted({r for _, _, r in infeasible}))
    return InfeasiblePlanError(
        f"no serving choice is feasible ({reasons})",
        "raise --latency or --serve-memory, or shorten queries (--prompt-tokens, --gen-tokens) or the batch (--serve-batch)",
    )


def explain_infeasible(exc: Any, gpus: int | None, days: float | None, flops_per_gpu_day: float) -> InfeasiblePlanError:
    """The solver's infeasibility in the user's words, with what would relieve it."""
    d = exc.detail
    if exc.constraint == "support":
        served = d["serving_flops"] > 0
        return InfeasiblePlanError(
            f"the law's support binds: the smallest model it holds on ({d['min_params']:.3g} params) already costs "
            f"{fmt_flops(d['cheapest_flops'])}" + (f" with its serving ({fmt_flops(d['serving_flops'])})" if served else
                                                   " to train at the law's fewest tokens per parameter")
            + f", above the {fmt_flops(d['budget_flops'])} budget",
            f"raise the budget above {fmt_flops(d['cheapest_flops'])}"
            + (f", lower --infer-tokens (serving alone costs {fmt_flops(d['serving_flops'])} at that size)" if served else "")
            + ", or pass --extrapolate to plan below the law's fitted range",
        )
    if exc.constraint == "irreducible_loss":
        return InfeasiblePlanError(f"target loss {d['target_loss']:g} is at or below the law's irreducible loss E = {d['E']:.4g}",
                                   "choose a target above E")
    if exc.constraint == "bounds":
        relief = [f"raise --target-loss above {d['floor_loss']:.4g}"]
        if "tokens_needed" in d:
            relief.append(f"raise --max-tokens to at least {d['tokens_needed']:.3g}")
        if "params_needed" in d:
            relief.append(f"raise --max-params to at least {d['params_needed']:.3g}")
        return InfeasiblePlanError(f"--max-params/--max-tokens cap the reachable loss at {d['floor_loss']:.4g}, "
                                   f"above the target {d['target_loss']:g}", " or ".join(relief))
    needed = d["train_flops_needed"]
    return InfeasiblePlanError(
        f"the deadline binds: reaching the target needs at least {fmt_flops(needed)} training "
        f"FLOPs, {gpus} GPUs deliver {fmt_flops(d['max_train_flops'])} in {days:g} day(s)",
        f"allow at least {needed / (gpus * flops_per_gpu_day):.3g} days, or at least "
        f"{math.ceil(needed / (days * flops_per_gpu_day))} GPUs, or a higher --target-loss",
    )
