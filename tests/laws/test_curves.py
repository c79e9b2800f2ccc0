"""Loss-curve laws on real curves (Luo et al. 2025's 25M and 100M runs, shipped in
planner/data/measured/lr_schedule_curves_mpl.csv): schedules rebuilt exactly, the laws' areas
against naive loops, fits that predict held-back schedules, and the shipped presets refit."""

from __future__ import annotations

import csv
import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import PlannerInputError
from planner.io import measured_data_dir
from planner.laws.curve_catalog import curve_presets, get_curve_law
from planner.laws.curvefit import fit_curve_law, fit_curves, read_curves
from planner.laws.curves import (
    DEFAULT_LAMBDA,
    MPL_TERMS,
    CurveLaw,
    curve_features,
    curve_loss,
)
from planner.laws.schedules import Schedule, lr_from_points, parse_schedule

CURVES = measured_data_dir() / "lr_schedule_curves_mpl.csv"
SIZES = {"25M": "89000000", "100M": "205000000"}


@functools.cache
def curves(size: str) -> tuple:
    return tuple(read_curves(str(CURVES), where=[f"model_params={SIZES[size]}"]))


def by_run(size: str) -> dict:
    return {c.run: c for c in curves(size)}


@functools.cache
def _logged() -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    with open(CURVES, newline="") as f:
        for r in csv.DictReader(f):
            out.setdefault(r["run"], []).append((int(r["step"]), float(r["lr"])))
    return out


# Each shipped run's schedule in the command line's syntax (lr_schedule_runs_mpl.csv describes them).
SPECS = {
    "constant_24000": ("constant", 24000), "constant_72000": ("constant", 72000),
    "cosine_24000": ("cosine:final=0.1", 24000), "cosine_72000": ("cosine:final=0.1", 72000),
    "wsd_20000_24000": ("wsd:decay=0.16666667,shape=exp,final=0.1", 24000),
    "wsdld_20000_24000": ("wsd:decay=0.16666667,shape=linear,final=0.1", 24000),
    "wsdcon_3": ("step:at=8000,factor=0.1", 16000), "wsdcon_9": ("step:at=8000,factor=0.3", 16000),
    "wsdcon_18": ("step:at=8000,factor=0.6", 16000),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_named_schedules_rebuild_the_logged_learning_rates(name):
    spec, steps = SPECS[name]
    lr = parse_schedule(spec, steps=steps, peak_lr=3e-4, warmup=2160).lr()
    logged = _logged()[f"mpl25M_{name}"]
    got = np.array([lr[s - 1] for s, _ in logged])
    want = np.array([v for _, v in logged])
    assert np.allclose(got, want, rtol=1e-6, atol=0)


def test_interpolated_rates_match_the_schedule_on_linear_pieces():
    sched = parse_schedule("wsd:decay=0.25,shape=linear", steps=4000, peak_lr=1e-3, warmup=400)
    lr = sched.lr()
    logged = np.arange(400, 4001, 50)  # logs every 50 steps from the end of warmup
    rebuilt = lr_from_points(logged, lr[logged - 1])
    assert np.allclose(rebuilt, lr, rtol=1e-12, atol=1e-15)  # warmup ramps from 0 like the schedule


@pytest.mark.parametrize("spec, message", [
    ("wsd:decay=0", "share"), ("wsd:shape=square", "unknown shape"), ("cosine:final=1.5", "fraction"),
    ("step:at=9000,factor=0.5/0.1", "as many"), ("linear", "unknown schedule"), ("wsd:decay=x", "not a number"),
    ("cosine:decay=0.1", "no parameter"), ("wsd:shape=exp", "final > 0"),
])
def test_bad_schedules_are_refused_in_one_line(spec, message):
    with pytest.raises(PlannerInputError, match=message):
        parse_schedule(spec, steps=1000, peak_lr=1e-3)


def _naive_areas(lr, t, lam):
    """Tissue et al.'s S1, S2 by the definition, one step at a time."""
    w = int(np.argmax(lr))
    s1 = s2 = m = 0.0
    for i in range(t):
        s1 += lr[i]
        d = lr[i - 1] - lr[i] if i > w else 0.0
        m = lam * m + d
        s2 += m
    return s1, s2


def _naive_ld(lr, t, p):
    """Luo et al.'s LD(t) by the definition (double loop)."""
    _, _, _, B, C, beta, gamma = p
    w = int(np.argmax(lr))
    total = 0.0
    for k in range(w + 1, t):
        d = lr[k - 1] - lr[k]
        if d:
            sk = lr[k:t].sum()
            total += d * (1 - (C * lr[k] ** -gamma * sk + 1) ** -beta)
    return B * total


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.05, 1.0), min_size=3, max_size=12), st.integers(0, 5))
def test_areas_and_decay_term_agree_with_the_definitions(levels, warmup):
    lr = np.repeat(np.array(levels) * 1e-3, 7)
    lr = np.concatenate([np.linspace(1e-5, lr.max(), warmup + 1)[:-1], lr]) if warmup else lr
    t = np.array([lr.size // 2 + 1, lr.size])
    s1, s2 = curve_features("annealing", lr, t, DEFAULT_LAMBDA)
    for j, tt in enumerate(t):
        n1, n2 = _naive_areas(lr, tt, DEFAULT_LAMBDA)
        assert s1[j] == pytest.approx(n1, rel=1e-12)
        assert s2[j] == pytest.approx(n2, rel=1e-9, abs=1e-15)
    p = (2.0, 0.5, 0.5, 300.0, 2.0, 0.6, 0.5)
    loss = curve_loss("multi-power", p, curve_features("multi-power", lr, t))
    for j, tt in enumerate(t):
        want = p[0] + p[1] * lr[:tt].sum() ** -p[2] - _naive_ld(lr, tt, p)
        assert loss[j] == pytest.approx(want, rel=1e-10)


def test_pooled_decay_terms_move_a_cosine_prediction_by_under_1e_4():
    c = by_run("100M")["mpl100M_cosine_72000"]
    assert np.count_nonzero(np.diff(c.lr[2200:])) > MPL_TERMS  # the pooling is exercised
    p = (2.8, 0.58, 0.47, 400.0, 0.5, 0.6, 0.5)
    t = c.steps[::40]
    pooled = curve_loss("multi-power", p, curve_features("multi-power", c.lr, t))
    exact = np.array([p[0] + p[1] * c.lr[:tt].sum() ** -p[2] - _naive_ld(c.lr, tt, p) for tt in t])
    assert np.max(np.abs(pooled - exact)) < 1e-4


@settings(max_examples=30, deadline=None)
@given(st.floats(1.5, 4), st.floats(0.1, 2), st.floats(0.1, 1), st.floats(0, 2), st.floats(1e-4, 1e-2))
def test_a_constant_rate_gives_a_falling_curve_with_no_annealing_term(L0, A, alpha, C, peak):
    law = CurveLaw("x", "annealing", {"L0": L0, "A": A, "alpha": alpha, "C": C}, peak_lr=peak, warmup=0)
    lr = Schedule("constant", steps=500, peak_lr=peak).lr()
    loss = law.loss(lr)
    assert np.all(np.diff(loss) < 0)
    assert np.allclose(loss, L0 + A * (peak * np.arange(1, 501)) ** -alpha)


@pytest.mark.parametrize("size", ["25M", "100M"])
def test_annealing_law_predicts_each_held_back_schedule(size):
    """Fitted on the other eight curves, each curve's final loss within 0.5 % (the issue's bar;
    the worst is the 25M constant run extended to 72k steps, 0.43 %)."""
    out = fit_curves(curves(size), "annealing")
    assert out.r2 > 0.998
    for r in out.per_run:
        assert r["mean_abs_rel_error"] < 0.0025, r
    for h in out.held_back:
        assert abs(h["final_rel_error"]) < 0.005, h
        assert h["mean_abs_rel_error"] < 0.0035, h


def test_two_curves_predict_the_other_schedules():
    """Tissue et al.'s use: fit on a constant and a cosine run, predict WSD and step drops. All
    within 0.5 % but the exponential WSD cooldown, 0.51 % low (held to 0.6 %; README)."""
    runs = by_run("100M")
    law = fit_curve_law([runs["mpl100M_constant_24000"], runs["mpl100M_cosine_24000"]])
    for name in ("wsd_20000_24000", "wsdld_20000_24000", "wsdcon_3", "wsdcon_9", "wsdcon_18", "constant_72000"):
        c = runs[f"mpl100M_{name}"]
        pred = law.loss(c.lr, c.steps)
        assert abs(pred[-1] / c.loss[-1] - 1) < (0.006 if name == "wsd_20000_24000" else 0.005), name
        assert np.mean(np.abs(pred / c.loss - 1)) < 0.0025, name


def test_multi_power_law_predicts_the_held_back_wsd_runs():
    runs = by_run("100M")
    held = ("mpl100M_wsd_20000_24000", "mpl100M_wsdld_20000_24000")
    law = fit_curve_law([c for n, c in runs.items() if n not in held], "multi-power")
    for name in held:
        c = runs[name]
        assert abs(law.loss(c.lr, c.steps)[-1] / c.loss[-1] - 1) < 0.006, name


@pytest.mark.parametrize("preset, size", [("mpl-25m", "25M"), ("mpl-100m", "100M")])
def test_shipped_presets_are_the_fit_of_the_shipped_curves(preset, size):
    law = curve_presets()[preset]
    refit = fit_curve_law(curves(size), "annealing")
    for k, v in law.coefficients.items():
        assert refit.coefficients[k] == pytest.approx(v, rel=1e-4), k
    assert law.peak_lr == 3e-4


def test_bootstrap_intervals_cover_the_point_estimate_and_are_seeded():
    cs = list(curves("100M"))[:3]
    a = fit_curves(cs, n_bootstrap=8, seed=3, holdout=False)
    b = fit_curves(cs, n_bootstrap=8, seed=3, holdout=False)
    assert a.law.draws == b.law.draws and len(a.law.draws) == 8
    for k, (lo, hi) in a.intervals.items():
        assert lo <= hi
    draws = a.law.loss_draws(cs[0].lr, [cs[0].lr.size])
    assert draws.shape == (8, 1) and np.all(np.isfinite(draws))


def test_curve_laws_round_trip_through_the_store_and_are_kept_apart_from_loss_laws():
    from planner.io.store import save_law_table
    from planner.laws.catalog import get_law, law_entries

    law = fit_curves(list(curves("25M"))[:2], n_bootstrap=2, holdout=False).law
    save_law_table("mine", law.to_table())
    back = get_curve_law("mine")
    assert back.vector == pytest.approx(law.vector) and back.draws == law.draws and back.warmup == law.warmup
    with pytest.raises(PlannerInputError, match="loss-curve law"):
        get_law("mine")
    save_law_table("lossy", {"form": "chinchilla", "E": 1.8, "A": 400.0, "B": 400.0, "alpha": 0.34, "beta": 0.28})
    with pytest.raises(PlannerInputError, match="not a loss-curve law"):
        get_curve_law("lossy")
    names = {e["name"]: e["form"] for e in law_entries()}
    assert names["mine"] == "annealing" and names["mpl-100m"] == "annealing" and names["besiroglu2024"] == "chinchilla"


def test_curve_files_need_enough_sane_rows(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("run,step,lr,loss\na,1,1e-3,3\na,2,1e-3,2.9\n")
    with pytest.raises(PlannerInputError, match="at least 3"):
        read_curves(str(bad))
    bad.write_text("run,step,lr,loss\na,1,1e-3,3\na,2,1e-3,-1\na,3,1e-3,2\n")
    with pytest.raises(PlannerInputError, match="positive"):
        read_curves(str(bad))
    bad.write_text("run,step,lr,loss\na,1,1e-3,3\na,1,1e-3,2.9\na,3,1e-3,2\n")
    with pytest.raises(PlannerInputError, match="increase"):
        read_curves(str(bad))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["cosine", "wsd"]), st.sampled_from(["linear", "1-sqrt", "cosine", "exp"]), st.floats(0.01, 1.0),
       st.floats(0.01, 0.9), st.integers(10, 3000), st.integers(0, 9))
def test_decaying_schedules_fall_from_the_peak_to_their_final_rate(kind, shape, decay, final, steps, warmup_tenths):
    params = {"final": final} if kind == "cosine" else {"decay": decay, "shape": shape, "final": final}
    warmup = steps * warmup_tenths // 20
    lr = Schedule(kind, steps=steps, peak_lr=1e-3, warmup=warmup, params=params).lr()
    after = lr[warmup:]
    assert np.all(np.diff(after) <= 1e-18)  # never rises after the warmup
    assert after.max() <= 1e-3 * (1 + 1e-12) and lr[-1] == pytest.approx(1e-3 * final, rel=1e-9)
    if warmup:
        assert np.all(np.diff(lr[:warmup]) > 0) and lr[warmup - 1] == pytest.approx(1e-3)  # the warmup rises to the peak


@settings(max_examples=20, deadline=None)
@given(st.floats(2, 3.5), st.floats(0.2, 1.0), st.floats(0.3, 0.7), st.floats(50, 2000), st.floats(0.01, 10), st.floats(0.1, 2),
       st.floats(0.05, 1.2))
def test_the_fits_gradient_is_the_central_difference(L0, A, alpha, B, C, beta, gamma):
    from planner.laws.curves import curve_gradient

    lr = parse_schedule("wsd:decay=0.3,shape=linear,final=0.1", steps=3000, peak_lr=3e-4, warmup=200).lr()
    t = np.arange(250, 3001, 50)
    for form, p in (("annealing", [L0, A, alpha, C / 10]), ("multi-power", [L0, A, alpha, B, C, beta, gamma])):
        f = curve_features(form, lr, t)
        grad = curve_gradient(form, p, f)
        for i in range(len(p)):
            up, down = list(p), list(p)
            up[i], down[i] = p[i] * (1 + 1e-5), p[i] * (1 - 1e-5)
            num = (curve_loss(form, up, f) - curve_loss(form, down, f)) / (2e-5 * p[i])
            assert np.allclose(grad[:, i], num, rtol=1e-4, atol=1e-8), (form, i)  # central-difference noise ~1e-10
