"""``plan sweep`` and ``plan compare``: what-if budgeting on top of the one ``plan``.

Both take the root command's own flags after their name and parse every point with the root
command's option parser (``plan_args``), so a point is exactly the plan of the same flags.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from planner.cli.options import (
    COUNT,
    echo_json,
    progress_bar,
    report_files,
    save_plot,
    write_report,
    wrote,
)
from planner.cli.plan_args import apply_scenario, plan_kwargs
from planner.defaults import LIMITS
from planner.errors import PlannerInputError

__all__ = ["compare_command", "sweep_command"]

_EXTRA = {"ignore_unknown_options": True, "allow_extra_args": True}
#: Root flags that make no sense inside a sweep or comparison (they have their own outputs).
_REFUSED = {"--json", "--export", "-o", "--output", "--version", "--help", "-h", "--html", "--svg", "--plot"}


def _split(root: click.Command, args: Sequence[str]) -> list[tuple[str, str | None]]:
    """The plan flags in ``args`` as (option, value or None for a switch), unknown ones refused."""
    opts = {o: p for p in root.params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)}
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a in _REFUSED:
            raise PlannerInputError(f"{a} is not a flag a sweep or comparison passes to its plans (its own outputs: "
                                    "--json, --csv, --plot, --html, --svg)")
        if a not in opts:
            raise PlannerInputError(f"no such plan flag: {a}" + (" (values follow their flag)" if not a.startswith("-") else ""))
        p = opts[a]
        if p.is_flag or a in p.secondary_opts:
            out.append((a, None))
            i += 1
        elif i + 1 >= len(args):
            raise PlannerInputError(f"{a} needs a value")
        else:
            out.append((a, args[i + 1]))
            i += 2
    return out


def _flags(root: click.Command, args: Sequence[str]) -> list[str]:
    """``args`` checked as plan flags (:func:`_split`), as a flat list again."""
    return [x for opt, v in _split(root, args) for x in ((opt,) if v is None else (opt, v))]


def _point_kwargs(root: click.Group, args: Sequence[str]) -> dict[str, Any]:
    """The plan of these flags, parsed exactly as ``plan`` parses them."""
    try:
        ctx = root.make_context("plan", list(args))
    except click.UsageError as exc:
        raise PlannerInputError(exc.format_message()) from None
    flags = dict(ctx.params)
    scenario, hardware_files = flags.pop("scenario"), flags.pop("hardware_files")
    for unused in ("as_json", "export", "output", "plot", "html", "svg"):
        flags.pop(unused)
    if scenario:
        flags = apply_scenario(ctx, scenario, flags)
    return plan_kwargs(flags, hardware_files)


@click.command("sweep", context_settings=_EXTRA)
@click.option("--json", "as_json", is_flag=True, help="One JSON document: the sweep and every point's plan.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write one row per point to this CSV file.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Draw the sweep to FILE.png / .svg / .pdf.")
@report_files
@click.option("--workers", type=COUNT, default=1, show_default=True, help="Local worker processes.")
@click.option("--storage", help="Optuna storage: a journal file (resumable on one machine) or a database URL "
                                "(postgresql://..., shared by workers on many machines).")
@click.option("--study", help="Study name in --storage (default: one derived from the sweep's flags).")
@click.pass_context
def sweep_command(ctx: click.Context, as_json: bool, csv_path: str | None, plot: str | None, html: str | None,
                  svg: str | None, workers: int, storage: str | None, study: str | None) -> None:
    """Plan every combination of plan-flag values: --budget 1e21:1e25:9 (log-spaced), --infer-tokens 0,1e12,1e13,
    --gpu h100,mi250x ... Other plan flags hold for every point.

    \b
    Examples:
      plan sweep --budget 1e21:1e25:9 --infer-tokens 0,1e12 --plot sweep.png
      plan sweep --budget 1e22,1e23 --gpu h100,mi250x --json
      plan sweep --budget 1e21:1e25:40 --storage sweep.journal --workers 4   # resumable
    """
    from planner.whatif.sweep import (
        SweepPoint,
        expand_axis,
        grid,
        regime_changes,
        row_of,
        run_points,
    )

    if workers > LIMITS["workers"]:
        raise PlannerInputError(f"--workers {workers} is above the planner's limit of {LIMITS['workers']}")
    root = ctx.find_root().command
    pairs = _split(root, ctx.args)
    axes, fixed = [], []
    for opt, value in pairs:
        values = [None] if value is None else expand_axis(opt, value)
        if len(values) > 1:
            if any(opt == a for a, _ in axes):
                raise PlannerInputError(f"{opt} is swept twice")
            axes.append((opt, values))
        else:
            fixed += [opt] if value is None else [opt, values[0]]
    if not axes:
        raise PlannerInputError("nothing to sweep: give a flag several values (1e21,1e22 or 1e21:1e25:5)")
    labels = grid(axes)
    points = [SweepPoint(i, label, _kwargs_for(root, fixed, label)) for i, label in enumerate(labels)]
    with progress_bar("plans", quiet=as_json) as progress:
        if storage:
            results = _on_storage(points, storage, study or "sweep-" + _digest(fixed, axes), workers, progress)
        else:
            results = run_points(points, workers=workers, progress=progress)
    rows = [row_of(r) for r in results]
    names = [a for a, _ in axes]
    changes = regime_changes(rows, names)
    if csv_path:
        _write_csv(csv_path, rows)
    if plot:
        _plot_sweep(plot, rows, names, results)
    if as_json:
        echo_json({"schema_version": "1.0", "axes": {a: v for a, v in axes}, "fixed": fixed, "storage": storage,
                   "points": [r.to_dict() | {"regime_changes": c} for r, c in zip(results, changes, strict=True)]})
        return
    from planner.report.whatif import render_sweep

    write_report(render_sweep(rows, changes, names), html, svg, title="plan sweep")


def _kwargs_for(root: click.Group, fixed: Sequence[str], label: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The plan of one sweep point: the fixed flags, then the point's swept values."""
    return _point_kwargs(root, [*fixed, *(x for pair in label for x in pair)])


def _digest(fixed: Sequence[str], axes: Sequence[tuple[str, list[str]]]) -> str:
    import hashlib

    return hashlib.sha256(repr((list(fixed), axes)).encode()).hexdigest()[:12]


def _on_storage(points: Sequence[Any], storage: str, name: str, workers: int, progress: Any) -> list[Any]:
    """``workers`` processes work on the storage together (this one among them)."""
    from planner.whatif.store import run_on_storage

    if workers <= 1:
        return run_on_storage(points, storage_url=storage, study_name=name, progress=progress)
    import concurrent.futures as cf
    import multiprocessing

    with cf.ProcessPoolExecutor(max_workers=workers - 1, mp_context=multiprocessing.get_context("spawn")) as pool:
        others = [pool.submit(run_on_storage, points, storage_url=storage, study_name=name) for _ in range(workers - 1)]
        mine = run_on_storage(points, storage_url=storage, study_name=name, progress=progress)
        for f in others:
            f.result()
    return mine


def _write_csv(path: str, rows: Sequence[dict[str, Any]]) -> None:
    import csv
    import io

    from planner.io.store import write_text

    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    wrote(write_text(path, buf.getvalue()))


def _plot_sweep(path: str, rows: Sequence[dict[str, Any]], axes: Sequence[str], results: Sequence[Any]) -> None:
    from planner.report.plots import sweep_figure

    doc = next((r.doc for r in results if r.doc is not None), None)
    law = doc["resolved"]["law"] if doc else "-"
    source = (doc.get("law") or {}).get("source", "") if doc else ""
    save_plot(sweep_figure(rows, axes, law=law, source=source)[0], path)


def _scenarios_and_flags(root: click.Command, args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Scenarios (files, or quoted flag sets: one argument with spaces) apart from the plan
    flags given for all of them (single tokens starting with '-', and their values)."""
    takes_value = {o for p in root.params if isinstance(p, click.Option) and not p.is_flag for o in p.opts}
    scenarios, flags, i = [], [], 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and not any(c.isspace() for c in a):
            flags.append(a)
            if a in takes_value and i + 1 < len(args):
                flags.append(args[i + 1])
                i += 1
        else:
            scenarios.append(a)
        i += 1
    return scenarios, flags


@click.command("compare", context_settings=_EXTRA)
@click.argument("scenarios", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON document: the plans, the deltas and the differences.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Draw the scenarios side by side to FILE.png / .svg.")
@report_files
@click.pass_context
def compare_command(ctx: click.Context, scenarios: tuple[str, ...], as_json: bool, plot: str | None, html: str | None,
                    svg: str | None) -> None:
    """Plans side by side: scenario files (budgets/*.toml) or quoted flag sets ("--budget 1e23 --gpu mi250x").
    Plan flags after the scenarios hold for all of them.

    \b
    Examples:
      plan compare budgets/h100-1e23.toml budgets/mi250x-1e23.toml
      plan compare "--budget 1e23" "--budget 1e23 --infer-tokens 1e13" --plot compare.png
    """
    from planner.whatif.compare import compare_rows, differences
    from planner.whatif.sweep import SweepPoint, row_of, run_points

    root = ctx.find_root().command
    scenarios, rest = _scenarios_and_flags(root, [*scenarios, *ctx.args])
    common = _flags(root, rest)
    if len(scenarios) < 2:
        raise PlannerInputError("compare needs at least two scenarios (files or quoted flag sets)")
    points, names = [], []
    for i, s in enumerate(scenarios):
        is_file = not s.lstrip().startswith("-")
        try:
            flags = ["--scenario", s] if is_file else shlex.split(s)
        except ValueError as exc:  # an unmatched quote in a flag set
            raise PlannerInputError(f"scenario {s!r}: {exc}") from None
        names.append(Path(s).stem if is_file else s)
        points.append(SweepPoint(i, (("scenario", names[-1]),), _point_kwargs(root, [*_flags(root, flags), *common])))
    results = run_points(points)
    rows = [row_of(r) for r in results]
    table, sentences = compare_rows(rows), differences(names, rows)
    if plot:
        from planner.report.plots import compare_figure

        law = next((r.doc["resolved"]["law"] for r in results if r.doc is not None), "-")
        save_plot(compare_figure(names, rows, law=law)[0], plot)
    if as_json:
        echo_json({"schema_version": "1.0", "scenarios": names, "comparison": table, "differences": sentences,
                   "plans": [r.to_dict() for r in results]})
        return
    from planner.report.whatif import render_compare

    write_report(render_compare(names, table, sentences), html, svg, title="plan compare")
