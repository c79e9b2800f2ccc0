"""Planner defaults that several modules (and the CLI's option defaults) share.

Standard library only, so ``planner.cli`` can import it without slowing ``plan --help``.
Each value says whether it is published or a planning choice.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_GEN_TOKENS",
    "DEFAULT_GOODPUT",
    "DEFAULT_INTERVAL_LEVEL",
    "DEFAULT_BATCH_TOLERANCE",
    "DEFAULT_DEADLINE_DAYS",
    "DEFAULT_MAX_GPUS",
    "DEFAULT_MAX_SAMPLES",
    "DEFAULT_MAX_SERVE_BATCH",
    "DEFAULT_MAX_UNIQUE_TOKENS",
    "DEFAULT_MEMORY_RESERVE_FRACTION",
    "DEFAULT_TP_COMM_OVERLAP",
    "DEFAULT_PROMPT_TOKENS",
    "DEFAULT_SEQ_LEN",
    "DEFAULT_WEIGHT_SHARE",
    "DEFAULT_SERVING_COST",
    "DEFAULT_UNCERTAINTY_DRAWS",
    "DEFAULT_WARMUP_FRACTION",
    "GENERIC_DEFAULT_MFU",
    "KV_BITS",
    "LIMITS",
    "LR_WARN_ABOVE",
    "OBJECTIVES",
    "SEARCHED_WEIGHT_BITS",
    "SHAPE_TOLERANCE",
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
#: Tensor-parallel communication overlapped with the linear layers (Megatron-LM's
#: --tp-comm-overlap, Transformer Engine userbuffers), as Megatron-LM's H100 benchmarks and
#: Megatron-Bridge's performance recipes run. A planner choice: exported with the layout.
DEFAULT_TP_COMM_OVERLAP = True

#: Query shape and serving batch: user settings, not measurements (every report shows them).
DEFAULT_PROMPT_TOKENS = 1024
DEFAULT_GEN_TOKENS = 512
#: Serving batch: chosen per plan (the largest that fits the replica and any latency bound),
#: at most this many sequences. A planner cap, not a measurement: hardware.md notes decode
#: stops being weight-bound only near batch = arithmetic intensity (~295 on H100), so larger
#: batches buy little. --max-serve-batch sets it; --serve-batch fixes the batch instead.
DEFAULT_MAX_SERVE_BATCH = 256
#: Largest share of a serving replica's usable HBM the weights may take (the rest holds the
#: KV cache). A planner setting: it decides how many GPUs a replica of a large model spans.
DEFAULT_WEIGHT_SHARE = 0.5
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

#: How serving is priced unless --serving-cost says otherwise: on the serving accelerator
#: (roofline: weight and KV-cache traffic over HBM bandwidth, FLOPs over peak; Kinetics'
#: eFLOPs), the hardware fact that decides decode cost. ``flops`` keeps Sardana et al.'s 2N
#: FLOPs per generated token. The rule does not depend on which serving flags are given.
DEFAULT_SERVING_COST = "roofline"
SERVING_COSTS = ("flops", "roofline")
OBJECTIVES = ("loss", "error", "pass@k")

#: Huber threshold on log residuals of law fits: Hoffmann et al. 2022 (and Besiroglu et al.
#: 2024's refit) use delta = 1e-3 (laws.md sec. 1).
DEFAULT_HUBER_DELTA = 1e-3
#: Layouts shown by ``plan layout`` (a display choice).
DEFAULT_TOP_LAYOUTS = 5

#: Cluster recommendation (planner settings, shown as such in every report): the training
#: deadline a recommended cluster must meet (--days) and the largest cluster on the ladder
#: (--max-gpus). 16,384 GPUs is the largest published dense run we cite (Llama 3 405B on
#: 16K H100s, Dubey et al. 2024, sec. 3.3). Wall clocks beyond the deadline warn.
DEFAULT_DEADLINE_DAYS = 30.0
DEFAULT_MAX_GPUS = 16384
#: The recipe's batch stays within this factor of the Step Law batch when the layout rounds
#: it to a multiple of DP x micro-batch (a planner setting; Li et al. 2025 report a flat loss
#: landscape near the optimum but publish no tolerance).
DEFAULT_BATCH_TOLERANCE = 2.0
#: Unique training tokens available before data repeats: FineWeb's ~15T tokens (Penedo et al.
#: 2024), the largest open deduplicated web corpus we cite. Plans beyond it warn (--max-unique-tokens).
DEFAULT_MAX_UNIQUE_TOKENS = 15e12
#: A planned model whose nearest rule shape is further than this (relative) from its parameter
#: count warns: the shape, layout and serving sections describe a different model (a planner
#: threshold).
SHAPE_TOLERANCE = 0.10

#: Upper limits on sizes the user controls, so that any accepted input finishes in seconds (planner
#: limits, not physics; each refusal names the limit).
LIMITS = {
    "max_samples": 65536, "gpus": 1 << 20, "max_gpus": 1 << 20, "layers": 1024, "trials": 5000,
    "toml_bytes": 1 << 20, "toml_depth": 16,  # scenario, hardware, law and task files
    "file_bytes": 32 << 20, "rows": 100_000,  # run and sample tables (CSV / JSON lines)
    "bootstrap": 1000, "bootstrap_row_fits": 20_000_000,  # plan fit: draws, and draws x runs
    "groups": 64, "samples_per_problem": 1000,  # plan fit-samples: models, and n per problem
    # A lifetime budget in FLOPs (however given) at least 6 N D with N = D = 4e5: below it no
    # language model is trained, and --extrapolate would take the solvers to degenerate corners.
    "min_budget_flops": 1e12,
    "sweep_points": 10_000, "workers": 64,  # plan sweep: points in one sweep, local worker processes
    "curves": 64, "curve_bootstrap": 200,
    # plan curve fit's work: fits (1 + bootstrap + held-back refits) x logged points, a multi-power
    # point counting 50 (its decay term is a 400-column matrix): a couple of minutes on two cores at most
    "curve_fit_work": 1_500_000, "multi_power_point_weight": 50,
    # a validation bound, not a price: costs (GPU-hours x price) must stay finite floats
    "price_usd_per_gpu_hour": 1e12,  # plan curve fit: curves in one fit, bootstrap refits (each a full fit)
}

#: A peak learning rate above this warns (a planner threshold): the best rate of every (N, D)
#: in the Step Law sweep is at most 0.0078 (planner/data/measured/steplaw_dense_lr_bs_loss.csv).
LR_WARN_ABOVE = 0.01
