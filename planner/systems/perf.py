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
  single-node runs show (per-layer time barely moves from micro-batch 1 to 4).

Calibrated constants live in ``planner/data/calibration.toml`` with how they were fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.defaults import DEFAULT_MEMORY_RESERVE_FRACTION
from planner.hardware.registry import Accelerator
from planner.io.toml import load_packaged_toml
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
    mean_abs_error: float = float("nan")


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
        mean_abs_error=float(c.get("mean_abs_error", float("nan"))),
    )


def _collective_s(
    kind: str, group: np.ndarray, span: np.ndarray, nbytes: np.ndarray, accel: Accelerator, cal: Calibration
) -> np.ndarray:
    """Time of one collective over ``group`` ranks spread across ``span`` consecutive devices.

    Alpha-beta model (one calibrated latency per collective plus bytes over bandwidth),
    hierarchical across nodes as NCCL behaves: the members inside one node combine over the
    fast link, then each of them carries 1/q of the data over its own network port to the
    other nodes (q = members per node). ``kind`` is ``allreduce`` (ring factor 2(n-1)/n),
    ``gather`` (all-gather or reduce-scatter, (n-1)/n) or ``p2p``. A latency growing with
    ring steps (Thakur et al. 2005) fitted the A100 runs no better and ranked vTrain's
    multi-node layouts worse, so the constant form is kept.
    """
    group = np.asarray(group, dtype=float)
    span = np.asarray(span, dtype=float)
    dpn = float(accel.devices_per_node)
    intra = accel.intra_node_link_bytes_per_s
    if accel.devices_per_package > 1 and accel.intra_package_link_bytes_per_s:
        intra = np.where(span <= accel.devices_per_package, accel.intra_package_link_bytes_per_s, intra)
    inter = accel.inter_node_link_bytes_per_s
    eta, eta_net = cal.link_efficiency, cal.network_efficiency

    def factor(n: np.ndarray) -> np.ndarray:
        n = np.maximum(n, 1.0)
        if kind == "allreduce":
            return 2 * (n - 1) / n
        if kind == "gather":
            return (n - 1) / n
        return np.where(n > 1, 1.0, 0.0)

    stride = span / np.maximum(group, 1.0)
    q = np.clip(np.floor(dpn / np.maximum(stride, 1.0)), 1.0, group)  # members per node
    nodes = np.ceil(group / q)
    t_intra = factor(q) * nbytes / (intra * eta)
    t_inter = factor(nodes) * (nbytes / q) / (inter * eta_net)
    if kind == "p2p":  # a neighbour either shares the node or not
        t_intra = np.where(span <= dpn, nbytes / (intra * eta), 0.0)
        t_inter = np.where(span > dpn, nbytes / (inter * eta_net), 0.0)
    return np.where(group > 1, cal.collective_latency_s + t_intra + t_inter, 0.0)


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


#: Bytes of the main (accumulated, all-reduced) gradient per parameter. Megatron-LM trains bf16
#: with fp32 main gradients by default: 18 bytes per parameter without the distributed optimizer,
#: 6 + 12/d with it (Megatron-core developer guide, "Distributed Optimizer"). The ZeRO paper's
#: worked example (Rajbhandari et al. 2020) keeps them in fp16: 2.
MAIN_GRAD_BYTES = 4


def state_bytes_per_param(zero: np.ndarray, d: np.ndarray, main_grad_bytes: float = MAIN_GRAD_BYTES) -> np.ndarray:
    """Model-state bytes per parameter held with mixed-precision Adam: 2 (bf16 weights) +
    ``main_grad_bytes`` + 12 (fp32 master weights and two moments), the ZeRO stage sharding
    the optimizer state (1), then the gradients (2), then the weights (3) over ``d`` ranks.
    With fp16 gradients this is the ZeRO paper's 16, 4 + 12/d, 2 + 14/d, 16/d; with
    Megatron's fp32 main gradients 18, 6 + 12/d, 2 + 16/d, 18/d."""
    zero = np.asarray(zero)
    d = np.asarray(d, dtype=float)
    g = float(main_grad_bytes)
    return np.select([zero == 0, zero == 1, zero == 2], [2 + g + 12, 2 + g + 12 / d, 2 + (g + 12) / d], (2 + g + 12) / d)


def activation_bytes_per_layer(
    shape: ModelShape, t: np.ndarray, sp: np.ndarray, recompute: np.ndarray, tokens: np.ndarray, flash_attention: bool
) -> np.ndarray:
    """Activation bytes one layer keeps for one micro-batch of ``tokens`` tokens per GPU
    (Korthikanti et al. 2022, Table 2; K = 18 + 4 f/h generalises their 34 to MLP width f)."""
    t = np.asarray(t, dtype=float)
    sp = np.asarray(sp, dtype=bool) & (t > 1)
    rc = np.asarray(recompute)
    h, a, f, s = float(shape.hidden), float(shape.heads), float(shape.ffn), float(shape.seq)
    k_act = 18.0 + 4.0 * f / h
    score = 0.0 if flash_attention else 5.0 * a * s / h
    keep = np.where(sp, (k_act + score) / t, 10.0 + (k_act - 10.0) / t + score / t) * tokens * h
    return np.select([rc == 2, rc == 1], [2 * tokens * h / np.where(sp, t, 1.0), keep - score / t * tokens * h], keep)


def memory_per_gpu(
    shape: ModelShape,
    accel: Accelerator,
    global_batch: int,
    layout: dict[str, np.ndarray],
    *,
    flash_attention: bool = True,
    memory_reserve_fraction: float = DEFAULT_MEMORY_RESERVE_FRACTION,
) -> dict[str, np.ndarray]:
    """Peak memory per GPU of each layout: model states (ZeRO), activations, logits."""
    t, p, d, c, v, b = (np.asarray(layout[k], dtype=float) for k in ("t", "p", "d", "c", "v", "b"))
    rc = np.asarray(layout["recompute"], dtype=int)
    sp = np.asarray(layout["sp"], dtype=bool) & (t > 1)
    zero = np.asarray(layout["zero"], dtype=int)
    h, l, V, s = (float(x) for x in (shape.hidden, shape.layers, shape.vocab, shape.seq))
    m = global_batch / (b * d)
    tokens = b * s / c
    layers_stage = np.ceil(l / p)  # the longest stage (uneven splits: shape.pipeline_split)
    psi = (layers_stage * shape.params_per_layer + shape.vocab * shape.hidden) / t
    states = psi * state_bytes_per_param(zero, d)
    act_layer = activation_bytes_per_layer(shape, t, sp, rc, tokens, flash_attention)
    act_full = activation_bytes_per_layer(shape, t, sp, np.zeros_like(rc), tokens, flash_attention)
    in_flight = np.minimum(m, p) / p * np.where(v > 1, 1 + (p - 1) / (p * v), 1.0)
    recompute_peak = np.where(rc == 2, act_full, 0.0)  # one layer rematerialised at a time
    # 1F1B keeps p micro-batches on stage 0, p - 1 on stage 1, ...: l layers' worth for an even
    # split; for Megatron's uneven one (first and last stages shorter) the larger of stage 0's
    # and stage 1's share.
    first = np.floor((l - (p - 2) * layers_stage) / 2)
    front = np.where((l % p == 0) | (p < 3), layers_stage * p, np.maximum(first * p, layers_stage * (p - 1)))
    first_stage = states + front * act_layer * in_flight + recompute_peak
    logits_mem = 4 * tokens * h * (1 + V / h) / t
    last_stage = states + layers_stage * act_layer + logits_mem + recompute_peak
    memory = np.maximum(first_stage, last_stage)
    usable = accel.hbm_bytes * (1 - memory_reserve_fraction)
    return {
        "memory_per_gpu_bytes": memory,
        "model_state_bytes": states,
        "activation_bytes": memory - states,
        "usable_bytes": np.full_like(memory, usable),
        "fits": memory <= usable,
    }


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
) -> dict[str, np.ndarray]:
    """Memory and step time of each layout in ``layout`` (arrays t, p, d, c, v, b,
    recompute (index into RECOMPUTE), sp (0/1), zero (0..3)).

    Returns arrays: ``memory_per_gpu_bytes``, ``fits``, ``step_time_s``, ``mfu``, ``hfu``,
    ``tokens_per_s`` and the step-time parts (``compute_s``, ``bubble_s``, ``tp_comm_s``,
    ``cp_comm_s``, ``dispatch_s`` (GPU idle waiting on the host), ``pp_comm_s``,
    ``dp_exposed_s``, ``optimizer_s``).
    """
    t, p, d, c, v, b = (np.asarray(layout[k], dtype=float) for k in ("t", "p", "d", "c", "v", "b"))
    rc = np.asarray(layout["recompute"], dtype=int)
    sp = np.asarray(layout["sp"], dtype=bool) & (t > 1)
    zero = np.asarray(layout["zero"], dtype=int)
    peak = accel.peak_flops_per_s(precision)
    hbm_bw = accel.hbm_bytes_per_s

    h, a, g, dh, f, l, V, s = (float(x) for x in (shape.hidden, shape.heads, shape.kv_heads, shape.d_head, shape.ffn, shape.layers, shape.vocab, shape.seq))
    m = global_batch / (b * d)  # micro-batches per step
    tokens = b * s / c  # tokens per micro-batch on one GPU (before the TP split)

    # ---- compute per layer per micro-batch (forward)
    per_tok = shape.layer_forward_flops_per_token()
    gemm_f = np.zeros_like(t)
    attn_f = np.zeros_like(t)
    for name, flops_tok in per_tok.items():
        fl = flops_tok * tokens / t
        dur = fl / (peak * gemm_efficiency(fl, peak, accel.gemm_efficiency_max))
        gemm_f = gemm_f + dur
        if name == "attention":
            attn_f = dur
    k_act = 18.0 + 4.0 * f / h  # Korthikanti's 34 for f = 4h
    score = 0.0 if flash_attention else 5.0 * a * s / h
    rest_bytes = np.where(sp, k_act / t, 10.0 + (k_act - 10.0) / t) * tokens * h
    score_bytes = score / t * tokens * h  # attention scores, softmax, dropout (no flash attention)
    score_f = cal.score_traffic * score_bytes / hbm_bw
    mem_f = cal.memory_traffic * rest_bytes / hbm_bw + score_f
    layer_f = gemm_f + mem_f
    recompute_extra = np.select([rc == 2, rc == 1], [layer_f, attn_f + score_f], 0.0)

    # ---- tensor- and context-parallel communication per layer per micro-batch
    tp_one = _collective_s("allreduce", t, t, tokens * h * DTYPE_BYTES, accel, cal)
    tp_f, tp_b = 2 * tp_one, 2 * tp_one + np.where(rc == 2, 2 * tp_one, 0.0)
    kv_bytes = tokens * 2 * g * dh * DTYPE_BYTES / np.minimum(t, g)
    cp_one = _collective_s("gather", c, t * c, c * kv_bytes, accel, cal)

    layers_stage = np.ceil(l / p)  # the longest stage sets the pace
    logits_fl = shape.logits_forward_flops_per_token() * tokens / t
    logits_f = logits_fl / (peak * gemm_efficiency(logits_fl, peak, accel.gemm_efficiency_max)) + cal.memory_traffic * 4 * tokens * (h + V) / t / hbm_bw
    # The host enqueues a layer's kernels while the GPU runs earlier ones: a layer pass takes
    # the longer of its dispatch time and its GPU time, the two combined as a smooth maximum.
    gpu_fwd = layer_f + tp_f + cp_one
    gpu_bwd = 2 * layer_f + recompute_extra + tp_b + cp_one
    layer_fwd = host_overlap(cal.layer_dispatch_s, gpu_fwd, cal.overlap_exponent)
    layer_bwd = host_overlap(cal.layer_dispatch_s * np.where(rc == 2, 3.0, 2.0), gpu_bwd, cal.overlap_exponent)
    dispatch_exposed = layers_stage * (layer_fwd - gpu_fwd + layer_bwd - gpu_bwd)
    stage_f = layers_stage * layer_fwd + logits_f
    stage_b = layers_stage * layer_bwd + 2 * logits_f
    compute_only = layers_stage * (3 * gemm_f + 3 * mem_f + recompute_extra) + 3 * logits_f

    # ---- pipeline
    pp_bytes = tokens * h * DTYPE_BYTES / np.where(sp, t, 1.0)
    pp_msg = _collective_s("p2p", p, n_gpus / p + 1, pp_bytes, accel, cal)  # neighbours are n/p ranks apart
    per_micro = stage_f + stage_b
    bubble = (p - 1) / v * per_micro
    pp_comm = m * 2 * v * pp_msg
    pipe = m * per_micro + bubble + pp_comm

    # ---- data parallelism / ZeRO
    stage_params = layers_stage * shape.params_per_layer + shape.vocab * shape.hidden
    psi = stage_params / t  # parameters held (unsharded) per GPU
    grad_bytes = psi * DTYPE_BYTES
    reduce_t = _collective_s("allreduce", d, t * c * d, grad_bytes, accel, cal)
    # ZeRO-3 / FSDP: every micro-batch gathers the parameters in the forward, again in the
    # backward (and again under full recompute), and reduce-scatters the gradients; each GPU
    # moves (d-1)/d of its stage's parameter bytes per pass through its own port (the network
    # once the DP group leaves the node), not 1/q of them as the hierarchical collective
    # assumes. The traffic overlaps the compute it prefetches for: the step takes the longer.
    passes = 3.0 + (rc == 2)
    port = np.where(t * c * d > accel.devices_per_node, accel.inter_node_link_bytes_per_s * cal.network_efficiency,
                    accel.intra_node_link_bytes_per_s * cal.link_efficiency)
    zero3 = np.where(d > 1, m * passes * (cal.collective_latency_s + grad_bytes * (d - 1) / d / port), 0.0)
    window = np.where(overlap_grad_reduce & (zero < 3), stage_b, 0.0)
    dp_exposed = np.where(zero == 3, np.maximum(0.0, zero3 - pipe), np.maximum(0.0, reduce_t - window))
    opt_params = np.where(zero >= 1, psi / d, psi)
    optimizer = 2 * 16 * opt_params / hbm_bw  # read and write fp32 master + moments

    step = pipe + dp_exposed + optimizer

    mem = memory_per_gpu(shape, accel, global_batch, layout, flash_attention=flash_attention, memory_reserve_fraction=memory_reserve_fraction)
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
        "tp_comm_s": m * layers_stage * (tp_f + tp_b),
        "cp_comm_s": m * layers_stage * 2 * cp_one,
        "dispatch_s": m * dispatch_exposed,
        "pp_comm_s": pp_comm,
        "dp_exposed_s": dp_exposed,
        "optimizer_s": optimizer,
        "microbatches": m,
    }
