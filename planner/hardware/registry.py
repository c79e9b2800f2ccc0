"""The accelerator registry: datasheet figures in SI units, with their sources.

The shipped entries live in ``planner/data/hardware.toml`` (human units in the key names,
a source and date on every entry). Users add or override entries from their own TOML files
with the same keys; an override of a shipped entry may give only the keys it changes.

>>> from planner.hardware import load_registry
>>> h100 = load_registry(user_config=False).get("H100")
>>> h100.id, h100.peak_flops_per_s("bf16")
('h100-sxm', 989400000000000.0)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.errors import PlannerInputError
from planner.io.config import user_hardware_file
from planner.io.toml import check_keys, load_packaged_toml, load_toml_file, unknown_name
from planner.validate import check_positive

__all__ = ["PRECISIONS", "Accelerator", "HardwareRegistry", "load_registry"]

#: Precisions a plan can be priced at, and the registry key holding each peak.
PRECISIONS = ("bf16", "fp8", "fp4")

# TOML key -> (attribute, factor to SI). Keys carry their unit; attributes carry SI.
_NUMERIC_KEYS: dict[str, tuple[str, float]] = {
    "bf16_tflops": ("bf16_flops_per_s", 1e12),
    "fp8_tflops": ("fp8_flops_per_s", 1e12),
    "fp4_tflops": ("fp4_flops_per_s", 1e12),
    "int8_tops": ("int8_ops_per_s", 1e12),
    "int4_tops": ("int4_ops_per_s", 1e12),
    "hbm_gb": ("hbm_bytes", 1e9),
    "hbm_mib_reported": ("hbm_reported_bytes", 2.0**20),
    "hbm_tb_per_s": ("hbm_bytes_per_s", 1e12),
    "intra_node_gb_per_s": ("intra_node_link_bytes_per_s", 1e9),
    "intra_package_gb_per_s": ("intra_package_link_bytes_per_s", 1e9),
    "inter_node_gbit_per_s": ("inter_node_link_bytes_per_s", 1e9 / 8),
    "tdp_w": ("tdp_w", 1.0),
    "default_mfu": ("default_mfu", 1.0),
    "fp8_mfu": ("fp8_mfu", 1.0),
    "fp4_mfu": ("fp4_mfu", 1.0),
    "gemm_efficiency_max": ("gemm_efficiency_max", 1.0),
    "gemm_efficiency_max_fp8": ("gemm_efficiency_max_fp8", 1.0),
}
_INT_KEYS = {"devices_per_node", "devices_per_package"}
_TEXT_KEYS = {"name", "vendor", "source", "date", "notes", "mfu_source", "fp8_mfu_source", "fp4_mfu_source", "price_source",
              "gemm_source", "attention_source", "hbm_reported_source"}
_OTHER_KEYS = {"aliases", "price_usd_per_gpu_hour", "attention_tflops_by_seq"}
_ALLOWED = set(_NUMERIC_KEYS) | _INT_KEYS | _TEXT_KEYS | _OTHER_KEYS
_REQUIRED = (
    "name",
    "bf16_tflops",
    "hbm_gb",
    "hbm_tb_per_s",
    "intra_node_gb_per_s",
    "inter_node_gbit_per_s",
    "devices_per_node",
    "source",
)


@dataclass(frozen=True)
class Accelerator:
    """One device as the planner sees it. All figures per device, SI units, dense.

    Link bandwidths are per direction. ``devices_per_node`` counts the devices sharing the
    fast intra-node link (NVLink domain, TPU ICI slice).
    """

    id: str
    name: str
    bf16_flops_per_s: float
    hbm_bytes: float
    hbm_bytes_per_s: float
    intra_node_link_bytes_per_s: float
    inter_node_link_bytes_per_s: float
    devices_per_node: int
    source: str
    vendor: str = ""
    date: str = ""
    notes: str = ""
    aliases: tuple[str, ...] = ()
    fp8_flops_per_s: float | None = None
    fp4_flops_per_s: float | None = None
    int8_ops_per_s: float | None = None
    int4_ops_per_s: float | None = None
    intra_package_link_bytes_per_s: float | None = None
    devices_per_package: int = 1
    tdp_w: float | None = None
    default_mfu: float | None = None
    mfu_source: str = ""
    #: Measured MFU of FP8 / FP4 training, as a fraction of that precision's peak.
    fp8_mfu: float | None = None
    fp8_mfu_source: str = ""
    fp4_mfu: float | None = None
    fp4_mfu_source: str = ""
    #: Measured fraction of peak that large GEMMs reach (e.g. from a cuBLAS benchmark), BF16
    #: and FP8. Unset: the step-time model uses Calculon's A100 curve (0.95 for large GEMMs).
    gemm_efficiency_max: float | None = None
    gemm_efficiency_max_fp8: float | None = None
    gemm_source: str = ""
    #: Measured causal flash-attention throughput (forward + backward, BF16, FLOPs counted
    #: with the causal halving) at a few sequence lengths: ((seq, FLOP/s), ...). Unset: the
    #: attention GEMMs are timed on the GEMM curve, which is optimistic for these kernels.
    attention_flops_by_seq: tuple[tuple[float, float], ...] = ()
    attention_source: str = ""
    #: Device memory as the driver reports it (NVML's total), where measured. Datasheets print
    #: binary capacities in decimal units ("80 GB" is 80 GiB, 85.9e9 bytes), so the printed
    #: figure understates what a framework can allocate by about 7 %.
    hbm_reported_bytes: float | None = None
    hbm_reported_source: str = ""
    price_usd_per_gpu_hour: tuple[float, float] | None = None
    price_source: str = ""
    origin: str = field(default="builtin", compare=False)

    def __post_init__(self) -> None:
        # Binary versus decimal units part the two figures by 7.4 %; more means a typo.
        if self.hbm_reported_bytes is not None and not 0.9 <= self.hbm_reported_bytes / self.hbm_bytes <= 1.1:
            raise PlannerInputError(f"hardware entry [{self.id}]: 'hbm_mib_reported' ({self.hbm_reported_bytes / 2**20:.0f} MiB) "
                                    f"is not within 10 % of 'hbm_gb' ({self.hbm_bytes / 1e9:g} GB)")

    def peak_flops_per_s(self, precision: str = "bf16") -> float:
        """Dense peak FLOP/s at ``precision``; a clear error where the device has none."""
        if precision not in PRECISIONS:
            raise PlannerInputError(
                f"unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}"
            )
        value = getattr(self, f"{precision}_flops_per_s")
        if value is None:
            raise PlannerInputError(f"{self.id} has no dense {precision} peak in the registry")
        return value

    def mfu_prior(self, precision: str = "bf16") -> tuple[float | None, str, bool]:
        """(MFU at ``precision``'s peak, its source, whether it was measured at that precision).

        BF16 is the registry's ``default_mfu``. FP8/FP4 use their own measured MFU; where none
        is measured, the conservative rule: training at that precision is no faster than BF16
        (the BF16 MFU rescaled to the lower-precision peak), never the BF16 MFU on a higher peak.
        """
        if precision == "bf16":
            return self.default_mfu, self.mfu_source, self.default_mfu is not None
        peak = self.peak_flops_per_s(precision)
        measured = getattr(self, f"{precision}_mfu")
        if measured is not None:
            return measured, getattr(self, f"{precision}_mfu_source"), True
        if self.default_mfu is None:
            return None, "", False
        return (self.default_mfu * self.bf16_flops_per_s / peak,
                f"no measured {precision} MFU for {self.id}: assumes {precision} trains no faster than bf16 "
                f"(bf16 MFU {self.default_mfu:.0%} x bf16/{precision} peak), a conservative planner rule", False)

    @property
    def memory_capacity_bytes(self) -> float:
        """Bytes a process can place on the device: the driver-reported total where measured,
        else the datasheet's capacity (which may understate it)."""
        return self.hbm_reported_bytes if self.hbm_reported_bytes is not None else self.hbm_bytes

    @property
    def arithmetic_intensity_flop_per_byte(self) -> float:
        """BF16 peak over HBM bandwidth: decode is memory-bound below this batch size."""
        return self.bf16_flops_per_s / self.hbm_bytes_per_s

    def gemm_ceiling(self, precision: str = "bf16") -> float | None:
        """Measured large-GEMM fraction of ``precision``'s peak (None: not measured)."""
        return self.gemm_efficiency_max_fp8 if precision in ("fp8", "fp4") else self.gemm_efficiency_max

    def attention_flops_per_s_at(self, seq: float) -> float | None:
        """Measured causal flash-attention FLOP/s at sequence length ``seq``: interpolated in
        log(seq) between the measured lengths, held flat outside them (None: not measured)."""
        if not self.attention_flops_by_seq:
            return None
        xs = [math.log(q) for q, _ in self.attention_flops_by_seq]
        ys = [f for _, f in self.attention_flops_by_seq]
        x = math.log(max(seq, 1.0))
        if x <= xs[0]:
            return ys[0]
        for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
            if x <= x1:
                return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        return ys[-1]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


def _positive(where: str, key: str, value: Any) -> float:
    return check_positive(f"'{key}'", value, where=where)  # type: ignore[return-value]


def _convert(hw_id: str, raw: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """Validate one TOML table and convert it to Accelerator keyword arguments."""
    where = f"hardware entry [{hw_id}] ({origin})"
    check_keys(where, raw, _ALLOWED)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _NUMERIC_KEYS:
            attr, factor = _NUMERIC_KEYS[key]
            kwargs[attr] = _positive(where, key, value) * factor
            if key in ("default_mfu", "gemm_efficiency_max", "gemm_efficiency_max_fp8") and not value <= 1:
                raise PlannerInputError(f"{where}: '{key}' must be in (0, 1], got {value}")
        elif key in _INT_KEYS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PlannerInputError(f"{where}: '{key}' must be a positive integer")
            kwargs[key] = value
        elif key in _TEXT_KEYS:
            if not isinstance(value, str):
                raise PlannerInputError(f"{where}: '{key}' must be a string")
            kwargs[key] = value
        elif key == "aliases":
            if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
                raise PlannerInputError(f"{where}: 'aliases' must be a list of strings")
            kwargs["aliases"] = tuple(a.lower() for a in value)
        elif key == "attention_tflops_by_seq":
            if not isinstance(value, list) or not value or not all(isinstance(pt, list) and len(pt) == 2 for pt in value):
                raise PlannerInputError(f"{where}: 'attention_tflops_by_seq' must be a list of [sequence length, TFLOP/s] pairs")
            pts = tuple((_positive(where, key, q), _positive(where, key, f) * 1e12) for q, f in value)
            if any(b[0] <= a[0] for a, b in zip(pts, pts[1:])):
                raise PlannerInputError(f"{where}: 'attention_tflops_by_seq' sequence lengths must increase")
            kwargs["attention_flops_by_seq"] = pts
        elif key == "price_usd_per_gpu_hour":
            if not isinstance(value, list) or len(value) != 2:
                raise PlannerInputError(f"{where}: 'price_usd_per_gpu_hour' must be [low, high]")
            low, high = (_positive(where, key, v) for v in value)
            if low > high:
                raise PlannerInputError(f"{where}: price range low {low} is above high {high}")
            kwargs[key] = (low, high)
    return kwargs


class HardwareRegistry(Mapping[str, Accelerator]):
    """Accelerators by id, with case-insensitive alias lookup and suggestions."""

    def __init__(self, entries: Iterable[Accelerator]) -> None:
        self._by_id: dict[str, Accelerator] = {}
        for acc in entries:
            self._by_id[acc.id] = acc
        self._alias: dict[str, str] = {}
        for acc in self._by_id.values():
            for alias in acc.aliases:
                self._alias.setdefault(alias, acc.id)
        for hw_id in self._by_id:  # an id always wins over another entry's alias
            self._alias[hw_id] = hw_id

    def __getitem__(self, key: str) -> Accelerator:
        return self._by_id[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, name: str) -> Accelerator:  # type: ignore[override]
        """Look ``name`` up by id or alias, ignoring case; unknown names raise with hints."""
        key = name.strip().lower()
        if key in self._alias:
            return self._by_id[self._alias[key]]
        raise unknown_name("accelerator", name, self._alias)

    def with_file(self, path: str | Path) -> HardwareRegistry:
        """A new registry with the entries of a user TOML file added or merged in."""
        data = load_toml_file(path, "hardware")
        return self._merged(data, origin=str(path))

    def _merged(self, data: Mapping[str, Any], origin: str) -> HardwareRegistry:
        entries = dict(self._by_id)
        for raw_id, table in data.items():
            hw_id = raw_id.lower()
            if not isinstance(table, dict):
                raise PlannerInputError(
                    f"hardware file {origin}: '{raw_id}' must be a table like [{raw_id}]"
                )
            kwargs = _convert(hw_id, table, origin)
            if hw_id in entries:  # partial override of a known entry
                base = entries[hw_id]
                merged = {n: getattr(base, n) for n in base.__dataclass_fields__}
                merged.update(kwargs)
                if "hbm_gb" in table and "hbm_mib_reported" not in table:  # a new capacity: the old reading no longer holds
                    merged["hbm_reported_bytes"], merged["hbm_reported_source"] = None, ""
                merged["origin"] = origin
                entries[hw_id] = Accelerator(**merged)
                continue
            missing = [k for k in _REQUIRED if k not in table]
            if missing:
                raise PlannerInputError(
                    f"hardware entry [{hw_id}] ({origin}) is new and lacks: {', '.join(missing)}"
                )
            entries[hw_id] = Accelerator(id=hw_id, origin=origin, **kwargs)
        return HardwareRegistry(entries.values())


@functools.cache
def _builtin_registry() -> HardwareRegistry:
    """The shipped entries (read-only: every merge builds a new registry)."""
    return HardwareRegistry(())._merged(load_packaged_toml("hardware.toml"), "builtin")


def load_registry(
    extra_files: Iterable[str | Path] = (), *, user_config: bool = True
) -> HardwareRegistry:
    """The shipped registry, then the per-user file (if any), then ``extra_files`` (the files are
    read on every call, so an edit shows at once; the shipped part is parsed once)."""
    registry = _builtin_registry()
    if user_config and user_hardware_file().is_file():
        registry = registry.with_file(user_hardware_file())
    for path in extra_files:
        registry = registry.with_file(path)
    return registry
