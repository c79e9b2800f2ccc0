"""Refit the step-time model's constants on the calibration rows and print the TOML, then the
table `plan validate` prints, computed from the refit.

    python benchmarks/calibrate.py     # about 3 minutes on 2 cores

Data: the calibration rows planner/systems/calibration.py names (load_cases): Narayanan et al.
2021 and Korthikanti et al. 2022 (A100), vTrain's multi- and single-node measurements (A100),
Megatron-LM's H100 weak scaling and Megatron-Bridge's calibration rows. Each data set gets
equal total weight; the checking rows are never fitted. Paste the TOML into
planner/data/calibration.toml; tests/systems/test_perf.py and test_validation.py check the
shipped constants still meet the error targets.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from rich.console import Console

from planner.hardware.registry import load_registry
from planner.io import measured_data_dir
from planner.report.tables import render_validation
from planner.systems.calibration import (
    fit_calibration,
    llama3_errors,
    load_cases,
    relative_errors,
)
from planner.systems.perf import load_calibration
from planner.systems.validation import summarise, validate

DATA = measured_data_dir()


def main() -> None:
    cases = load_cases(DATA)
    # Starting values for the optimiser only (the fit moves each of them): the shipped
    # constants, with the link efficiency, the fallback time and the efficiencies reset to
    # round values.
    start = replace(load_calibration(load_registry(user_config=False).get("a100")), link_efficiency=0.5, memory_traffic=2.0, softmax_fallback_s=1e-4,
                    compute_efficiency=(("a100-sxm-80gb", 0.95), ("h100-sxm", 0.7), ("h100-sxm/fp8", 0.96), ("b200/fp8", 0.8), ("gb200/fp8", 0.8)))
    everything, weights = [], []
    for group in cases.values():
        everything += group
        weights += [1.0 / len(group)] * len(group)
    fit = fit_calibration(everything, start, np.array(weights) * len(everything))
    print("[nvidia]")
    for key in ("memory_traffic", "score_traffic", "link_efficiency", "network_efficiency", "collective_latency_s", "layer_dispatch_s",
                "overlap_exponent", "softmax_fallback_s"):
        print(f"{key} = {getattr(fit, key):.6g}")
    print("compute_efficiency = { " + ", ".join(f'"{g}" = {v:.4g}' for g, v in fit.compute_efficiency) + " }")
    for name, group in cases.items():
        err = np.abs(relative_errors(group, fit))
        print(f"# {name}: {len(group)} runs, mean |error| {err.mean():.1%}, max {err.max():.1%}")
    err = np.abs(llama3_errors(fit))
    print(f"# Llama 3 405B on H100, planner search (memory checked): {err.size} runs, mean |error| {err.mean():.1%}, max {err.max():.1%}")
    # The table `plan validate` prints, from the refit: in and out of sample, beside the baseline.
    Console().print(render_validation(summarise(validate(fit)), ()))


if __name__ == "__main__":
    main()
