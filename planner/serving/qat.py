"""Quantisation-aware training: how much of training to spend in QAT, and what serving at
low precision costs in loss.

* QAT share (Dremov et al. 2025, "Compute-Optimal Quantization-Aware Training", via
  shared/reference/laws.md sec. 3): with tokens per parameter byte ``S = D / (N B / 8)``,
  the optimal share of training tokens spent in QAT is ``f* = exp(-a / ln S)``,
  ``a = 6.7297`` (natural log; mean absolute error 0.091 in their fit). QAT tokens are part
  of D: they cost ``6 N`` FLOPs each like the rest of training.
* Loss at low precision (Kumar et al. 2024, "Scaling Laws for Precision"): precision acts
  as effective parameters, ``N_eff = N prod_x (1 - exp(-P_x / gamma_x))``, with
  ``gamma_w = 2.6745`` for weights and ``gamma_kv = 0.9578`` for the KV cache. The planner's
  laws are fitted on 16-bit models, so the factor is taken relative to 16 bits:
  ``rho(B) = (1 - exp(-B/gamma_w)) / (1 - exp(-16/gamma_w))`` and the loss is
  ``L(rho N, D)``. Kumar's constants come from their own setup: treat the penalty as an
  estimate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from planner.serving.cost import check_bits
from planner.validate import check_positive

__all__ = ["DREMOV_A", "GAMMA_KV", "GAMMA_W", "QATResult", "precision_factor", "qat_fraction", "qat_plan"]

DREMOV_A = 6.7297  # Dremov et al. 2025 (laws.md sec. 3)
GAMMA_W = 2.6745  # Kumar et al. 2024 Table (laws.md sec. 3)
GAMMA_KV = 0.9578


def qat_fraction(params: float, tokens: float, bits: int) -> float:
    """Optimal share of training tokens spent in QAT at ``bits`` (0 for 16-bit serving)."""
    if bits >= 16:
        return 0.0
    s = tokens / (params * bits / 8)
    if s <= 1.0:
        return 0.0
    return math.exp(-DREMOV_A / math.log(s))


def precision_factor(weight_bits: int, kv_bits: int = 16) -> float:
    """Effective-parameter multiplier of serving at these widths, relative to 16 bits."""
    def one(bits: int, gamma: float) -> float:
        return (1 - math.exp(-bits / gamma)) / (1 - math.exp(-16 / gamma))

    return one(weight_bits, GAMMA_W) * one(kv_bits, GAMMA_KV)


@dataclass(frozen=True)
class QATResult:
    bits: int
    kv_bits: int
    fraction: float
    qat_tokens: float
    tokens_per_param_byte: float
    precision_factor: float
    loss_16bit: float
    loss: float
    loss_penalty: float
    weight_bytes: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def qat_plan(law: Any, params: float, tokens: float, bits: int, kv_bits: int = 16) -> QATResult:
    """The QAT share and loss penalty for serving ``params`` trained on ``tokens`` at ``bits``."""
    for name, v in (("params", params), ("tokens", tokens)):
        check_positive(name, v)
    check_bits(bits, kv_bits)
    f = qat_fraction(params, tokens, bits)
    rho = precision_factor(bits, kv_bits)
    base = law.loss(params, tokens)
    low = law.loss(rho * params, tokens)
    return QATResult(
        bits=bits, kv_bits=kv_bits, fraction=f, qat_tokens=f * tokens,
        tokens_per_param_byte=tokens / (params * bits / 8), precision_factor=rho,
        loss_16bit=base, loss=low, loss_penalty=low - base, weight_bytes=params * bits / 8,
    )
