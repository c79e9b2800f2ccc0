"""Joint planning of training and serving: model size, tokens, QAT bits and share, samples.

For every discrete choice (serving bit width, samples per query k) the continuous part is
a geometric program: minimise ``L(rho N, D)`` (``rho`` = Kumar et al.'s precision factor)
subject to ``6 N D + Q e(N) <= C``, where Q is the number of queries and ``e(N)`` the
roofline-priced eFLOPs of one query (:func:`planner.serving.kinetics_eflops`) written as
``c1 N + c2 N^(2/3) + c3 N^(1/3)``: weights and matmuls scale with N, attention with
layers x width (N^(2/3) under the shape rule), KV traffic with layers x KV width
(N^(1/3)). The coefficients are taken from the exact shape at the current N and the GP is
re-solved once at the new N. Loss, error and pass@k all fall as L falls, so for a fixed
choice the GP optimum is the objective's optimum; the outer search compares choices --
exhaustively when there are few, with optuna's TPE when there are many.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any


from planner.errors import InfeasiblePlanError, PlannerInputError
from planner.hardware.registry import Accelerator
from planner.laws.catalog import DownstreamMap
from planner.serving.qat import precision_factor, qat_fraction
from planner.serving.sampling import TaskProfile
from planner.serving.cost import ServingSpec, kv_bytes_per_token, serving_cost
from planner.systems.shape import shape_for_params

__all__ = ["JointChoice", "JointResult", "serving_terms", "joint_optimise", "OBJECTIVES"]

OBJECTIVES = ("loss", "error", "pass@k")


@dataclass(frozen=True)
class JointChoice:
    bits: int
    samples: int
    params: float
    tokens: float
    loss: float
    objective_value: float
    qat_fraction: float
    solution: Any  # solvers.problem.AllocationSolution


@dataclass(frozen=True)
class JointResult:
    best: JointChoice
    choices: tuple[JointChoice, ...]
    method: str
    infeasible: tuple[tuple[int, int, str], ...]
    summary: str


def serving_terms(params: float, accel: Accelerator, spec: ServingSpec, queries: float) -> tuple[tuple[float, float], ...]:
    """Lifetime serving eFLOPs as monomials in N, matched to the exact shape at ``params``."""
    shape = shape_for_params(params, seq=spec.prompt_tokens + spec.gen_tokens)
    k, lin, lout = spec.samples, spec.prompt_tokens, spec.gen_tokens
    intensity = accel.arithmetic_intensity_flop_per_byte
    linear = 2 * lin + 2 * k * lout + intensity * spec.weight_bits / 8 / spec.batch * k * lout
    attn = 2.0 * shape.layers * shape.heads * shape.d_head  # r * D_kv
    attn_total = attn * (2 * k * lin * lout + k * lout**2 + lin * lin)
    d_kv = 2.0 * shape.layers * shape.kv_heads * shape.d_head
    mem_total = intensity * d_kv * spec.kv_bits / 8 * (2 * lin * lout + k * lout**2)
    n = float(shape.params)
    return (
        (queries * linear, 1.0),
        (queries * attn_total / n ** (2 / 3), 2 / 3),
        (queries * mem_total / n ** (1 / 3), 1 / 3),
    )


def _objective(objective: str, loss: float, dmap: DownstreamMap | None, task: TaskProfile | None, k: int) -> float:
    """Higher is better for error/pass@k reported as accuracy-like values; loss returned as is."""
    if objective == "loss":
        return loss
    if objective == "error":
        return float(dmap.error(loss))
    return float(task.pass_at_k(dmap.accuracy_above_chance(loss), [k])[0])


def _better(objective: str, a: JointChoice, b: JointChoice) -> bool:
    """Is ``a`` better than ``b``? Within 1e-4 (relative) on the objective, the choice that
    serves more cheaply wins: fewer samples, then fewer bits of QAT-free 16-bit serving."""
    va, vb = a.objective_value, b.objective_value
    if abs(va - vb) > 1e-4 * max(abs(vb), 1e-12):
        return va > vb if objective == "pass@k" else va < vb
    return (a.samples, -a.bits) < (b.samples, -b.bits)


def _max_params_for(limit: float, fn: Any) -> float | None:
    """Largest N (bisection in log N) with fn(N) <= limit; fn increases with N."""
    lo, hi = math.log(1e6), math.log(1e14)
    if fn(math.exp(lo)) > limit:
        return None
    if fn(math.exp(hi)) <= limit:
        return None  # no constraint in range
    for _ in range(60):
        mid = (lo + hi) / 2
        if fn(math.exp(mid)) <= limit:
            lo = mid
        else:
            hi = mid
    return math.exp(lo)


def joint_optimise(
    base_problem: Any,
    law: Any,
    *,
    objective: str,
    accel: Accelerator,
    spec: ServingSpec,
    queries: float,
    bits_choices: tuple[int, ...],
    sample_choices: tuple[int, ...],
    downstream: DownstreamMap | None,
    task: TaskProfile | None,
    latency_s: float | None = None,
    serve_memory_bytes: float | None = None,
    seed: int = 0,
) -> JointResult:
    """Best (bits, k, N, D) for ``objective`` within ``base_problem``'s lifetime budget."""
    from solvers.convex import solve_convex
    from solvers.problem import InfeasibleProblem, LawCoefficients

    if objective not in OBJECTIVES:
        raise PlannerInputError(f"unknown objective '{objective}'; choose loss, error or pass@k")
    if objective != "loss" and downstream is None:
        raise PlannerInputError(f"--objective {objective} needs a downstream-error map: use a gadre2024-* law or --downstream")
    if objective == "pass@k" and task is None:
        raise PlannerInputError("--objective pass@k needs a task profile (--task)")
    if base_problem.objective != "min_loss":
        raise PlannerInputError("joint serving plans need a budget (--budget, --gpu-hours, --dollars or --gpus/--days), not --target-loss")
    coeffs = LawCoefficients.of(law)
    infeasible: list[tuple[int, int, str]] = []

    def solve(bits: int, k: int) -> JointChoice | None:
        s = replace(spec, weight_bits=bits, samples=k)
        rho = precision_factor(bits, s.kv_bits)
        eff = replace(coeffs, A=coeffs.A * rho ** (-coeffs.alpha))  # L(rho N, D)
        cap = base_problem.max_params
        for limit, fn, what in (
            (latency_s, lambda n: serving_cost(shape_for_params(n, seq=s.prompt_tokens + s.gen_tokens), accel, s).latency_s, "latency"),
            (serve_memory_bytes, lambda n: n * bits / 8 + kv_bytes_per_token(shape_for_params(n), s.kv_bits) * (s.prompt_tokens + k * s.gen_tokens) * max(1.0, s.batch / k), "serving memory"),
        ):
            if limit is None:
                continue
            n_max = _max_params_for(limit, fn)
            if n_max is None and fn(1e6) > limit:
                infeasible.append((bits, k, f"{what} bound unreachable even at 1M parameters"))
                return None
            if n_max is not None:
                cap = n_max if cap is None else min(cap, n_max)
        n0 = base_problem.max_params or 1e9
        sol = None
        for _ in range(2):  # terms at the current N, then once more at the new N
            prob = replace(base_problem, law=eff, serving_terms=serving_terms(n0, accel, s, queries), max_params=cap, inference_tokens=0.0)
            try:
                sol = solve_convex(prob)
            except InfeasibleProblem as exc:
                infeasible.append((bits, k, exc.constraint))
                return None
            n0 = sol.params
        loss = coeffs.loss(rho * sol.params, sol.tokens)
        return JointChoice(bits=bits, samples=k, params=sol.params, tokens=sol.tokens, loss=loss,
                           objective_value=_objective(objective, loss, downstream, task, k),
                           qat_fraction=qat_fraction(sol.params, sol.tokens, bits), solution=replace(sol, loss=loss))

    grid = [(b, k) for b in bits_choices for k in sample_choices]
    if len(grid) <= 64:
        method = "exhaustive"
        choices = [c for c in (solve(b, k) for b, k in grid) if c is not None]
    else:
        import optuna

        method = "bayesian (optuna TPE)"
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize" if objective == "pass@k" else "minimize",
                                    sampler=optuna.samplers.TPESampler(seed=seed))
        seen: dict[tuple[int, int], JointChoice | None] = {}
        study.enqueue_trial({"bits": max(bits_choices), "samples": min(sample_choices)})

        def trial_fn(trial: Any) -> float:
            key = (trial.suggest_categorical("bits", list(bits_choices)), trial.suggest_categorical("samples", list(sample_choices)))
            if key not in seen:
                seen[key] = solve(*key)
            c = seen[key]
            if c is None:
                return -1.0 if objective == "pass@k" else float("inf")
            return c.objective_value

        study.optimize(trial_fn, n_trials=min(len(grid), 200))
        choices = [c for c in seen.values() if c is not None]
    if not choices:
        reasons = "; ".join(sorted({r for _, _, r in infeasible}))
        raise InfeasiblePlanError(
            f"no serving choice is feasible ({reasons})",
            "raise --latency or --serve-memory, or shorten queries (--prompt-tokens, --gen-tokens) or the batch (--serve-batch)",
        )
    best = choices[0]
    for c in choices[1:]:
        if _better(objective, c, best):
            best = c
    return JointResult(best=best, choices=tuple(choices), method=method, infeasible=tuple(infeasible),
                       summary=_summary(objective, best, choices))


def _fmt(objective: str, v: float) -> str:
    return f"{v:.4f}" if objective == "loss" else f"{v:.1%}"


def _summary(objective: str, best: JointChoice, choices: list[JointChoice]) -> str:
    """Which discrete choice mattered, in one sentence."""
    def size(n: float) -> str:
        return f"{n / 1e9:.3g}B"

    parts = []
    k1 = [c for c in choices if c.samples == 1 and c.bits == best.bits]
    if best.samples > 1 and k1:
        c = k1[0]
        gap = best.objective_value - c.objective_value
        unit = "points" if objective != "loss" else ""
        parts.append(f"k = {best.samples} on a {size(best.params)} model beats k = 1 on a {size(c.params)} by "
                     f"{abs(gap) * (100 if objective != 'loss' else 1):.3g} {unit} of {objective} for this budget".replace("  ", " "))
    b16 = [c for c in choices if c.bits == 16 and c.samples == best.samples]
    if best.bits < 16 and b16:
        c = b16[0]
        parts.append(f"serving at {best.bits} bits (QAT on {best.qat_fraction:.0%} of tokens) beats 16 bits: "
                     f"{_fmt(objective, best.objective_value)} vs {_fmt(objective, c.objective_value)}")
    if not parts:
        parts.append(f"k = {best.samples} at {best.bits} bits is best; more samples or fewer bits did not pay for themselves")
    return "; ".join(parts)
