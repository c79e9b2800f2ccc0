"""From a run file to a fitted law: the work behind ``plan fit``.

Reads the runs (:mod:`planner.rundata`), fits (:mod:`planner.fitting`), bootstraps, and
returns a frozen :class:`FitOutcome` that the CLI renders, writes as JSON, or saves as a law
table. No printing here; progress is reported through a callback.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.defaults import LIMITS
from planner.errors import PlannerInputError
from planner.io.runs import read_runs
from planner.laws.fitting import BootstrapResult, DownstreamFit, LossLawFit, bootstrap

__all__ = ["FORMS", "FitOutcome", "fit_runs"]

FORMS = ("chinchilla", "overtrain", "downstream")


@dataclass(frozen=True)
class FitOutcome:
    form: str
    coefficients: dict[str, float]
    intervals: dict[str, tuple[float, float]] | None
    level: float
    n_runs: int
    columns: dict[str, str]
    where: tuple[str, ...]
    data_file: str
    fingerprint: str
    objective: str
    residuals: list[dict[str, float]]
    outliers: list[int]
    boot: BootstrapResult | None = field(repr=False, default=None)
    params_range: tuple[float, float] | None = None
    tokens_per_param_range: tuple[float, float] | None = None
    params_include_embeddings: bool = True
    date: str = ""

    @property
    def rms_residual(self) -> float:
        key = "log_residual" if self.form != "downstream" else "residual"
        return float(np.sqrt(np.mean([r[key] ** 2 for r in self.residuals])))

    def to_dict(self) -> dict[str, Any]:
        return {
            "form": self.form,
            "coefficients": self.coefficients,
            "intervals": {k: list(v) for k, v in self.intervals.items()} if self.intervals else None,
            "level": self.level,
            "n_runs": self.n_runs,
            "columns": self.columns,
            "where": list(self.where),
            "data_file": self.data_file,
            "data_fingerprint": self.fingerprint,
            "objective": self.objective,
            "rms_residual": self.rms_residual,
            "residuals": self.residuals,
            "outliers": self.outliers,
            "bootstrap": None
            if self.boot is None
            else {"requested": self.boot.requested, "failed": self.boot.failed, "seed": self.boot.seed},
        }

    def law_table(self) -> dict[str, Any]:
        """The TOML table ``plan fit --save`` writes (see :mod:`planner.lawstore`)."""
        fit = {
            "form": self.form,
            "objective": self.objective,
            "data_file": self.data_file,
            "data_fingerprint": self.fingerprint,
            "n_runs": self.n_runs,
            "columns": ", ".join(f"{k}={v}" for k, v in self.columns.items()),
            "where": list(self.where),
            "date": self.date,
        }
        source = f"fitted with `plan fit --form {self.form}` on {self.data_file} ({self.n_runs} runs, {self.date})"
        if self.form == "downstream":
            table: dict[str, Any] = {"form": "downstream", **self.coefficients, "suite": self.columns["error"], "source": source}
        else:
            table = {
                "form": "chinchilla",
                **self.coefficients,
                "params_include_embeddings": self.params_include_embeddings,
                "source": source,
            }
            if self.params_range:
                table["fit_params_range"] = list(self.params_range)
            if self.tokens_per_param_range:
                table["fit_tokens_per_param_range"] = list(self.tokens_per_param_range)
        if self.boot is not None and len(self.boot.draws):
            fit["bootstrap_seed"] = self.boot.seed
            fit["bootstrap_failed"] = self.boot.failed
        table["fit"] = fit
        if self.intervals:
            table["intervals"] = {"level": self.level, **{k: list(v) for k, v in self.intervals.items()}}
        if self.boot is not None and len(self.boot.draws):
            table["bootstrap"] = {name: [float(v) for v in self.boot.draws[:, i]] for i, name in enumerate(self.boot.names)}
        return table


def fit_runs(
    path: str,
    *,
    form: str = "chinchilla",
    params_col: str | None = None,
    tokens_col: str | None = None,
    loss_col: str | None = None,
    error_col: str | None = None,
    where: Sequence[str] = (),
    objective: str = "huber",
    delta: float = 1e-3,
    n_bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
    params_include_embeddings: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> FitOutcome:
    """Fit ``form`` to the runs in ``path`` (CSV or JSON lines)."""
    if form not in FORMS:
        raise PlannerInputError(f"unknown form '{form}'; choose one of {', '.join(FORMS)}")
    if not 0 < level < 1:
        raise PlannerInputError(f"--level must be in (0, 1), got {level}")
    if n_bootstrap < 0:
        raise PlannerInputError("--bootstrap must be 0 or more")
    table = read_runs(path).where(where)
    if len(table) == 0:
        raise PlannerInputError(f"no runs left in {path} after --where {' '.join(where)}")
    if n_bootstrap * len(table) > LIMITS["bootstrap_row_fits"]:
        raise PlannerInputError(f"--bootstrap {n_bootstrap} on {len(table):,} runs is above the planner's limit of "
                                f"{LIMITS['bootstrap_row_fits']:,} draws x runs (README, 'Limits'): use at most "
                                f"{LIMITS['bootstrap_row_fits'] // len(table):,} draws")
    columns: dict[str, str] = {}
    if form == "downstream":
        columns["loss"] = table.find("loss", loss_col)
        columns["error"] = table.find("error", error_col)
        data = [table.numeric(columns["loss"]), table.numeric(columns["error"])]
        est: LossLawFit | DownstreamFit = DownstreamFit().fit(*data)
        residuals = [
            {"row": i + 1, "loss": float(data[0][i]), "error": float(data[1][i]), "residual": float(est.residuals_[i])}
            for i in range(len(table))
        ]
        r = est.residuals_
        mad = 1.4826 * np.median(np.abs(r - np.median(r)))
        outliers = [] if mad == 0 else [int(i) + 1 for i in np.flatnonzero(np.abs(r - np.median(r)) > 3 * mad)]
        params_range = ratio_range = None
    else:
        columns["params"] = table.find("params", params_col)
        columns["tokens"] = table.find("tokens", tokens_col)
        columns["loss"] = table.find("loss", loss_col)
        data = [table.numeric(columns[k]) for k in ("params", "tokens", "loss")]
        est = LossLawFit(form, objective=objective, delta=delta).fit(*data)
        residuals = [
            {"row": i + 1, "params": float(data[0][i]), "tokens": float(data[1][i]), "loss": float(data[2][i]), "log_residual": float(est.log_residuals_[i])}
            for i in range(len(table))
        ]
        outliers = [int(i) + 1 for i in est.outliers()]
        params_range, ratio_range = est.params_range_, est.tokens_per_param_range_
    boot = bootstrap(est, data, n_bootstrap, seed=seed, progress=progress) if n_bootstrap else None
    if boot is not None and len(boot.draws) < 2:
        raise PlannerInputError(f"only {len(boot.draws)} of {n_bootstrap} bootstrap refits succeeded: too few runs to resample")
    return FitOutcome(
        form=form,
        coefficients={k: float(v) for k, v in est.coef_.items()},
        intervals=boot.interval(level) if boot is not None else None,
        level=level,
        n_runs=len(table),
        columns=columns,
        where=tuple(where),
        data_file=str(path),
        fingerprint=est.fingerprint_,
        objective="lsq" if form == "downstream" else objective,
        residuals=residuals,
        outliers=outliers,
        boot=boot,
        params_range=params_range,
        tokens_per_param_range=ratio_range,
        params_include_embeddings=params_include_embeddings,
        date=_dt.date.today().isoformat(),
    )
