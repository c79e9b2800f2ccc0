"""From a budget, an accelerator and an inference demand to a frozen :class:`Plan`.

``plan()`` is the library entry point and reads as its stages: request (every check) ->
resolve (names to objects) -> [budget -> allocate -> layout, inside the MFU fixed point] ->
recipe -> serving -> uncertainty -> account -> baseline -> assumptions and warnings -> Plan.
Every section reads the one solution of the one declared problem
(:mod:`planner.planning.problem`). Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from planner.defaults import (
    DEFAULT_BATCH_TOLERANCE,
    DEFAULT_DEADLINE_DAYS,
    DEFAULT_GEN_TOKENS,
    DEFAULT_GOODPUT,
    DEFAULT_INTERVAL_LEVEL,
    DEFAULT_MAX_GPUS,
    DEFAULT_MAX_SAMPLES,
    DEFAULT_MAX_SERVE_BATCH,
    DEFAULT_MAX_UNIQUE_TOKENS,
    DEFAULT_PROMPT_TOKENS,
    DEFAULT_SEQ_LEN,
    DEFAULT_UNCERTAINTY_DRAWS,
    DEFAULT_WARMUP_FRACTION,
    LIMITS,
)
from planner.errors import PlannerInputError
from planner.hardware.registry import Accelerator, HardwareRegistry
from planner.laws.catalog import DEFAULT_LAW, ChinchillaLaw, DownstreamMap
from planner.laws.curve_catalog import get_curve_law
from planner.laws.recipe import TrainingRecipe, law_optimum
from planner.planning.assumptions import CURRENCY, assumptions, warnings_for
from planner.planning.cluster import (
    choose_cluster,
    evaluate_cluster,
    evaluate_sizes,
    ladder,
    neighbourhood,
)
from planner.planning.fixed_point import settle
from planner.planning.problem import (
    PlanningProblem,
    Search,
    explain_infeasible,
    lifetime_budget,
    search,
)
from planner.planning.records import (
    ClusterChoice,
    ClusterOption,
    FixedPoint,
    Plan,
    Request,
    Resolved,
)
from planner.planning.request import make_request
from planner.planning.resolve import Context, resolve
from planner.planning.stages import (
    account,
    baseline,
    choose_layout,
    recipe_for,
    serving_section,
    training_dynamics,
    uncertainty,
)
from planner.serving.joint import ServingLowering
from planner.systems.layout import BatchTarget, LayoutSearch
from planner.systems.shape import shape_for_params
from planner.units import gpu_hours, wall_clock_days

__all__ = ["plan"]


def plan(
    *, gpu: str | Accelerator = "h100-sxm", budget_flops: float | None = None, gpu_hours: float | None = None,
    dollars: float | None = None, price_usd_per_gpu_hour: float | None = None, gpus: int | None = None,
    days: float | None = None, target_loss: float | None = None, infer_tokens: float = 0.0,
    law: str | Path | ChinchillaLaw = DEFAULT_LAW, max_params: float | None = None, max_tokens: float | None = None,
    mfu: float | None = None, precision: str = "bf16", downstream: str | DownstreamMap | None = None,
    lr_rule: str = "steplaw", seq_len: int = DEFAULT_SEQ_LEN, warmup_fraction: float = DEFAULT_WARMUP_FRACTION,
    interval_level: float = DEFAULT_INTERVAL_LEVEL, max_uncertainty_draws: int = DEFAULT_UNCERTAINTY_DRAWS,
    goodput: float = DEFAULT_GOODPUT, choose_layout: bool = True, objective: str = "loss", samples: int | None = None,
    max_samples: int = DEFAULT_MAX_SAMPLES, samples_grid: str = "pow2", bits: int | None = None, kv_bits: int = 16,
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS, gen_tokens: int = DEFAULT_GEN_TOKENS, serve_batch: int | None = None,
    max_serve_batch: int = DEFAULT_MAX_SERVE_BATCH, serve_gpu: str | Accelerator | None = None,
    serve_memory_bytes: float | None = None, latency_s: float | None = None, task: str | None = None,
    serving_cost: str | None = None, max_gpus: int = DEFAULT_MAX_GPUS, extrapolate: bool = False,
    max_unique_tokens: float = DEFAULT_MAX_UNIQUE_TOKENS, verifier_flops: float = 0.0, reward_model_params: float | None = None,
    curve_law: str | None = None, optimizer: str = "adamw",
    registry: HardwareRegistry | None = None,
    hardware_files: Iterable[str | Path] = (),
) -> Plan:
    """Choose model size, tokens, serving bits and samples for a lifetime budget or a target loss.

    Give exactly one of ``budget_flops``; ``gpu_hours``; ``dollars`` (with
    ``price_usd_per_gpu_hour``); ``gpus`` and ``days`` (a cluster and a deadline); or
    ``target_loss``. ``gpus`` with ``days`` next to another budget caps the training compute
    (a deadline). Without ``gpus`` the plan recommends a cluster (:mod:`planner.planning.cluster`):
    the smallest size on a ladder up to ``max_gpus`` that trains within ``days`` (default
    ``DEFAULT_DEADLINE_DAYS``). The budget covers training plus serving ``infer_tokens``
    tokens, both in one currency: GPU-time, stated in training-FLOP equivalents (a FLOPs
    budget is GPU-time at the training MFU). Serving is priced by ``serving_cost``:
    ``roofline`` (default; Kinetics eFLOPs on ``serve_gpu``) or ``flops`` (2N per generated
    token, Sardana et al.). Weight bits are searched over 16/8/4 with the optimal QAT share
    unless ``bits`` is given; samples per query are searched only for ``objective="pass@k"``
    unless ``samples`` is given; the serving batch is chosen unless ``serve_batch`` is given.
    The plan stays inside the law's fitted support unless ``extrapolate``. Raises
    PlannerInputError (bad input), InfeasiblePlanError (no plan; names what binds and the
    relief) or SolverError.
    """
    given = {k: v for k, v in locals().items() if k not in ("registry", "hardware_files")}  # every keyword, as given
    req = make_request(**{**given, "gpu": _name(gpu), "law": _name(law), "downstream": _name(downstream),
                          "serve_gpu": _name(serve_gpu)})
    ctx = resolve(req, gpu=gpu, law=law, downstream=downstream, serve_gpu=serve_gpu, registry=registry,
                  hardware_files=hardware_files)
    curve = get_curve_law(req.curve_law) if req.curve_law else None
    fp, at, cluster = _settle_cluster(req, ctx)
    problem, found, recipe, layout = at.problem, at.found, at.recipe, at.layout
    best = found.best
    recipe, dynamics = training_dynamics(req, ctx.law, best, recipe, curve)
    serving = serving_section(problem, found, price=req.price_usd_per_gpu_hour, precision=req.precision)
    unc = uncertainty(ctx.law, dict(ctx.maps), problem, best, level=req.interval_level, max_draws=req.max_uncertainty_draws)
    gpus = cluster.gpus if cluster is not None else req.gpus
    result = account(best, problem, flops_per_gpu_s=problem.serving.flops_per_gpu_s, price=req.price_usd_per_gpu_hour, gpus=gpus,
                     goodput=req.goodput, maps=dict(ctx.maps), serving=serving, unc=unc)
    mfu_source = _mfu_source(ctx, fp, layout)
    resolved = Resolved(
        objective=problem.objective, budget_flops=problem.budget_flops, budget_given_as=None if req.budget_kind == "target" else req.budget_kind,
        max_train_flops=problem.max_train_flops, gpu=ctx.accel.id, serve_gpu=ctx.serve_accel.id, law=ctx.law.name,
        downstream=tuple(ctx.maps), task=req.task, precision=req.precision, peak_flops_per_s=ctx.peak_flops_per_s,
        mfu=fp.mfu, mfu_source=mfu_source, fixed_point=fp, serving_cost=ctx.serving_cost, quality_objective=req.objective,
        bits_searched=ctx.bits_choices, samples_searched=ctx.sample_choices, currency=CURRENCY,
    )
    base = baseline(problem, best)
    return Plan(
        request=req, resolved=resolved, result=result, baseline=base, recipe=recipe, layout=layout,
        assumptions=assumptions(req, ctx, fp, mfu_source, recipe, unc, layout, cluster),
        warnings=warnings_for(req, ctx, result, fp, layout, at.layout_note, cluster, recipe),
        cluster=cluster, shape=layout.shape if layout is not None else shape_for_params(best.params, seq=req.seq_len),
        dynamics=dynamics, law=ctx.law, accelerator=ctx.accel,
    )


def _name(x: Any) -> Any:
    """What the request records for an argument that may be an object."""
    if isinstance(x, Accelerator):
        return x.id
    if isinstance(x, ChinchillaLaw | DownstreamMap):
        return x.name or getattr(x, "suite", "")
    return None if x is None else str(x)


def _lower(req: Request, ctx: Context, mfu: float) -> PlanningProblem:
    """Stage 3, budget: the question lowered onto the declared problem at this MFU."""
    flops_per_gpu_s = ctx.peak_flops_per_s * mfu
    budget, cap = lifetime_budget(req.budget_kind, budget_flops=req.budget_flops, gpu_hours_given=req.gpu_hours,
                                  dollars=req.dollars, price=req.price_usd_per_gpu_hour, gpus=req.gpus, days=req.days,
                                  goodput=req.goodput, flops_per_gpu_s=flops_per_gpu_s)
    if budget is not None and budget < LIMITS["min_budget_flops"]:
        raise PlannerInputError(f"a budget of {budget:.3g} FLOPs is below the planner's floor of {LIMITS['min_budget_flops']:.0e} "
                                "(README, 'Limits'): no language model is trained on less")
    return PlanningProblem(
        coeffs=ctx.law.coeffs, objective="min_compute" if budget is None else "min_loss", budget_flops=budget,
        target_loss=req.target_loss, max_params=req.max_params, max_tokens=req.max_tokens, max_train_flops=cap,
        serving=ServingLowering(ctx.serving_cost, ctx.spec, ctx.serve_accel, ctx.queries, flops_per_gpu_s),
        quality=req.objective, downstream=ctx.downstream, task=ctx.task, bits_choices=ctx.bits_choices,
        sample_choices=ctx.sample_choices, latency_s=req.latency_s, serve_memory_bytes=req.serve_memory_bytes,
        support=ctx.support, task_coeffs=ctx.task_coeffs,
    )


@dataclass(frozen=True)
class _AtMfu:
    """What stages 3-6 produce at one MFU."""

    problem: PlanningProblem
    found: Search
    recipe: TrainingRecipe
    layout: LayoutSearch | None
    layout_note: str | None


def _solve_at(req: Request, ctx: Context, mfu: float, gpus: int | None, warm: dict[str, Search] | None = None
              ) -> tuple[float | None, _AtMfu]:
    """Stages 3-6 at one MFU: lower, allocate, and (on a cluster) the layout, which rounds the
    recipe's batch to a multiple of its DP x micro-batch; then the recipe at that batch.
    Returns the MFU the layout predicts (None without one, or where the step-time model does
    not speak for the precision) for the fixed point."""
    from solvers.problem import InfeasibleProblem

    problem = _lower(req, ctx, mfu)
    try:
        found = search(problem, warm=(warm or {}).get("last"))
    except InfeasibleProblem as exc:
        raise explain_infeasible(exc, req.gpus, req.days, ctx.peak_flops_per_s * mfu * 86400.0 * req.goodput) from None
    if warm is not None:
        warm["last"] = found
    best = found.best
    if gpus is None or not req.choose_layout:
        recipe = recipe_for(best, rule=req.lr_rule, seq_len=req.seq_len, warmup_fraction=req.warmup_fraction,
                            params_include_embeddings=ctx.law.params_include_embeddings)
        return None, _AtMfu(problem, found, recipe, None, None)
    layout, why_not = choose_layout(best, ctx.accel, gpus, _batch_target(req, best.params, best.tokens), seq_len=req.seq_len,
                                    precision=req.precision)
    recipe = recipe_for(best, rule=req.lr_rule, seq_len=req.seq_len, warmup_fraction=req.warmup_fraction,
                        params_include_embeddings=ctx.law.params_include_embeddings, layout=layout)
    note = None if layout is not None else f"layout: {why_not}; GPU-hours use the MFU above"
    predicted = layout.best.mfu if layout is not None and req.mfu is None and req.precision == "bf16" else None
    return predicted, _AtMfu(problem, found, recipe, layout, note)


def _batch_target(req: Request, params: float, tokens: float) -> BatchTarget:
    """The Step Law (or DeepSeek) batch in sequences, and how far the layout may round it."""
    return BatchTarget(law_optimum(req.lr_rule, params, tokens)[1] / req.seq_len, DEFAULT_BATCH_TOLERANCE)


def _settle_mfu(req: Request, ctx: Context, gpus: int | None, warm: dict[str, Search] | None = None
                ) -> tuple[FixedPoint, _AtMfu]:
    """The MFU fixed point on ``gpus``: one MFU sizes and prices the plan (given, prior, or the
    layout's). ``warm`` carries the last search from round to round (warm starts)."""
    warm = {} if warm is None else warm
    fp, at = settle(lambda m: _solve_at(req, ctx, m, gpus, warm), ctx.mfu_prior)
    if req.mfu is not None:
        fp = FixedPoint(mfu=req.mfu, layout_mfu=at.layout.best.mfu if at.layout else None, converged=True, rounds=1, method="given")
    return fp, at


_CLUSTER_ROUNDS = 4  # re-choose the cluster for the model it sized; 1-2 rounds are typical


def _settle_cluster(req: Request, ctx: Context) -> tuple[FixedPoint, _AtMfu, ClusterChoice | None]:
    """The cluster stage around the MFU fixed point: evaluate the ladder (or the given size's
    neighbourhood) for the model, apply the rule, re-settle on the chosen size until it holds."""
    warm: dict[str, Search] = {}
    if not req.choose_layout:
        fp, at = _settle_mfu(req, ctx, req.gpus, warm)
        return fp, at, None
    deadline, source = (req.days, "--days") if req.days is not None else (DEFAULT_DEADLINE_DAYS, "planner default, --days sets it")
    sizes = neighbourhood(req.gpus) if req.gpus is not None else ladder(ctx.accel.devices_per_node, req.max_gpus)

    def options(at: _AtMfu, fp: FixedPoint | None, on: int | None) -> ClusterChoice:
        best = at.found.best
        shape = shape_for_params(best.params, seq=req.seq_len)
        fixed = req.mfu if req.mfu is not None else (ctx.mfu_prior if req.precision != "bf16" else None)
        target = _batch_target(req, best.params, best.tokens)

        def one(g: int) -> ClusterOption:
            sized_on = fp is not None and g == on  # the size the plan settled on: its layout is already searched
            return evaluate_cluster(shape, ctx.accel, g, train_flops=best.train_flops, target=target, precision=req.precision,
                                    peak_flops_per_s=ctx.peak_flops_per_s, goodput=req.goodput, deadline_days=deadline,
                                    price=req.price_usd_per_gpu_hour, fixed_mfu=fp.mfu if sized_on else fixed,
                                    found=at.layout if sized_on else None)

        def optimistic_days(g: int) -> float:  # at 100 % MFU: no size below this can meet the deadline
            return wall_clock_days(gpu_hours(best.train_flops, ctx.peak_flops_per_s), g, req.goodput)

        opts = evaluate_sizes(sizes, one, optimistic_days=optimistic_days, deadline_days=deadline, lazy=req.gpus is None,
                              include=on)
        return choose_cluster(opts, given=req.gpus, deadline_days=deadline, deadline_source=source)

    gpus = req.gpus
    if gpus is None:
        _, at0 = _settle_mfu(req, ctx, None, warm)
        gpus = options(at0, None, None).gpus
    on = gpus
    for _ in range(_CLUSTER_ROUNDS):
        fp, at = _settle_mfu(req, ctx, gpus, warm)
        choice = options(at, fp, gpus)
        if choice.gpus == gpus:
            return fp, at, choice
        on, gpus = gpus, choice.gpus
    return fp, at, replace(choice, gpus=on, reason=f"{choice.reason}; re-choosing did not settle, so the plan keeps "
                           f"the {on} GPUs it was last sized on")


def _mfu_source(ctx: Context, fp: FixedPoint, layout: LayoutSearch | None) -> str:
    if fp.method in ("given", "prior") or layout is None:
        return ctx.mfu_source
    return (f"predicted for the chosen layout ({layout.best.layout}) by the step-time model ({layout.calibration.source}); "
            f"fixed point by {fp.method} in {fp.rounds} round(s){'' if fp.converged else ', not converged (conservative end)'}")
