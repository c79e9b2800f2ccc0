"""``plan curve fit | predict | decide``: loss curves under any learning-rate schedule."""

from __future__ import annotations

from typing import Any

import click

from planner.cli.options import (
    COUNT,
    QUANTITY,
    SEED,
    echo_json,
    progress_bar,
    report_files,
    save_plot,
    write_report,
)
from planner.defaults import DEFAULT_INTERVAL_LEVEL, LIMITS

__all__ = ["curve"]


@click.group("curve")
def curve() -> None:
    """Loss-curve laws: fit them to training curves, predict any schedule, decide when to decay."""


def _columns(f: Any) -> Any:
    for opt in (
        click.option("--run-col", help="Column naming the run of each row (default: run, run_id, name or curve if present)."),
        click.option("--step-col", default="step", show_default=True, help="Column of steps."),
        click.option("--lr-col", default="lr", show_default=True, help="Column of learning rates."),
        click.option("--loss-col", help="Column of losses (default: auto-detect)."),
        click.option("--where", multiple=True, help="Keep rows where COL=VALUE (also !=, <, <=, >, >=); repeatable."),
    ):
        f = opt(f)
    return f


@curve.command("fit")
@click.argument("runs", type=click.Path(dir_okay=False))
@click.option("--form", type=click.Choice(["annealing", "multi-power"]), default="annealing", show_default=True,
              help="annealing: Tissue et al. 2024; multi-power: Luo et al. 2025.")
@_columns
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0, max=LIMITS["curve_bootstrap"]), default=0, show_default=True,
              help="Refits on resampled curves (or blocks of points), for intervals.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the bootstrap resampling.")
@click.option("--level", type=QUANTITY, default=DEFAULT_INTERVAL_LEVEL, show_default=True, help="Coverage of the intervals.")
@click.option("--no-holdout", is_flag=True, help="Skip the held-back fits (each run left out in turn).")
@click.option("--save", "save_name", help="Save the law under this name (use it with --law, --curve-law).")
@click.option("--overwrite", is_flag=True, help="Replace a saved law of the same name.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Draw the curves and the fit to FILE.png / .svg.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout.")
@report_files
def fit_command(runs: str, form: str, run_col: str | None, step_col: str, lr_col: str, loss_col: str | None,
                where: tuple[str, ...], n_bootstrap: int, seed: int, level: float, no_holdout: bool, save_name: str | None,
                overwrite: bool, plot: str | None, as_json: bool, html: str | None, svg: str | None) -> None:
    """Fit a loss-curve law to training curves (step, lr, loss per row; CSV or JSON lines)."""
    from planner.laws.curvefit import fit_curves, read_curves
    from planner.validate import check_fraction

    check_fraction("level", level)
    reserved = _reserved()
    if save_name is not None:
        from planner.io.store import check_save_name, user_law_dir

        check_save_name(user_law_dir(), "law", save_name, overwrite=overwrite, reserved=reserved)
    curves = read_curves(runs, where=where, run_col=run_col, step_col=step_col, lr_col=lr_col, loss_col=loss_col)
    with progress_bar("bootstrap", quiet=as_json or not n_bootstrap) as progress:
        outcome = fit_curves(curves, form, n_bootstrap=n_bootstrap, seed=seed, level=level, holdout=not no_holdout,
                             data_file=runs, progress=progress)
    if plot:
        from planner.report.curve_plots import fit_curves_figure

        save_plot(fit_curves_figure(curves, outcome.law)[0], plot)
    saved_to = None
    if save_name is not None:
        from planner.io.store import save_law_table

        saved_to = save_law_table(save_name, outcome.law.to_table(), overwrite=overwrite, reserved=reserved)
        click.echo(f"plan: saved curve law '{save_name}' to {saved_to}", err=True)
    if as_json:
        echo_json({"schema_version": "1.0", **outcome.to_dict(), "saved_to": str(saved_to) if saved_to else None})
        return
    from planner.report.curves import render_curve_fit

    write_report(render_curve_fit(outcome), html, svg, title="plan curve fit")


def _reserved() -> set[str]:
    from planner.laws.catalog import presets
    from planner.laws.curve_catalog import curve_presets

    return set(presets()) | set(curve_presets())


def _schedule_lr(spec: str, steps: int | None, peak_lr: float | None, warmup: int | None, law: Any) -> tuple[Any, dict[str, Any]]:
    """The learning rate at every step from a schedule name or a ``step,lr`` CSV, and its description."""
    from planner.errors import PlannerInputError
    from planner.io.text import is_file
    from planner.laws.schedules import lr_from_points, parse_schedule

    if spec.lower().endswith((".csv", ".jsonl")) or is_file(spec):
        from planner.io.runs import read_runs

        table = read_runs(spec)
        for col in ("step", "lr"):
            if col not in table.header:
                raise PlannerInputError(f"{spec}: a schedule file needs columns step and lr (has {', '.join(table.header)})")
        lr = lr_from_points(table.numeric("step"), table.numeric("lr"), until=steps, where=spec)
        if steps is not None:
            lr = lr[:steps]
        return lr, {"kind": "file", "spec": spec, "steps": int(lr.size), "peak_lr": float(lr.max())}
    if steps is None:
        raise PlannerInputError("--steps is required with a named schedule (e.g. --schedule wsd:decay=0.2 --steps 24000)")
    sched = parse_schedule(spec, steps=steps, peak_lr=law.peak_lr if peak_lr is None else peak_lr,
                           warmup=min(law.warmup, steps - 1) if warmup is None else warmup)
    return sched.lr(), sched.to_dict()


@curve.command("predict")
@click.option("--law", "law_name", required=True, help="Curve-law preset (mpl-25m, mpl-100m), saved law or TOML file.")
@click.option("--schedule", required=True, help="constant, cosine[:final=F], wsd[:decay=S,shape=linear|1-sqrt|cosine|exp,final=F], "
              "step:at=A/B,factor=F/G, or a step,lr CSV file.")
@click.option("--steps", type=COUNT, help="Total steps, warmup included (a CSV schedule: default its last step).")
@click.option("--peak-lr", type=QUANTITY, help="Peak learning rate (default: the law's own, the rate it was fitted at).")
@click.option("--warmup", type=click.IntRange(min=0), help="Warmup steps (default: the law's own).")
@click.option("--observed", type=click.Path(dir_okay=False), help="A curve file to draw and compare beside the prediction.")
@click.option("--run", "run_name", help="The run of --observed to compare (default: its only or first run).")
@click.option("--every", type=COUNT, help="Report every K-th step after the warmup (default: the table 20 rows, the JSON every step).")
@click.option("--level", type=QUANTITY, default=DEFAULT_INTERVAL_LEVEL, show_default=True, help="Coverage of the interval.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Draw the predicted curve (and the observed one) to FILE.png / .svg.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout.")
@report_files
def predict_command(law_name: str, schedule: str, steps: int | None, peak_lr: float | None, warmup: int | None,
                    observed: str | None, run_name: str | None, every: int | None, level: float, plot: str | None,
                    as_json: bool, html: str | None, svg: str | None) -> None:
    """The loss at every step of a schedule, predicted by a curve law."""
    import numpy as np

    from planner.laws.curve_catalog import get_curve_law
    from planner.validate import check_fraction

    check_fraction("level", level)
    law = get_curve_law(law_name)
    lr, described = _schedule_lr(schedule, steps, peak_lr, warmup, law)
    obs = _observed_curves(observed, run_name)[0] if observed else None
    stride = every or 1
    at = np.unique(np.concatenate([np.arange(stride, lr.size + 1, stride), [lr.size]])).astype(int)
    from planner.laws.schedules import warmup_end

    start = max(warmup_end(lr), 1)  # the laws describe the loss after the warmup
    at = at[at >= start] if np.any(at >= start) else np.array([lr.size])
    loss = law.loss(lr, at)
    draws = law.loss_draws(lr, [lr.size])
    interval = None
    if draws.size:
        from planner.laws.fitting import percentile_interval

        interval = list(percentile_interval(draws[:, 0], level))
    warnings = _peak_warnings(law, lr)
    doc: dict[str, Any] = {"schema_version": "1.0", "law": law.to_dict(), "schedule": described, "step": at.tolist(),
                           "lr": lr[at - 1].tolist(), "loss": loss.tolist(), "final_loss": float(loss[-1]),
                           "final_loss_interval": interval, "level": level, "warnings": warnings}
    if obs is not None:
        from planner.laws.curvefit import curve_errors

        doc["observed"] = curve_errors(law, obs, lr)
    if plot:
        from planner.report.curve_plots import predict_figure

        save_plot(predict_figure(lr, law, obs, title=f"{law.name}: {described['spec']}")[0], plot)
    if as_json:
        echo_json(doc)
        return
    from planner.report.curves import render_curve_prediction

    write_report(render_curve_prediction(doc, rows=None if every else 20), html, svg, title="plan curve predict")


def _peak_warnings(law: Any, lr: Any) -> list[str]:
    """A warning (also on stderr) when the schedule's peak is far from the rate the law was fitted at."""
    ratio = float(lr.max()) / law.peak_lr
    if 0.5 <= ratio <= 2.0:  # a planner threshold: no published bound on how far a curve law carries
        return []
    w = (f"peak learning rate {lr.max():.3g} is {ratio:.3g}x the rate {law.name} was fitted at ({law.peak_lr:g}): "
         "a curve law is fitted at its runs' peak rate, so this prediction is an extrapolation")
    click.echo(f"plan: warning: {w}", err=True)
    return [w]


def _observed_curves(path: str, *names: str | None) -> list[Any]:
    """The runs of a curve file by name (None: its first run), the file read once."""
    from planner.errors import PlannerInputError
    from planner.laws.curvefit import read_curves

    curves = read_curves(path)
    by_name = {c.run: c for c in curves}
    missing = [n for n in names if n is not None and n not in by_name]
    if missing:
        raise PlannerInputError(f"{path}: no run '{missing[0]}' (runs: {', '.join(c.run for c in curves[:10])})")
    return [curves[0] if n is None else by_name[n] for n in names]


@curve.command("decide")
@click.option("--law", "law_name", required=True, help="Curve-law preset, saved law or TOML file (fitted on a similar run).")
@click.option("--runs", required=True, type=click.Path(dir_okay=False), help="The run so far: step, lr, loss rows (CSV or JSON lines).")
@click.option("--run", "run_name", help="Which run of the file (default: its only or first run).")
@click.option("--total-steps", type=COUNT, required=True, help="The run's step budget, warmup included.")
@click.option("--at", "at_step", type=COUNT, help="Decide as if at this step (default: the last logged step).")
@click.option("--shape", type=click.Choice(["1-sqrt", "linear", "cosine", "exp"]), default="1-sqrt", show_default=True,
              help="Decay shape (1-sqrt: Hägele et al. 2024's best).")
@click.option("--final", "final_fraction", type=QUANTITY, default=0.0, show_default=True, help="Last rate as a fraction of the current one.")
@click.option("--no-anchor", is_flag=True, help="Do not shift the law to this run's recent losses.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Draw the curve so far and the options to FILE.png / .svg.")
@click.option("--compare", multiple=True, help="Also draw this run of the same file (e.g. one that decayed from it); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout.")
@report_files
def decide_command(law_name: str, runs: str, run_name: str | None, total_steps: int, at_step: int | None, shape: str,
                   final_fraction: float, no_anchor: bool, plot: str | None, compare: tuple[str, ...], as_json: bool,
                   html: str | None, svg: str | None) -> None:
    """When to decay a run in progress, for how long, and what continuing is worth."""
    from planner.errors import PlannerInputError
    from planner.laws.curve_catalog import get_curve_law
    from planner.laws.decay import decay_decision

    law = get_curve_law(law_name)
    run, *branches = _observed_curves(runs, run_name, *compare)
    now = int(run.steps[-1]) if at_step is None else at_step
    if now > run.lr.size:
        raise PlannerInputError(f"--at {now:,} lies beyond the run's last logged step {run.lr.size:,}")
    keep = run.steps <= now
    observed = None if no_anchor else (run.steps[keep], run.loss[keep])
    warnings = _peak_warnings(law, run.lr[:now])
    d = decay_decision(law, run.lr[:now], total_steps, shape=shape, final=final_fraction, observed=observed)
    if plot:
        from planner.report.curve_plots import decision_figure

        save_plot(decision_figure(law, run, d, branches)[0], plot)
    if as_json:
        echo_json({"schema_version": "1.0", "run": run.run, **d.to_dict(), "warnings": warnings})
        return
    from planner.report.curves import render_decay_decision

    write_report(render_decay_decision(d, run.run), html, svg, title="plan curve decide")
