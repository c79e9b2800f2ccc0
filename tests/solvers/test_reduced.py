"""The 1-D reduction (the planner's fast path) held against the cvxpy GP, the closed form,
finite differences and its own certificate."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import solvers.reduced
from planner.laws.catalog import presets
from solvers import AllocationProblem, LawCoefficients, solve_convex
from solvers.closed_form import solve_closed_form
from solvers.kkt import multipliers_small, nnls_multipliers
from solvers.problem import InfeasibleProblem, SolveFailed
from solvers.reduced import _bracket, solve_reduced

LAWS = {name: LawCoefficients.of(law) for name, law in presets().items()}
HOFFMANN = LAWS["hoffmann2022"]


def _objective(problem: AllocationProblem, sol) -> float:
    return sol.loss if problem.objective == "min_loss" else sol.total_flops


def _slacks(problem: AllocationProblem, sol) -> dict[str, float]:
    """Each constraint's relative violation at the solution (<= 0 where it holds, 0 where active)."""
    n, d, law = sol.params, sol.tokens, problem.law
    out = {}
    if problem.objective == "min_loss":
        out["lifetime_budget"] = sol.total_flops / problem.budget_flops - 1
    else:
        out["target_loss"] = (law.loss(n, d) - law.E) / (problem.target_loss - law.E) - 1
    for name, value, cap in (("max_params", n, problem.max_params), ("max_tokens", d, problem.max_tokens),
                             ("max_train_flops", 6 * n * d, problem.max_train_flops),
                             ("max_tokens_per_param", d / n, problem.max_tokens_per_param)):
        if cap is not None:
            out[name] = value / cap - 1
    for name, value, floor in (("min_params", n, problem.min_params), ("min_tokens_per_param", d / n, problem.min_tokens_per_param)):
        if floor is not None:
            out[name] = 1 - value / floor
    return out


def _violation(problem: AllocationProblem, sol) -> float:
    return max(_slacks(problem, sol).values())


def _opt(draw, strategy, p: float):
    return draw(strategy) if draw(st.floats(0, 1)) < p else None


@st.composite
def problems(draw) -> AllocationProblem:
    """Random allocation problems of every shape the planner builds, feasible or not."""
    law = LAWS[draw(st.sampled_from(sorted(LAWS)))]
    objective = draw(st.sampled_from(["min_loss", "min_compute"]))
    kwargs: dict = {"law": law, "objective": objective}
    if objective == "min_loss":
        kwargs["budget_flops"] = 10 ** draw(st.floats(19, 26))
    else:
        kwargs["target_loss"] = law.E + draw(st.floats(0.1, 1.5))
    if draw(st.booleans()):
        kwargs["inference_tokens"] = 10 ** draw(st.floats(9, 14))
    terms = draw(st.lists(st.tuples(st.floats(5, 12), st.sampled_from([1 / 3, 2 / 3, 1.0])), max_size=3))
    kwargs["serving_terms"] = tuple((10**c, e) for c, e in terms)
    kwargs["max_params"] = _opt(draw, st.floats(8, 12).map(lambda v: 10**v), 0.3)
    kwargs["max_tokens"] = _opt(draw, st.floats(10, 13).map(lambda v: 10**v), 0.3)
    kwargs["max_train_flops"] = _opt(draw, st.floats(19, 25).map(lambda v: 10**v), 0.3)
    kwargs["min_params"] = _opt(draw, st.floats(6, 10).map(lambda v: 10**v), 0.3)
    kwargs["min_tokens_per_param"] = _opt(draw, st.floats(1, 30), 0.3)
    kwargs["max_tokens_per_param"] = _opt(draw, st.floats(30, 700), 0.3)
    problem = AllocationProblem(**kwargs)
    if objective == "min_loss" and draw(st.integers(0, 9)) == 0:  # a training cap equal to the budget
        problem = replace(problem, max_train_flops=problem.budget_flops)
    return problem


def _degenerate(p: AllocationProblem, sol) -> bool:
    """Where the multipliers are not unique, neither is the binding set: more than two
    constraints active in two variables (a corner of the box on a ratio bound), or two that
    coincide (a training cap equal to the budget, N or D/N pinned by equal bounds)."""
    def same(a: float | None, b: float | None) -> bool:
        return a is not None and b is not None and abs(math.log(a / b)) < 1e-6

    active = sum(abs(v) < 1e-8 for v in _slacks(p, sol).values())
    return active > 2 or same(p.max_train_flops, p.budget_flops) or same(p.max_params, p.min_params) or same(
        p.max_tokens_per_param, p.min_tokens_per_param)


def _solve(solver, problem):
    try:
        return solver(problem)
    except InfeasibleProblem as exc:
        return exc.constraint
    except SolveFailed:  # e.g. min_params above max_params: the GP cannot say more either
        return "solve_failed"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_agrees_with_the_gp(problem):
    """Same verdict, an objective at least as good (to 1e-7) and feasible, the same binding
    constraints and elasticity, on problems of every shape."""
    gp, fast = _solve(solve_convex, problem), _solve(solve_reduced, problem)
    if isinstance(gp, str) or isinstance(fast, str):
        assert fast == gp
        return
    assert _violation(problem, fast) <= 1e-9
    # The GP may stop a hair outside the feasible set ("optimal_inaccurate"), which buys it an
    # objective better by about the violation over the elasticity (at most ~100x).
    assert _objective(problem, fast) <= _objective(problem, gp) * (1 + 1e-7 + 100 * max(0.0, _violation(problem, gp)))
    assert _objective(problem, fast) == pytest.approx(_objective(problem, gp), rel=1e-5)
    if _degenerate(problem, gp):
        assert set(fast.binding) <= set(gp.binding)  # the GP's interior point names every tied constraint
        return
    # A constraint a hair from active (a kink of the reduced objective within 1e-3) can carry a
    # dual just over the threshold in the GP's interior point and none in the exact solution.
    slack = _slacks(problem, fast)
    assert all(abs(slack[name]) < 1e-3 for name in set(fast.binding) ^ set(gp.binding))
    if gp.elasticity is None:
        assert fast.elasticity is None
    else:
        assert fast.elasticity == pytest.approx(gp.elasticity, rel=1e-3, abs=1e-6)


@pytest.mark.parametrize("name", [n for n, c in LAWS.items() if c.alpha != c.beta])
@pytest.mark.parametrize("budget", [1e19, 1e23, 1e27])
def test_training_only_matches_the_closed_form_tightly(name, budget):
    problem = AllocationProblem(law=LAWS[name], objective="min_loss", budget_flops=budget)
    got, want = solve_reduced(problem), solve_closed_form(problem)
    assert got.params == pytest.approx(want.params, rel=1e-9)  # the GP manages 1e-3 here
    assert got.tokens == pytest.approx(want.tokens, rel=1e-9)
    assert got.elasticity == pytest.approx(want.elasticity, rel=1e-9)
    assert got.binding == ("lifetime_budget",) and got.backend.startswith("reduced")


@pytest.mark.parametrize("kwargs", [
    {"inference_tokens": 1e12, "serving_terms": ((3e9, 2 / 3),)},
    {"inference_tokens": 1e12, "max_train_flops": 3e22},  # the budget slack: elasticity 0
    {"inference_tokens": 1e13, "min_params": 1e8, "min_tokens_per_param": 20.0, "max_tokens_per_param": 40.0},
])
def test_elasticity_is_the_budgets_finite_difference(kwargs):
    def loss(c):
        return solve_reduced(AllocationProblem(law=HOFFMANN, objective="min_loss", budget_flops=c, **kwargs)).loss

    c, h = 1e23, 1e-5
    fd = (math.log(loss(c * math.exp(h))) - math.log(loss(c * math.exp(-h)))) / (2 * h)
    got = solve_reduced(AllocationProblem(law=HOFFMANN, objective="min_loss", budget_flops=c, **kwargs)).elasticity
    assert got == pytest.approx(fd, rel=1e-4, abs=1e-9)


def test_a_failed_certificate_hands_the_problem_to_the_gp(monkeypatch):
    monkeypatch.setattr(solvers.reduced, "multipliers", lambda grad_f, active: ([0.0] * len(active), 1.0))
    sol = solve_reduced(AllocationProblem(law=HOFFMANN, objective="min_loss", budget_flops=1e23))
    assert sol.backend.startswith("cvxpy")


def test_an_unaffordable_support_is_named_without_the_gp(monkeypatch):
    monkeypatch.setattr(solvers.reduced, "_fallback", lambda p: pytest.fail("the GP was asked"))
    problem = AllocationProblem(law=HOFFMANN, objective="min_loss", budget_flops=1e18, inference_tokens=1e12,
                                min_params=1e9, min_tokens_per_param=20.0)
    with pytest.raises(InfeasibleProblem) as info:
        solve_reduced(problem)
    assert info.value.constraint == "support"
    assert info.value.detail["cheapest_flops"] == pytest.approx(6 * 1e9 * 2e10 + 2 * 1e9 * 1e12)


def test_feasible_problems_never_import_cvxpy():
    code = ("import sys; from solvers import AllocationProblem, LawCoefficients; from solvers.reduced import solve_reduced;"
            "law = LawCoefficients(1.69, 406.4, 410.7, 0.34, 0.28);"
            "solve_reduced(AllocationProblem(law=law, objective='min_loss', budget_flops=1e23, inference_tokens=1e12,"
            " max_params=1e10, min_tokens_per_param=20.0));"
            "solve_reduced(AllocationProblem(law=law, objective='min_compute', target_loss=2.2, max_tokens=1e12));"
            "print('cvxpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


_grad = st.tuples(st.floats(-3, 3), st.floats(-3, 3))


@settings(max_examples=300, deadline=None)
@given(grad_f=_grad, active=st.lists(_grad, min_size=1, max_size=2))
def test_closed_form_multipliers_match_nnls(grad_f, active):
    lam, residual = multipliers_small(grad_f, active)
    ref, ref_residual = nnls_multipliers(grad_f, active)
    assert min(lam) >= 0
    assert residual == pytest.approx(ref_residual, abs=1e-9)
    # Where the constraints' gradients are far from parallel the minimiser is unique.
    if len(active) == 1 or abs(active[0][0] * active[1][1] - active[0][1] * active[1][0]) > 1e-3:
        assert lam == pytest.approx(ref, abs=1e-7)


@given(root=st.floats(-50, 50), x0=st.floats(-60, 60))
def test_bracket_holds_the_root_of_an_increasing_function(root, x0):
    a, b = _bracket(lambda x: x - root, -60.0, 60.0, x0)
    assert a <= root <= b
    assert b - a <= max(2.0 * abs(x0 - root), 0.5) + 1e-9
