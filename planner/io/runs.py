"""Reading training-run tables (CSV or JSON lines) for fitting.

Columns are found by name: an explicit ``--params-col`` wins, otherwise a list of usual
names is tried (case-insensitive), otherwise a single column whose name contains the role's
word. Rows can be filtered with ``COL=VALUE`` conditions (also ``!=``, ``<``, ``<=``, ``>``,
``>=``; numbers compare as numbers).
"""

from __future__ import annotations

import csv
import json
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planner.defaults import LIMITS
from planner.errors import PlannerInputError
from planner.io.text import read_user_text

__all__ = ["ROLE_NAMES", "RunTable", "read_runs"]

#: Usual column names for each role, tried in order (case-insensitive).
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "params": ("params", "n_params", "N_params", "N", "parameters", "num_params", "model_params"),
    "tokens": ("tokens", "train_tokens", "D_tokens", "D", "n_tokens", "num_tokens", "training_tokens"),
    "loss": ("loss", "final_loss", "val_loss", "eval_loss", "validation_loss"),
    "error": ("error", "err", "top1_error", "avg_error", "mean_error"),
}
_ROLE_WORD = {"params": "param", "tokens": "token", "loss": "loss", "error": "err"}
_FLAG = {"params": "--params-col", "tokens": "--tokens-col", "loss": "--loss-col", "error": "--error-col"}
_OPS = {"<=": operator.le, ">=": operator.ge, "!=": operator.ne, "=": operator.eq, "<": operator.lt, ">": operator.gt}
_WHERE = re.compile(r"^\s*([^<>=!]+?)\s*(<=|>=|!=|=|<|>)\s*(.*?)\s*$")


@dataclass(frozen=True)
class RunTable:
    """Rows of a run file as strings, with the file it came from."""

    path: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[str]:
        i = self.header.index(name)
        return [row[i] for row in self.rows]

    def numeric(self, name: str) -> np.ndarray:
        """Column ``name`` as floats; a non-number names its row (1-based, after filtering)."""
        out = np.empty(len(self.rows))
        for k, text in enumerate(self.column(name)):
            try:
                out[k] = float(text)
            except ValueError:
                raise PlannerInputError(f"{self.path}: column '{name}' row {k + 1} is not a number: {text!r}") from None
        return out

    def find(self, role: str, explicit: str | None = None) -> str:
        """The column that plays ``role`` (params, tokens, loss, error)."""
        if explicit:
            if explicit not in self.header:
                raise PlannerInputError(f"{self.path}: no column '{explicit}' (columns: {', '.join(self.header)})")
            return explicit
        lower = {h.lower(): h for h in self.header}
        for name in ROLE_NAMES[role]:
            if name.lower() in lower:
                return lower[name.lower()]
        word = _ROLE_WORD[role]
        hits = [h for h in self.header if word in h.lower()]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise PlannerInputError(f"{self.path}: several {role} columns ({', '.join(hits)}); choose one with {_FLAG[role]}")
        raise PlannerInputError(f"{self.path}: no {role} column found; name it with {_FLAG[role]}")

    def where(self, conditions: Iterable[str]) -> RunTable:
        """Keep the rows meeting every ``COL op VALUE`` condition."""
        rows = list(self.rows)
        for cond in conditions:
            m = _WHERE.match(cond)
            if not m:
                raise PlannerInputError(f"--where '{cond}': expected COL=VALUE (or !=, <, <=, >, >=)")
            col, op, value = m.groups()
            if col not in self.header:
                raise PlannerInputError(f"--where '{cond}': no column '{col}' (columns: {', '.join(self.header)})")
            i = self.header.index(col)
            rows = [r for r in rows if _compare(r[i], op, value, cond)]
        if self.rows and not rows:
            raise PlannerInputError(f"{self.path}: no row meets every --where ({' and '.join(conditions)})")
        return RunTable(self.path, self.header, tuple(rows))


def _compare(cell: str, op: str, value: str, cond: str) -> bool:
    try:
        return _OPS[op](float(cell), float(value))
    except ValueError:
        if op in ("=", "!="):
            return _OPS[op](cell, value)
        raise PlannerInputError(f"--where '{cond}': '{op}' needs numbers, got {cell!r}") from None


def read_runs(path: str | Path) -> RunTable:
    """Read a CSV file (header row) or JSON lines (one object per line; ``.jsonl``/``.ndjson``)."""
    p, text = read_user_text(path, "run", max_bytes=LIMITS["file_bytes"])
    lines = text.splitlines()
    if len(lines) > LIMITS["rows"] + 1:
        raise PlannerInputError(f"{p}: {len(lines):,} lines, above the planner's limit of {LIMITS['rows']:,} rows "
                                "(README, 'Limits'); keep the rows you fit on (--where selects after reading)")
    if p.suffix.lower() in (".jsonl", ".ndjson") or text.lstrip().startswith("{"):
        return _from_jsonl(str(p), lines)
    return _from_csv(str(p), lines)


def _from_csv(path: str, lines: Sequence[str]) -> RunTable:
    reader = csv.reader(lines)
    try:
        header = tuple(h.strip() for h in next(reader))
    except StopIteration:
        raise PlannerInputError(f"{path}: empty file") from None
    rows = []
    for k, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise PlannerInputError(f"{path}: line {k} has {len(row)} fields, the header has {len(header)}")
        rows.append(tuple(c.strip() for c in row))
    if not rows:
        raise PlannerInputError(f"{path}: no data rows")
    return RunTable(path, header, tuple(rows))


def _from_jsonl(path: str, lines: Sequence[str]) -> RunTable:
    records = []
    for k, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PlannerInputError(f"{path}: line {k} is not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise PlannerInputError(f"{path}: line {k} is not a JSON object")
        records.append(obj)
    if not records:
        raise PlannerInputError(f"{path}: no data rows")
    header: list[str] = []
    for rec in records:
        header += [key for key in rec if key not in header]
    rows = tuple(tuple("" if rec.get(h) is None else str(rec.get(h)) for h in header) for rec in records)
    return RunTable(path, tuple(header), rows)
