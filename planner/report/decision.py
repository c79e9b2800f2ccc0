"""The report's opening: the decision in five lines, and the cluster table behind it.

Pure rendering of one :class:`~planner.planning.Plan`; every number is read from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.report._safe import Table
from planner.units import fmt_count, fmt_money

if TYPE_CHECKING:
    from planner.planning.records import Plan

__all__ = ["cluster_table", "decision"]


def _shape(plan: Plan) -> str:
    sh = plan.shape
    if sh is None:
        return ""
    return (f" ({sh.layers} layers x {sh.hidden}, {sh.heads} heads / {sh.kv_heads} KV, FFN {sh.ffn}, "
            f"vocab {fmt_count(sh.vocab)}, seq {sh.seq})")


def _cluster_line(plan: Plan) -> str:
    r, v, c, ls = plan.result, plan.resolved, plan.cluster, plan.layout
    if c is None:
        gpus = plan.request.gpus
        where = f"{gpus} x {v.gpu}" if gpus else f"{v.gpu} (no cluster chosen: --no-layout)"
    else:
        why = "given" if c.given else ("recommended" if c.chosen.meets_deadline else "fastest on the ladder")
        where = f"{c.gpus} x {v.gpu} ({why})"
    days = f", {r.wall_clock_days:.1f} days" if r.wall_clock_days is not None else ""
    lay = f" · {ls.best.layout}" if ls is not None else ""
    return f"{where}{days} at {v.mfu:.1%} MFU{lay}"


def decision(plan: Plan) -> Table:
    """Model, data and recipe, cluster and layout, serving, cost: one line each."""
    r, s, rc = plan.result, plan.result.serving, plan.recipe
    served = plan.request.infer_tokens > 0
    lines = [
        ("model", f"{fmt_count(r.params)} params{_shape(plan)}, loss {r.loss:.4f}"),
        ("data", f"{fmt_count(r.train_tokens)} tokens ({r.tokens_per_param:.1f} per parameter); lr {rc.learning_rate:.3g}, "
                 f"batch {rc.batch_sequences:,} x {rc.seq_len}, {rc.steps:,} steps (WSD)"),
        ("cluster", _cluster_line(plan)),
        ("serving", (f"{s.bits}-bit weights (QAT on {s.qat_fraction:.0%} of tokens), {s.kv_bits}-bit KV, k = {s.samples_per_query}, "
                     f"batch {s.batch} on {s.gpus_per_replica} GPU(s) per replica, {s.pricing} pricing") if served
         else "none (no --infer-tokens): 16-bit weights, no QAT"),
        ("cost", f"{fmt_count(r.gpu_hours)} GPU-hours ({r.train_gpu_hours / r.gpu_hours:.0%} training, "
                 f"{r.inference_gpu_hours / r.gpu_hours:.0%} serving)"
                 + (f", {fmt_money(r.cost_usd)}" if r.cost_usd is not None else "")),
    ]
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for name, value in lines:
        grid.add_row(name, value)
    return grid


def cluster_table(plan: Plan) -> Table | None:
    c = plan.cluster
    if c is None:
        return None
    priced = any(o.cost_usd is not None for o in c.options)
    caption = (f"rule: {c.rule}; deadline {c.deadline_days:g} days ({c.deadline_source}). Chosen: {c.gpus} GPUs, {c.reason}. "
               "MFU is the chosen layout's prediction at each size (step-time model); the JSON lists every size evaluated")
    t = Table(title="Cluster" if not c.given else "Cluster (given, with its neighbourhood)", title_justify="left",
              caption=caption, caption_justify="left")
    for col in ("GPUs", "days", "MFU", "GPU-hours", *(("cost",) if priced else ()), "batch", "layout"):
        t.add_column(col, justify="left" if col == "layout" else "right")
    for o in _window(c):
        mark = " *" if o.gpus == c.gpus else ""
        if o.mfu is None:
            t.add_row(f"{o.gpus}{mark}", "-", "-", "-", *(("-",) if priced else ()), "-", f"no layout: {o.note}")
            continue
        late = "" if o.meets_deadline else " (late)"
        t.add_row(f"{o.gpus}{mark}", f"{o.days:.1f}{late}", f"{o.mfu:.1%}", fmt_count(o.gpu_hours),
                  *((fmt_money(o.cost_usd),) if priced else ()), f"{o.global_batch:,}", _compact(o.layout or ""))
    return t


def _window(c: object) -> tuple:
    """The rows shown: two sizes below the chosen one and three above (the JSON has all)."""
    i = next(j for j, o in enumerate(c.options) if o.gpus == c.gpus)
    return c.options[max(0, i - 2): i + 4]


def _compact(layout: str) -> str:
    return " ".join(w for w in layout.split() if w not in ("CP1", "VP1", "none"))
