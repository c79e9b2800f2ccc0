"""Tables whose text is never read as console markup.

Cells and titles carry strings from user files (a law's ``source``, a hardware ``name``, a
sample group): rich would parse ``[/x]`` in them as markup and fail, or style them. This
``Table`` turns every string cell, title and caption into a ``rich.text.Text`` (never parsed
as markup) with control characters removed (ESC would start a terminal escape sequence).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table as _RichTable
from rich.text import Text

__all__ = ["Table", "plain"]


#: C0 and C1 control characters (ESC starts terminal escape sequences), tab and newline kept.
_CONTROLS = {c: None for c in (*range(0, 32), *range(127, 160)) if chr(c) not in "\t\n"}


def plain(value: Any) -> Any:
    """A string as literal text (no markup, no control characters); anything else unchanged."""
    return Text(value.translate(_CONTROLS)) if isinstance(value, str) else value


class Table(_RichTable):
    def __init__(self, *headers: Any, title: Any = None, caption: Any = None, **kw: Any) -> None:
        super().__init__(*headers, title=plain(title), caption=plain(caption), **kw)

    def add_row(self, *renderables: Any, **kw: Any) -> None:
        super().add_row(*(plain(r) for r in renderables), **kw)

    @classmethod
    def grid(cls, *headers: Any, padding: Any = 0, collapse_padding: bool = True, pad_edge: bool = False,
             expand: bool = False) -> Table:
        return cls(*headers, show_header=False, show_edge=False, box=None, padding=padding,
                   collapse_padding=collapse_padding, pad_edge=pad_edge, expand=expand)
