"""The ``plan`` command line.

``plan --budget 1e23 --gpu h100 --infer-tokens 1e12`` plans; ``plan hardware ...`` and
``plan laws ...`` browse the registries; ``fit``, ``predict``, ``layout``, ``qat`` and
``fit-samples`` answer sub-questions. Exit codes: 0 ok, 1 infeasible (or a solver failure),
2 usage error, 3 internal error. Errors are one line on stderr, never a traceback.
Commands are thin: each parses options, calls the library, and prints what ``planner.report``
renders. Option defaults come from ``planner.defaults``.

Only click is imported at start-up: the planner, numpy and cvxpy load when a command runs,
so ``plan --help`` stays instant.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from planner.cli.browse import hardware, laws
from planner.cli.curve import curve
from planner.cli.fit import fit_command, predict_command
from planner.cli.layout import layout_command
from planner.cli.options import (
    COUNT,
    EXIT_INFEASIBLE,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    EXPORT_CHOICES,
    QUANTITY,
    echo_json,
    emit_export,
    hardware_option,
    report_files,
    save_plot,
    write_report,
)
from planner.cli.plan_args import apply_scenario, plan_kwargs
from planner.cli.serving import fit_samples_command, qat_command
from planner.cli.validate import validate_command
from planner.cli.whatif import compare_command, sweep_command
from planner.defaults import (
    DEFAULT_DEADLINE_DAYS,
    DEFAULT_GEN_TOKENS,
    DEFAULT_GOODPUT,
    DEFAULT_MAX_GPUS,
    DEFAULT_MAX_SAMPLES,
    DEFAULT_MAX_SERVE_BATCH,
    DEFAULT_MAX_UNIQUE_TOKENS,
    DEFAULT_PROMPT_TOKENS,
    DEFAULT_SEQ_LEN,
    DEFAULT_SERVING_COST,
    DEFAULT_WARMUP_FRACTION,
    KV_BITS,
    OBJECTIVES,
    SEARCHED_WEIGHT_BITS,
    SERVING_COSTS,
)

__all__ = ["cli", "main"]

@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--budget", type=QUANTITY, help="Lifetime compute budget in FLOPs (training + serving).")
@click.option("--gpu-hours", type=QUANTITY, help="Lifetime budget in GPU-hours of --gpu.")
@click.option("--dollars", type=QUANTITY, help="Lifetime budget in US dollars (needs --price).")
@click.option("--price", type=QUANTITY, help="US dollars per GPU-hour (prices the plan).")
@click.option("--gpus", type=COUNT, help="Cluster size (default: recommended from a ladder). With --days: a budget, or a training deadline next to another budget.")
@click.option("--days", type=QUANTITY, help=f"Training deadline in days: the recommended cluster must meet it (planner default {DEFAULT_DEADLINE_DAYS:g}); with --gpus alone, the cluster budget.")
@click.option("--max-gpus", type=COUNT, default=DEFAULT_MAX_GPUS, show_default=True, help="Largest cluster on the recommendation ladder (a planner setting).")
@click.option("--target-loss", type=QUANTITY, help="Reach this loss at least lifetime compute (instead of a budget).")
@click.option("--infer-tokens", type=QUANTITY, default=0.0, show_default=True, help="Tokens served over the model's life.")
@click.option("--gpu", default="h100-sxm", show_default=True, help="Accelerator id or alias (see `plan hardware list`).")
@click.option("--law", default=None, help="Scaling-law preset or law TOML file (default besiroglu2024; see `plan laws list`).")
@click.option("--max-params", type=QUANTITY, help="Upper bound on parameters.")
@click.option("--max-tokens", type=QUANTITY, help="Upper bound on training tokens (data-constrained).")
@click.option("--max-unique-tokens", type=QUANTITY, default=DEFAULT_MAX_UNIQUE_TOKENS, show_default=True, help="Unique tokens available; plans beyond warn that data repeats (FineWeb: ~15T).")
@click.option("--extrapolate", is_flag=True, help="Let the plan leave the law's fitted range (smallest model, tokens per parameter), with warnings.")
@click.option("--mfu", type=QUANTITY, help="Model-FLOP utilisation in (0, 1]; default: the accelerator's published figure.")
@click.option("--precision", type=click.Choice(["bf16", "fp8", "fp4"]), default="bf16", show_default=True, help="Which dense peak prices compute.")
@click.option("--downstream", default=None, help="Downstream-error map: a saved map, PRESET or PRESET:SUITE (default: the law's own).")
@click.option("--lr-rule", type=click.Choice(["steplaw", "deepseek"]), default="steplaw", show_default=True, help="Learning-rate and batch law for the training recipe.")
@click.option("--seq-len", type=COUNT, default=DEFAULT_SEQ_LEN, show_default=True, help="Training sequence length (recipe batch size).")
@click.option("--curve-law", help="A loss-curve law (plan curve fit --save, or mpl-25m / mpl-100m): the WSD decay share comes from it.")
@click.option("--optimizer", type=click.Choice(["adamw", "muon", "soap"]), default="adamw", show_default=True,
              help="Say what this optimizer's measured speedup over AdamW is worth at the chosen N and D (Wen et al. 2025).")
@click.option("--warmup-fraction", type=QUANTITY, default=DEFAULT_WARMUP_FRACTION, show_default=True, help="Share of steps in warmup (a planner default, not a law).")
@click.option("--objective", type=click.Choice(list(OBJECTIVES)), default="loss", show_default=True, help="What the plan maximises (error and pass@k need a downstream map; pass@k a --task).")
@click.option("--samples", type=COUNT, help="Samples per query k (default: searched for --objective pass@k, else 1).")
@click.option("--max-samples", type=COUNT, default=DEFAULT_MAX_SAMPLES, show_default=True, help="Largest k searched.")
@click.option("--samples-grid", type=click.Choice(["pow2", "all"]), default="pow2", show_default=True, help="k in powers of 2 (enumerated) or every k (optuna TPE).")
@click.option("--bits", type=click.Choice([str(b) for b in SEARCHED_WEIGHT_BITS]), help="Serving weight bits (default: searched with the optimal QAT share).")
@click.option("--kv-bits", type=click.Choice([str(b) for b in KV_BITS]), default="16", show_default=True, help="KV-cache bits when serving.")
@click.option("--prompt-tokens", type=COUNT, default=DEFAULT_PROMPT_TOKENS, show_default=True, help="Prompt tokens per query (a planner default).")
@click.option("--gen-tokens", type=COUNT, default=DEFAULT_GEN_TOKENS, show_default=True, help="Generated tokens per sample (a planner default).")
@click.option("--serve-batch", type=COUNT, help="Fix the sequences decoded together per replica (default: chosen, the largest that fits).")
@click.option("--verifier-flops", type=QUANTITY, default=0.0, show_default=True, help="FLOPs to check one sample with pass@k's automatic verifier (unit tests, a proof checker): a user parameter.")
@click.option("--reward-model", "reward_model_params", type=QUANTITY, help="Select among samples with a reward model of this many parameters: each sample costs its forward pass.")
@click.option("--max-serve-batch", type=COUNT, default=DEFAULT_MAX_SERVE_BATCH, show_default=True, help="Largest serving batch the plan may choose (a planner cap).")
@click.option("--serve-gpu", help="Accelerator that serves (default: --gpu).")
@click.option("--serve-memory", type=QUANTITY, help="Bytes of accelerator memory one serving replica may use (e.g. 80e9).")
@click.option("--latency", "latency_s", type=QUANTITY, help="Bound on one query's latency in seconds (prefill + decode).")
@click.option("--task", help="Task profile for --objective pass@k: 'math' or a profile saved by `plan fit-samples --save`.")
@click.option("--serving-cost", type=click.Choice(list(SERVING_COSTS)), help=f"Price serving as 2N FLOPs per generated token (flops) or as Kinetics eFLOPs on --serve-gpu (roofline); default {DEFAULT_SERVING_COST}, whatever other flags are given.")
@click.option("--goodput", type=QUANTITY, default=DEFAULT_GOODPUT, show_default=True, help="Share of wall clock that is productive training (Llama 3: >90 %).")
@click.option("--layout/--no-layout", "choose_layout", default=True, show_default=True, help="Choose the cluster and parallel layout and use the layout's predicted MFU.")
@click.option("--export", "export", type=click.Choice(EXPORT_CHOICES), help="The plan as Megatron-LM arguments or a Megatron-Bridge config (nemo: an alias); with --json, as data.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the --export to this file.")
@click.option("--scenario", type=click.Path(dir_okay=False), help="TOML scenario file with the same keys as these flags; flags override it.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout instead of the report.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Draw the plan (iso-FLOP curve, compute split) to FILE.png / .svg.")
@report_files
@hardware_option
@click.version_option(package_name="compute-planner")
@click.pass_context
def cli(ctx: click.Context, scenario: str | None, as_json: bool, hardware_files: tuple[str, ...], export: str | None,
        output: str | None, plot: str | None, html: str | None, svg: str | None, **flags: Any) -> None:
    """Plan model size and training tokens for a compute budget and an inference demand.

    \b
    Examples:
      plan --budget 1e23 --gpu h100 --infer-tokens 1e12
      plan --target-loss 2.0 --infer-tokens 2T --law sardana2024
      plan --dollars 50000 --price 2.5 --gpu h100 --json
      plan --scenario budgets/h100-1e23.toml
    """
    if ctx.invoked_subcommand is not None:
        if as_json:  # `plan --json SUBCOMMAND ...` means the subcommand's own --json
            ctx.default_map = _json_defaults(ctx.command)
        return
    if scenario:
        flags = apply_scenario(ctx, scenario, flags)
    if output and not export:
        from planner.errors import PlannerInputError

        raise PlannerInputError("-o writes an --export: give --export FORMAT")
    if export and not flags["choose_layout"]:
        from planner.errors import PlannerInputError

        raise PlannerInputError("--export needs a layout: drop --no-layout")
    from planner.planning.pipeline import plan

    kwargs = plan_kwargs(flags, hardware_files)
    result = plan(**kwargs)
    for w in result.warnings:
        click.echo(f"plan: warning: {w}", err=True)
    if export:
        emit_export(result.export(export), output, as_json)
        return
    if plot:
        from planner.report.plots import plan_figure

        save_plot(plan_figure(result.to_dict())[0], plot)
    if as_json:
        click.echo(result.to_json())
        return
    from planner.report import render_plan

    write_report(render_plan(result, warnings=False), html, svg, title="plan")


# --------------------------------------------------------------------------- entry point


for _command in (hardware, laws, fit_command, predict_command, curve, layout_command, qat_command, fit_samples_command,
                 validate_command, sweep_command, compare_command):
    cli.add_command(_command)


def _err(message: str) -> None:
    click.echo(f"plan: error: {message}", err=True)


#: BLAS/OpenMP thread-pool variables. Plans and fits solve many small problems, where a
#: multi-threaded BLAS spends more time waking threads than computing (benchmarks/bench_threads.py
#: measures it), so the CLI runs them on one thread unless the user set the variable.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def pin_blas_threads(env: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """One BLAS thread for every pool variable the user left unset (before numpy loads).
    ``PLANNER_BLAS_THREADS=N`` asks for N instead; ``PLANNER_BLAS_THREADS=0`` leaves them alone."""
    want = env.get("PLANNER_BLAS_THREADS", "1")
    if want == "0":
        return
    for var in BLAS_THREAD_VARS:
        env.setdefault(var, want)


def _json_defaults(group: click.Group) -> dict[str, Any]:
    """Click defaults that turn on ``--json`` in every subcommand below ``group`` that has it."""
    out: dict[str, Any] = {}
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out[name] = _json_defaults(cmd)
        elif any(p.name == "as_json" for p in cmd.params):
            out[name] = {"as_json": True}
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; turn every expected failure into one stderr line and an exit code (0 ok,
    1 infeasible, 2 usage, 3 internal). Under ``--json`` a failure also writes one JSON status
    document to stdout, so that stdout is always one valid document."""
    pin_blas_threads()
    from click.exceptions import Abort, ClickException, Exit, UsageError

    args = list(argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=args, prog_name="plan", standalone_mode=False)
    except Exit as exc:  # --help, --version
        return exc.exit_code
    except UsageError as exc:
        return _fail(args, EXIT_USAGE, "usage_error", exc.format_message())
    except ClickException as exc:
        return _fail(args, exc.exit_code, "usage_error" if exc.exit_code == EXIT_USAGE else "error", exc.format_message())
    except Abort:
        return _fail(args, EXIT_INFEASIBLE, "aborted", "aborted")
    except Exception as exc:  # planner errors, lazily imported
        from planner.errors import InfeasiblePlanError, PlannerInputError, SolverError

        if isinstance(exc, PlannerInputError):
            return _fail(args, EXIT_USAGE, "usage_error", str(exc))
        if isinstance(exc, InfeasiblePlanError):
            return _fail(args, EXIT_INFEASIBLE, "infeasible", f"infeasible: {exc.binding}. To relieve it: {exc.relief}.",
                         binding=exc.binding, relief=exc.relief)
        if isinstance(exc, SolverError):
            return _fail(args, EXIT_INFEASIBLE, "solver_failure", f"solver failure: {exc}")
        if os.environ.get("PLANNER_DEBUG"):
            raise
        return _fail(args, EXIT_INTERNAL, "internal_error",
                     f"internal error ({type(exc).__name__}): {exc}; set PLANNER_DEBUG=1 for a traceback and please report it")
    return EXIT_OK


def _fail(args: list[str], code: int, status: str, message: str, **fields: str) -> int:
    """One stderr line (whitespace folded), the status document under ``--json``, and the code."""
    message = " ".join(message.split())
    if "--json" in args:
        from planner.planning.records import SCHEMA_VERSION

        echo_json({"schema_version": SCHEMA_VERSION, "status": status, "exit_code": code, **fields,
                   **({} if fields else {"message": message})})
    _err(message)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
