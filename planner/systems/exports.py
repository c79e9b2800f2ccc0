"""Launcher exports of a chosen layout: Megatron-LM arguments and a NeMo-style YAML block.

Argument names follow Megatron-LM's ``arguments.py`` and NeMo's GPT config keys.
"""

from __future__ import annotations

from typing import Any

from planner.defaults import DEFAULT_TP_COMM_OVERLAP
from planner.systems.shape import ModelShape, pipeline_layout, pipeline_split

__all__ = ["megatron_args", "nemo_yaml"]

def megatron_args(search_or_result: Any, shape: ModelShape, global_batch: int, *, lr: float | None = None, train_iters: int | None = None,
                  tp_overlap: bool = DEFAULT_TP_COMM_OVERLAP) -> str:
    """Megatron-LM command-line arguments for the layout and shape."""
    lay = search_or_result.layout if hasattr(search_or_result, "layout") else search_or_result
    args = [
        f"--tensor-model-parallel-size {lay.t}", f"--pipeline-model-parallel-size {lay.p}",
        f"--context-parallel-size {lay.c}", f"--micro-batch-size {lay.b}", f"--global-batch-size {global_batch}",
        f"--num-layers {shape.layers}", f"--hidden-size {shape.hidden}", f"--ffn-hidden-size {shape.ffn}",
        f"--num-attention-heads {shape.heads}", f"--seq-length {shape.seq}", f"--max-position-embeddings {shape.seq}",
        "--bf16",
    ]
    uneven = shape.layers % lay.p != 0
    if uneven and lay.v > 1:  # uneven and interleaved: Megatron-core's explicit layout
        args.append(f"--pipeline-model-parallel-layout '{pipeline_layout(shape.layers, lay.p, lay.v)}'")
    elif lay.v > 1:
        args.append(f"--num-layers-per-virtual-pipeline-stage {shape.layers // (lay.p * lay.v)}")
    elif uneven:  # Megatron-LM's uneven split: the middle stages share the rest evenly
        first, _, last = pipeline_split(shape.layers, lay.p)
        args += [f"--decoder-first-pipeline-num-layers {first}", f"--decoder-last-pipeline-num-layers {last}"]
    if shape.kv_heads != shape.heads:
        args += ["--group-query-attention", f"--num-query-groups {shape.kv_heads}"]
    if shape.mlp == "swiglu":
        args.append("--swiglu")
    if lay.sp:
        args.append("--sequence-parallel")
        if tp_overlap:  # the step-time model assumed it (planner default, needs SP)
            args.append("--tp-comm-overlap")
    if lay.recompute == "full":
        args += ["--recompute-granularity full", "--recompute-method uniform", "--recompute-num-layers 1"]
    elif lay.recompute == "selective":
        args.append("--recompute-granularity selective")
    if lay.zero >= 1:
        args.append("--use-distributed-optimizer")
    if lay.d > 1:
        args.append("--overlap-grad-reduce")
    if lr is not None:
        args.append(f"--lr {lr:.3g}")
    if train_iters is not None:
        args.append(f"--train-iters {train_iters}")
    text = " \\\n  ".join(args)
    if lay.zero >= 2:
        text += (f"\n# ZeRO-{lay.zero} was chosen: Megatron's distributed optimizer shards optimizer state only "
                 "(ZeRO-1); shard gradients/parameters with Megatron FSDP or DeepSpeed to match the plan's memory")
    return text


def nemo_yaml(search_or_result: Any, shape: ModelShape, global_batch: int, n_gpus: int, devices_per_node: int, *, lr: float | None = None,
              tp_overlap: bool = DEFAULT_TP_COMM_OVERLAP) -> str:
    """A NeMo-style YAML block (trainer + model parallelism and shape)."""
    lay = search_or_result.layout if hasattr(search_or_result, "layout") else search_or_result
    nodes = max(1, n_gpus // devices_per_node)
    lines = [
        "trainer:",
        f"  num_nodes: {nodes}",
        f"  devices: {min(n_gpus, devices_per_node)}",
        "  precision: bf16-mixed",
        "model:",
        f"  tensor_model_parallel_size: {lay.t}",
        f"  pipeline_model_parallel_size: {lay.p}",
        f"  virtual_pipeline_model_parallel_size: {lay.v if lay.v > 1 else 'null'}",
        f"  context_parallel_size: {lay.c}",
        f"  sequence_parallel: {str(lay.sp).lower()}",
        f"  ub_tp_comm_overlap: {str(bool(lay.sp and tp_overlap)).lower()}",
        f"  micro_batch_size: {lay.b}",
        f"  global_batch_size: {global_batch}",
        f"  encoder_seq_length: {shape.seq}",
        f"  num_layers: {shape.layers}",
        f"  hidden_size: {shape.hidden}",
        f"  ffn_hidden_size: {shape.ffn}",
        f"  num_attention_heads: {shape.heads}",
        f"  num_query_groups: {shape.kv_heads}",
        f"  activation: {'fast-swiglu' if shape.mlp == 'swiglu' else 'gelu'}",
        f"  activations_checkpoint_granularity: {'null' if lay.recompute == 'none' else lay.recompute}",
    ]
    if shape.layers % lay.p and lay.v > 1:  # Megatron-core TransformerConfig's explicit layout
        lines.append(f"  pipeline_model_parallel_layout: '{pipeline_layout(shape.layers, lay.p, lay.v)}'")
    elif shape.layers % lay.p:  # Megatron-core TransformerConfig's uneven pipeline split
        first, _, last = pipeline_split(shape.layers, lay.p)
        lines += [f"  num_layers_in_first_pipeline_stage: {first}", f"  num_layers_in_last_pipeline_stage: {last}"]
    if lay.recompute == "full":
        lines += ["  activations_checkpoint_method: uniform", "  activations_checkpoint_num_layers: 1"]
    lines += ["  optim:", f"    name: {'distributed_fused_adam' if lay.zero >= 1 else 'fused_adam'}"]
    if lr is not None:
        lines.append(f"    lr: {lr:.3g}")
    return "\n".join(lines)
