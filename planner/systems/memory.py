"""Memory per GPU of a parallel layout, vectorised over many layouts at once (formulas in
:mod:`planner.systems.perf`'s docstring and shared/reference/systems.md)."""

from __future__ import annotations

import numpy as np

from planner.defaults import DEFAULT_MEMORY_RESERVE_FRACTION
from planner.hardware.registry import Accelerator
from planner.systems.shape import ModelShape

__all__ = ["MAIN_GRAD_BYTES", "activation_bytes_per_layer", "memory_per_gpu", "stage_embedding_params", "state_bytes_per_param"]


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
    shape: ModelShape, t: np.ndarray, sp: np.ndarray, recompute: np.ndarray, tokens: np.ndarray, flash_attention: bool,
    precision: str = "bf16",
) -> np.ndarray:
    """Activation bytes one layer keeps for one micro-batch of ``tokens`` tokens per GPU
    (Korthikanti et al. 2022, Table 2; K = 18 + 4 f/h generalises their 34 to MLP width f).

    In FP8 (and FP4) the four linear layers keep the quantised copy of their input for the
    weight-gradient GEMM, one byte an element, not the BF16 one: Transformer Engine's
    ``_Linear.forward`` saves ``inputmat``, the FP8 cast, unless wgrad runs in higher precision
    (github.com/NVIDIA/TransformerEngine, transformer_engine/pytorch/module/linear.py, commit
    0004dbd). Of Korthikanti's bytes per token and hidden unit that halves the QKV and MLP
    inputs (2 each, replicated without SP), the attention-output input (2) and the MLP's second
    input (2 f/h).
    FP4 recipes keep at most as many bytes, so FP8's count is the conservative one for both."""
    t = np.asarray(t, dtype=float)
    sp = np.asarray(sp, dtype=bool) & (t > 1)
    rc = np.asarray(recompute)
    h, a, f, s = float(shape.hidden), float(shape.heads), float(shape.ffn), float(shape.seq)
    k_act = 18.0 + 4.0 * f / h
    score = 0.0 if flash_attention else 5.0 * a * s / h
    low = precision in ("fp8", "fp4")
    shared_saving = 2.0 if low else 0.0  # QKV and MLP inputs: 1 byte each saved
    split_saving = 1.0 + f / h if low else 0.0  # attention-output and second MLP inputs
    keep = np.where(sp, (k_act - shared_saving - split_saving + score) / t,
                    10.0 - shared_saving + (k_act - 10.0 - split_saving) / t + score / t) * tokens * h
    return np.select([rc == 2, rc == 1], [2 * tokens * h / np.where(sp, t, 1.0), keep - score / t * tokens * h], keep)


def stage_embedding_params(shape: ModelShape, p: np.ndarray) -> np.ndarray:
    """Embedding parameters on the most loaded pipeline stage: the input embedding, plus the
    untied output layer when one stage holds both ends (Megatron-LM's
    ``compute_weight_and_optimizer_memory``)."""
    one = float(shape.vocab * shape.hidden)
    return np.where((np.asarray(p) == 1) & (not shape.tied_embeddings), 2 * one, one)


def memory_per_gpu(
    shape: ModelShape,
    accel: Accelerator,
    global_batch: int,
    layout: dict[str, np.ndarray],
    *,
    flash_attention: bool = True,
    memory_reserve_fraction: float = DEFAULT_MEMORY_RESERVE_FRACTION,
    precision: str = "bf16",
) -> dict[str, np.ndarray]:
    """Peak memory per GPU of each layout: model states (ZeRO), activations, logits.

    The ZeRO stages shard over the data- and context-parallel ranks together: the context-
    parallel ranks hold the same parameters, and Megatron-core builds its distributed optimizer
    (and Megatron-FSDP its shards) on that group (``data_parallel_group=dp_cp_group`` in
    megatron/core/optimizer/__init__.py, github.com/NVIDIA/Megatron-LM commit d98e8a6).
    Megatron's own ``theoretical_memory_usage`` divides by the data-parallel size alone, so it
    overstates runs with context parallelism."""
    t, p, d, c, v, b = (np.asarray(layout[k], dtype=float) for k in ("t", "p", "d", "c", "v", "b"))
    rc = np.asarray(layout["recompute"], dtype=int)
    sp = np.asarray(layout["sp"], dtype=bool) & (t > 1)
    zero = np.asarray(layout["zero"], dtype=int)
    h, l, V, s = (float(x) for x in (shape.hidden, shape.layers, shape.vocab, shape.seq))
    m = global_batch / (b * d)
    tokens = b * s / c
    layers_stage = np.ceil(l / p)  # the longest stage (uneven splits: shape.pipeline_split)
    psi = (layers_stage * shape.params_per_layer + stage_embedding_params(shape, p)) / t
    states = psi * state_bytes_per_param(zero, d * c)
    act_layer = activation_bytes_per_layer(shape, t, sp, rc, tokens, flash_attention, precision)
    act_full = activation_bytes_per_layer(shape, t, sp, np.zeros_like(rc), tokens, flash_attention, precision)
    in_flight = np.minimum(m, p) / p * np.where(v > 1, 1 + (p - 1) / (p * v), 1.0)
    recompute_peak = np.where(rc == 2, act_full, 0.0)  # one layer rematerialised at a time
    # 1F1B keeps p micro-batches on stage 0, p - 1 on stage 1, ...: l layers' worth for an even
    # split; for Megatron's uneven one (first and last stages shorter) the larger of stage 0's
    # and stage 1's share.
    first = np.floor((l - (p - 2) * layers_stage) / 2)
    front = np.where((l % p == 0) | (p < 3), layers_stage * p, np.maximum(first * p, layers_stage * (p - 1)))
    # The embedding's input ids (8 bytes a token) and its output, for the micro-batches in
    # flight (Megatron-LM's theoretical_memory_usage counts both on the first stage).
    embed_act = (8 + h) * tokens * p * in_flight / t
    first_stage = states + front * act_layer * in_flight + embed_act + recompute_peak
    logits_mem = 4 * tokens * h * (1 + V / h) / t
    last_stage = states + layers_stage * act_layer + logits_mem + recompute_peak
    memory = np.maximum(first_stage, last_stage)
    usable = accel.memory_capacity_bytes * (1 - memory_reserve_fraction)
    return {
        "memory_per_gpu_bytes": memory,
        "model_state_bytes": states,
        "activation_bytes": memory - states,
        "usable_bytes": np.full_like(memory, usable),
        "fits": memory <= usable,
    }
