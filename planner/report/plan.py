"""The terminal report: a :class:`~planner.planning.Plan` rendered with rich.

Pure rendering: takes a Plan, returns a renderable. Tests print it to
``Console(width=..., color_system=None)`` and compare text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from planner.report._safe import Table
from planner.report.decision import cluster_table, decision
from planner.units import fmt_count, fmt_flops, fmt_money

if TYPE_CHECKING:
    from planner.planning.records import Plan

__all__ = ["render_plan"]

_BINDING_WORDS = {
    "lifetime_budget": "lifetime budget",
    "target_loss": "target loss",
    "max_params": "--max-params",
    "max_tokens": "--max-tokens",
    "max_train_flops": "--gpus/--days deadline",
    "law_support_params": "law support (smallest fitted model)",
    "law_support_ratio": "law support (fitted tokens per parameter)",
}


def _headline(plan: Plan) -> str:
    q, v = plan.request, plan.resolved
    where = f"on {v.gpu}"
    if v.objective == "min_loss":
        how = ""
        if v.budget_given_as == "gpu_hours":
            how = f" ({fmt_count(q.gpu_hours)} GPU-hours)"
        elif v.budget_given_as == "dollars":
            how = f" ({fmt_money(q.dollars)} at ${q.price_usd_per_gpu_hour:g}/GPU-h)"
        elif v.budget_given_as == "cluster":
            how = f" ({q.gpus} GPUs x {q.days:g} days)"
        best = {"loss": "Lowest loss", "error": "Lowest downstream error", "pass@k": "Highest pass@k"}[q.objective]
        goal = f"{best} within {fmt_flops(v.budget_flops)} FLOPs lifetime{how}"
    else:
        goal = f"Least lifetime compute reaching loss {q.target_loss:g}"
    served = f", serving {fmt_count(q.infer_tokens)} tokens" if q.infer_tokens else ""
    return f"{goal} {where}{served} · law {v.law}"


def _facts(title: str, *, right: bool = False) -> Table:
    """A two-column table of named facts (names bold; values right-aligned if ``right``)."""
    t = Table(title=title, show_header=False, title_justify="left", box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column(justify="right" if right else "left")
    return t


def _allocation(plan: Plan) -> Table:
    r = plan.result
    t = _facts("Allocation", right=True)
    t.add_row("parameters", fmt_count(r.params))
    t.add_row("training tokens", fmt_count(r.train_tokens))
    t.add_row("tokens per parameter", f"{r.tokens_per_param:.1f}")
    t.add_row("predicted loss", f"{r.loss:.4f}")
    if r.downstream_error:
        for suite, err in r.downstream_error.items():
            t.add_row(f"downstream error ({suite})", f"{err:.1%}")
    else:
        t.add_row("downstream error", "n/a (no map for this law; gadre2024-* laws have one)")
    u = r.uncertainty
    if u is not None:
        lvl = f"{u.level:.0%}"
        t.add_row(f"loss interval ({lvl})", f"{u.loss_interval[0]:.4f} - {u.loss_interval[1]:.4f}")
        for suite, (lo, hi) in u.downstream_error_interval.items():
            t.add_row(f"error interval ({suite})", f"{lo:.1%} - {hi:.1%}")
        if u.params_range and u.tokens_range:
            t.add_row(f"N* across draws ({lvl})", f"{fmt_count(u.params_range[0])} - {fmt_count(u.params_range[1])}")
            t.add_row(f"D* across draws ({lvl})", f"{fmt_count(u.tokens_range[0])} - {fmt_count(u.tokens_range[1])}")
        if u.draws_infeasible:
            t.add_row("draws that cannot reach the target", str(u.draws_infeasible))
    if r.elasticity is not None:
        t.add_row("d log L / d log C", f"{r.elasticity:.4f}")
    t.add_row("binding", ", ".join(_BINDING_WORDS.get(b, b) for b in r.binding) or "none")
    return t


def _compute(plan: Plan) -> Table:
    r = plan.result
    priced = r.cost_usd is not None
    t = Table(title="Compute", title_justify="left", caption="FLOPs are training-FLOP equivalents: GPU-time at the "
              f"training MFU ({plan.resolved.mfu:.1%}); serving is priced by its {plan.resolved.serving_cost} cost model",
              caption_justify="left")
    t.add_column("")
    t.add_column("FLOPs", justify="right")
    t.add_column("share", justify="right")
    t.add_column("GPU-hours", justify="right")
    if priced:
        t.add_column("cost", justify="right")
    price = plan.request.price_usd_per_gpu_hour
    rows = (
        ("training", r.train_flops, r.train_gpu_hours),
        ("inference", r.inference_flops, r.inference_gpu_hours),
        ("lifetime", r.total_flops, r.gpu_hours),
    )
    for name, flops, gh in rows:
        share = f"{flops / r.total_flops:.1%}" if r.total_flops else "-"
        cells = [name, fmt_flops(flops), share, fmt_count(gh)]
        if priced:
            cells.append(fmt_money(gh * price))
        t.add_row(*cells)
    return t


def _baseline(plan: Plan) -> Table:
    r, b = plan.result, plan.baseline
    t = Table(title="Against the Chinchilla-optimal baseline", title_justify="left", caption=b.description, caption_justify="left")
    t.add_column("")
    t.add_column("plan", justify="right")
    t.add_column("baseline", justify="right")
    t.add_row("parameters", fmt_count(r.params), fmt_count(b.params))
    t.add_row("training tokens", fmt_count(r.train_tokens), fmt_count(b.train_tokens))
    t.add_row("tokens per parameter", f"{r.tokens_per_param:.1f}", f"{b.train_tokens / b.params:.1f}")
    t.add_row("loss", f"{r.loss:.4f}", f"{b.loss:.4f}")
    t.add_row("lifetime FLOPs", fmt_flops(r.total_flops), fmt_flops(b.total_flops))
    return t


def _verdict(plan: Plan) -> Text:
    b = plan.baseline
    if plan.resolved.objective == "min_loss":
        return Text(f"Plan loss is {-b.loss_delta:.4f} lower than the baseline at the same budget.")
    return Text(
        f"Plan saves {fmt_flops(b.savings_flops)} FLOPs ({b.savings_fraction:.1%}) of lifetime "
        "compute against the baseline."
    )


def _clock(plan: Plan) -> Text | None:
    r, q, v = plan.result, plan.request, plan.resolved
    if r.wall_clock_days is None:
        return None
    gpus = plan.cluster.gpus if plan.cluster is not None else q.gpus
    return Text(f"Training wall clock on {gpus} x {v.gpu}: {r.wall_clock_days:.1f} days at {v.mfu:.1%} MFU "
                f"and {q.goodput:.0%} goodput.")


def _assumptions(plan: Plan) -> Table:
    t = Table(title="Assumptions", title_justify="left", show_lines=False)
    t.add_column("what")
    t.add_column("value")
    t.add_column("source", overflow="fold")
    for a in plan.assumptions:
        t.add_row(a.name, a.value, a.source)
    return t


def _recipe(plan: Plan) -> Table | None:
    rc = plan.recipe
    if rc is None:
        return None
    t = _facts(f"Training recipe ({rc.rule})", right=True)
    t.add_row("peak / final learning rate", f"{rc.learning_rate:.3g} / {rc.min_learning_rate:.3g}")
    t.add_row("global batch", f"{rc.batch_sequences:,} x {rc.seq_len} = {fmt_count(rc.batch_tokens)} tokens")
    t.add_row("steps", f"{rc.steps:,}")
    t.add_row("warmup / stable / decay", f"{rc.warmup_steps:,} / {rc.stable_steps:,} / {rc.decay_steps:,} (WSD)")
    return t


def _dynamics(plan: Plan) -> list:
    """The recipe's loss curve under a curve law, and what the optimizer is worth (when asked)."""
    d = plan.dynamics or {}
    out: list = []
    if "curve" in d:
        c = d["curve"]
        out.append(Text(f"  loss curve of this recipe under {c['law']} ({c['form']}): {c['loss'][0]:.3f} at step {c['step'][0]:,} -> "
                        f"{c['loss'][-1]:.3f} at {c['step'][-1]:,} ({c['note']}; JSON: dynamics.curve)", style="dim"))
    if "optimizer" in d:
        o = d["optimizer"]
        t = _facts(f"Optimizer: {o['optimizer']} vs AdamW (Wen et al. 2025)", right=True)
        t.add_row("speedup at this N and D", f"{o['speedup']:.2f}x")
        t.add_row("loss on the same tokens", f"{o['loss_with_optimizer']:.4f} (AdamW {o['loss_adamw']:.4f})")
        t.add_row("training compute saved at AdamW's loss", f"{o['train_flops_saved_fraction']:.0%}")
        out += [Text(""), t, Text(f"  {o['note']}", style="dim"), Text(f"  {o['how_read']}", style="dim")]
    return out


def _serving(plan: Plan) -> list:
    r = plan.result
    s = r.serving
    t = _facts(f"Serving ({s.pricing} pricing on {s.serve_gpu})")
    t.add_row("weights / KV", f"{s.bits}-bit weights (QAT on {s.qat_fraction:.0%} of training tokens), {s.kv_bits}-bit KV")
    t.add_row("samples per query", f"{s.samples_per_query} ({s.prompt_tokens} prompt + {s.gen_tokens} generated tokens each): {s.samples_reason}")
    if r.objective != "loss":
        t.add_row(r.objective, f"{r.objective_value:.1%}")
    if s.pass_at_k is not None and r.objective != "pass@k":
        t.add_row(f"pass@{s.samples_per_query}", f"{s.pass_at_k:.1%}")
    t.add_row("replica", f"{s.gpus_per_replica} GPU(s), {s.memory_per_replica_bytes / 1e9:.1f} GB for weights + KV of {s.batch} sequences")
    t.add_row("decode (latency model)", f"{fmt_count(s.decode_tokens_per_s)} tokens/s per replica ({s.decode_bound}-bound); query latency {s.latency_s:.2f} s")
    rate = f"{s.gpu_hours_per_million_tokens:.3g} GPU-h" + (f" (${s.usd_per_million_tokens:.3g})" if s.usd_per_million_tokens is not None else "")
    t.add_row("per million served tokens", f"{rate}, all {s.samples_per_query} sample(s) included")
    if s.pricing == "roofline":
        t.add_row("serving cost by term", ", ".join(f"{k} {v:.0%}" for k, v in s.cost_shares.items()))
    t.add_row("inference share of lifetime compute", f"{s.inference_share:.1%}")
    t.add_row("what mattered", s.search_summary)
    return [Text(""), t]


def _layout(plan: Plan) -> list:
    ls = plan.layout
    if ls is None:
        return []
    b = ls.best
    sh = ls.shape
    t = _facts("Layout")
    t.add_row("model shape", f"{sh.layers} layers x {sh.hidden}, {sh.heads} heads / {sh.kv_heads} KV, {sh.mlp} {sh.ffn}, seq {sh.seq}")
    t.add_row("layout", str(b.layout))
    t.add_row("step time", f"{b.step_time_s:.3g} s for {ls.global_batch} sequences ({fmt_count(b.tokens_per_s)} tokens/s)")
    t.add_row("MFU / HFU", f"{b.mfu:.1%} / {b.hfu:.1%}")
    t.add_row("memory per GPU", f"{b.memory_per_gpu_bytes / 1e9:.1f} of {b.usable_bytes / 1e9:.1f} GB usable")
    t.add_row("why", ls.why)
    return [Text(""), t]


def render_plan(plan: Plan, *, warnings: bool = True) -> Group:
    """The whole report; ``warnings=False`` leaves them to the caller (the CLI prints them to stderr)."""
    parts: list = [
        Panel(Text(_headline(plan), style="bold")),
        decision(plan),
        Text(""),
        _allocation(plan),
        Text(""),
        _compute(plan),
    ]
    clock = _clock(plan)
    if clock is not None:
        parts.append(clock)
    table = cluster_table(plan)
    if table is not None:
        parts += [Text(""), table]
    parts += _layout(plan)
    parts += [Text(""), _baseline(plan), _verdict(plan)]
    parts += _serving(plan)
    recipe = _recipe(plan)
    if recipe is not None:
        parts += [Text(""), recipe]
        parts += [Text(f"  {n}", style="dim") for n in plan.recipe.notes]
    parts += _dynamics(plan)
    parts += [Text(""), _assumptions(plan)]
    for w in plan.warnings if warnings else ():
        parts.append(Text(f"warning: {w}", style="yellow"))
    return Group(*parts)
