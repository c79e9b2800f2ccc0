"""What the training frameworks do that the step-time model (:mod:`planner.systems.perf`)
counts, each read from the framework's code at the commit named beside it."""

from __future__ import annotations

import numpy as np

__all__ = ["CE_FUSED", "CE_UNFUSED", "PIPELINE_GATHERS", "SOFTMAX_FALLBACK_BYTES", "softmax_falls_back"]

# HBM bytes per logit (one token x one vocabulary entry on one GPU) of the loss, forward and
# backward, counted from the op sequences. Megatron's unfused vocab-parallel cross entropy
# (_VocabParallelCrossEntropy in ORNL's Megatron-DeepSpeed 7f7cea3 and Megatron-Core r0.8.0):
# the GEMM writes bf16 (2), cast to fp32 (2 + 4), max (4), subtract it (4 + 4), exp (4 + 4),
# sum (4), normalise in place (4 + 4) = 40; backward: scale in place (4 + 4), cast back (4 + 2)
# = 14. Transformer Engine's fused Triton kernels (common/triton/cross_entropy.py, 36f2dfd,
# December 2025): the GEMM's write (2), online softmax reads (2), the loss pass writes the
# gradient in place (2 + 2) = 8; backward: element_mul in place (2 + 2) = 4.
CE_UNFUSED, CE_FUSED = (40.0, 14.0), (8.0, 4.0)
# All-gathers over the TP group per micro-batch and stage that a pipeline engine adds to send
# 1/t of each message from each TP rank, when sequence parallelism does not split it already
# (0: every rank sends the whole tensor). Megatron-Core's p2p_communication does not split
# (Megatron-LM d98e8a6). Megatron-LM 2021 gathers each received activation and gradient
# (Narayanan et al. 2021, sec. 4.1, "scatter/gather"; p2p_communication._communicate at
# cbad126). DeepSpeed's PipelineEngine (v0.10.0, is_pipe_partitioned), which
# Megatron-DeepSpeed's GPTModelPipe runs on, also re-gathers a stage's own output before its
# backward.
PIPELINE_GATHERS = {"megatron-core": 0, "megatron-2021": 2, "deepspeed": 3}
# Megatron's softmax fallback (FusedScaleMaskSoftmax.forward_torch_softmax) runs in fp32 under
# Megatron-DeepSpeed's default query-key layer scaling, which also adds the scale op: upcast
# (read 2 bytes per score, write 4), scale (4 + 4), masked fill (4 + 1 for the mask, 4),
# softmax (4 + 4), downcast (4 + 2) = 37 bytes where the fused kernel moves 4; the backward
# passes move 41 where the fused one moves 6. Extra bytes per score, forward and backward:
SOFTMAX_FALLBACK_BYTES = (37.0 - 4.0, 41.0 - 6.0)


def softmax_falls_back(b: np.ndarray, heads_per_gpu: np.ndarray, seq: float, flash_attention: bool) -> np.ndarray:
    """1 where Megatron's attention falls back from its fused causal softmax kernel to PyTorch
    ops, else 0. ``FusedScaleMaskSoftmax.is_kernel_available`` takes the fused kernel only for
    16 < s <= 4096, s divisible by 4 and micro-batch x heads per GPU divisible by the kernel's
    batches per block, which is 4 for s > 128 and 8 below (``get_batch_per_block`` in
    scaled_masked_softmax.h; Megatron-DeepSpeed, e.g. ORNL's fork at commit 7f7cea3, and
    Megatron-LM's megatron/core/fusions/fused_softmax.py at d98e8a6 keep the same rule).
    With flash attention there is no separate softmax.
    """
    if flash_attention:
        return np.zeros_like(np.asarray(b, dtype=float))
    per_block = 4.0 if seq > 128 else 8.0
    batches = np.asarray(b, dtype=float) * np.asarray(heads_per_gpu, dtype=float)
    ok = (16 < seq <= 4096) and seq % 4 == 0
    return np.where(ok & (np.mod(batches, per_block) == 0), 0.0, 1.0)
