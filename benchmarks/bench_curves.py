"""Speed benchmarks for loss-curve laws (not part of the test run).

    python benchmarks/bench_curves.py

Times, on the nine 100M curves of planner/data/measured/lr_schedule_curves_mpl.csv (2,103
points, up to 72k steps): one annealing fit, the same with every curve held back in turn, one
multi-power fit, a predicted 72k-step curve at every step, and a decay decision at step 40,000
of 72,000 (targets: a fit and a decision in seconds, so a training loop can ask often).
"""

from __future__ import annotations

import time

from planner.io import measured_data_dir
from planner.laws.curve_catalog import get_curve_law
from planner.laws.curvefit import fit_curve_law, fit_curves, read_curves
from planner.laws.decay import decay_decision
from planner.laws.schedules import parse_schedule


def _time(label: str, f) -> None:
    t = time.perf_counter()
    f()
    print(f"{label:52s} {time.perf_counter() - t:6.2f} s")


def main() -> None:
    curves = read_curves(str(measured_data_dir() / "lr_schedule_curves_mpl.csv"), where=["model_params=205000000"])
    law = get_curve_law("mpl-100m")
    run = next(c for c in curves if c.run == "mpl100M_constant_72000")
    lr = parse_schedule("cosine:final=0.1", steps=72000, peak_lr=3e-4, warmup=2160).lr()
    fit_curve_law(curves[:1], "annealing")  # imports (scipy) out of the timings
    _time("annealing fit, 9 curves", lambda: fit_curve_law(curves, "annealing"))
    _time("annealing fit + 9 held-back refits", lambda: fit_curves(curves, "annealing"))
    _time("multi-power fit, 9 curves", lambda: fit_curve_law(curves, "multi-power"))
    _time("predict 72,000 steps (annealing, every step)", lambda: law.loss(lr))
    _time("decay decision at 40,000 of 72,000 (+ 3 longer budgets)", lambda: decay_decision(law, run.lr[:40000], 72000))


if __name__ == "__main__":
    main()
