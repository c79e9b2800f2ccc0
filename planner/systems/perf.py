"""Memory per GPU and step time of a parallel layout, vectorised over many layouts at once.

Every function takes layout fields as numpy arrays (one entry per candidate), so the same
code evaluates one layout for ``plan layout`` and ~10^5 of them in the exhaustive search.
Formulas (shared/reference/systems.md):

* Model state per GPU, mixed-precision Adam with Megatron's fp32 main gradients, 18
  bytes/parameter: ZeRO-0 18, ZeRO-1 6 + 12/d (Megatron's distributed optimizer), ZeRO-2
  2 + 16/d, ZeRO-3 18/d, of the parameters on this GPU's stage / t (the ZeRO paper's fp16
  gradients give 16, 4 + 12/d, 2 + 14/d, 16/d: ``state_bytes_per_param(..., 2)``).
* Activations per layer per micro-batch (Korthikanti et al. 2022, Table 2, generalised to
  an MLP of width f with K = 18 + 4 f/h in place of 34): no recompute without SP
  ``s b h (10 + (K-10)/t + 5 a s/(h t))``, with SP ``s b h (K + 5 a s / h)/t``; selective
  recompute drops the ``5as/h`` score term; full recompute keeps ``2 s b h`` (/t with SP);
  flash attention removes the score term too. 1F1B keeps p micro-batches in flight on the
  first stage (l layers' worth), interleaving multiplies by 1 + (p-1)/(p v), m < p by m/p;
  the last stage adds fp32 logits ``4 s b h (1 + V/h)/t``.
* Step time: GEMMs at a size-dependent efficiency (Calculon's A100 table expressed as GEMM
  duration at peak, so it carries to other accelerators), memory-bound work as activation
  bytes over HBM bandwidth (times a calibrated traffic factor), collectives by the alpha-beta
  model on the link tier they use (package, node, network; per-direction bandwidth times a
  calibrated efficiency), 1F1B bubble ``(p-1)/v`` micro-batch times, DP gradient reduction
  overlapped with the last backward when asked; ZeRO-3 / FSDP moves the stage's parameters
  through each GPU's own port three times per micro-batch (four under full recompute),
  overlapped with compute as the longer of the two.
  Each layer pass takes the longer of the GPU's work and the host's time to launch it (a
  calibrated smooth maximum): models below ~1B parameters are launch-bound, as vTrain's
  single-node runs show (per-layer time barely moves from micro-batch 1 to 4). Without flash
  attention, where Megatron's fused softmax kernel does not apply, its PyTorch fallback adds
  HBM bytes (counted) and host time (calibrated).
* H100-era terms: the GEMM curve is topped by each accelerator's measured matmul ceiling at the
  training precision (``gemm_efficiency_max[_fp8]`` in hardware.toml); causal flash attention
  runs at its measured throughput (``attention_tflops_by_seq``); FP8 applies to the linear
  layers only, each input cast from BF16; ``tp_overlap`` hides TP traffic behind the linear
  layers (with SP, not under Megatron-FSDP); a fitted per-accelerator ``compute_efficiency``
  scales the kernel benchmarks to what a training step sustains.

Calibrated constants live in ``planner/data/calibration.toml`` with how they were fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.defaults import DEFAULT_MEMORY_RESERVE_FRACTION
from planner.hardware.registry import Accelerator
from planner.io.toml import load_packaged_toml
from planner.systems.collectives import collective_s
from planner.systems.frameworks import (
    CE_FUSED,
    CE_UNFUSED,
    PIPELINE_GATHERS,
    SOFTMAX_FALLBACK_BYTES,
    softmax_falls_back,
)
from planner.systems.memory import (
    MAIN_GRAD_BYTES,
    activation_bytes_per_layer,
    memory_per_gpu,
    stage_embedding_params,
    state_bytes_per_param,
)
from planner.systems.shape import ModelShape

__all__ = ["DTYPE_BYTES", "MAIN_GRAD_BYTES", "RECOMPUTE", "Calibration", "activation_bytes_per_layer", "evaluate", "gemm_efficiency", "host_overlap", "load_calibration", "memory_per_gpu", "state_bytes_per_param"]

RECOMPUTE = ("none", "selective", "full")
DTYPE_BYTES = 2  # bf16 activations, weights and gradients

# Calculon (Isaev et al., SC'23) A100 GEMM efficiency table, as GEMM duration at the A100's
# 312 TFLOP/s: >=128 GFLOP 0.95, >=16 GFLOP 0.90, >=1 GFLOP 0.60, below 0.10. Knots sit at
# the table's thresholds and efficiency is interpolated in log-duration between them.
_A100_PEAK = 312e12
_GEMM_KNOTS_S = np.log10(np.array([1e9 / 16, 1e9, 16e9, 128e9]) / _A100_PEAK)
_GEMM_KNOTS_EFF = np.array([0.10, 0.60, 0.90, 0.95])


def gemm_efficiency(flops: np.ndarray, peak_flops_per_s: float, ceiling: float | None = None) -> np.ndarray:
    """Fraction of peak a GEMM of ``flops`` reaches (by its duration at peak).

    ``ceiling`` (a measured large-GEMM efficiency for the accelerator) rescales the curve.
    """
    dur = np.log10(np.maximum(np.asarray(flops, dtype=float), 1.0) / peak_flops_per_s)
    eff = np.interp(dur, _GEMM_KNOTS_S, _GEMM_KNOTS_EFF)
    return eff if ceiling is None else eff * (ceiling / _GEMM_KNOTS_EFF[-1])


@dataclass(frozen=True)
class Calibration:
    """Constants fitted to measured runs (see ``planner/data/calibration.toml``)."""

    family: str
    memory_traffic: float  # x activation bytes moved by memory-bound kernels per pass
    score_traffic: float  # the same for the attention-score bytes (only without flash attention)
    link_efficiency: float  # fraction of per-direction intra-node bandwidth collectives reach
    network_efficiency: float  # the same for the inter-node network
    collective_latency_s: float  # fixed latency per collective or message
    layer_dispatch_s: float  # host time to launch one layer's forward kernels (backward: 2x)
    overlap_exponent: float  # smooth-maximum exponent joining host and GPU time (1: they add)
    source: str
    #: Host time Megatron's unfused softmax fallback (upcast, scale, mask, softmax, downcast:
    #: five kernels and autograd nodes where the fused path has one) adds to a layer's pass.
    softmax_fallback_s: float = 0.0
    #: Per accelerator id: the fraction of its measured matmul and attention kernel throughput
    #: a training step sustains (clocks under sustained load, kernels sharing SMs with
    #: overlapped communication), fitted on that accelerator's calibration runs. An
    #: accelerator without calibration runs gets 1 (the kernel benchmarks as measured).
    compute_efficiency: tuple[tuple[str, float], ...] = ()

    def compute_efficiency_of(self, accel_id: str, precision: str = "bf16") -> float:
        """The fitted value for ``accel_id`` at ``precision`` (key ``id/precision``: FP8 and
        FP4 runs stress clocks and kernels differently), for FP4 else the FP8 one (NVFP4
        recipes keep part of the model in FP8/BF16), else the BF16 one, else 1."""
        table = dict(self.compute_efficiency)
        for key in (f"{accel_id}/{precision}", f"{accel_id}/fp8" if precision == "fp4" else None, accel_id):
            if key in table:
                return table[key]
        return 1.0
    mean_abs_error: float = float("nan")


def _with_siblings(fitted: dict, same_as: dict) -> tuple[tuple[str, float], ...]:
    """Fitted efficiencies, plus each sibling's (``id`` -> sibling id) under its own keys."""
    out = {str(k): float(v) for k, v in fitted.items()}
    for sibling, source in same_as.items():
        for key, value in list(out.items()):
            if key == source or key.startswith(f"{source}/"):
                out.setdefault(str(sibling) + key[len(source):], value)
    return tuple(sorted(out.items()))


def load_calibration(accel: Accelerator) -> Calibration:
    """The calibration of ``accel``'s family, or the reference family (flagged) if none."""
    table = load_packaged_toml("calibration.toml")
    family = accel.vendor.lower() if accel.vendor.lower() in table else table["reference"]["family"]
    c = table[family]
    return Calibration(
        family=family,
        memory_traffic=float(c["memory_traffic"]),
        score_traffic=float(c["score_traffic"]),
        link_efficiency=float(c["link_efficiency"]),
        network_efficiency=float(c["network_efficiency"]),
        collective_latency_s=float(c["collective_latency_s"]),
        layer_dispatch_s=float(c["layer_dispatch_s"]),
        overlap_exponent=float(c["overlap_exponent"]),
        source=str(c["source"]),
        softmax_fallback_s=float(c.get("softmax_fallback_s", 0.0)),
        compute_efficiency=_with_siblings(c.get("compute_efficiency", {}), c.get("compute_efficiency_same_as", {})),
        mean_abs_error=float(c.get("mean_abs_error", float("nan"))),
    )


def host_overlap(host_s: np.ndarray, gpu_s: np.ndarray, exponent: float) -> np.ndarray:
    """Time of work the host dispatches in ``host_s`` and the GPU executes in ``gpu_s``.

    PyTorch launches kernels asynchronously, so the two overlap: small models wait on the
    host (launch-bound), large ones on the GPU. The p-norm ``(host^k + gpu^k)^(1/k)`` is the
    sum for k = 1 (no overlap) and tends to ``max(host, gpu)`` as k grows. k is fitted, since
    the overlap is imperfect: synchronising calls (collectives, the loss) stall the host.
    """
    host_s, gpu_s = np.asarray(host_s, dtype=float), np.asarray(gpu_s, dtype=float)
    top = np.maximum(np.maximum(host_s, gpu_s), 1e-300)  # scaled so large k cannot underflow
    return top * ((host_s / top) ** exponent + (gpu_s / top) ** exponent) ** (1.0 / exponent)


def evaluate(
    shape: ModelShape,
    accel: Accelerator,
    n_gpus: int,
    global_batch: int,
    layout: dict[str, np.ndarray],
    cal: Calibration,
    *,
    flash_attention: bool = True,
    overlap_grad_reduce: bool = True,
    memory_reserve_fraction: float = DEFAULT_MEMORY_RESERVE_FRACTION,
    precision: str = "bf16",
    tp_overlap: bool = False,
    pipeline_engine: str = "megatron-core",
    fused_cross_entropy: bool = False,
    step_only: bool = False,
) -> dict[str, np.ndarray]:
    """Memory and step time of each layout in ``layout`` (arrays t, p, d, c, v, b,
    recompute (index into RECOMPUTE), sp (0/1), zero (0..3)); ``step_only`` returns just
    ``step_time_s`` (a search ranking layouts whose memory it has already checked).

    Framework choices, the defaults being today's Megatron-Core: ``pipeline_engine`` (one of
    PIPELINE_GATHERS: how pipeline messages travel without sequence parallelism) and
    ``fused_cross_entropy`` (Transformer Engine's fused loss kernel, Megatron's
    ``--cross-entropy-loss-fusion`` with the ``te`` implementation).

    Returns arrays: ``memory_per_gpu_bytes``, ``fits``, ``step_time_s``, ``mfu``, ``hfu``,
    ``tokens_per_s`` and the step-time parts (``compute_s``, ``bubble_s``, ``tp_comm_s``,
    ``cp_comm_s``, ``dispatch_s`` (GPU idle waiting on the host), ``pp_comm_s``,
    ``dp_exposed_s``, ``optimizer_s``).
    """
    if pipeline_engine not in PIPELINE_GATHERS:
        raise ValueError(f"pipeline_engine must be one of {sorted(PIPELINE_GATHERS)}, not {pipeline_engine!r}")
    t, p, d, c, v, b = (np.asarray(layout[k], dtype=float) for k in ("t", "p", "d", "c", "v", "b"))
    rc = np.asarray(layout["recompute"], dtype=int)
    sp = np.asarray(layout["sp"], dtype=bool) & (t > 1)
    zero = np.asarray(layout["zero"], dtype=int)
    peak = accel.peak_flops_per_s(precision)
    hbm_bw = accel.hbm_bytes_per_s
    eta_c = cal.compute_efficiency_of(accel.id, precision)

    h, a, g, dh, f, l, V, s = (float(x) for x in (shape.hidden, shape.heads, shape.kv_heads, shape.d_head, shape.ffn, shape.layers, shape.vocab, shape.seq))
    m = global_batch / (b * d)  # micro-batches per step
    tokens = b * s / c  # tokens per micro-batch on one GPU (before the TP split)

    # ---- compute per layer per micro-batch (forward). Linear layers run at the training
    # precision's peak and that precision's measured large-GEMM ceiling; attention, the
    # logits and the elementwise work stay in BF16 (Transformer Engine's FP8 recipe).
    bf16_peak = accel.peak_flops_per_s("bf16")
    bf16_ceiling = accel.gemm_ceiling("bf16")
    lin_ceiling = accel.gemm_ceiling(precision) or bf16_ceiling
    per_tok = shape.layer_forward_flops_per_token()
    lin_f = np.zeros_like(t)
    for name, flops_tok in per_tok.items():
        if name != "attention":
            fl = flops_tok * tokens / t
            lin_f = lin_f + fl / (eta_c * peak * gemm_efficiency(fl, peak, lin_ceiling))
    attn_fl = per_tok["attention"] * tokens / t  # Megatron's count: the full s x s product
    measured_attn = accel.attention_flops_per_s_at(s) if flash_attention else None
    if measured_attn is not None:
        # A causal flash kernel executes half the product; its measured FLOP/s count the
        # forward and backward (2.5 x the forward) with that halving (FlashAttention-2's benchmark).
        attn_f = 0.5 * attn_fl / (eta_c * measured_attn)
        attn_b = 2.5 * attn_f
    else:
        attn_f = attn_fl / (eta_c * bf16_peak * gemm_efficiency(attn_fl, bf16_peak, bf16_ceiling))
        attn_b = 2.0 * attn_f
    gemm_f = lin_f + attn_f
    k_act = 18.0 + 4.0 * f / h  # Korthikanti's 34 for f = 4h
    score = 0.0 if flash_attention else 5.0 * a * s / h
    rest_bytes = np.where(sp, k_act / t, 10.0 + (k_act - 10.0) / t) * tokens * h
    score_bytes = score / t * tokens * h  # attention scores, softmax, dropout (no flash attention)
    score_f = cal.score_traffic * score_bytes / hbm_bw
    # Where Megatron's fused softmax kernel is unavailable it runs PyTorch ops, which move
    # SOFTMAX_FALLBACK_BYTES more per score (frameworks.py counts them).
    unfused = softmax_falls_back(b, a / t, s, flash_attention)
    unfused_scores = unfused * a * s * tokens / t
    unfused_f, unfused_b = (extra * unfused_scores / hbm_bw for extra in SOFTMAX_FALLBACK_BYTES)
    mem_f = cal.memory_traffic * rest_bytes / hbm_bw + score_f
    if precision != "bf16":
        # Each linear layer's input is cast to FP8 before its GEMM (read 2 bytes, write 1),
        # in the forward and for the two backward GEMMs' inputs.
        mem_f = mem_f + 3.0 * (2 * h + a * dh + f) * tokens / t / hbm_bw
    layer_f = gemm_f + mem_f + unfused_f
    recompute_extra = np.select([rc == 2, rc == 1], [layer_f, attn_f + score_f + unfused_f], 0.0)

    # ---- tensor- and context-parallel communication per layer per micro-batch
    tp_one = collective_s("allreduce", t, t, tokens * h * DTYPE_BYTES, accel, cal)
    tp_f, tp_b = 2 * tp_one, 2 * tp_one + np.where(rc == 2, 2 * tp_one, 0.0)
    if tp_overlap:
        # Megatron's --tp-comm-overlap splits the all-gathers and reduce-scatters into chunks
        # pipelined with the linear layers they feed: only what outlasts those GEMMs shows. It
        # needs sequence parallelism, and Megatron-FSDP (ZeRO-2/3 here) needs
        # CUDA_DEVICE_MAX_CONNECTIONS unset, which the overlap's ordering relies on: not both.
        ov = sp & (zero < 2)
        tp_f = np.where(ov, np.maximum(0.0, tp_f - lin_f), tp_f)
        tp_b = np.where(ov, np.maximum(0.0, tp_b - 2 * lin_f - np.where(rc == 2, lin_f, 0.0)), tp_b)
    kv_bytes = tokens * 2 * g * dh * DTYPE_BYTES / np.minimum(t, g)
    cp_one = collective_s("gather", c, t * c, c * kv_bytes, accel, cal)

    layers_stage = np.ceil(l / p)  # the longest stage sets the pace
    logits_fl = shape.logits_forward_flops_per_token() * tokens / t
    logits_gemm = logits_fl / (eta_c * bf16_peak * gemm_efficiency(logits_fl, bf16_peak, bf16_ceiling))
    vocab_elems = tokens * V / t
    ce_f, ce_b = CE_FUSED if fused_cross_entropy else CE_UNFUSED
    # Under TP the vocab-parallel loss all-reduces three fp32 values per token (the max, the
    # target logit, the sum of exponentials: _VocabParallelCrossEntropy.forward), and the
    # embedding all-reduces its output like a layer does (VocabParallelEmbedding.forward); the
    # embedding's sits on the first stage, the loss stage's only when it is the same one.
    loss_tp = 3 * collective_s("allreduce", t, t, tokens * 4.0, accel, cal) + np.where(p == 1, tp_one, 0.0)
    logits_f = logits_gemm + cal.memory_traffic * 4 * tokens * h / t / hbm_bw + ce_f * vocab_elems / hbm_bw
    logits_b = 2 * logits_gemm + 2 * cal.memory_traffic * 4 * tokens * h / t / hbm_bw + ce_b * vocab_elems / hbm_bw
    # The host enqueues a layer's kernels while the GPU runs earlier ones: a layer pass takes
    # the longer of its dispatch time and its GPU time, the two combined as a smooth maximum.
    bwd_f = 2 * (lin_f + mem_f) + attn_b + unfused_b
    gpu_fwd = layer_f + tp_f + cp_one
    gpu_bwd = bwd_f + recompute_extra + tp_b + cp_one
    # The softmax fallback's extra ops cost host time in each pass that runs it (the forward,
    # the backward, and the recomputed forward under either recompute).
    fallback = cal.softmax_fallback_s * unfused
    host_fwd = cal.layer_dispatch_s + fallback
    host_bwd = cal.layer_dispatch_s * np.where(rc == 2, 3.0, 2.0) + fallback * np.where(rc >= 1, 2.0, 1.0)
    layer_fwd = host_overlap(host_fwd, gpu_fwd, cal.overlap_exponent)
    layer_bwd = host_overlap(host_bwd, gpu_bwd, cal.overlap_exponent)
    dispatch_exposed = layers_stage * (layer_fwd - gpu_fwd + layer_bwd - gpu_bwd)
    stage_f = layers_stage * layer_fwd + logits_f + loss_tp
    stage_b = layers_stage * layer_bwd + logits_b
    compute_only = layers_stage * (layer_f + bwd_f + recompute_extra) + logits_f + logits_b

    # ---- pipeline
    # Each stage sends its activation forward and receives its gradient back per micro-batch.
    # Sequence parallelism leaves 1/t of it on each TP rank; without it the pipeline engine
    # decides (PIPELINE_GATHERS): each rank sends the whole tensor, or 1/t followed by
    # all-gathers over NVLink.
    act_bytes = tokens * h * DTYPE_BYTES
    gathers = PIPELINE_GATHERS[pipeline_engine]
    split = sp | ((gathers > 0) & (t > 1))
    pp_msg = collective_s("p2p", p, n_gpus / p + 1, act_bytes / np.where(split, t, 1.0), accel, cal)  # neighbours are n/p ranks apart
    pp_gather = np.where(~sp & (t > 1) & (p > 1), gathers * collective_s("gather", t, t, act_bytes, accel, cal), 0.0)
    per_micro = stage_f + stage_b
    # Fill and drain run the other stages, which carry no logits: 1F1B takes
    # (p - 1) (F + B) + m (F + B + loss) when the loss stage is the slowest.
    bubble = (p - 1) / v * (per_micro - logits_f - logits_b - loss_tp)
    pp_comm = m * v * (2 * pp_msg + pp_gather)
    pipe = m * per_micro + bubble + pp_comm

    # ---- data parallelism / ZeRO
    stage_params = layers_stage * shape.params_per_layer + stage_embedding_params(shape, p)
    psi = stage_params / t  # parameters held (unsharded) per GPU
    grad_bytes = psi * DTYPE_BYTES
    # Context-parallel ranks hold the same parameters, so gradients are reduced, and ZeRO
    # shards, over the data- and context-parallel ranks together (Megatron-core's dp_cp group;
    # planner/systems/memory.py cites it); those ranks sit next to each other after TP.
    dc = d * c
    reduce_t = collective_s("allreduce", dc, t * dc, grad_bytes, accel, cal)
    # ZeRO-3 / FSDP: every micro-batch gathers the parameters in the forward, again in the
    # backward (and again under full recompute), and reduce-scatters the gradients; each GPU
    # moves (n-1)/n (n = d c) of its stage's parameter bytes per pass through its own port (the
    # network once the DP group leaves the node), not 1/q of them as the hierarchical collective
    # assumes. The traffic overlaps the compute it prefetches for: the step takes the longer.
    passes = 3.0 + (rc == 2)
    port = np.where(t * c * d > accel.devices_per_node, accel.inter_node_link_bytes_per_s * cal.network_efficiency,
                    accel.intra_node_link_bytes_per_s * cal.link_efficiency)
    zero3 = np.where(dc > 1, m * passes * (cal.collective_latency_s + grad_bytes * (dc - 1) / dc / port), 0.0)
    window = np.where(overlap_grad_reduce & (zero < 3), stage_b, 0.0)
    dp_exposed = np.where(zero == 3, np.maximum(0.0, zero3 - pipe), np.maximum(0.0, reduce_t - window))
    opt_params = np.where(zero >= 1, psi / dc, psi)
    optimizer = 2 * 16 * opt_params / hbm_bw  # read and write fp32 master + moments

    step = pipe + dp_exposed + optimizer
    if step_only:
        return {"step_time_s": step}

    mem = memory_per_gpu(shape, accel, global_batch, layout, flash_attention=flash_attention, memory_reserve_fraction=memory_reserve_fraction,
                         precision=precision)
    memory, usable = mem["memory_per_gpu_bytes"], mem["usable_bytes"]

    n = t * p * d * c
    tokens_per_step = global_batch * s
    mfu = shape.model_flops_per_token() * tokens_per_step / (step * n * peak)
    hfu = np.select([rc == 2, rc == 1], [shape.hardware_flops_per_token("full"), shape.hardware_flops_per_token("selective")], shape.model_flops_per_token()) * tokens_per_step / (step * n * peak)
    return {
        "memory_per_gpu_bytes": memory,
        "model_state_bytes": mem["model_state_bytes"],
        "fits": memory <= usable,
        "memory_over_bytes": np.maximum(0.0, memory - usable),
        "step_time_s": step,
        "mfu": mfu,
        "hfu": hfu,
        "tokens_per_s": tokens_per_step / step,
        "compute_s": m * compute_only,
        "bubble_s": bubble,
        "tp_comm_s": m * (layers_stage * (tp_f + tp_b) + loss_tp),
        "cp_comm_s": m * layers_stage * 2 * cp_one,
        "dispatch_s": m * dispatch_exposed,
        "pp_comm_s": pp_comm,
        "dp_exposed_s": dp_exposed,
        "optimizer_s": optimizer,
        "microbatches": m,
    }
