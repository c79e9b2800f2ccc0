"""Parallel layouts: enumerate, evaluate, search, explain, export.

A layout is (t, p, d, c, v, b, recompute, sequence parallelism, ZeRO stage) for a model
shape on ``n`` GPUs with a global batch of ``B`` sequences. ``B`` is given, or chosen per
layout from a :class:`BatchTarget` (the multiple of DP x micro-batch nearest a target
batch, within a tolerance factor); layouts are then ranked by time per sequence, so
different batches compare fairly. Fields the caller fixes are held; the rest are searched -- exhaustively (vectorised, memory-pruned; the ground truth)
or with optuna's TPE warm-started from the usual heuristics (TP inside a node, PP across
nodes, the smallest model-parallel size that fits).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.defaults import (
    DEFAULT_MEMORY_RESERVE_FRACTION,
    DEFAULT_TOP_LAYOUTS,
    DEFAULT_TP_COMM_OVERLAP,
)
from planner.errors import InfeasiblePlanError, PlannerInputError
from planner.hardware.registry import Accelerator
from planner.systems.perf import (
    RECOMPUTE,
    Calibration,
    evaluate,
    load_calibration,
    memory_per_gpu,
)
from planner.systems.shape import ModelShape, divisors, pipeline_split

__all__ = ["FIELDS", "BatchTarget", "Layout", "LayoutResult", "LayoutSearch", "calibration_warnings", "candidates", "evaluate_layout", "forget_searches", "search_layouts"]

FIELDS = ("t", "p", "d", "c", "v", "b", "recompute", "sp", "zero")
_MICRO_BATCHES = (1, 2, 4, 8, 16)
_CP = (1, 2, 4, 8)
_MAX_V = 8


@dataclass(frozen=True)
class BatchTarget:
    """A global batch to aim for (sequences; e.g. the Step Law's) and how far a layout may
    round it: each layout gets the multiple of its DP x micro-batch nearest ``sequences``,
    kept only within ``[sequences / tolerance, sequences * tolerance]``."""

    sequences: float
    tolerance: float

    def for_unit(self, unit: int) -> int:
        """The batch for a DP x micro-batch ``unit``; 0 where no multiple is in range (round
        half to even, as numpy rounds)."""
        batch = max(1, round(self.sequences / unit)) * unit
        ok = self.sequences / self.tolerance - 1e-9 <= batch <= self.sequences * self.tolerance + 1e-9
        return int(batch) if ok else 0


@dataclass(frozen=True)
class Layout:
    t: int
    p: int
    d: int
    c: int
    v: int
    b: int
    recompute: str
    sp: bool
    zero: int

    def to_dict(self) -> dict[str, Any]:
        return {"tp": self.t, "pp": self.p, "dp": self.d, "cp": self.c, "vp": self.v, "micro_batch": self.b,
                "recompute": self.recompute, "sequence_parallel": self.sp, "zero": self.zero}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Layout:
        """The way back from :meth:`to_dict` (a plan's JSON document)."""
        return cls(d["tp"], d["pp"], d["dp"], d["cp"], d["vp"], d["micro_batch"], d["recompute"], bool(d["sequence_parallel"]),
                   d["zero"])

    def __str__(self) -> str:
        return (f"TP{self.t} PP{self.p} DP{self.d} CP{self.c} VP{self.v} mb{self.b} "
                f"{self.recompute}{' SP' if self.sp else ''} ZeRO-{self.zero}")


@dataclass(frozen=True)
class LayoutResult:
    layout: Layout
    step_time_s: float
    mfu: float
    hfu: float
    tokens_per_s: float
    memory_per_gpu_bytes: float
    usable_bytes: float
    fits: bool
    breakdown: dict[str, float] = field(default_factory=dict)
    global_batch: int = 0  # sequences per step

    def to_dict(self) -> dict[str, Any]:
        return {"layout": self.layout.to_dict(), "global_batch": self.global_batch, "step_time_s": self.step_time_s, "mfu": self.mfu, "hfu": self.hfu,
                "tokens_per_s": self.tokens_per_s, "memory_per_gpu_bytes": self.memory_per_gpu_bytes,
                "usable_memory_bytes": self.usable_bytes, "fits": self.fits, "breakdown": dict(self.breakdown)}


@dataclass(frozen=True)
class LayoutSearch:
    best: LayoutResult
    top: tuple[LayoutResult, ...]
    method: str
    evaluated: int
    space_size: int
    why: str
    calibration: Calibration
    shape: ModelShape
    global_batch: int
    n_gpus: int

    @property
    def tokens_per_s(self) -> float:
        return self.best.tokens_per_s

    def to_dict(self, record: bool = True) -> dict[str, Any]:
        """The layout JSON (one formula for ``plan`` and ``plan layout``): the best layout's
        fields at the top, then the search; ``record`` adds the full record for round trips."""
        from planner._codec import to_data

        doc = {
            **self.best.to_dict(), "shape": self.shape.to_dict(), "global_batch": self.global_batch, "n_gpus": self.n_gpus,
            "method": self.method, "evaluated": self.evaluated, "space_size": self.space_size, "why": self.why,
            "top": [r.to_dict() for r in self.top], "calibration": {"family": self.calibration.family, "source": self.calibration.source},
        }
        if record:
            doc["search"] = to_data(self)
        return doc


@functools.lru_cache(maxsize=4096)
def _virtual_stages(layers: int, p: int) -> tuple[int, ...]:
    """Interleaving depths v for ``p`` stages: v divides the (longest) stage's layers, and an
    uneven split's shorter first and last stages each lose at most one chunk's worth (as
    Llama 3 405B's 126 layers on PP16: 7 / 8 ... 8 / 7)."""
    if p == 1:
        return (1,)
    first, middle, last = pipeline_split(layers, p)
    return tuple(v for v in divisors(middle) if v <= _MAX_V and max(middle - first, middle - last) <= middle // v)


@functools.lru_cache(maxsize=1024)
def _stage_counts(layers: int) -> tuple[int, ...]:
    """Pipeline sizes searched: the divisors of the layer count, and the powers of two that
    split it unevenly (Megatron's first/last-stage split; Llama 3 405B ran 126 layers on PP16)."""
    return tuple(sorted(set(divisors(layers)) | {2**k for k in range(1, 8) if pipeline_split(layers, 2**k) is not None}))


def candidates(shape: ModelShape, accel: Accelerator, n_gpus: int, global_batch: int | BatchTarget,
               fixed: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every layout consistent with ``fixed`` and the divisibility rules, as arrays (``B``:
    each layout's global batch)."""
    def choices(name: str, default: list) -> list:
        return [fixed[name]] if fixed.get(name) is not None else default

    tps = [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= accel.devices_per_node and shape.heads % t == 0
           and shape.kv_heads % t == 0 and shape.ffn % t == 0]
    heads: list[tuple[int, ...]] = []  # (t, p, d, c, v, b, batch); each is crossed with the tail below
    tail = np.array(list(itertools.product(choices("recompute", [0, 1, 2]), choices("sp", [0, 1]), choices("zero", [0, 1, 2, 3]))),
                    dtype=np.int64)
    tail_no_sp = tail[tail[:, 1] == 0] if fixed.get("sp") is None else tail
    for t in choices("t", tps):
        for c in choices("c", [c for c in _CP if shape.seq % (2 * c) == 0 or c == 1]):
            for p in choices("p", _stage_counts(shape.layers)):
                if n_gpus % (t * c * p):
                    continue
                d = n_gpus // (t * c * p)
                if fixed.get("d") is not None and fixed["d"] != d:
                    continue
                for b in choices("b", list(_MICRO_BATCHES)):
                    if isinstance(global_batch, BatchTarget):
                        batch = global_batch.for_unit(b * d)
                        if batch == 0:
                            continue
                    elif global_batch % (b * d):
                        continue
                    else:
                        batch = global_batch
                    m = batch // (b * d)
                    vs = [v for v in _virtual_stages(shape.layers, p) if v == 1 or m % p == 0]
                    heads += [(t, p, d, c, v, b, batch) for v in choices("v", vs)]
    blocks = []
    for multi_tp, tails in ((False, tail_no_sp), (True, tail)):  # SP only with TP > 1; order kept below
        h = np.array([x for x in heads if (x[0] > 1) == multi_tp], dtype=np.int64).reshape(-1, 7)
        if h.size and tails.size:
            blocks.append((np.flatnonzero([(x[0] > 1) == multi_tp for x in heads]), h, tails))
    if not blocks:
        what = (f"a global batch within {global_batch.tolerance:g}x of {global_batch.sequences:,.0f} sequences"
                if isinstance(global_batch, BatchTarget) else f"global batch {global_batch} sequences")
        raise PlannerInputError(
            f"no layout of {n_gpus} GPUs fits the constraints ({what}, "
            f"{shape.layers} layers, {shape.heads} heads): check that the GPU count, batch and fixed flags divide evenly"
        )
    # Rows in the order of the loops above: head-major, the tail varying fastest.
    width = len(tail)  # the longest tail: a head's rows sort before the next head's
    order = np.concatenate([np.repeat(pos * width, len(tails)) + np.tile(np.arange(len(tails)), len(pos)) for pos, _, tails in blocks])
    arr = np.concatenate([np.hstack([np.repeat(h, len(tails), axis=0), np.tile(tails, (len(h), 1))]) for _, h, tails in blocks])
    arr = arr[np.argsort(order, kind="stable")]
    cols = dict(zip(("t", "p", "d", "c", "v", "b", "B", "recompute", "sp", "zero"), arr.T, strict=True))
    return {name: np.ascontiguousarray(cols[name]) for name in (*FIELDS, "B")}


def _result(res: dict[str, np.ndarray], i: int, cands: dict[str, np.ndarray], usable: float) -> LayoutResult:
    lay = Layout(*(int(cands[k][i]) for k in ("t", "p", "d", "c", "v", "b")), recompute=RECOMPUTE[int(cands["recompute"][i])],
                 sp=bool(cands["sp"][i] and cands["t"][i] > 1), zero=int(cands["zero"][i]))
    parts = ("compute_s", "bubble_s", "tp_comm_s", "cp_comm_s", "dispatch_s", "pp_comm_s", "dp_exposed_s", "optimizer_s")
    return LayoutResult(
        layout=lay,
        step_time_s=float(res["step_time_s"][i]),
        mfu=float(res["mfu"][i]),
        hfu=float(res["hfu"][i]),
        tokens_per_s=float(res["tokens_per_s"][i]),
        memory_per_gpu_bytes=float(res["memory_per_gpu_bytes"][i]),
        usable_bytes=usable,
        fits=bool(res["fits"][i]),
        breakdown={k.removesuffix("_s"): float(res[k][i]) for k in parts},
        global_batch=int(cands["B"][i]),
    )


def _heuristics(cands: dict[str, np.ndarray], shape: ModelShape, accel: Accelerator, fits: np.ndarray) -> list[int]:
    """Narayanan et al.'s rules: TP up to a node, PP across nodes, smallest model parallelism
    that fits, selective recompute with SP, distributed optimizer."""
    idx = np.flatnonzero(fits)
    if idx.size == 0:
        return []
    mp = cands["t"][idx] * cands["p"][idx] * cands["c"][idx]
    prefer = np.lexsort((-(cands["t"][idx]), cands["c"][idx], cands["recompute"][idx] != 1, cands["zero"][idx] != 1, mp))
    return [int(idx[j]) for j in prefer[:5]]


def _per_sequence(r: LayoutResult) -> float:
    return r.step_time_s / max(1, r.global_batch)


def _runner_up(top: tuple[LayoutResult, ...]) -> LayoutResult | None:
    """The first layout after the best whose time per sequence differs by more than 0.1 %."""
    for r in top[1:]:
        if _per_sequence(r) > _per_sequence(top[0]) * 1.001:
            return r
    return None


def _why(best: LayoutResult, other: LayoutResult | None) -> str:
    if other is None:
        return (f"fastest layout that fits; the next candidates tie on step time, and the lowest ZeRO stage and "
                f"recompute among them is kept; uses {best.memory_per_gpu_bytes / 1e9:.1f} of {best.usable_bytes / 1e9:.1f} GB")
    gain = _per_sequence(other) / _per_sequence(best) - 1
    same_batch = other.global_batch == best.global_batch
    scale = 1.0 if same_batch else best.global_batch / max(1, other.global_batch)  # other's parts at best's batch
    diffs = {k: other.breakdown[k] * scale - best.breakdown[k] for k in best.breakdown}
    k = max(diffs, key=diffs.get)
    label = {"compute": "compute (incl. recompute)", "bubble": "pipeline bubble", "tp_comm": "tensor-parallel traffic",
             "cp_comm": "context-parallel traffic", "dispatch": "GPU idle waiting on kernel launches", "pp_comm": "pipeline messages", "dp_exposed": "exposed data-parallel traffic",
             "optimizer": "optimizer step"}[k]
    per = "per step" if same_batch else f"per {best.global_batch} sequences (the runner-up's batch is {other.global_batch})"
    return (f"{gain:.1%} faster than the runner-up ({other.layout}): {diffs[k]:.3g} s less {label} {per}; "
            f"uses {best.memory_per_gpu_bytes / 1e9:.1f} of {best.usable_bytes / 1e9:.1f} GB")


def search_layouts(
    shape: ModelShape,
    accel: Accelerator,
    n_gpus: int,
    global_batch: int | BatchTarget,
    *,
    fixed: dict[str, Any] | None = None,
    method: str = "exhaustive",
    top_k: int = DEFAULT_TOP_LAYOUTS,
    trials: int | None = None,
    seed: int = 0,
    calibration: Calibration | None = None,
    precision: str = "bf16",
    memory_reserve_fraction: float = DEFAULT_MEMORY_RESERVE_FRACTION,
    flash_attention: bool = True,
    tp_overlap: bool = DEFAULT_TP_COMM_OVERLAP,
    storage: Any = None,
    study: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LayoutSearch:
    """Best layouts by time per sequence (step time at a given batch) among those that fit.
    ``fixed`` holds the given fields; a :class:`BatchTarget` lets each layout round the batch.
    A Bayesian search with an optuna ``storage`` and ``study`` name resumes and can be shared."""
    from solvers.discrete import bayesian, exhaustive

    target = global_batch.sequences if isinstance(global_batch, BatchTarget) else global_batch
    if n_gpus < 1 or target < 1:
        raise PlannerInputError("--gpus and --global-batch must be positive")
    cal = calibration or load_calibration(accel)
    fixed = {k: v for k, v in (fixed or {}).items() if v is not None}
    key = None
    if method == "exhaustive" and storage is None and progress is None:
        key = (shape, accel, n_gpus, _batches_seen(global_batch, n_gpus), tuple(sorted(fixed.items())), top_k, cal,
               precision, memory_reserve_fraction, flash_attention, tp_overlap)
        if key in _SEARCHED:
            return _SEARCHED[key]
    cands = candidates(shape, accel, n_gpus, global_batch, fixed)
    kw = dict(flash_attention=flash_attention, memory_reserve_fraction=memory_reserve_fraction)

    def feasible(c: dict[str, np.ndarray]) -> np.ndarray:
        return memory_per_gpu(shape, accel, c["B"], c, precision=precision, **kw)["fits"]

    def step_time(c: dict[str, np.ndarray]) -> np.ndarray:  # per sequence: batches may differ
        return evaluate(shape, accel, n_gpus, c["B"], c, cal, precision=precision, tp_overlap=tp_overlap, step_only=True, **kw)["step_time_s"] / c["B"]

    if method == "exhaustive":
        found = exhaustive(cands, feasible, step_time)
    elif method == "bayesian":
        fits = feasible(cands)
        n_trials = trials or int(min(400, max(50, len(fits) // 20)))
        found = bayesian(cands, feasible, step_time, n_trials=n_trials, seed=seed, warm_starts=_heuristics(cands, shape, accel, fits),
                         storage=storage, study_name=study, progress=progress)
    else:
        raise PlannerInputError(f"unknown search method '{method}'; use exhaustive or bayesian")
    if found.order.size == 0:
        mem = memory_per_gpu(shape, accel, cands["B"], cands, precision=precision, **kw)
        i = int(np.argmin(mem["memory_per_gpu_bytes"]))
        over = mem["memory_per_gpu_bytes"][i] - mem["usable_bytes"][i]
        raise InfeasiblePlanError(
            f"no layout fits in memory: the smallest needs {mem['memory_per_gpu_bytes'][i] / 1e9:.1f} GB per GPU, "
            f"{over / 1e9:.1f} GB over the {mem['usable_bytes'][i] / 1e9:.1f} GB usable on {accel.id}",
            "use more GPUs, a smaller micro-batch, or free the layout flags you fixed",
        )
    pick = found.order[:top_k]
    sub = {k: v[pick] for k, v in cands.items()}
    res = evaluate(shape, accel, n_gpus, sub["B"], sub, cal, precision=precision, tp_overlap=tp_overlap, **kw)
    usable = accel.memory_capacity_bytes * (1 - memory_reserve_fraction)
    top = tuple(_result(res, j, sub, usable) for j in range(len(pick)))
    out = LayoutSearch(best=top[0], top=top, method=found.method, evaluated=found.evaluated, space_size=found.space_size,
                       why=_why(top[0], _runner_up(top)), calibration=cal, shape=shape,
                       global_batch=top[0].global_batch, n_gpus=n_gpus)
    if key is not None:
        if len(_SEARCHED) >= _SEARCHED_MAX:
            _SEARCHED.clear()
        _SEARCHED[key] = out
    return out


# Exhaustive searches already run, by everything they depend on: a plan's cluster stage asks
# again for the same model on the same sizes once its fixed point settles (the batch target
# moving in its last digits, which changes no layout's rounded batch). Bounded; records are frozen.
_SEARCHED: dict[tuple, LayoutSearch] = {}
_SEARCHED_MAX = 512  # a planner choice: a sweep point's searches, many times over


def forget_searches() -> None:
    """Drop every remembered search: the next :func:`search_layouts` call searches afresh
    (for timing a cold search, or holding the memo to a search with nothing remembered)."""
    _SEARCHED.clear()


def _batches_seen(global_batch: int | BatchTarget, n_gpus: int) -> int | tuple[int, ...]:
    """What a search sees of the batch: the global batch, or each DP x micro-batch's rounding."""
    if not isinstance(global_batch, BatchTarget):
        return global_batch
    return tuple(global_batch.for_unit(b * d) for d in divisors(n_gpus) for b in _MICRO_BATCHES)


def evaluate_layout(shape: ModelShape, accel: Accelerator, n_gpus: int, global_batch: int, layout: Layout, **kw: Any) -> LayoutResult:
    """Memory and step time of one fully specified layout (fits or not)."""
    cal = kw.pop("calibration", None) or load_calibration(accel)
    kw.setdefault("tp_overlap", DEFAULT_TP_COMM_OVERLAP)
    arr = {"t": layout.t, "p": layout.p, "d": layout.d, "c": layout.c, "v": layout.v, "b": layout.b,
           "recompute": RECOMPUTE.index(layout.recompute), "sp": int(layout.sp), "zero": layout.zero}
    arr = {k: np.array([v]) for k, v in arr.items()}
    arr["B"] = np.array([global_batch])
    res = evaluate(shape, accel, n_gpus, global_batch, arr, cal, **kw)
    usable = accel.memory_capacity_bytes * (1 - kw.get("memory_reserve_fraction", DEFAULT_MEMORY_RESERVE_FRACTION))
    return _result(res, 0, arr, usable)


def calibration_warnings(accel: Accelerator, cal: Calibration) -> list[str]:
    """What a user should know about how far the step-time model was checked on ``accel``."""
    out = []
    if cal.family != accel.vendor.lower():
        out.append(f"the step-time model is calibrated on {cal.family} A100 runs only; {accel.id} ({accel.vendor}) uses that calibration unmeasured")
    if accel.gemm_efficiency_max is None:
        out.append(f"no measured GEMM efficiency for {accel.id}: large GEMMs are assumed to reach 95 % of peak (Calculon's "
                   "A100 table); measured parts reach 51-87 %, so MFU may be optimistic. Set gemm_efficiency_max in a hardware file")
    if not accel.attention_flops_by_seq:
        out.append(f"no measured flash-attention throughput for {accel.id}: attention is timed on the GEMM curve, which "
                   "is optimistic for these kernels. Set attention_tflops_by_seq in a hardware file")
    return out
