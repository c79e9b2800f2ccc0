"""``plan layout``: evaluate or search parallel layouts."""

from __future__ import annotations

from typing import Any

import click

from planner.cli.options import (
    COUNT,
    EXPORT_CHOICES,
    QUANTITY,
    SEED,
    echo_json,
    emit_export,
    hardware_option,
    progress_bar,
)
from planner.defaults import (
    DEFAULT_MEMORY_RESERVE_FRACTION,
    DEFAULT_SEQ_LEN,
    DEFAULT_TOP_LAYOUTS,
)
from planner.errors import PlannerInputError

__all__ = ["layout_command"]


def _shape_options(f: Any) -> Any:
    opts = [
        click.option("--params", type=QUANTITY, help="Parameter count; the Llama-3 shape rule fills in what you do not give."),
        click.option("--layers", type=COUNT),
        click.option("--hidden", type=COUNT),
        click.option("--heads", type=COUNT),
        click.option("--kv-heads", type=COUNT),
        click.option("--ffn", type=COUNT, help="MLP width."),
        click.option("--vocab", type=COUNT),
        click.option("--mlp", type=click.Choice(["swiglu", "gelu"])),
        click.option("--seq", type=COUNT, default=DEFAULT_SEQ_LEN, show_default=True, help="Sequence length."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _layout_options(f: Any) -> Any:
    opts = [
        click.option("--tp", type=COUNT, help="Tensor parallel size (fixed; otherwise searched)."),
        click.option("--pp", type=COUNT, help="Pipeline parallel size."),
        click.option("--dp", type=COUNT, help="Data parallel size."),
        click.option("--cp", type=COUNT, help="Context parallel size."),
        click.option("--vp", type=COUNT, help="Interleaved (virtual) pipeline chunks per rank."),
        click.option("--micro-batch", type=COUNT, help="Micro-batch size in sequences."),
        click.option("--recompute", type=click.Choice(["none", "selective", "full"])),
        click.option("--zero", type=click.IntRange(0, 3), help="ZeRO stage (1 = distributed optimizer)."),
        click.option("--sequence-parallel/--no-sequence-parallel", default=None),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


@click.command("layout")
@click.option("--gpu", default="h100-sxm", show_default=True, help="Accelerator id or alias.")
@click.option("--gpus", type=COUNT, required=True, help="Number of devices.")
@click.option("--global-batch", type=COUNT, help="Global batch in sequences (default: Step Law batch at --tokens).")
@click.option("--tokens", type=QUANTITY, help="Training tokens, for the default batch (default 20 x params).")
@_shape_options
@_layout_options
@click.option("--method", type=click.Choice(["exhaustive", "bayesian"]), default="exhaustive", show_default=True)
@click.option("--trials", type=COUNT, help="Trials for --method bayesian.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--top", "top_k", type=COUNT, default=DEFAULT_TOP_LAYOUTS, show_default=True)
@click.option("--flash-attention/--no-flash-attention", default=True, show_default=True)
@click.option("--memory-reserve", type=QUANTITY, default=DEFAULT_MEMORY_RESERVE_FRACTION, show_default=True, help="Share of HBM kept free (allocator, buffers): a planner default.")
@click.option("--precision", type=click.Choice(["bf16", "fp8", "fp4"]), default="bf16", show_default=True)
@click.option("--export", "export", type=click.Choice(EXPORT_CHOICES), help="The best layout (and, with --tokens, its recipe) as Megatron-LM arguments or a Megatron-Bridge config (nemo: an alias).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the --export to this file.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout.")
@click.option("--storage", help="With --method bayesian: an optuna storage (journal file or database URL) that makes "
                                "the search resumable and shareable.")
@click.option("--study", help="Study name in --storage (needed with it).")
@hardware_option
def layout_command(gpu: str, gpus: int, global_batch: int | None, tokens: float | None, method: str, trials: int | None,
                   seed: int, top_k: int, flash_attention: bool, memory_reserve: float, precision: str, export: str | None,
                   output: str | None, as_json: bool, storage: str | None, study: str | None, hardware_files: tuple[str, ...],
                   **flags: Any) -> None:
    """Evaluate or search parallel layouts: flags you give are held, the rest searched."""
    from planner.systems.layout_request import run_layout

    opened = None
    if storage or study:
        if method != "bayesian" or not (storage and study):
            raise PlannerInputError("--storage and --study go together, with --method bayesian")
        if not study.isprintable() or len(study) > 128:
            raise PlannerInputError(f"--study {study!r}: a name of 1 to 128 printable characters")
        from planner.whatif.store import open_storage

        opened = open_storage(storage)

    with progress_bar("layout search", quiet=as_json or method != "bayesian") as progress:
        found, warnings, doc, exported = run_layout(
            gpu=gpu, gpus=gpus, global_batch=global_batch, tokens=tokens, method=method, trials=trials, seed=seed, top_k=top_k,
            flash_attention=flash_attention, memory_reserve=memory_reserve, precision=precision, export=export,
            hardware_files=hardware_files, flags=flags, storage=opened, study=study, progress=progress,
        )
    for w in warnings:
        click.echo(f"plan: warning: {w}", err=True)
    if output and exported is None:
        raise PlannerInputError("-o writes an --export: give --export FORMAT")
    if exported is not None:
        emit_export(exported, output, as_json)
    elif as_json:
        echo_json(doc)
    else:
        from rich.console import Console

        from planner.report import render_layouts

        Console().print(render_layouts(found, doc["gpu"]))

