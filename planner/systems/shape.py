"""Transformer shapes: from a parameter count to layers, widths and heads; FLOP counts.

The default rule follows the published Llama 3 configurations (Dubey et al. 2024, Table 3:
8B = 32 layers x 4096, 70B = 80 x 8192, 405B = 126 x 16384; head size 128; 8 KV heads;
SwiGLU MLP about 3.5 h wide; vocabulary 128,256; untied embeddings): hidden size a multiple
of 128, about 128 hidden units per layer (8B's aspect ratio), head size 128, 8 KV heads,
SwiGLU width 3.5 h rounded to 256. Every field can be set explicitly.

FLOPs follow Narayanan et al. 2021 and Megatron-LM's ``num_floating_point_operations``
(shared/reference/systems.md): per token per layer, forward,
QKV 2 h (a + 2g) d_head, output 2 a d_head h, MLP 2 h f (3 if SwiGLU else 2), attention core
4 s a d_head (full, not halved for the causal mask: the convention of the published A100 runs),
logits 2 h V. Training is 3x forward; full recompute adds one forward of the layers (not the
logits).
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from planner.errors import PlannerInputError

__all__ = ["LLAMA3_RULE", "ModelShape", "complete_shape", "divisors", "pipeline_layout", "pipeline_split", "shape_for_params", "smallest_shape_params", "smooth_dims"]

#: The Llama 3 shape rule (Dubey et al. 2024, Table 3).
LLAMA3_RULE = {
    "hidden_per_layer": 128,  # 8B: 4096 / 32
    "head_dim": 128,
    "kv_heads": 8,
    "ffn_ratio": 3.5,  # 14336 / 4096 = 28672 / 8192 = 3.5
    "ffn_multiple": 256,
    "vocab": 128256,
}


@dataclass(frozen=True)
class ModelShape:
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    vocab: int
    seq: int
    mlp: str = "swiglu"  # or "gelu"
    head_dim: int | None = None  # default hidden // heads
    tied_embeddings: bool = False

    def __post_init__(self) -> None:
        for name in ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "seq"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise PlannerInputError(f"model shape: {name} must be a positive integer, got {v!r}")
        if self.mlp not in ("swiglu", "gelu"):
            raise PlannerInputError(f"model shape: mlp must be swiglu or gelu, got {self.mlp!r}")
        if self.heads % self.kv_heads:
            raise PlannerInputError(f"model shape: heads ({self.heads}) must be a multiple of kv-heads ({self.kv_heads})")
        if self.head_dim is None and self.hidden % self.heads:
            raise PlannerInputError(f"model shape: hidden ({self.hidden}) must divide by heads ({self.heads})")

    @property
    def d_head(self) -> int:
        return self.head_dim or self.hidden // self.heads

    # ------------------------------------------------------------- parameters
    @property
    def params_per_layer(self) -> int:
        h, dh = self.hidden, self.d_head
        attn = h * self.heads * dh + 2 * h * self.kv_heads * dh + self.heads * dh * h
        mlp = (3 if self.mlp == "swiglu" else 2) * h * self.ffn
        return attn + mlp + 2 * h  # two norms

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def params(self) -> int:
        return self.layers * self.params_per_layer + self.embedding_params + self.hidden

    @property
    def non_embedding_params(self) -> int:
        return self.params - self.embedding_params

    # ------------------------------------------------------------- FLOPs
    def layer_forward_flops_per_token(self) -> dict[str, float]:
        """Forward FLOPs of one layer for one token, by GEMM (Megatron's counting)."""
        h, dh, a, g, s = self.hidden, self.d_head, self.heads, self.kv_heads, self.seq
        mult = 3 if self.mlp == "swiglu" else 2
        return {
            "qkv": 2.0 * h * (a + 2 * g) * dh,
            "proj": 2.0 * a * dh * h,
            "mlp": 2.0 * h * self.ffn * mult,
            "attention": 4.0 * s * a * dh,
        }

    def logits_forward_flops_per_token(self) -> float:
        return 2.0 * self.hidden * self.vocab

    def model_flops_per_token(self) -> float:
        """Training FLOPs per token, no recompute (the MFU numerator)."""
        per_layer = sum(self.layer_forward_flops_per_token().values())
        return 3.0 * (self.layers * per_layer + self.logits_forward_flops_per_token())

    def hardware_flops_per_token(self, recompute: str) -> float:
        """Training FLOPs per token actually executed (the HFU numerator)."""
        f = self.layer_forward_flops_per_token()
        extra = {"none": 0.0, "selective": f["attention"], "full": sum(f.values())}[recompute]
        return self.model_flops_per_token() + self.layers * extra

    def with_(self, **changes: Any) -> ModelShape:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(head_dim=self.d_head, params=self.params, non_embedding_params=self.non_embedding_params)
        return d


@functools.lru_cache(maxsize=4096)
def divisors(x: int) -> tuple[int, ...]:
    """The divisors of ``x`` in ascending order (O(sqrt x): cluster sizes reach 2^20)."""
    small = [k for k in range(1, math.isqrt(x) + 1) if x % k == 0]
    return tuple(sorted(set(small) | {x // k for k in small}))


def pipeline_split(layers: int, stages: int) -> tuple[int, int, int] | None:
    """(first, middle, last) layers per pipeline stage; None where no split exists.

    Even when ``stages`` divides ``layers``. Otherwise Megatron's uneven split
    (``--decoder-first/last-pipeline-num-layers``: the middle stages share the rest evenly):
    the middle stages take ``ceil(layers / stages)`` each, the first and last the remainder,
    so the longest stage -- which sets the pipeline's pace -- is as short as an even split's.
    """
    if stages < 1 or stages > layers:
        return None
    if layers % stages == 0 or stages == 1:
        n = layers // stages
        return n, n, n
    middle = -(-layers // stages)
    rest = layers - (stages - 2) * middle
    if stages == 2:
        return middle, middle, layers - middle
    if rest < 2:
        return None
    first = rest // 2
    return first, middle, rest - first


def pipeline_layout(layers: int, stages: int, virtual: int) -> str:
    """Megatron-core's ``--pipeline-model-parallel-layout`` string for an uneven split with
    ``virtual`` interleaved chunks per stage: chunks in virtual-stage-major order, ``E`` the
    embedding, ``t`` a transformer layer, ``L`` the loss, ``|`` ends a chunk. The first and
    last chunks give up the layers the shorter first and last stages lack."""
    first, middle, last = pipeline_split(layers, stages)
    per = middle // virtual
    chunks = []
    for v in range(virtual):
        for r in range(stages):
            n = per - (middle - first if (v, r) == (0, 0) else 0) - (middle - last if (v, r) == (virtual - 1, stages - 1) else 0)
            chunks.append(("E" if (v, r) == (0, 0) else "") + "t" * n + ("L" if (v, r) == (virtual - 1, stages - 1) else ""))
    return "|".join(chunks)


def _round_up(x: float, multiple: int) -> int:
    return int(math.ceil(x / multiple) * multiple)


DEFAULT_SHAPE_SEQ = 8192  # Llama 3's pre-training context (Dubey et al. 2024)


def shape_for_params(params: float, *, seq: int = DEFAULT_SHAPE_SEQ, **overrides: Any) -> ModelShape:
    """The Llama-3-style shape whose parameter count is closest to ``params`` (memoised:
    serving plans call it inside bisections and every GP re-solve).

    ``overrides`` (layers, hidden, heads, kv_heads, ffn, vocab, mlp, head_dim) are held fixed;
    the rule fills in the rest. With both ``layers`` and ``hidden`` given, nothing is searched.
    """
    if not (isinstance(params, int | float) and math.isfinite(params) and params > 0):
        raise PlannerInputError(f"params must be positive, got {params}")
    return _shape_for_params(float(params), seq, tuple(sorted(overrides.items())))


def complete_shape(*, layers: int, hidden: int, seq: int = 8192, **overrides: Any) -> ModelShape:
    """A shape of the given depth and width; the Llama 3 rule fills every field not given."""
    return _shape_for_params(1.0, seq, tuple(sorted({"layers": layers, "hidden": hidden, **overrides}.items())))  # params unused


def _builder(seq: int, overrides: dict[str, Any]) -> Any:
    """The rule's shape of a given width and depth, ``overrides`` held fixed."""
    rule = LLAMA3_RULE
    vocab = overrides.get("vocab", rule["vocab"])
    mlp = overrides.get("mlp", "swiglu")

    def build(hidden: int, layers: int) -> ModelShape:
        head_dim = overrides.get("head_dim") or (rule["head_dim"] if hidden >= 1024 else 64)
        heads = overrides.get("heads") or max(1, hidden // head_dim)
        kv = overrides.get("kv_heads") or (math.gcd(heads, rule["kv_heads"]) if heads >= rule["kv_heads"] else heads)
        if mlp == "swiglu":
            ffn = overrides.get("ffn") or _round_up(rule["ffn_ratio"] * hidden, rule["ffn_multiple"])
        else:
            ffn = overrides.get("ffn") or 4 * hidden
        return ModelShape(
            layers=layers, hidden=hidden, heads=heads, kv_heads=kv, ffn=ffn, vocab=vocab, seq=seq, mlp=mlp,
            head_dim=overrides.get("head_dim") if overrides.get("heads") else head_dim,
            tied_embeddings=overrides.get("tied_embeddings", False),
        )

    return build


@functools.lru_cache(maxsize=64)
def _widths(seq: int, override_items: tuple[tuple[str, Any], ...]) -> tuple[tuple[int, int, int, int, int], ...]:
    """Per candidate width: (hidden, params per layer, params outside the layers, shallowest and
    deepest depth), which do not depend on the target, computed once per rule and overrides.

    Widths with a whole number of heads: multiples of 1024 (every Llama 3 size: 8 KV heads of
    128), then multiples of 512 (Llama 3.2 3B's 3072; 4 KV heads) and of 128 below 1024 (64-wide
    heads) so that no parameter count falls between two widths."""
    overrides = dict(override_items)
    build = _builder(seq, overrides)
    hiddens = [overrides["hidden"]] if "hidden" in overrides else [*range(256, 1024, 128), *range(1024, 8192, 512), *range(8192, 131073, 1024)]
    out = []
    for hidden in hiddens:
        probe = build(hidden, 1)
        nominal = max(1, round(hidden / LLAMA3_RULE["hidden_per_layer"]))
        # Small models stray further from the rule's aspect ratio (GPT-2 small: 12 x 768,
        # Radford et al. 2019; Llama 3.2 1B: 16 x 2048): 0.5-2x nominal below 16 layers;
        # deeper ones stay within -25 %..+30 % of it.
        small = nominal < 16
        shallowest, deepest = math.floor((0.5 if small else 0.75) * nominal), math.ceil((2.0 if small else 1.3) * nominal)
        out.append((hidden, probe.params_per_layer, probe.params - probe.params_per_layer, shallowest, deepest, nominal))
    return tuple(out)


@functools.lru_cache(maxsize=8192)
def _shape_for_params(params: float, seq: int, override_items: tuple[tuple[str, Any], ...]) -> ModelShape:
    overrides = dict(override_items)
    build = _builder(seq, overrides)
    if "hidden" in overrides and "layers" in overrides:
        return build(overrides["hidden"], overrides["layers"])
    best: tuple[float, int, int] | None = None
    log_target = math.log(params)
    for hidden, per_layer, fixed, shallowest, deepest, nominal in _widths(seq, override_items):
        if "layers" in overrides:
            layers = overrides["layers"]
        else:
            # Depth near the rule's aspect ratio, adjusted to hit the target; deep models get a
            # multiple of 4 layers, so pipeline stages can divide them.
            fit = (params - fixed) / per_layer
            fit = 4 * round(fit / 4) if nominal >= 16 else round(fit)
            layers = int(min(max(fit, shallowest), deepest, 1e9)) or 1
        layers = max(1, layers)
        err = abs(math.log(layers * per_layer + fixed) - log_target)
        if best is None or err < best[0] - 1e-12:
            best = (err, hidden, layers)
    return build(best[1], best[2])


@functools.cache
def smallest_shape_params() -> float:
    """Parameters of the smallest model the rule builds: one layer of the narrowest width, with
    the rule's vocabulary (embeddings dominate it). No plan has a shape below this."""
    return float(_shape_for_params(1.0, DEFAULT_SHAPE_SEQ, ()).params)


@functools.lru_cache(maxsize=65536)
def smooth_dims(params: float) -> tuple[float, float, float]:
    """(layers, query width a d_head, KV width g d_head) of the rule as smooth functions of N.

    The discrete rule (:func:`shape_for_params`) jumps between whole layers and 1024-wide
    steps; costs that must be smooth in N (the serving cost the planner prices and
    differentiates) use the rule's nominal relations instead: hidden h = 128 layers, query
    width h, KV width min(h, 8 x 128), SwiGLU width 3.5 h, untied 128,256-token embeddings,
    solved for h so that the parameter count is exactly ``params``.
    """
    rule = LLAMA3_RULE
    if not (math.isfinite(params) and params > 0):
        raise PlannerInputError(f"params must be positive, got {params}")
    # With h / 128 layers the count is a cubic in h with positive coefficients, one for each
    # side of the KV width's cap (min(h, 1024)): c3 h^3 + c2 h^2 + c1 h.
    cap, per = float(rule["kv_heads"] * rule["head_dim"]), float(rule["hidden_per_layer"])
    c1, swiglu = 2.0 * rule["vocab"] + 1.0, 3.0 * rule["ffn_ratio"]
    below = ((4.0 + swiglu) / per, 2.0 / per, c1)  # KV width h
    above = ((2.0 + swiglu) / per, (2.0 * cap + 2.0) / per, c1)  # KV width capped
    c3, c2, c1 = above if params >= below[0] * cap**3 + below[1] * cap**2 + c1 * cap else below
    # Newton's method from above (each term alone bounds the root from above; the cubic is
    # convex and increasing for h > 0, so the iterates fall monotonically onto the root).
    h = min((params / c3) ** (1 / 3), (params / c2) ** 0.5, params / c1)
    for _ in range(100):
        step = (((c3 * h + c2) * h + c1) * h - params) / ((3.0 * c3 * h + 2.0 * c2) * h + c1)
        h -= step
        if step <= 1e-15 * h:  # a few ulps (a planner choice)
            break
    return h / rule["hidden_per_layer"], h, min(h, float(rule["kv_heads"] * rule["head_dim"]))
