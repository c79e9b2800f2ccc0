from __future__ import annotations

import math

import pytest

from planner.errors import PlannerInputError
from planner.laws.catalog import DEFAULT_LAW, get_law, preset_names, presets

REQUIRED = {"hoffmann2022", "besiroglu2024", "sardana2024", "gadre2024-c4", "gadre2024-rpj", "gadre2024-rw"}


def test_required_presets_with_citations():
    assert REQUIRED <= set(preset_names())
    assert DEFAULT_LAW in REQUIRED
    for law in presets().values():
        assert law.source, law.name
        assert isinstance(law.params_include_embeddings, bool)


@pytest.mark.parametrize(
    "name, A, B",
    # Chinchilla-form A and B printed in laws.md (rounded to 4 significant figures).
    [("gadre2024-c4", 113.7, 152.5), ("gadre2024-rpj", 166.2, 287.2), ("gadre2024-rw", 125.1, 196.0)],
)
def test_overtrain_form_converts_to_chinchilla(name, A, B):
    law = get_law(name)
    assert law.alpha == law.beta
    assert law.A == pytest.approx(A, rel=1e-3)
    assert law.B == pytest.approx(B, rel=1e-3)


def test_overtrain_form_equals_gadre_parameterisation():
    # L(C, M) = E + (a M^eta + b M^-eta) C^-eta with C = 6ND, M = D/N (Gadre et al. 2024).
    law = get_law("gadre2024-rpj")
    E, eta, a, b = 1.8366, 0.13643, 212.2, 366.7
    for n, d in [(1e8, 2e9), (7e9, 1.4e12), (4e8, 1e11)]:
        c, m = 6 * n * d, d / n
        assert law.loss(n, d) == pytest.approx(E + (a * m**eta + b * m**-eta) * c**-eta, rel=1e-12)


def test_downstream_maps():
    law = get_law("gadre2024-c4")
    assert set(law.downstream) == {"17-task", "46-task"}
    m = law.downstream["17-task"]
    assert m.error(3.0) == pytest.approx(0.8497 - 2.079 * math.exp(-0.7561 * 3.0))
    # Lower loss, lower error.
    assert m.error(2.5) < m.error(3.0)


def test_besiroglu_is_about_20_tokens_per_param():
    from solvers.closed_form import optimal_allocation
    from solvers.problem import LawCoefficients

    n, d = optimal_allocation(LawCoefficients.of(get_law("besiroglu2024")), 5.76e23)
    assert 15 < d / n < 30


def test_unknown_law_suggests():
    with pytest.raises(PlannerInputError, match="did you mean sardana2024"):
        get_law("sardana")


def test_law_from_file(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('E = 2.0\nA = 300\nB = 500\nalpha = 0.3\nbeta = 0.3\nsource = "our runs"\n')
    law = get_law(str(f))
    assert law.name == "mine" and law.loss(1e9, 1e10) > 2.0


@pytest.mark.parametrize(
    "body, message",
    [
        ("E = 2.0\nA = 300\n", "missing"),
        ("E = -2.0\nA = 300\nB = 5\nalpha = 0.3\nbeta = 0.3\n", "positive"),
        ("E = 2.0\nA = 300\nB = 5\nalpha = 0.3\nbeta = 0.3\ngama = 1\n", "unknown key"),
        ("form = 'weird'\n", "unknown form"),
    ],
)
def test_bad_law_files(tmp_path, body, message):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    with pytest.raises(PlannerInputError, match=message):
        get_law(str(f))
