"""Loss-curve laws: the loss at every step under any learning-rate schedule.

Two published forms, both written in the learning rate of every step (``lr[i]`` for step
``i + 1``, :mod:`planner.laws.schedules`):

- ``annealing`` (Tissue et al. 2024, "Scaling Law with Learning Rate Annealing", eq. 1):
  L(s) = L0 + A·S1(s)^(−alpha) − C·S2(s), with S1 the forward area (the sum of the learning
  rate up to s) and S2 the annealing area in its momentum form: m_i = lam·m_(i−1) + (lr_(i−1) − lr_i),
  S2 = sum of m_i. ``lam`` is the paper's decay factor, 0.999 by default (their choice).
- ``multi-power`` (Luo et al. 2025, "A Multi-Power Law for Loss Curve Prediction Across
  Learning Rate Schedules", eq. 4): L(t) = L0 + A·(S1(t) + S_W)^(−alpha) − LD(t),
  LD(t) = B·sum_k (lr_(k−1) − lr_k)·G(lr_k^(−gamma)·S_k(t)), S_k(t) = sum_(k<=tau<=t) lr_tau,
  G(x) = 1 − (C·x + 1)^(−beta).

Choices this module makes (and says): S1 counts the warmup's real area (the multi-power law's
S_W; Tissue et al. count warmup steps at the peak rate, a difference of half the warmup area);
the annealing terms start after the warmup (both papers). The multi-power sum over k is
exact for up to ``MPL_TERMS`` rate changes; beyond that neighbouring changes are pooled into
that many blocks (each at its weighted-mean step), which moves a prediction by < 1e-4 on the
shipped curves (tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.errors import PlannerInputError
from planner.laws.schedules import warmup_end

__all__ = ["CURVE_FORMS", "CurveLaw", "PARAM_NAMES", "curve_features", "curve_gradient", "curve_loss", "schedule_areas"]

CURVE_FORMS = ("annealing", "multi-power")
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "annealing": ("L0", "A", "alpha", "C"),
    "multi-power": ("L0", "A", "alpha", "B", "C", "beta", "gamma"),
}
#: Tissue et al. 2024's momentum decay factor for the annealing area (their default, sec. 3).
DEFAULT_LAMBDA = 0.999
#: Rate changes the multi-power sum keeps exactly; more are pooled into this many blocks.
MPL_TERMS = 400
_MPL_CHUNK = 20_000  # steps evaluated at once by the multi-power law (a 20,000 x 400 matrix, 64 MB)


def schedule_areas(lr: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(prefix sums of the rate, the rate drops after the warmup, the warmup's last index)."""
    if lr.size == 0 or np.any(steps < 1) or np.any(steps > lr.size):
        raise PlannerInputError(f"steps must lie within the schedule's 1..{lr.size:,} steps")
    prefix = np.concatenate([[0.0], np.cumsum(lr)])
    drop = np.zeros_like(lr)
    drop[1:] = lr[:-1] - lr[1:]
    w = warmup_end(lr)
    drop[: w + 1] = 0.0
    return prefix, drop, w


def curve_features(form: str, lr: np.ndarray, steps: Sequence[int] | np.ndarray, lam: float = DEFAULT_LAMBDA) -> tuple[Any, ...]:
    """What ``form`` needs of a schedule at ``steps`` (1-based), computed once per curve."""
    lr = np.asarray(lr, dtype=float)
    t = np.asarray(steps, dtype=int)
    prefix, drop, _ = schedule_areas(lr, t)
    s1 = prefix[t]
    if np.any(s1 <= 0):
        raise PlannerInputError("the learning rate must be above 0 somewhere before every evaluated step")
    if form == "annealing":
        from scipy.signal import lfilter

        momentum = lfilter([1.0], [1.0, -lam], drop)
        return s1, np.cumsum(momentum)[t - 1]
    if form != "multi-power":
        raise PlannerInputError(f"unknown curve form '{form}'; use one of {', '.join(CURVE_FORMS)}")
    k = np.nonzero(drop)[0]
    if k.size > MPL_TERMS:
        blocks = np.array_split(k, MPL_TERMS)
        dk = np.array([drop[b].sum() for b in blocks])
        kk = np.array([int(round(np.average(b, weights=np.abs(drop[b])))) for b in blocks])
    else:
        dk, kk = drop[k], k
    # S_k(t) = sum of lr over steps k+1..t (1-based), 0 when the change lies after t (G(0) = 0)
    sk = np.maximum(prefix[t][:, None] - prefix[kk][None, :], 0.0)
    sk[kk[None, :] >= t[:, None]] = 0.0
    return s1, dk, lr[kk] if kk.size else np.zeros(0), sk


def curve_loss(form: str, p: Sequence[float], features: tuple[Any, ...]) -> np.ndarray:
    """The law's loss at the featured steps for coefficients ``p`` (in ``PARAM_NAMES`` order)."""
    if form == "annealing":
        L0, A, alpha, C = p
        s1, s2 = features
        return L0 + A * s1 ** (-alpha) - C * s2
    L0, A, alpha, B, C, beta, gamma = p
    s1, dk, lrk, sk = features
    if not dk.size:
        return L0 + A * s1 ** (-alpha)
    x = sk * (lrk ** (-gamma))[None, :]
    g = 1.0 - (C * x + 1.0) ** (-beta)
    return L0 + A * s1 ** (-alpha) - B * (g @ dk)


def curve_gradient(form: str, p: Sequence[float], features: tuple[Any, ...]) -> np.ndarray:
    """d loss / d coefficient at the featured steps (rows: steps; columns in ``PARAM_NAMES``
    order), for the fit's Jacobian (held to central differences in the tests)."""
    if form == "annealing":
        L0, A, alpha, C = p
        s1, s2 = features
        power = s1 ** (-alpha)
        return np.stack([np.ones_like(s1), power, -A * power * np.log(s1), -s2], axis=1)
    L0, A, alpha, B, C, beta, gamma = p
    s1, dk, lrk, sk = features
    power = s1 ** (-alpha)
    cols = [np.ones_like(s1), power, -A * power * np.log(s1)]
    if not dk.size:
        return np.stack([*cols, *(np.zeros_like(s1) for _ in range(4))], axis=1)
    x = sk * (lrk ** (-gamma))[None, :]
    base = C * x + 1.0
    tail = base ** (-beta)
    d_c = beta * x * tail / base  # dG/dC
    d_beta = tail * np.log(base)  # dG/dbeta
    d_gamma = -C * d_c * np.log(lrk)[None, :]  # dG/dgamma, as dx/dgamma = -x ln(lr_k)
    return np.stack([*cols, -((1.0 - tail) @ dk), -B * (d_c @ dk), -B * (d_beta @ dk), -B * (d_gamma @ dk)], axis=1)


@dataclass(frozen=True)
class CurveLaw:
    """A fitted loss-curve law and the training setup it was fitted on."""

    name: str
    form: str
    coefficients: Mapping[str, float]
    peak_lr: float
    warmup: int
    lam: float = DEFAULT_LAMBDA
    fit_steps: tuple[int, int] = (1, 1)
    draws: tuple[tuple[float, ...], ...] = field(default=(), repr=False)
    source: str = ""
    fit_info: Mapping[str, Any] = field(default_factory=dict, repr=False)
    origin: str = "fit"

    def __post_init__(self) -> None:
        if self.form not in CURVE_FORMS:
            raise PlannerInputError(f"unknown curve form '{self.form}'; use one of {', '.join(CURVE_FORMS)}")
        missing = [k for k in PARAM_NAMES[self.form] if k not in self.coefficients]
        if missing:
            raise PlannerInputError(f"curve law '{self.name}': missing {', '.join(missing)}")

    @property
    def vector(self) -> tuple[float, ...]:
        return tuple(float(self.coefficients[k]) for k in PARAM_NAMES[self.form])

    def loss(self, lr: np.ndarray, steps: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Predicted loss at ``steps`` (default: every step) of the schedule ``lr``."""
        t = np.arange(1, len(lr) + 1) if steps is None else np.asarray(steps, dtype=int)
        if self.form == "multi-power" and t.size > _MPL_CHUNK:  # its decay term is a steps x terms matrix
            return np.concatenate([self.loss(lr, t[i:i + _MPL_CHUNK]) for i in range(0, t.size, _MPL_CHUNK)])
        return curve_loss(self.form, self.vector, curve_features(self.form, lr, t, self.lam))

    def loss_draws(self, lr: np.ndarray, steps: Sequence[int] | np.ndarray) -> np.ndarray:
        """The loss at ``steps`` under every bootstrap draw (rows), for intervals."""
        if not self.draws:
            return np.zeros((0, len(steps)))
        f = curve_features(self.form, lr, np.asarray(steps, dtype=int), self.lam)
        return np.array([curve_loss(self.form, d, f) for d in self.draws])

    def to_table(self) -> dict[str, Any]:
        """The law as a TOML table for the law store (``plan curve fit --save``)."""
        table: dict[str, Any] = {"form": self.form, **{k: float(v) for k, v in self.coefficients.items()},
                                 "peak_lr": self.peak_lr, "warmup": self.warmup, "lambda": self.lam,
                                 "fit_steps": list(self.fit_steps), "source": self.source}
        if self.fit_info:
            table["fit"] = dict(self.fit_info)
        if self.draws:
            table["bootstrap"] = {k: [d[i] for d in self.draws] for i, k in enumerate(PARAM_NAMES[self.form])}
        return table

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "form": self.form, "coefficients": dict(self.coefficients), "peak_lr": self.peak_lr,
                "warmup": self.warmup, "lambda": self.lam, "fit_steps": list(self.fit_steps), "origin": self.origin,
                "source": self.source, "bootstrap_draws": len(self.draws)}

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, Any], origin: str) -> CurveLaw:
        where = f"curve law '{name}' ({origin})"
        form = table.get("form")
        if form not in CURVE_FORMS:
            raise PlannerInputError(f"{where}: form must be one of {', '.join(CURVE_FORMS)}")
        names = PARAM_NAMES[form]
        try:
            coeffs = {k: float(table[k]) for k in names}
            peak, warmup = float(table["peak_lr"]), int(table.get("warmup", 0))
            lam = float(table.get("lambda", DEFAULT_LAMBDA))
            lo, hi = (int(x) for x in table.get("fit_steps", (1, 1)))
            boot = table.get("bootstrap", {})
            cols = [[float(x) for x in boot[k]] for k in names] if boot else []
        except (KeyError, TypeError, ValueError) as exc:
            raise PlannerInputError(f"{where}: bad or missing value ({exc})") from None
        if cols and len({len(c) for c in cols}) != 1:
            raise PlannerInputError(f"{where}: bootstrap columns differ in length")
        draws = tuple(zip(*cols, strict=True)) if cols else ()
        if not all(np.isfinite(v) for v in coeffs.values()) or peak <= 0:
            raise PlannerInputError(f"{where}: coefficients must be finite and peak_lr > 0")
        return cls(name=name, form=form, coefficients=coeffs, peak_lr=peak, warmup=warmup, lam=lam, fit_steps=(lo, hi),
                   draws=draws, source=str(table.get("source", "")), fit_info=dict(table.get("fit", {})), origin=origin)
