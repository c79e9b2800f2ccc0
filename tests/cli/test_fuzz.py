"""A seeded fuzz of the whole command line, in-process (issue 14).

Each case is a random command with random options built from the click definitions
themselves (so a new flag is fuzzed the day it lands), with values drawn from hostile inputs:
localised and overflowing numbers, nan/inf, markup and control characters, files that are
not UTF-8, too deep, empty, folders or missing. Every case must end in the documented way:

* exit 0, 1 (infeasible) or 2 (usage), never 3 (internal) and never a traceback;
* a failure is exactly one ``plan: error:`` line on stderr, the last one;
* under ``--json``, stdout is exactly one JSON document with no NaN or Infinity;
* within a time bound (hypothesis' deadline).

Slow-by-design inputs that the README's limits allow (``--samples-grid all`` at 65,536
samples, thousands of Bayesian trials) are left out: they are bounded, not fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.cli.app import cli as plan_group

ROOT = Path(__file__).resolve().parents[2]
MEASURED = ROOT / "planner" / "data" / "measured"

NUMBERS = ["1", "0", "-3", "1e21", "3e23", "7B", "2T", "1,5", "1,000", "1e308", "1e-300", "nan", "inf", "-inf",
           "1" + "0" * 30, "0x10", "1e", "", " ", "1_000", "½", "١٢", "0.5", "0.9", "2.1", "100", "1e400"]
INTS = ["1", "0", "-1", "2", "8", "64", "1024", "1.5", "1e3", "99999999999999999999", "x", ""]
#: Text values; relative paths never climb more than one folder out of the scratch folder.
TEXT = ["h100", "a100", "mi250x", "besiroglu2024", "math", "[/x]", "[bold]x[/bold]", "\x1b[31mred", "a\x00b",
        "é", "../x", "x" * 300, "", "loss", "model", "N=1", "params>1e9", "tokens<=1e10"]


def _files(folder: Path) -> list[str]:
    """Hostile and valid files for Path options, made once per test."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "not_utf8.toml": b"\xff\xfe[x]\n",
        "deep.toml": ("a = " + "[" * 400 + "]" * 400 + "\n").encode(),
        "markup.toml": b'[x]\nname = "[/x]\\u001b[31m"\nbudget = true\n',
        "empty.csv": b"",
        "bom.csv": "\ufeffparams,tokens,loss\n1e8,2e9,3.5\n2e8,8e9,3.1\n4e8,4e9,3.0\n8e8,3e10,2.8\n".encode(),
        "ragged.csv": b"n,c\n10,1\n10\n",
        "samples.csv": b"model,n,c\n" + b"".join(f"m{m},10,{(m * 3 + p) % 11}\n".encode() for m in range(3) for p in range(8)),
        "lines.jsonl": b'{"params": 1e8, "tokens": 2e9, "loss": NaN}\n[1, 2]\n',
    }
    for name, data in made.items():
        (folder / name).write_bytes(data)
    (folder / "a_folder").mkdir(exist_ok=True)
    # A copy of real runs: -o may be handed any of these paths, so none may be a shipped file.
    (folder / "runs.csv").write_bytes((MEASURED / "chinchilla_epoch.csv").read_bytes())
    curves = (MEASURED / "lr_schedule_curves_mpl.csv").read_text().splitlines()
    keep = ("run", "mpl25M_constant_24000", "mpl25M_cosine_24000")
    (folder / "curves.csv").write_text("\n".join(line for line in curves if line.startswith(keep)) + "\n")
    return [str(folder / n) for n in made] + [str(folder / "a_folder"), str(folder / "missing.toml"),
                                               str(folder / "runs.csv"), str(folder / "curves.csv"), str(folder / "out.txt")]


def _commands() -> dict[tuple[str, ...], click.Command]:
    out: dict[tuple[str, ...], click.Command] = {(): plan_group}
    for name, cmd in plan_group.commands.items():
        if isinstance(cmd, click.Group):
            out.update({(name, sub): c for sub, c in cmd.commands.items()})
        else:
            out[(name,)] = cmd
    return out


COMMANDS = _commands()
#: --version exits early; --samples-grid all is bounded, not fast; --workers starts processes (tests/whatif).
SKIP = {"--version", "--help", "--samples-grid", "--workers"}


def _value(param: click.Option, files: list[str]) -> st.SearchStrategy[str]:
    kind = type(param.type).__name__
    if isinstance(param.type, click.Choice):
        return st.sampled_from([*map(str, param.type.choices), "nope", ""])
    if kind == "Quantity":
        return st.sampled_from(NUMBERS)
    if kind in ("IntRange", "IntParamType"):
        small = param.name in ("trials", "bootstrap", "n_bootstrap", "draws", "top", "max_samples")
        return st.sampled_from(["1", "3", "-1", "x"] if small else INTS)
    if kind == "Path":
        return st.sampled_from(files)
    return st.sampled_from(TEXT + files[:3])


#: A valid start for each command, so that half the cases get past the first check and fuzz
#: what lies behind it (the other half start from nothing).
VALID = {(): ["--budget", "1e21"], ("fit",): ["runs.csv"],  # relative: the hostile folder is the working directory
         ("predict",): ["--params", "7B", "--tokens", "1T"], ("layout",): ["--params", "1B", "--gpus", "16"],
         ("qat",): ["--params", "1e9", "--tokens", "1e11", "--bits", "4"], ("hardware", "show"): ["h100"],
         ("laws", "show"): ["besiroglu2024"], ("sweep",): ["--budget", "1e21,1e22", "--no-layout"],
         ("compare",): ["--budget 1e21", "--budget 1e22", "--no-layout"], ("curve", "fit"): ["curves.csv"],
         ("curve", "predict"): ["--law", "mpl-25m", "--schedule", "wsd:decay=0.2", "--steps", "24000"],
         ("curve", "decide"): ["--law", "mpl-25m", "--runs", "curves.csv", "--total-steps", "30000"]}


@st.composite
def invocations(draw: st.DrawFn, files: list[str]) -> list[str]:
    path = draw(st.sampled_from(sorted(COMMANDS)))
    cmd = COMMANDS[path]
    argv = list(path)
    if path in VALID and draw(st.booleans()):
        argv += VALID[path]
    elif path == ("fit-samples",) and draw(st.booleans()):
        argv += [next(f for f in files if f.endswith("samples.csv")), "--group-col", "model"]
    else:
        for arg in [p for p in cmd.params if isinstance(p, click.Argument)]:
            argv.append(draw(st.sampled_from(files if "path" in arg.name or arg.name == "runs" else TEXT)))
    options = [p for p in cmd.params if isinstance(p, click.Option) and p.opts[0] not in SKIP]
    for opt in draw(st.lists(st.sampled_from(options), max_size=4, unique_by=lambda p: p.opts[0])):
        if opt.is_flag:
            argv.append(opt.opts[0] if not opt.secondary_opts or draw(st.booleans()) else opt.secondary_opts[0])
        else:
            argv += [opt.opts[0], draw(_value(opt, files))]
    if path == ():
        argv.append("--no-layout")  # a full layout search per case would be seconds; the layout command is fuzzed itself
        if "--budget" not in argv and draw(st.booleans()):
            argv += ["--budget", draw(st.sampled_from(NUMBERS))]
    if draw(st.booleans()):
        argv.insert(0, "--json") if draw(st.booleans()) else argv.append("--json")
    return argv


def _no_constants(token: str) -> None:
    raise ValueError(f"non-standard JSON constant {token}")


def check_case(code: int, out: str, err: str, argv: list[str]) -> None:
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    lines = err.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("plan: error:")]
    if code:
        assert len(errors) == 1 and lines[-1] == errors[0], (argv, err)
    else:
        assert not errors, (argv, err)
    if "--json" in argv and not (code == 0 and "-o" in argv):
        json.loads(out, parse_constant=_no_constants)  # exactly one document: trailing text fails


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory) -> list[str]:
    return _files(tmp_path_factory.mktemp("hostile"))


def test_every_command_line_ends_in_a_documented_way(cli, hostile_files, monkeypatch):
    monkeypatch.chdir(Path(hostile_files[0]).parent)  # relative names (and -o) stay in the hostile folder

    @settings(max_examples=int(os.environ.get("PLANNER_FUZZ_EXAMPLES", "2000")), deadline=timedelta(seconds=20),
              derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(invocations(hostile_files))
    def case(argv: list[str]) -> None:
        check_case(*cli(*argv), argv)

    case()


DETERMINISM_CASES = [
    ["--json", "--budget", "1e22", "--infer-tokens", "1e11"],
    ["--json", "layout", "--params", "7B", "--gpus", "64", "--method", "bayesian", "--trials", "40"],
    ["fit", str(MEASURED / "chinchilla_epoch.csv"), "--bootstrap", "20", "--json"],
]


@pytest.mark.parametrize("argv", DETERMINISM_CASES, ids=["plan", "bayesian-layout", "bootstrap-fit"])
def test_output_is_byte_identical_across_processes(argv, tmp_path):
    outs = []
    for hash_seed, threads in (("1", "1"), ("2", "2")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PLANNER_BLAS_THREADS": threads,
               "COMPUTE_PLANNER_CONFIG_DIR": str(tmp_path / "config")}
        done = subprocess.run([sys.executable, "-m", "planner.cli", *argv], capture_output=True, env=env, cwd=ROOT)
        assert done.returncode == 0, done.stderr.decode()
        outs.append(done.stdout)
    assert outs[0] == outs[1] and json.loads(outs[0])


def test_the_fuzz_leaves_the_shipped_files_alone(tmp_path):
    """The fuzz hands -o every path it knows: none of them may be in the repository."""
    files = _files(tmp_path / "hostile")
    assert not [f for f in files if Path(f).resolve().is_relative_to(ROOT)]
