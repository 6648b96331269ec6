"""Read-only views that policies decide on.

A view is a window onto the live state and its indexes, not a copy: copying the
cluster per decision would cost O(cluster). Policies read these and return decision
values; they never mutate state, yield, or do I/O.

The Protocols say what a policy may read. The built-in policies are given the engine's
live objects, which have these attributes (it keeps the hot path free of a proxy); a
plug-in gets proxies that have nothing else:

- :func:`cluster_view`: built once per run, O(1) per read; its sequences are live but
  read-only, and nothing public on it leads to ``allocate``, ``release`` or the lists
  behind it.
- :class:`JobSnapshot`: an immutable record of a job's fields, made when the job is
  shown to the plug-in. A job's fields do not change while it is queued or in one run
  (an interrupted job is queued again as a new object), so it is exact, and it holds no
  reference to the engine's job.
- :func:`queue_view`: the queue in order, as snapshots made lazily (O(1) to build); the
  engine alone keeps the map from the jobs it showed back to its jobs.
- :class:`FailureSnapshot`: a failure as a repair plug-in sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

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

    @property
    def checkpoint(self) -> tuple[float, float, float] | None:
        """Its checkpointing as (interval of work, write time, restart time), s; interval NaN: Young/Daly.

        A checkpoint with a ``size`` has write time 0 here: its writes take what the storage gives them.
        """

    @property
    def communication(self) -> tuple[str, float, float] | None:
        """Its class's communication profile as (pattern, bytes per step, compute per step in s), or None."""

    @property
    def start_time(self) -> float:
        """Start of its current run, s (-1 while queued)."""

    @property
    def placement(self) -> Sequence[tuple[int, int]]:
        """``(node, GPUs)`` of its current run (empty while queued)."""

    @property
    def rate(self) -> float:
        """Work done per second in its current run (1 at the reference speed)."""


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

    @property
    def busy_gpus(self) -> int:
        """GPUs allocated to runs."""

    @property
    def down_gpus(self) -> int:
        """GPUs out of service (failed, or drained for maintenance)."""

    @property
    def installed_gpus(self) -> int:
        """GPUs installed."""

    def count(self, pool: int, free: int) -> int:
        """Nodes of ``pool`` with exactly ``free`` free GPUs."""

    def lowest_node(self, pool: int, free: int) -> int | None:
        """Lowest-id node of ``pool`` with exactly ``free`` free GPUs."""

    def lowest_nodes(self, pool: int, free: int, k: int, exclude: int = -1) -> list[int]:
        """The ``k`` lowest-id nodes of ``pool`` with exactly ``free`` free GPUs."""

    def nodes_in_bucket(self, pool: int, free: int) -> list[int]:
        """Every node of ``pool`` with exactly ``free`` free GPUs, ascending."""

    def running(self) -> Sequence[JobView]:
        """The jobs running now (plug-ins get snapshots; empty when the engine does not track runs)."""

    @property
    def network(self) -> NetworkView | None:
        """The fabric's links and their load now (None when no job class communicates: no fabric is modelled)."""


class NetworkView(Protocol):
    """What a policy may read of the fabric: its links, their capacities and their load now (live, read-only)."""

    @property
    def capacity(self) -> Sequence[float]:
        """Capacity of each link, bits/s, by link id."""

    @property
    def load(self) -> Sequence[float]:
        """Traffic on each link now, bits/s: the sum of the running flows' shares over it."""

    @property
    def crossings(self) -> Sequence[int]:
        """Flows crossing each link now (a flow crossing it twice counts twice)."""

    def tier(self, link: int) -> int:
        """Tier code of a link: 0 a NIC link, 1 the first switch tier's uplinks, 2 a fat-tree pod's core links."""

    def uplinks(self, rack: int) -> Sequence[int]:
        """The links a rack's traffic to other racks crosses first (its leaf's or edge switch's uplinks, each way)."""

    def links(self, pattern: str, nodes: Sequence[int]) -> tuple[list[int], int, float, float]:
        """A job's flow on ``nodes`` (in that order): its links (once per hop), hops, bytes per hop over S, phases.

        As :meth:`dcsim.infra.fabrics.Fabric.links` gives them.
        """

    def nominal_share(self, links: Sequence[int]) -> float:
        """A flow's share per hop alone on the NICs, bits/s: the speed its class's duration is measured at."""


class QueueLike(Protocol):
    """What a scheduler may read of the queue: its jobs in order, and what just changed."""

    #: The job just queued when the engine asks because of an arrival (None: capacity was
    #: freed, or an epoch); with it, only that job can have become startable.
    arrival: Any
    #: Whether ``arrival`` is first in line.
    arrival_first: bool

    def __len__(self) -> int:
        """Jobs queued."""

    def __iter__(self) -> Iterator[Any]:
        """Queued jobs in the scheduler's order."""

    def first(self) -> Any:
        """The job first in line, or None."""


class JobSnapshot(NamedTuple):
    """A job as a plug-in policy sees it: its fields, frozen (see :class:`JobView`)."""

    id: int
    job_class: str
    tenant: str
    priority: int
    gpus: int
    estimate: float
    expected_duration: float
    submit_time: float
    pools: tuple[int, ...]
    restarts: int
    speeds: tuple[float, ...] | None
    checkpoint: tuple[float, float, float] | None
    communication: tuple[str, float, float] | None
    start_time: float
    placement: tuple[tuple[int, int], ...]
    rate: float

    @classmethod
    def of(cls, job: Any) -> JobSnapshot:
        """The snapshot of a live job."""
        return cls(job.id, job.job_class, job.tenant, job.priority, job.gpus, job.estimate, job.expected_duration,
                   job.submit_time, job.pools, job.restarts, job.speeds, job.checkpoint, job.communication,
                   job.start_time,
                   tuple(job.placement), job.rate)  # fmt: skip


class FailureSnapshot(NamedTuple):
    """A failure as a plug-in repair policy sees it: its fields, frozen (see :class:`FailureView`)."""

    id: int
    time: float
    component: str
    cause: str
    gpus_down: int
    jobs_hit: int

    @classmethod
    def of(cls, failure: Any) -> FailureSnapshot:
        """The snapshot of a live failure."""
        return cls(failure.id, failure.time, failure.component, failure.cause, failure.gpus_down, failure.jobs_hit)


def queue_view(queue: QueueLike, window: int | None = None) -> tuple[QueueLike, Callable[..., None], Callable]:
    """The live queue as a plug-in scheduler reads it: snapshots in order, made lazily (O(1) to build).

    Args:
        queue: the engine's queue.
        window: the most jobs shown per decision (None: all).

    Returns:
        The view; ``refresh(arrival=None, first=False)``, which forgets the jobs shown before
        and notes an arrival; and ``job_of(snapshot)``, the engine's job behind a job the view
        showed (or None). Only the engine holds the last two: nothing on the view leads to a job.
    """
    shown: dict[int, Any] = {}
    state: list[Any] = [None, False]  # the arrival's snapshot, and whether it is first in line

    def show(job: Any) -> JobSnapshot:
        shown[job.id] = job
        return JobSnapshot.of(job)

    class View:
        """The queue, read-only (see :class:`QueueLike`)."""

        __slots__ = ()

        arrival = property(lambda self: state[0])
        arrival_first = property(lambda self: state[1])

        def __len__(self) -> int:
            return len(queue) if window is None else min(len(queue), window)

        def __iter__(self) -> Iterator[JobSnapshot]:
            for i, job in enumerate(queue):
                if window is not None and i >= window:
                    return
                yield show(job)

        def first(self) -> JobSnapshot | None:
            """The job first in line, or None."""
            job = queue.first()
            return None if job is None else show(job)

        def __repr__(self) -> str:
            return f"<queue view: {len(queue)} jobs>"

    def refresh(arrival: Any = None, first: bool = False) -> None:
        shown.clear()
        state[0] = None if arrival is None else show(arrival)
        state[1] = first

    def job_of(snapshot: Any) -> Any:
        key = getattr(snapshot, "id", None)
        return shown.get(key) if isinstance(key, int) else None

    return View(), refresh, job_of  # type: ignore[return-value]


class _ReadOnly(Sequence):
    """A live list, readable only."""

    __slots__ = ()


def read_only(items: list[Any]) -> Sequence[Any]:
    """A read-only, live view of ``items`` (nothing public on it leads to the list)."""

    class View(_ReadOnly):
        __slots__ = ()

        def __getitem__(self, i: Any) -> Any:
            return items[i]

        def __len__(self) -> int:
            return len(items)

        def __iter__(self) -> Iterator[Any]:
            return iter(items)

        def __repr__(self) -> str:
            return f"read_only({items!r})"

    return View()


def read_only_array(array: Any) -> Sequence[Any]:
    """A read-only, live view of a numpy array: items are numbers, and slices or index arrays come as copies."""

    class View(_ReadOnly):
        __slots__ = ()

        def __getitem__(self, i: Any) -> Any:
            item = array[i]
            return item.copy() if hasattr(item, "copy") and getattr(item, "ndim", 0) else item

        def __len__(self) -> int:
            return len(array)

        def __iter__(self) -> Iterator[Any]:
            return iter(array.tolist())

        def __repr__(self) -> str:
            return f"read_only_array({array!r})"

    return View()


def cluster_view(cluster: Any, running: Callable[[], Iterable[Any]] = tuple) -> ClusterView:
    """A read-only proxy of the live cluster, for plug-in policies (O(1) to build and per read).

    Args:
        cluster: the engine's :class:`dcsim.infra.cluster.Cluster`.
        running: the jobs running now (the engine's), shown as snapshots by ``running()``.
    """
    free, pool_free, whole = read_only(cluster.free), read_only(cluster.pool_free), read_only(cluster.rack_whole_free)
    pools, node_pool, node_rack = tuple(cluster.pools), tuple(cluster.node_pool), tuple(cluster.node_rack)
    rack_nodes = tuple(tuple(r) for r in cluster.rack_nodes)
    count, lowest, lowest_k, bucket = cluster.count, cluster.lowest_node, cluster.lowest_nodes, cluster.nodes_in_bucket

    class View:
        """The cluster, read-only (see :class:`ClusterView`)."""

        __slots__ = ()

        pools = property(lambda self: pools)
        free = property(lambda self: free)
        pool_free = property(lambda self: pool_free)
        node_pool = property(lambda self: node_pool)
        node_rack = property(lambda self: node_rack)
        rack_nodes = property(lambda self: rack_nodes)
        rack_whole_free = property(lambda self: whole)
        busy_gpus = property(lambda self: cluster.busy_gpus)
        down_gpus = property(lambda self: cluster.down_gpus)
        installed_gpus = property(lambda self: cluster.installed_gpus)
        network = property(lambda self: cluster.network)

        def count(self, pool: int, free: int) -> int:
            return count(pool, free)

        def lowest_node(self, pool: int, free: int) -> int | None:
            return lowest(pool, free)

        def lowest_nodes(self, pool: int, free: int, k: int, exclude: int = -1) -> list[int]:
            return lowest_k(pool, free, k, exclude)

        def nodes_in_bucket(self, pool: int, free: int) -> list[int]:
            return bucket(pool, free)

        def running(self) -> list[JobSnapshot]:
            """The jobs running now, as snapshots."""
            return [JobSnapshot.of(job) for job in running()]

        def __repr__(self) -> str:
            return f"<cluster view: {cluster.busy_gpus} of {cluster.installed_gpus} GPUs busy>"

    return View()  # type: ignore[return-value]


def network_view(network: Any) -> NetworkView:
    """A read-only proxy of the live fabric state, for placement and scheduling (O(1) to build and per read).

    Args:
        network: the engine's :class:`dcsim.engine.network.Network`: its ``link_load(link)``
            and its ``crossings`` array, updated in place (never rebound), so the view stays live.
    """
    fabric = network.fabric
    n_links = len(fabric.capacities)
    # Live and read-only; nothing public on them leads to the arrays (a numpy view's ``base`` would).
    capacity, crossings = read_only_array(fabric.capacities), read_only_array(network.crossings)
    link_load = network.link_load

    class Loads(_ReadOnly):
        """Each link's load now, computed when read (O(flows on the link)): the network keeps no array of it."""

        __slots__ = ()

        def __getitem__(self, link: int) -> float:
            return link_load(int(link))

        def __len__(self) -> int:
            return n_links

        def __iter__(self) -> Iterator[float]:
            return (link_load(link) for link in range(n_links))

        def __repr__(self) -> str:
            return f"<link loads of {n_links} links>"

    load = Loads()
    tier, uplinks, links, nominal = fabric.tier, fabric.uplinks, fabric.links, fabric.nominal_share

    class View:
        """The fabric, read-only (see :class:`NetworkView`)."""

        __slots__ = ()

        capacity = property(lambda self: capacity)
        load = property(lambda self: load)
        crossings = property(lambda self: crossings)

        def tier(self, link: int) -> int:
            return tier(link)

        def uplinks(self, rack: int) -> tuple[int, ...]:
            return tuple(uplinks(rack))

        def links(self, pattern: str, nodes: Sequence[int]) -> tuple[list[int], int, float, float]:
            return links(pattern, nodes)

        def nominal_share(self, links: Sequence[int]) -> float:
            return nominal(links)

        def __repr__(self) -> str:
            return f"<network view: {n_links} links>"

    return View()  # type: ignore[return-value]


@dataclass(frozen=True)
class Fleet:
    """Per-pool figures a batch scheduler prices decisions with (given once, by ``bind``).

    Attributes:
        price: USD per GPU-hour of each pool (``costs.gpu_hour_usd``, or its site's own): what a
            GPU-hour is worth.
        energy: USD a busy GPU-hour adds to the energy bill in each pool: (busy - idle
            power) x PUE x electricity price (its site's).
        rates: failure rates of each pool, 1/s, per unit of each host kind in the order of
            :data:`dcsim.infra.components.TREE` (GPU, node, rack, site); all zero without a
            failures block. A fabric failure that takes hosts down counts in theirs (a node's
            NIC link in the node's, a leaf switch in its rack's); one that only removes
            capacity interrupts nothing and counts in none.
    """

    price: tuple[float, ...]
    energy: tuple[float, ...]
    rates: tuple[tuple[float, ...], ...]

    @property
    def use_price(self) -> tuple[float, ...]:
        """USD per busy GPU-hour when GPU-hours are paid by use: price plus energy."""
        return tuple(p + e for p, e in zip(self.price, self.energy, strict=True))
