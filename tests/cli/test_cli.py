"""The `plan` command: exit codes, one-line errors, JSON, scenarios, registries."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]




def test_main_command_report(cli):
    code, out, err = cli("--budget", "1e23", "--gpu", "h100", "--infer-tokens", "1e12")
    assert code == 0
    for text in ("Allocation", "parameters", "Compute", "inference", "Chinchilla-optimal baseline", "Assumptions", "Dubey et al. 2024"):
        assert text in out
    assert "Traceback" not in err


def test_json_to_stdout_diagnostics_to_stderr(cli):
    code, out, err = cli("--budget", "1e25", "--infer-tokens", "2T", "--json")
    assert code == 0
    doc = json.loads(out)  # stdout is exactly one JSON document
    assert doc["schema_version"] == "2.2"  # 2.1: cluster, shape and the decision in every plan; 2.2: dynamics
    assert doc["request"]["infer_tokens"] == 2e12
    assert doc["warnings"] and all(f"plan: warning: {w}" in err for w in doc["warnings"])


def test_cli_and_library_agree(cli):
    import planner

    _, out, _ = cli("--gpu-hours", "2e5", "--gpu", "a100", "--infer-tokens", "5e11", "--json")
    lib = planner.plan(gpu_hours=2e5, gpu="a100", infer_tokens=5e11)
    assert json.loads(out) == json.loads(lib.to_json())


@pytest.mark.parametrize(
    "argv",
    [
        ["--budget", "-1"],
        ["--budget", "0"],
        ["--budget", "nan"],
        ["--budget", "abc"],
        ["--budget", "1e23", "--gpu", "h1000"],
        ["--budget", "1e23", "--law", "nope"],
        ["--budget", "1e23", "--gpu-hours", "10"],
        ["--budget", "1e23", "--dollars", "10", "--price", "2"],
        ["--dollars", "10"],
        [],
        ["--bogus"],
        ["hardware", "show", "nope"],
        ["laws", "show", "nope"],
    ],
)
def test_usage_errors_are_one_line_exit_2(cli, argv):
    code, out, err = cli(*argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("plan: error: ")
    assert "Traceback" not in err


def test_malformed_toml_is_a_usage_error(cli, tmp_path):
    bad = tmp_path / "hw.toml"
    bad.write_text("[h100\n")
    code, _, err = cli("--budget", "1e23", "--hardware-file", str(bad))
    assert code == 2 and "malformed TOML" in err and err.count("\n") == 1
    code, _, err = cli("--scenario", str(bad))
    assert code == 2 and "malformed TOML" in err


def test_infeasible_exit_1_with_relief(cli):
    code, out, err = cli("--target-loss", "2.0", "--max-params", "1e9", "--max-tokens", "1e11")
    assert code == 1
    assert "infeasible" in err and "raise --target-loss" in err and err.count("\n") == 1
    code, out, err = cli("--target-loss", "1.5", "--json")
    assert code == 1
    assert json.loads(out)["status"] == "infeasible"


def test_scenario_files_run_and_flags_override(cli):
    for path in sorted((ROOT / "budgets").glob("*.toml")):
        code, out, err = cli("--scenario", str(path), "--json")
        assert code == 0, (path, err)
        json.loads(out)
    _, out, _ = cli("--scenario", str(ROOT / "budgets" / "h100-1e23.toml"), "--json")
    base = json.loads(out)
    _, out, _ = cli("--scenario", str(ROOT / "budgets" / "h100-1e23.toml"), "--infer-tokens", "1e13", "--json")
    over = json.loads(out)
    assert base["inputs"]["infer_tokens"] == 1e12 and over["inputs"]["infer_tokens"] == 1e13
    assert over["result"]["params"] < base["result"]["params"]


def test_scenario_unknown_key(cli, tmp_path):
    f = tmp_path / "s.toml"
    f.write_text("budgett = 1e23\n")
    code, _, err = cli("--scenario", str(f))
    assert code == 2 and "did you mean 'budget'" in err


def test_hardware_and_laws_commands(cli):
    code, out, _ = cli("hardware", "list", "--json")
    assert code == 0 and {"h100-sxm", "mi250x", "b200"} <= {h["id"] for h in json.loads(out)}
    code, out, _ = cli("hardware", "show", "H100", "--json")
    assert code == 0 and json.loads(out)["bf16_flops_per_s"] == 989.4e12
    code, out, _ = cli("hardware", "list")
    assert code == 0 and "h100-sxm" in out
    code, out, _ = cli("hardware", "show", "mi250x")
    assert code == 0 and "GCD" in out
    code, out, _ = cli("laws", "list", "--json")
    assert code == 0 and "gadre2024-rw" in {law["name"] for law in json.loads(out)}
    code, out, _ = cli("laws", "show", "sardana2024")
    assert code == 0 and "Sardana" in out and "Compute-optimal" in out
    code, out, _ = cli("laws", "show", "gadre2024-c4", "--json")
    assert code == 0 and "17-task" in json.loads(out)["downstream"]


def test_hardware_file_flag(cli, tmp_path):
    f = tmp_path / "hw.toml"
    f.write_text("[h100-sxm]\ndefault_mfu = 0.5\n")
    _, out, _ = cli("--budget", "1e23", "--hardware-file", str(f), "--no-layout", "--json")
    assert json.loads(out)["inputs"]["mfu"] == 0.5


def test_help_does_not_import_heavy_packages():
    code = (
        "import sys, contextlib, io\n"
        "from planner.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
        "heavy = [m for m in ('cvxpy', 'optuna', 'scipy', 'numpy', 'rich') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


PLAN_SCRIPT = shutil.which("plan", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(PLAN_SCRIPT is None, reason="console script not installed next to this python")
def test_console_script_exit_codes():
    ok = subprocess.run([PLAN_SCRIPT, "--budget", "1e21", "--json"], capture_output=True, text=True)
    assert ok.returncode == 0 and json.loads(ok.stdout)["result"]["params"] > 0
    bad = subprocess.run([PLAN_SCRIPT, "--budget", "-3"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_solver_failure_is_one_line_exit_1(cli, monkeypatch):
    import solvers.reduced
    from solvers.problem import SolveFailed

    def broken(problem):
        raise SolveFailed("GP solver returned status 'solver_error' for a feasible problem")

    monkeypatch.setattr(solvers.reduced, "solve_reduced", broken)
    code, _, err = cli("--budget", "1e23")
    assert code == 1 and err.startswith("plan: error: solver failure:") and err.count("\n") == 1


def test_internal_errors_exit_3_not_1(cli, monkeypatch):
    # 1 means infeasible; a bug in the planner says nothing about feasibility.
    import planner.planning.pipeline as pipeline

    def broken(**kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(pipeline, "plan", broken)
    code, out, err = cli("--budget", "1e23")
    assert code == 3 and "internal error" in err and err.count("\n") == 1 and not out
