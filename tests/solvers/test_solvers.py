"""The convex backend held against oracles: the closed form and a scipy 1-D search."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.laws.catalog import presets
from solvers import AllocationProblem, LawCoefficients, solve_convex, solve_scalar
from solvers.closed_form import (
    chinchilla_sized_for_lifetime_budget,
    optimal_allocation,
    solve_closed_form,
    train_flops_for_loss,
)
from solvers.problem import InfeasibleProblem

LAWS = {name: LawCoefficients.of(law) for name, law in presets().items()}
BUDGETS = [1e19, 1e21, 1e23, 1e25, 1e27]


@pytest.mark.parametrize("name", [n for n, c in LAWS.items() if c.alpha != c.beta])
@pytest.mark.parametrize("budget", BUDGETS)
def test_training_only_matches_closed_form(name, budget):
    law = LAWS[name]
    problem = AllocationProblem(law=law, objective="min_loss", budget_flops=budget)
    got, want = solve_convex(problem), solve_closed_form(problem)
    assert got.params == pytest.approx(want.params, rel=1e-3)
    assert got.tokens == pytest.approx(want.tokens, rel=1e-3)
    assert got.loss == pytest.approx(want.loss, rel=1e-6)
    assert got.elasticity == pytest.approx(want.elasticity, rel=1e-3)


@pytest.mark.parametrize("name", sorted(LAWS))
def test_equal_exponents_also_match(name):
    law = LAWS[name]
    problem = AllocationProblem(law=law, objective="min_loss", budget_flops=3e22)
    got, want = solve_convex(problem), solve_closed_form(problem)
    assert got.params == pytest.approx(want.params, rel=1e-3)
    assert got.loss == pytest.approx(want.loss, rel=1e-6)


@pytest.mark.parametrize("name", sorted(LAWS))
@pytest.mark.parametrize("d_inf", [1e10, 1e12, 1e14])
def test_with_inference_matches_scalar_search(name, d_inf):
    law = LAWS[name]
    problem = AllocationProblem(law=law, objective="min_loss", budget_flops=1e23, inference_tokens=d_inf)
    got, want = solve_convex(problem), solve_scalar(problem)
    assert got.params == pytest.approx(want.params, rel=1e-3)
    assert got.tokens == pytest.approx(want.tokens, rel=1e-3)
    assert got.loss == pytest.approx(want.loss, rel=1e-7)
    assert got.total_flops == pytest.approx(1e23, rel=1e-6)


@pytest.mark.parametrize("name", sorted(LAWS))
@pytest.mark.parametrize("d_inf", [0.0, 1e11, 1e13])
def test_target_loss_matches_scalar_search(name, d_inf):
    law = LAWS[name]
    target = optimal_allocation_loss = law.loss(*optimal_allocation(law, 1e22))
    problem = AllocationProblem(law=law, objective="min_compute", target_loss=target, inference_tokens=d_inf)
    got, want = solve_convex(problem), solve_scalar(problem)
    assert got.params == pytest.approx(want.params, rel=1e-3)
    assert got.total_flops == pytest.approx(want.total_flops, rel=1e-6)
    assert got.loss == pytest.approx(optimal_allocation_loss, rel=1e-6)
    if d_inf == 0:
        assert got.train_flops == pytest.approx(1e22, rel=1e-5)


def test_train_flops_for_loss_inverts_the_frontier():
    law = LAWS["hoffmann2022"]
    for c in (1e20, 1e23, 1e26):
        assert train_flops_for_loss(law, law.loss(*optimal_allocation(law, c))) == pytest.approx(c, rel=1e-9)


@pytest.mark.parametrize("objective", ["min_loss", "min_compute"])
def test_elasticity_matches_finite_difference(objective):
    law = LAWS["besiroglu2024"]
    d_inf = 1e12
    h = 1e-4  # central differences in log space
    if objective == "min_loss":

        def solve(scale):
            return solve_convex(AllocationProblem(law=law, objective="min_loss", budget_flops=1e23 * scale, inference_tokens=d_inf))

        s0, up, down = solve(1.0), solve(math.exp(h)), solve(math.exp(-h))
        fd = (math.log(up.loss) - math.log(down.loss)) / (2 * h)
    else:

        def solve(scale):
            return solve_convex(AllocationProblem(law=law, objective="min_compute", target_loss=2.1 * scale, inference_tokens=d_inf))

        s0, up, down = solve(1.0), solve(math.exp(h)), solve(math.exp(-h))
        fd = (2 * h) / (math.log(up.total_flops) - math.log(down.total_flops))
    assert s0.elasticity == pytest.approx(fd, rel=2e-3)
    assert s0.elasticity < 0


def test_max_params_binds_and_is_respected():
    law = LAWS["besiroglu2024"]
    free = solve_convex(AllocationProblem(law=law, objective="min_loss", budget_flops=1e24))
    cap = free.params / 4
    s = solve_convex(AllocationProblem(law=law, objective="min_loss", budget_flops=1e24, max_params=cap))
    assert s.params == pytest.approx(cap, rel=1e-5)
    assert "max_params" in s.binding
    assert s.loss > free.loss
    # With N fixed at the cap, the rest of the budget goes to tokens.
    assert s.tokens == pytest.approx(1e24 / (6 * cap), rel=1e-5)


def test_max_tokens_binds():
    law = LAWS["besiroglu2024"]
    s = solve_convex(AllocationProblem(law=law, objective="min_loss", budget_flops=1e24, max_tokens=1e12))
    assert s.tokens == pytest.approx(1e12, rel=1e-5)
    assert set(s.binding) >= {"max_tokens", "lifetime_budget"}


def test_training_cap_binds_under_lifetime_budget():
    law = LAWS["besiroglu2024"]
    s = solve_convex(AllocationProblem(law=law, objective="min_loss", budget_flops=1e24, inference_tokens=1e12, max_train_flops=1e23))
    assert s.train_flops == pytest.approx(1e23, rel=1e-5)
    assert "max_train_flops" in s.binding


@pytest.mark.parametrize(
    "kwargs, constraint",
    [
        (dict(target_loss=1.5), "irreducible_loss"),
        (dict(target_loss=2.0, max_params=1e9, max_tokens=1e11), "bounds"),
        (dict(target_loss=2.0, max_train_flops=1e20), "max_train_flops"),
    ],
)
def test_infeasible_problems_name_the_binding_constraint(kwargs, constraint):
    law = LAWS["besiroglu2024"]
    with pytest.raises(InfeasibleProblem) as info:
        solve_convex(AllocationProblem(law=law, objective="min_compute", **kwargs))
    assert info.value.constraint == constraint


def test_bounds_diagnosis_gives_the_relief():
    law = LAWS["besiroglu2024"]
    with pytest.raises(InfeasibleProblem) as info:
        solve_convex(AllocationProblem(law=law, objective="min_compute", target_loss=2.0, max_params=1e11, max_tokens=1e11))
    need = info.value.detail["tokens_needed"]
    # At exactly (max_params, tokens_needed) the target is reached.
    assert law.loss(1e11, need) == pytest.approx(2.0, rel=1e-9)
    ok = solve_convex(AllocationProblem(law=law, objective="min_compute", target_loss=2.0, max_params=1e11, max_tokens=need * 1.01))
    assert ok.loss <= 2.0 * (1 + 1e-7)


def test_chinchilla_sized_baseline_fills_the_budget():
    law = LAWS["sardana2024"]
    n, d = chinchilla_sized_for_lifetime_budget(law, 1e23, 1e12)
    assert 6 * n * d + 2 * n * 1e12 == pytest.approx(1e23, rel=1e-9)
    n0, d0 = optimal_allocation(law, 6 * n * d)
    assert (n, d) == pytest.approx((n0, d0), rel=1e-9)


def test_problem_shapes_are_compiled_once():
    from solvers.convex import cache_info

    law = LAWS["besiroglu2024"]
    solve_convex(AllocationProblem(law=law, objective="min_loss", budget_flops=1e22, inference_tokens=5e11))
    before = cache_info()
    for c in (1e21, 1e22, 1e23):
        solve_convex(AllocationProblem(law=LAWS["hoffmann2022"], objective="min_loss", budget_flops=c, inference_tokens=1e12))
    after = cache_info()
    assert after.misses == before.misses  # same shape, other law and budget: no rebuild


# ------------------------------------------------------------------ properties

budgets = st.floats(min_value=1e19, max_value=1e27)
# Served tokens: none, or a realistic 1e6..1e15 (sub-token demands are not a planning input).
tokens = st.one_of(st.just(0.0), st.floats(min_value=1e6, max_value=1e15))
law_names = st.sampled_from(sorted(LAWS))
# Solver accuracy on N is ~1e-5..1e-4 on these flat objectives (laws.md: compare at ~1e-3).
PROPS = settings(max_examples=40, deadline=None, derandomize=True)


@PROPS
@given(name=law_names, c1=budgets, c2=budgets, d_inf=tokens)
def test_more_budget_never_raises_loss(name, c1, c2, d_inf):
    lo, hi = sorted((c1, c2))
    law = LAWS[name]
    a = solve_convex(AllocationProblem(law=law, objective="min_loss", budget_flops=lo, inference_tokens=d_inf))
    b = solve_convex(AllocationProblem(law=law, objective="min_loss", budget_flops=hi, inference_tokens=d_inf))
    assert b.loss <= a.loss * (1 + 1e-9)


@PROPS
@given(name=law_names, c=budgets, i1=tokens, i2=tokens)
def test_more_inference_never_makes_the_model_larger_at_fixed_budget(name, c, i1, i2):
    lo, hi = sorted((i1, i2))
    law = LAWS[name]
    a = solve_convex(AllocationProblem(law=law, objective="min_loss", budget_flops=c, inference_tokens=lo))
    b = solve_convex(AllocationProblem(law=law, objective="min_loss", budget_flops=c, inference_tokens=hi))
    assert b.params <= a.params * (1 + 1e-3)


@PROPS
@given(name=law_names, c=st.floats(min_value=1e19, max_value=1e26), i1=tokens, i2=tokens)
def test_more_inference_at_fixed_target_smaller_model_longer_training(name, c, i1, i2):
    lo, hi = sorted((i1, i2))
    law = LAWS[name]
    target = law.loss(*optimal_allocation(law, c))
    a = solve_convex(AllocationProblem(law=law, objective="min_compute", target_loss=target, inference_tokens=lo))
    b = solve_convex(AllocationProblem(law=law, objective="min_compute", target_loss=target, inference_tokens=hi))
    assert b.params <= a.params * (1 + 1e-3)
    assert b.tokens >= a.tokens * (1 - 1e-3)
