"""The task law across model sizes, on the shipped Pythia MATH counts (issue: task accuracy and
test-time samples a practitioner would believe)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner
from planner.serving.task_law import fit_task_law, leave_out_check
from planner.serving.tasks import PRESET_TASKS, pythia_math_sizes

SIZES = pythia_math_sizes()
LAW = PRESET_TASKS["math"]


def test_the_shipped_math_law_is_a_refit_of_the_shipped_data():
    refit = fit_task_law(SIZES, loss_law="besiroglu2024")
    for key in ("m0", "m1", "m2", "a0", "a1", "center", "loss_lo", "loss_hi"):
        assert getattr(refit, key) == pytest.approx(getattr(LAW, key), rel=1e-3, abs=1e-3), key
    assert LAW.sizes == tuple(s.name for s in SIZES) and LAW.loss_law == "besiroglu2024"


def test_leave_two_sizes_out_predicts_pass_at_1_and_100():
    rows = leave_out_check(SIZES, ks=(1, 100))
    assert len(rows) == 2 * 21  # every pair of the seven sizes, both held-out sizes predicted
    e1 = np.mean([abs(r["predicted"][1] - r["observed"][1]) for r in rows])
    e100 = np.mean([abs(r["predicted"][100] - r["observed"][100]) for r in rows])
    print(f"\nleave-two-out mean |error|: pass@1 {e1:.4f}, pass@100 {e100:.4f}")
    for r in rows:
        print(f"  out {'+'.join(r['held_out']):26s} {r['size']:12s} pass@1 {r['observed'][1]:.4f} -> {r['predicted'][1]:.4f}, "
              f"pass@100 {r['observed'][100]:.3f} -> {r['predicted'][100]:.3f}")
    assert e1 <= 0.01 and e100 <= 0.05


def test_pass_at_1_of_every_size_is_within_a_factor_of_two():
    for s in SIZES:
        ratio = float(LAW.pass_at_k(s.loss, [1])[0]) / s.observed_pass_at_k(1)
        assert 0.5 <= ratio <= 2.0, (s.name, ratio)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(loss=st.floats(1.6, 3.4), k=st.integers(1, 5000))
def test_pass_at_k_rises_with_k_and_falls_with_loss(loss, k):
    here = LAW.pass_at_k(loss, [k, k + 1])
    assert 0.0 <= here[0] <= here[1] <= 1.0
    assert float(LAW.pass_at_k(loss + 0.01, [k])[0]) <= here[0] + 1e-12


def test_fit_samples_with_sizes_reports_the_law_and_saves_it(cli):
    from planner.io import (
        measured_data_dir,  # saves go to the test's config dir (conftest)
    )

    data = measured_data_dir()
    code, out, err = cli("fit-samples", str(data / "math_pythia_per_problem_100samples.csv"), "--group-col", "model",
                         "--sizes", str(data / "pythia_models.csv"), "--bootstrap", "10", "--save", "math-mine", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["leave_two_out"]["mean_abs_error"]["1"] <= 0.01 and doc["leave_two_out"]["mean_abs_error"]["100"] <= 0.05
    assert len(doc["sizes"]) == 7 and all(len(r["interval"]["100"]) == 2 for r in doc["sizes"])
    mine = planner.serving.tasks.get_task("math-mine")
    assert mine.loss_law == "besiroglu2024" and mine.m0 == pytest.approx(LAW.m0, rel=1e-3)
    code, _, err = cli("fit-samples", str(data / "math_pythia_per_problem_100samples.csv"), "--group-col", "model", "--save", "x")
    assert code == 2 and "--save needs --sizes" in err


def test_the_readme_pass_at_k_plan_stays_inside_the_task_law():
    p = planner.plan(budget_flops=1e23, infer_tokens=1e12, objective="pass@k", task="math", law="gadre2024-rpj")
    assert p.result.params >= 100e6
    loss = p.result.serving.pass_at_k
    assert loss is not None and 0 < loss < 1
    coeffs = planner.laws.get_law("besiroglu2024").coeffs
    from planner.serving.joint import served_coefficients

    task_loss = float(served_coefficients(coeffs, p.result.qat_bits, 16).loss(p.result.params, p.result.train_tokens))
    assert task_loss <= LAW.loss_hi + 1e-9  # never a model worse than the weakest one fitted
    assert p.result.serving.pass_at_k == pytest.approx(float(LAW.pass_at_k(task_loss, [p.result.samples_per_query])[0]), rel=1e-9)
    # What mattered: the chosen (N, k) against the best k = 1 plan and a model ten times the size.
    why = p.result.serving.samples_reason
    assert "beats k = 1 on a" in why and "(10x) with k = 1 on the same budget" in why


def test_a_single_model_profile_is_refused_for_planning(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text('alpha = 0.3\nscale = 1.0\nsource = "one model"\n')
    with pytest.raises(planner.PlannerInputError, match="not a law across sizes"):
        planner.serving.tasks.get_task(str(path))


def test_selection_cost_is_priced_and_moves_the_samples():
    kw = dict(budget_flops=1e23, infer_tokens=1e12, objective="pass@k", task="math", law="gadre2024-rpj")
    free = planner.plan(**kw)
    rm = planner.plan(**kw, reward_model_params=8e9)
    # A reward model's forward pass over prompt and sample, 2 FLOPs per parameter per token.
    assert rm.result.serving.cost_shares["verifier"] > 0.2 and "verifier" not in free.result.serving.cost_shares
    assert rm.result.samples_per_query < free.result.samples_per_query
    assert any(a.name == "sample selection" and "reward model" in a.value for a in rm.assumptions)
    flops = planner.plan(**kw, serving_cost="flops", verifier_flops=1e12, samples=4)
    low = flops.result.serving
    per_query = 4 * (2 * flops.result.params * 512 + 1e12)  # flops pricing: k (2 N gen + verifier) per query
    assert flops.result.inference_flops == pytest.approx(low.queries * per_query, rel=1e-6)
    with pytest.raises(planner.PlannerInputError, match="not both"):
        planner.plan(**kw, verifier_flops=1e9, reward_model_params=1e9)


def test_the_pooled_likelihood_gradient_is_its_derivative():
    """The closed-form gradient the task-law fit descends, against central differences."""
    import numpy as np

    from planner.serving.task_law import pooled_nll

    rng = np.random.default_rng(0)
    xs = rng.uniform(-0.4, 0.4, 60)
    n = np.full(60, 100.0)
    c = rng.integers(0, 30, 60).astype(float)
    for x in (np.array([-4.8, -4.8, -4.5, -1.7, -1.5]), np.array([-2.0, 1.0, 0.5, 0.3, -0.2])):
        _, grad = pooled_nll(x, xs, n, c)
        h = 1e-6
        numeric = [(pooled_nll(x + h * e, xs, n, c)[0] - pooled_nll(x - h * e, xs, n, c)[0]) / (2 * h) for e in np.eye(5)]
        assert np.allclose(grad, numeric, rtol=1e-5, atol=1e-4)
