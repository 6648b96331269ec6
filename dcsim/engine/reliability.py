"""Failures and repairs, wired into the data center model (planned maintenance: :mod:`dcsim.engine.maintenance`).

Components form a tree read off the topology: site > rack > node > GPU. A failure
*blocks* its unit and every unit below it (its blast radius); a unit is up while
nothing blocks it. The fabric's links and switches sit beside the tree: one blocks the
host units it cuts off (a node behind its only NIC link, a rack behind its leaf) and takes
its physical links out of their bundles, whose new capacities the network applies. A
blocked unit cannot fail again (its failure clocks are disarmed) and is re-armed, with a
fresh time to failure, when the last block is lifted. The GPUs of a node that are blocked
are out of service in the cluster's indexes.

Random failures come from one :class:`FailureClock` per (cause, GPU type): no process
per component, one pending SimPy timeout per clock. Each failure then runs one small
repair process: an automatic reboot for a share of them, otherwise a spare node
stands in (if one is left), a spare part is taken (if parts are counted) and a
technician (a SimPy ``PriorityResource`` ordered by the repair policy) does the work,
inside working hours if they are set. The technician is of the failed unit's site's crew:
its own if the site has a ``repair`` block, else the scenario-wide crew.

About 440 lines, one object on purpose: the failure clocks, the block counts of the blast
radius and the repair processes share one state (a unit re-arms when its last block lifts,
which a repair, a spare swap or a maintenance window may do).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from dcsim.core.registry import guarded
from dcsim.core.rng import stream
from dcsim.engine.maintenance import MaintenanceWindows
from dcsim.faults.clock import FailureClock
from dcsim.faults.crew import crews
from dcsim.faults.models import time_to_failure
from dcsim.faults.spec import Repair
from dcsim.faults.trace import read_failure_trace
from dcsim.infra.components import FABRIC, GPU, NAMES, NODE, RACK, SITE, ComponentTree
from dcsim.infra.sites import Clock, site_clocks
from dcsim.infra.spec import WorkingHours
from dcsim.policies.repair import REPAIR
from dcsim.views import FailureSnapshot
from dcsim.workload.distributions import duration_sampler

if TYPE_CHECKING:
    import simpy

    from dcsim.infra.cluster import Cluster
    from dcsim.infra.fabrics import Fabric
    from dcsim.infra.topology import Topology
    from dcsim.metrics.collector import Collector
    from dcsim.scenario.schema import Scenario
    from dcsim.workload.jobs import Holder

REBOOT, TECHNICIAN, TRACED = 0, 1, 2
"""How a failure was repaired (names: :data:`dcsim.metrics.records.REPAIRED_BY`)."""
DAY = 86400.0


@dataclass(slots=True)
class Failure:
    """A component failure as repair policies see it (:class:`dcsim.views.FailureView`)."""

    id: int
    time: float
    component: str
    cause: str
    gpus_down: int
    unit: int
    jobs_hit: int = 0


def work_finish(start: float, work: float, hours: WorkingHours | None, clock: Clock | None = None) -> float:
    """When ``work`` s of hands-on work begun at ``start`` ends, counting working hours only.

    Without a ``clock`` day 0 begins at time 0 and is a Monday; with ``days: weekdays`` days
    5 and 6 of every week are off. With one, the hours are the site's local time
    (:class:`dcsim.infra.sites.Clock`: the scenario's start and the site's time zone, daylight
    saving included), and the work is counted on its local clock.
    """
    if hours is None:
        return start + work
    if clock is None:
        return _finish_local(start, work, hours)
    return max(start, clock.to_sim(_finish_local(clock.local(start), work, hours)))


def _finish_local(start: float, work: float, hours: WorkingHours) -> float:
    """:func:`work_finish` on a clock whose day 0 begins at 0 and is a Monday."""
    t = start
    while True:
        day = math.floor(t / DAY)
        if hours.days == "all" or day % 7 < 5:
            tod = t - day * DAY
            begin = max(tod, hours.start)
            if begin < hours.end:
                if work <= hours.end - begin:
                    return day * DAY + begin + work
                work -= hours.end - begin
        t = (day + 1) * DAY


class Reliability:
    """The failure, repair and maintenance machinery of one run.

    It knows the engine only through two callables, so it imports nothing of it: the
    holders of GPUs on a node (job runs; service replicas later), each lost with
    ``holder.lose(reason, failure)``, and ``capacity_changed``.

    Args:
        env: the SimPy environment.
        scenario: the validated scenario (its failures, repair and maintenance blocks).
        topology: the data center's layout.
        cluster: the live GPU state (it sets GPUs down and up).
        collector: where failures, repairs and downtime are recorded.
        seed: the run seed (its streams: ``failures.<cause>``, ``repair``, ...).
        holders: the holders of GPUs on a node (a live list: do not keep it).
        capacity_changed: GPUs went out of or back into service.
        fabric: the sites' fabrics, when links or switches fail or are maintained (None: they are not counted).
        fabric_changed: links' capacities changed (bits/s by link id): the network's rates follow.
    """

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        topology: Topology,
        cluster: Cluster,
        collector: Collector,
        seed: int,
        *,
        holders: Callable[[int], list[Holder]],
        capacity_changed: Callable[[], None],
        fabric: Fabric | None = None,
        fabric_changed: Callable[[dict[int, float]], None] | None = None,
    ) -> None:
        self.env = env
        self.holders = holders
        self.capacity_changed = capacity_changed
        sc = scenario
        topo = topology
        self.topology = topo
        self.cluster = cluster
        self.col = collector
        self.seed = seed
        self.node_gpus = topo.node_gpus
        #: The component tree (site > rack > node > GPU) failures and maintenance walk.
        self.tree = tree = ComponentTree(topo, fabric)
        self.fabric, self.fabric_changed = fabric, fabric_changed
        #: Called with the nodes a maintenance window cordons (the services drain their replicas there).
        self.cordon_hook: Callable[[list[int]], None] | None = None
        self.health = None
        if fabric is not None:
            from dcsim.infra.fabrics import FabricHealth

            self.health = FabricHealth(fabric)
        self.gpu_offset = tree.gpu_offset
        self.gpu_node = tree.gpu_node
        # Invariant: blocked[c][u] == outages covering unit u of kind c (its own and its ancestors').
        self.blocked: list[list[int]] = [[0] * tree.count(k) for k in range(len(NAMES))]
        #: Units blocked now, over all classes, plus nodes cordoned for maintenance.
        self.outages = 0
        self._clocks: list[tuple[FailureClock, int, str, list[int] | None, dict[int, int] | None]] = []
        self._by_class: list[list[int]] = [[] for _ in NAMES]
        self._wake: list[float] = []
        self._gen: list[int] = []
        #: Failure rate per unit, per class and pool (site: per site), 1/s: for Young/Daly.
        self._rates = [[0.0] * len(topo.pools) for _ in range(3)] + [[0.0] * len(topo.site_names)]
        failures = sc.failures
        if failures is not None:
            for cause, kind, fm in failures.models():
                self._add_cause(cause, NAMES.index(kind), fm)
        self.repair: Repair = sc.repair or Repair()
        rep = self.repair
        #: The repair crews (the scenario-wide one, and one per site with its own `repair`),
        #: each a ``PriorityResource`` of its technicians, and the crew of each site.
        self.crews = crews(sc)
        self.technicians = [simpy.PriorityResource(self.env, capacity=c.technicians) for c in self.crews]
        crew_of = {name: i for i, c in enumerate(self.crews) for name in c.sites}
        self.site_crew = [crew_of[name] for name in topo.site_names]
        self.calendars = site_clocks(sc)  # each site's local time (None: UTC from a Monday 00:00)
        self.parts = None
        if rep.spares.parts is not None:
            self.parts = simpy.Container(self.env, init=rep.spares.parts)
        self.spares = [rep.spares.nodes] * len(topo.pools)
        policy = REPAIR.create(rep.policy.name, rep.policy.params, stream(self.seed, "policy.repair"))
        key = guarded(policy, "key", "repair", rep.policy.name, REPAIR)
        if type(policy) not in REPAIR.builtins():  # a plug-in reads a frozen snapshot, not the live failure
            plain = key
            key = lambda failure: plain(FailureSnapshot.of(failure))  # noqa: E731
        self.repair_key: Callable[[Failure], Any] = key
        self._repair_time, _ = duration_sampler(rep.time, sc.base_dir)
        self._rng = stream(self.seed, "repairs")  # hands-on repair times
        self._reboot_rng = stream(self.seed, "repairs.reboot")  # which failures a reboot fixes
        self._draws: list[float] = []
        self.max_restarts = failures.max_restarts if failures is not None else None
        for ci in range(len(self._clocks)):
            self._schedule_clock(ci)
        if failures is not None and failures.trace is not None:
            rows = read_failure_trace(failures.trace, sc.base_dir, topo, fabric)
            self.env.process(self._replay(rows))
        #: Planned maintenance windows, drained through this object's blocks.
        self.maintenance = MaintenanceWindows(self, sc.maintenance)

    # ------------------------------------------------------------------ clocks
    def _add_cause(self, cause: str, cls: int, model: Any) -> None:
        """One clock per GPU type the cause applies to (``per_type`` gives types their own model)."""
        topo = self.topology
        pools = topo.pools
        if cls in FABRIC:
            self._add_fabric_cause(cause, cls, model)
            return
        if cls == SITE:
            ttf = time_to_failure(model)
            if ttf is not None:
                self._add_clock(ttf, cls, cause, list(range(len(topo.site_names))), f"failures.{cause}")
                self._rates[SITE] = [r + ttf.rate_per_s for r in self._rates[SITE]]
            return
        for gpu_type in topo.gpu_types():
            ttf = time_to_failure(model, gpu_type)
            if ttf is None:
                continue
            units: list[int] = []
            for p in pools:
                if p.gpu_type != gpu_type:
                    continue
                self._rates[cls][p.id] += ttf.rate_per_s
                units += self.tree.in_pool(cls, p.id)
            if units:
                self._add_clock(ttf, cls, cause, sorted(units), f"failures.{cause}.{gpu_type}")

    def _add_fabric_cause(self, cause: str, cls: int, model: Any) -> None:
        """One clock over every physical link or switch of the fabric; the units it cuts off add to their rates.

        The rate of a GPU, node or rack (Young/Daly, a scheduler's fault term) counts the
        elements whose failure takes it down: a node's only NIC link, a rack's leaf.
        """
        ttf = time_to_failure(model)
        assert self.fabric is not None
        if ttf is None or not self.fabric.count(cls):
            return
        self._add_clock(ttf, cls, cause, list(range(self.fabric.count(cls))), f"failures.{cause}")
        names = self.topology.site_names
        for p in self.topology.pools:
            hit = self.fabric.interrupts(names.index(p.site)).get(cls)
            if hit is not None:
                self._rates[hit][p.id] += ttf.rate_per_s

    def _add_clock(self, ttf: Any, cls: int, cause: str, units: list[int], name: str) -> None:
        """A clock over ``units`` with its own stream ``name``: adding a cause never shifts another's draws."""
        n_all = len(self.blocked[cls])
        whole = len(units) == n_all
        rng = stream(self.seed, name)
        clock = FailureClock(ttf, len(units), rng, start=self.env.now)
        local = None if whole else {u: i for i, u in enumerate(units)}
        self._clocks.append((clock, cls, cause, None if whole else units, local))
        self._by_class[cls].append(len(self._clocks) - 1)
        self._wake.append(math.inf)
        self._gen.append(0)
        self.col.cause_code(cause)

    def _schedule_clock(self, ci: int) -> None:
        """Make the clock's earliest pending failure the one its timeout fires at."""
        nxt = self._clocks[ci][0].peek()
        t = math.inf if nxt is None else nxt[0]
        if t == self._wake[ci]:
            return
        self._gen[ci] += 1
        self._wake[ci] = t
        if math.isfinite(t):
            ev = self.env.timeout(max(t - self.env.now, 0.0))
            ev.callbacks.append(partial(self._fire, ci, self._gen[ci]))

    def _fire(self, ci: int, gen: int, _event: Any) -> None:
        if gen != self._gen[ci]:
            return  # superseded by an earlier failure time
        self._wake[ci] = math.inf
        clock, cls, cause, units, _ = self._clocks[ci]
        now = self.env.now
        while (nxt := clock.peek()) is not None and nxt[0] <= now:
            clock.pop()
            unit = nxt[1] if units is None else units[nxt[1]]
            self._fail(cls, unit, cause, traced=False, down_for=None)
        self._schedule_clock(ci)

    def _set_armed(self, cls: int, unit: int, armed: bool) -> None:
        for ci in self._by_class[cls]:
            clock, _, _, _, local = self._clocks[ci]
            i = unit if local is None else local.get(unit)
            if i is None:
                continue
            if armed:
                clock.rearm(i, self.env.now)
                self._schedule_clock(ci)
            else:
                clock.disarm(i)

    # ------------------------------------------------------------------ blast radius
    def nodes_of(self, cls: int, unit: int) -> tuple[int, ...]:
        """Nodes a unit's failure reaches."""
        return tuple(self.tree.nodes(cls, unit))

    def refresh(self, node: int) -> None:
        """Make the node's out-of-service GPUs in the cluster match its blocks and cordon."""
        cluster = self.cluster
        if node in cluster.cordoned:
            down = self.node_gpus[node] - cluster.allocated(node)
        else:
            off = self.gpu_offset[node]
            blocked = self.blocked[GPU]
            down = sum(1 for g in range(off, off + self.node_gpus[node]) if blocked[g])
        if down != cluster.down[node]:
            cluster.set_down(node, down)
            self.col.on_down(self.env.now, cluster.down_gpus - cluster.absent_gpus)
        if not cluster.saturates:  # shared GPUs: no CPU-only job on a node out of service either
            cluster.set_off(node, self.blocked[NODE][node] > 0 or node in cluster.cordoned)

    def block(self, cls: int, unit: int, failure: Failure | None, reason: str | None = None) -> None:
        """Take a unit and everything below it out of service; interrupt the jobs on it.

        The jobs lose their GPUs for ``reason`` (default: ``failure`` with a failure, else ``maintenance``).
        """
        blocked = self.blocked
        self.outages += 1
        if cls in FABRIC:
            self._block_fabric(cls, unit, failure)
            return
        if cls == GPU:
            node = self.gpu_node[unit]
            if blocked[GPU][unit] == 0:
                self._interrupt_gpu(node, unit, failure)
            blocked[GPU][unit] += 1
            if blocked[GPU][unit] == 1:
                self._set_armed(GPU, unit, False)
            self.refresh(node)
            return
        newly_down: list[int] = []
        for c, u in self.tree.subtree(cls, unit):
            blocked[c][u] += 1
            if blocked[c][u] == 1:
                self._set_armed(c, u, False)
                if c == NODE:
                    newly_down.append(u)
        hit: dict[int, Holder] = {}
        for n in newly_down:
            for holder in self.holders(n):
                hit[holder.id] = holder
        why = reason or ("failure" if failure is not None else "maintenance")
        for holder in sorted(hit.values(), key=lambda j: j.id):
            holder.lose(why, failure)
        for n in newly_down:
            self.refresh(n)

    def unblock(self, cls: int, unit: int) -> None:
        """Lift one block of a unit and everything below it; re-arm what is up again."""
        blocked = self.blocked
        self.outages -= 1
        if cls in FABRIC:
            blocked[cls][unit] -= 1
            if blocked[cls][unit] == 0:
                self._set_armed(cls, unit, True)
                self._fabric_step(cls, unit, -1)
            for kind, u in self.tree.cut_off(cls, unit):
                self.unblock(kind, u)
            return
        nodes = set()
        for c, u in self.tree.subtree(cls, unit):
            blocked[c][u] -= 1
            if blocked[c][u] == 0:
                self._set_armed(c, u, True)
            if c == NODE:
                nodes.add(u)
            elif c == GPU:
                nodes.add(self.gpu_node[u])
        for n in sorted(nodes):
            self.refresh(n)

    def _block_fabric(self, cls: int, unit: int, failure: Failure | None) -> None:
        """A link or switch goes out: its bundles lose its members; the hosts it cuts off go down with it."""
        for kind, u in self.tree.cut_off(cls, unit):  # first: their runs leave before the capacities move
            self.block(kind, u, failure)
        blocked = self.blocked
        blocked[cls][unit] += 1
        if blocked[cls][unit] == 1:
            self._set_armed(cls, unit, False)
            self._fabric_step(cls, unit, 1)

    def _fabric_step(self, cls: int, unit: int, step: int) -> None:
        """Apply a link's or switch's going out (``step`` 1) or back (-1) to the capacities the network shares."""
        assert self.health is not None
        capacities = self.health.change(cls, unit, step)
        if capacities and self.fabric_changed is not None:
            self.fabric_changed(capacities)

    def _interrupt_gpu(self, node: int, gpu: int, failure: Failure | None) -> None:
        """Interrupt the job on a failing GPU, if any.

        Jobs are taken to hold a node's lowest up GPUs, in job-id order: which job a
        failing GPU hits is then uniform over the node's up GPUs, so a job is hit in
        proportion to its GPUs there (exact for exponential GPU lifetimes). Where GPUs are
        shared, the failing GPU is the node's ``rank``-th GPU in service and every job with a
        share of it is lost.
        """
        blocked = self.blocked[GPU]
        off = self.gpu_offset[node]
        rank = sum(1 for g in range(off, gpu) if not blocked[g])
        if not self.cluster.saturates:  # GPUs are shared: the jobs on that very GPU
            why = "failure" if failure is not None else "maintenance"
            for job in sorted(self.cluster.gpu_holders(node, rank, self.holders(node)), key=lambda j: j.id):
                job.lose(why, failure)
            return
        for job in sorted(self.holders(node), key=lambda j: j.id):
            held = next(g for n, g in job.placement if n == node)
            if rank < held:
                job.lose("failure" if failure is not None else "maintenance", failure)
                return
            rank -= held

    # ------------------------------------------------------------------ failures and repairs
    def _fail(self, cls: int, unit: int, cause: str, traced: bool, down_for: float | None) -> None:
        """A unit fails: record it, take its blast radius down, choose its repair, then schedule.

        The repair path (reboot, or a spare node swapped in) is chosen here, before the
        scheduling pass, so that no job is placed on a node about to be swapped.
        """
        now = self.env.now
        rep = self.repair
        gpus = self.tree.gpus(cls, unit)
        fid = self.col.on_component_failed(now, self.col.cause_code(cause), cls, unit, gpus, traced)
        failure = Failure(fid, now, NAMES[cls], cause, gpus, unit)
        self.block(cls, unit, failure)
        if down_for is not None:
            how = TRACED
        elif rep.reboot is not None and rep.reboot.share > 0 and self._reboot_rng.random() < rep.reboot.share:
            how = REBOOT
        else:
            how = TECHNICIAN
        spare = False
        if how == TECHNICIAN and cls in (GPU, NODE):
            node = self.gpu_node[unit] if cls == GPU else unit
            pool = self.topology.node_pool[node]
            if self.spares[pool] > 0:
                # A spare node takes the slot: the node is out for the swap, then back, new.
                self.spares[pool] -= 1
                spare = True
                self.block(NODE, node, failure)
        self.capacity_changed()
        self.env.process(self._repair(failure, cls, unit, how, spare, down_for))

    def _draw_repair(self) -> float:
        if not self._draws:
            self._draws = self._repair_time(self._rng, 256).tolist()[::-1]
        return self._draws.pop()

    def _repair(
        self, failure: Failure, cls: int, unit: int, how: int, spare: bool, down_for: float | None
    ) -> Generator[Any, Any, None]:
        env, rep, col = self.env, self.repair, self.col
        wait_tech = wait_part = 0.0
        node = self.gpu_node[unit] if cls == GPU else unit
        if how == TRACED:
            assert down_for is not None
            yield env.timeout(down_for)
        elif how == REBOOT:
            yield env.timeout(rep.reboot.time if rep.reboot is not None else 0.0)
        else:
            if spare:
                yield env.timeout(rep.spares.swap_time)
                self.unblock(NODE, node)
                self.unblock(cls, unit)
                col.on_component_in_service(failure.id, env.now, True)
                self.capacity_changed()
            if self.parts is not None:
                env.process(self._restock())  # base stock: each part asked for is reordered at once
                t0 = env.now
                yield self.parts.get(1)
                wait_part = env.now - t0
            t0 = env.now
            # With a spare in its slot, the broken node keeps no GPU out of service.
            key = self.repair_key(replace(failure, gpus_down=0) if spare else failure)
            site = self.tree.above(cls, unit, SITE)
            crew = self.site_crew[site]  # a site's failures go to its own crew
            hours = self.crews[crew].working_hours
            clock = self.calendars[site]  # hands-on work at a site keeps the site's local hours
            with self.technicians[crew].request(priority=key) as req:
                yield req
                begin = work_finish(env.now, 0.0, hours, clock)
                wait_tech = begin - t0
                yield env.timeout(work_finish(env.now, self._draw_repair(), hours, clock) - env.now)
        if spare:
            self.spares[self.topology.node_pool[node]] += 1
        else:
            self.unblock(cls, unit)
            col.on_component_in_service(failure.id, env.now, False)
            self.capacity_changed()
        col.on_component_repaired(failure.id, env.now, wait_tech, wait_part, how)

    def _restock(self) -> Generator[Any, Any, None]:
        yield self.env.timeout(self.repair.spares.restock)
        assert self.parts is not None
        yield self.parts.put(1)

    def _replay(self, rows: list[tuple[float, int, int, float]]) -> Generator[Any, Any, None]:
        env = self.env
        for t, cls, unit, down_for in rows:
            if t > env.now:
                yield env.timeout(t - env.now)
            self._fail(cls, unit, NAMES[cls], traced=True, down_for=down_for)

    # ------------------------------------------------------------------ racks installed and removed
    def set_absent(self, racks: list[int], absent: bool, reason: str | None = None) -> None:
        """Take racks out of the installed capacity (``absent``), or install them.

        An absent rack is blocked (its nodes hold no run, its failure clocks are disarmed) and
        its GPUs count as neither installed nor down. Racks removed for good lose their runs for
        ``reason`` and no longer count as an outage that will end; racks installed are re-armed.
        """
        cluster = self.cluster
        step = 1 if absent else -1
        for r in racks:
            for n in self.topology.rack_nodes[r]:
                cluster.absent_gpus += step * self.node_gpus[n]
                cluster.pool_absent[self.topology.node_pool[n]] += step * self.node_gpus[n]
        for r in racks:
            if absent:
                self.block(RACK, r, None, reason)
            else:
                self.unblock(RACK, r)
        if absent and reason is not None:
            self.outages -= len(racks)  # for good: nothing waits for them to come back
        self.col.on_down(self.env.now, cluster.down_gpus - cluster.absent_gpus)

    def released(self, placement: list[tuple[int, int]]) -> None:
        """A run left these nodes (see :meth:`MaintenanceWindows.released`)."""
        self.maintenance.released(placement)

    # ------------------------------------------------------------------ checkpoint interval
    def pool_rates(self, pool: int) -> tuple[float, ...]:
        """Failure rates of one unit of each component kind in ``pool``, 1/s, in kind order (site: its site's)."""
        topo = self.topology
        site = topo.site_names.index(topo.pools[pool].site)
        return tuple(rates[site if kind == SITE else pool] for kind, rates in enumerate(self._rates))

    def mtti(self, placement: list[tuple[int, int]]) -> float:
        """Mean time to interruption of a job on ``placement``: 1 / the sum of failure rates in its blast radius, s."""
        topo = self.topology
        rates = self._rates
        total = 0.0
        racks, sites = set(), set()
        for node, gpus in placement:
            pool = topo.node_pool[node]
            total += gpus * rates[GPU][pool] + rates[NODE][pool]
            racks.add(topo.node_rack[node])
            sites.add(topo.node_site[node])
        total += sum(rates[RACK][topo.rack_pool[r]] for r in racks)
        total += sum(rates[SITE][s] for s in sites)
        return 1.0 / total if total > 0 else math.inf
