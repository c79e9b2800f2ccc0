"""Learning-rate schedules as the loss-curve laws need them: the learning rate at every step.

A :class:`Schedule` is a frozen description (kind, peak, steps, warmup and the kind's own
parameters) that :meth:`Schedule.lr` turns into an array ``lr[i]`` = the learning rate of step
``i + 1``. Names and parameters on the command line read like
``wsd:decay=0.2,shape=linear`` or ``cosine:final=0.1`` (see :func:`parse_schedule`); a CSV of
``step,lr`` gives any other schedule (:func:`lr_from_points`).

Kinds (each cited where it is defined):
- ``constant``;
- ``cosine`` to ``final`` x peak (Loshchilov & Hutter 2017);
- ``wsd``: warmup-stable-decay (Hu et al. 2024, MiniCPM) with the last ``decay`` share of the
  steps decaying to ``final`` x peak in one of the shapes ``linear``, ``1-sqrt`` (Hägele et
  al. 2024), ``cosine`` or ``exp`` (geometric, as Luo et al. 2025's WSD runs);
- ``step``: piecewise constant, ``at=8000/16000,factor=0.3/0.1`` (the ``two_stage`` runs of
  Luo et al. 2025 are ``step:at=8000,factor=0.6``).

Warmup is linear from ``warmup_start`` x peak to the peak over ``warmup`` steps, and counts
toward the schedule's steps (as Megatron's ``--lr-warmup-iters`` does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.errors import PlannerInputError

__all__ = ["KINDS", "SHAPES", "Schedule", "decay_shape", "lr_from_points", "parse_schedule", "warmup_end"]

KINDS = ("constant", "cosine", "wsd", "step")
SHAPES = ("linear", "1-sqrt", "cosine", "exp")
#: The parameters each kind takes, with their defaults (``final`` is a fraction of the peak).
_PARAMS: dict[str, dict[str, Any]] = {
    "constant": {},
    "cosine": {"final": 0.0},
    "wsd": {"decay": 0.1, "shape": "1-sqrt", "final": 0.0},
    "step": {"at": (), "factor": ()},
}
#: Largest schedule the laws evaluate step by step (a float64 array of this many steps is 80 MB).
MAX_STEPS = 10_000_000


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule: ``kind`` with ``params`` over ``steps`` steps (warmup included)."""

    kind: str
    steps: int
    peak_lr: float
    warmup: int = 0
    warmup_start: float = 0.0
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PlannerInputError(f"unknown schedule '{self.kind}'; use one of {', '.join(KINDS)} or a step,lr CSV")
        if not 1 <= self.steps <= MAX_STEPS:
            raise PlannerInputError(f"schedule steps must be between 1 and {MAX_STEPS:,} (got {self.steps})")
        if not (math.isfinite(self.peak_lr) and self.peak_lr > 0):
            raise PlannerInputError(f"peak learning rate must be a positive number (got {self.peak_lr})")
        if not 0 <= self.warmup < self.steps:
            raise PlannerInputError(f"warmup must be at least 0 and below the {self.steps:,} steps (got {self.warmup})")
        if not 0 <= self.warmup_start <= 1:
            raise PlannerInputError("warmup_start is a fraction of the peak, between 0 and 1")
        merged = dict(_PARAMS[self.kind])
        unknown = sorted(set(self.params) - set(merged))
        if unknown:
            allowed = ", ".join(merged) or "none"
            raise PlannerInputError(f"schedule '{self.kind}' has no parameter {', '.join(unknown)} (it takes: {allowed})")
        merged.update(self.params)
        _check_params(self.kind, merged, self.steps)
        object.__setattr__(self, "params", merged)

    @property
    def decay_start(self) -> int:
        """First step of the WSD decay (0 for other kinds)."""
        if self.kind != "wsd":
            return 0
        return max(self.warmup, self.steps - max(1, round(self.params["decay"] * self.steps)))  # at least one decay step

    def lr(self) -> np.ndarray:
        """The learning rate of every step, ``lr[i]`` for step ``i + 1``."""
        s = np.arange(1, self.steps + 1, dtype=float)
        peak = self.peak_lr
        lr = np.full(self.steps, peak)
        p = self.params
        if self.kind == "cosine":
            u = np.clip((s - self.warmup) / max(self.steps - self.warmup, 1), 0, 1)
            lr = peak * (p["final"] + (1 - p["final"]) * 0.5 * (1 + np.cos(np.pi * u)))
        elif self.kind == "wsd":
            start = self.decay_start
            length = max(self.steps - start, 1)
            u = np.clip((s - start) / length, 0, 1)
            lr = peak * decay_shape(p["shape"], u, p["final"])
        elif self.kind == "step":
            for at, factor in zip(p["at"], p["factor"], strict=True):
                lr[s >= at] = peak * factor
        if self.warmup:
            w = self.warmup
            lr[:w] = peak * (self.warmup_start + (1 - self.warmup_start) * s[:w] / w)
        return lr

    def describe(self) -> str:
        """The schedule in the command line's own syntax."""
        bits = []
        for k, v in self.params.items():
            if isinstance(v, tuple):
                v = "/".join(f"{x:g}" for x in v)
            elif isinstance(v, float):
                v = f"{v:g}"
            bits.append(f"{k}={v}")
        return self.kind + (":" + ",".join(bits) if bits else "")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "spec": self.describe(), "steps": self.steps, "peak_lr": self.peak_lr,
                "warmup": self.warmup, "warmup_start": self.warmup_start,
                "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}}


def decay_shape(shape: str, u: np.ndarray, final: float) -> np.ndarray:
    """Fraction of the peak during a decay at progress ``u`` in [0, 1], ending at ``final``."""
    if shape == "linear":
        return 1 - (1 - final) * u
    if shape == "1-sqrt":  # Hägele et al. 2024, eq. for the 1-sqrt cooldown
        return final + (1 - final) * (1 - np.sqrt(u))
    if shape == "cosine":
        return final + (1 - final) * 0.5 * (1 + np.cos(np.pi * u))
    # geometric decay to `final` (Luo et al. 2025's "wsd" runs: 3e-4 -> 3e-5)
    return np.power(final, u)


def _check_params(kind: str, p: dict[str, Any], steps: int) -> None:
    if "final" in p and not 0 <= p["final"] < 1:
        raise PlannerInputError(f"{kind}: final is the last learning rate as a fraction of the peak, in [0, 1)")
    if kind == "wsd":
        if not 0 < p["decay"] <= 1:
            raise PlannerInputError("wsd: decay is the share of the steps spent decaying, in (0, 1]")
        if p["shape"] not in SHAPES:
            raise PlannerInputError(f"wsd: unknown shape '{p['shape']}'; use one of {', '.join(SHAPES)}")
        if p["shape"] == "exp" and p["final"] <= 0:
            raise PlannerInputError("wsd: an exp decay needs final > 0 (e.g. final=0.1)")
    if kind == "step":
        at, factor = tuple(p["at"]), tuple(p["factor"])
        if not at or len(at) != len(factor):
            raise PlannerInputError("step: give as many 'at' steps as 'factor's, e.g. step:at=8000/16000,factor=0.3/0.1")
        if any(b <= a for a, b in zip(at, at[1:], strict=False)) or not 0 < at[0] or at[-1] > steps:
            raise PlannerInputError(f"step: 'at' steps must increase and lie within the {steps:,} steps")
        if any(not 0 < f <= 1 for f in factor):
            raise PlannerInputError("step: each factor is a fraction of the peak, in (0, 1]")
        p["at"], p["factor"] = tuple(int(a) for a in at), tuple(float(f) for f in factor)


def _value(kind: str, key: str, text: str) -> Any:
    if key == "shape":
        return text
    try:
        if key in ("at", "factor"):
            return tuple(float(x) for x in text.split("/"))
        return float(text)
    except ValueError:
        raise PlannerInputError(f"schedule '{kind}': {key}={text} is not a number") from None


def parse_schedule(spec: str, *, steps: int, peak_lr: float, warmup: int = 0, warmup_start: float = 0.0) -> Schedule:
    """``KIND[:key=value,...]``, e.g. ``wsd:decay=0.2,shape=linear`` or ``cosine:final=0.1``."""
    kind, _, rest = spec.strip().partition(":")
    kind = kind.strip().lower()
    params: dict[str, Any] = {}
    for item in filter(None, (x.strip() for x in rest.split(","))):
        key, eq, text = item.partition("=")
        if not eq:
            raise PlannerInputError(f"schedule '{spec}': '{item}' is not key=value")
        params[key.strip()] = _value(kind, key.strip(), text.strip())
    return Schedule(kind=kind, steps=steps, peak_lr=peak_lr, warmup=warmup, warmup_start=warmup_start, params=params)


def lr_from_points(steps: Sequence[float], lrs: Sequence[float], *, until: int | None = None, where: str = "") -> np.ndarray:
    """The learning rate at every step from logged ``(step, lr)`` points, by linear interpolation
    (exact on linear pieces). Before the first logged step the rate ramps linearly from 0 at
    step 0, the usual warmup; after the last it stays at the last value up to ``until``."""
    s = np.asarray(steps, dtype=float)
    v = np.asarray(lrs, dtype=float)
    label = f"{where}: " if where else ""
    if s.size == 0:
        raise PlannerInputError(f"{label}no (step, lr) points")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(v))) or np.any(v < 0) or np.any(s < 1):
        raise PlannerInputError(f"{label}steps must be >= 1 and learning rates finite and >= 0")
    if np.any(np.diff(s) <= 0):
        raise PlannerInputError(f"{label}steps must increase strictly")
    last = int(max(until or 0, s[-1]))
    if last > MAX_STEPS:
        raise PlannerInputError(f"{label}at most {MAX_STEPS:,} steps (got {last:,})")
    grid = np.arange(1, last + 1, dtype=float)
    return np.interp(grid, np.concatenate([[0.0], s]), np.concatenate([[0.0], v]))


def warmup_end(lr: np.ndarray) -> int:
    """Steps before the rate first reaches its largest value: the warmup, which the annealing
    terms of both laws leave out (Tissue et al. 2024 and Luo et al. 2025 start them after it)."""
    return int(np.argmax(lr)) if lr.size else 0
