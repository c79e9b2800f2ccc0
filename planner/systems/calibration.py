"""Calibrating the step-time model against measured training runs.

The measured runs (``planner/data/measured``, see its README: Narayanan et al. 2021 Table 1, Korthikanti et al.
2022 Table 5, vTrain's multi- and single-node A100 measurements) are turned into
:class:`Case` objects: a model shape, a cluster, the layout fields the paper gives and the
measured number. Fields a paper leaves out (Narayanan's micro-batch and interleaving) are
searched, taking the fastest predicted value, as the authors tuned them.

``fit_calibration`` fits the seven constants of :class:`~planner.perf.Calibration` by least
squares on log step time; ``benchmarks/calibrate.py`` runs it and prints the table that
``planner/data/calibration.toml`` ships. Nothing here runs when planning.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from planner.hardware.registry import Accelerator, load_registry
from planner.systems.perf import Calibration, evaluate
from planner.systems.shape import ModelShape

__all__ = ["LLAMA3_405B_H100", "Case", "fit_calibration", "hardware_flops_per_step", "llama3_errors", "load_cases", "predict", "relative_errors"]

A100_PEAK = 312e12  # dense FP16/BF16, NVIDIA A100 datasheet


@dataclass(frozen=True)
class Case:
    source: str
    shape: ModelShape
    n_gpus: int
    global_batch: int
    fixed: dict  # layout fields given by the source
    search: dict  # field -> candidate values (unknown in the source)
    measured: float  # seconds per iteration, or TFLOP/s per GPU (hardware FLOPs)
    metric: str  # "iter_s" or "hfu_tflops"
    flash_attention: bool = False


def _gpt(hidden: int, heads: int, layers: int, seq: int, vocab: int = 51200) -> ModelShape:
    return ModelShape(layers=layers, hidden=hidden, heads=heads, kv_heads=heads, ffn=4 * hidden, vocab=vocab, seq=seq, mlp="gelu", tied_embeddings=True)


def _divisors(x: int) -> list[int]:
    return [k for k in range(1, x + 1) if x % k == 0]


def load_cases(data_dir: str | Path | None = None) -> dict[str, list[Case]]:
    """All calibration cases by data set: ``published``, ``vtrain_multi``, ``vtrain_single``
    (default: the measurements shipped in ``planner/data/measured``)."""
    from planner.io.config import measured_data_dir

    data = Path(data_dir) if data_dir is not None else measured_data_dir()
    out: dict[str, list[Case]] = {"published": [], "vtrain_multi": [], "vtrain_single": []}
    with (data / "published_runs_a100.csv").open() as fh:
        for r in csv.DictReader(fh):
            shape = _gpt(int(float(r["hidden"])), int(float(r["heads"])), int(float(r["layers"])), int(float(r["seq"])), int(float(r["vocab"])))
            t, p, d = (int(float(r[k])) for k in ("TP", "PP", "DP"))
            rc = {"full": 2, "SP+selective": 1}[r["recompute"]]
            sp = 1 if "SP" in r["recompute"] else 0
            fixed = {"t": t, "p": p, "d": d, "c": 1, "recompute": rc, "sp": sp, "zero": 0}
            search: dict = {}
            if r["mbs"]:
                fixed["b"] = int(float(r["mbs"]))
            else:
                search["b"] = [1, 2, 4, 8]
            search["v"] = [v for v in _divisors(shape.layers // p) if v <= 8] if p > 1 else [1]
            metric = "hfu_tflops" if r["metric"].startswith("TFLOPs") else "iter_s"
            out["published"].append(Case(r["source"] + ":" + r["model"], shape, int(float(r["gpus"])), int(r["gbs"]), fixed, search, float(r["value"]), metric))
    for name, key in (("vtrain_a100_multinode.csv", "vtrain_multi"), ("vtrain_a100_singlenode.csv", "vtrain_single")):
        with (data / name).open() as fh:
            for r in csv.DictReader(fh):
                shape = _gpt(int(r["hidden size"]), int(r["attention heads"]), int(r["# layers"]), int(r["sequence length"]))
                fixed = {"t": int(r["tensor parallelism"]), "p": int(r["pipeline parallelism"]), "d": int(r["data parallelism"]),
                         "c": 1, "v": 1, "b": int(r["micro batch"]), "recompute": 2, "sp": 0, "zero": 0}
                out[key].append(Case(f"vTrain:{name}", shape, int(r["# GPUs"]), int(r["global batch"]), fixed, {}, float(r["iteration time (ms)"]) / 1e3, "iter_s"))
    return out


def _a100() -> Accelerator:
    return load_registry(user_config=False).get("a100-sxm-80gb")


def predict(case: Case, cal: Calibration, accel: Accelerator | None = None) -> float:
    """The model's number for ``case`` in the case's own metric (best over searched fields)."""
    accel = accel or _a100()
    names = list(case.search)
    combos = list(itertools.product(*case.search.values())) or [()]
    layout = {k: np.array([v] * len(combos)) for k, v in case.fixed.items()}
    for i, name in enumerate(names):
        layout[name] = np.array([combo[i] for combo in combos])
    ok = case.global_batch % (layout["b"] * layout["d"]) == 0
    if names and ok.any():
        layout = {k: v[ok] for k, v in layout.items()}
    res = evaluate(case.shape, accel, case.n_gpus, case.global_batch, layout, cal,
                   flash_attention=case.flash_attention, overlap_grad_reduce=False)
    step = float(np.min(res["step_time_s"]))
    if case.metric == "iter_s":
        return step
    return hardware_flops_per_step(case) / (step * case.n_gpus) / 1e12


def hardware_flops_per_step(case: Case) -> float:
    """FLOPs one step of ``case`` executes, recompute included (the HFU numerator)."""
    rc = {0: "none", 1: "selective", 2: "full"}[case.fixed["recompute"]]
    return case.shape.hardware_flops_per_token(rc) * case.global_batch * case.shape.seq


def relative_errors(cases: list[Case], cal: Calibration) -> np.ndarray:
    """(predicted - measured) / measured for every case."""
    accel = _a100()
    return np.array([(predict(c, cal, accel) - c.measured) / c.measured for c in cases])


def fit_calibration(cases: list[Case], start: Calibration, weights: np.ndarray | None = None) -> Calibration:
    """Weighted least squares on log(predicted / measured) over the seven constants."""
    from scipy.optimize import least_squares

    accel = _a100()
    w = np.sqrt(np.ones(len(cases)) if weights is None else np.asarray(weights, dtype=float))

    def make(x: np.ndarray) -> Calibration:
        return replace(start, memory_traffic=float(np.exp(x[0])), link_efficiency=float(1 / (1 + np.exp(-x[1]))),
                       collective_latency_s=float(np.exp(x[2])), layer_dispatch_s=float(np.exp(x[3])),
                       network_efficiency=float(1 / (1 + np.exp(-x[4]))), score_traffic=float(np.exp(x[5])),
                       overlap_exponent=float(1 + np.exp(x[6])))

    def resid(x: np.ndarray) -> np.ndarray:
        cal = make(x)
        pred = np.array([predict(c, cal, accel) for c in cases])
        meas = np.array([c.measured for c in cases])
        sign = np.array([1.0 if c.metric == "iter_s" else -1.0 for c in cases])  # TFLOP/s is inverse time
        return w * sign * np.log(pred / meas)

    x0 = np.array([np.log(start.memory_traffic), np.log(start.link_efficiency / (1 - start.link_efficiency)),
                   np.log(start.collective_latency_s), np.log(start.layer_dispatch_s),
                   np.log(start.network_efficiency / (1 - start.network_efficiency)), np.log(start.score_traffic),
                   np.log(max(start.overlap_exponent - 1, 1e-3))])
    # Memory-bound kernels write each stored activation byte once and read it at least once
    # more in the forward pass: the traffic factor is bounded below by 2, so the fit cannot
    # declare elementwise work free (the data alone barely separates it from GEMM time).
    lower = np.full(x0.size, -np.inf)
    lower[0] = np.log(2.0)
    x0[0] = max(x0[0], np.log(2.0) + 1e-6)
    res = least_squares(resid, x0, x_scale=1.0, diff_step=1e-3, bounds=(lower, np.full(x0.size, np.inf)))
    return make(res.x)


# Llama 3 405B pre-training on H100 (Dubey et al. 2024, "The Llama 3 Herd of Models",
# Table 4; the same rows are on Balaji's SC'24 slide): GPUs, TP, CP, PP, sequence length and
# measured BF16 model TFLOP/s per GPU, 16M tokens per batch. Not used in the fit: an
# out-of-sample check of the H100, flash-attention, GQA/SwiGLU path.
LLAMA3_405B_H100 = ((8192, 8, 1, 16, 8192, 430.0), (16384, 8, 1, 16, 8192, 400.0), (16384, 8, 16, 16, 131072, 380.0))


def llama3_errors(cal: Calibration | None = None) -> np.ndarray:
    """(predicted - measured) / measured TFLOP/s for the Llama 3 rows: the planner searches
    each layout with Meta's TP, CP and PP held, as ``plan layout --tp --cp --pp`` would."""
    from planner.systems.layout import search_layouts

    h100 = load_registry(user_config=False).get("h100")
    shape = ModelShape(layers=126, hidden=16384, heads=128, kv_heads=8, ffn=53248, vocab=128256, seq=8192, mlp="swiglu")
    out = []
    for gpus, t, c, p, seq, measured_tflops in LLAMA3_405B_H100:
        found = search_layouts(shape.with_(seq=seq), h100, gpus, 16 * 2**20 // seq, fixed={"t": t, "c": c, "p": p}, calibration=cal)
        out.append(found.best.mfu * h100.peak_flops_per_s("bf16") / 1e12 / measured_tflops - 1)
    return np.array(out)
