"""Which single-model tail holds far beyond the samples, on real 10,000-sample counts (issue 13).

    python benchmarks/tail_check.py     # ~2 min on 2 cores

For each Pythia size, draw 100 of each MATH problem's 10,000 samples (a hypergeometric draw of
the correct count: samples are exchangeable), 20 seeded draws per size, extrapolate pass@1000
and pass@10000 with both estimators and compare with all 10,000 samples:

* the scaled Beta (Schaeffer et al. 2025), maximum likelihood on the per-problem counts;
* the aggregate curve's power law ``log pass@k = a k^b`` (Brown et al. 2024), fitted on every
  observed k, with its 90 % bootstrap band over problems.

The choice was declared on three sizes (410M, 2.8B, 12B: "choose") and the other three with
an identified tail check it ("check"); Pythia 70M is usually unidentified from 100 samples.
All seven were looked at in the same session, so the split guards against tuning, not against
having seen the numbers. Draws with fewer than 5 problems solved are skipped (``plan
fit-samples`` gives a band only there). Not part of the test run: the Beta fits take minutes
(tests/serving/test_tail_truth.py holds the power law's side with 100 draws).
"""

from __future__ import annotations

import numpy as np

from planner.io import measured_data_dir
from planner.io.runs import read_runs
from planner.serving.sample_fit import UNIDENTIFIED_SOLVED, power_law_tail
from planner.serving.sampling import ScaledBetaFit, unbiased_pass_at_k

DRAWS, KEEP, SEED, FAR = 20, 100, 0, (1000, 10000)
CHOOSE = ("Pythia 410M", "Pythia 2.8B", "Pythia 12B")


def main() -> None:
    table = read_runs(str(measured_data_dir() / "math_pythia_per_problem_10000samples.csv"))
    models, n_all, c_all = table.column("model"), table.numeric("n").astype(int), table.numeric("c").astype(int)
    rng = np.random.default_rng(SEED)
    print(f"{'model':12s} {'role':6s} {'truth @1k / @10k':>17s} {'Beta: mean error (sd)':>30s} "
          f"{'power law: mean error (sd)':>30s} {'band covers':>12s} draws")
    summary: dict[str, list[float]] = {"Beta": [], "power law": []}
    for model in dict.fromkeys(models):
        idx = [i for i, m in enumerate(models) if m == model]
        n, c = n_all[idx], c_all[idx]
        truth = np.array([unbiased_pass_at_k(n, c, k) for k in FAR])
        beta, power, covered = [], [], []
        for _ in range(DRAWS):
            kept = rng.hypergeometric(c, n - c, KEEP)
            if (kept > 0).sum() < UNIDENTIFIED_SOLVED:
                continue
            keep_n = np.full(kept.size, KEEP)
            beta.append(ScaledBetaFit().fit(keep_n, kept).pass_at_k(FAR) - truth)
            point, lo, hi = power_law_tail(keep_n, kept, FAR)
            power.append(point - truth)
            covered.append((lo <= truth) & (truth <= hi))
        role = "choose" if model in CHOOSE else "check"
        if not power:
            print(f"{model:12s} {role:6s} {truth[0]:8.3f} {truth[1]:.3f}   no draw identifies the tail")
            continue
        b, p, cov = np.array(beta), np.array(power), np.mean(covered, axis=0)
        if model in CHOOSE:
            summary["Beta"].append(float(np.abs(b.mean(axis=0)).mean()))
            summary["power law"].append(float(np.abs(p.mean(axis=0)).mean()))

        def fmt(e: np.ndarray) -> str:
            return f"{e[:, 0].mean():+.3f} ({e[:, 0].std():.3f}) {e[:, 1].mean():+.3f} ({e[:, 1].std():.3f})"

        print(f"{model:12s} {role:6s} {truth[0]:8.3f} {truth[1]:.3f} {fmt(b):>30s} {fmt(p):>30s} "
              f"{cov[0]:5.0%} {cov[1]:5.0%} {len(p):>3d}/{DRAWS}")
    print("choose sizes, mean |mean error| over k: " + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
