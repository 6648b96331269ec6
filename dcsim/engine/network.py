"""Jobs' traffic on the fabric: max-min fair shares of its links, and the run rates they give.

A running job whose class has a ``communication`` profile and whose GPUs span nodes is one
aggregated flow over the links its pattern's hops cross (:class:`dcsim.infra.fabrics.Fabric`:
leaf-spine, fat-tree, rail-optimized or a custom graph);
the links are shared max-min fairly among the running jobs' flows
(:class:`dcsim.infra.fabric.Sharing`), recomputed when a job starts or stops, only for the
part of the flow-link graph the change touches. A job whose share moved gets its new rate
through the run model (work x rate, ``Runs.set_rate``).

The rate: a step takes ``compute_per_step`` on the reference GPU (over the GPU's speed on
another) plus its traffic at the job's share ``r`` of bandwidth per hop. Alone on the NICs
(``B``: a NIC's speed over the most hops it carries; the uplinks left out) the step takes
``t0 = c + V / B`` (V: bits per hop per step, times the pattern's phases), which is what the
class's ``duration`` is measured at, so the rate is ``t0 / (c / s + V / r)`` (s: the GPU
speed rate). Only the compute scales with the GPU's speed: a job that communicates gains
less from a faster GPU. A fluid model: a running job is taken to communicate all the time
it computes, at its share (a step's compute and communication are not resolved), which is
the worst case for contention; a job with sized checkpoints is quiet while it restarts,
reads or writes (:meth:`Network.quiet`, from the storage's phase events), one with a fixed
write time is not. Packets, congestion control and in-network reduction are not modelled.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dcsim.infra.fabric import Sharing
from dcsim.infra.fabrics import Fabric
from dcsim.infra.topology import Topology
from dcsim.metrics.collector import Collector


@dataclass(slots=True)
class _Flow:
    """A job's traffic: what its rate is computed from."""

    job: Any
    bits: float  # V: bits per hop per step, times the phases that run one after the other
    compute: float  # c: compute per step on the reference GPU, s
    nominal: float  # B: its share per hop alone on the NICs, bits/s
    speed: float  # s: the job's rate from its GPUs' speed
    hops: int  # hops per step
    hop_bytes: float  # bytes each hop carries per step
    links: np.ndarray  # the links it crosses, once per hop crossing each (or once each, with weights)
    tiers: tuple[float, ...]  # its crossings of each tier's links (with weights: their sum)
    weights: np.ndarray | None  # per link, the hops' share of it (a custom fabric's ECMP split); None: 1 each
    share: float = 0.0  # r: its bits/s per hop now
    since: float = 0.0  # since when ``share`` holds (in the measured window)
    traffic: float = 0.0  # the bits/s it moves per crossing now: a hop's bits per step x steps per second
    carried: float = 0.0  # the integral of ``traffic`` over the measured window so far, bits per crossing
    quiet: bool = False  # restarting, reading or writing a checkpoint: asks the fabric for nothing
    #: t0: a step on an idle fabric at the NICs' speed on the reference GPU, s (``compute + bits / nominal``).
    step: float = field(init=False)
    scaled: float = field(init=False)  # the step's compute at the job's GPU speed, s (``compute / speed``)
    by_tier: tuple[tuple[int, float], ...] = field(init=False)  # (tier, crossings) of the tiers it crosses

    def __post_init__(self) -> None:
        self.step = self.compute + self.bits / self.nominal
        self.scaled = self.compute / self.speed
        self.by_tier = tuple((tier, crossings) for tier, crossings in enumerate(self.tiers) if crossings)

    def rate(self, share: float) -> float:
        """Work per second at a share of ``share`` bits/s per hop."""
        return self.step / (self.scaled + self.bits / share) if share > 0 else 0.0

    @property
    def idle_rate(self) -> float:
        """Its rate on an idle fabric at the NICs' speed."""
        return self.rate(self.nominal)


class Network:
    """The fabric's links and the jobs' flows on them, for one run.

    Two loads of a link: its flows' *shares* (what the max-min model gives them, and what a
    new flow contends with: :meth:`link_load`), and their *traffic*, the bits they move (a
    hop's bytes per step x the steps per second at the job's rate), which is less: a step
    also computes. Each flow's traffic is integrated over the measured window (from
    ``warmup`` on) as it changes, and added to each link it crossed when it ends: the
    traffic each link carried, reported per link at the end (``link_usage`` records), whose
    sum is ``network.bytes_moved``. Each tier's traffic now is kept as it changes and
    reported at every timeseries sample (``network_sample``).

    Args:
        topology: the layout (each site's ``network`` block gives NIC speeds and oversubscription).
        collector: receives a ``network_run`` record at the end of each run on the fabric.
        set_rate: changes a running job's rate (``Runs.set_rate``).
        progress: where a job's run stands at a time (``Runs.progress``).
        now: the simulated time (``lambda: env.now``).
        warmup: the start of the measured window, s.
        fabric: the sites' fabrics (default: built from ``topology``).
    """

    def __init__(
        self,
        topology: Topology,
        collector: Collector,
        set_rate: Callable[[Any, float], None],
        progress: Callable[[Any, float], Any],
        now: Callable[[], float],
        warmup: float = 0.0,
        fabric: Fabric | None = None,
    ) -> None:
        self.fabric = fabric if fabric is not None else Fabric(topology)
        caps = self.fabric.capacities
        self.sharing = Sharing(dict(enumerate(caps.tolist())))
        self.collector, self.set_rate, self.progress, self.now = collector, set_rate, progress, now
        self.warmup = warmup
        self.flows: dict[int, _Flow] = {}
        #: The bits each link carried in the measured window, from the flows that ended.
        self._bits = np.zeros(caps.size)
        self._tier = self.fabric.tiers
        self._tier_capacity = np.bincount(self._tier, weights=caps, minlength=len(Fabric.TIERS))
        self._tier_load = [0.0] * len(Fabric.TIERS)
        #: Flows' crossings of each link now (a flow crossing a link twice counts twice): placement reads it.
        self.crossings = np.zeros(caps.size, dtype=np.int64)

    def link_load(self, link: int) -> float:
        """A link's load now, bits/s: the sum of the shares of the flows crossing it (times their crossings)."""
        return self.sharing.load(link)

    @property
    def load(self) -> np.ndarray:
        """Every link's load now, bits/s, by link id (O(flows x links): for a few links use :meth:`link_load`)."""
        load = np.zeros(self.fabric.capacities.size)
        for flow in self.flows.values():
            np.add.at(load, flow.links, flow.share if flow.weights is None else flow.share * flow.weights)
        return load

    def start(self, job: Any, placement: list[tuple[int, int]], speed: float) -> float:
        """A job starts on ``placement`` at GPU-speed rate ``speed``: add its flow; return its rate.

        The jobs whose share moved get their new rates at once.
        """
        comm = job.communication
        nodes = [n for n, _ in placement]
        gpus = [g for _, g in placement] if self.fabric.spreads else None  # rails: as many as the GPUs held
        links, n_hops, factor, phases = self.fabric.links(comm[0], nodes, gpus)
        if not links:
            return speed  # inside one node, or no traffic: NVLink, off the fabric
        hop_bytes = comm[1] * factor
        weights = np.fromiter(links.values(), float, len(links)) if isinstance(links, dict) else None
        ids = np.asarray(list(links), dtype=np.int64)
        tiers = tuple(np.bincount(self._tier[ids], weights=weights, minlength=len(self._tier_load)).tolist())
        flow = _Flow(job, hop_bytes * 8.0 * phases, comm[2], self.fabric.nominal(comm[0], nodes, links), speed, n_hops,
                     hop_bytes, ids, tiers, weights, since=max(self.now(), self.warmup))  # fmt: skip
        self.flows[job.id] = flow
        self.fabric.claim(ids)
        np.add.at(self.crossings, flow.links, 1)
        changed = self.sharing.add_flow(job.id, links)
        self._update(changed, job.id)
        self._carry(flow, changed[job.id])
        return flow.rate(changed[job.id])

    def quiet(self, job: Any, quiet: bool) -> float | None:
        """A job's run stops or resumes communicating (a phase of restart, read or write, or compute again).

        A quiet flow asks for nothing (demand 0), so the jobs it shared links with get what it
        leaves; when it computes again it asks for its share anew. The jobs whose share moved
        get their new rates; this job's new rate is returned (0 while quiet), or None when
        nothing changed (it is not on the fabric, or already in that state).
        """
        flow = self.flows.get(job.id)
        if flow is None or flow.quiet == quiet:
            return None
        flow.quiet = quiet
        changed = self.sharing.change(demands={job.id: 0.0 if quiet else math.inf})
        self._update(changed, job.id)
        share = self.sharing.rates[job.id]
        self._carry(flow, share)
        return 0.0 if quiet else flow.rate(share)

    def end(self, job: Any, now: float, others: bool = True) -> None:
        """A job's run ended (finished, lost, or cut by the end of the simulation): record it, free its share.

        ``others``: give the jobs whose share grows their new rates (not at the end of the simulation).
        """
        flow = self.flows.pop(job.id, None)
        if flow is None:
            return
        p = self.progress(job, now)
        work = p.saved + p.unsaved
        steps = work / flow.step
        self.collector.on_network_run(
            job.id, job.start_time, now, max(now - job.start_time - p.restart - p.checkpoint, 0.0),
            work / flow.idle_rate, work, steps * flow.hop_bytes * flow.hops,
        )  # fmt: skip
        self._carry(flow, 0.0)
        np.add.at(self._bits, flow.links, flow.carried if flow.weights is None else flow.carried * flow.weights)
        np.subtract.at(self.crossings, flow.links, 1)
        self.fabric.release(flow.links)
        if others:
            self._update(self.sharing.remove_flow(job.id), None)

    def close(self, now: float) -> None:
        """The simulation ended: record the runs still on the fabric (their work so far) and every link's traffic."""
        for flow in list(self.flows.values()):
            self.end(flow.job, now, others=False)
        col, caps, tier = self.collector, self.fabric.capacities, self._tier
        for link in range(caps.size):
            col.on_link_usage(link, int(tier[link]), float(caps[link]), float(self._bits[link]))

    def set_capacity(self, capacities: dict[int, float]) -> None:
        """Links' capacities changed (bits/s; 0: down): give every job whose share moved its new rate.

        On a custom fabric whose routes the change moved, every flow of the site is routed
        again (removed and added with its new links, in the same recomputation).
        """
        sites = self.fabric.rerouted()
        again: dict[int, tuple[Any, float]] = {}
        if sites:
            node_site = self.fabric.node_site
            for job_id, flow in self.flows.items():
                job = flow.job
                if node_site[job.placement[0][0]] in sites:
                    again[job_id] = (self._route_again(flow), 0.0 if flow.quiet else math.inf)
        self._update(self.sharing.change(capacities=capacities, remove=list(again), add=again), None)

    def _route_again(self, flow: _Flow) -> Any:
        """Close the flow's traffic on its old links and give it its new ones; return them (for Sharing)."""
        self._carry(flow, 0.0)
        np.add.at(self._bits, flow.links, flow.carried if flow.weights is None else flow.carried * flow.weights)
        np.subtract.at(self.crossings, flow.links, 1)
        flow.carried = 0.0
        job = flow.job
        links, _, _, _ = self.fabric.links(job.communication[0], [n for n, _ in job.placement],
                                           [g for _, g in job.placement])  # fmt: skip
        flow.weights = np.fromiter(links.values(), float, len(links)) if isinstance(links, dict) else None
        flow.links = np.asarray(list(links), dtype=np.int64)
        np.add.at(self.crossings, flow.links, 1)
        flow.tiers = tuple(np.bincount(self._tier[flow.links], weights=flow.weights,
                                       minlength=len(self._tier_load)).tolist())  # fmt: skip
        flow.by_tier = tuple((tier, c) for tier, c in enumerate(flow.tiers) if c)
        return links

    def sample(self, now: float) -> None:
        """Record the tiers' load over their capacity now (a timeseries sample): NICs, switch-to-switch links."""
        load, cap = self._tier_load, self._tier_capacity
        nic = load[0] / cap[0] if cap[0] > 0 else 0.0
        up_cap = float(cap[1:].sum())
        uplink = sum(load[1:]) / up_cap if up_cap > 0 else 0.0
        core = load[2] / cap[2] if len(cap) > 2 and cap[2] > 0 else math.nan
        self.collector.on_network_sample(now, float(nic), float(uplink), float(core))

    def _carry(self, flow: _Flow, share: float) -> None:
        """The flow's share is ``share`` from now on: integrate its traffic so far, then change both."""
        if share == flow.share:
            return
        traffic = flow.hop_bytes * 8.0 * flow.rate(share) / flow.step
        t = self.now()
        if t > self.warmup:
            flow.carried += flow.traffic * (t - flow.since)
            flow.since = t
        delta = traffic - flow.traffic
        tier_load = self._tier_load
        for tier, crossings in flow.by_tier:
            tier_load[tier] += delta * crossings
        flow.share, flow.traffic = share, traffic

    def _update(self, changed: dict[int, float], skip: int | None) -> None:
        """Give every job whose share moved its new rate (but ``skip``, which is starting).

        :meth:`_carry` and :meth:`_Flow.rate` inlined: this runs once per moved rate, the
        network's most frequent step.
        """
        flows, set_rate, tier_load = self.flows, self.set_rate, self._tier_load
        t = self.now()
        measured = t > self.warmup
        for job_id, share in changed.items():
            if job_id == skip:
                continue
            flow = flows[job_id]
            step = flow.step
            rate = step / (flow.scaled + flow.bits / share) if share > 0 else 0.0
            if share != flow.share:
                traffic = flow.hop_bytes * 8.0 * rate / step
                if measured:
                    flow.carried += flow.traffic * (t - flow.since)
                    flow.since = t
                delta = traffic - flow.traffic
                for tier, crossings in flow.by_tier:
                    tier_load[tier] += delta * crossings
                flow.share, flow.traffic = share, traffic
            set_rate(flow.job, rate)


__all__ = ["Network"]
