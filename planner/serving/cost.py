"""Serving cost on a real accelerator: KV cache, weight bytes, roofline decode, eFLOPs.

All formulas from shared/reference/inference.md:

* KV cache per token: ``2 l g d_head`` elements at the KV width (GQA-aware; d_head from the
  architecture). Llama-3-8B bf16: 128 KiB/token; 70B: 320 KiB.
* Prefill is compute-bound: ``2 P`` FLOPs per prompt token plus attention.
* A decode step for a batch moves the weights (``P bits/8``) plus the KV it reads and does
  ``2 P`` FLOPs per sequence plus attention; its time is the roofline
  ``max(bytes / bandwidth, FLOPs / peak)``. Weights alone bound Llama-3-8B bf16 at
  >= 4.8 ms/token on an H100 SXM.
* Best-of-k with a shared prompt: the prompt is prefilled once, k samples are decoded;
  peak KV ~ ``kv_per_token (L_in + k L_out)``.
* Kinetics (Sadhukhan et al. 2025) eFLOPs per query with k samples:
  ``C_comp = 2 k P L_out + 2 r k L_in L_out D_kv + r k L_out^2 D_kv``,
  ``C_mem = 2 L_in L_out D_kv + k L_out^2 D_kv`` (the prompt's KV is shared), and
  ``eFLOPs = C_comp + I C_mem`` with I the accelerator's FLOP/byte intensity. Prefill
  (``2 P L_in``) is added, and weight reads at the serving batch (``I P bits/8 / batch`` per
  decoded token), which Kinetics treats as amortised.
* Replica memory: weights plus the KV of one serving batch of ``batch / k`` queries.

The serving batch is a plan choice unless ``--serve-batch`` fixes it
(:func:`serve_batch`): the largest batch whose KV cache fits beside the weights in the
replica, that meets any latency bound, up to ``--max-serve-batch``. A replica holds its
weights in at most ``DEFAULT_WEIGHT_SHARE`` of its usable memory (one GPU at least); the
replica is sized continuously here so the cost stays smooth in N, and the report's replica
(a power of two of GPUs) always holds at least that memory.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from planner.defaults import (
    DEFAULT_GEN_TOKENS,
    DEFAULT_MAX_SERVE_BATCH,
    DEFAULT_MEMORY_RESERVE_FRACTION,
    DEFAULT_PROMPT_TOKENS,
    DEFAULT_WEIGHT_SHARE,
    KV_BITS,
    LIMITS,
    WEIGHT_BITS,
)
from planner.errors import InfeasiblePlanError, PlannerInputError
from planner.hardware.registry import Accelerator
from planner.systems.shape import ModelShape

__all__ = [
    "DEFAULT_GEN_TOKENS",
    "DEFAULT_PROMPT_TOKENS",
    "ServingCost",
    "ServingSpec",
    "batch_of",
    "check_bits",
    "kinetics_eflops",
    "kinetics_parts",
    "kinetics_parts_of",
    "kv_bytes_per_token",
    "prefill_flops",
    "queries_for",
    "replica_memory_bytes",
    "serve_batch",
    "serving_cost",
    "weight_bound_decode_s",
]


def check_bits(weight_bits: int, kv_bits: int) -> None:
    """The one check of serving widths (cost model and Kumar et al.'s law accept these)."""
    if weight_bits not in WEIGHT_BITS or kv_bits not in KV_BITS:
        raise PlannerInputError(
            f"serving bits: weights {'/'.join(map(str, WEIGHT_BITS))}, KV {'/'.join(map(str, KV_BITS))}; "
            f"got {weight_bits} and {kv_bits}"
        )


@dataclass(frozen=True)
class ServingSpec:
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    gen_tokens: int = DEFAULT_GEN_TOKENS
    samples: int = 1
    weight_bits: int = 16
    kv_bits: int = 16
    #: Sequences decoded together; None: chosen (:func:`serve_batch`) up to ``max_batch``.
    batch: int | None = None
    max_batch: int = DEFAULT_MAX_SERVE_BATCH
    #: Query latency (s) and replica memory (bytes) the chosen batch must meet; None: no bound.
    latency_bound_s: float | None = None
    memory_bound_bytes: float | None = None
    memory_reserve_fraction: float = DEFAULT_MEMORY_RESERVE_FRACTION
    weight_share: float = DEFAULT_WEIGHT_SHARE
    #: FLOPs spent choosing among the k samples, per sample (a verifier or a reward model).
    verifier_flops_per_sample: float = 0.0

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "gen_tokens", "samples", "max_batch"):
            if getattr(self, name) < 1:
                raise PlannerInputError(f"{name.replace('_', '-')} must be at least 1")
        if self.batch is not None and self.batch < 1:
            raise PlannerInputError("serve-batch must be at least 1")
        if not (0 <= self.verifier_flops_per_sample < float("inf")):
            raise PlannerInputError("--verifier-flops must be a finite number >= 0")
        check_bits(self.weight_bits, self.kv_bits)

    @property
    def seq(self) -> int:
        """Longest context of one sample: its prompt and its generation."""
        return self.prompt_tokens + self.gen_tokens


@dataclass(frozen=True)
class ServingCost:
    weight_bytes: float
    kv_bytes_per_token: float
    kv_peak_bytes_per_query: float
    memory_per_replica_bytes: float
    gpus_per_replica: int
    decode_step_s: float  # one step of the serving batch
    decode_tokens_per_s: float  # per replica, all sequences in the batch
    prefill_s: float  # one query's prompt
    latency_s: float  # prefill + gen_tokens decode steps of one query's k samples
    eflops_per_query: float
    bound: str  # "memory" or "compute" for decode
    batch: int  # sequences decoded together (chosen or given)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def kv_elements_per_token(layers: float, kv_width: float) -> float:
    """K and V for every layer: 2 l g d_head elements (``kv_width`` = g d_head)."""
    return 2.0 * layers * kv_width


def kv_bytes_per_token(shape: ModelShape, kv_bits: int = 16) -> float:
    return kv_elements_per_token(shape.layers, shape.kv_heads * shape.d_head) * kv_bits / 8


def prefill_flops(shape: ModelShape, prompt_tokens: int) -> float:
    """One prompt's prefill: 2 P per token plus the attention scores, 2 l a d_head L_in^2."""
    return _prefill_flops_of(float(shape.params), shape.layers, shape.heads * shape.d_head, prompt_tokens)


def _prefill_flops_of(params: float, layers: float, q_width: float, prompt_tokens: int) -> float:
    return 2.0 * params * prompt_tokens + 2.0 * layers * q_width * prompt_tokens**2


def _decode_flops_per_sequence(params: float, layers: float, q_width: float, context: float) -> float:
    """One decode step of one sequence: 2 P plus attention over ``context`` tokens, 4 l a d_head ctx."""
    return 2.0 * params + 4.0 * layers * q_width * context


def _kv_per_slot(kv_tok: float, spec: ServingSpec) -> float:
    """KV bytes one batch slot holds: its sample's generation and its share of the prompt."""
    return kv_tok * (spec.prompt_tokens / spec.samples + spec.gen_tokens)


def serve_batch(params: float, layers: float, q_width: float, kv_width: float, accel: Accelerator,
                spec: ServingSpec, precision: str = "bf16") -> float:
    """Sequences decoded together: ``spec.batch`` when given, else the largest batch (a real
    number, so costs stay smooth in N) that fits the replica's memory and ``spec``'s latency
    and memory bounds, at most ``spec.max_batch``. Below 1 when even one sequence misses a
    bound (the plan's cap on N comes from that).

    The replica's usable memory is ``max(one GPU, weights / weight_share)``; its bandwidth
    and peak scale with it. Latency is prefill plus ``gen_tokens`` roofline decode steps.
    """
    if spec.batch is not None:
        return float(spec.batch)
    usable = accel.memory_capacity_bytes * (1 - spec.memory_reserve_fraction)
    weights = params * spec.weight_bits / 8
    gpus = max(1.0, weights / spec.weight_share / usable)
    kv_tok = kv_elements_per_token(layers, kv_width) * spec.kv_bits / 8
    memory = gpus * usable if spec.memory_bound_bytes is None else min(gpus * usable, spec.memory_bound_bytes)
    batch = min(float(spec.max_batch), (memory - weights) / _kv_per_slot(kv_tok, spec))
    if spec.latency_bound_s is not None:
        bw, peak = gpus * accel.hbm_bytes_per_s, gpus * accel.peak_flops_per_s(precision)
        prefill = _prefill_flops_of(params, layers, q_width, spec.prompt_tokens) / peak
        step = (spec.latency_bound_s - prefill) / spec.gen_tokens  # longest decode step allowed
        ctx = spec.prompt_tokens + spec.gen_tokens / 2
        by_bytes = (step * bw - weights) / (ctx * kv_tok)
        by_flops = step * peak / _decode_flops_per_sequence(params, layers, q_width, ctx)
        batch = min(batch, by_bytes, by_flops)
    return max(0.0, batch)


def batch_of(shape: ModelShape, accel: Accelerator, spec: ServingSpec, precision: str = "bf16") -> int:
    """The serving batch for a concrete shape, in whole sequences."""
    b = serve_batch(float(shape.params), shape.layers, shape.heads * shape.d_head, shape.kv_heads * shape.d_head,
                    accel, spec, precision)
    return max(1, math.floor(b + 1e-9))


def replica_memory_bytes(shape: ModelShape, spec: ServingSpec, batch: float) -> float:
    """Weights plus the KV cache of one serving batch (k samples of a query share its prompt)."""
    kv_query = kv_bytes_per_token(shape, spec.kv_bits) * (spec.prompt_tokens + spec.samples * spec.gen_tokens)
    queries_in_batch = max(1.0, batch / spec.samples)
    return shape.params * spec.weight_bits / 8 + kv_query * queries_in_batch


def kinetics_parts_of(params: float, layers: float, q_width: float, kv_width: float, accel: Accelerator,
                      spec: ServingSpec) -> dict[str, float]:
    """eFLOPs of one query split by how they scale with the model (the one formula).

    ``linear`` grows with P (matmuls of prefill and decode, weight reads at the serving
    batch), ``attention`` with layers x query width (score FLOPs of prefill and decode),
    ``kv`` with layers x KV width (KV-cache reads). Their sum is Kinetics' eFLOPs plus
    prefill and weights (module docstring). Widths are a d_head and g d_head.
    """
    k, lin, lout = spec.samples, spec.prompt_tokens, spec.gen_tokens
    intensity = accel.arithmetic_intensity_flop_per_byte
    width = 2.0 * layers * q_width  # r D_kv: attention FLOPs per token pair / 2
    d_kv = kv_elements_per_token(layers, kv_width)
    batch = max(1.0, serve_batch(params, layers, q_width, kv_width, accel, spec))
    parts = {
        "linear": params * (2 * lin + 2 * k * lout + intensity * spec.weight_bits / 8 / batch * k * lout),
        "attention": width * (2 * k * lin * lout + k * lout**2 + lin * lin),
        "kv": intensity * d_kv * spec.kv_bits / 8 * (2 * lin * lout + k * lout**2),
    }
    if spec.verifier_flops_per_sample > 0:  # compute-bound scoring: its FLOPs at peak
        parts["verifier"] = k * spec.verifier_flops_per_sample
    return parts


def kinetics_parts(shape: ModelShape, accel: Accelerator, spec: ServingSpec) -> dict[str, float]:
    """:func:`kinetics_parts_of` for a concrete shape."""
    return kinetics_parts_of(float(shape.params), shape.layers, shape.heads * shape.d_head, shape.kv_heads * shape.d_head,
                             accel, spec)


def kinetics_eflops(shape: ModelShape, accel: Accelerator, spec: ServingSpec) -> float:
    """eFLOPs of one query (prefill + k samples), Kinetics' accounting plus weights and prefill."""
    return sum(kinetics_parts(shape, accel, spec).values())


def serving_cost(shape: ModelShape, accel: Accelerator, spec: ServingSpec, *, precision: str = "bf16") -> ServingCost:
    """Memory, replica size, roofline decode speed and latency of one query.

    This is the latency and memory model (decode step = max of bytes over bandwidth and
    FLOPs over peak). What serving *costs* in a plan is priced by the plan's one serving
    cost model (:mod:`planner.serving.joint`), never from these rates.
    """
    p = float(shape.params)
    w = p * spec.weight_bits / 8
    kv_tok = kv_bytes_per_token(shape, spec.kv_bits)
    batch = batch_of(shape, accel, spec, precision)
    need = replica_memory_bytes(shape, spec, batch)
    usable = accel.memory_capacity_bytes * (1 - spec.memory_reserve_fraction)
    at_least = 1.0 if spec.batch is not None else max(1.0, w / spec.weight_share / usable)  # the batch was sized on this
    gpus = 1
    while gpus < at_least - 1e-9 or gpus * usable < need:
        gpus *= 2
        if gpus > LIMITS["gpus"]:
            raise InfeasiblePlanError(f"one serving replica of the {p:.3g}-parameter model needs more than {LIMITS['gpus']:,} "
                                      f"{accel.id} devices", "lower --serve-batch or the bits, or plan a smaller model (--max-params)")
    bw = gpus * accel.hbm_bytes_per_s
    peak = gpus * accel.peak_flops_per_s(precision)
    ctx = spec.prompt_tokens + spec.gen_tokens / 2  # mean context during decode
    step_bytes = w + batch * ctx * kv_tok
    step_flops = batch * _decode_flops_per_sequence(p, shape.layers, shape.heads * shape.d_head, ctx)
    t_mem, t_comp = step_bytes / bw, step_flops / peak
    step = max(t_mem, t_comp)
    prefill = prefill_flops(shape, spec.prompt_tokens) / peak
    return ServingCost(
        weight_bytes=w,
        kv_bytes_per_token=kv_tok,
        kv_peak_bytes_per_query=kv_tok * (spec.prompt_tokens + spec.samples * spec.gen_tokens),
        memory_per_replica_bytes=need,
        gpus_per_replica=gpus,
        decode_step_s=step,
        decode_tokens_per_s=batch / step,
        prefill_s=prefill,
        latency_s=prefill + spec.gen_tokens * step,  # one query's k samples decode within the batch
        eflops_per_query=kinetics_eflops(shape, accel, spec),
        bound="memory" if t_mem >= t_comp else "compute",
        batch=batch,
    )


def weight_bound_decode_s(params: float, bits: int, accel: Accelerator) -> float:
    """Lower bound on one decode step: read every weight once."""
    if params <= 0:
        raise PlannerInputError("params must be positive")
    return params * bits / 8 / accel.hbm_bytes_per_s


def queries_for(infer_tokens: float, gen_tokens: int) -> float:
    """``--infer-tokens`` counts tokens served at one sample per query."""
    return infer_tokens / gen_tokens if gen_tokens else math.inf
