"""Refit the step-time model's constants on the measured A100 runs and print the TOML.

    python benchmarks/calibrate.py     # about 2 minutes on 2 cores

Data: planner/data/measured/published_runs_a100.csv (Narayanan et al. 2021 Table 1, Korthikanti
et al. 2022 Table 5) and vTrain's multi- and single-node measurements. Each data set gets
equal total weight. Paste the output into planner/data/calibration.toml;
tests/systems/test_perf.py checks the shipped constants still meet the error targets.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.hardware.registry import load_registry
from planner.io import measured_data_dir
from planner.systems.calibration import (
    fit_calibration,
    llama3_errors,
    load_cases,
    load_check_cases,
    relative_errors,
)
from planner.systems.perf import load_calibration

DATA = measured_data_dir()


def main() -> None:
    cases = load_cases(DATA)
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
    for name, group in load_check_cases(DATA).items():
        err = np.abs(relative_errors(group, fit))
        print(f"# out of sample, {name}: {len(group)} runs, mean |error| {err.mean():.1%}, max {err.max():.1%}")
    err = np.abs(llama3_errors(fit))
    print(f"# out of sample, Llama 3 405B on H100: {err.size} runs, mean |error| {err.mean():.1%}, max {err.max():.1%}")


if __name__ == "__main__":
    main()
