"""``plan validate``: every measured run shipped with the project, predicted and measured side
by side, grouped by source, beside a constant-utilisation baseline.

Rows are **in sample** when the step-time constants were fitted on them
(:func:`planner.systems.calibration.load_cases`) and **out of sample** when nothing was
(:func:`~planner.systems.calibration.load_check_cases`); that module states which rows are
which. The baseline predicts every row with one hardware-FLOP utilisation of the row's
precision peak, fitted on the same calibration rows as the model (the geometric mean of
their measured HFU, each data set weighted equally, as the fit weights them) and never on a
checking row. A physics model earns its terms only where it beats that constant.

Each row is predicted with the layout its source published; fields a source leaves out are
searched (fastest wins, as the authors tuned them). Pure computation: the CLI prints what
:func:`validate` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.hardware.registry import load_registry
from planner.systems.calibration import Case, load_cases, load_check_cases, predict
from planner.systems.perf import Calibration, load_calibration

__all__ = ["Row", "SourceSummary", "baseline_hfu", "summarise", "validate"]

_SOURCES = {
    "vtrain_multi": "vTrain multi-node (A100)",
    "vtrain_single": "vTrain single-node (A100)",
    "megatron_lm": "Megatron-LM r0.8 weak scaling (H100, BF16)",
    "megatron_lm_check": "Megatron-LM r0.8 weak + strong scaling (H100, BF16)",
    "megatron_bridge": "Megatron-Bridge (FP8; H100, B200, GB200)",
    "megatron_bridge_check": "Megatron-Bridge (FP8/FP4; H100, B200, GB200)",
    "llama3_405b": "Dubey et al. 2024, Llama 3 405B (H100, BF16)",
}


@dataclass(frozen=True)
class Row:
    source: str
    run: str
    gpu: str
    metric: str  # one of planner.systems.calibration.METRICS
    measured: float
    predicted: float
    baseline: float
    in_sample: bool

    @property
    def error(self) -> float:
        return self.predicted / self.measured - 1.0

    @property
    def baseline_error(self) -> float:
        return self.baseline / self.measured - 1.0


@dataclass(frozen=True)
class SourceSummary:
    source: str
    rows: int
    in_sample: bool
    mean_abs_error: float
    max_abs_error: float
    baseline_mean_abs_error: float


def _rc_name(case: Case) -> str:
    return {0: "none", 1: "selective", 2: "full"}[case.fixed.get("recompute", 0)]


def _step_from(case: Case, value: float) -> float:
    """Seconds per step that ``value`` (in the case's metric) stands for. value x step is a
    constant of the case for every throughput metric, so the same map turns a step time back
    into the metric."""
    tokens = case.global_batch * case.shape.seq
    if case.metric == "iter_s":
        return value
    if case.metric == "tokens_per_s_per_gpu":
        return tokens / (value * case.n_gpus)
    flops = case.shape.model_flops_per_token() if case.metric == "model_tflops" else case.shape.hardware_flops_per_token(_rc_name(case))
    return flops * tokens / (value * 1e12 * case.n_gpus)


def _hfu(case: Case, peak: float) -> float:
    """Measured hardware-FLOP utilisation of ``case`` (recompute counted where the source
    states it; model FLOPs where it does not, which is what a constant-MFU user assumes)."""
    flops = case.shape.hardware_flops_per_token(_rc_name(case)) * case.global_batch * case.shape.seq
    return flops / (_step_from(case, case.measured) * case.n_gpus * peak)


def baseline_hfu(groups: dict[str, list[Case]]) -> float:
    """The baseline's one constant: the geometric mean of the per-set geometric-mean HFU of the
    calibration rows (each set weighted equally, as the fit weights them)."""
    registry = load_registry(user_config=False)
    logs = [np.mean([np.log(_hfu(c, registry.get(c.gpu).peak_flops_per_s(c.precision))) for c in members])
            for members in groups.values() if members]
    return float(np.exp(np.mean(logs)))


def _baseline(case: Case, hfu: float, peak: float) -> float:
    flops = case.shape.hardware_flops_per_token(_rc_name(case)) * case.global_batch * case.shape.seq
    return _step_from(case, flops / (case.n_gpus * peak * hfu))  # its own inverse: the step back to the metric


def _source_of(group: str, case: Case) -> str:
    if group == "published":
        return "Narayanan et al. 2021 (A100)" if case.source.startswith("Narayanan") else "Korthikanti et al. 2022 (A100)"
    return _SOURCES[group]


def validate(calibration: Calibration | None = None) -> tuple[Row, ...]:
    """Every shipped measurement, predicted by the step-time model and by the constant baseline;
    ``calibration`` replaces the shipped constants for every row (``benchmarks/calibrate.py``
    passes its refit)."""
    registry = load_registry(user_config=False)
    fitted, checks = load_cases(), load_check_cases()
    hfu = baseline_hfu(fitted)
    rows: list[Row] = []
    cals: dict[str, Calibration] = {}  # one load per accelerator, not per run
    for in_sample, groups in ((True, fitted), (False, checks)):
        for group, members in groups.items():
            for case in members:
                accel = registry.get(case.gpu)
                if accel.id not in cals:
                    cals[accel.id] = calibration or load_calibration(accel)
                rows.append(Row(source=_source_of(group, case), run=case.source, gpu=case.gpu, metric=case.metric,
                                measured=case.measured, predicted=predict(case, cals[accel.id], accel),
                                baseline=_baseline(case, hfu, accel.peak_flops_per_s(case.precision)), in_sample=in_sample))
    return tuple(rows)


def summarise(rows: tuple[Row, ...]) -> tuple[SourceSummary, ...]:
    """Mean and worst |error| per source, in or out of sample, beside the baseline's."""
    out = []
    for key in dict.fromkeys((r.source, r.in_sample) for r in rows):
        group = [r for r in rows if (r.source, r.in_sample) == key]
        err = np.abs([r.error for r in group])
        out.append(SourceSummary(source=key[0], rows=len(group), in_sample=key[1],
                                 mean_abs_error=float(err.mean()), max_abs_error=float(err.max()),
                                 baseline_mean_abs_error=float(np.mean(np.abs([r.baseline_error for r in group])))))
    return tuple(out)
