"""The stages after the solve. Each reads the one solution (a :class:`Choice` of the one
declared problem) and the one MFU; none re-derives a number another stage owns."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from planner._frozen import FrozenDict
from planner.defaults import DEFAULT_BATCH_TOLERANCE
from planner.errors import InfeasiblePlanError, InternalError, PlannerInputError
from planner.hardware.registry import Accelerator
from planner.laws.catalog import ChinchillaLaw, DownstreamMap
from planner.laws.recipe import TrainingRecipe, law_optimum, training_recipe
from planner.planning.problem import (
    Choice,
    PlanningProblem,
    Search,
    _Infeasible,
    solve_choice,
)
from planner.planning.records import (
    Allocation,
    Baseline,
    ServingChoice,
    ServingSection,
    Uncertainty,
)
from planner.serving.cost import serving_cost
from planner.serving.joint import served_coefficients
from planner.systems.layout import BatchTarget, LayoutSearch
from planner.systems.shape import shape_for_params
from planner.units import gpu_hours, wall_clock_days

__all__ = ["account", "baseline", "choose_layout", "recipe_for", "serving_section", "training_dynamics", "uncertainty"]


def recipe_for(choice: Choice, *, rule: str, seq_len: int, warmup_fraction: float, params_include_embeddings: bool,
               layout: LayoutSearch | None = None) -> TrainingRecipe:
    """The recipe of the choice; on a layout, at the batch the layout rounded (said how and why)."""
    batch, note = None, None
    if layout is not None:
        lay, batch = layout.best.layout, layout.global_batch
        law_tokens = law_optimum(rule, choice.params, choice.tokens)[1]
        accum = batch // (lay.d * lay.b)
        note = (f"batch {batch:,} sequences of {seq_len} = DP {lay.d} x micro-batch {lay.b} x {accum} accumulation step(s) of "
                f"the chosen layout: {batch * seq_len / law_tokens:.2f}x the {rule} batch of {law_tokens:,.0f} tokens "
                f"(the multiple of DP x micro-batch the layout runs fastest per sequence, kept within "
                f"{DEFAULT_BATCH_TOLERANCE:g}x of the law)")
    return training_recipe(choice.params, choice.tokens, rule=rule, seq_len=seq_len, warmup_fraction=warmup_fraction,
                           params_include_embeddings=params_include_embeddings, batch_sequences=batch, batch_note=note)


def choose_layout(choice: Choice, accel: Accelerator, gpus: int, global_batch: BatchTarget | int, *, seq_len: int,
                  precision: str) -> tuple[LayoutSearch | None, str | None]:
    """The fastest layout for the Llama-3-shaped model of the choice near the recipe's batch (or why there is none)."""
    from planner.systems.layout import search_layouts

    try:
        return search_layouts(shape_for_params(choice.params, seq=seq_len), accel, gpus, global_batch, precision=precision), None
    except InfeasiblePlanError as exc:
        return None, exc.binding
    except PlannerInputError as exc:
        return None, str(exc)


def account(choice: Choice, problem: PlanningProblem, *, flops_per_gpu_s: float, price: float | None, gpus: int | None,
            goodput: float, maps: dict[str, DownstreamMap], serving: ServingSection, unc: Uncertainty | None) -> Allocation:
    """GPU-hours, cost and wall clock of the one solution at the one MFU."""
    train_gh = gpu_hours(choice.train_flops, flops_per_gpu_s)
    infer_gh = problem.lowering(choice.bits, choice.samples).gpu_hours(choice.params)
    total = train_gh + infer_gh
    if "lifetime_budget" in choice.binding and abs(choice.lifetime_flops / problem.budget_flops - 1) > 1e-6:
        raise InternalError(f"the plan spends {choice.lifetime_flops:.6g} of a {problem.budget_flops:.6g} budget")
    return Allocation(
        params=choice.params, train_tokens=choice.tokens, loss=choice.loss,
        downstream_error=FrozenDict({k: float(m.error(choice.loss)) for k, m in maps.items()}),
        train_flops=choice.train_flops, inference_flops=choice.inference_flops,
        gpu_hours=total, train_gpu_hours=train_gh, inference_gpu_hours=infer_gh,
        cost_usd=total * price if price is not None else None,
        wall_clock_days=wall_clock_days(train_gh, gpus, goodput) if gpus else None,
        elasticity=choice.elasticity, binding=choice.binding, status=choice.status, solver=choice.backend,
        objective=problem.quality, objective_value=choice.objective_value, samples_per_query=choice.samples,
        qat_bits=choice.bits, qat_fraction=choice.qat_fraction, serving=serving, uncertainty=unc,
    )


def _samples_reason(problem: PlanningProblem, found: Search) -> str:
    k = found.best.samples
    if len(problem.sample_choices) == 1:
        if problem.quality == "pass@k":
            return f"k = {k} as given"
        return f"k = {k}: the objective ({problem.quality}) does not reward more samples, and each costs serving compute"
    k1 = [c for c in found.choices if c.samples == 1 and c.bits == found.best.bits]
    if k == 1:
        return "k = 1: more samples did not pay for their serving cost at this budget"
    if k1:
        return (f"k = {k} on a {found.best.params / 1e9:.3g}B model beats k = 1 on a {k1[0].params / 1e9:.3g}B by "
                f"{(found.best.objective_value - k1[0].objective_value) * 100:.3g} points of pass@k" + _ten_times(problem, found))
    return f"k = {k} was the best of the samples searched" + _ten_times(problem, found)


def _ten_times(problem: PlanningProblem, found: Search) -> str:
    """The other way to spend the budget: a model ten times the size, one sample per query."""
    best = found.best
    if problem.quality != "pass@k" or problem.objective != "min_loss":
        return ""
    big = 10.0 * best.params
    sup = replace(problem.support, min_params=big)
    try:
        c = solve_choice(replace(problem, max_params=big, support=sup), best.bits, 1, n_start=big)
    except _Infeasible:
        return f"; a {big / 1e9:.3g}B model (10x) does not fit the budget inside the law's range"
    return (f"; a {big / 1e9:.3g}B model (10x) with k = 1 on the same budget trains on {c.tokens:.3g} tokens and reaches "
            f"{c.objective_value:.1%} pass@1, against {best.objective_value:.1%} here")


def _search_summary(problem: PlanningProblem, found: Search) -> str:
    best = found.best
    b16 = [c for c in found.choices if c.bits == 16 and c.samples == best.samples]
    if best.bits < 16 and b16:
        def fmt(v: float) -> str:
            return f"{v:.4f}" if problem.quality == "loss" else f"{v:.1%}"

        if problem.objective == "min_compute":
            return (f"serving at {best.bits} bits (QAT on {best.qat_fraction:.0%} of tokens) reaches the target with "
                    f"{1 - best.lifetime_flops / b16[0].lifetime_flops:.1%} less lifetime compute than 16 bits")
        return (f"serving at {best.bits} bits (QAT on {best.qat_fraction:.0%} of tokens) beats 16 bits: "
                f"{fmt(best.objective_value)} vs {fmt(b16[0].objective_value)}")
    if len(problem.bits_choices) > 1:
        return f"{best.bits}-bit weights: lower widths did not pay for their loss penalty under {problem.serving.cost_model} pricing"
    return f"{best.bits}-bit weights as given"


def serving_section(problem: PlanningProblem, found: Search, *, price: float | None, precision: str) -> ServingSection:
    """The serving section: the chosen bits and k, what one replica needs, what serving costs."""
    best = found.best
    low = problem.lowering(best.bits, best.samples)
    spec = low.spec
    rate = low.gpu_hours_per_million_tokens(best.params)
    cost = serving_cost(shape_for_params(best.params, seq=spec.seq), low.accel, spec, precision=precision)
    pass_k = None
    if problem.task is not None:
        pass_k = float(problem.task.pass_at_k(problem.task_loss(best.params, best.tokens, best.bits), [best.samples])[0])
    per_query_gh = low.gpu_hours_per_query(best.params)
    return ServingSection(
        pricing=low.cost_model, serve_gpu=low.accel.id, bits=best.bits, kv_bits=spec.kv_bits, qat_fraction=best.qat_fraction,
        samples_per_query=best.samples, samples_reason=_samples_reason(problem, found), prompt_tokens=spec.prompt_tokens,
        gen_tokens=spec.gen_tokens, batch=cost.batch, queries=low.queries, pass_at_k=pass_k,
        memory_per_replica_bytes=cost.memory_per_replica_bytes, gpus_per_replica=cost.gpus_per_replica,
        decode_tokens_per_s=cost.decode_tokens_per_s, decode_bound=cost.bound, latency_s=cost.latency_s,
        eflops_per_query=cost.eflops_per_query, gpu_hours_per_million_tokens=rate,
        usd_per_million_tokens=rate * price if price is not None else None,
        usd_per_query=per_query_gh * price if price is not None else None,
        inference_share=best.inference_flops / best.lifetime_flops if best.lifetime_flops else 0.0,
        cost_shares=FrozenDict(low.dominant_terms(best.params)), search_method=found.method,
        search_summary=_search_summary(problem, found),
        choices=tuple(ServingChoice(c.bits, c.samples, c.params, c.tokens, c.loss, c.objective_value, c.lifetime_flops)
                      for c in found.choices),
    )


def baseline(problem: PlanningProblem, choice: Choice) -> Baseline:
    """The Chinchilla-optimal model that ignores inference, priced by the same problem (same
    bits, samples and serving cost), for comparison."""
    from solvers.closed_form import (
        chinchilla_sized_for_lifetime_budget,
        optimal_allocation,
        train_flops_for_loss,
    )

    eff = served_coefficients(problem.coeffs, choice.bits, problem.serving.spec.kv_bits)
    serve = problem.lowering(choice.bits, choice.samples).cost
    if problem.objective == "min_loss":
        bn, bd = chinchilla_sized_for_lifetime_budget(eff, problem.budget_flops, inference_cost=serve)
        desc = "Chinchilla-optimal shape (inference ignored when sizing) within the same lifetime budget"
    else:
        bn, bd = optimal_allocation(eff, train_flops_for_loss(eff, problem.target_loss))
        desc = "Chinchilla-optimal model reaching the same loss, then serving the same tokens"
    if problem.max_params or problem.max_tokens or problem.max_train_flops:
        desc += " (bounds not applied to the baseline)"
    b_loss, b_train, b_inf = eff.loss(bn, bd), 6 * bn * bd, serve(bn)
    return Baseline(description=desc, params=bn, train_tokens=bd, loss=b_loss, train_flops=b_train, inference_flops=b_inf,
                    loss_delta=choice.loss - b_loss, savings_flops=b_train + b_inf - choice.lifetime_flops,
                    savings_fraction=1.0 - choice.lifetime_flops / (b_train + b_inf))


def uncertainty(law: ChinchillaLaw, maps: dict[str, DownstreamMap], problem: PlanningProblem, choice: Choice, *,
                level: float, max_draws: int) -> Uncertainty | None:
    """Under the law's bootstrap draws: the loss at the chosen (N, D, bits), and the optimum of
    the plan's own problem (same bits, k, serving cost) re-solved under each draw."""
    if not law.draws:
        return None
    from planner.laws.fitting import percentile_interval
    from planner.serving.qat import precision_factor

    def interval(values: Any) -> tuple[float, float]:
        return percentile_interval(values, level)

    rho = precision_factor(choice.bits, problem.serving.spec.kv_bits)
    losses = law.loss_draws(rho * choice.params, choice.tokens)
    draws = law.coefficient_draws()
    pick = np.unique(np.linspace(0, len(draws) - 1, min(len(draws), max_draws)).round().astype(int))
    params, tokens, infeasible = [], [], 0
    for i in pick:
        try:
            c = solve_choice(problem.with_law(draws[i]), choice.bits, choice.samples, n_start=choice.params)
        except _Infeasible:
            infeasible += 1
            continue
        params.append(c.params)
        tokens.append(c.tokens)
    return Uncertainty(
        level=level, draws=len(draws), draws_solved=len(params), draws_infeasible=infeasible,
        loss_interval=interval(losses), params_range=interval(params) if params else None,
        tokens_range=interval(tokens) if tokens else None,
        downstream_error_interval=FrozenDict({k: interval(m.error_draws(losses)) for k, m in maps.items()}),
    )


def training_dynamics(req: Any, law: ChinchillaLaw, choice: Choice, recipe: TrainingRecipe, curve: Any = None
                      ) -> tuple[TrainingRecipe, dict[str, Any] | None]:
    """The recipe's decay share from a curve law (and its predicted loss curve), and what the
    chosen optimizer is worth at the plan's N and D; None when neither was asked for."""
    from planner.laws.optimizers import optimizer_speedup

    out: dict[str, Any] = {}
    if curve is not None:
        from planner.laws.decay import best_decay_share
        from planner.laws.recipe import with_decay_share
        from planner.laws.schedules import Schedule

        share, _ = best_decay_share(curve, recipe.steps, warmup=recipe.warmup_steps, shape=recipe.decay_shape,
                                    final=recipe.min_learning_rate / recipe.learning_rate)
        recipe = with_decay_share(recipe, share, f"decay share {share:.1%} minimises the final loss under curve law {curve.name} "
                                  f"at this run's {recipe.steps:,} steps (at the law's peak lr {curve.peak_lr:g}; "
                                  "MiniCPM's 10 % otherwise)")
        sched = Schedule("wsd", steps=recipe.steps, peak_lr=curve.peak_lr, warmup=recipe.warmup_steps,
                         params={"decay": recipe.decay_steps / recipe.steps, "shape": recipe.decay_shape,
                                 "final": recipe.min_learning_rate / recipe.learning_rate})
        steps = np.unique(np.linspace(max(recipe.warmup_steps, 1), recipe.steps, 64).round().astype(int))
        out["curve"] = {"law": curve.name, "form": curve.form, "decay_share": share, "step": steps.tolist(),
                        "loss": [float(x) for x in curve.loss(sched.lr(), steps)],
                        "note": f"the loss of {curve.name}'s own model under this plan's schedule (its units): the shape, not "
                                "the plan's loss level"}
    if req.optimizer != "adamw":
        s = optimizer_speedup(req.optimizer, choice.params, choice.tokens)
        # Only the data term moves (the QAT penalty acts on N, L(rho N, D)): the plan's loss plus that change.
        with_opt = float(choice.loss + law.loss(choice.params, choice.tokens * s.speedup) - law.loss(choice.params, choice.tokens))
        out["optimizer"] = {**s.to_dict(), "loss_adamw": float(choice.loss), "loss_with_optimizer": with_opt,
                            "train_flops_saved_fraction": 1 - 1 / s.speedup,
                            "how_read": "the allocation is solved for AdamW (the law's runs); the optimizer's worth is read at that "
                                    "allocation: its loss on the same tokens, or the share of training compute it saves at the same loss"}
    return recipe, out or None
