"""Shared pieces of the command line: number parsing with suffixes, the hardware-file option,
one-line errors. Only click, the standard library and the export format names (no numpy) load
here, so ``plan --help`` is instant."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from planner.systems import exports as _exports
from planner.validate import MAX_COUNT

__all__ = ["COUNT", "EXIT_INFEASIBLE", "EXIT_INTERNAL", "EXIT_OK", "EXIT_USAGE", "EXPORT_CHOICES", "QUANTITY", "SEED", "Quantity",
           "echo_json", "emit_export", "hardware_option", "progress_bar", "registry", "report_files", "save_plot", "write_report", "wrote"]

#: ``--export`` choices: the formats and their aliases (a light import: no numpy).
EXPORT_CHOICES = (*_exports.FORMATS, *_exports.ALIASES)

#: Exit codes: 0 ok, 1 infeasible (or a solver that could not certify a feasible problem),
#: 2 usage error, 3 internal error (a bug in the planner: nothing is said about feasibility).
EXIT_OK, EXIT_INFEASIBLE, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


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
#: Every count a user gives (sizes, tokens per query, batches): a positive 32-bit integer, the
#: library's own bound (``planner.validate.MAX_COUNT``; tighter limits are in LIMITS).
COUNT = click.IntRange(min=1, max=MAX_COUNT)
#: Seeds of the samplers (numpy and optuna take any 32-bit unsigned seed).
SEED = click.IntRange(min=0, max=2**32 - 1)


def hardware_option(f: Any) -> Any:
    return click.option(
        "--hardware-file",
        "hardware_files",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="TOML file adding or overriding accelerators (repeatable). "
        "~/.config/compute-planner/hardware.toml is read too.",
    )(f)


def registry(hardware_files: tuple[str, ...]) -> Any:
    from planner.hardware.registry import load_registry

    return load_registry(hardware_files)


def echo_json(doc: Any) -> None:
    """One valid JSON document on stdout: records become data, and a non-finite number (a
    value with no estimate) becomes null, since JSON has no NaN or Infinity."""
    from planner._codec import to_data

    click.echo(json.dumps(to_data(doc), indent=2, allow_nan=False))


def emit_export(config: Any, output: str | None, as_json: bool) -> None:
    """Print a launcher export (text, or one JSON document under ``--json``), or write it to
    ``output`` and say where."""
    if output:
        from planner.io.store import write_text

        text = json.dumps(config.to_dict(), indent=2) + "\n" if as_json else config.to_text() + "\n"
        path = write_text(output, text)
        if as_json:
            echo_json({"written": str(path), "format": config.format})
        else:
            click.echo(f"wrote {config.framework} config to {path}")
    elif as_json:
        echo_json({"export": config.to_dict()})
    else:
        click.echo(config.to_text())


@contextlib.contextmanager
def progress_bar(label: str, *, quiet: bool = False) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr for work that takes more than a second, as a
    ``(done, total)`` callback; None (no bar) under --json or when output is not a terminal."""
    if quiet or not (sys.stdout.isatty() and sys.stderr.isatty()):
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def wrote(path: Any) -> None:
    """Say on stderr where a file went (stdout stays the report or the JSON document)."""
    click.echo(f"plan: wrote {path}", err=True)


def save_plot(fig: Any, path: str) -> None:
    """Write a matplotlib figure (``--plot FILE``) in one step and say where."""
    from planner.report.plots import save_figure

    wrote(save_figure(fig, path))


def report_files(f: Any) -> Any:
    """``--html FILE`` / ``--svg FILE``: also save the printed report (rich's recording console)."""
    f = click.option("--svg", type=click.Path(dir_okay=False), help="Also save the printed report as SVG.")(f)
    return click.option("--html", type=click.Path(dir_okay=False), help="Also save the printed report as HTML.")(f)


def write_report(renderable: Any, html: str | None = None, svg: str | None = None, *, title: str = "plan") -> None:
    """Print a rich report; with ``--html``/``--svg`` also save what was printed (recorded)."""
    from rich.console import Console

    console = Console(record=bool(html or svg))
    console.print(renderable)
    from planner.io.store import write_text

    if html:
        wrote(write_text(html, console.export_html(clear=False)))
    if svg:
        wrote(write_text(svg, console.export_svg(title=title, clear=False)))
