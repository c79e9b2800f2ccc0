"""``plan qat`` and ``plan fit-samples``: the serving sub-questions."""

from __future__ import annotations

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
from planner.defaults import LIMITS

__all__ = ["fit_samples_command", "qat_command"]


@click.command("qat")
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
        echo_json({"schema_version": "1.0", **res.to_dict()})
        return
    from rich.console import Console

    from planner.report.tables import render_qat

    Console().print(render_qat(res, params, tokens, int(bits)))


@click.command("fit-samples")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--group-col", help="Fit one profile per value of this column (e.g. model).")
@click.option("--n-col", default="n", show_default=True, help="Samples per problem.")
@click.option("--c-col", default="c", show_default=True, help="Correct samples per problem.")
@click.option("--k", "ks", type=QUANTITY, multiple=True, help="k to predict pass@k at (repeatable; default 1, 10, 100, 1000, 10000).")
@click.option("--where", multiple=True, help="Keep rows where COL=VALUE (also !=, <, <=, >, >=).")
@click.option("--sizes", "sizes_path", type=click.Path(dir_okay=False), help="CSV naming each group's loss, or its params and tokens: fit one task law across the sizes.")
@click.option("--law", default=None, help="Scaling law that turns --sizes params and tokens into losses (default besiroglu2024).")
@click.option("--bootstrap", "draws", type=click.IntRange(min=0, max=LIMITS["bootstrap"]), default=100, show_default=True, help="Bootstrap draws over problems (the task law's band with --sizes; the tail's band without).")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--save", "save_name", help="Save the task law for --task (needs --sizes).")
@click.option("--overwrite", is_flag=True)
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Draw pass@k vs k, observed and fitted, per group (with --sizes: the task law per size).")
@report_files
def fit_samples_command(path: str, group_col: str | None, n_col: str, c_col: str, ks: tuple[float, ...], where: tuple[str, ...],
                        sizes_path: str | None, law: str | None, draws: int, seed: int,
                        save_name: str | None, overwrite: bool, as_json: bool, plot: str | None, html: str | None,
                        svg: str | None) -> None:
    """Predict pass@k from per-problem correct-of-n counts: per group (observed, then the power
    law beyond the samples with its band), or (--sizes) one task law whose mean and tail move
    with the model's loss."""
    from planner.errors import PlannerInputError

    if sizes_path:
        if not group_col:
            raise PlannerInputError("--sizes needs --group-col: the column naming each model")
        from planner.laws.catalog import DEFAULT_LAW
        from planner.serving.task_fit import fit_task_file

        report = fit_task_file(path, group_col=group_col, sizes_path=sizes_path, law=law or DEFAULT_LAW, n_col=n_col, c_col=c_col,
                               ks=ks, where=where, draws=draws, seed=seed, save_name=save_name, overwrite=overwrite)
        if report.get("saved_to"):
            click.echo(f"plan: saved task law '{save_name}' to {report['saved_to']}", err=True)
        if plot:
            from planner.report.plots import task_law_figure

            save_plot(task_law_figure(report)[0], plot)
        if as_json:
            echo_json(report)
            return
        from planner.report.tables import render_task_law

        write_report(render_task_law(report), html, svg, title="plan fit-samples")
        return
    if save_name is not None:
        raise PlannerInputError("--save needs --sizes: a plan uses a task law across model sizes, not one model's fit")
    from planner.serving.sample_fit import fit_sample_file

    with progress_bar("difficulty fits", quiet=as_json) as progress:
        entries = fit_sample_file(path, group_col=group_col, n_col=n_col, c_col=c_col, ks=ks, where=where, draws=draws,
                                  seed=seed, progress=progress)
    for e in entries:
        for w in e["warnings"]:
            click.echo(f"plan: warning: {e['name']}: {w}", err=True)
    if plot:
        from planner.report.plots import samples_figure

        save_plot(samples_figure(entries)[0], plot)
    if as_json:
        echo_json(entries)
        return
    from planner.report import render_sample_fits

    write_report(render_sample_fits(entries), html, svg, title="plan fit-samples")

