"""``plan predict``: loss and downstream error for one (N, D), with intervals."""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.errors import PlannerInputError
from planner.laws.catalog import DEFAULT_LAW, get_downstream, get_law
from planner.laws.fitting import percentile_interval
from planner.validate import check_positive

__all__ = ["predict"]


def predict(*, params: float, tokens: float, law: str | None = None, downstream: str | None = None, level: float = 0.95) -> dict[str, Any]:
    """Point predictions, and percentile intervals when the law or map has bootstrap draws."""
    for name, v in (("params", params), ("tokens", tokens)):
        check_positive(name, v)
    if not 0 < level < 1:
        raise PlannerInputError(f"--level must be in (0, 1), got {level}")
    the_law = get_law(law or DEFAULT_LAW)
    maps = dict(the_law.downstream) if downstream is None else {downstream: get_downstream(downstream)}
    loss = the_law.loss(params, tokens)
    draws = the_law.loss_draws(params, tokens)
    def interval(values: np.ndarray) -> list[float] | None:
        return list(percentile_interval(values, level)) if len(values) > 1 else None

    errors = {}
    for name, m in maps.items():
        samples = m.error_draws(draws) if len(draws) else (m.error_draws(np.full(len(m.draws), loss)) if m.draws else np.empty(0))
        errors[name] = {"error": float(m.error(loss)), "interval": interval(samples)}
    return {
        "law": the_law.name,
        "params": float(params),
        "tokens": float(tokens),
        "level": level,
        "loss": float(loss),
        "loss_interval": interval(draws),
        "bootstrap_draws": int(len(draws)),
        "downstream_error": errors,
    }
