"""Storage bandwidth shared by transfers, and the runs of jobs whose checkpoints have a size.

:class:`Storage` moves bytes between nodes and their site's storage. Each site with a
``storage`` block has one link of its ``bandwidth``, and with ``rack_bandwidth`` each of its
racks one more: every transfer in progress (a checkpoint write, a restart read; the next
issue's model loading for service replicas) is one flow over them, shared max-min fairly
(:func:`dcsim.infra.fabric.max_min`), recomputed for its site when a transfer starts or
ends (every transfer of a site crosses the site's link, so :class:`~dcsim.infra.fabric.Sharing`'s
components would be the whole site). Storage serves *nodes*: a transfer from ``n`` nodes
moves ``size / n`` bytes from each, so its route weighs ``n`` on its site's link (and on
each rack's link, its nodes in that rack), and every node moving data gets the same share,
at most its NIC's speed (the site's ``network.nic``), its flow's demand. So a job spread
over more nodes writes faster, as a parallel file system serves more clients faster, and
all the parts of one transfer end together (the slowest node's share holds them all). When
the NICs' demands fit every link of a site, no solve is needed: each node moves at its NIC's
speed. A site without ``storage`` has no link: there its transfers go at the NICs' speed.

:class:`SizedCheckpoints` runs the jobs whose class has ``checkpoint.size``: their writes
take as long as the storage takes, which depends on every other transfer, so such a run
moves from phase to phase on events (a piece of work done; a write or read done), each
scheduled with the run's token as a rate change does (:mod:`dcsim.engine.runs`). A restart
pays the fixed ``restart`` time, then reads the checkpoint back (when there is one: some work
was saved); after a maintenance eviction it first writes the checkpoint taken on the way out
(a fixed ``write`` is paid at the restart too). A run lost during a write loses that
checkpoint; one lost during a transfer gives its share back at once. Every other run keeps
its single end event.

Units: bytes for sizes, bits/s for bandwidth (as :mod:`dcsim.core.units` parses them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import simpy

from dcsim.engine.transfers import Transfer, Transfers
from dcsim.faults.checkpoint import COMPUTE, DONE, READ, RESTART, WRITE, RunClock
from dcsim.infra.topology import Topology
from dcsim.metrics.collector import Collector
from dcsim.workload.jobs import RUNNING

#: Kinds of transfer (a record's ``read`` flag).
WRITES, READS = False, True


class Storage(Transfers):
    """The sites' (and racks') storage links and the transfers sharing them, for one run.

    Every transfer of a site crosses the site's link, so a change at a site (a transfer
    starts or ends) re-shares all of that site's transfers, and no other site's: by
    :func:`dcsim.infra.fabric.max_min`, or, when the NICs' demands fit every link the site's
    transfers cross (uncongested), with each node at its NIC's speed and no solve.
    Transfers whose rate moves by more than :data:`dcsim.infra.fabric.RTOL` (relative) get
    their new end event; smaller moves are not applied.

    Each link's load (bits/s) is integrated over the measured window (from ``warmup`` on),
    with the time it was busy (some transfer on it): reported per link at the end
    (``storage_usage`` records) and for the sites' links at every timeseries sample
    (``storage_sample``). Each transfer is a ``storage_transfer`` record when it ends, is
    cancelled, or is cut by the end of the simulation.

    Args:
        topology: the layout (each site's ``storage`` block, and its ``network.nic``).
        collector: receives the records.
        env: the SimPy environment.
        warmup: the start of the measured window, s.
    """

    def __init__(self, topology: Topology, collector: Collector, env: simpy.Environment, warmup: float = 0.0) -> None:
        assert topology.datacenter is not None
        sites = topology.datacenter.sites
        self.node_site, self.node_rack = topology.node_site, topology.node_rack
        #: NIC speed of each node, bits/s: the most one node moves.
        self.nic = [sites[s].network.nic for s in topology.node_site]
        capacities: list[float] = []
        #: (site, rack or -1) of each link; the link of each site and of each rack (None: no limit).
        self.link_place: list[tuple[int, int]] = []
        self.site_link: list[int | None] = []
        for s, site in enumerate(sites):
            self.site_link.append(len(capacities) if site.storage is not None else None)
            if site.storage is not None:
                capacities.append(site.storage.bandwidth)
                self.link_place.append((s, -1))
        self.rack_link: list[int | None] = []
        for r, members in enumerate(topology.rack_nodes):
            s = topology.node_site[members[0]]
            spec = sites[s].storage
            limited = spec is not None and spec.rack_bandwidth is not None
            self.rack_link.append(len(capacities) if limited else None)
            if limited:
                assert spec is not None and spec.rack_bandwidth is not None
                capacities.append(spec.rack_bandwidth)
                self.link_place.append((s, r))
        super().__init__(env, capacities, len(sites), warmup)
        self.collector = collector
        self._sites = [link for link in self.site_link if link is not None]
        self._site_capacity = sum(capacities[link] for link in self._sites)

    # ------------------------------------------------------------------ transfers
    def links(self, nodes: Sequence[int]) -> tuple[int, ...]:
        """The links a transfer from ``nodes`` crosses: its site's once per node, each rack's once per node in it."""
        out: list[int] = []
        for n in nodes:
            site, rack = self.site_link[self.node_site[n]], self.rack_link[self.node_rack[n]]
            if site is not None:
                out.append(site)
            if rack is not None:
                out.append(rack)
        return tuple(out)

    def node_rate(self, links: Sequence[int], nodes: Sequence[int]) -> float:
        """Each node's share of idle storage: the least of its NIC and each link over its crossings, bits/s."""
        rate = min(self.nic[n] for n in nodes)
        for link in set(links):
            rate = min(rate, self.capacities[link] / links.count(link))
        return rate

    def idle_time(self, nbytes: float, nodes: Sequence[int]) -> float:
        """Seconds a transfer of ``nbytes`` from ``nodes`` takes alone on idle storage."""
        return 8.0 * nbytes / (len(nodes) * self.node_rate(self.links(nodes), nodes))

    def transfer(
        self,
        key: Hashable,
        nbytes: float,
        nodes: Sequence[int],
        done: Callable[[], None],
        job_id: int = -1,
        kind: bool = WRITES,
    ) -> None:
        """Start moving ``nbytes`` between ``nodes`` (each its equal part) and storage; call ``done()`` at the end.

        Args:
            key: names the transfer (one at a time per key), for :meth:`cancel`.
            nbytes: bytes to move in all, > 0.
            nodes: the nodes that move them (of one site).
            done: called with no argument when the last byte has moved (not if cancelled).
            job_id: the job it is for, in its record (-1: none).
            kind: :data:`WRITES` or :data:`READS` (its record's ``read`` flag).

        Raises:
            KeyError: a transfer of that ``key`` is in progress.
        """
        links = self.links(nodes)
        site = self.node_site[nodes[0]]
        demand, idle = min(self.nic[n] for n in nodes), 8.0 * nbytes / (len(nodes) * self.node_rate(links, nodes))
        self.begin(Transfer(key, job_id, kind, site, len(nodes), 8.0 * nbytes, links, demand, done, self.env.now, idle))

    def _record(self, t: Transfer, end: float, moved_bits: float, completed: bool) -> None:
        self.collector.on_storage_transfer(t.job_id, t.kind, t.site, t.start, end, moved_bits / 8.0, t.idle_s,
                                           completed)  # fmt: skip

    # ------------------------------------------------------------------ records
    def sample(self, now: float) -> None:
        """Record the sites' storage load over their bandwidth now (a timeseries sample)."""
        load = sum(self.load[link] for link in self._sites)
        self.collector.on_storage_sample(now, load / self._site_capacity if self._site_capacity > 0 else 0.0)

    def close(self, end: float) -> None:
        """The simulation ended: record the transfers still going (what they moved) and every link's use."""
        self.close_transfers(end)
        for link, (site, rack) in enumerate(self.link_place):
            self.collector.on_storage_usage(link, site, rack, self.capacities[link], self._bits[link],
                                            self._busy[link])  # fmt: skip


class SizedCheckpoints:
    """The runs of jobs whose checkpoints have a size: phases on events, writes and reads through :class:`Storage`.

    A run that communicates is quiet on the fabric while it restarts, reads or writes (its
    flow asks for nothing, and the others get what it leaves), and back at its share when it
    computes again: phases are events here, so the fabric sees them.

    Args:
        storage: the storage the transfers go through.
        env: the SimPy environment.
        complete: ends a run that has done all its work (``Runs.complete``).
        network: the jobs' traffic on the fabric, when a class communicates.
    """

    def __init__(
        self, storage: Storage, env: simpy.Environment, complete: Callable[[Any], None], network: Any = None
    ) -> None:
        self.storage, self.env, self.complete = storage, env, complete
        self.network = network
        #: The transfers still due in each restarting run's read phase, by job id (kinds, in order).
        self._restart: dict[int, list[bool]] = {}

    @staticmethod
    def nodes(job: Any) -> list[int]:
        """The nodes of a job's run."""
        return [n for n, _ in job.placement]

    def expected_write(self, job: Any) -> float:
        """A write's time on idle storage for the job's placement, s (what Young/Daly takes as the write time)."""
        return self.storage.idle_time(job.checkpoint_size, self.nodes(job))

    def restart_transfers(self, job: Any) -> list[bool]:
        """The transfers a run pays after its restart time: an eviction's owed checkpoint, then the read of one.

        A job has a checkpoint to read when some of its work was saved (its work left is less
        than its run time).
        """
        kinds = [WRITES] if job.write_owed else []
        if job.work_left < job.duration:
            kinds.append(READS)
        return kinds

    def start(self, job: Any, interval: float, rate: float) -> None:
        """A run starts (its restart cost and interval set): its clock, then its first phase."""
        kinds = self.restart_transfers(job)
        job.clock = RunClock(job.work_left, interval, math.inf, job.restart_cost, rate, self.env.now, bool(kinds))
        if kinds:
            self._restart[job.id] = kinds
        self._next(job)

    def set_rate(self, job: Any, rate: float) -> None:
        """The run's compute rate changes from now on (see ``Runs.set_rate``); a transfer goes on as it is."""
        clock = job.clock
        clock.advance(self.env.now)
        clock.rate = job.rate = rate
        job.token += 1
        if clock.phase in (COMPUTE, RESTART):
            self._schedule(job)

    def left(self, job: Any) -> None:
        """The run gave its GPUs back (lost, or ended): stop its transfer."""
        self._restart.pop(job.id, None)
        self.storage.cancel(job.id)

    def _schedule(self, job: Any) -> None:
        """The end of the run's current phase of known length, as an event with its token."""
        self.env.timeout(job.clock.boundary_left(), (job, job.token)).callbacks.append(self._boundary)

    def _next(self, job: Any) -> None:
        """Start the run's current phase: an event at its end, or a transfer; or end the run."""
        clock = job.clock
        phase = clock.phase
        if self.network is not None and job.communication is not None:
            rate = self.network.quiet(job, phase != COMPUTE)
            if rate is not None:  # its share moved: it computes at the new rate from now on
                clock.advance(self.env.now)
                clock.rate = job.rate = rate
        if phase == DONE:
            self._restart.pop(job.id, None)
            self.complete(job)
        elif phase == WRITE:
            self.storage.transfer(job.id, job.checkpoint_size, self.nodes(job), lambda: self._transferred(job),
                                  job.id, WRITES)  # fmt: skip
        elif phase == READ:
            kind = self._restart[job.id][0]
            self.storage.transfer(job.id, job.checkpoint_size, self.nodes(job), lambda: self._transferred(job),
                                  job.id, kind)  # fmt: skip
        else:
            self._schedule(job)

    def _boundary(self, event: Any) -> None:
        """A phase of known length ended (a stale event, of a run lost or whose rate moved, does nothing)."""
        job, token = event.value
        if token != job.token or job.state != RUNNING:
            return
        job.clock.end_phase(self.env.now)
        self._next(job)

    def _transferred(self, job: Any) -> None:
        """The run's write or read is done: on to its next transfer or phase."""
        clock = job.clock
        pending = self._restart.get(job.id)
        if clock.phase == READ and pending:
            pending.pop(0)
            if pending:
                self._next(job)
                return
            del self._restart[job.id]
        clock.end_phase(self.env.now)
        self._next(job)


__all__ = ["READS", "WRITES", "SizedCheckpoints", "Storage"]
