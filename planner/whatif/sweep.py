"""What-if sweeps: one full plan per point of a cartesian product of flag values.

A sweep is data: :class:`SweepPoint` (the flag values that make the point, as the user would
type them, and the keyword arguments of :func:`planner.plan` they mean) and
:class:`PointResult` (the plan's JSON document, or why there is none). The command line
builds the points with the same option parsing as ``plan`` itself, so a point equals the
plan of the same flags. Running is serial, on local worker processes, or through an optuna
storage (:mod:`planner.whatif.store`) that many machines share.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from planner.defaults import LIMITS
from planner.errors import InfeasiblePlanError, PlannerInputError
from planner.systems.layout import Layout
from planner.units import parse_quantity

__all__ = ["PointResult", "SweepPoint", "expand_axis", "grid", "regime_changes", "row_of", "run_point", "run_points"]


@dataclass(frozen=True)
class SweepPoint:
    """One point: ``label`` maps each swept flag to its value (as text); ``kwargs`` is the plan."""

    index: int
    label: tuple[tuple[str, str], ...]
    kwargs: Mapping[str, Any] = field(hash=False, compare=False)


@dataclass(frozen=True)
class PointResult:
    """A point's plan document (``status`` "optimal"), or ``status`` "infeasible" with why."""

    index: int
    label: tuple[tuple[str, str], ...]
    status: str
    doc: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)
    binding: str = ""
    relief: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "point": dict(self.label), "status": self.status}
        if self.doc is not None:
            out["plan"] = self.doc
        else:
            out.update(binding=self.binding, relief=self.relief)
        return out


def expand_axis(flag: str, text: str) -> list[str]:
    """The values of one swept flag: ``a:b:n`` is n log-spaced values from a to b (both
    positive), ``x,y,z`` a list (in a sweep a comma separates values: write 1000 or 1K, not
    1,000), anything else the one value."""
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise PlannerInputError(f"{flag} {text!r}: a range is START:STOP:COUNT (log-spaced), e.g. 1e21:1e25:9")
        try:
            lo, hi = parse_quantity(parts[0]), parse_quantity(parts[1])
            n = int(parts[2])
        except ValueError as exc:
            raise PlannerInputError(f"{flag} {text!r}: {exc}") from None
        if lo <= 0 or hi <= 0 or n < 1:
            raise PlannerInputError(f"{flag} {text!r}: a log-spaced range needs positive ends and a count of at least 1")
        if n > LIMITS["sweep_points"]:
            raise PlannerInputError(f"{flag} {text!r}: {n} values is above the planner's limit of {LIMITS['sweep_points']:,} points")
        values = [lo] if n == 1 else [math.exp(math.log(lo) + i * (math.log(hi) - math.log(lo)) / (n - 1)) for i in range(n)]
        return list(dict.fromkeys(f"{v:.6g}" for v in values))
    values = [v.strip() for v in text.split(",")]
    if any(not v for v in values):
        raise PlannerInputError(f"{flag} {text!r}: an empty value in the list")
    return list(dict.fromkeys(values))


def grid(axes: Sequence[tuple[str, list[str]]]) -> list[tuple[tuple[str, str], ...]]:
    """The cartesian product of the axes, first axis slowest, as labels."""
    size = math.prod(len(v) for _, v in axes)
    if size > LIMITS["sweep_points"]:
        raise PlannerInputError(f"the sweep has {size:,} points, above the planner's limit of {LIMITS['sweep_points']:,} "
                                "(README, 'Limits'): split it, or run it on a storage with several workers in parts")
    names = [name for name, _ in axes]
    return [tuple(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))]


def run_point(point: SweepPoint) -> PointResult:
    """Plan one point; an infeasible point is a result, not a failure of the sweep."""
    from planner.planning.pipeline import plan

    try:
        doc = plan(**point.kwargs).to_dict()
    except InfeasiblePlanError as exc:
        return PointResult(point.index, point.label, "infeasible", binding=exc.binding, relief=exc.relief)
    return PointResult(point.index, point.label, "optimal", doc=doc)


def run_points(points: Sequence[SweepPoint], *, workers: int = 1,
               progress: Callable[[int, int], None] | None = None) -> list[PointResult]:
    """Every point, in order: here, or on ``workers`` local processes (each plans whole points)."""
    done: list[PointResult] = []
    if workers <= 1:
        for p in points:
            done.append(run_point(p))
            if progress:
                progress(len(done), len(points))
        return done
    import concurrent.futures as cf
    import multiprocessing

    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_point, p) for p in points]
        for fut in cf.as_completed(futures):
            done.append(fut.result())
            if progress:
                progress(len(done), len(points))
    return sorted(done, key=lambda r: r.index)


def _layout_text(doc: Mapping[str, Any]) -> str:
    lay = (doc.get("layout") or {}).get("layout")
    return str(Layout.from_dict(lay)) if lay else "-"


def row_of(result: PointResult) -> dict[str, Any]:
    """The decisions and costs of one point, flat (the table, the CSV and the plots read it)."""
    row: dict[str, Any] = {"index": result.index, **dict(result.label), "status": result.status}
    if result.doc is None:
        row["binding"] = result.binding
        return row
    r, d = result.doc["result"], result.doc
    row.update(
        params=r["params"], train_tokens=r["train_tokens"], tokens_per_param=r["tokens_per_param"], loss=r["loss"],
        total_flops=r["total_flops"], train_flops=r["train_flops"], inference_flops=r["inference_flops"],
        inference_share=r["inference_share"], bits=r["qat_bits"], samples=r["samples_per_query"],
        gpus=(d.get("cluster") or {}).get("gpus"), layout=_layout_text(d), mfu=d["resolved"]["mfu"],
        days=r["wall_clock_days"], gpu_hours=r["gpu_hours"], cost_usd=r["cost_usd"],
        baseline_params=d["baseline"]["params"], baseline_loss=d["baseline"]["loss"], binding=", ".join(r["binding"]),
    )
    return row


#: The decisions whose change between neighbouring points is a regime change, with their words.
REGIME_KEYS = {"bits": "weight bits", "samples": "samples per query", "layout": "layout", "gpus": "cluster GPUs",
               "binding": "binding constraint", "status": "feasibility"}


def regime_changes(rows: Sequence[Mapping[str, Any]], axes: Sequence[str] = ()) -> list[list[str]]:
    """For each row, what changed from the previous point along the first axis with the other
    swept values the same (empty for the first of each series): a new bit width, a jump in k,
    a new layout or cluster, a new binding constraint, a lost plan."""
    out: list[list[str]] = []
    last: dict[tuple, Mapping[str, Any]] = {}
    for row in rows:
        series = tuple(row.get(a) for a in axes[1:])
        prev = last.get(series)
        out.append([] if prev is None else [f"{words} {prev.get(key)} -> {row.get(key)}" for key, words in REGIME_KEYS.items()
                                            if prev.get(key) != row.get(key)])
        last[series] = row
    return out
