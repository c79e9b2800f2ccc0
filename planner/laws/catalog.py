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
from typing import Any

import numpy as np

from planner._frozen import FrozenDict
from planner.errors import PlannerInputError
from planner.io.toml import check_keys, load_packaged_toml, unknown_name
from planner.laws.curves import CURVE_FORMS
from planner.laws.lawfile import is_law_path, read_law_file, saved_laws
from planner.validate import check_positive
from solvers.problem import LawCoefficients

__all__ = [
    "DEFAULT_LAW",
    "ChinchillaLaw",
    "DownstreamMap",
    "downstream_error",
    "get_downstream",
    "get_law",
    "law_entries",
    "law_from_table",
    "preset_names",
    "presets",
    "saved_laws",
]

#: The default preset, and why: Epoch AI's refit of the largest published sweep
#: (Hoffmann et al.'s 400+ runs up to 16B parameters) with honest error bars, whose
#: compute-optimal ratio (~20 tokens/parameter) agrees with Chinchilla's other two
#: approaches, unlike the printed Approach 3 fit (hoffmann2022).
DEFAULT_LAW = "besiroglu2024"


def downstream_error(k: Any, gamma: Any, epsilon: Any, loss: Any) -> Any:
    """The one downstream-error formula (Gadre et al. 2024): ``Err(L) = epsilon - k exp(-gamma L)``;
    numbers or arrays (bootstrap draws) alike."""
    return epsilon - k * np.exp(-gamma * np.asarray(loss, dtype=float))


@dataclass(frozen=True)
class DownstreamMap:
    """Average top-1 error over a task suite from loss: ``Err(L) = epsilon - k exp(-gamma L)``."""

    suite: str
    k: float
    gamma: float
    epsilon: float
    source: str = ""
    name: str = ""
    #: Bootstrap draws as rows of (k, gamma, epsilon); empty for published maps.
    draws: tuple[tuple[float, float, float], ...] = ()

    def error(self, loss: float | np.ndarray) -> float | np.ndarray:
        return downstream_error(self.k, self.gamma, self.epsilon, loss)

    def accuracy_above_chance(self, loss: float) -> float:
        """``(epsilon - Err(L)) / epsilon`` = ``k exp(-gamma L) / epsilon``, in [0, 1).

        epsilon is the error at infinite loss (chance on multiple-choice suites). A
        generative task checked by a verifier has no chance floor, so pass@k planning maps
        loss to single-sample accuracy this way: a model at chance solves nothing.
        """
        return float(min(1.0, max(0.0, self.k * np.exp(-self.gamma * loss) / self.epsilon)))

    def error_draws(self, loss: np.ndarray) -> np.ndarray:
        """Error under each draw, paired with ``loss`` draws (cycled); the point map if none."""
        loss = np.asarray(loss, dtype=float)
        if not self.draws:
            return np.asarray(self.error(loss), dtype=float)
        d = np.asarray(self.draws)[np.arange(loss.size) % len(self.draws)]
        return downstream_error(d[:, 0], d[:, 1], d[:, 2], loss)


@dataclass(frozen=True)
class ChinchillaLaw:
    """``L(N, D) = E + A / N**alpha + B / D**beta`` (loss in nats/token).

    Attributes:
        name: preset or file name.
        E, A, B, alpha, beta: coefficients (N in parameters, D in tokens).
        params_include_embeddings: whether the fit's N counts embedding parameters.
        source: citation for the coefficients.
        fit_params_range: smallest and largest model the fit saw (the plan's support).
        fit_tokens_per_param_range: smallest and largest D/N the fit saw (the plan's support).
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
    fit_tokens_per_param_range: tuple[float, float] | None = None
    #: Bootstrap draws, one coefficient record each; empty for published presets.
    draws: tuple[LawCoefficients, ...] = ()
    #: Provenance of a fitted law (file, fingerprint, date, settings); empty for presets.
    fit_info: Mapping[str, Any] = field(default_factory=lambda: FrozenDict({}))
    origin: str = "builtin"
    downstream: Mapping[str, DownstreamMap] = field(default_factory=lambda: FrozenDict({}))

    def __post_init__(self) -> None:
        for key in ("E", "A", "B", "alpha", "beta"):
            value = getattr(self, key)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise PlannerInputError(f"law '{self.name}': {key} must be positive, got {value!r}")
        object.__setattr__(self, "downstream", FrozenDict(dict(self.downstream)))
        # Rows of (E, A, B, alpha, beta), as files store them, become coefficient records.
        object.__setattr__(self, "draws", tuple(d if isinstance(d, LawCoefficients) else LawCoefficients(*map(float, d))
                                                for d in self.draws))
        object.__setattr__(self, "fit_info", FrozenDict(dict(self.fit_info)))

    @property
    def coeffs(self) -> LawCoefficients:
        """The coefficient record the solvers take (one record for a law everywhere)."""
        return LawCoefficients.of(self)

    def coefficient_draws(self) -> tuple[LawCoefficients, ...]:
        """The bootstrap draws as coefficient records (empty for published presets)."""
        return self.draws

    def loss(self, params: float | np.ndarray, tokens: float | np.ndarray) -> Any:
        """Predicted loss for ``params`` parameters trained on ``tokens`` tokens."""
        out = self.coeffs.loss(np.asarray(params, dtype=float), np.asarray(tokens, dtype=float))
        return float(out) if np.ndim(out) == 0 else out

    def loss_draws(self, params: float, tokens: float) -> np.ndarray:
        """Predicted loss under every bootstrap draw (empty if the law has none): the same
        formula with a coefficient record whose fields are arrays over the draws."""
        if not self.draws:
            return np.empty(0)
        columns = np.array([[d.E, d.A, d.B, d.alpha, d.beta] for d in self.draws]).T
        return LawCoefficients(*columns).loss(params, tokens)

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
            "fit_tokens_per_param_range": list(self.fit_tokens_per_param_range) if self.fit_tokens_per_param_range else None,
            "origin": self.origin,
            "bootstrap_draws": len(self.draws),
            "fit": dict(self.fit_info),
            "source": self.source,
            "note": self.note,
            "downstream": {
                s: {"k": m.k, "gamma": m.gamma, "epsilon": m.epsilon, "source": m.source}
                for s, m in self.downstream.items()
            },
        }


_COMMON = {"form", "params_include_embeddings", "source", "note", "downstream", "fit_params_range", "fit_tokens_per_param_range", "fit", "intervals", "bootstrap"}
_FORM_KEYS = {
    "chinchilla": {"E", "A", "B", "alpha", "beta"},
    "overtrain": {"E", "eta", "a", "b"},
}
_DOWNSTREAM_KEYS = {"form", "k", "gamma", "epsilon", "suite", "source", "note", "fit", "intervals", "bootstrap"}


def _draws(where: str, table: Mapping[str, Any], names: tuple[str, ...]) -> tuple[tuple[float, ...], ...]:
    """Bootstrap draws stored column-wise (``[law.bootstrap] E = [...]``) as rows."""
    boot = table.get("bootstrap")
    if not boot:
        return ()
    try:
        cols = [[float(v) for v in boot[n]] for n in names]
    except (KeyError, TypeError, ValueError):
        raise PlannerInputError(f"{where}: 'bootstrap' must hold equal-length number lists {', '.join(names)}") from None
    if len({len(c) for c in cols}) != 1:
        raise PlannerInputError(f"{where}: bootstrap columns have different lengths")
    return tuple(zip(*cols, strict=True))


def _number(where: str, key: str, value: Any) -> float:
    return check_positive(f"'{key}'", value, where=where)  # type: ignore[return-value]


def _range(where: str, table: Mapping[str, Any], key: str) -> tuple[float, float] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise PlannerInputError(f"{where}: '{key}' must be [smallest, largest]")
    lo, hi = (_number(where, key, v) for v in value)
    if not 0 < lo <= hi:
        raise PlannerInputError(f"{where}: '{key}' must be [smallest, largest] with 0 < smallest <= largest")
    return lo, hi


def law_from_table(name: str, table: Mapping[str, Any], origin: str = "builtin") -> ChinchillaLaw:
    """Build a law from one TOML table (the format of ``planner/data/laws.toml``)."""
    where = f"law '{name}' ({origin})"
    form = table.get("form", "chinchilla")
    if form == "downstream":
        raise PlannerInputError(f"'{name}' is a downstream-error map, not a loss law: pass it with --downstream")
    if form in CURVE_FORMS:
        raise PlannerInputError(f"'{name}' is a loss-curve law (form {form}): use it with plan curve predict --law or plan --curve-law")
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
    return ChinchillaLaw(
        name=name,
        fit_params_range=_range(where, table, "fit_params_range"),
        fit_tokens_per_param_range=_range(where, table, "fit_tokens_per_param_range"),
        draws=_draws(where, table, ("E", "A", "B", "alpha", "beta")),
        fit_info=dict(table.get("fit", {})),
        origin=origin,
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
    return FrozenDict(_PRESETS)


def preset_names() -> list[str]:
    return list(presets())


def get_law(name_or_path: str | Path) -> ChinchillaLaw:
    """A preset, a saved law (``plan fit --save NAME``), or a law read from a ``.toml`` file.

    Presets win over saved laws of the same name (saving under a preset's name is refused).
    """
    text = str(name_or_path)
    key = text.strip().lower()
    table = presets()
    if key in table:
        return table[key]
    saved = saved_laws()
    if key in saved:
        name, raw = read_law_file(saved[key])
        return law_from_table(name, raw, origin=str(saved[key]))
    if is_law_path(text):
        name, raw = read_law_file(text)
        return law_from_table(name, raw, origin=text)
    raise unknown_name("law", text, [*table, *saved])


def downstream_from_table(name: str, table: Mapping[str, Any], origin: str) -> DownstreamMap:
    """A saved downstream map (``form = "downstream"``)."""
    where = f"downstream map '{name}' ({origin})"
    check_keys(where, table, _DOWNSTREAM_KEYS)
    for key in ("k", "gamma", "epsilon"):
        if key not in table:
            raise PlannerInputError(f"{where}: missing {key}")
    return DownstreamMap(
        suite=str(table.get("suite", name)),
        k=_number(where, "k", table["k"]),
        gamma=_number(where, "gamma", table["gamma"]),
        epsilon=_number(where, "epsilon", table["epsilon"]),
        source=str(table.get("source", "")),
        name=name,
        draws=_draws(where, table, ("k", "gamma", "epsilon")),
    )


def get_downstream(name_or_path: str | Path) -> DownstreamMap:
    """A downstream-error map: ``PRESET`` (its 17-task map), ``PRESET:SUITE``, a saved map or a file."""
    text = str(name_or_path).strip()
    preset, _, suite = text.lower().partition(":")
    if preset in presets():
        law = presets()[preset]
        if not law.downstream:
            raise PlannerInputError(f"law '{preset}' has no downstream-error map")
        suite = suite or ("17-task" if "17-task" in law.downstream else next(iter(law.downstream)))
        if suite not in law.downstream:
            raise unknown_name(f"suite of {preset}", suite, law.downstream)
        return law.downstream[suite]
    saved = saved_laws()
    path = saved.get(text.lower()) or (text if is_law_path(text) else None)
    if path is None:
        with_maps = [p for p, law in presets().items() if law.downstream]
        raise unknown_name("downstream map", text, [*with_maps, *saved])
    name, raw = read_law_file(path)
    if raw.get("form") != "downstream":
        raise PlannerInputError(f"'{name}' is a loss law, not a downstream-error map: pass it with --law")
    return downstream_from_table(name, raw, origin=str(path))


def law_entries() -> list[dict[str, Any]]:
    """Every preset and saved law (loss laws and downstream maps) as plain dicts, for listing.
    A saved file that cannot be read is listed as ``unreadable`` with the reason."""
    from planner.laws.curve_catalog import curve_entries

    entries: list[dict[str, Any]] = [law.to_dict() for law in presets().values()]
    curves = curve_entries()
    curve_names = {e["name"] for e in curves}
    for name, path in saved_laws().items():
        if name in curve_names:
            continue
        try:
            entries.append(get_law(name).to_dict())
        except PlannerInputError:
            try:
                m = get_downstream(name)
            except PlannerInputError as exc:
                entries.append({"name": name, "form": "unreadable", "origin": str(path), "source": str(exc)})
                continue
            entries.append({"name": name, "form": "downstream", "k": m.k, "gamma": m.gamma, "epsilon": m.epsilon,
                            "origin": str(path), "source": m.source, "bootstrap_draws": len(m.draws)})
    return entries + curves
