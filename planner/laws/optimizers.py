"""Optimizers as data: the measured speedup over AdamW as a function of model size and data.

Source: Wen, Hall, Ma & Liang 2025, "Fantastic Pretraining Optimizers and Where to Find Them"
(arXiv 2509.02046). ``planner/data/measured/wen2025_optimizer_losses.csv`` holds the final
C4/DCLM-mix losses of their tuned configurations (the first row of each hyperparameter-ablation
table in marin-community/marin, ``experiments/optimizer_sweep/Analysis/Phase{I,II}/tex/``, commit
122c501) for AdamW, Muon and Soap at 130M/300M/520M parameters and 1, 2, 4, 8x the Chinchilla
token count.

The speedup is their own estimator (``Analysis/PhaseII/speedup_estimation.py``): for each model
size, fit AdamW's loss against the data multiple, L(D) = a·D^(−b) + c, then an optimizer's
speedup at D is D_eff / D, with D_eff the data AdamW needs to reach the same loss. It
reproduces the paper's headline: Muon ~1.4x at 130M and 1x Chinchilla, shrinking with size.

Between the measured points the speedup is interpolated bilinearly in log(params) and
log(tokens per parameter); outside them it is held at the nearest measured edge (never
extrapolated, so it cannot grow beyond what was measured) and flagged.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import PlannerInputError

__all__ = ["OPTIMIZERS", "OptimizerSpeedup", "optimizer_speedup", "speedup_table"]

OPTIMIZERS = ("adamw", "muon", "soap")
SOURCE = ("Wen et al. 2025, Fantastic Pretraining Optimizers (arXiv 2509.02046): final losses of the tuned runs, "
          "marin-community/marin experiments/optimizer_sweep (commit 122c501); speedup = AdamW-equivalent data / data")


@dataclass(frozen=True)
class OptimizerSpeedup:
    optimizer: str
    params: float
    tokens: float
    speedup: float
    inside_measured: bool
    note: str
    source: str = SOURCE

    def to_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "params": self.params, "tokens": self.tokens, "speedup": self.speedup,
                "adamw_equivalent_tokens": self.tokens * self.speedup, "inside_measured": self.inside_measured,
                "note": self.note, "source": self.source}


def _rows() -> list[dict[str, str]]:
    from planner.io import measured_data_dir

    with open(measured_data_dir() / "wen2025_optimizer_losses.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@functools.cache
def speedup_table() -> dict[str, dict[str, Any]]:
    """Per optimizer: the measured grid (params, tokens-per-param) and the speedup at each point."""
    from scipy.optimize import curve_fit

    rows = _rows()
    out: dict[str, dict[str, Any]] = {}
    models = sorted({r["model"] for r in rows}, key=lambda m: float([r["params"] for r in rows if r["model"] == m][0]))
    for opt in OPTIMIZERS:
        grid = []
        for m in models:
            base = sorted((r for r in rows if r["optimizer"] == "adamw" and r["model"] == m), key=lambda r: float(r["chinchilla_multiple"]))
            mult = np.array([float(r["chinchilla_multiple"]) for r in base])
            loss = np.array([float(r["loss"]) for r in base])
            (a, b, c), _ = curve_fit(lambda d, a, b, c: a * d ** (-b) + c, mult, loss, p0=[loss[0] - loss[-1], 0.5, loss[-1]], maxfev=20000)
            these = sorted((r for r in rows if r["optimizer"] == opt and r["model"] == m), key=lambda r: float(r["chinchilla_multiple"]))
            for r in these:
                d = float(r["chinchilla_multiple"])
                gap = float(r["loss"]) - c
                d_eff = (gap / a) ** (-1.0 / b) if gap > 0 else math.inf
                grid.append({"model": m, "params": float(r["params"]), "tokens": float(r["tokens"]),
                             "tokens_per_param": float(r["tokens"]) / float(r["params"]), "chinchilla_multiple": d,
                             "loss": float(r["loss"]), "speedup": d_eff / d})
        out[opt] = {"points": grid}
    return out


def _interp(points: list[dict[str, Any]], params: float, tpp: float) -> tuple[float, bool]:
    sizes = sorted({p["params"] for p in points})
    x = math.log(params)
    xs = [math.log(s) for s in sizes]
    inside = xs[0] - 1e-9 <= x <= xs[-1] + 1e-9
    x = min(max(x, xs[0]), xs[-1])

    def at_size(size: float) -> tuple[float, bool]:
        row = sorted((p for p in points if p["params"] == size), key=lambda p: p["tokens_per_param"])
        ys = [math.log(p["tokens_per_param"]) for p in row]
        y = math.log(tpp)
        ok = ys[0] - 1e-9 <= y <= ys[-1] + 1e-9
        return float(np.interp(min(max(y, ys[0]), ys[-1]), ys, [p["speedup"] for p in row])), ok

    j = int(np.searchsorted(xs, x, side="right")) - 1
    j = min(max(j, 0), len(xs) - 2)
    (s0, ok0), (s1, ok1) = at_size(sizes[j]), at_size(sizes[j + 1])
    w = (x - xs[j]) / (xs[j + 1] - xs[j])
    ok = (ok0 or w == 1.0) and (ok1 or w == 0.0)
    return (1 - w) * s0 + w * s1, inside and ok


def optimizer_speedup(optimizer: str, params: float, tokens: float) -> OptimizerSpeedup:
    """The speedup of ``optimizer`` over AdamW for ``params`` trained on ``tokens`` (1 for AdamW)."""
    name = optimizer.strip().lower()
    if name not in OPTIMIZERS:
        raise PlannerInputError(f"unknown optimizer '{optimizer}'; measured ones: {', '.join(OPTIMIZERS)}")
    if not (params > 0 and tokens > 0 and math.isfinite(params) and math.isfinite(tokens)):
        raise PlannerInputError("params and tokens must be positive numbers")
    if name == "adamw":
        return OptimizerSpeedup(name, params, tokens, 1.0, True, "the baseline")
    points = speedup_table()[name]["points"]
    s, inside = _interp(points, params, tokens / params)
    lo = min(p["params"] for p in points)
    hi = max(p["params"] for p in points)
    tpp = [p["tokens_per_param"] for p in points]
    if inside:
        note = "interpolated between Wen et al.'s measured runs"
    else:
        note = (f"outside the measured {lo / 1e6:.0f}M-{hi / 1e6:.0f}M parameters x {min(tpp):.0f}-{max(tpp):.0f} tokens per "
                "parameter: held at the nearest measured edge, not extrapolated")
        if params > hi:
            note += " (the gain shrinks with size, so for a larger model this is an upper estimate)"
    return OptimizerSpeedup(name, params, tokens, float(s), inside, note)
