"""The typed, frozen records a plan is made of. SI units; FLOPs are counts, not rates. One :class:`Plan`
feeds the report, JSON, exports and library callers; ``Plan.from_json(p.to_json()) == p``, pickle works.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from planner._codec import from_data, to_data
from planner._frozen import FrozenDict
from planner.hardware.registry import Accelerator
from planner.laws.catalog import ChinchillaLaw
from planner.laws.recipe import TrainingRecipe
from planner.systems.layout import LayoutSearch
from planner.systems.shape import ModelShape

__all__ = ["SCHEMA_VERSION", "Allocation", "Assumption", "Baseline", "ClusterChoice", "ClusterOption", "FixedPoint", "Plan",
           "Request", "Resolved", "ServingChoice", "ServingSection", "Uncertainty"]

SCHEMA_VERSION = "2.2"


@dataclass(frozen=True)
class Assumption:
    """A number the plan rests on, and where it comes from."""

    name: str
    value: str
    source: str


@dataclass(frozen=True)
class Request:
    """The user's question as given (checked, nothing resolved yet). ``None``: not given."""

    gpu: str
    budget_flops: float | None
    gpu_hours: float | None
    dollars: float | None
    price_usd_per_gpu_hour: float | None
    gpus: int | None
    days: float | None
    target_loss: float | None
    infer_tokens: float
    law: str
    max_params: float | None
    max_tokens: float | None
    mfu: float | None
    precision: str
    downstream: str | None
    lr_rule: str
    seq_len: int
    warmup_fraction: float
    interval_level: float
    max_uncertainty_draws: int
    goodput: float
    choose_layout: bool
    objective: str
    samples: int | None
    max_samples: int
    samples_grid: str
    bits: int | None
    kv_bits: int
    prompt_tokens: int
    gen_tokens: int
    serve_batch: int | None
    serve_gpu: str | None
    serve_memory_bytes: float | None
    latency_s: float | None
    task: str | None
    serving_cost: str | None
    #: which budget the flags give: flops, gpu_hours, dollars, cluster or target
    budget_kind: str
    max_serve_batch: int = 256
    max_gpus: int = 16384
    extrapolate: bool = False
    max_unique_tokens: float = 15e12
    verifier_flops: float = 0.0  # FLOPs to check one sample; or a reward model of reward_model_params scores it
    reward_model_params: float | None = None
    curve_law: str | None = None  # a loss-curve law: the recipe's WSD decay share comes from it
    optimizer: str = "adamw"  # what Wen et al. 2025's measured speedup is worth at the plan's N and D


@dataclass(frozen=True)
class FixedPoint:
    """How the training MFU was settled: the layout's MFU changes the FLOPs a GPU-hour buys,
    which changes the model, which changes the layout."""

    mfu: float  # the one MFU that sizes and prices the plan
    layout_mfu: float | None  # what the chosen layout predicts for the chosen model
    converged: bool
    rounds: int
    method: str  # "given", "prior", "iteration" or "bisection"
    history: tuple[tuple[float, float], ...] = ()  # (assumed, predicted) per evaluation


@dataclass(frozen=True)
class ClusterOption:
    """One cluster size evaluated for the plan's model: its best layout and what it costs."""

    gpus: int
    mfu: float | None  # None: no layout fits (``note`` says why)
    days: float | None
    gpu_hours: float | None  # training
    cost_usd: float | None
    global_batch: int | None
    layout: str | None
    meets_deadline: bool
    note: str = ""


@dataclass(frozen=True)
class ClusterChoice:
    """The training cluster: recommended from a ladder of sizes by a stated rule, or given."""

    gpus: int
    given: bool  # --gpus
    deadline_days: float
    deadline_source: str
    rule: str
    reason: str
    options: tuple[ClusterOption, ...]

    @property
    def chosen(self) -> ClusterOption:
        return next(o for o in self.options if o.gpus == self.gpus)


@dataclass(frozen=True)
class Resolved:
    """The values the plan used, resolved from the request."""

    objective: str  # min_loss or min_compute
    budget_flops: float | None  # lifetime, in training-FLOP equivalents
    budget_given_as: str | None
    max_train_flops: float | None
    gpu: str
    serve_gpu: str
    law: str
    downstream: tuple[str, ...]
    task: str | None
    precision: str
    peak_flops_per_s: float
    mfu: float
    mfu_source: str
    fixed_point: FixedPoint
    serving_cost: str
    quality_objective: str
    bits_searched: tuple[int, ...]
    samples_searched: tuple[int, ...]
    currency: str


@dataclass(frozen=True)
class ServingChoice:
    """One (bits, k) candidate of the discrete search, solved."""

    bits: int
    samples: int
    params: float
    tokens: float
    loss: float
    objective_value: float
    lifetime_flops: float


@dataclass(frozen=True)
class ServingSection:
    """How the model is served and what that costs, in the plan's one currency."""

    pricing: str
    serve_gpu: str
    bits: int
    kv_bits: int
    qat_fraction: float
    samples_per_query: int
    samples_reason: str
    prompt_tokens: int
    gen_tokens: int
    batch: int
    queries: float
    pass_at_k: float | None
    memory_per_replica_bytes: float
    gpus_per_replica: int
    decode_tokens_per_s: float
    decode_bound: str
    latency_s: float
    eflops_per_query: float
    gpu_hours_per_million_tokens: float
    usd_per_million_tokens: float | None
    usd_per_query: float | None
    inference_share: float
    cost_shares: Mapping[str, float]
    search_method: str
    search_summary: str
    choices: tuple[ServingChoice, ...] = ()


@dataclass(frozen=True)
class Uncertainty:
    """Spread of the prediction and of the optimum under the law's bootstrap draws, each
    draw re-solving the plan's own problem (same bits, samples, serving cost)."""

    level: float
    draws: int
    draws_solved: int
    draws_infeasible: int
    loss_interval: tuple[float, float]
    params_range: tuple[float, float] | None
    tokens_range: tuple[float, float] | None
    downstream_error_interval: Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class Allocation:
    """The chosen model and what it costs."""

    params: float
    train_tokens: float
    loss: float  # the law at (N, D) and the serving bits
    downstream_error: Mapping[str, float]
    train_flops: float
    inference_flops: float  # training-FLOP equivalents of serving
    gpu_hours: float
    train_gpu_hours: float
    inference_gpu_hours: float
    cost_usd: float | None
    wall_clock_days: float | None
    elasticity: float | None
    binding: tuple[str, ...]
    status: str
    solver: str
    objective: str
    objective_value: float
    samples_per_query: int
    qat_bits: int
    qat_fraction: float
    serving: ServingSection
    uncertainty: Uncertainty | None = None

    @property
    def tokens_per_param(self) -> float:
        return self.train_tokens / self.params

    @property
    def total_flops(self) -> float:
        return self.train_flops + self.inference_flops

    @property
    def inference_share(self) -> float:
        return self.inference_flops / self.total_flops if self.total_flops else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**to_data(self), "tokens_per_param": self.tokens_per_param, "total_flops": self.total_flops,
                "inference_share": self.inference_share}


@dataclass(frozen=True)
class Baseline:
    """The Chinchilla-optimal model that ignores inference, priced by the plan's own problem.

    Budget mode: the compute-optimal (training-only) shape scaled so that its training plus
    serving (same bits, samples and serving cost) fills the same lifetime budget;
    ``loss_delta`` = plan loss - baseline loss. Target mode: the compute-optimal model
    reaching the same loss at the same bits (Sardana et al.'s comparison);
    ``savings_fraction`` = 1 - plan lifetime compute / baseline's.
    """

    description: str
    params: float
    train_tokens: float
    loss: float
    train_flops: float
    inference_flops: float
    loss_delta: float
    savings_flops: float
    savings_fraction: float

    @property
    def total_flops(self) -> float:
        return self.train_flops + self.inference_flops

    def to_dict(self) -> dict[str, Any]:
        return {**to_data(self), "tokens_per_param": self.train_tokens / self.params, "total_flops": self.total_flops}


@dataclass(frozen=True)
class Plan:
    """Everything a plan says: the request, the resolved values, the one solution and every
    section that reads it. ``rich`` renders a Plan directly."""

    request: Request
    resolved: Resolved
    assumptions: tuple[Assumption, ...]
    result: Allocation
    baseline: Baseline
    recipe: TrainingRecipe
    layout: LayoutSearch | None = None
    warnings: tuple[str, ...] = ()
    cluster: ClusterChoice | None = None
    shape: ModelShape | None = None
    #: the recipe's loss curve under a curve law and the optimizer's worth (None: neither asked)
    dynamics: Mapping[str, Any] | None = None
    schema_version: str = SCHEMA_VERSION
    law: ChinchillaLaw | None = field(default=None, repr=False, compare=False)
    accelerator: Accelerator | None = field(default=None, repr=False, compare=False)

    @property
    def inputs(self) -> Mapping[str, Any]:
        """The request and the resolved values in one read-only mapping (resolved wins).

        Kept for one release for callers of the 0.1 ``Plan.inputs`` dict; read
        ``plan.request`` and ``plan.resolved`` instead.
        """
        return FrozenDict({**to_data(self.request), **to_data(self.resolved)})

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "request": to_data(self.request),
            "resolved": to_data(self.resolved),
            "inputs": dict(self.inputs),
            "assumptions": to_data(self.assumptions),
            "result": self.result.to_dict(),
            "baseline": self.baseline.to_dict(),
            "recipe": self.recipe.to_dict(),
            "layout": self.layout.to_dict() if self.layout is not None else None,
            "cluster": to_data(self.cluster),
            "shape": to_data(self.shape),
            "dynamics": to_data(self.dynamics),
            "decision": self.decision(),
            "warnings": list(self.warnings),
            "law": to_data(self.law),
            "accelerator": to_data(self.accelerator),
        }

    def export(self, fmt: str) -> Any:
        """The plan as launcher data: ``"megatron"`` (arguments) or ``"megatron-bridge"`` (a
        nested dict); ``.to_text()`` renders it. See :mod:`planner.systems.exports`."""
        from planner.planning.launch import export_plan

        return export_plan(self, fmt)

    def decision(self) -> dict[str, Any]:
        """Every choice the plan made, flat (the report's first five lines, as data)."""
        r, s, rc = self.result, self.result.serving, self.recipe
        lay = self.layout.best if self.layout is not None else None
        return {
            "params": r.params, "train_tokens": r.train_tokens, "tokens_per_param": r.tokens_per_param,
            "shape": to_data(self.shape), "gpus": self.cluster.gpus if self.cluster else self.request.gpus,
            "cluster_rule": self.cluster.rule if self.cluster else None, "wall_clock_days": r.wall_clock_days,
            "layout": lay.layout.to_dict() if lay else None, "mfu": self.resolved.mfu,
            "weight_bits": r.qat_bits, "qat_fraction": r.qat_fraction, "kv_bits": s.kv_bits,
            "samples_per_query": r.samples_per_query, "samples_reason": s.samples_reason, "serve_batch": s.batch,
            "learning_rate": rc.learning_rate, "min_learning_rate": rc.min_learning_rate, "global_batch_sequences": rc.batch_sequences, "seq_len": rc.seq_len,
            "steps": rc.steps, "gpu_hours": r.gpu_hours, "cost_usd": r.cost_usd,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Plan:
        layout = doc.get("layout")
        return cls(
            request=from_data(Request, doc["request"]),
            resolved=from_data(Resolved, doc["resolved"]),
            assumptions=from_data(tuple[Assumption, ...], doc["assumptions"]),
            result=from_data(Allocation, doc["result"]),
            baseline=from_data(Baseline, doc["baseline"]),
            recipe=from_data(TrainingRecipe, doc["recipe"]),
            layout=None if layout is None else from_data(LayoutSearch, layout["search"]),
            warnings=tuple(doc["warnings"]),
            cluster=None if doc.get("cluster") is None else from_data(ClusterChoice, doc["cluster"]),
            shape=None if doc.get("shape") is None else from_data(ModelShape, doc["shape"]),
            dynamics=doc.get("dynamics"),
            schema_version=doc["schema_version"],
            law=None if doc.get("law") is None else from_data(ChinchillaLaw, doc["law"]),
            accelerator=None if doc.get("accelerator") is None else from_data(Accelerator, doc["accelerator"]),
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.from_dict(json.loads(text))

    def __rich__(self) -> Any:
        from planner.report.plan import render_plan

        return render_plan(self)
