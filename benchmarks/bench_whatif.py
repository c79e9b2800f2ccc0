"""Speed of what-if sweeps (issue 16; not part of the test run).

    python benchmarks/bench_whatif.py

Prints the warm per-plan time, median over a sweep of budgets, of
  * an allocation-only plan (``--no-layout --serving-cost flops``): target within 2 ms of the
    GP re-solve, so that 1,000 points take under 5 s on one core;
  * a joint serving plan (bits x k, roofline serving, no layout): target 60 ms;
  * the full headline plan (cluster ladder, layout, serving choices): target 150 ms;
and a 40-point allocation sweep through ``plan sweep`` in-process, serial and with 2 workers.
"""

from __future__ import annotations

import statistics
import time


def per_plan(n: int, **kwargs) -> float:
    import planner

    budgets = [10 ** (22 + 3 * i / (n - 1)) for i in range(n)]
    planner.plan(budget_flops=1e22, **kwargs)  # warm: imports, law, registry, caches
    times = []
    for c in budgets:
        t = time.perf_counter()
        planner.plan(budget_flops=c, **kwargs)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def sweep(workers: int) -> float:
    import contextlib
    import io

    from planner.cli import main

    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        main(["sweep", "--budget", "1e21:1e24:40", "--no-layout", "--serving-cost", "flops", "--infer-tokens", "1e11",
              "--workers", str(workers), "--json"])
    return time.perf_counter() - t


if __name__ == "__main__":
    from planner.cli.app import pin_blas_threads

    pin_blas_threads()
    alloc = per_plan(100, infer_tokens=1e11, choose_layout=False, serving_cost="flops")
    joint = per_plan(20, infer_tokens=1e12, choose_layout=False, objective="pass@k", task="math")
    full = per_plan(10, infer_tokens=1e12)
    print(f"allocation-only plan, warm: {alloc * 1e3:8.1f} ms  (target: GP re-solve + 2 ms)")
    print(f"joint serving plan, warm:   {joint * 1e3:8.1f} ms  (target 60 ms)")
    print(f"full headline plan, warm:   {full * 1e3:8.1f} ms  (target 150 ms)")
    print(f"40-point sweep, serial:     {sweep(1):8.2f} s")
    print(f"40-point sweep, 2 workers:  {sweep(2):8.2f} s  (process start-up included)")
