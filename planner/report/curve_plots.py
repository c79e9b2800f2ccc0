"""Pictures for ``plan curve``: fitted curves, a predicted curve beside an observed one, and a
decay decision. Like :mod:`planner.report.plots`, every function returns the numbers it drew."""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.report.plots import _pyplot

__all__ = ["decision_figure", "fit_curves_figure", "predict_figure"]


def _thin(n: int, points: int = 400) -> np.ndarray:
    return np.unique(np.linspace(1, n, min(n, points)).round().astype(int))


def fit_curves_figure(curves: Any, law: Any) -> tuple[Any, dict[str, Any]]:
    """Observed curves (dots) and the fitted law (lines), one colour per run."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    drawn: dict[str, Any] = {}
    for i, c in enumerate(curves):
        colour = f"C{i % 10}"
        steps = _thin(c.lr.size)
        steps = steps[steps >= c.steps[0]]
        pred = law.loss(c.lr, steps)
        ax.plot(c.steps, c.loss, ".", ms=2, color=colour, alpha=0.5)
        ax.plot(steps, pred, "-", lw=1, color=colour, label=c.run)
        drawn[c.run] = {"observed_steps": c.steps.tolist(), "observed_loss": c.loss.tolist(), "steps": steps.tolist(), "fit": pred.tolist()}
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"{law.form} law fitted to {len(curves)} curve(s)")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig, drawn


def predict_figure(lr: np.ndarray, law: Any, observed: Any = None, *, title: str = "") -> tuple[Any, dict[str, Any]]:
    """The predicted loss (and learning rate, right axis) with an observed curve beside it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    steps = _thin(lr.size)
    from planner.laws.schedules import warmup_end

    start = max(warmup_end(lr), 1)  # as plan curve predict: the loss after the schedule's own warmup
    steps = steps[steps >= start] if np.any(steps >= start) else steps
    pred = law.loss(lr, steps)
    ax.plot(steps, pred, "-", color="C0", label="predicted")
    drawn: dict[str, Any] = {"steps": steps.tolist(), "predicted": pred.tolist()}
    if observed is not None:
        ax.plot(observed.steps, observed.loss, ".", ms=2, color="C1", label=f"observed {observed.run}")
        drawn["observed_steps"], drawn["observed_loss"] = observed.steps.tolist(), observed.loss.tolist()
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend(loc="upper right")
    right = ax.twinx()
    right.plot(steps, lr[steps - 1], ":", color="grey", lw=1)
    right.set_ylabel("learning rate (dotted)")
    drawn["lr"] = lr[steps - 1].tolist()
    fig.tight_layout()
    return fig, drawn


def decision_figure(law: Any, run: Any, decision: Any, branches: Any = ()) -> tuple[Any, dict[str, Any]]:
    """The run so far, the predicted curves of the best plan and of decaying now, and any
    observed ``branches`` (runs that decayed from this one) to hold them against."""
    from dataclasses import replace

    from planner.laws.decay import lr_with_decay

    plt = _pyplot()
    anchored = replace(law, coefficients={**law.coefficients, "L0": law.coefficients["L0"] + decision.anchor_shift}, draws=())
    hist = run.lr[: decision.step]
    fig, ax = plt.subplots(figsize=(8, 5))
    keep = run.steps <= decision.step
    ax.plot(run.steps[keep], run.loss[keep], ".", ms=2, color="black", label=f"{run.run} so far")
    drawn: dict[str, Any] = {"observed_steps": run.steps[keep].tolist(), "observed_loss": run.loss[keep].tolist()}
    plans = {"best": (decision.best_decay_start - decision.step, decision.best_decay_steps)}
    quick = min(decision.decay_now, key=lambda r: r["decay_steps"])
    plans[f"decay now over {quick['decay_steps']:,}"] = (0, quick["decay_steps"])
    for i, (label, (stable, decay)) in enumerate(plans.items()):
        lr = lr_with_decay(hist, stable, decay, decision.shape, decision.final)
        steps = _thin(lr.size)
        steps = steps[steps >= max(decision.step - 1, 1)]
        pred = anchored.loss(lr, steps)
        ax.plot(steps, pred, "-", color=f"C{i}", label=f"{label}: {pred[-1]:.4f}")
        drawn[label] = {"steps": steps.tolist(), "loss": pred.tolist()}
    for j, b in enumerate(branches):
        after = b.steps >= decision.step
        ax.plot(b.steps[after], b.loss[after], "x", ms=3, color=f"C{j + 2}", label=f"observed {b.run}")
        drawn[f"observed {b.run}"] = {"steps": b.steps[after].tolist(), "loss": b.loss[after].tolist()}
    lo = float(min(min(v["loss"]) for k, v in drawn.items() if isinstance(v, dict) and v["loss"]))
    ax.set_ylim(lo - 0.05, float(np.percentile(run.loss[keep], 95)) if keep.sum() > 5 else None)
    ax.axvline(decision.step, color="grey", lw=0.5)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"decay decision at step {decision.step:,} of {decision.total_steps:,} ({decision.law})")
    ax.legend()
    fig.tight_layout()
    return fig, drawn
