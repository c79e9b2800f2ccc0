"""Planner defaults that several modules (and the CLI's option defaults) share.

Standard library only, so ``planner.cli`` can import it without slowing ``plan --help``.
Each value says whether it is published or a planning choice.
"""

from __future__ import annotations

__all__ = ["DEFAULT_GOODPUT", "DEFAULT_MEMORY_RESERVE_FRACTION", "GENERIC_DEFAULT_MFU"]

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
