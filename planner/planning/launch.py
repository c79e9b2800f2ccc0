"""A plan as a launcher configuration: the one solution's shape, layout, cluster, precision and
recipe handed to :func:`planner.systems.exports.export` (``Plan.export`` calls this)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.errors import InfeasiblePlanError
from planner.systems.exports import LaunchConfig, LaunchSpec, export

if TYPE_CHECKING:
    from planner.planning.records import Plan

__all__ = ["export_plan", "launch_spec"]


def launch_spec(plan: Plan) -> LaunchSpec:
    """What the exports need, read from ``plan`` (its layout, the recipe that matches it)."""
    ls = plan.layout
    if ls is None:
        raise InfeasiblePlanError("the plan has no layout to export (planned with choose_layout=False, or none fits)",
                                  "plan with a layout (drop --no-layout), use more GPUs, or pass --max-params")
    return LaunchSpec(shape=ls.shape, layout=ls.best.layout, global_batch=ls.global_batch, n_gpus=ls.n_gpus,
                      devices_per_node=plan.accelerator.devices_per_node if plan.accelerator else 8,
                      precision=plan.resolved.precision, recipe=plan.recipe)


def export_plan(plan: Plan, fmt: str) -> LaunchConfig:
    """``plan`` as Megatron-LM arguments or a Megatron-Bridge config (see ``exports.FORMATS``)."""
    return export(fmt, launch_spec(plan))
