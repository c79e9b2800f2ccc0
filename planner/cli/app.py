"""The ``plan`` command line.

``plan --budget 1e23 --gpu h100 --infer-tokens 1e12`` plans; ``plan hardware ...`` and
``plan laws ...`` browse the registries. Exit codes: 0 ok, 1 infeasible (or a solver
failure), 2 usage error. Errors are one line on stderr, never a traceback.

Only click is imported at start-up: the planner, numpy and cvxpy load when a command runs,
so ``plan --help`` stays instant.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from click.core import ParameterSource

from planner.defaults import DEFAULT_GOODPUT, DEFAULT_MEMORY_RESERVE_FRACTION

__all__ = ["main", "cli"]

EXIT_OK, EXIT_INFEASIBLE, EXIT_USAGE = 0, 1, 2


class Quantity(click.ParamType):
    """A number that also accepts 7B / 2T style suffixes."""

    name = "NUMBER"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        if isinstance(value, int | float):
            return float(value)
        from planner.units import parse_quantity

        try:
            return parse_quantity(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


QUANTITY = Quantity()

# Scenario-file key -> click parameter name (the same words as the flags).
_SCENARIO_KEYS = {
    "budget": "budget",
    "gpu_hours": "gpu_hours",
    "dollars": "dollars",
    "price": "price",
    "gpus": "gpus",
    "days": "days",
    "target_loss": "target_loss",
    "infer_tokens": "infer_tokens",
    "gpu": "gpu",
    "law": "law",
    "max_params": "max_params",
    "max_tokens": "max_tokens",
    "mfu": "mfu",
    "precision": "precision",
    "downstream": "downstream",
    "lr_rule": "lr_rule",
    "seq_len": "seq_len",
    "warmup_fraction": "warmup_fraction",
    "goodput": "goodput",
    "objective": "objective",
    "samples": "samples",
    "bits": "bits",
    "kv_bits": "kv_bits",
    "prompt_tokens": "prompt_tokens",
    "gen_tokens": "gen_tokens",
    "serve_batch": "serve_batch",
    "serve_gpu": "serve_gpu",
    "serve_memory": "serve_memory",
    "latency": "latency_s",
    "task": "task",
    "serving_cost": "serving_cost",
}
_SCENARIO_INFO = {"title", "description"}


def _err(message: str) -> None:
    click.echo(f"plan: error: {message}", err=True)


def _hardware_option(f: Any) -> Any:
    return click.option(
        "--hardware-file",
        "hardware_files",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="TOML file adding or overriding accelerators (repeatable). "
        "~/.config/compute-planner/hardware.toml is read too.",
    )(f)


def _registry(hardware_files: tuple[str, ...]) -> Any:
    from planner.hardware.registry import load_registry

    return load_registry(hardware_files)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--budget", type=QUANTITY, help="Lifetime compute budget in FLOPs (training + serving).")
@click.option("--gpu-hours", type=QUANTITY, help="Lifetime budget in GPU-hours of --gpu.")
@click.option("--dollars", type=QUANTITY, help="Lifetime budget in US dollars (needs --price).")
@click.option("--price", type=QUANTITY, help="US dollars per GPU-hour (prices the plan).")
@click.option("--gpus", type=click.IntRange(min=1), help="Cluster size. With --days: a budget, or a training deadline next to another budget.")
@click.option("--days", type=QUANTITY, help="Deadline in days for training on --gpus devices.")
@click.option("--target-loss", type=QUANTITY, help="Reach this loss at least lifetime compute (instead of a budget).")
@click.option("--infer-tokens", type=QUANTITY, default=0.0, show_default=True, help="Tokens served over the model's life.")
@click.option("--gpu", default="h100-sxm", show_default=True, help="Accelerator id or alias (see `plan hardware list`).")
@click.option("--law", default=None, help="Scaling-law preset or law TOML file (default besiroglu2024; see `plan laws list`).")
@click.option("--max-params", type=QUANTITY, help="Upper bound on parameters.")
@click.option("--max-tokens", type=QUANTITY, help="Upper bound on training tokens (data-constrained).")
@click.option("--mfu", type=QUANTITY, help="Model-FLOP utilisation in (0, 1]; default: the accelerator's published figure.")
@click.option("--precision", type=click.Choice(["bf16", "fp8", "fp4"]), default="bf16", show_default=True, help="Which dense peak prices compute.")
@click.option("--downstream", default=None, help="Downstream-error map: a saved map, PRESET or PRESET:SUITE (default: the law's own).")
@click.option("--lr-rule", type=click.Choice(["steplaw", "deepseek"]), default="steplaw", show_default=True, help="Learning-rate and batch law for the training recipe.")
@click.option("--seq-len", type=click.IntRange(min=1), default=2048, show_default=True, help="Training sequence length (recipe batch size).")
@click.option("--warmup-fraction", type=QUANTITY, default=0.01, show_default=True, help="Share of steps in warmup (a planner default, not a law).")
@click.option("--objective", type=click.Choice(["loss", "error", "pass@k"]), default="loss", show_default=True, help="What the plan maximises (error and pass@k need a downstream map; pass@k a --task).")
@click.option("--samples", type=click.IntRange(min=1), help="Samples per query k (default: searched over powers of 2 when serving is priced on the roofline).")
@click.option("--max-samples", type=click.IntRange(min=1), default=1024, show_default=True, help="Largest k searched.")
@click.option("--samples-grid", type=click.Choice(["pow2", "all"]), default="pow2", show_default=True, help="k in powers of 2 (enumerated) or every k (optuna TPE).")
@click.option("--bits", type=click.Choice(["16", "8", "4"]), help="Serving weight bits (default: searched with QAT).")
@click.option("--kv-bits", type=click.Choice(["16", "8", "4"]), default="16", show_default=True, help="KV-cache bits when serving.")
@click.option("--prompt-tokens", type=click.IntRange(min=1), default=1024, show_default=True, help="Prompt tokens per query (a planner default).")
@click.option("--gen-tokens", type=click.IntRange(min=1), default=512, show_default=True, help="Generated tokens per sample (a planner default).")
@click.option("--serve-batch", type=click.IntRange(min=1), default=64, show_default=True, help="Sequences decoded together per replica (a planner default).")
@click.option("--serve-gpu", help="Accelerator that serves (default: --gpu).")
@click.option("--serve-memory", type=QUANTITY, help="Bytes of accelerator memory one serving replica may use (e.g. 80e9).")
@click.option("--latency", "latency_s", type=QUANTITY, help="Bound on one query's latency in seconds (prefill + decode).")
@click.option("--task", help="Task profile for --objective pass@k: 'math' or a profile saved by `plan fit-samples --save`.")
@click.option("--serving-cost", type=click.Choice(["flops", "roofline"]), help="Price serving as 2N FLOPs per token or as roofline eFLOPs on --serve-gpu (default: roofline when any serving choice is used).")
@click.option("--goodput", type=QUANTITY, default=DEFAULT_GOODPUT, show_default=True, help="Share of wall clock that is productive training (Llama 3: >90 %).")
@click.option("--layout/--no-layout", "choose_layout", default=True, show_default=True, help="With --gpus, search the parallel layout and use its predicted MFU.")
@click.option("--export", "export", type=click.Choice(["megatron", "nemo"]), help="Print the chosen layout as Megatron-LM arguments or NeMo YAML (needs --gpus).")
@click.option("--scenario", type=click.Path(dir_okay=False), help="TOML scenario file with the same keys as these flags; flags override it.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout instead of the report.")
@_hardware_option
@click.version_option(package_name="compute-planner")
@click.pass_context
def cli(ctx: click.Context, scenario: str | None, as_json: bool, hardware_files: tuple[str, ...], export: str | None,
        **flags: Any) -> None:
    """Plan model size and training tokens for a compute budget and an inference demand.

    \b
    Examples:
      plan --budget 1e23 --gpu h100 --infer-tokens 1e12
      plan --target-loss 2.0 --infer-tokens 2T --law sardana2024
      plan --dollars 50000 --price 2.5 --gpu h100 --json
      plan --scenario budgets/h100-1e23.toml
    """
    if ctx.invoked_subcommand is not None:
        return
    if scenario:
        flags = _apply_scenario(ctx, scenario, flags)
    from planner.planning.pipeline import plan

    kwargs = dict(
        gpu=flags["gpu"],
        budget_flops=flags["budget"],
        gpu_hours=flags["gpu_hours"],
        dollars=flags["dollars"],
        price_usd_per_gpu_hour=flags["price"],
        gpus=flags["gpus"],
        days=flags["days"],
        target_loss=flags["target_loss"],
        infer_tokens=flags["infer_tokens"],
        max_params=flags["max_params"],
        max_tokens=flags["max_tokens"],
        mfu=flags["mfu"],
        precision=flags["precision"],
        downstream=flags["downstream"],
        lr_rule=flags["lr_rule"],
        seq_len=flags["seq_len"],
        warmup_fraction=flags["warmup_fraction"],
        goodput=flags["goodput"],
        choose_layout=flags["choose_layout"],
        objective=flags["objective"],
        samples=flags["samples"],
        max_samples=flags["max_samples"],
        samples_grid=flags["samples_grid"],
        bits=int(flags["bits"]) if flags["bits"] else None,
        kv_bits=int(flags["kv_bits"]),
        prompt_tokens=flags["prompt_tokens"],
        gen_tokens=flags["gen_tokens"],
        serve_batch=flags["serve_batch"],
        serve_gpu=flags["serve_gpu"],
        serve_memory_bytes=flags["serve_memory"],
        latency_s=flags["latency_s"],
        task=flags["task"],
        serving_cost=flags["serving_cost"],
        hardware_files=hardware_files,
    )
    if flags["law"]:
        kwargs["law"] = flags["law"]
    from planner.errors import InfeasiblePlanError

    try:
        result = plan(**kwargs)
    except InfeasiblePlanError as exc:
        if as_json:
            from planner.planning.pipeline import SCHEMA_VERSION

            doc = {"schema_version": SCHEMA_VERSION, "status": "infeasible", "binding": exc.binding, "relief": exc.relief}
            click.echo(json.dumps(doc, indent=2))
        raise
    for w in result.warnings:
        click.echo(f"plan: warning: {w}", err=True)
    if export:
        from planner.errors import PlannerInputError
        from planner.systems.exports import megatron_args, nemo_yaml

        ls = result.layout
        if ls is None:
            raise PlannerInputError("--export needs a layout: give --gpus (and keep --layout)")
        rc = result.recipe
        if export == "megatron":
            click.echo(megatron_args(ls.best, ls.shape, ls.global_batch, lr=rc.learning_rate, train_iters=rc.steps))
        else:
            click.echo(nemo_yaml(ls.best, ls.shape, ls.global_batch, ls.n_gpus, result.accelerator.devices_per_node, lr=rc.learning_rate))
        return
    if as_json:
        click.echo(result.to_json())
        return
    from rich.console import Console

    from planner.report import render_plan

    Console().print(render_plan(result, warnings=False))


def _apply_scenario(ctx: click.Context, path: str, flags: dict[str, Any]) -> dict[str, Any]:
    """Fill every flag the user did not type from the scenario file."""
    from planner.io.toml import check_keys, load_toml_file
    from planner.errors import PlannerInputError

    data = load_toml_file(path, "scenario")
    data = data.get("plan", data) if isinstance(data.get("plan"), dict) else data
    check_keys(f"scenario {path}", data, set(_SCENARIO_KEYS) | _SCENARIO_INFO)
    out = dict(flags)
    for key, name in _SCENARIO_KEYS.items():
        if key not in data:
            continue
        if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            continue
        param = next(p for p in ctx.command.params if p.name == name)
        try:
            out[name] = param.type_cast_value(ctx, data[key])
        except click.BadParameter as exc:
            raise PlannerInputError(f"scenario {path}: '{key}': {exc.message}") from None
    return out


# --------------------------------------------------------------------------- hardware


@cli.group()
def hardware() -> None:
    """Browse the accelerator registry."""


@hardware.command("list")
@_hardware_option
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def hardware_list(hardware_files: tuple[str, ...], as_json: bool) -> None:
    """List every accelerator with its headline figures."""
    reg = _registry(hardware_files)
    if as_json:
        click.echo(json.dumps([acc.to_dict() for acc in reg.values()], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Accelerators (dense, per device; links per direction)")
    t.add_column("id", no_wrap=True)
    for col in ("BF16\nTF/s", "FP8\nTF/s", "HBM\nGB", "HBM\nTB/s", "intra\nGB/s", "inter\nGB/s", "per\nnode", "TDP\nW"):
        t.add_column(col, justify="right", no_wrap=True)

    def opt(x: float | None, scale: float, fmt: str = "{:.0f}") -> str:
        return "-" if x is None else fmt.format(x / scale)

    for acc in reg.values():
        t.add_row(
            acc.id,
            opt(acc.bf16_flops_per_s, 1e12, "{:.0f}"),
            opt(acc.fp8_flops_per_s, 1e12, "{:.0f}"),
            opt(acc.hbm_bytes, 1e9),
            opt(acc.hbm_bytes_per_s, 1e12, "{:.2f}"),
            opt(acc.intra_node_link_bytes_per_s, 1e9),
            opt(acc.inter_node_link_bytes_per_s, 1e9, "{:.1f}"),
            str(acc.devices_per_node),
            opt(acc.tdp_w, 1),
        )
    Console().print(t)
    click.echo("Aliases and sources: plan hardware show ID")


@hardware.command("show")
@click.argument("name")
@_hardware_option
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def hardware_show(name: str, hardware_files: tuple[str, ...], as_json: bool) -> None:
    """Show one accelerator (by id or alias) with its sources."""
    acc = _registry(hardware_files).get(name)
    if as_json:
        click.echo(json.dumps(acc.to_dict(), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{acc.id}: {acc.name}", show_header=False)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    for key, value in acc.to_dict().items():
        if value is None or value == [] or value == "":
            continue
        t.add_row(key, f"{value:,.6g}" if isinstance(value, float) else str(value))
    t.add_row("arithmetic_intensity_flop_per_byte", f"{acc.arithmetic_intensity_flop_per_byte:.0f}")
    Console().print(t)


# --------------------------------------------------------------------------- laws


@cli.group()
def laws() -> None:
    """Browse the scaling-law presets."""


@laws.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def laws_list(as_json: bool) -> None:
    """List the presets and your saved laws with their coefficients and sources."""
    from planner.errors import PlannerInputError
    from planner.laws.catalog import DEFAULT_LAW, get_downstream, get_law, presets, saved_laws

    entries: list[dict[str, Any]] = [law.to_dict() for law in presets().values()]
    for name, path in saved_laws().items():
        try:
            entries.append(get_law(name).to_dict())
        except PlannerInputError:
            try:
                m = get_downstream(name)
            except PlannerInputError as exc:
                entries.append({"name": name, "form": "unreadable", "origin": str(path), "source": str(exc)})
                continue
            entries.append({"name": name, "form": "downstream", "k": m.k, "gamma": m.gamma, "epsilon": m.epsilon,
                            "origin": str(path), "source": m.source, "bootstrap_draws": len(m.draws)})
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Scaling laws: L = E + A/N^alpha + B/D^beta  (downstream: Err = epsilon - k exp(-gamma L))")
    for col in ("name", "kind", "coefficients", "draws", "source"):
        t.add_column(col, overflow="fold")
    for e in entries:
        name = e["name"] + (" (default)" if e["name"] == DEFAULT_LAW else "")
        kind = "preset" if e.get("origin", "builtin") == "builtin" else "saved"
        if e["form"] == "downstream":
            coeffs = f"k {e['k']:.4g}, gamma {e['gamma']:.4g}, eps {e['epsilon']:.4g}"
        elif e["form"] == "unreadable":
            coeffs = "-"
        else:
            coeffs = f"E {e['E']:.4g}, A {e['A']:.4g}, B {e['B']:.4g}, alpha {e['alpha']:.4g}, beta {e['beta']:.4g}"
            if e.get("downstream"):
                coeffs += f"; downstream {', '.join(e['downstream'])}"
        t.add_row(name, f"{kind} {e['form']}", coeffs, str(e.get("bootstrap_draws") or "-"), e["source"])
    Console().print(t)


@laws.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def laws_show(name: str, as_json: bool) -> None:
    """Show one law: coefficients, source, and its compute-optimal allocations."""
    from planner.laws.catalog import get_law
    from solvers.closed_form import optimal_allocation
    from solvers.problem import LawCoefficients

    law = get_law(name)
    coeffs = LawCoefficients.of(law)
    budgets = (1e21, 1e22, 1e23, 1e24, 1e25)
    frontier = []
    for c in budgets:
        n, d = optimal_allocation(coeffs, c)
        frontier.append({"train_flops": c, "params": n, "train_tokens": d, "tokens_per_param": d / n, "loss": coeffs.loss(n, d)})
    if as_json:
        click.echo(json.dumps({**law.to_dict(), "compute_optimal": frontier}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from planner.units import fmt_count

    console = Console()
    info = Table(title=f"{law.name} ({law.form} form)", show_header=False)
    info.add_column(style="bold")
    info.add_column(overflow="fold")
    for k, v in law.coefficients.items():
        info.add_row(k, f"{v:.6g}")
    info.add_row("N counts embeddings", "yes" if law.params_include_embeddings else "no")
    if law.fit_params_range:
        info.add_row("fitted on", f"{fmt_count(law.fit_params_range[0])} - {fmt_count(law.fit_params_range[1])} params")
    for suite, m in law.downstream.items():
        info.add_row(f"downstream {suite}", f"Err = {m.epsilon:g} - {m.k:g} exp(-{m.gamma:g} L)")
    info.add_row("source", law.source)
    if law.note:
        info.add_row("note", law.note)
    console.print(info)
    t = Table(title="Compute-optimal allocation, no inference (closed form)")
    for col in ("training FLOPs", "params", "tokens", "tokens/param", "loss"):
        t.add_column(col, justify="right")
    for row in frontier:
        t.add_row(f"{row['train_flops']:.0e}", fmt_count(row["params"]), fmt_count(row["train_tokens"]), f"{row['tokens_per_param']:.1f}", f"{row['loss']:.4f}")
    console.print(t)


# --------------------------------------------------------------------------- fit / predict


@cli.command("fit")
@click.argument("runs", type=click.Path(dir_okay=False))
@click.option("--form", type=click.Choice(["chinchilla", "overtrain", "downstream"]), default="chinchilla", show_default=True,
              help="chinchilla: E + A/N^a + B/D^b; overtrain: the same with a = b; downstream: Err = eps - k exp(-g L).")
@click.option("--params-col", help="Column of parameter counts (default: auto-detect).")
@click.option("--tokens-col", help="Column of training tokens (default: auto-detect).")
@click.option("--loss-col", help="Column of final losses (default: auto-detect).")
@click.option("--error-col", help="Column of task errors, for --form downstream (default: auto-detect).")
@click.option("--where", multiple=True, help="Keep rows where COL=VALUE (also !=, <, <=, >, >=); repeatable.")
@click.option("--objective", type=click.Choice(["huber", "lsq"]), default="huber", show_default=True,
              help="huber: Huber on log residuals (Hoffmann/Epoch); lsq: squared error of L (Gadre et al.).")
@click.option("--delta", type=QUANTITY, default=1e-3, show_default=True, help="Huber threshold on log residuals.")
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=0, show_default=True, help="Refits on resampled runs, for intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap resampling.")
@click.option("--level", type=QUANTITY, default=0.95, show_default=True, help="Coverage of the intervals.")
@click.option("--non-embedding", is_flag=True, help="The params column excludes embedding parameters.")
@click.option("--save", "save_name", help="Save the law under this name (use it with --law / --downstream).")
@click.option("--overwrite", is_flag=True, help="Replace a saved law of the same name.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout.")
def fit_command(runs: str, form: str, params_col: str | None, tokens_col: str | None, loss_col: str | None,
                error_col: str | None, where: tuple[str, ...], objective: str, delta: float, n_bootstrap: int,
                seed: int, level: float, non_embedding: bool, save_name: str | None, overwrite: bool, as_json: bool) -> None:
    """Fit a scaling law (or a downstream-error map) to your own runs (CSV or JSON lines)."""
    from planner.laws.lawfit import fit_runs

    def run(progress: Any) -> Any:
        return fit_runs(runs, form=form, params_col=params_col, tokens_col=tokens_col, loss_col=loss_col,
                        error_col=error_col, where=where, objective=objective, delta=delta, n_bootstrap=n_bootstrap,
                        seed=seed, level=level, params_include_embeddings=not non_embedding, progress=progress)

    if n_bootstrap:
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("bootstrap", total=n_bootstrap)
            outcome = run(lambda i, n: bar.update(task, completed=i))
    else:
        outcome = run(None)
    saved_to = None
    if save_name:
        from planner.laws.catalog import presets
        from planner.io.store import save_law_table

        saved_to = save_law_table(save_name, outcome.law_table(), overwrite=overwrite, reserved=set(presets()))
        click.echo(f"plan: saved law '{save_name}' to {saved_to}", err=True)
    if as_json:
        click.echo(json.dumps({"schema_version": "1.0", **outcome.to_dict(), "saved_to": str(saved_to) if saved_to else None}, indent=2))
        return
    from rich.console import Console

    from planner.report import render_fit

    Console().print(render_fit(outcome))


@cli.command("predict")
@click.option("--law", default=None, help="Law preset, saved law or TOML file (default besiroglu2024).")
@click.option("--downstream", default=None, help="Downstream-error map (saved, PRESET or PRESET:SUITE); default: the law's own.")
@click.option("--params", type=QUANTITY, required=True, help="Parameters N.")
@click.option("--tokens", type=QUANTITY, required=True, help="Training tokens D.")
@click.option("--level", type=QUANTITY, default=0.95, show_default=True, help="Coverage of the intervals.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout.")
def predict_command(law: str | None, downstream: str | None, params: float, tokens: float, level: float, as_json: bool) -> None:
    """Predicted loss (and downstream error) for N parameters trained on D tokens."""
    from planner.laws.prediction import predict

    result = predict(law=law, downstream=downstream, params=params, tokens=tokens, level=level)
    if as_json:
        click.echo(json.dumps({"schema_version": "1.0", **result}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from planner.units import fmt_count

    t = Table(title=f"{result['law']}: N = {fmt_count(params)}, D = {fmt_count(tokens)}")
    t.add_column("quantity")
    t.add_column("prediction", justify="right")
    t.add_column(f"{level:.0%} interval", justify="right")

    def iv(x: Any, fmt: str) -> str:
        return "-" if x is None else f"{fmt.format(x[0])} - {fmt.format(x[1])}"

    t.add_row("loss", f"{result['loss']:.4f}", iv(result["loss_interval"], "{:.4f}"))
    for name, e in result["downstream_error"].items():
        t.add_row(f"error ({name})", f"{e['error']:.1%}", iv(e["interval"], "{:.1%}"))
    Console().print(t)
    if result["loss_interval"] is None:
        click.echo("No interval: the law has no bootstrap draws (fit it with `plan fit --bootstrap N --save NAME`).", err=True)


# --------------------------------------------------------------------------- layout


def _shape_options(f: Any) -> Any:
    opts = [
        click.option("--params", type=QUANTITY, help="Parameter count; the Llama-3 shape rule fills in what you do not give."),
        click.option("--layers", type=click.IntRange(min=1)),
        click.option("--hidden", type=click.IntRange(min=1)),
        click.option("--heads", type=click.IntRange(min=1)),
        click.option("--kv-heads", type=click.IntRange(min=1)),
        click.option("--ffn", type=click.IntRange(min=1), help="MLP width."),
        click.option("--vocab", type=click.IntRange(min=1)),
        click.option("--mlp", type=click.Choice(["swiglu", "gelu"])),
        click.option("--seq", type=click.IntRange(min=1), default=2048, show_default=True, help="Sequence length."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _layout_options(f: Any) -> Any:
    opts = [
        click.option("--tp", type=click.IntRange(min=1), help="Tensor parallel size (fixed; otherwise searched)."),
        click.option("--pp", type=click.IntRange(min=1), help="Pipeline parallel size."),
        click.option("--dp", type=click.IntRange(min=1), help="Data parallel size."),
        click.option("--cp", type=click.IntRange(min=1), help="Context parallel size."),
        click.option("--vp", type=click.IntRange(min=1), help="Interleaved (virtual) pipeline chunks per rank."),
        click.option("--micro-batch", type=click.IntRange(min=1), help="Micro-batch size in sequences."),
        click.option("--recompute", type=click.Choice(["none", "selective", "full"])),
        click.option("--zero", type=click.IntRange(0, 3), help="ZeRO stage (1 = distributed optimizer)."),
        click.option("--sequence-parallel/--no-sequence-parallel", default=None),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


@cli.command("layout")
@click.option("--gpu", default="h100-sxm", show_default=True, help="Accelerator id or alias.")
@click.option("--gpus", type=click.IntRange(min=1), required=True, help="Number of devices.")
@click.option("--global-batch", type=click.IntRange(min=1), help="Global batch in sequences (default: Step Law batch at --tokens).")
@click.option("--tokens", type=QUANTITY, help="Training tokens, for the default batch (default 20 x params).")
@_shape_options
@_layout_options
@click.option("--method", type=click.Choice(["exhaustive", "bayesian"]), default="exhaustive", show_default=True)
@click.option("--trials", type=click.IntRange(min=1), help="Trials for --method bayesian.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--top", "top_k", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--flash-attention/--no-flash-attention", default=True, show_default=True)
@click.option("--memory-reserve", type=QUANTITY, default=DEFAULT_MEMORY_RESERVE_FRACTION, show_default=True, help="Share of HBM kept free (allocator, buffers): a planner default.")
@click.option("--precision", type=click.Choice(["bf16", "fp8", "fp4"]), default="bf16", show_default=True)
@click.option("--export", "export", type=click.Choice(["megatron", "nemo"]), help="Print the best layout as Megatron-LM arguments or NeMo YAML.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout.")
@_hardware_option
def layout_command(gpu: str, gpus: int, global_batch: int | None, tokens: float | None, method: str, trials: int | None,
                   seed: int, top_k: int, flash_attention: bool, memory_reserve: float, precision: str, export: str | None,
                   as_json: bool, hardware_files: tuple[str, ...], **flags: Any) -> None:
    """Evaluate or search parallel layouts: flags you give are held, the rest searched."""
    from planner.systems.layout_request import run_layout

    doc, exported = run_layout(
        gpu=gpu, gpus=gpus, global_batch=global_batch, tokens=tokens, method=method, trials=trials, seed=seed, top_k=top_k,
        flash_attention=flash_attention, memory_reserve=memory_reserve, precision=precision, export=export,
        hardware_files=hardware_files, flags=flags,
    )
    for w in doc["warnings"]:
        click.echo(f"plan: warning: {w}", err=True)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    elif exported is not None:
        click.echo(exported)
    else:
        from rich.console import Console

        from planner.report import render_layouts

        Console().print(render_layouts(doc))


# --------------------------------------------------------------------------- serving sub-questions


@cli.command("qat")
@click.option("--params", type=QUANTITY, required=True, help="Parameters N.")
@click.option("--tokens", type=QUANTITY, required=True, help="Training tokens D.")
@click.option("--bits", type=click.Choice(["16", "8", "6", "4", "3", "2"]), required=True, help="Serving weight bits.")
@click.option("--kv-bits", type=click.Choice(["16", "8", "4"]), default="16", show_default=True)
@click.option("--law", default=None, help="Law for the loss penalty (default besiroglu2024).")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout.")
def qat_command(params: float, tokens: float, bits: str, kv_bits: str, law: str | None, as_json: bool) -> None:
    """The optimal QAT share of training and the loss cost of serving at low precision."""
    from planner.laws.catalog import DEFAULT_LAW, get_law
    from planner.serving.qat import qat_plan

    res = qat_plan(get_law(law or DEFAULT_LAW), params, tokens, int(bits), int(kv_bits))
    if as_json:
        click.echo(json.dumps({"schema_version": "1.0", **res.to_dict()}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    from planner.units import fmt_count

    t = Table(title=f"QAT for {fmt_count(params)} params on {fmt_count(tokens)} tokens at {bits} bits", show_header=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_row("tokens per parameter byte S", f"{res.tokens_per_param_byte:.4g}")
    t.add_row("optimal QAT share f* (Dremov et al. 2025)", f"{res.fraction:.1%}")
    t.add_row("QAT tokens (inside the training budget)", fmt_count(res.qat_tokens))
    t.add_row("effective-parameter factor (Kumar et al. 2024)", f"{res.precision_factor:.4f}")
    t.add_row("loss at 16 bits / served", f"{res.loss_16bit:.4f} / {res.loss:.4f} (+{res.loss_penalty:.4f})")
    t.add_row("weight bytes", f"{res.weight_bytes / 1e9:.2f} GB")
    Console().print(t)


@cli.command("fit-samples")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--group-col", help="Fit one profile per value of this column (e.g. model).")
@click.option("--n-col", default="n", show_default=True, help="Samples per problem.")
@click.option("--c-col", default="c", show_default=True, help="Correct samples per problem.")
@click.option("--k", "ks", type=QUANTITY, multiple=True, help="k to predict pass@k at (repeatable; default 1, 10, 100, 1000, 10000).")
@click.option("--where", multiple=True, help="Keep rows where COL=VALUE (also !=, <, <=, >, >=).")
@click.option("--save", "save_name", help="Save the fitted task profile(s) for --task (NAME, or NAME-<group> per group).")
@click.option("--overwrite", is_flag=True)
@click.option("--json", "as_json", is_flag=True, help="Write a JSON list, one entry per group, to stdout.")
def fit_samples_command(path: str, group_col: str | None, n_col: str, c_col: str, ks: tuple[float, ...], where: tuple[str, ...],
                        save_name: str | None, overwrite: bool, as_json: bool) -> None:
    """Fit scaled-Beta difficulty distributions to per-problem correct-of-n counts; predict pass@k."""
    from planner.serving.sample_fit import fit_sample_file

    entries = fit_sample_file(path, group_col=group_col, n_col=n_col, c_col=c_col, ks=ks, where=where,
                              save_name=save_name, overwrite=overwrite)
    for e in entries:
        for w in e["warnings"]:
            click.echo(f"plan: warning: {e['name']}: {w}", err=True)
        if e.get("saved_to"):
            click.echo(f"plan: saved task profile '{e['saved_as']}' to {e['saved_to']}", err=True)
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    from rich.console import Console

    from planner.report import render_sample_fits

    Console().print(render_sample_fits(entries))


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; turn every expected failure into one stderr line and an exit code."""
    from click.exceptions import Abort, ClickException, Exit, UsageError

    try:
        cli.main(args=argv, prog_name="plan", standalone_mode=False)
    except Exit as exc:  # --help, --version
        return exc.exit_code
    except UsageError as exc:
        _err(exc.format_message())
        return EXIT_USAGE
    except ClickException as exc:
        _err(exc.format_message())
        return exc.exit_code
    except Abort:
        _err("aborted")
        return EXIT_INFEASIBLE
    except Exception as exc:  # planner errors, lazily imported
        from planner.errors import InfeasiblePlanError, PlannerInputError, SolverError

        if isinstance(exc, PlannerInputError):
            _err(str(exc))
            return EXIT_USAGE
        if isinstance(exc, InfeasiblePlanError):
            _err(f"infeasible: {exc.binding}. To relieve it: {exc.relief}.")
            return EXIT_INFEASIBLE
        if isinstance(exc, SolverError):
            _err(f"solver failure: {exc}")
            return EXIT_INFEASIBLE
        if os.environ.get("PLANNER_DEBUG"):
            raise
        _err(f"internal error ({type(exc).__name__}): {exc}; set PLANNER_DEBUG=1 for a traceback")
        return EXIT_INFEASIBLE
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
