"""pass@k far beyond the samples, held against all 10,000 real samples per problem (issue:
task accuracy and test-time samples). The 10,000-sample counts are check data only: nothing
in the project is fitted to them (planner/data/measured/README.md)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from planner.io import measured_data_dir
from planner.serving.sample_fit import UNIDENTIFIED_SOLVED, fit_group, power_law_tail
from planner.serving.sampling import unbiased_pass_at_k
from planner.serving.tasks import PRESET_TASKS, pythia_math_sizes

FAR = (1000, 10000)


def _counts(name: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    with (measured_data_dir() / name).open() as fh:
        for r in csv.DictReader(fh):
            assert int(r["n"]) == (100 if "100samples" in name else 10000)
            out.setdefault(r["model"], {})[r["problem"]] = int(r["c"])
    return out


FULL = _counts("math_pythia_per_problem_10000samples.csv")
DRAWN = _counts("math_pythia_per_problem_100samples.csv")


def _truth(model: str) -> dict[int, float]:
    c = np.array(list(FULL[model].values()))
    return {k: unbiased_pass_at_k(np.full(c.size, 10000), c, k) for k in FAR}


def _shipped(model: str) -> np.ndarray:
    return np.array([DRAWN[model][p] for p in FULL[model]])  # the 10,000-sample file's problem order


def test_the_100_sample_counts_are_draws_of_the_10000():
    assert FULL.keys() == DRAWN.keys() and len(FULL) == 7
    for model, full in FULL.items():
        assert full.keys() == DRAWN[model].keys() and len(full) == 128
        assert all(full[p] > 0 for p, c in DRAWN[model].items() if c > 0), model  # solved in 100 => solved in 10,000


def test_the_single_model_tail_from_the_shipped_100_samples():
    errors = {}
    for model in FULL:
        e = fit_group(model, np.full(128, 100), _shipped(model), FAR)
        truth = _truth(model)
        if e["solved_problems"] < UNIDENTIFIED_SOLVED:  # Pythia 70M: a band, no point
            assert all(e["pass_at_k"][str(k)] is None for k in FAR)
            for k in FAR:
                lo, hi = e["pass_at_k_interval"][str(k)]
                assert lo <= truth[k] <= hi, (model, k, lo, hi, truth[k])
            continue
        errors[model] = [e["pass_at_k"][str(k)] - truth[k] for k in FAR]
    print("\nshipped 100 samples -> pass@1000 / pass@10000, error against 10,000 samples:")
    for model, (e1, e2) in errors.items():
        print(f"  {model:12s} {e1:+.3f} {e2:+.3f}")
    flat = np.abs(np.array(list(errors.values())))
    assert len(errors) == 6 and flat.mean() <= 0.035 and flat.max() <= 0.10


def test_the_single_model_tail_over_fresh_100_sample_draws():
    # The shipped draw is one of many: draw 100 of each problem's 10,000 samples again (a
    # hypergeometric draw of the correct count), 100 times per size, seeded, and extrapolate as
    # fit-samples does where the tail is identified. The bar, within 0.05, is met on
    # average at every size; the 90 % band covers the truth in at least 80 % of the draws.
    rng = np.random.default_rng(0)
    print("\nfresh 100-sample draws: mean error at 1,000 / 10,000, and the band's coverage")
    for model, full in FULL.items():
        c_full = np.array(list(full.values()))
        truth = np.array([_truth(model)[k] for k in FAR])
        errs, covered = [], []
        for _ in range(100):
            c = rng.hypergeometric(c_full, 10000 - c_full, 100)
            if (c > 0).sum() < UNIDENTIFIED_SOLVED:
                continue  # fit-samples gives a band only
            point, lo, hi = power_law_tail(np.full(c.size, 100), c, FAR, draws=50)
            errs.append(point - truth)
            covered.append((lo <= truth) & (truth <= hi))
        mean, cover = np.mean(errs, axis=0), np.mean(covered, axis=0)
        print(f"  {model:12s} {mean[0]:+.3f} {mean[1]:+.3f}  covered {cover[0]:.0%} {cover[1]:.0%} ({len(errs)} draws)")
        assert len(errs) >= 30 and np.all(np.abs(mean) <= 0.05) and np.all(cover >= 0.8), (model, mean, cover)


def test_the_100_sample_curve_is_the_10000_sample_curve_where_both_are_observed():
    # Pythia 2.8B: up to k = 100 both files measure the same curve (the shipped counts are draws
    # of the 10,000), so the 10,000 can check what the fits say beyond k = 100.
    c_full = np.array(list(FULL["Pythia 2.8B"].values()))
    c = _shipped("Pythia 2.8B")
    gaps = [abs(unbiased_pass_at_k(np.full(128, 100), c, k) - unbiased_pass_at_k(np.full(128, 10000), c_full, k)) for k in range(1, 101)]
    assert max(gaps) <= 0.015, max(gaps)


def test_pythia_2p8b_tail_follows_its_10000_sample_curve():
    # Neither the single-model tail nor the task law sees a sample beyond the 100 per problem;
    # the k are those of Brown et al.'s coverage figure, from 107 to 9,913.
    ks = [107, 156, 243, 341, 447, 585, 754, 970, 1216, 1512, 1946, 2484, 3428, 4648, 7438, 9913]
    c_full = np.array(list(FULL["Pythia 2.8B"].values()))
    ref = np.array([unbiased_pass_at_k(np.full(128, 10000), c_full, k) for k in ks])
    single, _, _ = power_law_tail(np.full(128, 100), _shipped("Pythia 2.8B"), ks)
    size = next(s for s in pythia_math_sizes() if s.name == "Pythia 2.8B")
    pooled = PRESET_TASKS["math"].pass_at_k(size.loss, ks)
    print(f"\nPythia 2.8B beyond the samples, max |error|: single-model {np.max(np.abs(single - ref)):.3f}, "
          f"task law {np.max(np.abs(pooled - ref)):.3f}")
    assert np.all(np.abs(single - ref) <= 0.05), list(zip(ks, single, ref, strict=True))
    assert np.all(np.abs(pooled - ref) <= 0.05), list(zip(ks, pooled, ref, strict=True))


def test_the_tails_match_brown_et_als_published_fits():
    # Large Language Monkeys' fits of log pass@k = a k^b over 10,000 samples (Brown et al. 2024,
    # shared/reference/inference.md): Pythia-12B MATH (-3.92, -0.35), Pythia-70M (-7.59, -0.18).
    # Both the task law and the single-model tail see only the shipped 100 samples.
    brown = {m: np.exp(a * np.array(FAR, dtype=float) ** b) for m, (a, b) in
             (("Pythia 12B", (-3.92, -0.35)), ("Pythia 70M", (-7.59, -0.18)))}
    law = PRESET_TASKS["math"]
    for s in pythia_math_sizes():
        if s.name in brown:
            assert np.all(np.abs(law.pass_at_k(s.loss, FAR) - brown[s.name]) <= 0.05), (s.name, brown[s.name])
    e12 = fit_group("Pythia 12B", np.full(128, 100), _shipped("Pythia 12B"), FAR)
    e70 = fit_group("Pythia 70M", np.full(128, 100), _shipped("Pythia 70M"), (100, *FAR))
    assert e70["pass_at_k"]["100"] is not None  # observed: a point
    for k, ref12, ref70 in zip(FAR, brown["Pythia 12B"], brown["Pythia 70M"], strict=True):
        point, (lo, hi) = e12["pass_at_k"][str(k)], e12["pass_at_k_interval"][str(k)]
        assert abs(point - ref12) <= 0.05 and lo <= point <= hi and lo <= ref12 <= hi  # identified: a point in its band
        lo, hi = e70["pass_at_k_interval"][str(k)]
        assert e70["pass_at_k"][str(k)] is None and lo <= ref70 <= hi  # unidentified: a band alone


@pytest.mark.parametrize("k", FAR)
def test_the_task_law_far_beyond_the_samples(k):
    law = PRESET_TASKS["math"]
    errors = {s.name: float(law.pass_at_k(s.loss, [k])[0]) - _truth(s.name)[k] for s in pythia_math_sizes()}
    print(f"\ntask law pass@{k} against 10,000 samples: " + ", ".join(f"{m} {e:+.3f}" for m, e in errors.items()))
    flat = np.abs(list(errors.values()))
    assert flat.mean() <= 0.05 and flat.max() <= 0.12


def test_fit_samples_without_bootstrap_and_with_an_empty_selection(cli):
    import json

    path = str(measured_data_dir() / "math_pythia_per_problem_100samples.csv")
    code, out, err = cli("fit-samples", path, "--group-col", "model", "--where", "model=Pythia 12B", "--bootstrap", "0", "--json")
    assert code == 0, err
    (e,) = json.loads(out)
    assert e["pass_at_k"]["10000"] > e["pass_at_k"]["100"] and e["pass_at_k_interval"] == {}  # points, no band of no width
    code, _, err = cli("fit-samples", path, "--group-col", "model", "--where", "model=Pythia 12B", "--where", "model=Pythia 70M")
    assert code == 2 and "no row meets every --where" in err and "Traceback" not in err
