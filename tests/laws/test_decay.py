"""The decay decision against brute force over every decay start, and against the real WSD
branches of a constant run (Luo et al. 2025's 100M runs)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import PlannerInputError
from planner.io import measured_data_dir
from planner.laws.curve_catalog import curve_presets
from planner.laws.curvefit import fit_curve_law, read_curves
from planner.laws.curves import CurveLaw
from planner.laws.decay import best_decay_share, decay_decision, final_loss_with_decay
from planner.laws.schedules import Schedule

CURVES = str(measured_data_dir() / "lr_schedule_curves_mpl.csv")


def _brute(law, history, total, shape="1-sqrt", final=0.0):
    t0 = len(history)
    losses = [final_loss_with_decay(law, history, s - t0, total - s, shape=shape, final=final) for s in range(t0, total)]
    i = int(np.argmin(losses))
    return t0 + i, losses[i]


@pytest.mark.parametrize("shape, final", [("1-sqrt", 0.0), ("linear", 0.0), ("exp", 0.1), ("cosine", 0.01)])
def test_best_decay_start_is_the_brute_force_optimum(shape, final):
    law = curve_presets()["mpl-100m"]
    history = Schedule("constant", steps=3000, peak_lr=3e-4, warmup=2175).lr()
    d = decay_decision(law, history, 9000, shape=shape, final=final)
    start, loss = _brute(law, history, 9000, shape, final)
    assert d.best_decay_start == start
    assert d.best_final_loss == pytest.approx(loss, rel=1e-12)
    assert d.best_decay_steps == 9000 - start
    assert all(r["final_loss"] >= d.best_final_loss - 1e-12 for r in d.continue_then_decay)


@settings(max_examples=15, deadline=None)
@given(st.floats(2, 3.5), st.floats(0.3, 1.0), st.floats(0.3, 0.7), st.floats(0.1, 1.0), st.integers(500, 1500), st.integers(200, 1200))
def test_search_matches_brute_force_for_any_annealing_law(L0, A, alpha, C, now, remaining):
    law = CurveLaw("h", "annealing", {"L0": L0, "A": A, "alpha": alpha, "C": C}, peak_lr=3e-4, warmup=100)
    history = Schedule("constant", steps=now, peak_lr=3e-4, warmup=100).lr()
    d = decay_decision(law, history, now + remaining)
    assert d.best_final_loss == pytest.approx(_brute(law, history, now + remaining)[1], rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["1-sqrt", "linear", "cosine", "exp"]), st.integers(0, 3000), st.integers(1, 3000), st.floats(0.2, 1.0))
def test_closed_form_continuation_equals_the_law_step_by_step(shape, stable, decay, level):
    from planner.laws.decay import _final_loss

    law = curve_presets()["mpl-25m"]
    history = Schedule("wsd", steps=4000, peak_lr=3e-4, warmup=500, params={"decay": 0.3, "final": 0.1}).lr()
    history = np.concatenate([history, np.full(10, 3e-4 * level)])  # a non-monotone history too
    final = 0.1 if shape == "exp" else 0.0
    fast = _final_loss(law, history, shape, final)
    assert fast(stable, decay) == pytest.approx(final_loss_with_decay(law, history, stable, decay, shape=shape, final=final), rel=1e-10)


def test_decision_at_a_branch_point_predicts_the_real_branches():
    """At step 16,000 of the 100M constant run, with a law fitted to the other 100M curves (the
    two WSD branches left out), the 4,000-step cooldowns those branches ran from step 20,000
    are predicted within 0.5 % of their observed final losses."""
    curves = {c.run: c for c in read_curves(CURVES, where=["model_params=205000000"])}
    branches = {"mpl100M_wsd_20000_24000": ("exp", 0.1), "mpl100M_wsdld_20000_24000": ("linear", 0.1)}
    law = fit_curve_law([c for n, c in curves.items() if n not in branches])
    run = curves["mpl100M_constant_72000"]
    observed = (run.steps[run.steps <= 16000], run.loss[run.steps <= 16000])
    for name, (shape, final) in branches.items():
        d = decay_decision(law, run.lr[:16000], 24000, shape=shape, final=final, observed=observed)
        anchored = CurveLaw(law.name, law.form, {**law.coefficients, "L0": law.coefficients["L0"] + d.anchor_shift},
                            law.peak_lr, law.warmup)
        predicted = final_loss_with_decay(anchored, run.lr[:16000], 4000, 4000, shape=shape, final=final)
        observed_final = curves[name].loss[-1]  # logged at step 23,904
        assert abs(predicted / observed_final - 1) < 0.005, name
        assert d.best_final_loss <= predicted  # the optimum is at least as good as what was run
        assert 0.1 < d.best_decay_share < 0.35


def test_anchoring_shifts_the_law_by_the_median_recent_residual():
    law = curve_presets()["mpl-100m"]
    history = Schedule("constant", steps=5000, peak_lr=3e-4, warmup=2175).lr()
    steps = np.arange(2200, 5001, 100)
    losses = law.loss(history, steps) + 0.02
    d = decay_decision(law, history, 8000, observed=(steps, losses))
    plain = decay_decision(law, history, 8000)
    assert d.anchor_shift == pytest.approx(0.02)
    assert d.best_final_loss == pytest.approx(plain.best_final_loss + 0.02)
    assert d.best_decay_start == plain.best_decay_start


def test_longer_budgets_are_worth_more_and_decay_now_options_cost_more():
    law = curve_presets()["mpl-25m"]
    history = Schedule("constant", steps=12000, peak_lr=3e-4, warmup=2175).lr()
    d = decay_decision(law, history, 24000)
    gains = [r["gain"] for r in d.extend]
    assert all(g > 0 for g in gains) and gains == sorted(gains)
    assert d.continuation_gain is not None and d.continuation_gain > 0
    assert all(r["final_loss"] > d.best_final_loss for r in d.decay_now if r["steps_saved"] > 0)


def test_recipe_decay_share_from_a_law_lies_where_the_literature_puts_it():
    """Hägele et al. 2024 find 1-sqrt cooldowns of ~10-20 % best; the shipped laws agree."""
    for name in ("mpl-25m", "mpl-100m"):
        share, loss = best_decay_share(curve_presets()[name], 24000)
        assert 0.1 < share < 0.3 and np.isfinite(loss)


@pytest.mark.parametrize("kwargs, message", [
    ({"total_steps": 100}, "beyond the current step"), ({"total_steps": 900, "shape": "square"}, "unknown decay shape"),
    ({"total_steps": 900, "final": 1.0}, "fraction"), ({"total_steps": 900, "shape": "exp"}, "> 0 for exp"),
])
def test_bad_decisions_are_refused(kwargs, message):
    law = curve_presets()["mpl-25m"]
    history = Schedule("constant", steps=500, peak_lr=3e-4).lr()
    with pytest.raises(PlannerInputError, match=message):
        decay_decision(law, history, **kwargs)
