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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from planner.defaults import DEFAULT_MEMORY_RESERVE_FRACTION
from planner.errors import PlannerInputError
from planner.hardware.registry import Accelerator
from planner.systems.shape import ModelShape

__all__ = ["ServingSpec", "ServingCost", "kv_bytes_per_token", "serving_cost", "kinetics_eflops", "weight_bound_decode_s", "queries_for", "DEFAULT_PROMPT_TOKENS", "DEFAULT_GEN_TOKENS", "DEFAULT_SERVE_BATCH"]

#: Query defaults: user settings, not measurements (shown as assumptions in every report).
DEFAULT_PROMPT_TOKENS = 1024
DEFAULT_GEN_TOKENS = 512
#: Sequences decoded together per replica. A planner default: hardware.md notes decode stops
#: being weight-bound only near batch = arithmetic intensity (~295 on H100), so 64 keeps
#: weight reads visible. Set --serve-batch from your serving system.
DEFAULT_SERVE_BATCH = 64


@dataclass(frozen=True)
class ServingSpec:
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    gen_tokens: int = DEFAULT_GEN_TOKENS
    samples: int = 1
    weight_bits: int = 16
    kv_bits: int = 16
    batch: int = DEFAULT_SERVE_BATCH
    memory_reserve_fraction: float = DEFAULT_MEMORY_RESERVE_FRACTION

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "gen_tokens", "samples", "batch"):
            if getattr(self, name) < 1:
                raise PlannerInputError(f"{name.replace('_', '-')} must be at least 1")
        if self.weight_bits not in (2, 3, 4, 6, 8, 16) or self.kv_bits not in (4, 8, 16):
            raise PlannerInputError("serving bits: weights 2/3/4/6/8/16, KV 4/8/16")


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
    gpu_seconds_per_query: float
    bound: str  # "memory" or "compute" for decode

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def kv_bytes_per_token(shape: ModelShape, kv_bits: int = 16) -> float:
    """K and V for every layer: 2 l g d_head elements."""
    return 2.0 * shape.layers * shape.kv_heads * shape.d_head * kv_bits / 8


def kinetics_eflops(shape: ModelShape, accel: Accelerator, spec: ServingSpec) -> float:
    """eFLOPs of one query (prefill + k samples), Kinetics' accounting plus weights and prefill."""
    p = float(shape.params)
    k, lin, lout = spec.samples, spec.prompt_tokens, spec.gen_tokens
    d_kv = 2.0 * shape.layers * shape.kv_heads * shape.d_head  # KV elements per token
    r = shape.heads / shape.kv_heads
    intensity = accel.arithmetic_intensity_flop_per_byte
    kv_b = spec.kv_bits / 8
    c_comp = 2 * k * p * lout + 2 * r * k * lin * lout * d_kv + r * k * lout**2 * d_kv
    c_mem = (2 * lin * lout * d_kv + k * lout**2 * d_kv) * kv_b
    prefill = 2 * p * lin + 2 * r * lin * lin * d_kv / 2
    weights = intensity * p * spec.weight_bits / 8 / spec.batch * k * lout
    return c_comp + intensity * c_mem + prefill + weights


def serving_cost(shape: ModelShape, accel: Accelerator, spec: ServingSpec, *, precision: str = "bf16") -> ServingCost:
    """Memory, replica size, roofline decode speed, latency and cost of one query."""
    p = float(shape.params)
    w = p * spec.weight_bits / 8
    kv_tok = kv_bytes_per_token(shape, spec.kv_bits)
    kv_query = kv_tok * (spec.prompt_tokens + spec.samples * spec.gen_tokens)
    # The serving batch holds batch sequences; k samples of a query share its prompt.
    queries_in_batch = max(1.0, spec.batch / spec.samples)
    kv_batch = kv_query * queries_in_batch
    need = w + kv_batch
    usable = accel.hbm_bytes * (1 - spec.memory_reserve_fraction)
    gpus = 1
    while gpus * usable < need:
        gpus *= 2
        if gpus > 4096:
            raise PlannerInputError("serving needs more than 4096 devices per replica: lower the batch or the bits")
    bw = gpus * accel.hbm_bytes_per_s
    peak = gpus * accel.peak_flops_per_s(precision)
    ctx = spec.prompt_tokens + spec.gen_tokens / 2  # mean context during decode
    step_bytes = w + spec.batch * ctx * kv_tok
    attn = 4.0 * shape.layers * shape.heads * shape.d_head * ctx
    step_flops = spec.batch * (2 * p + attn)
    t_mem, t_comp = step_bytes / bw, step_flops / peak
    step = max(t_mem, t_comp)
    prefill = (2 * p * spec.prompt_tokens + 2 * shape.layers * shape.heads * shape.d_head * spec.prompt_tokens**2) / peak
    # One query's k samples decode within the batch: gen_tokens steps.
    latency = prefill + spec.gen_tokens * step
    tokens_per_s = spec.batch / step
    per_query = (prefill + spec.samples * spec.gen_tokens / tokens_per_s) * gpus
    return ServingCost(
        weight_bytes=w,
        kv_bytes_per_token=kv_tok,
        kv_peak_bytes_per_query=kv_query,
        memory_per_replica_bytes=need,
        gpus_per_replica=gpus,
        decode_step_s=step,
        decode_tokens_per_s=tokens_per_s,
        prefill_s=prefill,
        latency_s=latency,
        eflops_per_query=kinetics_eflops(shape, accel, spec),
        gpu_seconds_per_query=per_query,
        bound="memory" if t_mem >= t_comp else "compute",
    )


def weight_bound_decode_s(params: float, bits: int, accel: Accelerator) -> float:
    """Lower bound on one decode step: read every weight once."""
    if params <= 0:
        raise PlannerInputError("params must be positive")
    return params * bits / 8 / accel.hbm_bytes_per_s


def queries_for(infer_tokens: float, gen_tokens: int) -> float:
    """``--infer-tokens`` counts tokens served at one sample per query."""
    return infer_tokens / gen_tokens if gen_tokens else math.inf
