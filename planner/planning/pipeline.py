"""From a budget, an accelerator and an inference demand to a frozen :class:`Plan`.

``plan()`` is the library entry point; the command line, the JSON output and the terminal
report all consume the :class:`Plan` it returns. Nothing here prints.

Accounting (Sardana et al. 2024; Kaplan et al. 2020): training costs 6 N D FLOPs, serving
one token costs 2 N FLOPs, so lifetime compute is ``6 N D + 2 N D_inf``. Budgets given in
GPU-hours, dollars or a cluster-deadline are turned into FLOPs with the accelerator's dense
peak times a model-FLOP utilisation (MFU).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from planner.defaults import DEFAULT_GOODPUT, DEFAULT_MEMORY_RESERVE_FRACTION, GENERIC_DEFAULT_MFU
from planner.errors import InfeasiblePlanError, PlannerInputError, SolverError
from planner.hardware.registry import Accelerator, HardwareRegistry, load_registry
from planner.laws.catalog import DEFAULT_LAW, ChinchillaLaw, DownstreamMap, get_downstream, get_law
from planner.serving.qat import DREMOV_A, GAMMA_KV, GAMMA_W
from planner.laws.recipe import DEFAULT_SEQ_LEN, DEFAULT_WARMUP_FRACTION, TrainingRecipe, training_recipe
from planner.serving.joint import joint_optimise, serving_terms
from planner.serving.cost import DEFAULT_GEN_TOKENS, DEFAULT_PROMPT_TOKENS, DEFAULT_SERVE_BATCH, ServingSpec, queries_for, serving_cost as serving_cost_of
from planner.serving.tasks import get_task
from planner.units import fmt_flops

__all__ = [
    "Assumption",
    "Allocation",
    "Baseline",
    "Plan",
    "plan",
    "GENERIC_DEFAULT_MFU",
    "SCHEMA_VERSION",
]

SCHEMA_VERSION = "1.0"

_SECONDS_PER_HOUR = 3600.0
_SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class Assumption:
    """A number the plan rests on, and where it comes from."""

    name: str
    value: str
    source: str


@dataclass(frozen=True)
class Allocation:
    """The chosen model and what it costs. SI units; FLOPs are counts, not rates."""

    params: float
    train_tokens: float
    loss: float
    downstream_error: Mapping[str, float]
    train_flops: float
    inference_flops: float
    gpu_hours: float
    train_gpu_hours: float
    inference_gpu_hours: float
    cost_usd: float | None
    wall_clock_days: float | None
    elasticity: float | None
    binding: tuple[str, ...]
    status: str
    solver: str
    #: Present when the law carries bootstrap draws: the loss interval at the chosen (N, D)
    #: and the spread of the optimum (N*, D*) re-solved under each draw.
    uncertainty: Mapping[str, Any] | None = None
    objective: str = "loss"
    objective_value: float | None = None
    samples_per_query: int = 1
    qat_bits: int = 16
    qat_fraction: float = 0.0
    serving: Mapping[str, Any] | None = None

    @property
    def tokens_per_param(self) -> float:
        return self.train_tokens / self.params

    @property
    def total_flops(self) -> float:
        return self.train_flops + self.inference_flops

    @property
    def inference_share(self) -> float:
        return self.inference_flops / self.total_flops if self.total_flops else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "train_tokens": self.train_tokens,
            "tokens_per_param": self.tokens_per_param,
            "loss": self.loss,
            "downstream_error": dict(self.downstream_error),
            "train_flops": self.train_flops,
            "inference_flops": self.inference_flops,
            "total_flops": self.total_flops,
            "inference_share": self.inference_share,
            "gpu_hours": self.gpu_hours,
            "train_gpu_hours": self.train_gpu_hours,
            "inference_gpu_hours": self.inference_gpu_hours,
            "cost_usd": self.cost_usd,
            "wall_clock_days": self.wall_clock_days,
            "elasticity": self.elasticity,
            "binding": list(self.binding),
            "status": self.status,
            "solver": self.solver,
            "uncertainty": dict(self.uncertainty) if self.uncertainty is not None else None,
            "objective": self.objective,
            "objective_value": self.objective_value,
            "samples_per_query": self.samples_per_query,
            "qat_bits": self.qat_bits,
            "qat_fraction": self.qat_fraction,
            "serving": dict(self.serving) if self.serving is not None else None,
        }


@dataclass(frozen=True)
class Baseline:
    """The Chinchilla-optimal model that ignores inference, for comparison.

    Budget mode: the compute-optimal (training-only) shape scaled so that its training plus
    serving fills the same lifetime budget; ``loss_delta`` = plan loss - baseline loss.
    Target mode: the compute-optimal model reaching the same loss (Sardana et al.'s
    comparison); ``savings_fraction`` = 1 - plan lifetime compute / baseline's.
    """

    description: str
    params: float
    train_tokens: float
    loss: float
    train_flops: float
    inference_flops: float
    loss_delta: float
    savings_flops: float
    savings_fraction: float

    @property
    def total_flops(self) -> float:
        return self.train_flops + self.inference_flops

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "params": self.params,
            "train_tokens": self.train_tokens,
            "tokens_per_param": self.train_tokens / self.params,
            "loss": self.loss,
            "train_flops": self.train_flops,
            "inference_flops": self.inference_flops,
            "total_flops": self.total_flops,
            "loss_delta": self.loss_delta,
            "savings_flops": self.savings_flops,
            "savings_fraction": self.savings_fraction,
        }


@dataclass(frozen=True)
class Plan:
    """Everything a plan says: the normalised inputs, assumptions, result and baseline.

    The same data feeds the terminal report (``rich`` renders a Plan directly), the JSON
    document (:meth:`to_json`) and library callers.
    """

    inputs: Mapping[str, Any]
    assumptions: tuple[Assumption, ...]
    result: Allocation
    baseline: Baseline
    warnings: tuple[str, ...] = ()
    recipe: TrainingRecipe | None = None
    layout: Any = None  # planner.layout.LayoutSearch when --gpus was given
    schema_version: str = SCHEMA_VERSION
    law: ChinchillaLaw = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    accelerator: Accelerator = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", MappingProxyType(dict(self.inputs)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "inputs": dict(self.inputs),
            "assumptions": [
                {"name": a.name, "value": a.value, "source": a.source} for a in self.assumptions
            ],
            "result": self.result.to_dict(),
            "baseline": self.baseline.to_dict(),
            "recipe": self.recipe.to_dict() if self.recipe is not None else None,
            "layout": _layout_dict(self.layout),
            "warnings": list(self.warnings),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def __rich__(self) -> Any:
        from planner.report.plan import render_plan

        return render_plan(self)


# --------------------------------------------------------------------------- inputs


def _check_positive(name: str, value: float | None, *, allow_zero: bool = False) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlannerInputError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise PlannerInputError(f"{name} must be finite, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise PlannerInputError(f"{name} must be {bound}, got {value:g}")
    return value


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


_BUDGET_FLAGS = {"budget_flops": "--budget", "gpu_hours": "--gpu-hours", "dollars": "--dollars"}


def _resolve_accelerator(
    gpu: str | Accelerator, registry: HardwareRegistry | None, hardware_files: Iterable[str | Path]
) -> Accelerator:
    if isinstance(gpu, Accelerator):
        return gpu
    reg = registry if registry is not None else load_registry(hardware_files)
    return reg.get(gpu)


def _resolve_law(law: str | Path | ChinchillaLaw) -> ChinchillaLaw:
    return law if isinstance(law, ChinchillaLaw) else get_law(law)


# --------------------------------------------------------------------------- plan()


def plan(
    *,
    gpu: str | Accelerator = "h100-sxm",
    budget_flops: float | None = None,
    gpu_hours: float | None = None,
    dollars: float | None = None,
    price_usd_per_gpu_hour: float | None = None,
    gpus: int | None = None,
    days: float | None = None,
    target_loss: float | None = None,
    infer_tokens: float = 0.0,
    law: str | Path | ChinchillaLaw = DEFAULT_LAW,
    max_params: float | None = None,
    max_tokens: float | None = None,
    mfu: float | None = None,
    precision: str = "bf16",
    downstream: str | DownstreamMap | None = None,
    lr_rule: str = "steplaw",
    seq_len: int = DEFAULT_SEQ_LEN,
    warmup_fraction: float = DEFAULT_WARMUP_FRACTION,
    interval_level: float = 0.95,
    max_uncertainty_draws: int = 200,
    goodput: float = DEFAULT_GOODPUT,
    choose_layout: bool = True,
    objective: str = "loss",
    samples: int | None = None,
    max_samples: int = 1024,
    samples_grid: str = "pow2",
    bits: int | None = None,
    kv_bits: int = 16,
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS,
    gen_tokens: int = DEFAULT_GEN_TOKENS,
    serve_batch: int = DEFAULT_SERVE_BATCH,
    serve_gpu: str | Accelerator | None = None,
    serve_memory_bytes: float | None = None,
    latency_s: float | None = None,
    task: str | None = None,
    serving_cost: str | None = None,
    registry: HardwareRegistry | None = None,
    hardware_files: Iterable[str | Path] = (),
) -> Plan:
    """Choose model size and training tokens for a lifetime budget or a target loss.

    Give exactly one of: ``budget_flops``; ``gpu_hours``; ``dollars`` (with
    ``price_usd_per_gpu_hour``); ``gpus`` and ``days`` (a cluster and a deadline); or
    ``target_loss``. A budget covers the model's whole life, training plus serving
    ``infer_tokens`` tokens. ``gpus`` with ``days`` next to another budget or a target
    caps the training compute instead (a wall-clock limit); ``gpus`` alone only reports the
    wall clock.

    Args:
        gpu: accelerator id or alias from the registry (``"h100"``), or an Accelerator.
        budget_flops: lifetime compute in FLOPs.
        gpu_hours: lifetime budget in GPU-hours of ``gpu``.
        dollars: lifetime budget in US dollars; needs ``price_usd_per_gpu_hour``.
        price_usd_per_gpu_hour: price used for ``dollars`` and for the plan's cost.
        gpus: cluster size (devices of ``gpu``).
        days: deadline in days for training on ``gpus`` devices.
        target_loss: reach this loss at least lifetime compute instead of spending a budget.
        infer_tokens: tokens served over the model's life (at one sample per query).
        law: preset name, path to a law TOML, or a :class:`ChinchillaLaw`.
        max_params: upper bound on parameters.
        max_tokens: upper bound on unique training tokens (data-constrained).
        mfu: model-FLOP utilisation; default from the registry entry's published figure.
        precision: which dense peak prices compute: ``bf16``, ``fp8`` or ``fp4``.
        downstream: a downstream-error map (name, ``PRESET:SUITE``, file or object) used
            instead of the law's own maps.
        lr_rule: learning-rate/batch law for the recipe: ``steplaw`` or ``deepseek``.
        seq_len: training sequence length for the recipe's batch.
        warmup_fraction: share of steps spent in warmup.
        interval_level: coverage of the intervals reported for fitted laws.
        max_uncertainty_draws: at most this many bootstrap draws are re-solved for the
            spread of the optimum (evenly spaced, so the plan stays deterministic).
        goodput: share of wall-clock time spent training (restarts, checkpoints excluded).
        choose_layout: with ``gpus``, search the parallel layout for the chosen model and use
            its predicted MFU (unless ``mfu`` is given).
        objective: ``loss``, ``error`` (downstream error) or ``pass@k`` (with ``task``).
        samples: samples per query k (default: searched over powers of 2 up to
            ``max_samples`` when serving is priced on the roofline, else 1).
        bits: serving weight bits (default: searched over 16, 8, 4 on the roofline).
        samples_grid: ``pow2`` (k = 1, 2, 4, ... max_samples: enumerated) or ``all``
            (every k up to max_samples: searched with optuna's TPE).
        kv_bits: KV-cache bits when serving.
        prompt_tokens, gen_tokens: one query's prompt and generation lengths.
        serve_batch: sequences decoded together per serving replica.
        serve_gpu: accelerator that serves (default: ``gpu``).
        serve_memory_bytes: memory available to one serving replica (caps the model).
        latency_s: bound on one query's latency (prefill + decode).
        task: task profile for ``pass@k`` (preset ``math`` or a saved profile).
        serving_cost: ``flops`` (2N per served token, Sardana et al.'s accounting) or
            ``roofline`` (Kinetics eFLOPs on ``serve_gpu``). Default: ``roofline`` whenever
            any serving choice above is used, else ``flops``.
        registry: a loaded :class:`HardwareRegistry` (default: shipped + user config).
        hardware_files: extra hardware TOML files merged into the default registry.

    Returns:
        A frozen :class:`Plan`.

    Raises:
        PlannerInputError: malformed, conflicting or unknown inputs.
        InfeasiblePlanError: no allocation meets the constraints (names which binds).
    """
    from solvers.convex import solve_convex
    from solvers.problem import AllocationProblem, InfeasibleProblem, LawCoefficients, SolveFailed

    # ---- validate numbers
    budget_flops = _check_positive("budget", budget_flops)
    gpu_hours = _check_positive("gpu-hours", gpu_hours)
    dollars = _check_positive("dollars", dollars)
    price = _check_positive("price", price_usd_per_gpu_hour)
    days = _check_positive("days", days)
    target_loss = _check_positive("target-loss", target_loss)
    infer_tokens = _check_positive("infer-tokens", infer_tokens, allow_zero=True) or 0.0
    max_params = _check_positive("max-params", max_params)
    max_tokens = _check_positive("max-tokens", max_tokens)
    if gpus is not None:
        if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1:
            raise PlannerInputError(f"gpus must be a positive integer, got {gpus!r}")
    if mfu is not None:
        mfu = _check_positive("mfu", mfu)
        if mfu > 1:
            raise PlannerInputError(f"mfu is a fraction of peak in (0, 1], got {mfu:g}")

    # ---- which budget?
    cluster_is_budget = _check_budget_flags(budget_flops, gpu_hours, dollars, price, gpus, days, target_loss)

    if not 0 < interval_level < 1:
        raise PlannerInputError(f"interval level must be in (0, 1), got {interval_level}")
    accel = _resolve_accelerator(gpu, registry, hardware_files)
    the_law = _resolve_law(law)
    if downstream is None:
        maps = dict(the_law.downstream)
    else:
        dmap = downstream if isinstance(downstream, DownstreamMap) else get_downstream(downstream)
        maps = {dmap.name or dmap.suite: dmap}
    peak = accel.peak_flops_per_s(precision)
    warnings: list[str] = []

    # ---- serving: how it is priced, and which choices are searched
    if objective not in ("loss", "error", "pass@k"):
        raise PlannerInputError(f"unknown objective '{objective}'; choose loss, error or pass@k")
    serve_accel = accel if serve_gpu is None else _resolve_accelerator(serve_gpu, registry, hardware_files)
    serving_choice_used = objective != "loss" or samples not in (None, 1) or bits not in (None, 16) \
        or latency_s is not None or serve_memory_bytes is not None or kv_bits != 16
    if serving_cost is None:
        serving_cost = "roofline" if serving_choice_used else "flops"
    if serving_cost not in ("flops", "roofline"):
        raise PlannerInputError(f"unknown serving cost '{serving_cost}'; use flops or roofline")
    if serving_cost == "flops" and serving_choice_used:
        raise PlannerInputError("serving choices (objective, samples, bits, latency, serving memory) need --serving-cost roofline")
    if max_samples < 1 or (samples is not None and samples < 1):
        raise PlannerInputError("samples per query must be at least 1")
    spec = ServingSpec(prompt_tokens=prompt_tokens, gen_tokens=gen_tokens, samples=samples or 1,
                       weight_bits=bits or 16, kv_bits=kv_bits, batch=serve_batch)
    queries = queries_for(infer_tokens, gen_tokens)
    the_task = get_task(task) if task is not None else None
    joint = serving_cost == "roofline"
    dmap_for_objective = next(iter(maps.values()), None)
    joint_result = None

    # ---- utilisation
    if mfu is not None:
        mfu_used, mfu_source = mfu, "user-set (--mfu)"
    elif accel.default_mfu is not None:
        mfu_used, mfu_source = accel.default_mfu, accel.mfu_source
    else:
        mfu_used = GENERIC_DEFAULT_MFU
        mfu_source = "generic planning default: no published run for this accelerator in the registry"
        warnings.append(
            f"no published MFU for {accel.id}: GPU-hours, cost and wall clock assume "
            f"{GENERIC_DEFAULT_MFU:.0%} of peak; pass --mfu with a measured value"
        )
    if not 0 < goodput <= 1:
        raise PlannerInputError(f"goodput must be in (0, 1], got {goodput}")
    coeffs = LawCoefficients.of(the_law)
    cluster_is_note = False
    layout_search = None
    mfu_iter = mfu_used
    # Fixed point: the layout's predicted MFU changes how many FLOPs a GPU-hour buys, which
    # changes the allocation, which changes the layout. It settles in two or three rounds.
    for _round in range(8):
        flops_per_gpu_hour = peak * mfu_iter * _SECONDS_PER_HOUR
        budget_given_as = None
        lifetime_budget = None
        if budget_flops is not None:
            lifetime_budget, budget_given_as = budget_flops, "flops"
        elif gpu_hours is not None:
            lifetime_budget, budget_given_as = gpu_hours * flops_per_gpu_hour, "gpu_hours"
        elif dollars is not None:
            lifetime_budget, budget_given_as = dollars / price * flops_per_gpu_hour, "dollars"
        cluster_flops = None
        if gpus is not None and days is not None:
            cluster_flops = gpus * days * 24.0 * flops_per_gpu_hour * goodput
            if cluster_is_budget:
                lifetime_budget, budget_given_as = cluster_flops, "cluster"
                cluster_is_note = True
        max_train_flops = cluster_flops if (cluster_flops is not None and not cluster_is_budget) else None
        problem = AllocationProblem(
            law=coeffs,
            objective="min_loss" if lifetime_budget is not None else "min_compute",
            budget_flops=lifetime_budget,
            target_loss=target_loss,
            inference_tokens=infer_tokens,
            max_params=max_params,
            max_tokens=max_tokens,
            max_train_flops=max_train_flops,
        )
        try:
            if joint and infer_tokens > 0:
                joint_result = joint_optimise(
                    replace(problem, inference_tokens=0.0), the_law, objective=objective, accel=serve_accel, spec=spec,
                    queries=queries, bits_choices=(bits,) if bits else (16, 8, 4),
                    sample_choices=(samples,) if samples else _sample_grid(samples_grid, max_samples),
                    downstream=dmap_for_objective, task=the_task, latency_s=latency_s,
                    serve_memory_bytes=serve_memory_bytes,
                )
                sol = joint_result.best.solution
            else:
                sol = solve_convex(problem)
        except InfeasibleProblem as exc:
            raise _explain_infeasible(exc, coeffs, gpus, days, flops_per_gpu_hour * goodput) from None
        except SolveFailed as exc:
            raise SolverError(f"{exc}; please report the inputs") from None
        if gpus is None or not choose_layout:
            break
        layout_search = _choose_layout(sol.params, sol.tokens, accel, gpus, seq_len, lr_rule, warmup_fraction, precision, warnings)
        if layout_search is None or mfu is not None:
            break
        new_mfu = layout_search.best.mfu
        if abs(new_mfu - mfu_iter) <= 1e-4 * mfu_iter:
            mfu_iter = new_mfu
            break
        mfu_iter = new_mfu
    if layout_search is not None and mfu is None:
        mfu_used = mfu_iter
        mfu_source = (f"predicted for the chosen layout ({layout_search.best.layout}) by the step-time model "
                      f"({layout_search.calibration.source})")
        warnings[:] = [w for w in warnings if not w.startswith("no published MFU")]
        from planner.systems.layout import calibration_warnings

        warnings += calibration_warnings(accel, layout_search.calibration)
    if cluster_is_note:
        warnings.append(
            "--gpus/--days is the whole lifetime budget here: serving is priced on the "
            "same cluster; add --budget/--gpu-hours/--dollars to make it a training deadline"
        )
    flops_per_gpu_hour = peak * mfu_used * _SECONDS_PER_HOUR

    # ---- result
    train_gh = sol.train_flops / flops_per_gpu_hour
    infer_gh = sol.inference_flops / flops_per_gpu_hour
    total_gh = train_gh + infer_gh
    wall_days = sol.train_flops / (gpus * flops_per_gpu_hour * 24.0) / goodput if gpus else None
    result = Allocation(
        params=sol.params,
        train_tokens=sol.tokens,
        loss=sol.loss,
        downstream_error=MappingProxyType({k: float(m.error(sol.loss)) for k, m in maps.items()}),
        train_flops=sol.train_flops,
        inference_flops=sol.inference_flops,
        gpu_hours=total_gh,
        train_gpu_hours=train_gh,
        inference_gpu_hours=infer_gh,
        cost_usd=total_gh * price if price is not None else None,
        wall_clock_days=wall_days,
        elasticity=sol.elasticity,
        binding=sol.binding,
        status=sol.status,
        solver=sol.backend,
        uncertainty=_uncertainty(the_law, maps, problem, sol, interval_level, max_uncertainty_draws),
        **_serving_fields(sol, the_law, maps, the_task, objective, spec, joint_result, serve_accel, queries,
                          infer_tokens, price, precision, serving_cost),
    )

    # ---- baseline: Chinchilla-optimal, ignoring inference (priced like the plan's serving)
    if joint and infer_tokens > 0:
        plain = replace(spec, weight_bits=16, samples=1)

        def serve_cost(n: float) -> float:
            return sum(c * n**e for c, e in serving_terms(n, serve_accel, plain, queries))
    else:

        def serve_cost(n: float) -> float:
            return 2.0 * n * infer_tokens

    baseline = _baseline(problem, coeffs, result, serve_cost, bounded=bool(max_params or max_tokens or max_train_flops))

    # ---- warnings
    if the_law.fit_params_range and sol.params > the_law.fit_params_range[1]:
        factor = sol.params / the_law.fit_params_range[1]
        warnings.append(
            f"extrapolation: {sol.params:.3g} params is {factor:.3g}x the largest model "
            f"{the_law.name} was fitted on ({the_law.fit_params_range[1]:.3g})"
        )
    for name in ("max_params", "max_tokens", "max_train_flops"):
        if name in sol.binding:
            label = {"max_params": "--max-params", "max_tokens": "--max-tokens", "max_train_flops": "the --gpus/--days deadline"}[name]
            warnings.append(f"{label} binds: the unconstrained optimum lies beyond it")

    inputs = {
        "objective": problem.objective,
        "budget_flops": lifetime_budget,
        "budget_given_as": budget_given_as,
        "budget_gpu_hours": gpu_hours,
        "budget_dollars": dollars,
        "target_loss": target_loss,
        "gpu": accel.id,
        "precision": precision,
        "infer_tokens": infer_tokens,
        "law": the_law.name,
        "max_params": max_params,
        "max_tokens": max_tokens,
        "max_train_flops": max_train_flops,
        "gpus": gpus,
        "days": days,
        "mfu": mfu_used,
        "price_usd_per_gpu_hour": price,
        "downstream": None if downstream is None else list(maps),
        "lr_rule": lr_rule,
        "seq_len": seq_len,
        "goodput": goodput,
        "quality_objective": objective,
        "serving_cost": serving_cost,
        "samples": samples,
        "max_samples": max_samples,
        "samples_grid": samples_grid,
        "bits": bits,
        "kv_bits": kv_bits,
        "prompt_tokens": prompt_tokens,
        "gen_tokens": gen_tokens,
        "serve_batch": serve_batch,
        "serve_gpu": serve_accel.id,
        "serve_memory_bytes": serve_memory_bytes,
        "latency_s": latency_s,
        "task": task,
    }
    recipe = training_recipe(
        sol.params,
        sol.tokens,
        rule=lr_rule,
        seq_len=seq_len,
        batch_multiple=gpus or 1,
        warmup_fraction=warmup_fraction,
        params_include_embeddings=the_law.params_include_embeddings,
    )
    assumptions = _assumptions(
        the_law, accel, precision=precision, mfu_used=mfu_used, mfu_source=mfu_source, serving_cost=serving_cost,
        serve_accel=serve_accel, spec=spec, task=task, the_task=the_task, price=price, recipe=recipe,
        uncertainty=result.uncertainty, goodput=goodput, has_layout=layout_search is not None,
    )
    if gpus is not None and layout_search is None and choose_layout:
        warnings.append("no layout could be chosen for this cluster; GPU-hours use the MFU above")
    return Plan(
        inputs=inputs,
        assumptions=tuple(assumptions),
        result=result,
        baseline=baseline,
        recipe=recipe,
        layout=layout_search,
        warnings=tuple(warnings),
        law=the_law,
        accelerator=accel,
    )


def _check_budget_flags(
    budget_flops: float | None, gpu_hours: float | None, dollars: float | None, price: float | None,
    gpus: int | None, days: float | None, target_loss: float | None,
) -> bool:
    """Check that exactly one budget (or a target loss) was given; True when ``gpus`` x
    ``days`` is itself the budget. Raises PlannerInputError for conflicting or incomplete flags."""
    given = [f for f, v in (("budget_flops", budget_flops), ("gpu_hours", gpu_hours), ("dollars", dollars)) if v is not None]
    if len(given) > 1:
        flags = " and ".join(_BUDGET_FLAGS[g] for g in given)
        raise PlannerInputError(f"conflicting budget flags {flags}: give one budget")
    if target_loss is not None and given:
        raise PlannerInputError(
            f"conflicting flags --target-loss and {_BUDGET_FLAGS[given[0]]}: a target loss "
            "minimises compute, a budget minimises loss; give one"
        )
    if days is not None and gpus is None:
        raise PlannerInputError("--days needs --gpus (the cluster the deadline applies to)")
    if dollars is not None and price is None:
        raise PlannerInputError("--dollars needs --price (US dollars per GPU-hour)")
    cluster_is_budget = not given and target_loss is None and gpus is not None and days is not None
    if not given and target_loss is None and not cluster_is_budget:
        raise PlannerInputError(
            "no budget: give --budget FLOPs, --gpu-hours, --dollars with --price, "
            "--gpus with --days, or --target-loss"
        )
    return cluster_is_budget


def _assumptions(
    the_law: ChinchillaLaw, accel: Accelerator, *, precision: str, mfu_used: float, mfu_source: str, serving_cost: str,
    serve_accel: Accelerator, spec: ServingSpec, task: str | None, the_task: Any, price: float | None, recipe: TrainingRecipe,
    uncertainty: Mapping[str, Any] | None, goodput: float, has_layout: bool,
) -> list[Assumption]:
    """Every number a plan rests on, with where it comes from (the report's assumptions table)."""
    c = the_law
    peak = accel.peak_flops_per_s(precision)
    assumptions = [
        Assumption(
            "scaling law",
            f"{c.name}: L = {c.E:.4g} + {c.A:.4g}/N^{c.alpha:.4g} + {c.B:.4g}/D^{c.beta:.4g}"
            f" (N {'with' if c.params_include_embeddings else 'without'} embeddings)",
            c.source,
        ),
        Assumption(
            "peak compute",
            f"{peak / 1e12:,.1f} TFLOP/s dense {precision} per {accel.id}",
            f"{accel.source} ({accel.date})" if accel.date else accel.source,
        ),
        Assumption("MFU", f"{mfu_used:.1%}", mfu_source),
        Assumption(
            "FLOPs accounting",
            "training 6·N·D, serving 2·N per token (attention FLOPs ignored)",
            "Kaplan et al. 2020; Sardana et al. 2024",
        ),
    ]
    if serving_cost == "flops":
        assumptions.append(Assumption(
            "serving cost", "2·N FLOPs per served token at the training MFU (the serving section shows the roofline view)",
            "Sardana et al. 2024's accounting (--serving-cost roofline prices it on the accelerator)"))
    else:
        assumptions.append(Assumption(
            "serving cost", f"Kinetics eFLOPs on {serve_accel.id} (intensity {serve_accel.arithmetic_intensity_flop_per_byte:.0f} FLOP/byte), at the training MFU",
            "Sadhukhan et al. 2025 (Kinetics); shared/reference/inference.md"))
        assumptions.append(Assumption(
            "query shape", f"{spec.prompt_tokens} prompt + {spec.gen_tokens} generated tokens, {spec.batch} sequences per decode batch",
            "planner defaults (--prompt-tokens, --gen-tokens, --serve-batch): set them from your traffic"))
        assumptions.append(Assumption(
            "low-precision serving", f"QAT share exp(-{DREMOV_A} / ln S); loss via effective parameters (gamma_w {GAMMA_W}, gamma_kv {GAMMA_KV})",
            "Dremov et al. 2025; Kumar et al. 2024 (setup-specific constants)"))
        if task is not None and the_task is not None:
            assumptions.append(Assumption("task profile", f"{the_task.name}: Beta tail exponent {the_task.alpha:.3g}", the_task.source))
    if price is not None:
        assumptions.append(Assumption("price", f"${price:,.2f} per GPU-hour", "user-set (--price)"))
    elif accel.price_usd_per_gpu_hour:
        lo, hi = accel.price_usd_per_gpu_hour
        assumptions.append(
            Assumption(
                "price",
                f"not priced (pass --price); reference ${lo:g}-{hi:g} per GPU-hour",
                accel.price_source,
            )
        )
    assumptions.append(Assumption("learning rate and batch", recipe.source, "training recipe rule (--lr-rule)"))
    if uncertainty is not None:
        u = uncertainty
        assumptions.append(
            Assumption(
                "uncertainty",
                f"{u['draws']} bootstrap draws of {the_law.name}; {u['draws_solved']} re-solved",
                f"fit of {the_law.fit_info.get('data_file', 'the law')} (seed {the_law.fit_info.get('bootstrap_seed', '?')})",
            )
        )
    assumptions.append(Assumption("goodput", f"{goodput:.0%} of wall clock is productive training", "Dubey et al. 2024 (Llama 3), sec. 3.3.4: >90 % effective training time" if goodput == DEFAULT_GOODPUT else "user-set (--goodput)"))
    if has_layout:
        assumptions.append(Assumption(
            "layout memory", f"{DEFAULT_MEMORY_RESERVE_FRACTION:.0%} of HBM kept free (allocator, communication buffers); flash attention; bf16 states with fp32 Adam",
            "planner defaults (set memory_reserve_fraction with `plan layout --memory-reserve`)"))
    return assumptions


def _baseline(problem: Any, coeffs: Any, result: Allocation, serve_cost: Any, *, bounded: bool) -> Baseline:
    """The Chinchilla-optimal model that ignores inference, priced like the plan."""
    from solvers.closed_form import chinchilla_sized_for_lifetime_budget, optimal_allocation, train_flops_for_loss

    if problem.objective == "min_loss":
        bn, bd = chinchilla_sized_for_lifetime_budget(coeffs, problem.budget_flops, inference_cost=serve_cost)
        desc = "Chinchilla-optimal shape (inference ignored when sizing) within the same lifetime budget"
    else:
        bn, bd = optimal_allocation(coeffs, train_flops_for_loss(coeffs, problem.target_loss))
        desc = "Chinchilla-optimal model reaching the same loss, then serving the same tokens"
    if bounded:
        desc += " (bounds not applied to the baseline)"
    b_loss = coeffs.loss(bn, bd)
    b_train, b_inf = 6 * bn * bd, serve_cost(bn)
    b_total = b_train + b_inf
    return Baseline(
        description=desc,
        params=bn,
        train_tokens=bd,
        loss=b_loss,
        train_flops=b_train,
        inference_flops=b_inf,
        loss_delta=result.loss - b_loss,
        savings_flops=b_total - result.total_flops,
        savings_fraction=1.0 - result.total_flops / b_total,
    )


def _explain_infeasible(
    exc: Any, law: Any, gpus: int | None, days: float | None, flops_per_gpu_hour: float
) -> InfeasiblePlanError:
    d = exc.detail
    if exc.constraint == "irreducible_loss":
        return InfeasiblePlanError(
            f"target loss {d['target_loss']:g} is at or below the law's irreducible loss E = {d['E']:.4g}",
            "choose a target above E",
        )
    if exc.constraint == "bounds":
        relief = [f"raise --target-loss above {d['floor_loss']:.4g}"]
        if "tokens_needed" in d:
            relief.append(f"raise --max-tokens to at least {d['tokens_needed']:.3g}")
        if "params_needed" in d:
            relief.append(f"raise --max-params to at least {d['params_needed']:.3g}")
        return InfeasiblePlanError(
            f"--max-params/--max-tokens cap the reachable loss at {d['floor_loss']:.4g}, "
            f"above the target {d['target_loss']:g}",
            " or ".join(relief),
        )
    needed = d["train_flops_needed"]
    days_needed = needed / (gpus * flops_per_gpu_hour * 24.0)
    gpus_needed = math.ceil(needed / (days * flops_per_gpu_hour * 24.0))
    return InfeasiblePlanError(
        f"the deadline binds: reaching the target needs at least {fmt_flops(needed)} training "
        f"FLOPs, {gpus} GPUs deliver {fmt_flops(d['max_train_flops'])} in {days:g} day(s)",
        f"allow at least {days_needed:.3g} days, or at least {gpus_needed} GPUs, or a higher --target-loss",
    )


def _uncertainty(
    law: ChinchillaLaw,
    maps: Mapping[str, DownstreamMap],
    problem: Any,
    sol: Any,
    level: float,
    max_draws: int,
) -> dict[str, Any] | None:
    """Spread of the prediction and of the optimum under the law's bootstrap draws."""
    if not law.draws:
        return None
    import numpy as np

    from solvers.convex import solve_convex
    from solvers.problem import InfeasibleProblem, LawCoefficients

    lo_q, hi_q = 50 * (1 - level), 50 * (1 + level)

    def interval(values: Any) -> list[float]:
        return [float(np.percentile(values, lo_q)), float(np.percentile(values, hi_q))]

    draws = np.asarray(law.draws)
    losses = law.loss_draws(sol.params, sol.tokens)
    pick = np.unique(np.linspace(0, len(draws) - 1, min(len(draws), max_draws)).round().astype(int))
    params, tokens, infeasible = [], [], 0
    for row in draws[pick]:
        try:
            s = solve_convex(replace(problem, law=LawCoefficients(*map(float, row))))
        except InfeasibleProblem:
            infeasible += 1
            continue
        params.append(s.params)
        tokens.append(s.tokens)
    out: dict[str, Any] = {
        "level": level,
        "draws": int(len(draws)),
        "loss_interval": interval(losses),
        "draws_solved": int(len(params)),
        "draws_infeasible": infeasible,
        "params_range": interval(params) if params else None,
        "tokens_range": interval(tokens) if tokens else None,
        "downstream_error_interval": {k: interval(m.error_draws(losses)) for k, m in maps.items()},
    }
    return out


def _choose_layout(params: float, tokens: float, accel: Accelerator, gpus: int, seq_len: int, lr_rule: str,
                   warmup_fraction: float, precision: str, warnings: list[str]) -> Any:
    """The fastest layout for the Llama-3-shaped model of ``params`` on ``gpus`` devices."""
    from planner.systems.layout import search_layouts
    from planner.systems.shape import shape_for_params

    shape = shape_for_params(params, seq=seq_len)
    recipe = training_recipe(params, tokens, rule=lr_rule, seq_len=seq_len, batch_multiple=gpus, warmup_fraction=warmup_fraction)
    try:
        return search_layouts(shape, accel, gpus, recipe.batch_sequences, precision=precision)
    except PlannerInputError as exc:
        warnings.append(f"layout: {exc}")
        return None


def _layout_dict(search: Any) -> dict[str, Any] | None:
    if search is None:
        return None
    b = search.best
    return {
        **b.to_dict(),
        "shape": search.shape.to_dict(),
        "global_batch": search.global_batch,
        "n_gpus": search.n_gpus,
        "method": search.method,
        "evaluated": search.evaluated,
        "space_size": search.space_size,
        "why": search.why,
        "top": [r.to_dict() for r in search.top],
    }


def _sample_grid(kind: str, max_samples: int) -> tuple[int, ...]:
    if kind == "pow2":
        return tuple(2**i for i in range(int(math.log2(max_samples)) + 1))
    if kind == "all":
        return tuple(range(1, max_samples + 1))
    raise PlannerInputError(f"unknown samples grid '{kind}'; use pow2 or all")


def _serving_fields(sol: Any, law: ChinchillaLaw, maps: Mapping[str, DownstreamMap], task: Any, objective: str,
                    spec: ServingSpec, joint_result: Any, serve_accel: Accelerator, queries: float, infer_tokens: float,
                    price: float | None, precision: str, serving_cost: str) -> dict[str, Any]:
    """The serving section of a plan: the chosen bits and samples, and what serving costs."""
    from planner.serving.qat import qat_fraction
    from planner.systems.shape import shape_for_params

    bits = joint_result.best.bits if joint_result else spec.weight_bits
    k = joint_result.best.samples if joint_result else spec.samples
    chosen = replace(spec, weight_bits=bits, samples=k)
    loss = sol.loss
    dmap = next(iter(maps.values()), None)
    value: float | None = loss
    pass_k = None
    if dmap is not None:
        if objective == "error":
            value = float(dmap.error(loss))
        if task is not None:
            pass_k = float(task.pass_at_k(dmap.accuracy_above_chance(loss), [k])[0])
            if objective == "pass@k":
                value = pass_k
    elif objective != "loss":
        value = None
    cost = serving_cost_of(shape_for_params(sol.params, seq=spec.prompt_tokens + spec.gen_tokens), serve_accel, chosen, precision=precision)
    per_million = cost.gpus_per_replica / cost.decode_tokens_per_s * 1e6 / 3600.0  # GPU-hours per 1M generated tokens
    serving = {
        "pricing": serving_cost,
        "serve_gpu": serve_accel.id,
        "bits": bits,
        "kv_bits": chosen.kv_bits,
        "samples_per_query": k,
        "prompt_tokens": chosen.prompt_tokens,
        "gen_tokens": chosen.gen_tokens,
        "batch": chosen.batch,
        "queries": queries,
        "pass_at_k": pass_k,
        "memory_per_replica_bytes": cost.memory_per_replica_bytes,
        "gpus_per_replica": cost.gpus_per_replica,
        "decode_tokens_per_s": cost.decode_tokens_per_s,
        "decode_bound": cost.bound,
        "latency_s": cost.latency_s,
        "gpu_hours_per_million_tokens": per_million,
        "usd_per_million_tokens": per_million * price if price is not None else None,
        "usd_per_query": cost.gpu_seconds_per_query / 3600.0 * price if price is not None else None,
        "eflops_per_query": cost.eflops_per_query,
        "inference_share": sol.inference_flops / (sol.train_flops + sol.inference_flops) if sol.inference_flops else 0.0,
        "search": None if joint_result is None else {
            "method": joint_result.method,
            "summary": joint_result.summary,
            "choices": [{"bits": c.bits, "samples": c.samples, "params": c.params, "tokens": c.tokens,
                         "loss": c.loss, "objective_value": c.objective_value} for c in joint_result.choices],
        },
    }
    return {
        "objective": objective,
        "objective_value": value,
        "samples_per_query": k,
        "qat_bits": bits,
        "qat_fraction": qat_fraction(sol.params, sol.tokens, bits),
        "serving": MappingProxyType(serving),
    }
