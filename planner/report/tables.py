"""Tables for the commands other than the plan itself: fits, layouts, sample fits, the
hardware registry, predictions and the QAT sub-question. Pure: data in, renderables out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from planner.report._safe import Table
from planner.units import fmt_count

if TYPE_CHECKING:
    from planner.hardware.registry import Accelerator
    from planner.laws.catalog import ChinchillaLaw
    from planner.laws.lawfit import FitOutcome
    from planner.serving.qat import QATResult
    from planner.systems.layout import LayoutSearch

__all__ = [
    "coefficient_table",
    "render_fit",
    "render_hardware",
    "render_hardware_list",
    "render_law",
    "render_laws",
    "render_layouts",
    "render_prediction",
    "render_qat",
    "render_sample_fits", "render_task_law",
]


def coefficient_table(coefficients: dict[str, float], intervals: dict[str, tuple[float, float]] | None, level: float) -> Table:
    """A fit's coefficients, with their bootstrap intervals when there are any."""
    t = Table(title="Coefficients", title_justify="left")
    t.add_column("")
    t.add_column("estimate", justify="right")
    if intervals:
        t.add_column(f"{level:.0%} bootstrap interval", justify="right")
    for name, value in coefficients.items():
        cells = [name, f"{value:.5g}"]
        if intervals:
            lo, hi = intervals[name]
            cells.append(f"{lo:.5g} - {hi:.5g}")
        t.add_row(*cells)
    return t


def render_fit(outcome: FitOutcome, max_outliers: int = 10) -> Group:
    """A fitted law: coefficients with intervals, fit quality, outliers."""
    o = outcome
    what = {"chinchilla": "L = E + A/N^alpha + B/D^beta", "overtrain": "L = E + A/N^alpha + B/D^alpha (alpha = beta)",
            "downstream": "Err = epsilon - k exp(-gamma L)"}[o.form]
    head = Panel(Text(f"{o.form} fit of {o.data_file}: {o.n_runs} runs, {o.objective} objective · {what}", style="bold"))
    t = coefficient_table(o.coefficients, o.intervals, o.level)
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


def render_layouts(search: LayoutSearch, gpu: str) -> Group:
    """``plan layout``: the top layouts, why the best wins, and what it needs."""
    sh = search.shape
    head = Panel(Text(
        f"{fmt_count(sh.params)} params ({sh.layers} x {sh.hidden}, {sh.heads} heads / {sh.kv_heads} KV, "
        f"{sh.mlp} {sh.ffn}, seq {sh.seq}) on {search.n_gpus} x {gpu}, global batch {search.global_batch} "
        f"· {search.method}: {search.evaluated:,} evaluated of {search.space_size:,}", style="bold"))
    t = Table(title="Layouts (fastest first)", title_justify="left")
    for col in ("#", "layout", "step s", "MFU", "GB/GPU", "bubble", "comm", "launch"):
        t.add_column(col, justify="left" if col == "layout" else "right")
    for i, r in enumerate(search.top, 1):
        lay, br, step = r.layout, r.breakdown, r.step_time_s
        comm = br["tp_comm"] + br["cp_comm"] + br["pp_comm"] + br["dp_exposed"]
        desc = (f"TP{lay.t} PP{lay.p} DP{lay.d}" + (f" CP{lay.c}" if lay.c > 1 else "") + (f" VP{lay.v}" if lay.v > 1 else "")
                + f" mb{lay.b} {lay.recompute}" + (" SP" if lay.sp else "") + f" Z{lay.zero}")
        t.add_row(str(i), desc, f"{step:.3g}", f"{r.mfu:.1%}", f"{r.memory_per_gpu_bytes / 1e9:.1f}" + ("" if r.fits else "!"),
                  f"{br['bubble'] / step:.0%}", f"{comm / step:.0%}", f"{br['dispatch'] / step:.0%}")
    return Group(head, t, Text(f"Why #1: {search.why}"), Text(f"tokens/s: {fmt_count(search.tokens_per_s)}"),
                 Text(f"Calibration: {search.calibration.source}", style="dim"))


def render_sample_fits(entries: list[dict]) -> Group:
    """``plan fit-samples``: one row per group, pass@k (observed, then extrapolated with its band)
    and the scaled-Beta difficulty fit beside it."""
    ks = list(entries[0]["pass_at_k"]) if entries else []
    t = Table(title="pass@k: observed up to the samples, log pass@k = a k^b beyond", title_justify="left")
    for col in ("group", "solved", *[f"pass@{k}" for k in ks]):
        t.add_column(col, justify="left" if col == "group" else "right")

    def cell(e: dict, k: str) -> str:
        band = e["pass_at_k_interval"].get(k)
        point = e["pass_at_k"][k]
        if band is None:
            return f"{point:.3f}"
        lo, hi = band
        return f"{lo:.2f}-{hi:.2f}" if point is None else f"{point:.3f}\n{lo:.2f}-{hi:.2f}"

    for e in entries:
        t.add_row(str(e["name"]), f"{e['solved_problems']}/{e['n_problems']}", *[cell(e, k) for k in ks])
    level = f"{entries[0]['interval_level']:.0%}" if entries else ""
    return Group(t, Text(f"Observed k use the unbiased estimator (Chen et al. 2021). Beyond the samples: the power law's "
                         f"point over its {level} bootstrap band over problems; a band alone: the tail is not identified (few "
                         "problems solved), and the band spans the power law's and the scaled Beta's. --json also gives a and b, "
                         "the scaled-Beta fit (params) and its pass@k (pass_at_k_beta).", style="dim"))


def render_task_law(report: dict) -> Group:
    """``plan fit-samples --sizes``: the pooled task law, each size against it, the held-out check."""
    law = report["task_law"]
    ks = list(report["sizes"][0]["predicted"]) if report["sizes"] else []
    t = Table(title=f"Task law across sizes ({law['loss_law']} loss; pass@k = 1 - B(a, b+k)/B(a, b))", title_justify="left")
    for col in ("size", "loss", "solved", "a (law)", *[f"pass@{k}" for k in ks]):
        t.add_column(col, justify="left" if col == "size" else "right")
    for r in report["sizes"]:
        cells = []
        for k in ks:
            pred, obs, band = r["predicted"][k], r["observed"].get(k), r["interval"].get(k)
            text = f"{pred:.3f}" + (f" [{band[0]:.3f}-{band[1]:.3f}]" if band else "") + (f" (obs {obs:.3f})" if obs is not None else "")
            cells.append(text)
        t.add_row(r["size"], f"{r['loss']:.4f}", f"{r['solved']}/{r['problems']}", f"{r['law_alpha']:.3g}", *cells)
    held = report["leave_two_out"]
    lines = [f"logit mean = {law['m0']:.3g} {law['m1']:+.3g} x {law['m2']:+.3g} x^2, log a = {law['a0']:.3g} {law['a1']:+.3g} x, "
             f"x = loss - {law['center']:.4g}; fitted on losses {law['loss_lo']:.4g}-{law['loss_hi']:.4g}.",
             (f"Held out {held['held_out']} size(s) at a time (fit on the rest, predict them), mean |error|: "
              + ", ".join(f"pass@{k} {v:.4f}" for k, v in held["mean_abs_error"].items()) + f" over {len(held['rows'])} predictions."
              if held["rows"] else "Too few sizes to hold any out: no out-of-sample check."),
             f"Bands: {report['bootstrap']['level']:.0%} bootstrap over problems ({report['bootstrap']['draws']} draws, seed "
             f"{report['bootstrap']['seed']}); observed pass@k by the unbiased estimator (Chen et al. 2021)."]
    return Group(t, Text("\n".join(lines), style="dim"))


def render_hardware_list(accelerators: Iterable[Accelerator]) -> Table:
    """``plan hardware list``: headline figures of every accelerator."""
    t = Table(title="Accelerators (dense, per device; links per direction)")
    t.add_column("id", no_wrap=True)
    for col in ("BF16\nTF/s", "FP8\nTF/s", "HBM\nGB", "HBM\nTB/s", "intra\nGB/s", "inter\nGB/s", "per\nnode", "TDP\nW"):
        t.add_column(col, justify="right", no_wrap=True)

    def opt(x: float | None, scale: float, fmt: str = "{:.0f}") -> str:
        return "-" if x is None else fmt.format(x / scale)

    for acc in accelerators:
        t.add_row(
            acc.id,
            opt(acc.bf16_flops_per_s, 1e12, "{:.0f}"),
            opt(acc.fp8_flops_per_s, 1e12, "{:.0f}"),
            opt(acc.hbm_bytes, 1e9),
            opt(acc.hbm_bytes_per_s, 1e12, "{:.2f}"),
            opt(acc.intra_node_link_bytes_per_s, 1e9),
            opt(acc.inter_node_link_bytes_per_s, 1e9, "{:.1f}"),
            str(acc.devices_per_node),
            opt(acc.tdp_w, 1),
        )
    return t


def render_hardware(acc: Accelerator) -> Table:
    """``plan hardware show``: one accelerator with its sources."""
    t = Table(title=f"{acc.id}: {acc.name}", show_header=False)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    for key, value in acc.to_dict().items():
        if value is None or value == [] or value == "":
            continue
        t.add_row(key, f"{value:,.6g}" if isinstance(value, float) else str(value))
    t.add_row("arithmetic_intensity_flop_per_byte", f"{acc.arithmetic_intensity_flop_per_byte:.0f}")
    return t


def render_laws(entries: list[dict[str, Any]], default_law: str) -> Table:
    """``plan laws list``: presets and saved laws."""
    t = Table(title="Scaling laws: L = E + A/N^alpha + B/D^beta  (downstream: Err = epsilon - k exp(-gamma L); "
                    "annealing and multi-power: loss curves, plan curve)")
    for col in ("name", "kind", "coefficients", "draws", "source"):
        t.add_column(col, overflow="fold")
    for e in entries:
        name = e["name"] + (" (default)" if e["name"] == default_law else "")
        kind = "preset" if e.get("origin", "builtin") == "builtin" else "saved"
        if e["form"] == "downstream":
            coeffs = f"k {e['k']:.4g}, gamma {e['gamma']:.4g}, eps {e['epsilon']:.4g}"
        elif e["form"] == "unreadable":
            coeffs = "-"
        elif "coefficients" in e:  # a loss-curve law (plan curve fit)
            coeffs = ", ".join(f"{k} {v:.4g}" for k, v in e["coefficients"].items()) + f"; peak lr {e['peak_lr']:g}"
        else:
            coeffs = f"E {e['E']:.4g}, A {e['A']:.4g}, B {e['B']:.4g}, alpha {e['alpha']:.4g}, beta {e['beta']:.4g}"
            if e.get("downstream"):
                coeffs += f"; downstream {', '.join(e['downstream'])}"
        t.add_row(name, f"{kind} {e['form']}", coeffs, str(e.get("bootstrap_draws") or "-"), e["source"])
    return t


def render_law(law: ChinchillaLaw, frontier: list[dict[str, float]]) -> Group:
    """``plan laws show``: one law and its compute-optimal allocations."""
    info = Table(title=f"{law.name} ({law.form} form)", show_header=False)
    info.add_column(style="bold")
    info.add_column(overflow="fold")
    for k, v in law.coefficients.items():
        info.add_row(k, f"{v:.6g}")
    info.add_row("N counts embeddings", "yes" if law.params_include_embeddings else "no")
    if law.fit_params_range:
        info.add_row("fitted on", f"{fmt_count(law.fit_params_range[0])} - {fmt_count(law.fit_params_range[1])} params")
    for suite, m in law.downstream.items():
        info.add_row(f"downstream {suite}", f"Err = {m.epsilon:g} - {m.k:g} exp(-{m.gamma:g} L)")
    info.add_row("source", law.source)
    if law.note:
        info.add_row("note", law.note)
    t = Table(title="Compute-optimal allocation, no inference (closed form)")
    for col in ("training FLOPs", "params", "tokens", "tokens/param", "loss"):
        t.add_column(col, justify="right")
    for row in frontier:
        t.add_row(f"{row['train_flops']:.0e}", fmt_count(row["params"]), fmt_count(row["train_tokens"]), f"{row['tokens_per_param']:.1f}", f"{row['loss']:.4f}")
    return Group(info, t)


def render_prediction(result: dict[str, Any], params: float, tokens: float, level: float) -> Table:
    """``plan predict``: point predictions and intervals."""
    t = Table(title=f"{result['law']}: N = {fmt_count(params)}, D = {fmt_count(tokens)}")
    t.add_column("quantity")
    t.add_column("prediction", justify="right")
    t.add_column(f"{level:.0%} interval", justify="right")

    def iv(x: Any, fmt: str) -> str:
        return "-" if x is None else f"{fmt.format(x[0])} - {fmt.format(x[1])}"

    t.add_row("loss", f"{result['loss']:.4f}", iv(result["loss_interval"], "{:.4f}"))
    for name, e in result["downstream_error"].items():
        t.add_row(f"error ({name})", f"{e['error']:.1%}", iv(e["interval"], "{:.1%}"))
    return t


def render_qat(res: QATResult, params: float, tokens: float, bits: int) -> Table:
    """``plan qat``: the QAT share and the loss cost of low-precision serving."""
    t = Table(title=f"QAT for {fmt_count(params)} params on {fmt_count(tokens)} tokens at {bits} bits", show_header=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_row("tokens per parameter byte S", f"{res.tokens_per_param_byte:.4g}")
    t.add_row("optimal QAT share f* (Dremov et al. 2025)", f"{res.fraction:.1%}")
    t.add_row("QAT tokens (inside the training budget)", fmt_count(res.qat_tokens))
    t.add_row("effective-parameter factor (Kumar et al. 2024)", f"{res.precision_factor:.4f}")
    t.add_row("loss at 16 bits / served", f"{res.loss_16bit:.4f} / {res.loss:.4f} (+{res.loss_penalty:.4f})")
    t.add_row("weight bytes", f"{res.weight_bytes / 1e9:.2f} GB")
    return t


def render_validation(summary: Iterable[Any], rows: Iterable[Any] = ()) -> Group:
    """``plan validate``: mean and worst |error| per source, beside the constant baseline."""
    t = Table(title="Step-time model against measured runs", title_justify="left",
              caption="sample in: the constants were fitted on these rows; out: nothing was. const. HFU: the mean |error| "
                      "of one constant hardware-FLOP utilisation of its precision's peak, fitted on the same calibration rows as the model",
              caption_justify="left")
    for col in ("source", "rows", "sample", "mean |err|", "worst", "const. HFU"):
        t.add_column(col, justify="left" if col == "source" else "right", no_wrap=col != "source", ratio=3 if col == "source" else None)
    for s in summary:
        t.add_row(escape(s.source), str(s.rows), "in" if s.in_sample else "out", f"{s.mean_abs_error:.1%}",
                  f"{s.max_abs_error:.1%}", f"{s.baseline_mean_abs_error:.1%}")
    parts: list[Any] = [t]
    listed = [r for r in rows if not r.in_sample]
    if listed:
        d = Table(title="Out-of-sample runs", title_justify="left")
        for col in ("run", "metric", "measured", "predicted", "error", "baseline"):
            d.add_column(col, justify="left" if col in ("run", "metric") else "right")
        for r in listed:
            d.add_row(escape(r.run), r.metric, f"{r.measured:,.1f}", f"{r.predicted:,.1f}", f"{r.error:+.1%}", f"{r.baseline_error:+.1%}")
        parts += [Text(""), d]
    return Group(*parts)
