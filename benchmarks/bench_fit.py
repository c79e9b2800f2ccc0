"""Speed benchmarks for fitting (not part of the test run).

    python benchmarks/bench_fit.py

Times a `chinchilla` fit on the 245 runs of planner/data/measured/chinchilla_epoch.csv (target:
under a second) and a 1,000-draw bootstrap of it (target: well under a minute on 2 cores).
"""

from __future__ import annotations

import csv
import time

import numpy as np

from planner.io import measured_data_dir
from planner.laws.fitting import LossLawFit, bootstrap

DATA = measured_data_dir() / "chinchilla_epoch.csv"


def main() -> None:
    with DATA.open() as fh:
        rows = list(csv.DictReader(fh))
    n, d, loss = (np.array([float(r[k]) for r in rows]) for k in ("N_params", "D_tokens", "loss"))
    t = time.perf_counter()
    fit = LossLawFit("chinchilla").fit(n, d, loss)
    print(f"chinchilla fit, {n.size} runs        {time.perf_counter() - t:6.2f} s")
    t = time.perf_counter()
    result = bootstrap(fit, (n, d, loss), 1000, seed=0)
    print(f"bootstrap, 1000 draws            {time.perf_counter() - t:6.2f} s ({result.failed} failed)")


if __name__ == "__main__":
    main()
