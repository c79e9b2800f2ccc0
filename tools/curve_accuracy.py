"""Print the README's loss-curve accuracy table: each law form fitted to each model size's nine
curves of Luo et al. 2025 (planner/data/measured/lr_schedule_curves_mpl.csv), in-sample and
with each curve held back in turn. Run: python tools/curve_accuracy.py (about a minute)."""

from __future__ import annotations

import numpy as np

from planner.io import measured_data_dir
from planner.laws.curvefit import fit_curves, read_curves

SIZES = {"25M": "89000000", "100M": "205000000"}


def main() -> None:
    path = str(measured_data_dir() / "lr_schedule_curves_mpl.csv")
    print("| model | form | R² | mean abs error in-sample | final error in-sample (max) | mean abs error held back | final error held back (max) |")
    print("|---|---|---|---|---|---|---|")
    for size, n in SIZES.items():
        curves = read_curves(path, where=[f"model_params={n}"])
        for form in ("annealing", "multi-power"):
            o = fit_curves(curves, form)
            mean_in = np.mean([r["mean_abs_rel_error"] for r in o.per_run])
            fin_in = max(abs(r["final_rel_error"]) for r in o.per_run)
            mean_out = np.mean([r["mean_abs_rel_error"] for r in o.held_back])
            worst = max(o.held_back, key=lambda r: abs(r["final_rel_error"]))
            print(f"| {size} | {form} | {o.r2:.4f} | {100 * mean_in:.2f} % | {100 * fin_in:.2f} % | {100 * mean_out:.2f} % | "
                  f"{100 * abs(worst['final_rel_error']):.2f} % ({worst['run'].split('_', 1)[1]}) |")


if __name__ == "__main__":
    main()
