"""Reading TOML files with errors a user can act on (one line, file named)."""

from __future__ import annotations

import copy
import difflib
import functools
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from planner.defaults import LIMITS
from planner.errors import PlannerInputError
from planner.io.text import read_user_text

__all__ = ["check_keys", "load_packaged_toml", "load_toml_file", "unknown_name"]


def load_toml_file(path: str | Path, what: str) -> dict[str, Any]:
    """Parse ``path`` as TOML; any failure (missing, too large, not UTF-8, malformed, nested
    deeper than the planner's limit) becomes a one-line :class:`PlannerInputError`."""
    p, text = read_user_text(path, what, max_bytes=LIMITS["toml_bytes"])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlannerInputError(f"malformed TOML in {what} file {p}: {exc}") from None
    except RecursionError:
        data = None
    if data is None or _depth(data) > LIMITS["toml_depth"]:
        raise PlannerInputError(f"{what} file {p} nests tables or arrays deeper than the planner's limit of "
                                f"{LIMITS['toml_depth']} levels (README, 'Limits')")
    return data


def _depth(value: Any) -> int:
    """Nesting depth of parsed TOML (a scalar is 0), iteratively: no recursion limit to hit."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in children)
    return deepest


def load_packaged_toml(name: str) -> dict[str, Any]:
    """Parse a TOML file shipped in ``planner/data`` (parsed once per process; each caller
    gets its own copy, free to change)."""
    return copy.deepcopy(_packaged(name))


@functools.lru_cache(maxsize=None)
def _packaged(name: str) -> dict[str, Any]:
    text = resources.files("planner").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> PlannerInputError:
    """An error for an unknown ``name`` that suggests the nearest known ones."""
    choices = sorted(set(choices))
    near = difflib.get_close_matches(name.lower(), choices, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(near)}?" if near else f"; known: {', '.join(choices)}"
    return PlannerInputError(f"unknown {kind} '{name}'{hint}")


def check_keys(where: str, given: Iterable[str], allowed: Iterable[str]) -> None:
    """Reject keys not in ``allowed`` (typos in user files must not pass silently)."""
    allowed = set(allowed)
    for key in given:
        if key not in allowed:
            near = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise PlannerInputError(f"{where}: unknown key '{key}'{hint}")
