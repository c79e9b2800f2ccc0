"""Law files: where saved and user-given laws (loss laws, downstream maps, curve laws) are read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.errors import PlannerInputError
from planner.io.text import is_file
from planner.io.toml import load_toml_file

__all__ = ["is_law_path", "read_law_file", "saved_laws"]


def read_law_file(path: str | Path) -> tuple[str, dict[str, Any]]:
    """The (name, table) of a law file: top-level keys, or exactly one ``[name]`` table."""
    data = load_toml_file(path, "law")
    if "form" in data or "E" in data or "k" in data:
        return Path(path).stem, data
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    if len(tables) != 1:
        raise PlannerInputError(f"law file {path}: expected one law, found {len(tables)} tables")
    ((name, table),) = tables.items()
    return name, table


def saved_laws() -> dict[str, Path]:
    """Laws saved by ``plan fit --save`` / ``plan curve fit --save`` (every kind), by name."""
    from planner.io.store import saved_law_files

    return saved_law_files()


def is_law_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text or is_file(text)
