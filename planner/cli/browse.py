"""``plan hardware ...`` and ``plan laws ...``: browse the registries."""

from __future__ import annotations

import click

from planner.cli.options import echo_json, hardware_option, registry

__all__ = ["hardware", "laws"]


@click.group()
def hardware() -> None:
    """Browse the accelerator registry."""


@hardware.command("list")
@hardware_option
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def hardware_list(hardware_files: tuple[str, ...], as_json: bool) -> None:
    """List every accelerator with its headline figures."""
    reg = registry(hardware_files)
    if as_json:
        echo_json([acc.to_dict() for acc in reg.values()])
        return
    from rich.console import Console

    from planner.report.tables import render_hardware_list

    Console().print(render_hardware_list(reg.values()))
    click.echo("Aliases and sources: plan hardware show ID")


@hardware.command("show")
@click.argument("name")
@hardware_option
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def hardware_show(name: str, hardware_files: tuple[str, ...], as_json: bool) -> None:
    """Show one accelerator (by id or alias) with its sources."""
    acc = registry(hardware_files).get(name)
    if as_json:
        echo_json(acc.to_dict())
        return
    from rich.console import Console

    from planner.report.tables import render_hardware

    Console().print(render_hardware(acc))


# --------------------------------------------------------------------------- laws


@click.group()
def laws() -> None:
    """Browse the scaling-law presets."""


@laws.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def laws_list(as_json: bool) -> None:
    """List the presets and your saved laws with their coefficients and sources."""
    from planner.laws.catalog import DEFAULT_LAW, law_entries

    entries = law_entries()
    for e in entries:
        if e["form"] == "unreadable":
            click.echo(f"plan: warning: skipped the saved law '{e['name']}' ({e['origin']}): it does not load", err=True)
    if as_json:
        echo_json(entries)
        return
    from rich.console import Console

    from planner.report.tables import render_laws

    Console().print(render_laws(entries, DEFAULT_LAW))


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
        echo_json({**law.to_dict(), "compute_optimal": frontier})
        return
    from rich.console import Console

    from planner.report.tables import render_law

    Console().print(render_law(law, frontier))

