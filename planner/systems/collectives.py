"""Time of one collective (all-reduce, all-gather / reduce-scatter, point-to-point) on an
accelerator's link tiers, for the step-time model in :mod:`planner.systems.perf`.

Checked, never fitted, against vTrain's measured NCCL all-reduce on one A100 node
(``planner/data/measured/vtrain_a100_nccl_allreduce.csv``; tests/systems/test_perf.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from planner.hardware.registry import Accelerator

if TYPE_CHECKING:
    from planner.systems.perf import Calibration

__all__ = ["collective_s"]


def collective_s(
    kind: str, group: np.ndarray, span: np.ndarray, nbytes: np.ndarray, accel: Accelerator, cal: Calibration
) -> np.ndarray:
    """Time of one collective over ``group`` ranks spread across ``span`` consecutive devices.

    Alpha-beta model (one calibrated latency per collective plus bytes over bandwidth),
    hierarchical across nodes as NCCL behaves: the members inside one node combine over the
    fast link, then each of them carries 1/q of the data over its own network port to the
    other nodes (q = members per node). ``kind`` is ``allreduce`` (ring factor 2(n-1)/n),
    ``gather`` (all-gather or reduce-scatter, (n-1)/n) or ``p2p``. A latency growing with
    ring steps (Thakur et al. 2005) fitted the A100 runs no better and ranked vTrain's
    multi-node layouts worse, so the constant form is kept; so did vTrain's measured NCCL
    tables in its place inside an A100 node (README, "Layouts, memory and step time").
    """
    group = np.asarray(group, dtype=float)
    span = np.asarray(span, dtype=float)
    dpn = float(accel.devices_per_node)
    intra = accel.intra_node_link_bytes_per_s
    if accel.devices_per_package > 1 and accel.intra_package_link_bytes_per_s:
        intra = np.where(span <= accel.devices_per_package, accel.intra_package_link_bytes_per_s, intra)
    inter = accel.inter_node_link_bytes_per_s
    eta, eta_net = cal.link_efficiency, cal.network_efficiency

    def factor(n: np.ndarray) -> np.ndarray:
        n = np.maximum(n, 1.0)
        if kind == "allreduce":
            return 2 * (n - 1) / n
        if kind == "gather":
            return (n - 1) / n
        return np.where(n > 1, 1.0, 0.0)

    stride = span / np.maximum(group, 1.0)
    q = np.clip(np.floor(dpn / np.maximum(stride, 1.0)), 1.0, group)  # members per node
    nodes = np.ceil(group / q)
    t_intra = factor(q) * nbytes / (intra * eta)
    t_inter = factor(nodes) * (nbytes / q) / (inter * eta_net)
    if kind == "p2p":  # a neighbour either shares the node or not
        t_intra = np.where(span <= dpn, nbytes / (intra * eta), 0.0)
        t_inter = np.where(span > dpn, nbytes / (inter * eta_net), 0.0)
    return np.where(group > 1, cal.collective_latency_s + t_intra + t_inter, 0.0)
