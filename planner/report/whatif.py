"""Rich tables of sweeps and comparisons (text from files is escaped: see ``_safe``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from planner.report._safe import Table, plain
from planner.units import fmt_count
from planner.whatif.compare import LOSS_MATTERS, MATTERS

__all__ = ["render_compare", "render_sweep"]


def _n(v: Any) -> str:
    """Numbers as the plan report writes them (7.34B, 612K); anything else as text."""
    return fmt_count(v) if isinstance(v, float) else "-" if v is None else str(v)


def _label(text: str) -> str:
    """A swept value as typed, with 1e+21 shown as 1e21 (a narrower column, the same number)."""
    return text.replace("e+", "e")


def render_sweep(rows: Sequence[Mapping[str, Any]], changes: Sequence[Sequence[str]], axes: Sequence[str]) -> Any:
    """One line per point: the swept values, the decisions and costs, and a mark where the
    regime changes (a new bit width, k, layout, cluster, binding constraint)."""
    from rich.console import Group
    from rich.text import Text

    t = Table(title=f"plan sweep over {', '.join(axes)} · {len(rows)} points", title_justify="left")
    for name in axes:
        t.add_column(plain(name.lstrip("-")))
    for col in ("N", "D", "loss", "infer", "bits", "k", "GPUs", "layout", "days", "GPU-h", ""):
        t.add_column(col, justify="right" if col not in ("layout", "") else "left")
    notes = []
    for row, change in zip(rows, changes, strict=True):
        swept = [_label(str(row[a])) for a in axes]
        mark = "◆" if change else ""
        if change:
            notes.append(f"◆ point {row['index']}: " + "; ".join(change))
        if row["status"] != "optimal":
            t.add_row(*swept, *(["-"] * 10), Text(f"{mark} infeasible: {row.get('binding', '')}"[:60], style="red"))
            continue
        t.add_row(*swept, _n(row["params"]), _n(row["train_tokens"]), f"{row['loss']:.4f}", f"{row['inference_share']:.0%}",
                  _n(row["bits"]), _n(row["samples"]), _n(row["gpus"]), str(row["layout"]), _n(row["days"]),
                  _n(row["gpu_hours"]), Text(mark, style="bold yellow"))
    return Group(t, *(Text(n, style="yellow") for n in notes)) if notes else t


def render_compare(names: Sequence[str], table: Sequence[Mapping[str, Any]], sentences: Sequence[str]) -> Any:
    """The scenarios side by side, deltas against the first, then what differs."""
    from rich.console import Group
    from rich.text import Text

    t = Table(title=f"plan compare · deltas against {str(names[0])}", title_justify="left")
    t.add_column("")
    for n in names:
        t.add_column(plain(n), justify="right")
    for entry in table:
        cells = []
        for v, d in zip(entry["values"], entry["deltas"], strict=True):
            text = str(_n(v)) if not isinstance(v, float) or entry["key"] != "loss" else f"{v:.4f}"
            if isinstance(d, float) and abs(d) >= (5e-5 if entry["key"] == "loss" else 5e-3):  # shown to the digits printed
                text += f" ({d:+.4f})" if entry["key"] == "loss" else f" ({d:+.0%})"
            elif d == "changed":
                text += " *"
            cells.append(text)
        t.add_row(entry["what"], *cells)
    lines = [Text("What differs:", style="bold")] + [Text("• " + s) for s in sentences] if sentences else \
        [Text(f"No difference that matters ({MATTERS:.0%} on sizes and costs, {LOSS_MATTERS:g} in loss).")]
    return Group(t, *lines)
