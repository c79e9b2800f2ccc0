"""Stage 2, resolve: names to objects (accelerators, law, downstream map, task law), the
MFU prior, and the discrete choices the plan will search. Still nothing solved."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from planner.defaults import (
    DEFAULT_SERVING_COST,
    GENERIC_DEFAULT_MFU,
    SEARCHED_WEIGHT_BITS,
)
from planner.errors import PlannerInputError
from planner.hardware.registry import Accelerator, HardwareRegistry, load_registry
from planner.laws.catalog import ChinchillaLaw, DownstreamMap, get_downstream, get_law
from planner.planning.problem import Support
from planner.planning.records import Request
from planner.serving.cost import ServingSpec, queries_for
from planner.serving.task_law import TaskLaw
from planner.serving.tasks import get_task
from planner.systems.shape import smallest_shape_params

__all__ = ["Context", "resolve"]


@dataclass(frozen=True)
class Context:
    """The resolved objects every later stage reads."""

    accel: Accelerator
    serve_accel: Accelerator
    law: ChinchillaLaw
    maps: Mapping[str, DownstreamMap]
    task: TaskLaw | None
    peak_flops_per_s: float
    mfu_prior: float
    mfu_source: str
    serving_cost: str
    spec: ServingSpec
    queries: float
    bits_choices: tuple[int, ...]
    sample_choices: tuple[int, ...]
    warnings: tuple[str, ...]
    support: Support = Support()
    task_coeffs: Any = None  # coefficients of the law whose loss indexes the task law

    @property
    def downstream(self) -> DownstreamMap | None:
        return next(iter(self.maps.values()), None)


def _accelerator(gpu: str | Accelerator, registry: HardwareRegistry | None, files: Iterable[str | Path]) -> Accelerator:
    if isinstance(gpu, Accelerator):
        return gpu
    return (registry if registry is not None else load_registry(files)).get(gpu)


def _sample_grid(req: Request) -> tuple[int, ...]:
    if req.samples is not None:
        return (req.samples,)
    if req.objective != "pass@k":  # loss and error do not depend on k: never search it
        return (1,)
    if req.samples_grid == "pow2":
        return tuple(2**i for i in range(int(math.log2(req.max_samples)) + 1))
    return tuple(range(1, req.max_samples + 1))


def resolve(req: Request, *, gpu: str | Accelerator, law: str | Path | ChinchillaLaw, downstream: Any,
            serve_gpu: str | Accelerator | None, registry: HardwareRegistry | None,
            hardware_files: Iterable[str | Path]) -> Context:
    accel = _accelerator(gpu, registry, hardware_files)
    serve_accel = accel if serve_gpu is None else _accelerator(serve_gpu, registry, hardware_files)
    the_law = law if isinstance(law, ChinchillaLaw) else get_law(law)
    if downstream is None:
        maps = dict(the_law.downstream)
    else:
        dmap = downstream if isinstance(downstream, DownstreamMap) else get_downstream(downstream)
        maps = {dmap.name or dmap.suite: dmap}
    if req.objective == "error" and not maps:
        raise PlannerInputError("--objective error needs a downstream-error map: use a gadre2024-* law or --downstream")
    task = get_task(req.task) if req.task is not None else None
    task_coeffs = (the_law.coeffs if task.loss_law == the_law.name else get_law(task.loss_law).coeffs) if task is not None else None
    peak = accel.peak_flops_per_s(req.precision)
    warnings = []
    prior, prior_source, measured = accel.mfu_prior(req.precision)
    if req.mfu is not None:
        mfu, source = req.mfu, "user-set (--mfu)"
    elif prior is not None:
        mfu, source = prior, prior_source
        if not measured:
            warnings.append(f"{prior_source}; pass --mfu with a measured value")
    else:
        mfu, source = GENERIC_DEFAULT_MFU, "generic planning default: no published run for this accelerator in the registry"
        warnings.append(f"no published MFU for {accel.id}: GPU-hours, cost and wall clock assume "
                        f"{GENERIC_DEFAULT_MFU:.0%} of peak; pass --mfu with a measured value")
    spec = ServingSpec(prompt_tokens=req.prompt_tokens, gen_tokens=req.gen_tokens, kv_bits=req.kv_bits, batch=req.serve_batch,
                       max_batch=req.max_serve_batch, latency_bound_s=req.latency_s, memory_bound_bytes=req.serve_memory_bytes,
                       weight_bits=req.bits or 16, samples=req.samples or 1, verifier_flops_per_sample=verifier_flops_of(req))
    serves = req.infer_tokens > 0
    bits = (req.bits,) if req.bits is not None else (SEARCHED_WEIGHT_BITS if serves else (16,))
    return Context(
        accel=accel, serve_accel=serve_accel, law=the_law, maps=maps, task=task, peak_flops_per_s=peak, mfu_prior=mfu,
        mfu_source=source, serving_cost=req.serving_cost or DEFAULT_SERVING_COST, spec=spec,
        queries=queries_for(req.infer_tokens, req.gen_tokens), bits_choices=bits,
        sample_choices=_sample_grid(req) if serves else ((req.samples or 1),), warnings=tuple(warnings),
        support=Support() if req.extrapolate else task_support(support_of(the_law), task, task_coeffs), task_coeffs=task_coeffs,
    )


def verifier_flops_of(req: Request) -> float:
    """FLOPs to choose among samples, per sample: an automatic verifier's (``verifier_flops``,
    default 0), or a reward model's forward pass over the prompt and the sample, 2 FLOPs per
    parameter per token (Kaplan et al. 2020)."""
    if req.reward_model_params is not None:
        return 2.0 * req.reward_model_params * (req.prompt_tokens + req.gen_tokens)
    return req.verifier_flops


def task_support(support: Support, task: TaskLaw | None, coeffs: Any) -> Support:
    """The task law's rule: no model whose loss under the task's law must be worse than the
    worst model the task law was fitted on (its accuracy would rest on extrapolation alone).
    With at most ``M`` tokens per parameter, that is N >= the N where L(N, M N) = loss_hi
    (with no ratio bound, where L(N, infinite D) = loss_hi)."""
    if task is None:
        return support
    from scipy.optimize import brentq

    ratio = support.max_tokens_per_param

    def excess(log_n: float) -> float:
        n = math.exp(log_n)
        return (coeffs.E + coeffs.A / n**coeffs.alpha + (coeffs.B / (ratio * n) ** coeffs.beta if ratio else 0.0)) - task.loss_hi

    if excess(math.log(1e15)) > 0:
        raise PlannerInputError(f"task law {task.name}: no model reaches its fitted loss range under {task.loss_law}")
    n_min = math.exp(brentq(excess, math.log(1e3), math.log(1e15))) if excess(math.log(1e3)) > 0 else 0.0
    if n_min <= (support.min_params or 0.0):
        return support
    return replace(support, min_params=n_min, source=f"{support.source}; task law {task.name}: N >= {n_min:.3g}, where the best "
                   f"{task.loss_law} loss ({'at ' + format(ratio, 'g') + ' tokens/param' if ratio else 'with unlimited data'}) "
                   f"reaches {task.loss_hi:.4g}, the worst model it was fitted on ({task.sizes[0] if task.sizes else 'its weakest'})")


def support_of(law: ChinchillaLaw) -> Support:
    """Where the law holds: no smaller than its smallest fitted model (nor the smallest model
    the shape rule builds), within its fitted tokens per parameter."""
    lo_n = max(law.fit_params_range[0] if law.fit_params_range else 0.0, smallest_shape_params())
    lo_r, hi_r = law.fit_tokens_per_param_range or (None, None)
    what = [f"N >= {lo_n:.3g}"] + ([f"{lo_r:g} <= D/N <= {hi_r:g}"] if hi_r else [])
    return Support(min_params=lo_n, min_tokens_per_param=lo_r, max_tokens_per_param=hi_r,
                   source=f"{law.name}'s fitted range ({', '.join(what)})")
