"""``plan validate``: the step-time model beside every measured run the project ships."""

from __future__ import annotations

import click

from planner.cli.options import echo_json

__all__ = ["validate_command"]


@click.command("validate")
@click.option("--rows", "show_rows", is_flag=True, help="Also list every out-of-sample run.")
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout (every row and the summary).")
def validate_command(show_rows: bool, as_json: bool) -> None:
    """Predicted vs measured training throughput, per source, in and out of sample, beside a
    constant-utilisation baseline (planner/systems/validation.py says how each is made)."""
    from planner._codec import to_data
    from planner.systems.validation import summarise, validate

    rows = validate()
    summary = summarise(rows)
    if as_json:
        echo_json({"summary": to_data(summary),
                   "rows": [{**to_data(r), "error": r.error, "baseline_error": r.baseline_error} for r in rows]})
        return
    from rich.console import Console

    from planner.report.tables import render_validation

    Console().print(render_validation(summary, rows if show_rows else ()))
