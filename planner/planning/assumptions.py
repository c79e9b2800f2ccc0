"""Stage: the assumptions table and the warnings, from the request, the context and the
solution (every number a plan rests on, with where it comes from)."""

from __future__ import annotations

from planner.defaults import DEFAULT_GOODPUT, DEFAULT_MEMORY_RESERVE_FRACTION
from planner.laws.recipe import TrainingRecipe
from planner.planning.records import Assumption, FixedPoint, Request, Uncertainty
from planner.planning.resolve import Context
from planner.serving.qat import DREMOV_A, GAMMA_KV, GAMMA_W
from planner.systems.layout import LayoutSearch, calibration_warnings

__all__ = ["CURRENCY", "assumptions", "warnings_for"]

CURRENCY = ("GPU-time, stated in training-FLOP equivalents: training's 6·N·D FLOPs at the training MFU; serving at "
            "its own cost model, converted to the same GPU-time")


def assumptions(req: Request, ctx: Context, fp: FixedPoint, mfu_source: str, recipe: TrainingRecipe,
                unc: Uncertainty | None, layout: LayoutSearch | None) -> tuple[Assumption, ...]:
    c, accel = ctx.law, ctx.accel
    out = [
        Assumption("scaling law", f"{c.name}: L = {c.E:.4g} + {c.A:.4g}/N^{c.alpha:.4g} + {c.B:.4g}/D^{c.beta:.4g}"
                   f" (N {'with' if c.params_include_embeddings else 'without'} embeddings)", c.source),
        Assumption("peak compute", f"{ctx.peak_flops_per_s / 1e12:,.1f} TFLOP/s dense {req.precision} per {accel.id}",
                   f"{accel.source} ({accel.date})" if accel.date else accel.source),
        Assumption("MFU", f"{fp.mfu:.1%}", mfu_source),
        Assumption("currency", CURRENCY, "compute-planner accounting: a FLOPs budget is GPU-time at the training MFU"),
        Assumption("FLOPs accounting", "training 6·N·D (attention FLOPs ignored)", "Kaplan et al. 2020; Sardana et al. 2024"),
    ]
    if ctx.serving_cost == "flops":
        out.append(Assumption("serving cost", "2·N FLOPs per generated token (k per served token), at the training MFU on "
                              f"{accel.id}", "Sardana et al. 2024's accounting (--serving-cost roofline prices it on the accelerator)"))
    else:
        out.append(Assumption("serving cost", f"Kinetics eFLOPs on {ctx.serve_accel.id} (intensity "
                              f"{ctx.serve_accel.arithmetic_intensity_flop_per_byte:.0f} FLOP/byte) as GPU-time at its BF16 peak",
                              "Sadhukhan et al. 2025 (Kinetics); shared/reference/inference.md"))
    if req.infer_tokens > 0:
        s = ctx.spec
        out.append(Assumption("query shape", f"{s.prompt_tokens} prompt + {s.gen_tokens} generated tokens, {s.batch} sequences per decode batch",
                              "planner defaults (--prompt-tokens, --gen-tokens, --serve-batch): set them from your traffic"))
    if ctx.bits_choices != (16,):
        out.append(Assumption("low-precision serving", f"QAT share exp(-{DREMOV_A} / ln S); loss via effective parameters "
                              f"(gamma_w {GAMMA_W}, gamma_kv {GAMMA_KV})", "Dremov et al. 2025; Kumar et al. 2024 (setup-specific constants)"))
    if ctx.task is not None:
        out.append(Assumption("task profile", f"{ctx.task.name}: Beta tail exponent {ctx.task.alpha:.3g}", ctx.task.source))
    if req.price_usd_per_gpu_hour is not None:
        out.append(Assumption("price", f"${req.price_usd_per_gpu_hour:,.2f} per GPU-hour", "user-set (--price)"))
    elif accel.price_usd_per_gpu_hour:
        lo, hi = accel.price_usd_per_gpu_hour
        out.append(Assumption("price", f"not priced (pass --price); reference ${lo:g}-{hi:g} per GPU-hour", accel.price_source))
    out.append(Assumption("learning rate and batch", recipe.source, "training recipe rule (--lr-rule)"))
    if unc is not None:
        out.append(Assumption("uncertainty", f"{unc.draws} bootstrap draws of {c.name}; {unc.draws_solved} re-solved",
                              f"fit of {c.fit_info.get('data_file', 'the law')} (seed {c.fit_info.get('bootstrap_seed', '?')})"))
    out.append(Assumption("goodput", f"{req.goodput:.0%} of wall clock is productive training",
                          "Dubey et al. 2024 (Llama 3), sec. 3.3.4: >90 % effective training time" if req.goodput == DEFAULT_GOODPUT
                          else "user-set (--goodput)"))
    if layout is not None:
        out.append(Assumption("layout memory", f"{DEFAULT_MEMORY_RESERVE_FRACTION:.0%} of HBM kept free (allocator, communication buffers); "
                              "flash attention; bf16 states with fp32 Adam",
                              "planner defaults (set memory_reserve_fraction with `plan layout --memory-reserve`)"))
    return tuple(out)


_CAPS = {"max_params": "--max-params", "max_tokens": "--max-tokens", "max_train_flops": "the --gpus/--days deadline",
         "latency": "--latency", "serving_memory": "--serve-memory"}


def warnings_for(req: Request, ctx: Context, params: float, binding: tuple[str, ...], fp: FixedPoint,
                 layout: LayoutSearch | None, layout_note: str | None) -> tuple[str, ...]:
    out = list(ctx.warnings) if fp.method in ("given", "prior") or fp.layout_mfu is None else [
        w for w in ctx.warnings if not w.startswith("no published MFU")]
    if layout_note:
        out.append(layout_note)
    if not fp.converged:
        out.append(f"the layout's MFU has no fixed point here (it jumps between layouts across the bracket after "
                   f"{fp.rounds} evaluations): the plan sizes and prices with {fp.mfu:.1%}, where the layout predicts "
                   f"{fp.layout_mfu:.1%} or more")
    if req.budget_kind == "cluster":
        out.append("--gpus/--days is the whole lifetime budget here: serving is priced on the same cluster; "
                   "add --budget/--gpu-hours/--dollars to make it a training deadline")
    law = ctx.law
    if law.fit_params_range and params > law.fit_params_range[1]:
        out.append(f"extrapolation: {params:.3g} params is {params / law.fit_params_range[1]:.3g}x the largest model "
                   f"{law.name} was fitted on ({law.fit_params_range[1]:.3g})")
    for name, label in _CAPS.items():
        if name in binding:
            out.append(f"{label} binds: the unconstrained optimum lies beyond it")
    if layout is not None:
        out += calibration_warnings(ctx.accel, layout.calibration)
    return tuple(out)
