"""The one validation of user numbers: positive, integer, fraction. Standard library only."""

from __future__ import annotations

import math
from typing import Any

from planner.errors import PlannerInputError

__all__ = ["MAX_COUNT", "check_fraction", "check_int", "check_positive"]


def check_positive(name: str, value: Any, *, allow_zero: bool = False, where: str = "") -> float | None:
    """``value`` as a float, or None if None; not a finite positive number raises (one line)."""
    if value is None:
        return None
    prefix = f"{where}: " if where else ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlannerInputError(f"{prefix}{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise PlannerInputError(f"{prefix}{name} must be finite, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        raise PlannerInputError(f"{prefix}{name} must be {'non-negative' if allow_zero else 'positive'}, got {value:g}")
    return value


#: Every count is a 32-bit integer at most, so that none overflows the array code behind it
#: (the command line's integer options have the same bound).
MAX_COUNT = 2**31 - 1


def check_int(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int | None:
    """A positive integer (or None), at most ``maximum`` when given (a stated planner limit),
    and at most :data:`MAX_COUNT` always."""
    if value is None:
        return None
    maximum = MAX_COUNT if maximum is None else min(maximum, MAX_COUNT)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PlannerInputError(f"{name} must be a positive integer, got {value!r}")
    if maximum is not None and value > maximum:
        raise PlannerInputError(f"{name} {value} is above the planner's limit of {maximum:,} (so that every accepted "
                                "input finishes in seconds; README, 'Limits')")
    return value


def check_fraction(name: str, value: Any) -> float:
    """A number in (0, 1]."""
    value = check_positive(name, value)
    if value is None or value > 1:
        raise PlannerInputError(f"{name} is a fraction in (0, 1], got {value:g}" if value is not None else f"{name} is required")
    return value
