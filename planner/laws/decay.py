"""The decay decision for a run in progress (MiniCPM's WSD makes it separable, Hu et al. 2024):
given the learning rate so far, the step reached and the step budget, when to start the decay,
how long it should be, and what continuing is worth, all read off a fitted loss-curve law.

The candidates, each ending in a decay of ``shape`` to ``final`` x the current rate:
- *continue, then decay*: stay at the current rate for m steps, then decay over k = R − m
  steps, ending exactly at the budget (R steps left);
- *decay now*: decay over k <= R steps starting now, and stop (saving R − k steps).

The best split is found on a coarse grid of decay starts refined at every step around the
best (tested against brute force over every start). A training loop can call
:func:`decay_decision` every few thousand steps; with ``observed`` losses the law is re-anchored
to this run first (its L0 shifted by the median residual of the last ``ANCHOR_POINTS`` logs),
so a law fitted on a sibling run serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from planner.errors import PlannerInputError
from planner.laws.curves import CurveLaw, curve_loss
from planner.laws.schedules import MAX_STEPS, SHAPES, decay_shape

__all__ = ["DecayDecision", "best_decay_share", "decay_decision", "final_loss_with_decay", "lr_with_decay"]

#: Numerical and reporting choices: the law is anchored to the median residual of the run's last
#: ANCHOR_POINTS logs; the search tries COARSE decay starts per round before narrowing.
ANCHOR_POINTS = 10
COARSE = 128
#: Decay lengths of the "decay now" table, as shares of the total budget (a reporting choice).
NOW_SHARES = (0.05, 0.1, 0.2, 0.3)
#: Longer budgets the decision also prices (a WSD run can be continued: MiniCPM's point).
EXTEND = (1.25, 1.5, 2.0)


def lr_with_decay(history: np.ndarray, stable: int, decay: int, shape: str, final: float) -> np.ndarray:
    rate = float(history[-1])
    u = np.arange(1, decay + 1) / decay
    return np.concatenate([history, np.full(stable, rate), rate * decay_shape(shape, u, final)])


def final_loss_with_decay(law: CurveLaw, history: np.ndarray, stable: int, decay: int, *, shape: str = "1-sqrt", final: float = 0.0) -> float:
    """Predicted loss at the last step after ``stable`` more steps at the current rate and a
    ``decay``-step decay."""
    lr = lr_with_decay(history, stable, decay, shape, final)
    return float(law.loss(lr, [lr.size])[0])


class _AnnealingTail:
    """The annealing law's final loss after a history, in closed form over the continuation:
    the history's areas are summed once; a stable stretch of m steps only lets the annealing
    momentum decay geometrically (sum M0·lam(1 − lam^m)/(1 − lam)); each decay drop d_i,
    i of k, adds d_i·(1 − lam^(k − i + 1))/(1 − lam). Equal to the step-by-step law (tested)."""

    def __init__(self, law: CurveLaw, history: np.ndarray, shape: str, final: float) -> None:
        from scipy.signal import lfilter

        from planner.laws.curves import schedule_areas

        self.law, self.shape, self.final = law, shape, final
        prefix, drop, _ = schedule_areas(history, np.array([history.size]))
        momentum = lfilter([1.0], [1.0, -law.lam], drop)
        self.s1, self.s2, self.m0 = float(prefix[-1]), float(momentum.sum()), float(momentum[-1])
        self.rate = float(history[-1])

    def __call__(self, stable: int, decay: int) -> float:
        lam, r = self.law.lam, self.rate
        levels = r * decay_shape(self.shape, np.arange(1, decay + 1) / decay, self.final)
        drops = -np.diff(np.concatenate([[r], levels]))
        geo = lam / (1 - lam)
        s1 = self.s1 + stable * r + float(levels.sum())
        m1 = self.m0 * lam**stable
        s2 = (self.s2 + self.m0 * geo * (1 - lam**stable) + m1 * geo * (1 - lam**decay)
              + float(drops @ (1 - lam ** np.arange(decay, 0, -1))) / (1 - lam))
        return float(curve_loss("annealing", self.law.vector, (np.array([s1]), np.array([s2])))[0])


def _final_loss(law: CurveLaw, history: np.ndarray, shape: str, final: float) -> Any:
    """``f(stable, decay)`` -> final loss: the closed form for the annealing law (once the
    warmup is over), the law step by step otherwise."""
    if law.form == "annealing" and int(np.argmax(history)) < history.size - 1:
        return _AnnealingTail(law, history, shape, final)
    return lambda stable, decay: final_loss_with_decay(law, history, stable, decay, shape=shape, final=final)


@dataclass(frozen=True)
class DecayDecision:
    step: int
    total_steps: int
    shape: str
    final: float
    best_decay_start: int
    best_decay_steps: int
    best_final_loss: float
    decay_now: list[dict[str, Any]]
    continue_then_decay: list[dict[str, Any]]
    anchor_shift: float
    law: str
    extend: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best_decay_share(self) -> float:
        return self.best_decay_steps / self.total_steps

    @property
    def continuation_gain(self) -> float | None:
        """Loss the rest of the budget buys over the best option that decays now and stops early
        (None when every decay-now option already runs to the budget)."""
        early = [r["final_loss"] for r in self.decay_now if r["steps_saved"] > 0]
        return min(early) - self.best_final_loss if early else None

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "total_steps": self.total_steps, "shape": self.shape, "final_lr_fraction": self.final,
                "best": {"decay_start": self.best_decay_start, "decay_steps": self.best_decay_steps,
                         "decay_share": self.best_decay_share, "final_loss": self.best_final_loss},
                "decay_now": self.decay_now, "continue_then_decay": self.continue_then_decay,
                "continuation_gain": self.continuation_gain, "extend": self.extend, "anchor_shift": self.anchor_shift,
                "law": self.law}


def _anchor(law: CurveLaw, history: np.ndarray, observed: tuple[Sequence[int], Sequence[float]] | None) -> tuple[CurveLaw, float]:
    if observed is None:
        return law, 0.0
    steps = np.asarray(observed[0], dtype=int)
    loss = np.asarray(observed[1], dtype=float)
    keep = (steps >= 1) & (steps <= history.size)
    if not np.any(keep):  # deciding before the first log: nothing to anchor to
        return law, 0.0
    steps, loss = steps[keep][-ANCHOR_POINTS:], loss[keep][-ANCHOR_POINTS:]
    shift = float(np.median(loss - law.loss(history, steps)))
    coeffs = dict(law.coefficients)
    coeffs["L0"] += shift
    return replace(law, coefficients=coeffs, draws=()), shift


def _best_start(f: Any, lo: int, hi: int) -> int:
    """argmin of f over integer decay starts lo..hi: a grid of ``COARSE`` starts, narrowed to
    the best one's neighbours until every start in the bracket is tried."""
    while hi - lo > 2 * COARSE:
        grid = np.unique(np.linspace(lo, hi, COARSE + 1).round().astype(int))
        i = int(np.argmin([f(s) for s in grid]))
        lo, hi = int(grid[max(i - 1, 0)]), int(grid[min(i + 1, grid.size - 1)])
    grid = np.arange(lo, hi + 1)
    return int(grid[int(np.argmin([f(s) for s in grid]))])


def _checked(history: Sequence[float] | np.ndarray, total_steps: int, shape: str, final: float, *, stretch: float = 1.0) -> np.ndarray:
    """The history as an array, every input checked (``stretch``: the longest budget priced, as a multiple)."""
    h = np.asarray(history, dtype=float)
    t0 = h.size
    if t0 < 1 or not np.all(np.isfinite(h)) or h[-1] <= 0:
        raise PlannerInputError("the learning-rate history must be non-empty, finite and end above 0")
    if total_steps <= t0:
        raise PlannerInputError(f"the step budget ({total_steps:,}) must lie beyond the current step ({t0:,})")
    if total_steps * stretch > MAX_STEPS:
        raise PlannerInputError(f"a step budget of at most {MAX_STEPS / stretch:,.0f} steps"
                                + (f" (the decision also prices {stretch:g}x it)" if stretch > 1 else ""))
    if shape not in SHAPES:
        raise PlannerInputError(f"unknown decay shape '{shape}'; use one of {', '.join(SHAPES)}")
    if not 0 <= final < 1 or (shape == "exp" and final <= 0):
        raise PlannerInputError("final is the last rate as a fraction of the current one, in [0, 1) (> 0 for exp)")
    return h


def _best_split(tail: Any, t0: int, total_steps: int, min_decay: int) -> tuple[int, float]:
    """(decay start, final loss) of the best decay ending at ``total_steps``."""
    start = _best_start(lambda s: tail(s - t0, total_steps - s), t0, total_steps - min_decay)
    return start, tail(start - t0, total_steps - start)


def decay_decision(law: CurveLaw, history: Sequence[float] | np.ndarray, total_steps: int, *, shape: str = "1-sqrt",
                   final: float = 0.0, observed: tuple[Sequence[int], Sequence[float]] | None = None,
                   min_decay: int = 1) -> DecayDecision:
    """When and how long to decay a run now at step ``len(history)`` with ``total_steps`` budgeted."""
    h = _checked(history, total_steps, shape, final, stretch=max(EXTEND))
    t0 = h.size
    remaining = total_steps - t0
    min_decay = max(1, min(min_decay, remaining))
    anchored, shift = _anchor(law, h, observed)

    tail = _final_loss(anchored, h, shape, final)

    def at_budget(start: int) -> float:  # decay from `start` (absolute) to the budget's end
        return tail(start - t0, total_steps - start)

    start, best = _best_split(tail, t0, total_steps, min_decay)
    now = []
    for k in dict.fromkeys(min(remaining, max(1, round(share * total_steps))) for share in NOW_SHARES):
        loss = tail(0, k)
        now.append({"decay_steps": k, "ends_at": t0 + k, "steps_saved": remaining - k, "final_loss": loss})
    cont = []
    for share in np.linspace(0, 1, 6)[:-1]:
        m = int(round(share * (remaining - min_decay)))
        cont.append({"stable_steps": m, "decay_steps": remaining - m, "final_loss": at_budget(t0 + m)})
    extend = []
    for factor in EXTEND:
        longer = round(total_steps * factor)
        s, loss = _best_split(tail, t0, longer, min_decay)
        extend.append({"total_steps": longer, "decay_steps": longer - s, "final_loss": loss, "gain": best - loss})
    return DecayDecision(step=t0, total_steps=total_steps, shape=shape, final=final, best_decay_start=start,
                         best_decay_steps=total_steps - start, best_final_loss=best, decay_now=now,
                         continue_then_decay=cont, anchor_shift=shift, law=law.name, extend=extend)


def best_decay_share(law: CurveLaw, steps: int, *, warmup: int | None = None, shape: str = "1-sqrt", final: float = 0.0) -> tuple[float, float]:
    """(best WSD decay share, its final loss) for a fresh run of ``steps`` at the law's own peak
    rate and warmup: the recipe's decay share when a curve law is given."""
    from planner.laws.schedules import Schedule

    w = law.warmup if warmup is None else warmup
    w = min(w, steps - 2)
    history = _checked(Schedule("constant", steps=w + 1, peak_lr=law.peak_lr, warmup=w).lr(), steps, shape, final)
    start, loss = _best_split(_final_loss(law, history, shape, final), history.size, steps, 1)  # only the best split
    return (steps - start) / steps, loss
