"""Serving lowered onto the planning problem, and the way back.

The plan prices training and serving in one currency: **GPU-time, stated as training-FLOP
equivalents**. Training's ``6 N D`` useful FLOPs run at the training MFU ``m`` on a peak of
``P_t``; one training-FLOP equivalent is therefore ``1 / (m P_t)`` GPU-seconds, and a FLOPs
budget means that much GPU-time. Serving is priced by one of two cost models, chosen once
(``--serving-cost``) and never by which serving flags are named:

* ``flops`` (Sardana et al. 2024's accounting): ``2 N`` FLOPs per generated token, ``k``
  samples per served query token, run like training FLOPs (at the training MFU on the
  training accelerator). Cost ``2 N k D_inf``: one monomial, exact.
* ``roofline`` (Kinetics, Sadhukhan et al. 2025): eFLOPs per query on the serving
  accelerator (:func:`planner.serving.cost.kinetics_parts_of`). eFLOPs count time at peak:
  one query takes ``eFLOPs / P_s`` GPU-seconds, i.e. ``eFLOPs m P_t / P_s`` training-FLOP
  equivalents. As a function of N the parts scale with N (matmuls, weight reads), layers x
  width (attention) and layers x KV width (KV reads), taken from the shape rule's smooth
  form (:func:`planner.systems.shape.smooth_dims`) so the cost is smooth in N. The GP takes
  them as monomials matched in value and slope at a point N0 (:meth:`terms`); the plan
  re-matches at the new optimum until N settles, and :meth:`cost` is the exact way back.
  The serving section's memory and latency use the discrete shape.

Low-precision serving enters the loss through Kumar et al.'s effective parameters
(:func:`planner.serving.qat.precision_factor`): the law seen by the solver is
``L(rho N, D)``, i.e. ``A`` becomes ``A rho^-alpha``; :func:`served_loss` maps back.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from planner.defaults import OBJECTIVES
from planner.errors import PlannerInputError
from planner.hardware.registry import Accelerator
from planner.laws.catalog import DownstreamMap
from planner.serving.cost import (
    ServingSpec,
    batch_of,
    kinetics_parts_of,
    replica_memory_bytes,
    serving_cost,
)
from planner.serving.qat import precision_factor
from planner.serving.task_law import TaskLaw
from planner.systems.shape import shape_for_params, smooth_dims
from planner.units import gpu_hours

__all__ = ["OBJECTIVES", "ServingLowering", "latency_of", "max_params_within", "memory_of", "objective_value", "served_coefficients", "serving_cap", "serving_terms", "task_loss"]

def _parts(params: float, accel: Accelerator, spec: ServingSpec) -> dict[str, float]:
    return kinetics_parts_of(params, *smooth_dims(params), accel, spec)


_FLAT_EXPONENT = 1e-6  # a numerical floor, not a measurement


def serving_terms(params: float, accel: Accelerator, spec: ServingSpec, queries: float) -> tuple[tuple[float, float], ...]:
    """Lifetime serving eFLOPs as monomials ``(coef, exponent)`` in N, each matched to the
    smooth cost in value and in log-slope at ``params`` (the local monomial approximation
    of Boyd et al. 2007, "A tutorial on geometric programming", sec. 8): at a fixed point of
    re-matching, the GP's optimality conditions are those of the exact problem.
    """
    step = 1e-4  # central difference in log N (a numerical setting; the cost is smooth in N)
    here = _parts(params, accel, spec)
    up, down = _parts(params * math.exp(step), accel, spec), _parts(params * math.exp(-step), accel, spec)
    out = []
    for name, value in here.items():
        if value <= 0:
            continue
        # A part flat in N (per-step overheads dominate a tiny model) keeps a tiny positive slope:
        # the GP takes increasing monomials only; its value at ``params`` stays exact.
        e = max((math.log(up[name]) - math.log(down[name])) / (2 * step), _FLAT_EXPONENT)
        out.append((queries * value / params**e, e))
    return tuple(out)


@dataclass(frozen=True)
class ServingLowering:
    """How serving enters the declared problem, for one (bits, k) choice.

    ``flops_per_gpu_s`` is the training GPU's useful FLOP/s (``m P_t``): it turns costs in
    training-FLOP equivalents into GPU-seconds and back.
    """

    cost_model: str  # "flops" or "roofline"
    spec: ServingSpec
    accel: Accelerator  # serving accelerator (roofline)
    queries: float
    flops_per_gpu_s: float

    @property
    def served_tokens(self) -> float:
        """Query output tokens at one sample per query (``--infer-tokens``)."""
        return self.queries * self.spec.gen_tokens

    @property
    def _eflop_value(self) -> float:
        """Training-FLOP equivalents of one eFLOP: ``m P_t / P_s``."""
        return self.flops_per_gpu_s / self.accel.bf16_flops_per_s

    def terms(self, n0: float) -> tuple[tuple[float, float], ...]:
        """Lifetime serving cost as monomials in N (training-FLOP equivalents), exact at ``n0``."""
        if self.queries <= 0:
            return ()
        if self.cost_model == "flops":
            return ((2.0 * self.spec.samples * self.served_tokens, 1.0),)
        w = self._eflop_value
        no_check = replace(self.spec, verifier_flops_per_sample=0.0)  # constant in N: see constant_cost
        return tuple((c * w, e) for c, e in serving_terms(n0, self.accel, no_check, self.queries))

    def constant_cost(self) -> float:
        """Lifetime cost that does not depend on the model (choosing among the k samples), in
        training-FLOP equivalents: the solver takes it off the budget instead of as a term."""
        check = self.queries * self.spec.samples * self.spec.verifier_flops_per_sample
        return check if self.cost_model == "flops" else check * self._eflop_value

    def cost_per_query(self, params: float) -> float:
        """One query (prompt plus k samples) in training-FLOP equivalents, exact."""
        if self.cost_model == "flops":
            return self.spec.samples * (2.0 * params * self.spec.gen_tokens + self.spec.verifier_flops_per_sample)
        return self._eflop_value * sum(_parts(params, self.accel, self.spec).values())

    def cost(self, params: float) -> float:
        """Lifetime serving cost in training-FLOP equivalents, exact: the way back from :meth:`terms`."""
        return self.queries * self.cost_per_query(params) if self.queries > 0 else 0.0

    def gpu_hours(self, params: float) -> float:
        return gpu_hours(self.cost(params), self.flops_per_gpu_s)

    def gpu_hours_per_query(self, params: float) -> float:
        return gpu_hours(self.cost_per_query(params), self.flops_per_gpu_s)

    def gpu_hours_per_million_tokens(self, params: float) -> float:
        """GPU-hours per million served tokens (query output at one sample per query)."""
        return self.gpu_hours_per_query(params) / self.spec.gen_tokens * 1e6

    def dominant_terms(self, params: float) -> dict[str, float]:
        """Share of serving cost by part (roofline: linear / attention / KV; flops: all linear)."""
        if self.cost_model == "flops":
            per = self.cost_per_query(params)
            check = self.spec.samples * self.spec.verifier_flops_per_sample / per
            return {"linear": 1.0 - check, "verifier": check} if check > 0 else {"linear": 1.0}
        parts = _parts(params, self.accel, self.spec)
        total = sum(parts.values())
        return {k: v / total for k, v in parts.items()}


def served_coefficients(coeffs: object, weight_bits: int, kv_bits: int) -> object:
    """The law the solver sees at these serving widths: ``L(rho N, D)`` as ``A rho^-alpha``."""
    rho = precision_factor(weight_bits, kv_bits)
    return replace(coeffs, A=coeffs.A * rho ** (-coeffs.alpha))  # type: ignore[type-var]


def task_loss(coeffs: object, params: float, tokens: float, weight_bits: int, kv_bits: int) -> float:
    """A model's loss under a task law's own scaling law (``coeffs``), at its serving widths."""
    return float(served_coefficients(coeffs, weight_bits, kv_bits).loss(params, tokens))  # type: ignore[attr-defined]


def objective_value(objective: str, loss: float, dmap: DownstreamMap | None, task: TaskLaw | None, k: int,
                    task_loss: float | None = None) -> float:
    """The one formula for a plan's objective: loss, downstream error, or pass@k (the task law
    at ``task_loss``, the model's loss under the task law's own scaling law)."""
    if objective == "loss":
        return loss
    if objective == "error":
        if dmap is None:
            raise ValueError("objective error needs a downstream map")
        return float(dmap.error(loss))
    if task is None or task_loss is None:
        raise ValueError("pass@k needs a task law and the model's loss under its scaling law")
    return float(task.pass_at_k(task_loss, [k])[0])


def max_params_within(limit: float, fn: Callable[[float], float], lo: float = 1e6, hi: float = 1e14,
                      step: float = 1.05) -> float | None:
    """Largest N below the first N (scanning up from ``lo`` by factors of ``step``, then
    bisecting) where ``fn(N)`` exceeds ``limit``. ``fn`` grows with N only roughly: on the
    discrete shapes, memory and latency jump between depths, so the scan finds the first
    crossing instead of trusting a bisection of the whole range.

    Returns None when no N in [lo, hi] exceeds the limit (no cap); ``lo`` itself when even
    ``lo`` exceeds it (the caller reports that bound as unreachable).
    """
    if fn(lo) > limit:
        return lo
    a = lo
    while a < hi:
        b = min(a * step, hi)
        if fn(b) > limit:
            break
        a = b
    else:
        return None
    la, lb = math.log(a), math.log(b)
    for _ in range(40):
        mid = (la + lb) / 2
        if fn(math.exp(mid)) <= limit:
            la = mid
        else:
            lb = mid
    return math.exp(la)


@functools.lru_cache(maxsize=4096)
def serving_cap(what: str, limit: float, accel: Accelerator, spec: ServingSpec) -> tuple[float | None, bool]:
    """(largest N whose ``what`` -- ``latency`` or ``serving_memory`` -- stays within ``limit``,
    whether the bound is reachable at all). Cached: the bound does not depend on the law or the
    MFU, so bootstrap draws and fixed-point rounds reuse it."""
    def fn(n: float) -> float:
        return latency_of(n, accel, spec) if what == "latency" else memory_of(n, accel, spec)

    n_max = max_params_within(limit, fn)
    return n_max, n_max is None or fn(n_max) <= limit


def latency_of(params: float, accel: Accelerator, spec: ServingSpec) -> float:
    """One query's latency; infinite where no replica of at most 4096 devices serves the model."""
    try:
        return serving_cost(shape_for_params(params, seq=spec.seq), accel, spec).latency_s
    except PlannerInputError:
        return math.inf


def memory_of(params: float, accel: Accelerator, spec: ServingSpec) -> float:
    shape = shape_for_params(params, seq=spec.seq)
    return replica_memory_bytes(shape, spec, batch_of(shape, accel, spec))
