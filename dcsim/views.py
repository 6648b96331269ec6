"""Read-only views that policies decide on.

A view is a window onto the live state and its indexes, not a copy: copying the
cluster per decision would cost O(cluster). Policies read these and return decision
values; they never mutate state, yield, or do I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dcsim.infra.topology import Pool


class JobView(Protocol):
    """What a policy may read of a job."""

    @property
    def id(self) -> int:
        """Job id (dense, in submission order)."""

    @property
    def job_class(self) -> str:
        """Job class name."""

    @property
    def tenant(self) -> str:
        """Tenant."""

    @property
    def priority(self) -> int:
        """Priority; higher runs first under `priority`."""

    @property
    def gpus(self) -> int:
        """GPUs the job needs, all at once."""

    @property
    def estimate(self) -> float:
        """Declared run time, s (equals the true run time unless `estimate_error` > 0)."""

    @property
    def expected_duration(self) -> float:
        """Mean run time of the job's class, s."""

    @property
    def submit_time(self) -> float:
        """Submission time, s."""

    @property
    def pools(self) -> Sequence[int]:
        """Pools (one GPU type of one site) the job may run in."""

    @property
    def restarts(self) -> int:
        """Times the job was interrupted and queued again (0 for a fresh job)."""

    @property
    def speeds(self) -> Sequence[float] | None:
        """The job's rate in each pool (by pool id): its speed there over its class's reference (None: 1 in all)."""


class FailureView(Protocol):
    """What a repair policy may read of a failure waiting for a technician."""

    @property
    def id(self) -> int:
        """Failure id (dense, in order of failure)."""

    @property
    def time(self) -> float:
        """Failure time, s."""

    @property
    def component(self) -> str:
        """Component class: ``gpu``, ``node``, ``rack`` or ``site``."""

    @property
    def cause(self) -> str:
        """Cause name (the component class unless named in ``failures.causes``)."""

    @property
    def gpus_down(self) -> int:
        """GPUs the failure took out of service (its blast radius)."""

    @property
    def jobs_hit(self) -> int:
        """Jobs it interrupted."""


class ClusterView(Protocol):
    """What a policy may read of the cluster: free GPUs and their indexes."""

    @property
    def pools(self) -> Sequence[Pool]:
        """All pools."""

    @property
    def free(self) -> Sequence[int]:
        """Free GPUs per node id."""

    @property
    def pool_free(self) -> Sequence[int]:
        """Free GPUs per pool."""

    @property
    def node_pool(self) -> Sequence[int]:
        """Pool id of each node."""

    @property
    def node_rack(self) -> Sequence[int]:
        """Rack id of each node."""

    @property
    def rack_nodes(self) -> Sequence[Sequence[int]]:
        """Node ids of each rack."""

    @property
    def rack_whole_free(self) -> Sequence[int]:
        """Nodes of each rack with every GPU free."""

    def count(self, pool: int, free: int) -> int:
        """Nodes of ``pool`` with exactly ``free`` free GPUs."""

    def lowest_node(self, pool: int, free: int) -> int | None:
        """Lowest-id node of ``pool`` with exactly ``free`` free GPUs."""

    def lowest_nodes(self, pool: int, free: int, k: int, exclude: int = -1) -> list[int]:
        """The ``k`` lowest-id nodes of ``pool`` with exactly ``free`` free GPUs."""

    def nodes_in_bucket(self, pool: int, free: int) -> list[int]:
        """Every node of ``pool`` with exactly ``free`` free GPUs, ascending."""


@dataclass(frozen=True)
class Fleet:
    """Per-pool figures a batch scheduler prices decisions with (given once, by ``bind``).

    Attributes:
        price: USD per GPU-hour of each pool (``costs.gpu_hour_usd``, or its site's own): what a
            GPU-hour is worth.
        energy: USD a busy GPU-hour adds to the energy bill in each pool: (busy - idle
            power) x PUE x electricity price (its site's).
        rates: failure rates of each pool, 1/s: (per GPU, per node, per rack, per site);
            all zero without a failures block.
    """

    price: tuple[float, ...]
    energy: tuple[float, ...]
    rates: tuple[tuple[float, float, float, float], ...]

    @property
    def use_price(self) -> tuple[float, ...]:
        """USD per busy GPU-hour when GPU-hours are paid by use: price plus energy."""
        return tuple(p + e for p, e in zip(self.price, self.energy, strict=True))
