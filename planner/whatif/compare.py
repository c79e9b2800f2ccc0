"""Plans side by side: each scenario's decisions and costs, the deltas against the first,
and one sentence for each difference that matters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from planner.units import fmt_count

__all__ = ["COMPARED", "compare_rows", "differences"]

#: What a comparison shows, in order: row key, words, and whether it is a number compared by ratio.
COMPARED = (
    ("params", "model size (parameters)", True), ("train_tokens", "training tokens", True),
    ("loss", "predicted loss", True), ("inference_share", "inference share of the budget", True),
    ("bits", "serving weight bits", False), ("samples", "samples per query", False),
    ("gpus", "training GPUs", False), ("layout", "layout", False), ("days", "wall clock (days)", True),
    ("gpu_hours", "GPU-hours", True), ("cost_usd", "cost (USD)", True), ("status", "feasibility", False),
)
#: A relative change below this is not worth a sentence (a planner threshold for reports).
MATTERS = 0.05
#: The loss moves little in relative terms; a change of this much (absolute nats) matters.
LOSS_MATTERS = 0.005


def compare_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For each compared quantity: every scenario's value and its delta against the first."""
    out = []
    for key, words, numeric in COMPARED:
        values = [r.get(key) for r in rows]
        base = values[0]
        deltas: list[Any] = []
        for v in values:
            if numeric and isinstance(v, int | float) and isinstance(base, int | float) and base:
                deltas.append(v / base - 1.0 if key != "loss" else v - base)
            else:
                deltas.append(None if v == base else "changed")
        out.append({"key": key, "what": words, "values": values, "deltas": deltas})
    return out


def _fmt(v: Any) -> str:
    return fmt_count(v) if isinstance(v, float) else str(v)


def differences(names: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One sentence per scenario and difference that matters, against the first scenario."""
    table = compare_rows(rows)
    out = []
    for j, name in enumerate(names[1:], start=1):
        for entry in table:
            key, v, b, dv = entry["key"], entry["values"][j], entry["values"][0], entry["deltas"][j]
            if dv is None:
                continue
            if isinstance(dv, float):
                if (key == "loss" and abs(dv) < LOSS_MATTERS) or (key != "loss" and abs(dv) < MATTERS):
                    continue
                change = f"{dv:+.4f}" if key == "loss" else f"{dv:+.0%}"
                shown = (f"{v:.4f} vs {b:.4f}" if key == "loss" else f"{_fmt(v)} vs {_fmt(b)}")
                out.append(f"{name}: {entry['what']} {shown} in {names[0]} ({change})")
            else:
                out.append(f"{name}: {entry['what']} {_fmt(v)} instead of {_fmt(b)} in {names[0]}")
    return out
