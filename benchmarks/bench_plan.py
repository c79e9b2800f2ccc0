"""Speed benchmarks for the planning spine (not part of the test run).

    python benchmarks/bench_plan.py

Prints, on this machine:
  * `plan --help` wall time (must stay instant: no heavy imports);
  * a cold `plan --budget 1e23 --gpu h100 --infer-tokens 1e12` process, next to a bare
    `python -c "import cvxpy"` (the headline plan no longer imports cvxpy: the reduced 1-D
    backend serves it, so the cold run should now come in under that import);
  * the per-call time of re-solving the cached geometric program over 200 budgets
    (target ~1-2 ms per re-solve), with and without an inference term, and of the reduced
    1-D backend the plan uses on the same problems;
  * warm plan() calls, each with the layout searches' memory cleared (a new plan's searches).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time


def wall(cmd: list[str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def resolve_loop(inference_tokens: float, n: int = 200, backend: str = "convex") -> float:
    from planner.laws.catalog import get_law
    from solvers import AllocationProblem, LawCoefficients, solve_convex, solve_reduced

    solve = solve_convex if backend == "convex" else solve_reduced

    law = LawCoefficients.of(get_law("besiroglu2024"))
    budgets = [10 ** (20 + 6 * i / (n - 1)) for i in range(n)]
    solve(AllocationProblem(law=law, objective="min_loss", budget_flops=1e22, inference_tokens=inference_tokens))
    t = time.perf_counter()
    for c in budgets:
        solve(AllocationProblem(law=law, objective="min_loss", budget_flops=c, inference_tokens=inference_tokens))
    return (time.perf_counter() - t) / n


def warm_plan(n: int = 5, **kwargs: object) -> float:
    """In-process plan() after a warm-up (GP shapes compiled), median seconds."""
    import planner
    from planner.systems import layout

    planner.plan(**kwargs)
    times = []
    for _ in range(n):
        layout.forget_searches()
        t = time.perf_counter()
        planner.plan(**kwargs)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    plan = shutil.which("plan") or sys.exit("install the project first (pip install -e .)")
    print(f"plan --help                      {wall([plan, '--help']) * 1e3:8.0f} ms")
    print(f"python -c 'import cvxpy'         {wall([sys.executable, '-c', 'import cvxpy']) * 1e3:8.0f} ms")
    cold = wall([plan, "--budget", "1e23", "--gpu", "h100", "--infer-tokens", "1e12", "--json"])
    print(f"plan --budget 1e23 ... (cold)    {cold * 1e3:8.0f} ms")
    print(f"re-solve, training only          {resolve_loop(0.0) * 1e3:8.2f} ms per budget (200 budgets)")
    print(f"re-solve, with 1e12 served       {resolve_loop(1e12) * 1e3:8.2f} ms per budget (200 budgets)")
    print(f"reduced 1-D, training only       {resolve_loop(0.0, backend='reduced') * 1e3:8.2f} ms per budget")
    print(f"reduced 1-D, with 1e12 served    {resolve_loop(1e12, backend='reduced') * 1e3:8.2f} ms per budget")
    head = dict(budget_flops=1e23, gpu="h100", infer_tokens=1e12)
    print(f"plan(), headline, warm           {warm_plan(**head) * 1e3:8.0f} ms (roofline, 3 bit widths, cluster ladder and fixed point)")
    print(f"plan(), headline, one MFU        {warm_plan(**head, choose_layout=False) * 1e3:8.0f} ms (no cluster or layout)")
    print(f"plan(), flops serving, warm      {warm_plan(**head, serving_cost='flops') * 1e3:8.0f} ms (cluster ladder and fixed point)")
    joint = dict(budget_flops=1e22, infer_tokens=1e11, objective="pass@k", task="math", law="gadre2024-rpj", serving_cost="roofline")
    print(f"plan(), pass@k 3 x 11 choices    {warm_plan(3, **joint) * 1e3:8.0f} ms")
    print(f"plan(), --gpus 512 fixed point   {warm_plan(3, gpu_hours=5e5, gpus=512) * 1e3:8.0f} ms")


if __name__ == "__main__":
    main()
