"""Loss-curve laws by name: shipped presets (``planner/data/curve_laws.toml``), laws saved by
``plan curve fit --save`` (in the same store as the other laws), or a ``.toml`` file."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from planner.errors import PlannerInputError
from planner.io.toml import load_packaged_toml, unknown_name
from planner.laws.curves import CURVE_FORMS, CurveLaw
from planner.laws.lawfile import is_law_path, read_law_file, saved_laws

__all__ = ["curve_entries", "curve_presets", "get_curve_law"]


@functools.cache
def _presets() -> dict[str, CurveLaw]:
    raw = load_packaged_toml("curve_laws.toml")
    return {name: CurveLaw.from_table(name, table, origin="builtin") for name, table in raw.items()}


def curve_presets() -> dict[str, CurveLaw]:
    return dict(_presets())


def _saved_curve(path: str | Path) -> CurveLaw | None:
    """The curve law in a saved file, or None when the file holds another kind of law."""
    found, raw = read_law_file(path)
    if raw.get("form") not in CURVE_FORMS:
        return None
    return CurveLaw.from_table(found, raw, origin=str(path))


def get_curve_law(name_or_path: str | Path) -> CurveLaw:
    """A preset, a saved curve law (``plan curve fit --save NAME``) or one read from a file."""
    text = str(name_or_path)
    key = text.strip().lower()
    if key in _presets():
        return _presets()[key]
    saved = saved_laws()
    path = saved.get(key) or (text if is_law_path(text) else None)
    if path is None:
        raise unknown_name("curve law", text, [*_presets(), *saved])
    law = _saved_curve(path)
    if law is None:
        raise PlannerInputError(f"'{text}' is a final-loss law, not a loss-curve law: fit one with plan curve fit")
    return law


def curve_entries() -> list[dict[str, Any]]:
    """Every preset and saved curve law as plain dicts (``plan laws list``); saved files of
    other kinds are left to their own listing, unreadable ones are listed as such."""
    out = [law.to_dict() for law in _presets().values()]
    for name, path in saved_laws().items():
        try:
            found, raw = read_law_file(path)
        except PlannerInputError:
            continue  # the loss-law listing reports the unreadable file
        if raw.get("form") not in CURVE_FORMS:
            continue
        try:
            out.append(CurveLaw.from_table(found, raw, origin=str(path)).to_dict())
        except PlannerInputError as exc:
            out.append({"name": name, "form": "unreadable", "origin": str(path), "source": str(exc)})
    return out
