"""The plan's training dynamics: the WSD decay share from a curve law (and the recipe's own loss
curve), and what a measured optimizer is worth at the plan's N and D. One solution: the
recipe, its export and the report all carry the same decay."""

from __future__ import annotations

import json

import pytest

import planner
from planner.errors import PlannerInputError
from planner.laws.curve_catalog import get_curve_law
from planner.laws.decay import best_decay_share
from planner.laws.optimizers import optimizer_speedup
from planner.planning.records import Plan


@pytest.fixture(scope="module")
def with_both():
    return planner.plan(budget_flops=1e22, gpu="h100", gpus=64, curve_law="mpl-100m", optimizer="muon")


def test_decay_share_comes_from_the_curve_law_and_reaches_the_export(with_both):
    rc = with_both.recipe
    share, _ = best_decay_share(get_curve_law("mpl-100m"), rc.steps, warmup=rc.warmup_steps, shape=rc.decay_shape,
                                final=rc.min_learning_rate / rc.learning_rate)
    assert rc.decay_steps == round(share * rc.steps)
    assert rc.warmup_steps + rc.stable_steps + rc.decay_steps == rc.steps
    assert any("curve law mpl-100m" in n for n in rc.notes) and not any("MiniCPM's WSD" in n for n in rc.notes)
    args = with_both.export("megatron").to_text()
    assert f"--lr-wsd-decay-iters {rc.decay_steps}" in args
    curve = with_both.dynamics["curve"]
    assert curve["decay_share"] == pytest.approx(share) and curve["step"][-1] == rc.steps
    assert curve["loss"] == sorted(curve["loss"], reverse=True)  # WSD with a decay: the loss only falls


def test_optimizer_worth_is_read_at_the_plans_allocation(with_both):
    r, o = with_both.result, with_both.dynamics["optimizer"]
    s = optimizer_speedup("muon", r.params, r.train_tokens)
    assert o["speedup"] == pytest.approx(s.speedup) and o["inside_measured"] is False  # a 1e22 plan is far above 520M
    assert o["loss_adamw"] == pytest.approx(r.loss)
    assert o["loss_with_optimizer"] == pytest.approx(with_both.law.loss(r.params, r.train_tokens * s.speedup))
    assert o["loss_with_optimizer"] < o["loss_adamw"]
    assert o["train_flops_saved_fraction"] == pytest.approx(1 - 1 / s.speedup)


def test_dynamics_round_trip_through_json_and_render(with_both):
    back = Plan.from_json(with_both.to_json())
    assert back.dynamics == json.loads(with_both.to_json())["dynamics"]
    from rich.console import Console

    console = Console(width=120, color_system=None, record=True)
    console.print(with_both)
    text = console.export_text()
    assert "Optimizer: muon vs AdamW" in text and "loss curve of this recipe under mpl-100m" in text


def test_the_plan_picture_draws_the_recipes_curve(with_both):
    from planner.report.plots import plan_figure

    fig, drawn = plan_figure(with_both.to_dict())
    assert drawn["recipe_curve"]["loss"] == with_both.dynamics["curve"]["loss"]
    assert len(fig.axes) == 3


def test_without_either_the_recipe_keeps_minicpms_share():
    p = planner.plan(budget_flops=1e22, gpu="h100", choose_layout=False)
    assert p.dynamics is None
    assert p.recipe.decay_steps == round(0.10 * p.recipe.steps)


def test_unknown_names_are_refused_before_any_solve(monkeypatch):
    import planner.planning.pipeline as pipeline

    def no_solve(*args, **kwargs):
        raise AssertionError("solved before the names were checked")

    monkeypatch.setattr(pipeline, "search", no_solve)
    with pytest.raises(PlannerInputError, match="unknown optimizer"):
        planner.plan(budget_flops=1e22, gpu="h100", optimizer="lion")
    with pytest.raises(PlannerInputError, match="unknown curve law"):
        planner.plan(budget_flops=1e22, gpu="h100", curve_law="nope")


def test_optimizer_gain_under_qat_moves_only_the_data_term():
    p = planner.plan(budget_flops=1e22, gpu="h100", bits=4, optimizer="soap", choose_layout=False)
    r, o = p.result, p.dynamics["optimizer"]
    assert o["loss_adamw"] == pytest.approx(r.loss)  # the plan's own (QAT) loss
    gain = p.law.loss(r.params, r.train_tokens) - p.law.loss(r.params, r.train_tokens * o["speedup"])
    assert o["loss_adamw"] - o["loss_with_optimizer"] == pytest.approx(gain, rel=1e-9)
