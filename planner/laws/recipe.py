"""The training recipe that goes with a plan: peak learning rate, batch size, schedule.

Rules (shared/reference/laws.md sec. 4):

* ``steplaw`` (default) -- Li et al. 2025, "Predictable Scale: Part I -- Optimal
  Hyperparameter Scaling Law in LLM Pretraining" (Step Law), fitted on dense models:
  ``lr* = 1.79 N^-0.713 D^0.307`` and ``B* = 0.58 D^0.571`` tokens, N non-embedding.
* ``deepseek`` -- DeepSeek-AI 2024, "DeepSeek LLM: Scaling Open-Source Language Models with
  Longtermism": ``lr* = 0.3118 C^-0.125`` and ``B* = 0.2920 C^0.3271`` tokens. DeepSeek's C
  counts non-embedding FLOPs per token times D; here C = 6ND.

Schedule: Warmup-Stable-Decay (Hu et al. 2024, MiniCPM) with ~10 % of tokens in the decay,
which lets one run serve several token budgets. The warmup share has no published law in
our references: it is a user setting (default 1 % of steps).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from planner.defaults import DEFAULT_SEQ_LEN, DEFAULT_WARMUP_FRACTION
from planner.errors import PlannerInputError

__all__ = ["DEEPSEEK_LAW", "LR_RULES", "STEP_LAW", "TrainingRecipe", "law_optimum", "training_recipe", "with_decay_share"]

# (coefficient, exponent(s)) with their source; see the module docstring.
STEP_LAW = {"lr": (1.79, -0.713, 0.307), "batch": (0.58, 0.571)}
DEEPSEEK_LAW = {"lr": (0.3118, -0.125), "batch": (0.2920, 0.3271)}
LR_RULES = {
    "steplaw": "Step Law (Li et al. 2025): lr = 1.79 N^-0.713 D^0.307, B = 0.58 D^0.571 tokens",
    "deepseek": "DeepSeek LLM (2024): lr = 0.3118 C^-0.125, B = 0.2920 C^0.3271 tokens",
}
WSD_DECAY_FRACTION = 0.10  # MiniCPM's WSD schedule, ~10 % of tokens in the decay (laws.md sec. 4)
#: Shape of the decay: 1 - sqrt, which Hagele et al. 2024 (Scaling Laws and Compute-Optimal
#: Training Beyond Fixed Training Durations, sec. 3) found to beat linear and cosine cooldowns;
#: MiniCPM decayed exponentially. A recipe choice, not a law.
WSD_DECAY_SHAPE = "1-sqrt"
#: Where the decay ends, as a share of the peak rate: Llama 3 405B decayed from 8e-5 to 8e-7
#: (Dubey et al. 2024, sec. 3.4.1). A published recipe's choice, not a law; the report says so.
MIN_LR_FRACTION = 0.01


@dataclass(frozen=True)
class TrainingRecipe:
    rule: str
    source: str
    learning_rate: float
    min_learning_rate: float
    batch_tokens_law: float  # the law's optimum, before rounding
    batch_sequences: int
    batch_tokens: int
    seq_len: int
    steps: int
    warmup_steps: int
    stable_steps: int
    decay_steps: int
    notes: tuple[str, ...] = ()
    decay_shape: str = WSD_DECAY_SHAPE

    @property
    def decay_style(self) -> str:
        """The decay shape in Megatron's ``--lr-wsd-decay-style`` names."""
        return {"1-sqrt": "minus_sqrt"}.get(self.decay_shape, self.decay_shape)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["notes"] = list(self.notes)
        d["schedule"] = "warmup-stable-decay"
        return d


def with_decay_share(recipe: TrainingRecipe, share: float, note: str) -> TrainingRecipe:
    """The recipe with its WSD decay over ``share`` of the steps (the warmup kept), saying why."""
    decay = min(round(recipe.steps * share), recipe.steps - recipe.warmup_steps - 1)
    if decay < 1:
        return recipe
    notes = tuple(n for n in recipe.notes if not n.startswith("decay share")) + (note,)
    return replace(recipe, decay_steps=decay, stable_steps=recipe.steps - recipe.warmup_steps - decay, notes=notes)


def law_optimum(rule: str, params: float, tokens: float) -> tuple[float, float]:
    """(peak learning rate, batch in tokens) the rule gives for ``params`` on ``tokens``."""
    if rule == "steplaw":
        c, a, b = STEP_LAW["lr"]
        cb, eb = STEP_LAW["batch"]
        return c * params**a * tokens**b, cb * tokens**eb
    if rule == "deepseek":
        compute = 6.0 * params * tokens
        c, a = DEEPSEEK_LAW["lr"]
        cb, eb = DEEPSEEK_LAW["batch"]
        return c * compute**a, cb * compute**eb
    raise PlannerInputError(f"unknown learning-rate rule '{rule}'; choose {', '.join(LR_RULES)}")


def training_recipe(
    params: float,
    tokens: float,
    *,
    rule: str = "steplaw",
    seq_len: int = DEFAULT_SEQ_LEN,
    batch_multiple: int = 1,
    warmup_fraction: float = DEFAULT_WARMUP_FRACTION,
    decay_fraction: float = WSD_DECAY_FRACTION,
    params_include_embeddings: bool = True,
    batch_sequences: int | None = None,
    batch_note: str | None = None,
) -> TrainingRecipe:
    """Learning rate, batch and WSD schedule for ``params`` trained on ``tokens``.

    ``batch_multiple`` rounds the batch (in sequences) to a multiple the layout can split;
    ``batch_sequences`` (the layout's own rounding, explained by ``batch_note``) sets it.
    """
    if seq_len < 1 or batch_multiple < 1:
        raise PlannerInputError("seq-len and the batch multiple must be positive integers")
    if not (0 <= warmup_fraction < 1 and 0 <= decay_fraction < 1 and warmup_fraction + decay_fraction < 1):
        raise PlannerInputError("warmup and decay fractions must be in [0, 1) and sum below 1")
    lr, batch_law = law_optimum(rule, params, tokens)
    if batch_sequences is None:
        sequences = max(1, round(batch_law / seq_len / batch_multiple)) * batch_multiple
    else:
        sequences = batch_sequences
    batch_tokens = sequences * seq_len
    steps = max(1, math.ceil(tokens / batch_tokens))
    warmup = round(steps * warmup_fraction)
    decay = round(steps * decay_fraction)
    notes = [batch_note or f"batch rounded from {batch_law:,.0f} tokens to {sequences} sequences of {seq_len}"]
    if batch_multiple > 1:
        notes.append(f"a multiple of {batch_multiple} sequences so data parallelism can split it")
    if rule == "steplaw" and params_include_embeddings:
        notes.append("Step Law expects non-embedding N; the law's N counts embeddings, so lr is slightly low for small models")
    notes.append(f"decay to {MIN_LR_FRACTION:.0%} of the peak rate, as Llama 3 405B did (Dubey et al. 2024): a recipe choice, not a law")
    notes.append(f"decay shape {WSD_DECAY_SHAPE} (Hagele et al. 2024's best cooldown): a recipe choice, not a law")
    notes.append(f"decay share {decay_fraction:.0%} of the steps (MiniCPM's WSD, Hu et al. 2024): a recipe choice; "
                 "--curve-law derives it from a fitted loss-curve law")
    if warmup_fraction == DEFAULT_WARMUP_FRACTION:
        notes.append(f"warmup {DEFAULT_WARMUP_FRACTION:.0%} of steps is a planner default, not a published law")
    return TrainingRecipe(
        rule=rule,
        source=LR_RULES[rule],
        learning_rate=lr,
        min_learning_rate=lr * MIN_LR_FRACTION,
        batch_tokens_law=batch_law,
        batch_sequences=sequences,
        batch_tokens=batch_tokens,
        seq_len=seq_len,
        steps=steps,
        warmup_steps=warmup,
        stable_steps=steps - warmup - decay,
        decay_steps=decay,
        notes=tuple(notes),
    )
