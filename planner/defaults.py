"""Planner defaults that several modules (and the CLI's option defaults) share.

Standard library only, so ``planner.cli`` can import it without slowing ``plan --help``.
Each value says whether it is published or a planning choice.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_GEN_TOKENS",
    "DEFAULT_GOODPUT",
    "DEFAULT_INTERVAL_LEVEL",
    "DEFAULT_MAX_SAMPLES",
    "DEFAULT_MEMORY_RESERVE_FRACTION",
    "DEFAULT_PROMPT_TOKENS",
    "DEFAULT_SEQ_LEN",
    "DEFAULT_SERVE_BATCH",
    "DEFAULT_SERVING_COST",
    "DEFAULT_UNCERTAINTY_DRAWS",
    "DEFAULT_WARMUP_FRACTION",
    "GENERIC_DEFAULT_MFU",
    "KV_BITS",
    "OBJECTIVES",
    "SEARCHED_WEIGHT_BITS",
    "SERVING_COSTS",
    "WEIGHT_BITS",
]

#: Used only for accelerators whose registry entry has no published MFU. Not a measured
#: figure: a round planning assumption in the 38-43 % range Llama 3 reports on H100
#: (Dubey et al. 2024). Every plan that relies on it says so and asks for --mfu.
GENERIC_DEFAULT_MFU = 0.40

#: Share of wall-clock time that is productive training. Llama 3 405B saw more than 90 %
#: effective training time over 54 days on 16K H100s (Dubey et al. 2024, sec. 3.3.4).
DEFAULT_GOODPUT = 0.90

#: Share of HBM kept free for the allocator, communication buffers and workspace, in the
#: training-layout and serving memory checks. A planning choice, not a measurement: reports
#: list it among the assumptions (``--memory-reserve`` sets it).
DEFAULT_MEMORY_RESERVE_FRACTION = 0.10

#: Query shape and serving batch: user settings, not measurements (every report shows them).
DEFAULT_PROMPT_TOKENS = 1024
DEFAULT_GEN_TOKENS = 512
#: Sequences decoded together per replica. A planner default: hardware.md notes decode stops
#: being weight-bound only near batch = arithmetic intensity (~295 on H100), so 64 keeps
#: weight reads visible. Set --serve-batch from your serving system.
DEFAULT_SERVE_BATCH = 64
#: Largest samples per query searched (--max-samples).
DEFAULT_MAX_SAMPLES = 1024

#: Serving widths the cost model and Kumar et al.'s precision law accept, and the weight
#: widths a plan searches when --bits is not given (the widths QAT recipes target).
WEIGHT_BITS = (16, 8, 6, 4, 3, 2)
KV_BITS = (16, 8, 4)
SEARCHED_WEIGHT_BITS = (16, 8, 4)

#: Training recipe defaults: the Step Law sweep's sequence length (planner/data/measured/README.md) and a
#: warmup share that is a planner default, not a published law.
DEFAULT_SEQ_LEN = 2048
DEFAULT_WARMUP_FRACTION = 0.01

#: Coverage of reported intervals, and how many bootstrap draws a plan re-solves at most
#: (evenly spaced, so the plan stays deterministic).
DEFAULT_INTERVAL_LEVEL = 0.95
DEFAULT_UNCERTAINTY_DRAWS = 200

#: How serving is priced unless --serving-cost says otherwise: Sardana et al.'s 2N FLOPs per
#: generated token. The rule does not depend on which serving flags are given, so a what-if
#: over bit widths or samples always compares the same cost model.
DEFAULT_SERVING_COST = "flops"
SERVING_COSTS = ("flops", "roofline")
OBJECTIVES = ("loss", "error", "pass@k")

#: Huber threshold on log residuals of law fits: Hoffmann et al. 2022 (and Besiroglu et al.
#: 2024's refit) use delta = 1e-3 (laws.md sec. 1).
DEFAULT_HUBER_DELTA = 1e-3
#: Layouts shown by ``plan layout`` (a display choice).
DEFAULT_TOP_LAYOUTS = 5
