"""Speed of the layout search (not part of the test run).

    python benchmarks/bench_layout.py

GPT-3 175B on 1,024 H100s, global batch 1,536: the exhaustive search (target: a few
seconds on two cores) and the TPE search (target: within 2 % of the exhaustive optimum
with at most a tenth of its evaluations).
"""

from __future__ import annotations

import time

from planner.hardware.registry import load_registry
from planner.systems.layout import search_layouts
from planner.systems.shape import ModelShape

GPT3 = ModelShape(layers=96, hidden=12288, heads=96, kv_heads=96, ffn=4 * 12288, vocab=51200, seq=2048, mlp="gelu", tied_embeddings=True)


def main() -> None:
    h100 = load_registry(user_config=False).get("h100")
    t = time.perf_counter()
    ex = search_layouts(GPT3, h100, 1024, 1536)
    t_ex = time.perf_counter() - t
    print(f"exhaustive: {t_ex:.2f} s, {ex.space_size:,} candidates, {ex.evaluated:,} fit and were timed; best {ex.best.layout} {ex.best.step_time_s:.3f} s")
    t = time.perf_counter()
    by = search_layouts(GPT3, h100, 1024, 1536, method="bayesian", trials=300, seed=0)
    t_by = time.perf_counter() - t
    gap = by.best.step_time_s / ex.best.step_time_s - 1
    print(f"bayesian:   {t_by:.2f} s, {by.evaluated} evaluations ({by.evaluated / ex.evaluated:.1%} of exhaustive); gap {gap:.2%}")


if __name__ == "__main__":
    main()
