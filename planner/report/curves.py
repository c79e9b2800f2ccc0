"""Tables for ``plan curve``: a curve fit, a predicted curve and a decay decision. Pure: data in,
renderables out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from planner.report._safe import Table
from planner.report.tables import coefficient_table

if TYPE_CHECKING:
    from planner.laws.curvefit import CurveFitOutcome
    from planner.laws.decay import DecayDecision

__all__ = ["render_curve_fit", "render_curve_prediction", "render_decay_decision"]

_FORMULA = {"annealing": "L = L0 + A S1^-alpha - C S2  (Tissue et al. 2024)",
            "multi-power": "L = L0 + A (S1 + SW)^-alpha - LD(t)  (Luo et al. 2025)"}


def _pct(x: float) -> str:
    return f"{100 * x:+.3f} %"


def render_curve_fit(o: CurveFitOutcome, max_outliers: int = 10) -> Group:
    law = o.law
    head = Panel(Text(f"{law.form} fit of {o.data_file}: {len(o.per_run)} curves · {_FORMULA[law.form]}", style="bold"))
    t = coefficient_table(dict(law.coefficients), o.intervals, o.level)
    runs = Table(title="Errors per curve: in-sample, and held back (fitted on the other curves)", title_justify="left")
    for col in ("run", "points", "mean |err| in", "final err in", "mean |err| held back", "final err held back"):
        runs.add_column(col, justify="left" if col == "run" else "right")
    held = {h["run"]: h for h in o.held_back}
    for r in o.per_run:
        h = held.get(r["run"])
        runs.add_row(r["run"], str(r["points"]), f"{100 * r['mean_abs_rel_error']:.3f} %", _pct(r["final_rel_error"]),
                     f"{100 * h['mean_abs_rel_error']:.3f} %" if h else "-", _pct(h["final_rel_error"]) if h else "-")
    parts: list[Any] = [head, t, Text(f"R^2 {o.r2:.5f} over {sum(r['points'] for r in o.per_run):,} points; "
                                      f"peak lr {law.peak_lr:g}, warmup {law.warmup:,} steps (the law's units)"), runs]
    if not o.held_back:
        parts.append(Text("no held-back errors: one curve (or --no-holdout)"))
    if o.outliers:
        parts.append(Text(f"{len(o.outliers)} outlying points (beyond 4 robust SD), e.g. "
                          + ", ".join(f"{x['run']} step {x['step']:,} ({_pct(x['rel_residual'])})" for x in o.outliers[:max_outliers])))
    return Group(*parts)


def render_curve_prediction(doc: Mapping[str, Any], rows: int | None = 20) -> Group:
    sched, law = doc["schedule"], doc["law"]
    head = Panel(Text(f"{law['name']} ({law['form']}) on {sched['spec']}: {sched['steps']:,} steps, peak lr {sched['peak_lr']:g}", style="bold"))
    t = Table(title="Predicted loss", title_justify="left")
    for col in ("step", "lr", "loss"):
        t.add_column(col, justify="right")
    n = len(doc["step"])
    idx = range(n) if rows is None or n <= rows else sorted({round(i * (n - 1) / (rows - 1)) for i in range(rows)})
    for i in idx:
        t.add_row(f"{doc['step'][i]:,}", f"{doc['lr'][i]:.4g}", f"{doc['loss'][i]:.4f}")
    final = f"final loss {doc['final_loss']:.4f}"
    if doc.get("final_loss_interval"):
        lo, hi = doc["final_loss_interval"]
        final += f" ({doc['level']:.0%} interval {lo:.4f} - {hi:.4f})"
    parts: list[Any] = [head, t, Text(final, style="bold")]
    obs = doc.get("observed")
    if obs and obs.get("points"):
        parts.append(Text(f"observed {obs['run']}: mean |error| {100 * obs['mean_abs_rel_error']:.3f} % over {obs['points']} points; "
                          f"at step {obs['last_step']:,} observed {obs['final_loss']:.4f}, error {_pct(obs['final_rel_error'])}"))
    return Group(*parts)


def render_decay_decision(d: DecayDecision, run: str) -> Group:
    head = Panel(Text(f"{run} at step {d.step:,} of {d.total_steps:,} · law {d.law} · {d.shape} decay to {d.final:g} x the current rate",
                      style="bold"))
    best = Text(f"best: continue {d.best_decay_start - d.step:,} steps, then decay over the last {d.best_decay_steps:,} "
                f"({d.best_decay_share:.1%} of the run): final loss {d.best_final_loss:.4f}", style="bold")
    now = Table(title="Decay now over k steps, then stop", title_justify="left")
    for col in ("decay steps", "ends at", "steps saved", "final loss", "vs best"):
        now.add_column(col, justify="right")
    for r in d.decay_now:
        now.add_row(f"{r['decay_steps']:,}", f"{r['ends_at']:,}", f"{r['steps_saved']:,}", f"{r['final_loss']:.4f}",
                    f"{r['final_loss'] - d.best_final_loss:+.4f}")
    cont = Table(title="Continue stable for m steps, then decay to the budget", title_justify="left")
    for col in ("stable steps", "decay steps", "final loss", "vs best"):
        cont.add_column(col, justify="right")
    for r in d.continue_then_decay:
        cont.add_row(f"{r['stable_steps']:,}", f"{r['decay_steps']:,}", f"{r['final_loss']:.4f}", f"{r['final_loss'] - d.best_final_loss:+.4f}")
    ext = Table(title="A longer budget (keep the stable phase going, decay at the end)", title_justify="left")
    for col in ("total steps", "decay steps", "final loss", "gain vs this budget"):
        ext.add_column(col, justify="right")
    for r in d.extend:
        ext.add_row(f"{r['total_steps']:,}", f"{r['decay_steps']:,}", f"{r['final_loss']:.4f}", f"{r['gain']:.4f}")
    gain = d.continuation_gain
    notes = ["every decay-now option runs to the budget" if gain is None else
             f"using the whole budget is worth {gain:.4f} in loss over the best decay-now option that stops early"]
    if d.anchor_shift:
        notes.append(f"the law was shifted by {d.anchor_shift:+.4f} to this run's last losses (anchoring; --no-anchor turns it off)")
    return Group(head, best, now, cont, ext, *(Text(n) for n in notes))
