"""Scaling laws: loss from parameters and tokens, and downstream error from loss.

Presets ship in ``planner/data/laws.toml`` with their citations. Every preset is, or
reduces to, the Chinchilla form ``L(N, D) = E + A/N^alpha + B/D^beta``, which is what the
convex allocation needs (a posynomial in N and D).

>>> from planner.laws import get_law
>>> law = get_law("besiroglu2024")
>>> round(law.loss(70e9, 1.4e12), 4)
1.9377
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from planner._toml import check_keys, load_packaged_toml, load_toml_file, unknown_name
from planner.errors import PlannerInputError

__all__ = [
    "ChinchillaLaw",
    "DownstreamMap",
    "DEFAULT_LAW",
    "get_law",
    "law_from_table",
    "preset_names",
    "presets",
]

#: The default preset, and why: Epoch AI's refit of the largest published sweep
#: (Hoffmann et al.'s 400+ runs up to 16B parameters) with honest error bars, whose
#: compute-optimal ratio (~20 tokens/parameter) agrees with Chinchilla's other two
#: approaches, unlike the printed Approach 3 fit (hoffmann2022).
DEFAULT_LAW = "besiroglu2024"


@dataclass(frozen=True)
class DownstreamMap:
    """Average top-1 error over a task suite from loss: ``Err(L) = epsilon - k exp(-gamma L)``."""

    suite: str
    k: float
    gamma: float
    epsilon: float
    source: str = ""

    def error(self, loss: float | np.ndarray) -> float | np.ndarray:
        return self.epsilon - self.k * np.exp(-self.gamma * np.asarray(loss, dtype=float))


@dataclass(frozen=True)
class ChinchillaLaw:
    """``L(N, D) = E + A / N**alpha + B / D**beta`` (loss in nats/token).

    Attributes:
        name: preset or file name.
        E, A, B, alpha, beta: coefficients (N in parameters, D in tokens).
        params_include_embeddings: whether the fit's N counts embedding parameters.
        source: citation for the coefficients.
        fit_params_range: smallest and largest model the fit saw (for extrapolation warnings).
        downstream: task-suite name -> :class:`DownstreamMap`, possibly empty.
    """

    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    params_include_embeddings: bool = True
    source: str = ""
    note: str = ""
    form: str = "chinchilla"
    fit_params_range: tuple[float, float] | None = None
    downstream: Mapping[str, DownstreamMap] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for key in ("E", "A", "B", "alpha", "beta"):
            value = getattr(self, key)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise PlannerInputError(f"law '{self.name}': {key} must be positive, got {value!r}")
        object.__setattr__(self, "downstream", MappingProxyType(dict(self.downstream)))

    def loss(self, params: float | np.ndarray, tokens: float | np.ndarray) -> Any:
        """Predicted loss for ``params`` parameters trained on ``tokens`` tokens."""
        n = np.asarray(params, dtype=float)
        d = np.asarray(tokens, dtype=float)
        out = self.E + self.A * n ** (-self.alpha) + self.B * d ** (-self.beta)
        return float(out) if np.ndim(out) == 0 else out

    def downstream_errors(self, loss: float) -> dict[str, float]:
        """Error predicted by every downstream map the law carries."""
        return {suite: float(m.error(loss)) for suite, m in self.downstream.items()}

    @property
    def coefficients(self) -> dict[str, float]:
        return {"E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "form": self.form,
            **self.coefficients,
            "params_include_embeddings": self.params_include_embeddings,
            "fit_params_range": list(self.fit_params_range) if self.fit_params_range else None,
            "source": self.source,
            "note": self.note,
            "downstream": {
                s: {"k": m.k, "gamma": m.gamma, "epsilon": m.epsilon, "source": m.source}
                for s, m in self.downstream.items()
            },
        }


_COMMON = {"form", "params_include_embeddings", "source", "note", "downstream", "fit_params_range"}
_FORM_KEYS = {
    "chinchilla": {"E", "A", "B", "alpha", "beta"},
    "overtrain": {"E", "eta", "a", "b"},
}


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlannerInputError(f"{where}: '{key}' must be a finite number, got {value!r}")
    if value <= 0:
        raise PlannerInputError(f"{where}: '{key}' must be positive, got {value!r}")
    return float(value)


def law_from_table(name: str, table: Mapping[str, Any], origin: str = "builtin") -> ChinchillaLaw:
    """Build a law from one TOML table (the format of ``planner/data/laws.toml``)."""
    where = f"law '{name}' ({origin})"
    form = table.get("form", "chinchilla")
    if form not in _FORM_KEYS:
        raise PlannerInputError(f"{where}: unknown form '{form}'; use chinchilla or overtrain")
    check_keys(where, table, _COMMON | _FORM_KEYS[form])
    missing = sorted(_FORM_KEYS[form] - set(table))
    if missing:
        raise PlannerInputError(f"{where}: missing {', '.join(missing)}")
    c = {k: _number(where, k, table[k]) for k in _FORM_KEYS[form]}
    if form == "overtrain":
        # Gadre et al. 2024: alpha = beta = 2 eta; A = a 6^-eta, B = b 6^-eta (laws.md sec. 1).
        scale = 6.0 ** (-c["eta"])
        coeffs = dict(E=c["E"], A=c["a"] * scale, B=c["b"] * scale, alpha=2 * c["eta"], beta=2 * c["eta"])
    else:
        coeffs = c
    downstream = {}
    for suite, m in table.get("downstream", {}).items():
        w = f"{where} downstream '{suite}'"
        if not isinstance(m, dict):
            raise PlannerInputError(f"{w}: must be a table with k, gamma, epsilon")
        check_keys(w, m, {"k", "gamma", "epsilon", "source"})
        for key in ("k", "gamma", "epsilon"):
            if key not in m:
                raise PlannerInputError(f"{w}: missing {key}")
        downstream[suite] = DownstreamMap(
            suite=suite,
            k=_number(w, "k", m["k"]),
            gamma=_number(w, "gamma", m["gamma"]),
            epsilon=_number(w, "epsilon", m["epsilon"]),
            source=m.get("source", f"{table.get('source', '')}; Err(L) = epsilon - k exp(-gamma L), {suite} average top-1 error"),
        )
    fit_range = table.get("fit_params_range")
    if fit_range is not None:
        if not isinstance(fit_range, list) or len(fit_range) != 2:
            raise PlannerInputError(f"{where}: 'fit_params_range' must be [smallest, largest]")
        fit_range = tuple(_number(where, "fit_params_range", v) for v in fit_range)
    return ChinchillaLaw(
        name=name,
        fit_params_range=fit_range,
        form=form,
        params_include_embeddings=bool(table.get("params_include_embeddings", True)),
        source=str(table.get("source", "")),
        note=str(table.get("note", "")),
        downstream=downstream,
        **coeffs,
    )


_PRESETS: dict[str, ChinchillaLaw] | None = None


def presets() -> Mapping[str, ChinchillaLaw]:
    """All shipped presets by name (parsed once)."""
    global _PRESETS
    if _PRESETS is None:
        raw = load_packaged_toml("laws.toml")
        _PRESETS = {name: law_from_table(name, table) for name, table in raw.items()}
    return MappingProxyType(_PRESETS)


def preset_names() -> list[str]:
    return list(presets())


def get_law(name_or_path: str | Path) -> ChinchillaLaw:
    """A preset by name (case-insensitive), or a law read from a ``.toml`` file.

    A law file holds either the keys of one law at top level or exactly one ``[name]`` table.
    """
    text = str(name_or_path)
    if text.endswith(".toml") or Path(text).is_file():
        data = load_toml_file(text, "law")
        if "form" in data or "E" in data:
            return law_from_table(Path(text).stem, data, origin=text)
        tables = {k: v for k, v in data.items() if isinstance(v, dict)}
        if len(tables) != 1:
            raise PlannerInputError(f"law file {text}: expected one law, found {len(tables)} tables")
        (name, table), = tables.items()
        return law_from_table(name, table, origin=text)
    key = text.strip().lower()
    table = presets()
    if key in table:
        return table[key]
    raise unknown_name("law", text, table)
