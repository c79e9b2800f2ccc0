"""Human-friendly quantities: parse ``7B`` / ``2T`` / ``1e23`` and print them back.

Suffixes are decimal: K = 1e3, M = 1e6, B or G = 1e9, T = 1e12, P = 1e15
(case-insensitive). ``1e23`` and ``1_000`` work as in Python.
"""

from __future__ import annotations

import math
import re

__all__ = ["fmt_count", "fmt_flops", "fmt_money", "gpu_hours", "parse_quantity", "wall_clock_days"]

SECONDS_PER_HOUR = 3600.0


def gpu_hours(flops: float, flops_per_gpu_s: float) -> float:
    """GPU-hours that ``flops`` take at ``flops_per_gpu_s`` useful FLOP/s per GPU (the way back
    from the plan's training-FLOP-equivalent currency)."""
    return flops / flops_per_gpu_s / SECONDS_PER_HOUR


def wall_clock_days(gpu_hours_: float, gpus: int, goodput: float) -> float:
    """Days ``gpus`` GPUs take to deliver ``gpu_hours_`` of productive time at ``goodput``."""
    return gpu_hours_ / gpus / 24.0 / goodput


_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}
_NAMES = ((1e15, "P"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?([eE][+-]?\d+)?[kKmMbBtT]?$")


def parse_quantity(text: str) -> float:
    """``"7B"`` -> 7e9; raises ValueError with a readable message on anything else.

    Commas only group thousands (``1,000``); a decimal comma (``1,5``) is refused rather than
    read as 15. Non-finite values (``nan``, ``inf``) are refused.
    """
    s = str(text).strip().replace("_", "")
    if "," in s:
        if not _THOUSANDS.match(s):
            raise ValueError(f"'{text}' is not a number: use a dot for decimals (1.5); commas only group thousands (1,000)")
        s = s.replace(",", "")
    if not s:
        raise ValueError("empty number")
    mult = 1.0
    last = s[-1].lower()
    if last in _SUFFIX and len(s) > 1:
        mult, s = _SUFFIX[last], s[:-1]
    try:
        value = float(s) * mult
    except ValueError:
        raise ValueError(f"'{text}' is not a number (examples: 1e23, 7B, 2T)") from None
    if not math.isfinite(value):
        raise ValueError(f"'{text}' is not a finite number")
    return value


def fmt_count(x: float | None, digits: int = 3) -> str:
    """7.0e9 -> '7.00B'; small numbers stay plain."""
    if x is None:
        return "-"
    if not math.isfinite(x):
        return str(x)
    for scale, name in _NAMES:
        if abs(x) >= scale:
            return f"{x / scale:.{digits}g}{name}"
    return f"{x:.{digits}g}"


def fmt_flops(x: float | None) -> str:
    """1e23 -> '1.00e23' (FLOP counts always in scientific notation)."""
    return "-" if x is None else f"{x:.2e}".replace("e+", "e")


def fmt_money(x: float | None) -> str:
    if x is None:
        return "-"
    return "$" + fmt_count(x)
