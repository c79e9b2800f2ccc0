"""Serving: QAT share, KV and decode arithmetic, pass@k fits, joint planning properties."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner
from planner.cli import main
from planner.hardware.registry import load_registry
from planner.io import measured_data_dir
from planner.serving.cost import (
    ServingSpec,
    kinetics_eflops,
    kinetics_parts_of,
    kv_bytes_per_token,
    serving_cost,
    weight_bound_decode_s,
)
from planner.serving.joint import serving_terms
from planner.serving.qat import qat_fraction
from planner.serving.sampling import (
    ScaledBetaFit,
    scaled_beta_pass_at_k,
    unbiased_pass_at_k,
)
from planner.systems.shape import shape_for_params, smooth_dims

DATA = measured_data_dir()
H100 = load_registry(user_config=False).get("h100")




@pytest.mark.parametrize("tokens, share", [(2e10, 0.16), (1e11, 0.28), (1e12, 0.41)])
def test_qat_share_reproduces_dremov(tokens, share):
    # Dremov et al. 2025 (laws.md sec. 3): N = 1e9 at 4 bits.
    assert qat_fraction(1e9, tokens, 4) == pytest.approx(share, abs=0.005)
    assert qat_fraction(1e9, tokens, 16) == 0.0


def test_llama3_kv_cache_and_weight_bound_decode():
    s8, s70 = shape_for_params(8e9), shape_for_params(70.6e9)
    assert kv_bytes_per_token(s8) == 128 * 1024  # inference.md: 128 KiB/token
    assert kv_bytes_per_token(s70) == 320 * 1024  # 320 KiB/token
    assert weight_bound_decode_s(s8.params, 16, H100) * 1e3 == pytest.approx(4.8, abs=0.05)
    one = serving_cost(s8, H100, ServingSpec(batch=1, prompt_tokens=1, gen_tokens=1))
    assert one.decode_step_s >= weight_bound_decode_s(s8.params, 16, H100)
    assert one.bound == "memory"
    q4 = serving_cost(s8, H100, ServingSpec(batch=1, prompt_tokens=1, gen_tokens=1, weight_bits=4))
    assert q4.decode_step_s == pytest.approx(one.decode_step_s / 4, rel=0.01)


def test_serving_terms_are_the_local_monomial_of_the_smooth_cost():
    # Value and log-slope of the monomials match the smooth cost at the point they were taken.
    spec = ServingSpec(samples=8, weight_bits=8)
    n = 7e9

    def exact(x: float) -> float:
        return sum(kinetics_parts_of(x, *smooth_dims(x), H100, spec).values())

    terms = serving_terms(n, H100, spec, queries=1.0)
    assert sum(c * n**e for c, e in terms) == pytest.approx(exact(n), rel=1e-12)
    h = 1e-3
    slope = (math.log(exact(n * math.exp(h))) - math.log(exact(n * math.exp(-h)))) / (2 * h)
    mono = sum(e * c * n**e for c, e in terms) / sum(c * n**e for c, e in terms)
    assert mono == pytest.approx(slope, rel=1e-6)


@pytest.mark.parametrize("params", [1e9, 8e9, 70.6e9])
def test_smooth_serving_cost_tracks_the_discrete_shapes(params):
    # The priced (smooth) eFLOPs stay within 20 % of Kinetics' count on the rule's actual shape
    # (the discrete rule moves depth by -25 %..+30 % around the nominal aspect ratio), 30 % below
    # 16 nominal layers, where it moves depth by 0.5-2x to match the parameter count.
    spec = ServingSpec(samples=4)
    smooth = sum(kinetics_parts_of(params, *smooth_dims(params), H100, spec).values())
    shape = shape_for_params(params, seq=spec.seq)
    discrete = kinetics_eflops(shape, H100, spec) * params / shape.params
    assert smooth == pytest.approx(discrete, rel=0.30 if params < 2e9 else 0.20)


def test_scaled_beta_closed_form_agrees_with_quadrature():
    ks = [1, 10, 100, 1000, 10000]
    for a, b in [(0.3, 5.0), (1.5, 40.0), (0.1, 0.5)]:
        assert np.allclose(scaled_beta_pass_at_k(a, b, 1.0, ks), scaled_beta_pass_at_k(a, b, 1 - 1e-9, ks), atol=1e-6)


def test_unbiased_estimator():
    # One problem, 2 of 4 correct: pass@2 = 1 - C(2,2)/C(4,2) = 5/6.
    assert unbiased_pass_at_k([4], [2], 2) == pytest.approx(5 / 6)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(n=st.integers(1, 1000), data=st.data())
def test_the_log_gamma_estimator_is_the_exact_binomial_ratio(n, data):
    # The fast per-problem form against exact integer arithmetic: 1 - C(n-c, k) / C(n, k).
    from planner.serving.sampling import unbiased_pass_at_k_per_problem

    c = data.draw(st.integers(0, n))
    k = data.draw(st.integers(1, n))
    exact = 1.0 - math.comb(n - c, k) / math.comb(n, k)  # comb is 0 when k > n - c
    fast = float(unbiased_pass_at_k_per_problem([n], [c], [k])[0, 0])
    assert fast == pytest.approx(exact, abs=1e-11, rel=1e-9)
    assert (fast == 0.0) == (c == 0)  # never solved: exactly 0, not round-off


def test_beta_fit_recovers_simulated_difficulties():
    rng = np.random.default_rng(3)
    p = 0.6 * rng.beta(0.3, 4.0, size=400)
    c = rng.binomial(100, p)
    fit = ScaledBetaFit().fit(np.full(400, 100), c)
    truth = scaled_beta_pass_at_k(0.3, 4.0, 0.6, [1, 100, 1000])
    assert np.allclose(fit.pass_at_k([1, 100, 1000]), truth, atol=0.05)
    assert not fit.at_bound_


def test_beta_fit_flags_a_fit_on_its_bound():
    # Every problem solved about half the time: difficulty is a point mass, so alpha and beta
    # both run to the top of the search box and the tail cannot be identified.
    rng = np.random.default_rng(0)
    fit = ScaledBetaFit(fit_scale=False).fit(np.full(300, 100), rng.binomial(100, 0.5, size=300))
    assert fit.at_bound_


@pytest.fixture(scope="module")
def pythia_fits():
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["fit-samples", str(DATA / "math_pythia_per_problem_100samples.csv"), "--group-col", "model",
                     "--k", "1", "--k", "10", "--k", "100", "--k", "1000", "--k", "10000", "--json"])
    assert code == 0
    return json.loads(buf.getvalue())


def test_fit_samples_json_shape(pythia_fits):
    assert {e["name"] for e in pythia_fits} == {"Pythia 70M", "Pythia 160M", "Pythia 410M", "Pythia 1B", "Pythia 2.8B", "Pythia 6.9B", "Pythia 12B"}
    for e in pythia_fits:
        assert {"alpha", "beta", "scale"} <= set(e["params"])
        assert set(e["pass_at_k"]) == {"1", "10", "100", "1000", "10000"}
        # An unidentified tail is an interval (pass_at_k_interval), not a point, beyond the samples.
        curve = [e["pass_at_k"][k] if e["pass_at_k"][k] is not None else e["pass_at_k_interval"][k][1]
                 for k in ("1", "10", "100", "1000", "10000")]
        assert curve == sorted(curve) and 0 <= curve[0] and curve[-1] <= 1


def test_fit_samples_match_the_unbiased_estimator(pythia_fits):
    for e in pythia_fits:
        for k in ("1", "10", "100"):
            assert e["pass_at_k"][k] == e["pass_at_k_unbiased"][k]  # up to the samples, pass@k is what was seen
            fit, emp = e["pass_at_k_fit_on_observed"][k], e["pass_at_k_unbiased"][k]  # the scaled Beta, in sample
            assert fit == pytest.approx(emp, abs=0.01, rel=0.10), (e["name"], k)


def test_fit_samples_flags_unidentified_tails(pythia_fits):
    by = {e["name"]: e for e in pythia_fits}
    assert by["Pythia 70M"]["warnings"]  # 2 of 128 problems ever solved
    assert not by["Pythia 12B"]["warnings"]


def joint(infer_tokens: float, **kw):
    kw.setdefault("serving_cost", "roofline")  # the joint tests price serving on the accelerator
    return planner.plan(budget_flops=1e22, infer_tokens=infer_tokens, objective="pass@k", task="math", law="gadre2024-rpj", **kw)


def test_verifier_task_demand_shifts_to_smaller_models_and_fewer_samples():
    plans = [joint(d) for d in (1e6, 1e9, 1e11, 1e12)]  # 1e13 leaves the law's support at 1e22: refused
    ks = [p.result.samples_per_query for p in plans]
    assert ks == sorted(ks, reverse=True)
    assert ks[0] > 1  # tiny demand: more samples win
    assert plans[-1].result.params < plans[0].result.params
    assert plans[-1].result.inference_share > plans[0].result.inference_share


@settings(max_examples=6, deadline=None, derandomize=True)
@given(low=st.floats(min_value=1e6, max_value=1e10), factor=st.floats(min_value=10, max_value=1e3))
def test_at_fixed_samples_more_demand_never_enlarges_the_model(low, factor):
    # The problem's own monotonicity, so outside the law's support too (tested there separately).
    a = joint(low, samples=8, bits=16, extrapolate=True)
    b = joint(low * factor, samples=8, bits=16, extrapolate=True)
    assert b.result.params <= a.result.params * (1 + 1e-3)


def test_joint_plan_json_and_bounds():
    p = joint(1e11, latency_s=0.5, price_usd_per_gpu_hour=2.0)
    doc = json.loads(p.to_json())["result"]
    for key in ("samples_per_query", "qat_bits", "qat_fraction", "objective_value", "serving"):
        assert key in doc
    assert doc["serving"]["latency_s"] <= 0.5 * 1.01
    assert doc["serving"]["usd_per_million_tokens"] > 0
    assert doc["qat_fraction"] == pytest.approx(qat_fraction(doc["params"], doc["train_tokens"], doc["qat_bits"]))
    capped = joint(1e11, serve_memory_bytes=2e9)
    assert capped.result.serving.memory_per_replica_bytes <= 2e9 * 1.01


def test_roofline_baseline_is_priced_like_the_plan():
    p = joint(1e11)
    assert p.baseline.total_flops == pytest.approx(1e22, rel=1e-6)  # fills the same lifetime budget
    assert p.result.total_flops == pytest.approx(1e22, rel=1e-4)
    assert p.baseline.inference_flops > 2 * p.baseline.params * 1e11  # attention, KV and prefill count too


def test_error_objective_and_default_accounting():
    base = planner.plan(budget_flops=1e23, infer_tokens=1e12, choose_layout=False)
    assert base.result.serving.pricing == "roofline"  # the default prices serving on the accelerator
    sardana = planner.plan(budget_flops=1e23, infer_tokens=1e12, serving_cost="flops", choose_layout=False)
    assert sardana.result.inference_flops == pytest.approx(2 * sardana.result.params * 1e12)
    err = planner.plan(budget_flops=1e22, infer_tokens=1e10, objective="error", law="gadre2024-c4")
    assert err.result.objective_value == pytest.approx(err.law.downstream["17-task"].error(err.result.loss))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--budget", "1e22", "--infer-tokens", "1e10", "--objective", "pass@k", "--law", "gadre2024-rpj"], "task law"),
        (["--budget", "1e22", "--infer-tokens", "1e10", "--objective", "error"], "downstream-error map"),
        (["--target-loss", "2.5", "--infer-tokens", "1e10", "--objective", "error", "--law", "gadre2024-rpj"], "needs a budget"),
        (["--budget", "1e22", "--bits", "5"], "not one of"),
        (["--budget", "1e22", "--objective", "pass@k", "--task", "nope", "--law", "gadre2024-rpj"], "unknown task profile"),
        (["qat", "--params", "-1", "--tokens", "1e9", "--bits", "4"], "positive"),
    ],
)
def test_serving_usage_errors(cli, argv, message):
    code, _, err = cli(*argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_large_sample_grids_use_optuna_and_match_enumeration():
    pow2 = joint(1e12, bits=4, max_samples=256)
    dense = joint(1e12, bits=4, max_samples=256, samples_grid="all")
    assert dense.result.serving.search_method.startswith("bayesian")
    assert pow2.result.serving.search_method == "exhaustive"
    # Every k is allowed, so the dense search may only do as well or better (small tolerance for TPE).
    assert dense.result.objective_value >= pow2.result.objective_value - 0.005
    again = joint(1e12, bits=4, max_samples=256, samples_grid="all")
    assert again.result.samples_per_query == dense.result.samples_per_query  # seeded


def test_unreachable_serving_bounds_are_infeasible_with_relief(cli):
    code, _, err = cli("--budget", "1e22", "--infer-tokens", "1e10", "--objective", "error", "--law", "gadre2024-rpj",
                       "--latency", "0.0001")
    assert code == 1 and "latency" in err and "raise --latency" in err and err.count("\n") == 1


def test_qat_command(cli):
    code, out, _ = cli("qat", "--params", "1e9", "--tokens", "1e11", "--bits", "4", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["fraction"] == pytest.approx(0.28, abs=0.005) and doc["loss_penalty"] > 0


def test_saved_task_profile_is_usable(cli, tmp_path):
    # Three synthetic model sizes drawn from the shipped math law, fitted back and planned with.
    from planner.laws.catalog import get_law
    from planner.serving.tasks import PRESET_TASKS

    law, task = get_law("besiroglu2024"), PRESET_TASKS["math"]
    rng = np.random.default_rng(0)
    counts, sizes = ["model,n,c"], ["model,params,tokens"]
    for name, n_params in (("s", 2e8), ("m", 1e9), ("l", 5e9)):
        loss = float(law.loss(n_params, 3e11))
        p = rng.beta(float(task.alpha(loss)), float(task.beta(loss)), size=200)
        counts += [f"{name},50,{c}" for c in rng.binomial(50, p)]
        sizes.append(f"{name},{n_params},3e11")
    f, g = tmp_path / "per_problem.csv", tmp_path / "sizes.csv"
    f.write_text("\n".join(counts))
    g.write_text("\n".join(sizes))
    code, _, err = cli("fit-samples", str(f), "--group-col", "model", "--sizes", str(g), "--bootstrap", "0", "--save", "mytask")
    assert code == 0, err
    code, out, _ = cli("--budget", "1e22", "--infer-tokens", "1e8", "--objective", "pass@k", "--task", "mytask",
                       "--law", "gadre2024-rpj", "--json")
    assert code == 0 and json.loads(out)["result"]["objective"] == "pass@k"


def test_the_scaled_beta_likelihood_matches_direct_integration():
    """The vectorised Gauss-Jacobi likelihood against quadrature of the same integral."""
    import math

    import numpy as np
    from scipy.integrate import quad
    from scipy.special import betaln, comb

    from planner.serving.sampling import ScaledBetaFit

    counts = {(10, 0): 3, (10, 2): 2, (10, 7): 1, (25, 1): 2, (25, 25): 1}
    a, b, s = 0.4, 3.0, 0.8
    theta = np.array([math.log(a), math.log(b), math.log(s / (1 - s))])

    def one(n: int, c: int) -> float:
        f = lambda x: comb(n, c) * (s * x) ** c * (1 - s * x) ** (n - c) * x ** (a - 1) * (1 - x) ** (b - 1)
        return quad(f, 0, 1, limit=200, points=[1e-6, 1e-3])[0] / math.exp(betaln(a, b))

    direct = sum(m * math.log(one(n, c)) for (n, c), m in counts.items())
    assert ScaledBetaFit._loglik(theta, counts, True) == pytest.approx(direct, rel=1e-6)
