"""How far the single-model tail extrapolates, checked inside the shipped data (issue 13).

    python benchmarks/tail_check.py     # ~2 min on 2 cores

The issue's check (pass@1000 from 100 samples against 10,000 real ones) needs data the project
does not have. This is the same ten-fold extrapolation one decade down: for each Pythia size,
draw 10 of each problem's 100 samples (a hypergeometric draw of the correct count: samples are
exchangeable), fit the scaled Beta as ``plan fit-samples`` does, predict pass@100 and compare it
with pass@100 of all 100 samples. 20 draws per size, seed 0; draws where ``fit-samples`` would
call the tail unidentified (fewer than 5 problems solved, or a parameter on its bound) give an
interval, not a point, and are counted apart. Not part of the test run: it takes minutes.
"""

from __future__ import annotations

import numpy as np

from planner.serving.sample_fit import UNIDENTIFIED_SOLVED
from planner.serving.sampling import ScaledBetaFit, unbiased_pass_at_k
from planner.serving.tasks import pythia_math_sizes

DRAWS, KEEP, SEED = 20, 10, 0


def main() -> None:
    rng = np.random.default_rng(SEED)
    print(f"{'model':12s} {'pass@100 (100 samples)':>23s} {'from 10: mean':>14s} {'error':>7s} {'point fits':>11s}")
    for size in pythia_math_sizes():  # the shipped counts, as the task law reads them
        model, n, c = size.name, np.array(size.n), np.array(size.c)
        observed = unbiased_pass_at_k(n, c, 100)
        points = []
        for _ in range(DRAWS):
            kept = rng.hypergeometric(c, n - c, KEEP)
            if (kept > 0).sum() < UNIDENTIFIED_SOLVED:
                continue
            fit = ScaledBetaFit().fit(np.full_like(n, KEEP), kept)
            if not fit.at_bound_:
                points.append(float(fit.pass_at_k([100])[0]))
        mean = f"{np.mean(points):.3f}" if points else "-"
        err = f"{np.mean(points) - observed:+.3f}" if points else "-"
        print(f"{model:12s} {observed:23.3f} {mean:>14s} {err:>7s} {len(points):>6d}/{DRAWS}")


if __name__ == "__main__":
    main()
