"""A task law across model sizes: per-problem success probabilities whose mean and tail both
move with the model's loss (shared/reference/inference.md, "A fittable chain").

For a model of loss ``L`` each problem's single-sample success ``p ~ Beta(alpha, beta)`` with

    logit mu(L)   = m0 + m1 x + m2 x^2,  x = L - center   (the mean success mu = alpha / (alpha + beta))
    log alpha(L)  = a0 + a1 x                             (the tail exponent near p = 0)

and ``pass@k = 1 - B(alpha, beta + k) / B(alpha, beta)`` exactly (Schaeffer et al. 2025).
inference.md's chain has the mean linear in L; on Pythia MATH that puts the 70M model's pass@1
at 4-6x what it measured (the mean falls faster at the weak end), so the mean gets a
curvature term ``m2``. Outside the fitted losses the mean continues along its tangent at the
nearer edge, so the law stays monotone in L however far a plan takes it.
The four coefficients are fitted by pooled Beta-binomial maximum likelihood over every size's
per-problem correct-of-n counts (problems never solved count: they are the tail). The law is
indexed by the loss of a named scaling law at each model's (N, D), so a plan evaluates it at
its own model; outside the losses it was fitted on it extrapolates, and says so.
Pure numerics (numpy, scipy): files and the CLI are elsewhere.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["SizeCounts", "TaskLaw", "beta_binomial_fit", "bootstrap_task_law", "fit_task_law", "leave_out_check", "pooled_nll"]


@dataclass(frozen=True)
class SizeCounts:
    """One model's per-problem counts: ``c`` correct of ``n`` samples, and its loss."""

    name: str
    loss: float
    n: tuple[int, ...]
    c: tuple[int, ...]

    def observed_pass_at_k(self, k: int) -> float:
        from planner.serving.sampling import unbiased_pass_at_k

        return unbiased_pass_at_k(list(self.n), list(self.c), k)


@dataclass(frozen=True)
class TaskLaw:
    """Coefficients of the law, the loss range it was fitted on and the law indexing it."""

    name: str
    m0: float
    m1: float
    m2: float
    a0: float
    a1: float
    center: float
    loss_lo: float
    loss_hi: float
    loss_law: str
    source: str = ""
    sizes: tuple[str, ...] = ()

    def logit_mean(self, loss: float | np.ndarray) -> np.ndarray:
        x = np.asarray(loss, dtype=float) - self.center
        edge = np.clip(x, self.loss_lo - self.center, self.loss_hi - self.center)
        return self.m0 + self.m1 * edge + self.m2 * edge**2 + (self.m1 + 2 * self.m2 * edge) * (x - edge)

    def mean(self, loss: float | np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit_mean(loss)))

    def alpha(self, loss: float | np.ndarray) -> np.ndarray:
        return np.exp(self.a0 + self.a1 * (np.asarray(loss, dtype=float) - self.center))

    def beta(self, loss: float | np.ndarray) -> np.ndarray:
        mu = self.mean(loss)
        return self.alpha(loss) * (1.0 / mu - 1.0)

    def pass_at_k(self, loss: float, ks: Sequence[float]) -> np.ndarray:
        """``1 - B(alpha, beta + k) / B(alpha, beta)`` at ``loss`` for each k (k = 1 is the mean)."""
        return _pass_at_k(float(self.alpha(loss)), float(self.beta(loss)), ks)

    def supports(self, loss: float) -> bool:
        return self.loss_lo <= loss <= self.loss_hi

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sizes"] = list(self.sizes)
        return d


def _pass_at_k(a: float, b: float, ks: Sequence[float]) -> np.ndarray:
    from scipy.special import gammaln

    k = np.asarray(ks, dtype=float)
    log_ratio = gammaln(b + k) - gammaln(a + b + k) - gammaln(b) + gammaln(a + b)
    return -np.expm1(log_ratio)


def _betabin_loglik(n: np.ndarray, c: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Sum of Beta-binomial log-likelihoods (without the binomial coefficient, a constant)."""
    from scipy.special import betaln

    return float(np.sum(betaln(c + a, n - c + b) - betaln(a, b)))


def beta_binomial_fit(n: Sequence[int], c: Sequence[int]) -> tuple[float, float]:
    """One model's (alpha, beta) by Beta-binomial maximum likelihood (the per-size fits)."""
    from scipy.optimize import minimize

    n_, c_ = np.asarray(n, dtype=float), np.asarray(c, dtype=float)
    mu0 = min(max(c_.sum() / n_.sum(), 1e-4), 0.5)

    def nll(x: np.ndarray) -> float:  # x = (log alpha, logit mean); beta = alpha (1/mu - 1) = alpha exp(-logit)
        a = math.exp(x[0])
        return -_betabin_loglik(n_, c_, a, a * math.exp(-x[1]))

    res = minimize(nll, np.array([math.log(0.2), math.log(mu0 / (1 - mu0))]), method="Nelder-Mead",
                   options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000})
    a = math.exp(res.x[0])
    return a, a * math.exp(-res.x[1])


def _start(sizes: Sequence[SizeCounts], x_loss: np.ndarray) -> np.ndarray:
    """A straight line through the sizes' pooled logit means, no curvature, and a flat tail
    exponent of 0.2 (the per-size fits' alphas are unstable where few problems are solved)."""
    mu = np.array([max(sum(s.c) / sum(s.n), 1e-6) for s in sizes])
    m1, m0 = np.polyfit(x_loss, np.log(mu / (1 - mu)), 1)
    return np.array([m0, m1, 0.0, math.log(0.2), 0.0])


def pooled_nll(x: np.ndarray, xs: np.ndarray, n: np.ndarray, c: np.ndarray) -> tuple[float, np.ndarray]:
    """The pooled Beta-binomial negative log-likelihood of the five coefficients ``x`` (m0, m1,
    m2, a0, a1) over problems with loss offsets ``xs``, samples ``n`` and correct ``c``, and its
    gradient in closed form (d/da betaln(a, b) = psi(a) - psi(a + b), and the chain rule)."""
    from scipy.special import betaln, digamma

    a = np.exp(x[3] + x[4] * xs)
    b = a * np.exp(-(x[0] + x[1] * xs + x[2] * xs * xs))  # alpha (1/mu - 1) = alpha exp(-logit mu)
    value = -float(np.sum(betaln(c + a, n - c + b) - betaln(a, b)))
    both = digamma(n + a + b) - digamma(a + b)
    ga = -(digamma(c + a) - digamma(a) - both) * a  # d nll / d log a
    gb = -(digamma(n - c + b) - digamma(b) - both) * b  # d nll / d log b
    grad = np.array([-gb.sum(), -(gb * xs).sum(), -(gb * xs * xs).sum(), (ga + gb).sum(), ((ga + gb) * xs).sum()])
    return value, grad


def fit_task_law(sizes: Sequence[SizeCounts], *, name: str = "task", loss_law: str = "", source: str = "",
                 start: np.ndarray | None = None) -> TaskLaw:
    """Pooled Beta-binomial maximum likelihood of the five coefficients over all ``sizes``
    (L-BFGS from :func:`_start`, or from ``start``: deterministic)."""
    from scipy.optimize import minimize

    if len({s.loss for s in sizes}) < 2:
        raise ValueError("a task law needs models of at least two different losses")
    losses = np.array([s.loss for s in sizes])
    center = float(losses.mean())
    x_loss = losses - center
    xs = np.concatenate([np.full(len(s.n), x) for s, x in zip(sizes, x_loss, strict=True)])
    n = np.concatenate([np.asarray(s.n, dtype=float) for s in sizes])
    c = np.concatenate([np.asarray(s.c, dtype=float) for s in sizes])

    x0 = _start(sizes, x_loss) if start is None else np.asarray(start, dtype=float)
    res = minimize(pooled_nll, x0, args=(xs, n, c), jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-6})
    if not res.success:  # rare: fall back on the simplex from where it stopped
        res = minimize(lambda x: pooled_nll(x, xs, n, c)[0], res.x, method="Nelder-Mead",
                       options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 40000, "adaptive": True})
    return TaskLaw(name=name, m0=float(res.x[0]), m1=float(res.x[1]), m2=float(res.x[2]), a0=float(res.x[3]), a1=float(res.x[4]), center=center,
                   loss_lo=float(losses.min()), loss_hi=float(losses.max()), loss_law=loss_law, source=source,
                   sizes=tuple(s.name for s in sizes))


def _coefficients(law: TaskLaw) -> np.ndarray:
    return np.array([law.m0, law.m1, law.m2, law.a0, law.a1])


def bootstrap_task_law(sizes: Sequence[SizeCounts], ks: Sequence[int], *, draws: int = 100, seed: int = 0,
                       level: float = 0.90) -> dict[str, np.ndarray]:
    """Intervals over problems: resample the problems (the same ones for every size, as they are
    one benchmark), refit, and take the ``level`` percentile band of each size's pass@k.
    Returns ``{size name: array (len(ks), 2)}``."""
    rng = np.random.default_rng(seed)
    m = len(sizes[0].n)
    if any(len(s.n) != m for s in sizes):
        raise ValueError("the bootstrap resamples problems: every size needs the same problems")
    out: dict[str, list[np.ndarray]] = {s.name: [] for s in sizes}
    start = _coefficients(fit_task_law(sizes))
    for _ in range(draws):
        idx = rng.integers(0, m, m)
        boot = [SizeCounts(s.name, s.loss, tuple(np.asarray(s.n)[idx]), tuple(np.asarray(s.c)[idx])) for s in sizes]
        law = fit_task_law(boot, start=start)
        for s in sizes:
            out[s.name].append(law.pass_at_k(s.loss, ks))
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {k: np.stack([np.percentile(np.array(v), lo, axis=0), np.percentile(np.array(v), hi, axis=0)], axis=1) for k, v in out.items()}


def leave_out_check(sizes: Sequence[SizeCounts], ks: Sequence[int] = (1, 100), held: int = 2) -> list[dict]:
    """Fit on all sizes but ``held``, predict those: one row per held-out size per subset, with
    the observed (unbiased) and predicted pass@k at each k."""
    rows = []
    for out in itertools.combinations(range(len(sizes)), held):
        law = fit_task_law([s for i, s in enumerate(sizes) if i not in out])  # its own start: no peeking at the held-out sizes
        for i in out:
            s = sizes[i]
            pred = law.pass_at_k(s.loss, ks)
            rows.append({"held_out": tuple(sizes[j].name for j in out), "size": s.name, "loss": s.loss,
                         "observed": {int(k): s.observed_pass_at_k(int(k)) for k in ks},
                         "predicted": {int(k): float(p) for k, p in zip(ks, pred, strict=True)}})
    return rows
