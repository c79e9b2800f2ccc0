"""Reading a user's file as text at the edge: size-limited, UTF-8 (a byte-order mark is
dropped), and every failure one line that names the file."""

from __future__ import annotations

from pathlib import Path

from planner.errors import PlannerInputError

__all__ = ["is_file", "read_user_text"]


def read_user_text(path: str | Path, what: str, *, max_bytes: int) -> tuple[Path, str]:
    """``(path, text)`` of a user's ``what`` file, refused before reading when it is larger
    than ``max_bytes`` (a planner limit, README 'Limits')."""
    p = Path(path).expanduser()
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise PlannerInputError(f"{what} path is a directory, not a file: {p}")
        if size > max_bytes:
            raise PlannerInputError(f"{what} file {p} is {size:,} bytes, above the planner's limit of {max_bytes:,} "
                                    "(README, 'Limits'); split it or keep the rows you fit on")
        data = p.read_bytes()
    except FileNotFoundError:
        raise PlannerInputError(f"{what} file not found: {p}") from None
    except OSError as exc:
        raise PlannerInputError(f"cannot read {what} file {p}: {exc.strerror or exc}") from None
    try:
        return p, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PlannerInputError(f"{what} file {p} is not UTF-8 text (byte {exc.start} on line {line})") from None


def is_file(path: str | Path) -> bool:
    """Whether ``path`` names a readable file; any name the OS refuses (too long, a NUL byte,
    no permission) is simply not a file, never an error: user text is tried as a name first."""
    try:
        return Path(path).expanduser().is_file()
    except (OSError, ValueError):
        return False
