"""Pictures of sweeps, comparisons and plans, with matplotlib on its headless Agg backend
(imported only when a picture is asked for). Every function returns the numbers it drew,
panel by panel, so that a test can hold the figure to the data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from planner.errors import PlannerInputError

__all__ = ["compare_figure", "save_figure", "sweep_figure"]

FORMATS = (".png", ".svg", ".pdf")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (the suffix picks the format) in one step, then close it."""
    from planner.io.store import write_bytes

    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise PlannerInputError(f"--plot {path}: give a file ending in {', '.join(FORMATS)}")
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=p.suffix.lower().lstrip("."), bbox_inches="tight", metadata=None if p.suffix.lower() != ".png" else {})
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
