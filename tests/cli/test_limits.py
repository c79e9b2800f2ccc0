"""Sizes the user controls have stated limits; a refusal is one line and exit 2 (issue 14)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("argv, message", [
    (["--budget", "1e22", "--objective", "pass@k", "--task", "math", "--law", "gadre2024-rpj", "--infer-tokens", "1e10",
      "--max-samples", "100000000"], "max-samples 100000000 is above the planner's limit"),
    (["--budget", "1e22", "--gpus", "4194304"], "gpus 4194304 is above"),
    (["--budget", "1e22", "--gpus", "1" + "0" * 29], "is not in the range 1<=x<=2147483647"),
    (["layout", "--params", "1B", "--gpus", "16", "--global-batch", "9" * 20], "9" * 20 + " is not in the range 1<=x<=2147483647"),
    (["layout", "--params", "1", "--gpus", "16", "--tokens", "1e308"], "more than any layout can hold"),
    (["--budget", "1e22", "--max-gpus", "4194304"], "max-gpus 4194304 is above"),
    (["--budget", "1e22", "-o", "x.txt"], "give --export FORMAT"),
    (["layout", "--layers", "1000000000", "--hidden", "4096", "--gpus", "8"], "--layers 1000000000 is above"),
    (["layout", "--params", "7B", "--gpus", "8", "--method", "bayesian", "--trials", "100000"], "--trials 100000 is above"),
])
def test_oversized_inputs_are_refused_in_one_line(cli, argv, message):
    code, out, err = cli(*argv)
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_cli_pins_blas_threads_unless_the_user_chose():
    from planner.cli.app import BLAS_THREAD_VARS, pin_blas_threads

    env = {"OMP_NUM_THREADS": "4"}
    pin_blas_threads(env)
    assert env["OMP_NUM_THREADS"] == "4" and all(env[v] == "1" for v in BLAS_THREAD_VARS if v != "OMP_NUM_THREADS")
    env = {"PLANNER_BLAS_THREADS": "0"}
    pin_blas_threads(env)
    assert not any(v in env for v in BLAS_THREAD_VARS)
    env = {"PLANNER_BLAS_THREADS": "2"}
    pin_blas_threads(env)
    assert all(env[v] == "2" for v in BLAS_THREAD_VARS)


@pytest.mark.parametrize("argv", [["--target-loss", "1.82", "--no-layout"], ["--budget", "1e31", "--no-layout"]])
def test_huge_valid_plans_are_plans_not_serving_errors(cli, argv):
    # No serving flag given: a model too big for one 4,096-GPU replica is still a plan (with warnings).
    code, out, err = cli(*argv, "--json")
    assert code == 0, err
    assert json.loads(out)["result"]["params"] > 1e14 and "Traceback" not in err


def test_an_overflowing_cluster_budget_is_a_usage_error(cli):
    code, _, err = cli("--gpus", "8", "--days", "1e308")
    assert code == 2 and "overflows floating point" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["hardware", "list"], ["laws", "list"], ["hardware", "show", "h100"]])
def test_a_root_json_flag_reaches_the_subcommand(cli, argv):
    code, out, _ = cli("--json", *argv)
    assert code == 0
    json.loads(out)  # one valid document, not a table


@pytest.mark.parametrize(("text", "message"), [("budget = true\n", "'budget' must be a number or text"),
                                               ("budget = 1e22\ngpus = 1.5\ndays = 10\n", "'gpus' must be a whole number")])
def test_scenario_values_are_type_checked_not_coerced(cli, tmp_path, text, message):
    f = tmp_path / "s.toml"
    f.write_text(text)
    code, _, err = cli("--scenario", str(f), "--no-layout")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
