"""Stage: the assumptions table and the warnings, from the request, the context and the
solution (every number a plan rests on, with where it comes from)."""

from __future__ import annotations

from planner.defaults import (
    DEFAULT_BATCH_TOLERANCE,
    DEFAULT_GOODPUT,
    DEFAULT_MEMORY_RESERVE_FRACTION,
    DEFAULT_WEIGHT_SHARE,
    LR_WARN_ABOVE,
    SHAPE_TOLERANCE,
)
from planner.laws.recipe import TrainingRecipe
from planner.planning.records import (
    Allocation,
    Assumption,
    ClusterChoice,
    FixedPoint,
    Request,
    Uncertainty,
)
from planner.planning.resolve import Context
from planner.serving.qat import DREMOV_A, GAMMA_KV, GAMMA_W
from planner.systems.layout import LayoutSearch, calibration_warnings
from planner.systems.shape import shape_for_params

__all__ = ["CURRENCY", "assumptions", "warnings_for"]

CURRENCY = ("GPU-time, stated in training-FLOP equivalents: training's 6·N·D FLOPs at the training MFU; serving at "
            "its own cost model, converted to the same GPU-time")


def assumptions(req: Request, ctx: Context, fp: FixedPoint, mfu_source: str, recipe: TrainingRecipe,
                unc: Uncertainty | None, layout: LayoutSearch | None, cluster: ClusterChoice | None) -> tuple[Assumption, ...]:
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
        out.append(Assumption("query shape", f"{s.prompt_tokens} prompt + {s.gen_tokens} generated tokens",
                              "planner defaults (--prompt-tokens, --gen-tokens): set them from your traffic"))
        out.append(Assumption("KV-cache bits", f"{s.kv_bits} (not searched; the weight bits are)",
                              "planner default (--kv-bits)" if s.kv_bits == 16 else "user-set (--kv-bits)"))
        if s.batch is None:
            out.append(Assumption("serving batch", f"chosen: the largest that fits the replica (weights in at most "
                                  f"{DEFAULT_WEIGHT_SHARE:.0%} of its usable HBM, one GPU at least) and any latency or memory bound, "
                                  f"at most {s.max_batch} sequences", "planner rule (--max-serve-batch; --serve-batch fixes it)"))
        else:
            out.append(Assumption("serving batch", f"{s.batch} sequences per decode batch", "user-set (--serve-batch)"))
    if ctx.bits_choices != (16,):
        out.append(Assumption("low-precision serving", f"QAT share exp(-{DREMOV_A} / ln S); loss via effective parameters "
                              f"(gamma_w {GAMMA_W}, gamma_kv {GAMMA_KV})", "Dremov et al. 2025; Kumar et al. 2024 (setup-specific constants)"))
    if ctx.task is not None:
        t = ctx.task
        out.append(Assumption("task law", f"{t.name}: pass@k = 1 - B(a, b+k)/B(a, b), mean and tail moving with the "
                              f"{t.loss_law} loss, fitted on losses {t.loss_lo:.4g}-{t.loss_hi:.4g}", t.source))
        if req.reward_model_params is not None:
            sel = (f"a reward model of {req.reward_model_params:.3g} params scores each sample: {ctx.spec.verifier_flops_per_sample:.3g} "
                   "FLOPs per sample (2 per parameter per prompt and sample token); pass@k is then an upper bound (a reward model "
                   "misses correct samples an automatic verifier would accept)")
        else:
            sel = f"pass@k: an automatic verifier picks a correct sample; it costs {req.verifier_flops:.3g} FLOPs per sample"
        out.append(Assumption("sample selection", sel, "user-set (--reward-model)" if req.reward_model_params is not None
                              else ("user-set (--verifier-flops)" if req.verifier_flops else "planner default (--verifier-flops, 0)")))
    if req.price_usd_per_gpu_hour is not None:
        out.append(Assumption("price", f"${req.price_usd_per_gpu_hour:,.2f} per GPU-hour", "user-set (--price)"))
    elif accel.price_usd_per_gpu_hour:
        lo, hi = accel.price_usd_per_gpu_hour
        out.append(Assumption("price", f"not priced (pass --price); reference ${lo:g}-{hi:g} per GPU-hour", accel.price_source))
    out.append(Assumption("learning rate and batch", recipe.source, "training recipe rule (--lr-rule)"))
    if layout is not None:
        out.append(Assumption("batch rounding", f"a multiple of DP x micro-batch within {DEFAULT_BATCH_TOLERANCE:g}x of the law's batch",
                              "planner setting (the law publishes no tolerance)"))
    if cluster is not None and not cluster.given:
        out.append(Assumption("cluster", f"{cluster.rule}; ladder {cluster.options[0].gpus}-{cluster.options[-1].gpus} GPUs; "
                              f"deadline {cluster.deadline_days:g} days", f"{cluster.deadline_source}; --max-gpus caps the ladder"))
    out.append(Assumption("law support", ctx.support.source or "not enforced (--extrapolate)",
                          "README, 'Where a plan may go': plans stay inside the fitted range unless --extrapolate"))
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
        out.append(Assumption("step-time model", "tensor-parallel traffic overlapped with the linear layers (Megatron's "
                              "--tp-comm-overlap, with sequence parallelism; exported); kernel ceilings measured per accelerator",
                              "planner default; ceilings and fitted constants: planner/data/hardware.toml, calibration.toml "
                              "(`plan validate` shows the checks)"))
    return tuple(out)


_CAPS = {"max_params": "--max-params", "max_tokens": "--max-tokens", "max_train_flops": "the --gpus/--days deadline",
         "latency": "--latency", "serving_memory": "--serve-memory"}


def warnings_for(req: Request, ctx: Context, result: Allocation, fp: FixedPoint, layout: LayoutSearch | None,
                 layout_note: str | None, cluster: ClusterChoice | None, recipe: TrainingRecipe) -> tuple[str, ...]:
    out = list(ctx.warnings) if fp.method in ("given", "prior") or fp.layout_mfu is None else [
        w for w in ctx.warnings if not w.startswith("no published MFU")]
    params, tokens, binding = result.params, result.train_tokens, result.binding
    if layout_note:
        out.append(layout_note)
    if not fp.converged:
        out.append(f"the layout's MFU has no fixed point here (it jumps between layouts across the bracket after "
                   f"{fp.rounds} evaluations): the plan sizes and prices with {fp.mfu:.1%}, where the layout predicts "
                   f"{fp.layout_mfu:.1%} or more")
    if req.budget_kind == "cluster":
        out.append("--gpus/--days is the whole lifetime budget here: serving is priced on the same cluster; "
                   "add --budget/--gpu-hours/--dollars to make it a training deadline")
    out += _support_warnings(req, ctx, params, tokens, binding)
    out += _task_warnings(ctx, result)
    for name, label in _CAPS.items():
        if name in binding:
            out.append(f"{label} binds: the unconstrained optimum lies beyond it")
    out += _schedule_warnings(req, result, cluster, recipe)
    if layout is not None:
        out += calibration_warnings(ctx.accel, layout.calibration)
    return tuple(out)


def _task_warnings(ctx: Context, result: Allocation) -> list[str]:
    """Where the plan's model sits against the losses the task law was fitted on."""
    t = ctx.task
    if t is None:
        return []
    from planner.serving.joint import task_loss

    loss = task_loss(ctx.task_coeffs, result.params, result.train_tokens, result.qat_bits, ctx.spec.kv_bits)
    if loss < t.loss_lo:
        return [f"extrapolation: the planned model's {t.loss_law} loss {loss:.4g} is below the task law {t.name}'s fitted range "
                f"({t.loss_lo:.4g}-{t.loss_hi:.4g}, {', '.join(t.sizes[-1:]) or 'its best model'} at best): its pass@k is extrapolated"]
    if loss > t.loss_hi:
        return [f"EXTRAPOLATION: the planned model's {t.loss_law} loss {loss:.4g} is worse than any model the task law "
                f"{t.name} was fitted on ({t.loss_hi:.4g}): its pass@k rests on extrapolation alone"]
    return []


def _support_warnings(req: Request, ctx: Context, params: float, tokens: float, binding: tuple[str, ...]) -> list[str]:
    """The law-support rule (README, 'Where a plan may go'), said where it acts."""
    law, out = ctx.law, []
    lo, hi = law.fit_params_range or (None, None)
    ratio = tokens / params
    r_lo, r_hi = law.fit_tokens_per_param_range or (None, None)
    if "law_support_params" in binding:
        by_task = ctx.task is not None and "task law" in ctx.support.source
        held = (f"the task law {ctx.task.name} holds on (its weakest fitted model's loss)" if by_task
                else f"{law.name} holds on")
        out.append(f"LAW SUPPORT BINDS: the optimum lies below the smallest model {held}; the plan is held at "
                   f"{params:.3g} params (--extrapolate plans below it, unsupported)")
    if "law_support_ratio" in binding:
        low = r_lo is not None and abs(ratio / r_lo - 1) < abs(ratio / r_hi - 1)
        out.append(f"LAW SUPPORT BINDS: the optimum wants {'fewer' if low else 'more'} than {law.name}'s fitted "
                   f"{r_lo if low else r_hi:g} tokens per parameter; the plan is held at {ratio:.3g} "
                   "(--extrapolate lifts it, unsupported)")
    if req.extrapolate:
        if lo is not None and params < lo:
            out.append(f"EXTRAPOLATION: {params:.3g} params is below the smallest model {law.name} was fitted on ({lo:.3g})")
        if r_hi is not None and not r_lo <= ratio <= r_hi:
            out.append(f"EXTRAPOLATION: {ratio:.3g} tokens per parameter is outside {law.name}'s fitted {r_lo:g}-{r_hi:g}")
    if hi is not None and params > hi:
        out.append(f"extrapolation: {params:.3g} params is {params / hi:.3g}x the largest model {law.name} was fitted on ({hi:.3g})")
    shape = shape_for_params(params, seq=req.seq_len)
    if abs(shape.params / params - 1) > SHAPE_TOLERANCE:
        why = ("the model is too small for the shape rule's 128K vocabulary" if shape.params > params else
               "beyond the largest shape the rule builds; layouts and serving use that shape")
        out.append(f"the nearest Llama-3-style shape ({shape.layers} x {shape.hidden}) has {shape.params:.3g} params, "
                   f"{shape.params / params - 1:+.0%} off the plan's {params:.3g}: {why}")
    if tokens > req.max_unique_tokens:
        out.append(f"{tokens:.3g} training tokens exceed the {req.max_unique_tokens:.3g} unique tokens assumed available "
                   "(--max-unique-tokens): the data repeats, which the law does not model")
    return out


def _schedule_warnings(req: Request, result: Allocation, cluster: ClusterChoice | None, recipe: TrainingRecipe) -> list[str]:
    out = []
    days = result.wall_clock_days
    if cluster is not None and days is not None and days > cluster.deadline_days:
        faster = [o for o in cluster.options if o.days is not None and o.days <= cluster.deadline_days]
        if faster:
            relief = f"{faster[0].gpus} GPUs would take {faster[0].days:.1f} days"
        elif cluster.given:
            relief = "no size up to 4x the given one meets it: allow a later --days or lower the budget"
        else:
            relief = f"raise --max-gpus (now {req.max_gpus}), allow a later --days, or lower the budget"
        out.append(f"WALL CLOCK: training takes {days:,.0f} days on {cluster.gpus} GPUs, over the {cluster.deadline_days:g}-day "
                   f"deadline ({cluster.deadline_source}); {relief}")
    if recipe.learning_rate > LR_WARN_ABOVE:
        out.append(f"peak learning rate {recipe.learning_rate:.3g} is above {LR_WARN_ABOVE:g}: the {recipe.rule} rule is far outside "
                   "the rates its sweep found best (at most 0.0078); set it from a sweep at this size")
    return out
