"""``plan fit`` and ``plan predict``: scaling laws from your own runs."""

from __future__ import annotations

from typing import Any

import click

from planner.cli.options import (
    QUANTITY,
    SEED,
    echo_json,
    progress_bar,
    report_files,
    save_plot,
    write_report,
)
from planner.defaults import DEFAULT_HUBER_DELTA, DEFAULT_INTERVAL_LEVEL, LIMITS

__all__ = ["fit_command", "predict_command"]


@click.command("fit")
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
@click.option("--delta", type=QUANTITY, default=DEFAULT_HUBER_DELTA, show_default=True, help="Huber threshold on log residuals.")
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0, max=LIMITS["bootstrap"]), default=0, show_default=True, help="Refits on resampled runs, for intervals.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the bootstrap resampling.")
@click.option("--level", type=QUANTITY, default=DEFAULT_INTERVAL_LEVEL, show_default=True, help="Coverage of the intervals.")
@click.option("--non-embedding", is_flag=True, help="The params column excludes embedding parameters.")
@click.option("--save", "save_name", help="Save the law under this name (use it with --law / --downstream).")
@click.option("--overwrite", is_flag=True, help="Replace a saved law of the same name.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Draw the runs, the fit, its band and outliers to FILE.png / .svg.")
@report_files
def fit_command(runs: str, form: str, params_col: str | None, tokens_col: str | None, loss_col: str | None,
                error_col: str | None, where: tuple[str, ...], objective: str, delta: float, n_bootstrap: int,
                seed: int, level: float, non_embedding: bool, save_name: str | None, overwrite: bool, as_json: bool,
                plot: str | None, html: str | None, svg: str | None) -> None:
    """Fit a scaling law (or a downstream-error map) to your own runs (CSV or JSON lines)."""
    from planner.laws.lawfit import fit_runs

    if save_name is not None:
        from planner.io.store import check_save_name, user_law_dir
        from planner.laws.catalog import presets

        check_save_name(user_law_dir(), "law", save_name, overwrite=overwrite, reserved=set(presets()))

    def run(progress: Any) -> Any:
        return fit_runs(runs, form=form, params_col=params_col, tokens_col=tokens_col, loss_col=loss_col,
                        error_col=error_col, where=where, objective=objective, delta=delta, n_bootstrap=n_bootstrap,
                        seed=seed, level=level, params_include_embeddings=not non_embedding, progress=progress)

    with progress_bar("bootstrap", quiet=as_json or not n_bootstrap) as progress:
        outcome = run(progress)
    if plot:
        from planner.report.plots import fit_figure

        save_plot(fit_figure(outcome)[0], plot)
    saved_to = None
    if save_name is not None:
        from planner.io.store import save_law_table
        from planner.laws.catalog import presets

        saved_to = save_law_table(save_name, outcome.law_table(), overwrite=overwrite, reserved=set(presets()))
        click.echo(f"plan: saved law '{save_name}' to {saved_to}", err=True)
    if as_json:
        echo_json({"schema_version": "1.0", **outcome.to_dict(), "saved_to": str(saved_to) if saved_to else None})
        return
    from planner.report import render_fit

    write_report(render_fit(outcome), html, svg, title="plan fit")


@click.command("predict")
@click.option("--law", default=None, help="Law preset, saved law or TOML file (default besiroglu2024).")
@click.option("--downstream", default=None, help="Downstream-error map (saved, PRESET or PRESET:SUITE); default: the law's own.")
@click.option("--params", type=QUANTITY, required=True, help="Parameters N.")
@click.option("--tokens", type=QUANTITY, required=True, help="Training tokens D.")
@click.option("--level", type=QUANTITY, default=DEFAULT_INTERVAL_LEVEL, show_default=True, help="Coverage of the intervals.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout.")
def predict_command(law: str | None, downstream: str | None, params: float, tokens: float, level: float, as_json: bool) -> None:
    """Predicted loss (and downstream error) for N parameters trained on D tokens."""
    from planner.laws.prediction import predict

    result = predict(law=law, downstream=downstream, params=params, tokens=tokens, level=level)
    if as_json:
        echo_json({"schema_version": "1.0", **result})
        return
    from rich.console import Console

    from planner.report.tables import render_prediction

    Console().print(render_prediction(result, params, tokens, level))
    if result["loss_interval"] is None:
        click.echo("No interval: the law has no bootstrap draws (fit it with `plan fit --bootstrap N --save NAME`).", err=True)

