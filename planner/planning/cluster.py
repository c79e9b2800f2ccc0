"""The cluster stage: how many GPUs to train on, recommended by a stated rule.

Without ``--gpus`` the plan evaluates a ladder of cluster sizes -- powers of two below one
node, then whole nodes doubling up to ``--max-gpus`` -- with the layout search at each
size (the layout rounds the Step Law batch to a multiple of its DP x micro-batch, within
``DEFAULT_BATCH_TOLERANCE``) and the MFU that layout predicts. The rule:

    **the smallest cluster on the ladder that trains within the deadline** (``--days``,
    default ``DEFAULT_DEADLINE_DAYS``, a planner setting); if none does, the fastest, with a
    warning that names the relief.

On the step-time model a smaller cluster runs each GPU at least as efficiently at the same
batch (more micro-batches per GPU, less exposed communication), so the smallest cluster
within the deadline is also, up to layout granularity, the one with the fewest GPU-hours;
the table shows both so a reader can check. With ``--gpus`` the table is the
neighbourhood of the given size (a quarter to four times), and the given size is used.
"""

from __future__ import annotations

from collections.abc import Callable

from planner.errors import InfeasiblePlanError, PlannerInputError
from planner.hardware.registry import Accelerator
from planner.planning.records import ClusterChoice, ClusterOption
from planner.systems.layout import BatchTarget, LayoutSearch, search_layouts
from planner.systems.shape import ModelShape
from planner.units import gpu_hours, wall_clock_days

__all__ = ["RULE", "choose_cluster", "evaluate_cluster", "evaluate_sizes", "ladder", "neighbourhood"]

#: Rungs shown around the recommended size: below it and above it (a display choice).
_BELOW, _ABOVE = 2, 3

RULE = "smallest cluster on the ladder that trains within the deadline (else the fastest)"


def ladder(devices_per_node: int, max_gpus: int) -> tuple[int, ...]:
    """Powers of two below one node, then whole nodes doubling, up to ``max_gpus``."""
    sizes = [g for g in (2**i for i in range(31)) if g < devices_per_node and g <= max_gpus]
    g = devices_per_node
    while g <= max_gpus:
        sizes.append(g)
        g *= 2
    return tuple(sizes) or (max_gpus,)


def neighbourhood(gpus: int) -> tuple[int, ...]:
    """The given size with a quarter, half, twice and four times it (whole numbers only)."""
    out = {gpus, 2 * gpus, 4 * gpus}
    out |= {gpus // k for k in (2, 4) if gpus % k == 0}
    return tuple(sorted(out))


def evaluate_cluster(shape: ModelShape, accel: Accelerator, gpus: int, *, train_flops: float, target: BatchTarget,
                     precision: str, peak_flops_per_s: float, goodput: float, deadline_days: float,
                     price: float | None, fixed_mfu: float | None, found: LayoutSearch | None = None) -> ClusterOption:
    """One size: its best layout (``found`` when the plan already searched it), the MFU (the
    layout's, or ``fixed_mfu``), days and GPU-hours."""
    if found is None:
        try:
            found = search_layouts(shape, accel, gpus, target, precision=precision)
        except (InfeasiblePlanError, PlannerInputError) as exc:
            why = exc.binding if isinstance(exc, InfeasiblePlanError) else str(exc)
            return ClusterOption(gpus=gpus, mfu=None, days=None, gpu_hours=None, cost_usd=None, global_batch=None, layout=None,
                                 meets_deadline=False, note=why.split(":")[0])
    mfu = fixed_mfu if fixed_mfu is not None else found.best.mfu
    gpu_h = gpu_hours(train_flops, peak_flops_per_s * mfu)
    days = wall_clock_days(gpu_h, gpus, goodput)
    return ClusterOption(gpus=gpus, mfu=mfu, days=days, gpu_hours=gpu_h, cost_usd=gpu_h * price if price is not None else None,
                         global_batch=found.best.global_batch, layout=str(found.best.layout),
                         meets_deadline=days <= deadline_days)


def evaluate_sizes(sizes: tuple[int, ...], one: Callable[[int], ClusterOption], *, optimistic_days: Callable[[int], float],
                   deadline_days: float, lazy: bool, include: int | None = None) -> tuple[ClusterOption, ...]:
    """Evaluate ``sizes`` (ascending). ``lazy`` (the ladder): skip the sizes that miss the
    deadline even at 100 % MFU (``optimistic_days``) except the two just below, and stop
    three sizes after the first that meets it; with no size meeting it every size is
    evaluated, so the fastest is known. ``include`` (the size the plan was sized on) is
    always evaluated."""
    if not lazy:
        return tuple(one(g) for g in sizes)
    first = next((i for i, g in enumerate(sizes) if optimistic_days(g) <= deadline_days), len(sizes) - 1)
    out: list[ClusterOption] = []
    met = None
    for i in range(max(0, first - _BELOW), len(sizes)):
        out.append(one(sizes[i]))
        if met is None and out[-1].meets_deadline:
            met = i
        if met is not None and i >= met + _ABOVE:
            break
    if include is not None and include not in {o.gpus for o in out}:
        out.append(one(include))
    return tuple(sorted(out, key=lambda o: o.gpus))


def choose_cluster(options: tuple[ClusterOption, ...], *, given: int | None, deadline_days: float,
                   deadline_source: str) -> ClusterChoice:
    """Apply the rule (module docstring) to evaluated options, or keep the given size."""
    usable = [o for o in options if o.mfu is not None]
    if given is not None:
        reason = f"--gpus {given}"
        pick = given
    elif not usable:
        raise InfeasiblePlanError(f"no cluster size up to {max(o.gpus for o in options)} GPUs has a layout that fits the model "
                                  f"({options[-1].note})", "raise --max-gpus, lower --max-params, or pass --gpus with --no-layout")
    else:
        within = [o for o in usable if o.meets_deadline]
        if within:
            best = min(within, key=lambda o: o.gpus)
            reason = f"the smallest cluster that trains within {deadline_days:g} days ({best.days:.1f} days)"
        else:
            best = min(usable, key=lambda o: (o.days, o.gpus))
            reason = (f"no cluster up to {max(o.gpus for o in options)} GPUs trains within {deadline_days:g} days: "
                      f"the fastest ({best.days:.1f} days)")
        pick = best.gpus
    return ClusterChoice(gpus=pick, given=given is not None, deadline_days=deadline_days, deadline_source=deadline_source,
                         rule=RULE if given is None else "given (--gpus)", reason=reason, options=options)

