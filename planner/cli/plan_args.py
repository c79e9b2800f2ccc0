"""From the root command's parsed flags to :func:`planner.plan`'s arguments, and scenario
files onto those flags: one translation that ``plan``, ``plan sweep`` and ``plan compare``
share, so a swept or compared point is exactly the plan of the same flags."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

__all__ = ["SCENARIO_KEYS", "apply_scenario", "plan_kwargs"]

# Scenario-file key -> click parameter name (the same words as the flags).
SCENARIO_KEYS = {
    "budget": "budget",
    "gpu_hours": "gpu_hours",
    "dollars": "dollars",
    "price": "price",
    "gpus": "gpus",
    "days": "days",
    "target_loss": "target_loss",
    "infer_tokens": "infer_tokens",
    "gpu": "gpu",
    "law": "law",
    "max_params": "max_params",
    "max_tokens": "max_tokens",
    "mfu": "mfu",
    "precision": "precision",
    "downstream": "downstream",
    "lr_rule": "lr_rule",
    "seq_len": "seq_len",
    "warmup_fraction": "warmup_fraction",
    "goodput": "goodput",
    "objective": "objective",
    "samples": "samples",
    "bits": "bits",
    "kv_bits": "kv_bits",
    "prompt_tokens": "prompt_tokens",
    "gen_tokens": "gen_tokens",
    "serve_batch": "serve_batch",
    "max_serve_batch": "max_serve_batch",
    "verifier_flops": "verifier_flops",
    "reward_model": "reward_model_params",
    "max_gpus": "max_gpus",
    "extrapolate": "extrapolate",
    "max_unique_tokens": "max_unique_tokens",
    "serve_gpu": "serve_gpu",
    "serve_memory": "serve_memory",
    "latency": "latency_s",
    "task": "task",
    "serving_cost": "serving_cost",
    "curve_law": "curve_law",
    "optimizer": "optimizer",
}
_SCENARIO_INFO = {"title", "description"}



def plan_kwargs(flags: dict[str, Any], hardware_files: tuple[str, ...]) -> dict[str, Any]:
    """Keyword arguments of :func:`planner.plan` for the root command's flags."""
    kwargs = dict(
        gpu=flags["gpu"],
        budget_flops=flags["budget"],
        gpu_hours=flags["gpu_hours"],
        dollars=flags["dollars"],
        price_usd_per_gpu_hour=flags["price"],
        gpus=flags["gpus"],
        days=flags["days"],
        target_loss=flags["target_loss"],
        infer_tokens=flags["infer_tokens"],
        max_params=flags["max_params"],
        max_tokens=flags["max_tokens"],
        mfu=flags["mfu"],
        precision=flags["precision"],
        downstream=flags["downstream"],
        lr_rule=flags["lr_rule"],
        seq_len=flags["seq_len"],
        warmup_fraction=flags["warmup_fraction"],
        goodput=flags["goodput"],
        choose_layout=flags["choose_layout"],
        objective=flags["objective"],
        samples=flags["samples"],
        max_samples=flags["max_samples"],
        samples_grid=flags["samples_grid"],
        bits=int(flags["bits"]) if flags["bits"] else None,
        kv_bits=int(flags["kv_bits"]),
        prompt_tokens=flags["prompt_tokens"],
        gen_tokens=flags["gen_tokens"],
        serve_batch=flags["serve_batch"],
        max_serve_batch=flags["max_serve_batch"], verifier_flops=flags["verifier_flops"], reward_model_params=flags["reward_model_params"],
        max_gpus=flags["max_gpus"],
        extrapolate=flags["extrapolate"],
        max_unique_tokens=flags["max_unique_tokens"],
        serve_gpu=flags["serve_gpu"],
        serve_memory_bytes=flags["serve_memory"],
        latency_s=flags["latency_s"],
        task=flags["task"],
        serving_cost=flags["serving_cost"],
        curve_law=flags["curve_law"],
        optimizer=flags["optimizer"],
        hardware_files=hardware_files,
    )
    if flags["law"]:
        kwargs["law"] = flags["law"]
    return kwargs


def apply_scenario(ctx: click.Context, path: str, flags: dict[str, Any]) -> dict[str, Any]:
    """Fill every flag the user did not type from the scenario file."""
    from planner.errors import PlannerInputError
    from planner.io.toml import check_keys, load_toml_file

    data = load_toml_file(path, "scenario")
    data = data.get("plan", data) if isinstance(data.get("plan"), dict) else data
    check_keys(f"scenario {path}", data, set(SCENARIO_KEYS) | _SCENARIO_INFO)
    out = dict(flags)
    for key, name in SCENARIO_KEYS.items():
        if key not in data:
            continue
        if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            continue
        param = next(p for p in ctx.command.params if p.name == name)
        value = data[key]
        is_flag = bool(getattr(param, "is_flag", False)) or isinstance(param.type, click.types.BoolParamType)
        if isinstance(value, bool) != is_flag:  # TOML's types are checked, never coerced (true is not 1 FLOP)
            raise PlannerInputError(f"scenario {path}: '{key}' must be {'true or false' if is_flag else 'a number or text'}, "
                                    f"got {value!r}")
        if isinstance(param.type, click.types.IntParamType) and isinstance(value, float) and not value.is_integer():
            raise PlannerInputError(f"scenario {path}: '{key}' must be a whole number, got {value}")
        try:
            out[name] = param.type_cast_value(ctx, value)
        except click.BadParameter as exc:
            raise PlannerInputError(f"scenario {path}: '{key}': {exc.message}") from None
    return out
