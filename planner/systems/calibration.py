"""Calibrating the step-time model against measured training runs.

The measured runs (``planner/data/measured``, see its README) are turned into :class:`Case`
objects: a model shape, an accelerator, a cluster, the layout fields the source gives and the
measured number. Fields a source leaves out (Narayanan's micro-batch and interleaving, the
micro-batch and recompute of Megatron-LM's H100 table) are searched, taking the fastest
predicted layout, as the authors tuned them.

Which rows fit constants and which only check is decided here, once, by rule:
* calibration (:func:`load_cases`): the A100 sets (Narayanan, Korthikanti, vTrain), every
  other row of Megatron-LM's H100 weak-scaling table (1.7B, 16B, 70B, 177B, 462B; BF16) and
  Megatron-Bridge's H100 rows of release 25.11 (8B, 70B, 405B; FP8) and its smallest model on
  B200 (8B) and on GB200 (70B), one FP8 efficiency per accelerator;
* checking only (:func:`load_check_cases`): the other weak-scaling rows (7.1B, 32B, 119B,
  314B), the GPT-3 strong-scaling end points, Meta's Llama 3 405B runs, and the other
  Megatron-Bridge rows (405B on B200 and GB200, NVFP4, and the H100 rows of releases 25.09 and
  26.02 -- the same models and layouts as 25.11 on other software, so a weak check).

``fit_calibration`` fits the eight constants of :class:`~planner.perf.Calibration` by soft-L1
least squares on log step time; ``benchmarks/calibrate.py`` runs it and prints the table that
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
from planner.systems.shape import ModelShape, divisors

__all__ = ["LLAMA3_405B_H100", "METRICS", "Case", "fit_calibration", "hardware_flops_per_step", "llama3_errors", "load_cases",
           "load_check_cases", "predict", "relative_errors"]

A100_PEAK = 312e12  # dense FP16/BF16, NVIDIA A100 datasheet


#: What a case's ``measured`` number is. Time per step grows with step time; the others shrink.
METRICS = ("iter_s", "hfu_tflops", "model_tflops", "tokens_per_s_per_gpu")


@dataclass(frozen=True)
class Case:
    source: str
    shape: ModelShape
    n_gpus: int
    global_batch: int
    fixed: dict  # layout fields given by the source
    search: dict  # field -> candidate values (unknown in the source)
    measured: float  # in ``metric``'s unit
    metric: str  # one of METRICS
    flash_attention: bool = False
    gpu: str = "a100-sxm-80gb"
    precision: str = "bf16"
    tp_overlap: bool = False  # Megatron's --tp-comm-overlap
    overlap_grad_reduce: bool = False  # Megatron's --overlap-grad-reduce
    pipeline_engine: str = "megatron-core"  # frameworks.PIPELINE_GATHERS
    fused_cross_entropy: bool = False  # Transformer Engine's fused loss kernel


def _gpt(hidden: int, heads: int, layers: int, seq: int, vocab: int = 51200) -> ModelShape:
    return ModelShape(layers=layers, hidden=hidden, heads=heads, kv_heads=heads, ffn=4 * hidden, vocab=vocab, seq=seq, mlp="gelu", tied_embeddings=True)


def load_cases(data_dir: str | Path | None = None) -> dict[str, list[Case]]:
    """All calibration cases by data set: ``published``, ``vtrain_multi``, ``vtrain_single``
    (default: the measurements shipped in ``planner/data/measured``)."""
    from planner.io.config import measured_data_dir

    data = Path(data_dir) if data_dir is not None else measured_data_dir()
    out: dict[str, list[Case]] = {"published": [], "vtrain_multi": [], "vtrain_single": [], "megatron_lm": [], "megatron_bridge": []}
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
            search["v"] = [v for v in divisors(shape.layers // p) if v <= 8] if p > 1 else [1]
            metric = "hfu_tflops" if r["metric"].startswith("TFLOPs") else "iter_s"
            # Narayanan et al. 2021 ran Megatron-LM with its scatter/gather pipeline messages (sec. 4.1).
            out["published"].append(Case(r["source"] + ":" + r["model"], shape, int(float(r["gpus"])), int(r["gbs"]), fixed, search, float(r["value"]), metric,
                                         pipeline_engine="megatron-2021" if r["source"].startswith("Narayanan") else "megatron-core"))
    for name, key in (("vtrain_a100_multinode.csv", "vtrain_multi"), ("vtrain_a100_singlenode.csv", "vtrain_single")):
        with (data / name).open() as fh:
            for r in csv.DictReader(fh):
                shape = _gpt(int(r["hidden size"]), int(r["attention heads"]), int(r["# layers"]), int(r["sequence length"]))
                fixed = {"t": int(r["tensor parallelism"]), "p": int(r["pipeline parallelism"]), "d": int(r["data parallelism"]),
                         "c": 1, "v": 1, "b": int(r["micro batch"]), "recompute": 2, "sp": 0, "zero": 0}
                # Megatron-DeepSpeed pipelines through DeepSpeed's engine (GPTModelPipe), which
                # partitions the pipeline messages over the TP ranks.
                out[key].append(Case(f"vTrain:{name}", shape, int(r["# GPUs"]), int(r["global batch"]), fixed, {}, float(r["iteration time (ms)"]) / 1e3, "iter_s",
                                     pipeline_engine="deepspeed"))
    out["megatron_lm"] = _megatron_lm_h100(data)[0]
    out["megatron_bridge"] = _megatron_bridge(data)[0]
    return out


def _megatron_lm_h100(data: Path) -> tuple[list[Case], list[Case]]:
    """Megatron-LM's H100 table (Megatron-Core r0.8.0, BF16, seq 4096, vocab 131,072, TP, DP
    and batch given; micro-batch, recompute, sequence parallelism and interleaving searched):
    (every other weak-scaling row, which calibrates; the rest, which only check)."""
    calib, check = [], []
    with (data / "megatron_lm_h100_scaling.csv").open() as fh:
        for i, r in enumerate(csv.DictReader(fh)):
            shape = _gpt(int(r["hidden"]), int(r["heads"]), int(r["layers"]), int(r["seq"]), int(r["vocab"]))
            t, p, d = (int(r[k]) for k in ("TP", "PP", "DP"))
            search = {"b": [1, 2, 4], "recompute": [0, 1, 2], "sp": [0, 1] if t > 1 else [0],
                      "v": [v for v in divisors(shape.layers // p) if v <= 8] if p > 1 else [1]}
            # Megatron reports model FLOP/s per GPU; the strong-scaling rows give only MFU (rounded).
            tflops = float(r["model_tflops_per_gpu"]) if r["model_tflops_per_gpu"] else float(r["mfu"]) * 989.4
            case = Case(f"Megatron-LM H100 {r['experiment']}: {r['model']} on {r['gpus']}", shape, int(r["gpus"]), int(r["gbs"]),
                        {"t": t, "p": p, "d": d, "c": 1, "zero": 1}, search, tflops, "model_tflops",
                        flash_attention=True, gpu="h100-sxm", tp_overlap=True, overlap_grad_reduce=True)
            (calib if r["experiment"] == "weak" and i % 2 == 0 else check).append(case)
    return calib, check


_BRIDGE_GPUS = {"H100-SXM-80GB": "h100-sxm", "B200": "b200", "GB200": "gb200"}
#: The Megatron-Bridge rows that calibrate (release, gpu, model): H100's three 25.11 rows and the
#: smallest model on B200 and on GB200, one FP8 efficiency per accelerator. The rest only check.
_BRIDGE_CALIBRATION = {("25.11", "H100-SXM-80GB", "Llama3 8B"), ("25.11", "H100-SXM-80GB", "Llama3 70B"),
                       ("25.11", "H100-SXM-80GB", "Llama3.1 405B"), ("25.11", "B200", "Llama3 8B"), ("25.11", "GB200", "Llama3 70B")}


def _megatron_bridge(data: Path) -> tuple[list[Case], list[Case]]:
    """Megatron-Bridge's Llama 3 rows (FP8/FP4, the published layout; recompute and sequence
    parallelism searched): (the ``_BRIDGE_CALIBRATION`` rows; the rest, which only check).
    GB300 has no registry entry and is left out."""
    calib, check = [], []
    with (data / "megatron_bridge_perf.csv").open() as fh:
        for r in csv.DictReader(fh):
            gid = _BRIDGE_GPUS.get(r["gpu"])
            if gid is None:
                continue
            shape = ModelShape(layers=int(r["layers"]), hidden=int(r["hidden"]), heads=int(r["heads"]), kv_heads=int(r["kv_heads"]),
                               ffn=int(r["ffn"]), vocab=int(r["vocab"]), seq=int(r["seq"]), mlp="swiglu")
            gpus, t, p, c = (int(r[k]) for k in ("gpus", "TP", "PP", "CP"))
            fixed = {"t": t, "p": p, "d": gpus // (t * p * c), "c": c, "v": int(r["VP"]) if r["VP"] else 1,
                     "b": int(r["mbs"]), "zero": 3 if r["fsdp"] == "yes" else 1}
            search = {"recompute": [0, 1, 2], "sp": [0, 1] if t > 1 else [0]}
            case = Case(f"{r['model']} on {gpus} {r['gpu']} ({r['precision']}, {r['release']})", shape, gpus, int(r["gbs"]),
                        fixed, search, float(r["tokens_per_s_per_gpu"]), "tokens_per_s_per_gpu", flash_attention=True,
                        gpu=gid, precision="fp4" if r["precision"] == "nvfp4" else "fp8", tp_overlap=True, overlap_grad_reduce=True,
                        fused_cross_entropy=True)  # GPTModelProvider's default; scripts/performance picks the te kernel
            (calib if (r["release"], r["gpu"], r["model"]) in _BRIDGE_CALIBRATION else check).append(case)
    return calib, check


def _llama3_405b() -> list[Case]:
    """Meta's Llama 3 405B rows (BF16, their TP, CP and PP; micro-batch 1 as the paper's
    schedule describes; recompute, sequence parallelism and interleaving searched)."""
    shape = ModelShape(layers=126, hidden=16384, heads=128, kv_heads=8, ffn=53248, vocab=128256, seq=8192, mlp="swiglu")
    out = []
    for gpus, t, c, p, seq, measured in LLAMA3_405B_H100:
        sh = shape.with_(seq=seq)
        batch = 16 * 2**20 // seq
        out.append(Case(f"Llama 3 405B on {gpus} H100, TP{t} CP{c} PP{p}, seq {seq}", sh, gpus, batch,
                        {"t": t, "p": p, "d": gpus // (t * p * c), "c": c, "b": 1, "zero": 1},
                        {"recompute": [0, 1, 2], "sp": [0, 1], "v": [v for v in divisors(-(-sh.layers // p)) if v <= 8]},
                        measured, "model_tflops", flash_attention=True, gpu="h100-sxm", tp_overlap=True, overlap_grad_reduce=True))
    return out


def load_check_cases(data_dir: str | Path | None = None) -> dict[str, list[Case]]:
    """The rows no constant is fitted on, by data set."""
    from planner.io.config import measured_data_dir

    data = Path(data_dir) if data_dir is not None else measured_data_dir()
    return {"megatron_lm_check": _megatron_lm_h100(data)[1], "megatron_bridge_check": _megatron_bridge(data)[1],
            "llama3_405b": _llama3_405b()}


def predict(case: Case, cal: Calibration, accel: Accelerator | None = None) -> float:
    """The model's number for ``case`` in the case's own metric: the fastest searched layout
    (the memory model is not asked: a published run fitted)."""
    accel = accel or load_registry(user_config=False).get(case.gpu)
    names = list(case.search)
    combos = list(itertools.product(*case.search.values())) or [()]
    layout = {k: np.array([v] * len(combos)) for k, v in case.fixed.items()}
    for i, name in enumerate(names):
        layout[name] = np.array([combo[i] for combo in combos])
    ok = case.global_batch % (layout["b"] * layout["d"]) == 0
    if names and ok.any():
        layout = {k: v[ok] for k, v in layout.items()}
    res = evaluate(case.shape, accel, case.n_gpus, case.global_batch, layout, cal, flash_attention=case.flash_attention,
                   overlap_grad_reduce=case.overlap_grad_reduce, precision=case.precision, tp_overlap=case.tp_overlap,
                   pipeline_engine=case.pipeline_engine, fused_cross_entropy=case.fused_cross_entropy)
    # The run happened, so its layout fitted: the memory model does not veto a published run.
    best = int(np.argmin(res["step_time_s"]))
    step = float(res["step_time_s"][best])
    tokens = case.global_batch * case.shape.seq
    if case.metric == "iter_s":
        return step
    if case.metric == "tokens_per_s_per_gpu":
        return tokens / (step * case.n_gpus)
    if case.metric == "model_tflops":
        return case.shape.model_flops_per_token() * tokens / (step * case.n_gpus) / 1e12
    rc = {0: "none", 1: "selective", 2: "full"}[int(np.asarray(layout["recompute"])[best]) if "recompute" in names else case.fixed["recompute"]]
    return case.shape.hardware_flops_per_token(rc) * tokens / (step * case.n_gpus) / 1e12


def hardware_flops_per_step(case: Case) -> float:
    """FLOPs one step of ``case`` executes, recompute included (the HFU numerator)."""
    rc = {0: "none", 1: "selective", 2: "full"}[case.fixed["recompute"]]
    return case.shape.hardware_flops_per_token(rc) * case.global_batch * case.shape.seq


def relative_errors(cases: list[Case], cal: Calibration) -> np.ndarray:
    """(predicted - measured) / measured for every case."""
    registry = load_registry(user_config=False)
    return np.array([(predict(c, cal, registry.get(c.gpu)) - c.measured) / c.measured for c in cases])


def fit_calibration(cases: list[Case], start: Calibration, weights: np.ndarray | None = None) -> Calibration:
    """Weighted soft-L1 least squares on log(predicted / measured): eight constants shared by
    the family, and one sustained compute efficiency per accelerator that has cases. The soft-L1
    loss (quadratic below a 5 % error, linear above) matches the mean absolute error the
    validation reports and keeps the few measured runs no term explains from pulling every
    constant."""
    from scipy.optimize import least_squares

    registry = load_registry(user_config=False)
    accels = [registry.get(c.gpu) for c in cases]
    gpus = sorted({c.gpu if c.precision == "bf16" else f"{c.gpu}/{c.precision}" for c in cases})
    w = np.sqrt(np.ones(len(cases)) if weights is None else np.asarray(weights, dtype=float))

    def make(x: np.ndarray) -> Calibration:
        eff = tuple((g, float(1 / (1 + np.exp(-x[8 + i])))) for i, g in enumerate(gpus))
        return replace(start, memory_traffic=float(np.exp(x[0])), link_efficiency=float(1 / (1 + np.exp(-x[1]))),
                       collective_latency_s=float(np.exp(x[2])), layer_dispatch_s=float(np.exp(x[3])),
                       network_efficiency=float(1 / (1 + np.exp(-x[4]))), score_traffic=float(np.exp(x[5])),
                       overlap_exponent=float(1 + np.exp(x[6])), softmax_fallback_s=float(np.exp(x[7])),
                       compute_efficiency=eff)

    def resid(x: np.ndarray) -> np.ndarray:
        cal = make(x)
        pred = np.array([predict(c, cal, a) for c, a in zip(cases, accels, strict=True)])
        meas = np.array([c.measured for c in cases])
        sign = np.array([1.0 if c.metric == "iter_s" else -1.0 for c in cases])  # TFLOP/s is inverse time
        return w * sign * np.log(pred / meas)

    def logit(x: float) -> float:
        x = min(max(x, 1e-3), 0.999)
        return float(np.log(x / (1 - x)))

    x0 = np.array([np.log(start.memory_traffic), logit(start.link_efficiency), np.log(start.collective_latency_s),
                   np.log(start.layer_dispatch_s), logit(start.network_efficiency), np.log(start.score_traffic),
                   np.log(max(start.overlap_exponent - 1, 1e-3)),
                   np.log(max(start.softmax_fallback_s, 1e-5))] + [logit(dict(start.compute_efficiency).get(g, 0.8)) for g in gpus])
    # Memory-bound kernels write each stored activation byte once and read it at least once
    # more in the forward pass: the traffic factor is bounded below by 2, so the fit cannot
    # declare elementwise work free (the data alone barely separates it from GEMM time).
    lower = np.full(x0.size, -np.inf)
    lower[0] = np.log(2.0)
    x0[0] = max(x0[0], np.log(2.0) + 1e-6)
    res = least_squares(resid, x0, x_scale=1.0, diff_step=1e-3, bounds=(lower, np.full(x0.size, np.inf)), loss="soft_l1", f_scale=0.05)
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
