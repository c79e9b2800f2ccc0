"""The MFU fixed point, as its own stage.

With a cluster given, the layout's predicted MFU sets how many FLOPs a GPU-hour buys, which
sets the model, which sets the layout. ``settle`` looks for an MFU ``m`` the layout
predicts back for the model sized with ``m``:

1. iterate ``m <- f(m)`` while the sign of ``f(m) - m`` stays the same;
2. once two evaluations bracket a sign change, step to ``f(m)`` when it lies inside the bracket
   and was not tried (the layout MFU is flat between its jumps, so this lands on the fixed
   point at once), else bisect the bracket;
3. if the bracket shrinks below the tolerance without a fixed point (the layout MFU jumps
   across it, as discrete layouts and shapes do), take the bracket's lower end, where the
   layout predicts at least the MFU assumed: the plan is then conservative.

Whatever it returns, the plan sizes *and* prices with that one ``m``: it never spends a
different budget than the one it was given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from planner.planning.records import FixedPoint

__all__ = ["settle"]

T = TypeVar("T")


def settle(evaluate: Callable[[float], tuple[float | None, T]], prior: float, *, rtol: float = 1e-4,
           max_rounds: int = 40) -> tuple[FixedPoint, T]:
    """``evaluate(m)`` -> (predicted MFU or None, payload). Returns the fixed point and the
    payload of the MFU chosen. ``rtol`` (relative) and ``max_rounds`` are numerical settings:
    the step-time model itself is good to ~10 % (README, Calibration)."""
    cache: dict[float, tuple[float | None, Any]] = {}

    def f(m: float) -> tuple[float | None, Any]:
        if m not in cache:
            cache[m] = evaluate(m)
        return cache[m]

    history: list[tuple[float, float]] = []
    lo: float | None = None  # largest m with f(m) > m
    hi: float | None = None  # smallest m with f(m) < m
    m = prior
    for rounds in range(1, max_rounds + 1):
        pred, payload = f(m)
        if pred is None:  # no layout: nothing to settle
            return FixedPoint(mfu=m, layout_mfu=None, converged=True, rounds=rounds, method="prior", history=tuple(history)), payload
        history.append((m, pred))
        if abs(pred - m) <= rtol * m:
            method = "bisection" if lo is not None and hi is not None else "iteration"
            return FixedPoint(mfu=m, layout_mfu=pred, converged=True, rounds=rounds, method=method, history=tuple(history)), payload
        if pred > m:
            lo = m if lo is None else max(lo, m)
        else:
            hi = m if hi is None else min(hi, m)
        if lo is not None and hi is not None and lo < hi:
            if hi - lo <= rtol * lo:
                break
            m = pred if lo < pred < hi and pred not in cache else 0.5 * (lo + hi)
        else:
            m = pred
    final = lo if lo is not None else min(min(p for _, p in history), m)
    pred, payload = f(final)
    return FixedPoint(mfu=final, layout_mfu=pred, converged=False, rounds=len(history),
                      method="bisection" if hi is not None and lo is not None else "iteration", history=tuple(history)), payload
