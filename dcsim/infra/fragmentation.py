"""GPU fragmentation as the FGD study defines it (Weng et al., "Beware of Fragmentation", ATC'23).

INTERFACE ONLY (issue 16 foundations): the fgd helper implements it from the paper and the
authors' simulator (pkg/utils/frag.go), keeping these names and signatures.

A node's fragmentation measured by a request shape is the idle GPU capacity on it that a
request of that shape cannot use; against a workload (shapes with their popularity) it is
the popularity-weighted sum, F_n(M). The cluster's is the sum over nodes. All in milli-GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from dcsim.infra.shares import Demand, Shares


class Shape(NamedTuple):
    """One request shape of the workload and its popularity.

    Attributes:
        demand: what a request of this shape needs.
        weight: its popularity (the shapes' weights sum to 1).
        gpu_types: GPU type indices (``Shares.gpu_type``) it may run on; None: any.
    """

    demand: Demand
    weight: float
    gpu_types: frozenset[int] | None = None


def node_fragmentation(shares: Shares, node: int, shapes: Sequence[Shape]) -> float:
    """F_n(M): expected milli-GPU of ``node`` idle that a request drawn from ``shapes`` cannot use."""
    raise NotImplementedError


class FragmentationTracker:
    """The cluster's fragmentation kept current as nodes change; cost O(1) per change for a node state seen before.

    Args:
        shares: the live state (read only).
        shapes: the workload's request shapes.
    """

    def __init__(self, shares: Shares, shapes: Sequence[Shape]) -> None:
        raise NotImplementedError

    #: Milli-GPU of fragmentation over all nodes now.
    total: float

    def update(self, node: int) -> None:
        """Call after ``node``'s state changed (an allocate or release on it)."""
        raise NotImplementedError

    def delta(self, node: int, demand: Demand, gpus: Sequence[int]) -> float:
        """The change of F_n(M) if ``demand`` were allocated on ``node``'s GPUs ``gpus`` (FGD's score)."""
        raise NotImplementedError


__all__ = ["FragmentationTracker", "Shape", "node_fragmentation"]
