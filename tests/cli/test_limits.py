"""Sizes the user controls have stated limits; a refusal is one line and exit 2 (issue 14)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("argv, message", [
    (["--budget", "1e22", "--objective", "pass@k", "--task", "math", "--law", "gadre2024-rpj", "--infer-tokens", "1e10",
      "--max-samples", "100000000"], "max-samples 100000000 is above the planner's limit"),
    (["--budget", "1e22", "--gpus", "1" + "0" * 29], "gpus 1" + "0" * 29 + " is above"),
    (["--budget", "1e22", "--max-gpus", "4194304"], "max-gpus 4194304 is above"),
    (["--budget", "1e22", "-o", "x.txt"], "give --export FORMAT"),
    (["layout", "--layers", "1000000000", "--hidden", "4096", "--gpus", "8"], "--layers 1000000000 is above"),
    (["layout", "--params", "7B", "--gpus", "8", "--method", "bayesian", "--trials", "100000"], "--trials 100000 is above"),
])
def test_oversized_inputs_are_refused_in_one_line(cli, argv, message):
    code, out, err = cli(*argv)
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
