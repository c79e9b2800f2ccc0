"""BLAS threads for small solves (not part of the test run).

    python benchmarks/bench_threads.py

Runs the same bootstrap fit through the CLI twice in fresh processes: with the CLI's default
(one BLAS thread, ``planner.cli.app.pin_blas_threads``) and with the thread pools left to
their defaults (``PLANNER_BLAS_THREADS=0``, all cores). Prints both wall times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from planner.cli.app import BLAS_THREAD_VARS
from planner.io import measured_data_dir

ARGS = ["fit", str(measured_data_dir() / "chinchilla_epoch.csv"), "--bootstrap", "200", "--json"]


def run(extra: dict[str, str]) -> float:
    env = {k: v for k, v in os.environ.items() if k not in BLAS_THREAD_VARS}
    env.update(extra)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sys; from planner.cli import main; sys.exit(main(sys.argv[1:]))", *ARGS],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    print(f"{os.cpu_count()} cores; plan {' '.join(ARGS[:1])} ... --bootstrap 200")
    free = run({"PLANNER_BLAS_THREADS": "0"})
    pinned = run({})
    print(f"BLAS threads left to their defaults  {free:6.2f} s")
    print(f"one BLAS thread (the CLI default)    {pinned:6.2f} s  ({free / pinned:.2f}x)")


if __name__ == "__main__":
    main()
