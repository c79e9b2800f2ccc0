"""The one store for what users save: laws (``plan fit --save``) and task profiles
(``plan fit-samples --save``), as TOML files in the user's configuration directory.

``<config dir>/laws/NAME.toml`` holds one ``[NAME]`` table in the format of
``planner/data/laws.toml`` plus ``fit`` (provenance), ``intervals`` and ``bootstrap``
(coefficient draws) sub-tables. Loading lives in :mod:`planner.laws`.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tomllib
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.errors import PlannerInputError
from planner.io.config import user_config_dir

__all__ = ["check_save_name", "save_law_table", "save_table", "save_task_table", "saved_law_files", "saved_task_files", "to_toml", "user_law_dir", "user_task_dir",
           "write_bytes", "write_text"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def user_law_dir() -> Path:
    return user_config_dir() / "laws"


def user_task_dir() -> Path:
    return user_config_dir() / "tasks"


def _saved(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def saved_law_files() -> dict[str, Path]:
    """Saved laws by name (file stem), sorted."""
    return _saved(user_law_dir())


def saved_task_files() -> dict[str, Path]:
    """Saved task profiles by name (file stem), sorted."""
    return _saved(user_task_dir())


def check_save_name(folder: Path, kind: str, name: str, *, overwrite: bool = False, reserved: set[str] = frozenset()) -> Path:
    """The file a save of ``name`` would write, or the one-line reason it cannot: called before
    any work so that a bad name is refused at once (the save itself re-checks, exclusively)."""
    if not _NAME.match(name):
        raise PlannerInputError(f"{kind} name '{name}' must be lower-case letters, digits, '.', '_' or '-' (64 at most)")
    if name in reserved:
        raise PlannerInputError(f"'{name}' is a shipped preset {kind}; save under another name")
    path = folder / f"{name}.toml"
    if path.exists() and not overwrite:
        raise PlannerInputError(f"a saved {kind} '{name}' exists ({path}); pass --overwrite to replace it")
    return path


def save_table(folder: Path, kind: str, name: str, table: Mapping[str, Any], *, overwrite: bool = False,
               reserved: set[str] = frozenset(), header: str = "") -> Path:
    """Write ``table`` as ``[name]`` to ``folder/name.toml`` after checking the name."""
    path = check_save_name(folder, kind, name, overwrite=overwrite, reserved=reserved)
    exists = f"a saved {kind} '{name}' exists ({path}); pass --overwrite to replace it"
    text = header + to_toml({name: dict(table)})
    if name not in tomllib.loads(text):  # what is written must load back
        raise PlannerInputError(f"the {kind} '{name}' would not load back from TOML")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, text, overwrite=overwrite)
    except FileExistsError:
        raise PlannerInputError(exists) from None
    except OSError as exc:
        raise PlannerInputError(f"could not save the {kind} '{name}' to {path}: {exc.strerror or exc}; nothing was changed") from None
    if name not in tomllib.loads(path.read_text(encoding="utf-8")):
        raise PlannerInputError(f"the saved {kind} '{name}' at {path} does not read back")
    return path


def write_text(path: str | Path, text: str | bytes) -> Path:
    """Write ``text`` to ``path`` in one step (temporary file, fsync, rename): a reader sees
    the old file or the new one, never half of it. Replaces an existing file."""
    path = Path(path)
    if not path.parent.is_dir():
        raise PlannerInputError(f"cannot write {path}: folder {path.parent} does not exist")
    try:
        _write_atomically(path, text, overwrite=True)
    except OSError as exc:
        raise PlannerInputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """:func:`write_text` for binary files (pictures)."""
    return write_text(path, data)


def _write_atomically(path: Path, text: str | bytes, *, overwrite: bool) -> None:
    """Write a temporary file beside ``path``, fsync it, then move it into place in one step:
    a failure part-way leaves the old file (or none) untouched, never a truncated one. Without
    ``overwrite`` the move is exclusive (a hard link, which fails if ``path`` exists), so two
    concurrent saves of one name cannot both succeed."""
    tmp = str(path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp")
    # Created as a plain write would create it (0666 less the umask; mkstemp would make 0600),
    # then given the mode of the file it replaces, if any.
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)  # raises FileExistsError if another save got there first
        except FileExistsError:
            raise
        except OSError:  # no hard links here: reserve the name exclusively, then move into it
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def save_law_table(name: str, table: Mapping[str, Any], *, overwrite: bool = False, reserved: set[str] = frozenset()) -> Path:
    """Write ``table`` as ``[name]`` to the law directory; returns the path."""
    header = "# Written by compute-planner `plan fit`. Edit with care: `fit` records provenance.\n\n"
    return save_table(user_law_dir(), "law", name, table, overwrite=overwrite, reserved=reserved, header=header)


def save_task_table(name: str, table: Mapping[str, Any], *, overwrite: bool = False, reserved: set[str] = frozenset()) -> Path:
    """Write a fitted task profile as ``[name]`` to the task directory; returns the path."""
    return save_table(user_task_dir(), "task profile", name, table, overwrite=overwrite, reserved=reserved)


#: TOML basic-string escapes (TOML 1.0, "String"); any other control character is written as a
#: four-hex-digit unicode escape, e.g. U+001F as backslash-u-001f.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"cannot write non-finite number {v} to TOML")
        return repr(v)
    if isinstance(v, str):
        return '"' + "".join(_ESCAPES.get(ch) or (f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch) for ch in v) + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """Serialise nested dicts of numbers, strings, booleans and lists (all we write)."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in tables:
        full = f"{prefix}.{_key(key)}" if prefix else _key(key)
        out += f"\n[{full}]\n" + to_toml(value, full)
    return out


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _value(k)
