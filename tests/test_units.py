"""Quantities on the command line: suffixes, thousands separators, and what is refused."""

from __future__ import annotations

import pytest

from planner.units import parse_quantity


@pytest.mark.parametrize("text, value", [("7B", 7e9), ("2T", 2e12), ("1e23", 1e23), ("1,000", 1e3), ("12,345.5", 12345.5),
                                         ("1_000", 1e3), ("1,000B", 1e12)])
def test_quantities_parse(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["1,5", "2,5", "1,0000", ",", "nan", "inf", "-inf", "", "7X"])
def test_localised_and_non_finite_numbers_are_refused(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_a_decimal_comma_is_a_usage_error_on_the_command_line(cli):
    code, _, err = cli("--gpus", "8", "--days", "1,5")
    assert code == 2 and "use a dot for decimals" in err


def test_a_budget_too_small_for_the_smallest_supported_model_says_so_without_serving(cli):
    code, _, err = cli("--budget", "1e15")
    assert code == 1 and "to train at the law's fewest tokens per parameter" in err and "infer-tokens" not in err


def test_a_budget_below_the_floor_is_a_usage_error_even_when_extrapolating(cli):
    for argv in (["--budget", "1"], ["--budget", "1e-300", "--extrapolate", "--infer-tokens", "1e9"]):
        code, _, err = cli(*argv)
        assert code == 2 and "below the planner's floor of 1e+12" in err and len(err.strip().splitlines()) == 1
