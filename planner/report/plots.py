"""Pictures of sweeps, comparisons and plans, with matplotlib on its headless Agg backend
(imported only when a picture is asked for). Every function returns the numbers it drew,
panel by panel, so that a test can hold the figure to the data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from planner.errors import PlannerInputError

__all__ = ["compare_figure", "fit_figure", "plan_figure", "samples_figure", "save_figure", "sweep_figure", "task_law_figure"]

FORMATS = (".png", ".svg", ".pdf")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "compute-planner"  # fixed SVG element ids (deterministic files)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (the suffix picks the format) in one step, then close it."""
    import io

    from planner.io.store import write_bytes

    p = Path(path)
    buf = io.BytesIO()
    try:
        if p.suffix.lower() not in FORMATS:
            raise PlannerInputError(f"--plot {path}: give a file ending in {', '.join(FORMATS)}")
        fmt = p.suffix.lower().lstrip(".")
        # No creation date in SVG/PDF: the same plan draws the same bytes.
        fig.savefig(buf, format=fmt, bbox_inches="tight", metadata={"Date": None} if fmt in ("svg", "pdf") else None)
    finally:
        _pyplot().close(fig)
    return write_bytes(p, buf.getvalue())


def _numeric_axis(rows: Sequence[Mapping[str, Any]], axis: str) -> list[float] | None:
    from planner.units import parse_quantity

    try:
        return [parse_quantity(str(r[axis])) for r in rows]
    except (ValueError, KeyError):
        return None


def sweep_figure(rows: Sequence[Mapping[str, Any]], axes: Sequence[str], *, law: str, source: str) -> tuple[Any, dict[str, dict[str, list]]]:
    """Four panels along the first swept axis, one line per value of the other axes: loss vs
    lifetime compute for the plan and the Chinchilla baseline; N* and D*; the inference share
    of lifetime compute; GPU-hours."""
    plt = _pyplot()
    ok = [r for r in rows if r["status"] == "optimal"]
    if not ok:
        raise PlannerInputError("no point of the sweep has a plan: nothing to draw")
    axis, others = axes[0], list(axes[1:])
    series: dict[str, list[Mapping[str, Any]]] = {}
    for r in ok:
        series.setdefault(", ".join(f"{a.lstrip('-')} {r[a]}" for a in others), []).append(r)
    xs_all = _numeric_axis(ok, axis)
    fig, panels = plt.subplots(2, 2, figsize=(11, 8))
    drawn: dict[str, dict[str, list]] = {"loss": {}, "params": {}, "tokens": {}, "inference_share": {}, "gpu_hours": {}}
    for name, rs in series.items():
        tag = f" ({name})" if name else ""
        xs = _numeric_axis(rs, axis) if xs_all is not None else [ok.index(r) for r in rs]
        c = [r["total_flops"] for r in rs]
        line = panels[0][0].plot(c, [r["loss"] for r in rs], "o-", label="plan" + tag)[0]
        panels[0][0].plot(c, [r["baseline_loss"] for r in rs], "s--", color=line.get_color(), alpha=0.6,
                          label="Chinchilla-optimal baseline" + tag)
        panels[0][1].plot(xs, [r["params"] for r in rs], "o-", color=line.get_color(), label="N* parameters" + tag)
        panels[0][1].plot(xs, [r["train_tokens"] for r in rs], "s:", color=line.get_color(), label="D* tokens" + tag)
        panels[1][0].plot(xs, [r["inference_share"] for r in rs], "o-", color=line.get_color(), label=name or "inference")
        panels[1][1].plot(xs, [r["gpu_hours"] for r in rs], "o-", color=line.get_color(), label=name or None)
        drawn["loss"][name] = {"x": c, "plan": [r["loss"] for r in rs], "baseline": [r["baseline_loss"] for r in rs]}
        drawn["params"][name] = {"x": xs, "y": [r["params"] for r in rs]}
        drawn["tokens"][name] = {"x": xs, "y": [r["train_tokens"] for r in rs]}
        drawn["inference_share"][name] = {"x": xs, "y": [r["inference_share"] for r in rs]}
        drawn["gpu_hours"][name] = {"x": xs, "y": [r["gpu_hours"] for r in rs]}
    a = panels[0][0]
    a.set_xscale("log")
    a.set(xlabel="lifetime compute (FLOPs)", ylabel="predicted loss (nats/token)", title="loss vs lifetime compute")
    panels[0][1].set(yscale="log", ylabel="parameters, tokens", title="N* and D*")
    panels[1][0].set(ylabel="inference share of lifetime compute", ylim=(0, 1), title="training / inference split")
    panels[1][1].set(yscale="log", ylabel="GPU-hours (training + serving)", title="cost")
    for a in (panels[0][1], panels[1][0], panels[1][1]):
        a.set_xlabel(axis.lstrip("-"))
        if xs_all is not None and min(xs_all) > 0 and max(xs_all) / min(xs_all) > 20:
            a.set_xscale("log")
        elif xs_all is None:
            a.set_xticks(range(len(ok)), [str(r[axis]) for r in ok], rotation=30, fontsize=8)
    for a in (panels[0][0], panels[0][1], panels[1][0]):
        a.legend(fontsize=7)
    fig.suptitle(f"plan sweep over {', '.join(x.lstrip('-') for x in axes)} · law {law}", fontsize=11)
    fig.text(0.01, 0.005, f"law source: {source}"[:160], fontsize=7)
    fig.tight_layout(rect=(0, 0.02, 1, 0.97))
    return fig, drawn


def compare_figure(names: Sequence[str], rows: Sequence[Mapping[str, Any]], *, law: str) -> tuple[Any, dict[str, dict[str, list]]]:
    """Bars per scenario: parameters, training tokens, predicted loss and GPU-hours."""
    plt = _pyplot()
    panels = (("params", "parameters N"), ("train_tokens", "training tokens D"), ("loss", "predicted loss (nats/token)"),
              ("gpu_hours", "GPU-hours (training + serving)"))
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.8))
    drawn: dict[str, dict[str, list]] = {}
    for a, (key, words) in zip(axes, panels, strict=True):
        values = [r.get(key) if r.get("status") == "optimal" else 0.0 for r in rows]
        a.bar(range(len(names)), values, color=["#4c72b0"] + ["#dd8452"] * (len(names) - 1))
        a.set_xticks(range(len(names)), names, rotation=30, fontsize=8, ha="right")
        a.set_title(words, fontsize=9)
        if key != "loss":
            a.set_yscale("log")
        else:
            lo = min(v for v in values if v) if any(values) else 0
            a.set_ylim(lo * 0.98, max(values) * 1.01 if any(values) else 1)
        drawn[key] = {"names": list(names), "values": values}
    fig.suptitle(f"plan compare · law {law} · first scenario in blue", fontsize=10)
    fig.tight_layout()
    return fig, drawn


def plan_figure(doc: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A plan: the law's loss along its iso-FLOP curve at the plan's training compute, with the
    plan and the Chinchilla baseline marked; the lifetime compute split; and with a curve law
    (``--curve-law``), the recipe's predicted loss curve and learning rate."""
    import numpy as np

    plt = _pyplot()
    law, r, base = doc["law"], doc["result"], doc["baseline"]
    c = r["train_flops"]
    n_star = r["params"]
    ns = np.geomspace(n_star / 30, n_star * 30, 121)

    def loss(n: Any, d: Any) -> Any:
        return law["E"] + law["A"] / n ** law["alpha"] + law["B"] / d ** law["beta"]

    curve = loss(ns, c / (6 * ns))
    dyn = (doc.get("dynamics") or {}).get("curve")
    if dyn:
        fig, (a, b, d) = plt.subplots(1, 3, figsize=(15, 4), gridspec_kw={"width_ratios": [2, 1, 2]})
    else:
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    a.plot(ns, curve, "-", label=f"{law['name']} at {c:.3g} training FLOPs")
    a.plot([n_star], [loss(n_star, c / (6 * n_star))], "o", label=f"plan: N = {n_star:.3g}, D = {r['train_tokens']:.3g}")
    a.set(xscale="log", xlabel="parameters N (D = C / 6N)", ylabel="predicted loss (nats/token)",
          title="the plan on its iso-FLOP curve (the law's loss, before QAT)")
    a.legend(fontsize=8)
    parts = {"training": r["train_flops"], "inference": r["inference_flops"]}
    b.bar(list(parts), list(parts.values()), color=["#4c72b0", "#dd8452"])
    b.set(ylabel="FLOPs (training-FLOP equivalents)",
          title=f"lifetime compute: {r['inference_share']:.0%} inference")
    drawn: dict[str, Any] = {"curve": {"params": ns.tolist(), "loss": curve.tolist()}, "plan": {"params": n_star}, "split": parts}
    if dyn:
        rc = doc["recipe"]
        d.plot(dyn["step"], dyn["loss"], "-", color="#55a868")
        d.set(xlabel="step", ylabel=f"loss under {dyn['law']} (its model)",
              title=f"the recipe's WSD curve: decay {dyn['decay_share']:.1%} of {rc['steps']:,} steps")
        d.axvline(rc["steps"] - rc["decay_steps"], color="grey", lw=0.5)
        drawn["recipe_curve"] = {"step": dyn["step"], "loss": dyn["loss"]}
    fig.suptitle(f"plan · law {law['name']} · baseline (inference ignored) N = {base['params']:.3g}", fontsize=10)
    fig.text(0.01, 0.005, f"law source: {law.get('source', '')}"[:160], fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    return fig, drawn


def fit_figure(outcome: Any) -> tuple[Any, dict[str, Any]]:
    """A loss-law fit: the runs against N, the fitted law at the runs' median tokens per
    parameter with its bootstrap band, and predicted vs observed with the outliers marked."""
    import numpy as np

    if outcome.form == "downstream":
        raise PlannerInputError("--plot draws loss-law fits; a downstream map has no N and D to draw against")
    plt = _pyplot()
    res = outcome.residuals
    n = np.array([r["params"] for r in res])
    d = np.array([r["tokens"] for r in res])
    obs = np.array([r["loss"] for r in res])
    k = outcome.coefficients
    alpha, beta = k["alpha"], k.get("beta", k["alpha"])

    def law(c: Mapping[str, float], nn: Any, dd: Any) -> Any:
        return c["E"] + c["A"] / nn ** c["alpha"] + c["B"] / dd ** c.get("beta", c["alpha"])

    pred = law(k, n, d)
    ratio = float(np.median(d / n))
    grid = np.geomspace(n.min(), n.max(), 100)
    out = set(outcome.outliers)
    bad = np.array([r["row"] in out for r in res])
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    sc = a.scatter(n[~bad], obs[~bad], c=np.log10(d[~bad] / n[~bad]), s=12, cmap="viridis", label="runs")
    a.scatter(n[bad], obs[bad], marker="x", color="red", s=30, label="outliers (3 MAD)")
    fitted = law(k, grid, ratio * grid)
    a.plot(grid, fitted, "k-", label=f"fit at D/N = {ratio:.3g} (the runs' median)")
    drawn: dict[str, Any] = {"runs": {"params": n.tolist(), "loss": obs.tolist()}, "fit": {"params": grid.tolist(), "loss": fitted.tolist()}}
    if outcome.boot is not None and len(outcome.boot.draws):
        curves = np.array([law(dict(zip(outcome.boot.names, row, strict=True)), grid, ratio * grid) for row in outcome.boot.draws])
        lo, hi = np.percentile(curves, [100 * (1 - outcome.level) / 2, 100 * (1 + outcome.level) / 2], axis=0)
        a.fill_between(grid, lo, hi, color="grey", alpha=0.3, label=f"{outcome.level:.0%} bootstrap band")
        drawn["band"] = {"lo": lo.tolist(), "hi": hi.tolist()}
    fig.colorbar(sc, ax=a, label="log10 tokens per parameter")
    a.set(xscale="log", xlabel="parameters N", ylabel="final loss (nats/token)",
          title=f"{outcome.form} fit of {outcome.n_runs} runs (alpha {alpha:.3g}, beta {beta:.3g})")
    a.legend(fontsize=7)
    b.scatter(obs[~bad], pred[~bad], s=10)
    b.scatter(obs[bad], pred[bad], marker="x", color="red", s=30)
    lims = [min(obs.min(), pred.min()), max(obs.max(), pred.max())]
    b.plot(lims, lims, "k--", lw=0.8)
    b.set(xlabel="observed loss", ylabel="fitted loss", title=f"rms log residual {outcome.rms_residual:.3g}")
    fig.suptitle(f"plan fit · {Path(outcome.data_file).name} · objective {outcome.objective}", fontsize=10)
    fig.tight_layout()
    drawn["parity"] = {"observed": obs.tolist(), "fitted": pred.tolist()}
    return fig, drawn


def samples_figure(entries: Sequence[Mapping[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """pass@k vs k per group of ``plan fit-samples``: the unbiased estimates on the samples
    drawn, the power law beyond them and its bootstrap band (the band alone where the tail is not identified)."""
    plt = _pyplot()
    fig, a = plt.subplots(figsize=(7, 4.5))
    drawn: dict[str, Any] = {}
    for e in entries:
        ko = sorted(int(k) for k in e["pass_at_k_unbiased"])
        line = a.plot(ko, [e["pass_at_k_unbiased"][str(k)] for k in ko], "o", label=f"{e['name']} observed")[0]
        fit = {**e["pass_at_k_unbiased"], **{k: v for k, v in e["pass_at_k"].items() if v is not None}}
        kf = sorted(int(k) for k in fit)
        a.plot(kf, [fit[str(k)] for k in kf], "-", color=line.get_color(), label=f"{e['name']} power law beyond the samples")
        for k, (lo, hi) in e.get("pass_at_k_interval", {}).items():
            a.plot([int(k)] * 2, [lo, hi], "-", color=line.get_color(), lw=4, alpha=0.4)
        drawn[e["name"]] = {"k_observed": ko, "observed": [e["pass_at_k_unbiased"][str(k)] for k in ko],
                            "k_fit": kf, "fit": [fit[str(k)] for k in kf]}
    a.set(xscale="log", xlabel="samples per problem k", ylabel="pass@k", ylim=(0, 1), title="pass@k: observed and fitted")
    a.legend(fontsize=7)
    fig.tight_layout()
    return fig, drawn


def task_law_figure(report: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``plan fit-samples --sizes``: pass@k vs k per model size, observed and as the task law
    predicts from the size's loss (one law across sizes, with its interval where drawn)."""
    plt = _pyplot()
    fig, a = plt.subplots(figsize=(7, 4.5))
    drawn: dict[str, Any] = {}
    for s in report["sizes"]:
        ko = sorted(int(k) for k in s["observed"])
        line = a.plot(ko, [s["observed"][str(k)] for k in ko], "o", label=f"{s['size']} observed (loss {s['loss']:.3f})")[0]
        kp = sorted(int(k) for k in s["predicted"])
        a.plot(kp, [s["predicted"][str(k)] for k in kp], "-", color=line.get_color())
        for k, (lo, hi) in s.get("interval", {}).items():
            a.plot([int(k)] * 2, [lo, hi], "-", color=line.get_color(), lw=4, alpha=0.4)
        drawn[s["size"]] = {"k_observed": ko, "observed": [s["observed"][str(k)] for k in ko], "k_law": kp,
                            "law": [s["predicted"][str(k)] for k in kp]}
    law = report["task_law"]
    a.set(xscale="log", xlabel="samples per problem k", ylabel="pass@k", ylim=(0, 1),
          title=f"task law {law['name']} across sizes (lines), observed (dots); loss from {law['loss_law']}")
    a.legend(fontsize=6)
    fig.tight_layout()
    return fig, drawn
