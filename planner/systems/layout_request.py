"""The work behind ``plan layout``: options in, a JSON document (and an export) out."""

from __future__ import annotations

from typing import Any

from planner.defaults import LIMITS
from planner.errors import PlannerInputError
from planner.hardware.registry import load_registry
from planner.laws.recipe import training_recipe
from planner.systems.exports import LaunchConfig, LaunchSpec
from planner.systems.exports import export as export_config
from planner.systems.layout import (
    Layout,
    LayoutSearch,
    calibration_warnings,
    evaluate_layout,
    search_layouts,
)
from planner.systems.perf import RECOMPUTE, load_calibration
from planner.systems.shape import (
    LLAMA3_RULE,
    ModelShape,
    complete_shape,
    shape_for_params,
)
from planner.validate import MAX_COUNT, check_int, check_positive

__all__ = ["default_global_batch", "run_layout", "shape_from_flags"]

_SHAPE_KEYS = ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "mlp")


def shape_from_flags(params: float | None, seq: int, flags: dict[str, Any]) -> ModelShape:
    given = {k: flags[k] for k in _SHAPE_KEYS if flags.get(k) is not None}
    if "layers" in given:
        check_int("--layers", given["layers"], maximum=LIMITS["layers"])
    if params is None and not ("layers" in given and "hidden" in given):
        raise PlannerInputError("give --params, or at least --layers and --hidden, to describe the model")
    if params is None:
        # An explicit shape: the Llama 3 rule fills head size, MLP width and vocabulary, but
        # KV heads default to the query heads (plain multi-head attention, as GPT-style
        # shapes given by hand usually are) unless --kv-heads says otherwise.
        heads = given.get("heads") or max(1, given["hidden"] // LLAMA3_RULE["head_dim"])
        return complete_shape(seq=seq, **{"heads": heads, "kv_heads": heads, **given})
    return shape_for_params(params, seq=seq, **given)


def default_global_batch(shape: ModelShape, tokens: float | None, gpus: int) -> tuple[int, str]:
    """Step Law batch at ``tokens`` (default 20 tokens/parameter), in sequences, a multiple of gpus."""
    d = tokens or 20.0 * shape.params
    r = training_recipe(shape.params, d, seq_len=shape.seq, batch_multiple=gpus)
    why = f"Step Law batch for {d:.3g} tokens{' (20 tokens/parameter)' if tokens is None else ''}, rounded to a multiple of {gpus}"
    if r.batch_sequences > MAX_COUNT:
        raise PlannerInputError(f"the Step Law batch for {d:.3g} tokens is {r.batch_sequences:.3g} sequences, more than any "
                                "layout can hold: give fewer --tokens or a --global-batch")
    return r.batch_sequences, why


def run_layout(*, gpu: str, gpus: int, global_batch: int | None, tokens: float | None, method: str, trials: int | None,
               seed: int, top_k: int, flash_attention: bool, memory_reserve: float, precision: str, export: str | None,
               hardware_files: tuple[str, ...], flags: dict[str, Any], storage: Any = None,
               study: str | None = None, progress: Any = None) -> tuple[LayoutSearch, tuple[str, ...], dict[str, Any], LaunchConfig | None]:
    """The ``plan layout`` answer for these options: the search (or the one evaluation) as a
    record, its warnings, its JSON document, and the launcher export when asked."""
    if not 0 <= memory_reserve < 1:
        raise PlannerInputError(f"--memory-reserve must be in [0, 1), got {memory_reserve}")
    check_int("--gpus", gpus, maximum=LIMITS["gpus"])
    check_int("--trials", trials, maximum=LIMITS["trials"])
    check_positive("--tokens", tokens)
    check_positive("--params", flags.get("params"))
    accel = load_registry(hardware_files).get(gpu)
    shape = shape_from_flags(flags.get("params"), flags["seq"], flags)
    warnings: list[str] = []
    if global_batch is None:
        global_batch, why_batch = default_global_batch(shape, tokens, gpus)
        warnings.append(f"global batch {global_batch} sequences: {why_batch}; set --global-batch")
    fixed = {
        "t": flags.get("tp"), "p": flags.get("pp"), "d": flags.get("dp"), "c": flags.get("cp"), "v": flags.get("vp"),
        "b": flags.get("micro_batch"),
        "recompute": None if flags.get("recompute") is None else RECOMPUTE.index(flags["recompute"]),
        "sp": None if flags.get("sequence_parallel") is None else int(flags["sequence_parallel"]),
        "zero": flags.get("zero"),
    }
    cal = load_calibration(accel)
    warnings += calibration_warnings(accel, cal)
    kw = dict(precision=precision, memory_reserve_fraction=memory_reserve, flash_attention=flash_attention)
    full = all(v is not None for v in fixed.values())
    if full:
        lay = Layout(fixed["t"], fixed["p"], fixed["d"], fixed["c"], fixed["v"], fixed["b"], flags["recompute"], bool(fixed["sp"]), fixed["zero"])
        if lay.t * lay.p * lay.d * lay.c != gpus:
            raise PlannerInputError(f"TP x PP x DP x CP = {lay.t * lay.p * lay.d * lay.c}, not --gpus {gpus}")
        if global_batch % (lay.b * lay.d):
            raise PlannerInputError(f"global batch {global_batch} is not a multiple of micro-batch x DP = {lay.b * lay.d}")
        best = evaluate_layout(shape, accel, gpus, global_batch, lay, calibration=cal, **kw)
        why = ("all layout flags given: evaluated as is" if best.fits else
               f"does not fit: needs {best.memory_per_gpu_bytes / 1e9:.1f} GB per GPU, "
               f"{(best.memory_per_gpu_bytes - best.usable_bytes) / 1e9:.1f} GB over the {best.usable_bytes / 1e9:.1f} GB usable")
        found = LayoutSearch(best=best, top=(best,), method="evaluation", evaluated=1, space_size=1, why=why, calibration=cal,
                             shape=shape, global_batch=global_batch, n_gpus=gpus)
    else:
        found = search_layouts(shape, accel, gpus, global_batch, fixed=fixed, method=method, top_k=top_k, trials=trials,
                               seed=seed, calibration=cal, storage=storage, study=study, progress=progress, **kw)
    doc = {"schema_version": "1.0", "gpu": accel.id, **found.to_dict(record=False), "warnings": warnings}
    exported = None
    if export is not None:
        # The recipe travels with the layout when the tokens are known: its batch is the layout's.
        recipe = (training_recipe(shape.params, tokens, seq_len=shape.seq, batch_sequences=found.global_batch,
                                  batch_note=f"batch {found.global_batch} sequences, as given to the layout")
                  if tokens is not None else None)
        exported = export_config(export, LaunchSpec(shape=shape, layout=found.best.layout, global_batch=found.global_batch, n_gpus=gpus,
                                                    devices_per_node=accel.devices_per_node, precision=precision, recipe=recipe))
    return found, tuple(warnings), doc, exported
