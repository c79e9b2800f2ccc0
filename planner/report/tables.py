"""Tables for the commands other than the plan itself: fits, layouts, sample fits, the
hardware registry, predictions and the QAT sub-question. Pure: data in, renderables out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from planner.units import fmt_count

if TYPE_CHECKING:
    from planner.laws.lawfit import FitOutcome

__all__ = ["render_fit", "render_layouts", "render_sample_fits"]


def render_fit(outcome: FitOutcome, max_outliers: int = 10) -> Group:
    """A fitted law: coefficients with intervals, fit quality, outliers."""
    o = outcome
    what = {"chinchilla": "L = E + A/N^alpha + B/D^beta", "overtrain": "L = E + A/N^alpha + B/D^alpha (alpha = beta)",
            "downstream": "Err = epsilon - k exp(-gamma L)"}[o.form]
    head = Panel(Text(f"{o.form} fit of {o.data_file}: {o.n_runs} runs, {o.objective} objective · {what}", style="bold"))
    t = Table(title="Coefficients", title_justify="left")
    t.add_column("")
    t.add_column("estimate", justify="right")
    if o.intervals:
        t.add_column(f"{o.level:.0%} bootstrap interval", justify="right")
    for name, value in o.coefficients.items():
        cells = [name, f"{value:.5g}"]
        if o.intervals:
            lo, hi = o.intervals[name]
            cells.append(f"{lo:.5g} - {hi:.5g}")
        t.add_row(*cells)
    key = "residual" if o.form == "downstream" else "log residual"
    parts: list = [head, t, Text(f"RMS {key}: {o.rms_residual:.4g}")]
    if o.boot is not None:
        parts.append(Text(f"bootstrap: {len(o.boot.draws)} of {o.boot.requested} refits succeeded (seed {o.boot.seed})"))
    if o.outliers:
        ot = Table(title=f"Outliers (|{key}| > 3 robust SD): {len(o.outliers)}", title_justify="left")
        cols = ["row", "loss", "error", "residual"] if o.form == "downstream" else ["row", "params", "tokens", "loss", "log_residual"]
        for c in cols:
            ot.add_column(c, justify="right")
        for row in o.outliers[:max_outliers]:
            rec = o.residuals[row - 1]
            ot.add_row(*(str(rec[c]) if c == "row" else f"{rec[c]:.4g}" for c in cols))
        parts.append(ot)
    else:
        parts.append(Text("no outliers"))
    return Group(*parts)


def render_layouts(doc: dict) -> Group:
    """``plan layout``: the top layouts, why the best wins, and what it needs."""
    sh = doc["shape"]
    head = Panel(Text(
        f"{fmt_count(sh['params'])} params ({sh['layers']} x {sh['hidden']}, {sh['heads']} heads / {sh['kv_heads']} KV, "
        f"{sh['mlp']} {sh['ffn']}, seq {sh['seq']}) on {doc['n_gpus']} x {doc['gpu']}, global batch {doc['global_batch']} "
        f"· {doc['method']}: {doc['evaluated']:,} evaluated of {doc['space_size']:,}", style="bold"))
    t = Table(title="Layouts (fastest first)", title_justify="left")
    for col in ("#", "layout", "step s", "MFU", "GB/GPU", "bubble", "comm", "launch"):
        t.add_column(col, justify="left" if col == "layout" else "right")
    for i, r in enumerate(doc["top"], 1):
        lay, br = r["layout"], r["breakdown"]
        comm = br["tp_comm"] + br["cp_comm"] + br["pp_comm"] + br["dp_exposed"]
        desc = (f"TP{lay['tp']} PP{lay['pp']} DP{lay['dp']}" + (f" CP{lay['cp']}" if lay["cp"] > 1 else "")
                + (f" VP{lay['vp']}" if lay["vp"] > 1 else "") + f" mb{lay['micro_batch']} {lay['recompute']}"
                + (" SP" if lay["sequence_parallel"] else "") + f" Z{lay['zero']}")
        t.add_row(str(i), desc, f"{r['step_time_s']:.3g}", f"{r['mfu']:.1%}",
                  f"{r['memory_per_gpu_bytes'] / 1e9:.1f}" + ("" if r["fits"] else "!"),
                  f"{br['bubble'] / r['step_time_s']:.0%}", f"{comm / r['step_time_s']:.0%}",
                  f"{br['dispatch'] / r['step_time_s']:.0%}")
    return Group(head, t, Text(f"Why #1: {doc['why']}"), Text(f"tokens/s: {fmt_count(doc['tokens_per_s'])}"),
                 Text(f"Calibration: {doc['calibration']['source']}", style="dim"))


def render_sample_fits(entries: list[dict]) -> Group:
    """``plan fit-samples``: one row per group, fitted Beta and pass@k predictions."""
    ks = list(entries[0]["pass_at_k"]) if entries else []
    t = Table(title="Scaled-Beta difficulty fits (pass@k = 1 - E[(1 - sX)^k], X ~ Beta(a, b))", title_justify="left")
    for col in ("group", "problems", "a", "b", "s", *[f"pass@{k}" for k in ks], "power law a, b"):
        t.add_column(col, justify="left" if col == "group" else "right")
    for e in entries:
        t.add_row(str(e["name"]), str(e["n_problems"]), f"{e['alpha']:.3g}", f"{e['beta']:.3g}", f"{e['scale']:.3g}",
                  *[f"{e['pass_at_k'][k]:.3f}" for k in ks], f"{e['power_law']['a']:.2f}, {e['power_law']['b']:.3f}")
    return Group(t, Text("Observed k use the unbiased estimator (Chen et al. 2021); --json lists both curves.", style="dim"))
