"""Max-min fair sharing of the fabric's links among flows: a pure function and its incremental keeper.

A *flow* is a stream of traffic between two GPUs (or nodes) along one path: the sequence of
link ids it crosses. Links have capacities in bits per second; a flow may also have a
*demand*, the most it can use (a compute-bound phase needs less than its fair share), and
infinity by default. :func:`max_min` gives every flow its max-min fair rate by progressive
filling: all unfrozen flows rise together until a link saturates or a flow reaches its
demand; those flows freeze, and the rest rise on what is left. The result is the unique
allocation in which no flow can get more without taking from a flow that has no more
than it.

:class:`Sharing` keeps the flows of a run and their rates between changes. A change (flows
added or removed, a demand or a link's capacity changed) can only move the rates of the
flows in the connected components of the flow-link graph that it touches, so it recomputes
only those and returns the flows whose rates moved.

How the engine will use it (network contention, issue 12): each running multi-node job
adds its flows when it starts and removes them when it stops or changes phase; a failed or
repaired link changes a capacity. For every flow whose rate moved, the job's rate follows
from its bottleneck share through the run model, ``Runs.set_rate`` (work x rate). Flows
with no links (inside one node, over NVLink) never touch the fabric: they get their demand.

Units: capacities, demands and rates in bits per second (any one unit works, as long as it
is the same for all three).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import chain

import numpy as np

#: Relative tolerance of ties: links whose fair level is within it of the lowest saturate
#: in the same step, and a rate that moves by less than it is not reported as changed.
RTOL = 1e-9

FlowId = Hashable
LinkId = Hashable


def max_min(
    flows: Sequence[Sequence[Hashable]],
    capacities: Mapping[Hashable, float] | np.ndarray,
    demands: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Return the max-min fair rate of every flow over shared links (progressive filling).

    Each step raises every unfrozen flow to the lowest level at which a link saturates
    (its capacity left over divided by the unfrozen flows on it) or a flow reaches its
    demand, and freezes the flows of the saturated links at that level and those flows at
    their demand; links whose level ties with the lowest (within :data:`RTOL`) saturate in
    the same step. The vectors over links are numpy arrays and the flow-link incidence is
    held both ways as CSR arrays, so a step costs O(links still shared + flows it freezes x
    their links), in numpy.

    A flow with no links gets its demand (infinity by default); a flow crossing a link of
    capacity 0 (a failed link) gets 0. A link listed twice in one flow carries that flow
    twice. Only the links that some flow crosses are looked up in ``capacities``.

    Args:
        flows: per flow, the ids of the links it crosses (any hashable ids).
        capacities: capacity of each link, bits/s (>= 0; ``math.inf`` for a link that never
            limits). Anything indexable by link id works (a dict, or an array for integer ids).
        demands: per flow, the most it can use, bits/s (>= 0; ``math.inf`` for no limit);
            ``None`` for no limit on any flow.

    Returns:
        The rate of each flow, bits/s, in the order of ``flows`` (float64 array).

    Raises:
        KeyError: a flow crosses a link that ``capacities`` does not hold.
        ValueError: a negative or NaN capacity or demand, or ``demands`` of the wrong length.

    Complexity:
        O(nnz) to build the incidence (nnz: the links of all flows), then
        O(steps x (links + flows)) at most, with one bottleneck level frozen per step;
        steps <= the number of distinct rates in the result.
    """
    n_flows = len(flows)
    demand = _demands(demands, n_flows)
    rate = np.zeros(n_flows)
    lengths = np.fromiter(map(len, flows), dtype=np.int64, count=n_flows)
    links, columns = _link_index(flows)
    capacity = _capacities(capacities, links)
    unlinked = lengths == 0
    rate[unlinked] = demand[unlinked]
    if unlinked.all():
        return rate
    # The incidence both ways as CSR arrays (one entry per crossing, so a repeated link counts
    # twice): flow f's links are columns[flow_start[f]:flow_start[f + 1]], and link l's flows
    # link_flows[link_start[l]:link_start[l + 1]].
    flow_start = np.zeros(n_flows + 1, dtype=np.int64)
    np.cumsum(lengths, out=flow_start[1:])
    by_link = np.argsort(columns, kind="stable")
    link_flows = np.repeat(np.arange(n_flows), lengths)[by_link]
    link_start = np.zeros(len(links) + 1, dtype=np.int64)
    np.cumsum(np.bincount(columns, minlength=len(links)), out=link_start[1:])
    _fill(flow_start, columns, link_start, link_flows, capacity, demand, rate, ~unlinked)
    return rate


def _link_index(flows: Sequence[Sequence[Hashable]]) -> tuple[list[Hashable], np.ndarray]:
    """Return the distinct links the flows cross and, per crossing (flow by flow), its link's index."""
    flat = list(chain.from_iterable(flows))
    ids = np.asarray(flat) if flat and type(flat[0]) is int else None
    if ids is not None and ids.ndim == 1 and ids.dtype.kind in "iu":
        # Integer ids (the engine's): numpy finds the distinct ones without a dict.
        distinct, columns = np.unique(ids, return_inverse=True)
        return distinct.tolist(), columns.astype(np.int64, copy=False)
    index: dict[Hashable, int] = {}
    columns = np.fromiter((index.setdefault(link, len(index)) for link in flat), dtype=np.int64, count=len(flat))
    return list(index), columns


def _capacities(capacities: Mapping[Hashable, float] | np.ndarray, links: list[Hashable]) -> np.ndarray:
    """Return the capacity of each of ``links`` (bits/s), checked."""
    if isinstance(capacities, np.ndarray):
        capacity = np.asarray(capacities[np.asarray(links, dtype=np.int64)], dtype=float)
    else:
        capacity = np.fromiter((capacities[link] for link in links), dtype=float, count=len(links))
    if not (capacity >= 0).all():
        bad = links[int(np.flatnonzero(~(capacity >= 0))[0])]
        raise ValueError(f"link {bad!r} has capacity {capacities[bad]!r}; a capacity is >= 0 bits/s (0: failed)")
    return capacity


def _demands(demands: Sequence[float] | np.ndarray | None, n_flows: int) -> np.ndarray:
    """Return the demands as a float array of ``n_flows`` (inf when none), checked."""
    if demands is None:
        return np.full(n_flows, math.inf)
    demand = np.asarray(demands, dtype=float)
    if demand.shape != (n_flows,):
        raise ValueError(f"demands has shape {demand.shape}; give one demand per flow ({n_flows})")
    if not (demand >= 0).all():
        raise ValueError(f"demand {demand[~(demand >= 0)][0]!r} of a flow; a demand is >= 0 bits/s (inf: no limit)")
    return demand


def _rows(start: np.ndarray, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Return the entries of ``rows`` of a CSR structure (``start``, ``values``), row after row."""
    first = start[rows]
    counts = start[rows + 1] - first
    ends = np.cumsum(counts)
    # Entry k of the result is values[first[r] + (k - start of r in the result)].
    return values[np.arange(ends[-1] if len(ends) else 0) + np.repeat(first - ends + counts, counts)]


def _fill(
    flow_start: np.ndarray,
    flow_links: np.ndarray,
    link_start: np.ndarray,
    link_flows: np.ndarray,
    capacity: np.ndarray,
    demand: np.ndarray,
    rate: np.ndarray,
    open_: np.ndarray,
) -> None:
    """Progressive filling: set ``rate`` of the flows marked in ``open_`` (the others stay as they are).

    Args:
        flow_start: CSR row starts of the flow x link incidence.
        flow_links: its entries, a link index per crossing.
        link_start: CSR row starts of the link x flow incidence.
        link_flows: its entries, a flow index per crossing.
        capacity: capacity per link, bits/s.
        demand: demand per flow, bits/s.
        rate: rate per flow, bits/s; written for the open flows.
        open_: flows still to fill (boolean mask); changed in place.
    """
    # Invariant: left[l] is l's capacity minus the rates of the frozen flows on it, and
    # sharing[l] the number of open flows on it (with multiplicity).
    sharing = np.bincount(flow_links[np.repeat(open_, np.diff(flow_start))], minlength=len(capacity))
    left = capacity.copy()
    active = np.flatnonzero(sharing)  # links with open flows, the only ones that can bottleneck
    # Open flows with a finite demand, by demand: the level only rises, so they freeze in
    # this order (or earlier, on a link), and a pointer finds the next one in O(1) amortised.
    capped = np.flatnonzero(open_ & (demand < math.inf))
    capped = capped[np.argsort(demand[capped], kind="stable")]
    capped_demand = demand[capped]
    next_capped = 0
    while active.size:
        with np.errstate(invalid="ignore"):  # inf capacity left / n is inf, as it should be
            level = left[active] / sharing[active]
        while next_capped < capped.size and not open_[capped[next_capped]]:
            next_capped += 1
        lowest = float(level.min())
        if next_capped < capped.size:
            lowest = min(lowest, float(capped_demand[next_capped]))
        if lowest == math.inf:
            rate[open_] = math.inf  # every open flow crosses only links that never limit
            open_[:] = False
            return
        tie = lowest * (1 + RTOL)
        on_saturated = _rows(link_start, link_flows, active[level <= tie])
        frozen = np.unique(on_saturated[open_[on_saturated]])
        stop = int(np.searchsorted(capped_demand, tie, side="right"))
        if stop > next_capped:
            # Their demands are in [lowest, tie]: they stop at the level, as the others do.
            at_demand = capped[next_capped:stop]
            frozen = np.union1d(frozen, at_demand[open_[at_demand]])
            next_capped = stop
        if not frozen.size:  # cannot happen (the lowest link or demand freezes a flow); never loop
            raise RuntimeError(f"max-min filling froze no flow at level {lowest!r}")
        rate[frozen] = lowest
        open_[frozen] = False
        # Take the frozen flows' rates and counts off their links.
        links = _rows(flow_start, flow_links, frozen)
        np.subtract.at(left, links, np.repeat(rate[frozen], flow_start[frozen + 1] - flow_start[frozen]))
        np.subtract.at(sharing, links, 1)
        left[links] = np.maximum(left[links], 0.0)  # rounding must not make a link's leftover negative
        active = active[sharing[active] > 0]
    # No open flow is left here: an open flow keeps its links active.


class Sharing:
    """The flows on the fabric and their max-min fair rates, kept between changes.

    A change recomputes only the connected components of the flow-link graph that it
    touches (flows interact only through shared links, so no other rate can move) and
    returns the flows whose rates moved by more than :data:`RTOL` (relative); smaller moves
    are not applied, so the engine never reschedules a run for rounding.

    Args:
        capacities: capacity of each link, bits/s (copied; links not in it cannot be used).

    Attributes:
        rates: the current rate of each flow, bits/s (read it, do not change it).
        last_solved: how many flows the last change passed to :func:`max_min`.
    """

    def __init__(self, capacities: Mapping[LinkId, float]) -> None:
        self.capacities: dict[LinkId, float] = dict(capacities)
        self.rates: dict[FlowId, float] = {}
        self.last_solved = 0
        self._links: dict[FlowId, tuple[LinkId, ...]] = {}
        self._demand: dict[FlowId, float] = {}
        # Dicts, not sets: their order (insertion) is the same in every process, so is every walk.
        self._flows_on: dict[LinkId, dict[FlowId, None]] = {}
        self._seq: dict[FlowId, int] = {}  # order of arrival: the solver sees flows in this order
        self._next_seq = 0

    def __len__(self) -> int:
        return len(self._links)

    def __contains__(self, flow: object) -> bool:
        return flow in self._links

    def add_flow(self, flow: FlowId, links: Sequence[LinkId], demand: float = math.inf) -> dict[FlowId, float]:
        """Start a flow over ``links`` (bits/s ``demand`` at most); return the new rates that moved."""
        return self.change(add={flow: (links, demand)})

    def remove_flow(self, flow: FlowId) -> dict[FlowId, float]:
        """End a flow; return the new rates of the flows that it was holding back."""
        return self.change(remove=(flow,))

    def set_capacity(self, link: LinkId, capacity: float) -> dict[FlowId, float]:
        """Set a link's capacity, bits/s (0: failed); return the new rates that moved."""
        return self.change(capacities={link: capacity})

    def change(
        self,
        add: Mapping[FlowId, tuple[Sequence[LinkId], float]] | None = None,
        remove: Iterable[FlowId] = (),
        capacities: Mapping[LinkId, float] | None = None,
        demands: Mapping[FlowId, float] | None = None,
    ) -> dict[FlowId, float]:
        """Apply several changes at once (a job's flows together) and recompute once.

        Removals go first, so a flow may be removed and added again with other links.

        Args:
            add: new flows, each ``(links, demand)`` (demand in bits/s, ``math.inf`` for none).
            remove: flows that end.
            capacities: new link capacities, bits/s.
            demands: new demands of existing flows, bits/s.

        Returns:
            The new rate (bits/s) of every remaining flow whose rate moved, and of every added flow.

        Raises:
            KeyError: an unknown flow to remove or re-demand, a known flow to add, or an unknown link.
            ValueError: a negative or NaN capacity or demand.
        """
        add, capacities, demands = dict(add or {}), dict(capacities or {}), dict(demands or {})
        remove = list(remove)
        self._check(add, remove, capacities, demands)  # all or nothing: the state changes only if all is well
        touched_links = dict.fromkeys(capacities)
        touched_flows = dict.fromkeys(demands)
        for flow in remove:
            links = self._links.pop(flow)
            del self._demand[flow], self.rates[flow], self._seq[flow]
            for link in links:
                self._flows_on[link].pop(flow, None)
            touched_links.update(dict.fromkeys(links))
        self.capacities.update(capacities)
        for flow, demand in demands.items():
            self._demand[flow] = float(demand)
        for flow, (links, demand) in add.items():
            self._links[flow] = tuple(links)
            self._demand[flow] = float(demand)
            self.rates[flow] = math.nan  # not solved yet: always reported
            self._seq[flow] = self._next_seq
            self._next_seq += 1
            for link in links:
                self._flows_on.setdefault(link, {})[flow] = None
            touched_flows[flow] = None
        return self._solve(self.affected(touched_links, touched_flows))

    def _check(
        self,
        add: dict[FlowId, tuple[Sequence[LinkId], float]],
        remove: list[FlowId],
        capacities: dict[LinkId, float],
        demands: dict[FlowId, float],
    ) -> None:
        """Raise on the first change that :meth:`change` cannot apply (see there)."""
        removed = set(remove)
        for flow in remove:
            if flow not in self._links:
                raise KeyError(f"flow {flow!r} is not on the fabric")
        if len(removed) < len(remove):
            raise KeyError("a flow is removed twice in one change")
        for link, capacity in capacities.items():
            if link not in self.capacities:
                raise KeyError(f"link {link!r} is not on the fabric")
            if not capacity >= 0:
                raise ValueError(f"link {link!r}: capacity {capacity!r}; a capacity is >= 0 bits/s (0: failed)")
        for flow, demand in chain(demands.items(), ((f, d) for f, (_, d) in add.items())):
            if not demand >= 0:
                raise ValueError(f"flow {flow!r}: demand {demand!r}; a demand is >= 0 bits/s (inf: no limit)")
        for flow in demands:
            if flow not in self._links or flow in removed:
                raise KeyError(f"flow {flow!r} is not on the fabric")
        for flow, (links, _) in add.items():
            if flow in self._links and flow not in removed:
                raise KeyError(f"flow {flow!r} is already on the fabric; remove it first")
            unknown = [link for link in links if link not in self.capacities]
            if unknown:
                raise KeyError(f"flow {flow!r} crosses link {unknown[0]!r}, which is not on the fabric")

    def affected(self, links: Iterable[LinkId] = (), flows: Iterable[FlowId] = ()) -> list[FlowId]:
        """Return the flows whose rates a change at these links and flows can move, in order of arrival.

        They are the flows of the connected components of the flow-link graph (a flow is
        joined to the links it crosses) that hold any of ``links`` or ``flows``: a graph walk,
        O(flows x links per flow in those components), and a sort. The order of arrival makes
        the solver's input, hence its rounding, the same whatever order the walk took.
        """
        seen_links: set[LinkId] = set()
        seen_flows: set[FlowId] = set()
        pending_links = list(links)
        order: list[FlowId] = []
        flows_on, links_of = self._flows_on, self._links
        for flow in flows:
            if flow not in seen_flows:
                seen_flows.add(flow)
                order.append(flow)
                pending_links.extend(links_of[flow])
        while pending_links:
            link = pending_links.pop()
            if link in seen_links:
                continue
            seen_links.add(link)
            for flow in flows_on.get(link, ()):
                if flow not in seen_flows:
                    seen_flows.add(flow)
                    order.append(flow)
                    pending_links.extend(x for x in links_of[flow] if x not in seen_links)
        order.sort(key=self._seq.__getitem__)
        return order

    def _solve(self, flows: list[FlowId]) -> dict[FlowId, float]:
        """Recompute the rates of ``flows`` (whole components); apply and return those that moved."""
        self.last_solved = len(flows)
        if not flows:
            return {}
        solved = max_min([self._links[f] for f in flows], self.capacities, [self._demand[f] for f in flows])
        moved: dict[FlowId, float] = {}
        for flow, new in zip(flows, solved.tolist(), strict=True):
            if _moved(self.rates[flow], new):
                self.rates[flow] = moved[flow] = new
        return moved


def _moved(old: float, new: float) -> bool:
    """Return whether a rate moved by more than :data:`RTOL` (relative); a move to or from inf or NaN counts."""
    if old == new:
        return False
    if not (math.isfinite(old) and math.isfinite(new)):
        return True
    return abs(new - old) > RTOL * max(abs(old), abs(new))


# ---------------------------------------------------------------------------- the leaf-spine fabric
#: Traffic of one step per hop, as a multiple of the step's bytes, and the hops of each pattern.
PATTERN_NAMES = ("ring_allreduce", "tree_allreduce", "all_to_all", "pipeline", "none")


def hops(pattern: str, k: int) -> tuple[list[tuple[int, int]], float, float]:
    """A pattern among a job's ``k`` nodes: its hops, bytes per hop over the step's S, and its phases.

    The hops are (sender, receiver) pairs; phases run one after the other.

    A step communicates for phases x bytes per hop / r at a share r per hop:

    - ``ring_allreduce``: a ring in placement order; each hop carries 2(k-1)/k S (reduce-scatter
      then all-gather, pipelined): 2(k-1)/k x S / r.
    - ``tree_allreduce``: a binary tree (node i's parent is (i-1)//2), each edge both ways, each
      carrying S; reduce up, then broadcast down: 2 x S / r.
    - ``all_to_all``: every node to every other, S / k to each: S / (k r).
    - ``pipeline``: a chain in placement order, each stage passing S on: S / r.
    - ``none``: no traffic.
    """
    if k < 2 or pattern == "none":
        return [], 0.0, 1.0
    if pattern == "ring_allreduce":
        return [(i, (i + 1) % k) for i in range(k)], 2.0 * (k - 1) / k, 1.0
    if pattern == "tree_allreduce":
        edges = [((i - 1) // 2, i) for i in range(1, k)]
        return [*edges, *((b, a) for a, b in edges)], 1.0, 2.0
    if pattern == "all_to_all":
        return [(i, j) for i in range(k) for j in range(k) if i != j], 1.0 / k, 1.0
    if pattern == "pipeline":
        return [(i, i + 1) for i in range(k - 1)], 1.0, 1.0
    raise ValueError(f"unknown communication pattern {pattern!r}; one of {', '.join(PATTERN_NAMES)}")


class LeafSpine:
    """The links of a leaf-spine fabric, as :class:`Sharing` sees them, in bits per second.

    Each node has a NIC to its rack's leaf switch, one link each way of the NIC's speed.
    Each leaf's uplinks to the spines are taken as one bundle each way, of the rack's NIC
    capacity over the oversubscription (ECMP spreading flows evenly over equal-cost paths).
    A hop between two nodes of one rack crosses the sender's NIC up and the receiver's
    down; between racks also the sender's leaf up and the receiver's leaf down. A hop
    never crosses sites (a job runs inside one pool, of one site).

    Link ids: node n's NIC up 2n and down 2n+1; rack r's uplinks up 2N+2r and down 2N+2r+1
    (N nodes).

    Args:
        topology: the layout (its ``datacenter`` block gives each site's ``network``).
    """

    def __init__(self, topology) -> None:  # type: ignore[no-untyped-def]
        sites = topology.datacenter.sites
        nets = [site.network for site in sites]
        n_nodes = len(topology.node_pool)
        self.node_rack = topology.node_rack
        self.n_nodes = n_nodes
        #: NIC speed of each node, bits/s.
        self.nic = [nets[s].nic for s in topology.node_site]
        caps = np.zeros(2 * n_nodes + 2 * len(topology.rack_nodes))
        caps[0 : 2 * n_nodes : 2] = self.nic
        caps[1 : 2 * n_nodes : 2] = self.nic
        for r, members in enumerate(topology.rack_nodes):
            net = nets[topology.node_site[members[0]]]
            bundle = sum(self.nic[n] for n in members) / net.oversubscription
            caps[2 * n_nodes + 2 * r] = caps[2 * n_nodes + 2 * r + 1] = bundle
        #: Capacity of every link, by link id.
        self.capacities = caps

    #: Names of the link tiers, by code: a node's NIC, a rack's uplinks.
    TIERS = ("nic", "uplink")

    def tier(self, link: int) -> int:
        """The tier code of a link (see :data:`TIERS`)."""
        return 0 if link < 2 * self.n_nodes else 1

    def uplinks(self, rack: int) -> tuple[int, int]:
        """The links a rack's traffic to other racks crosses: its leaf's uplink bundle up, and down."""
        base = 2 * self.n_nodes + 2 * rack
        return base, base + 1

    def label(self, link: int) -> str:
        """A link in words: ``NIC up, node 3 (rack 1)`` or ``uplinks down, rack 2``."""
        way = "up" if link % 2 == 0 else "down"
        if link < 2 * self.n_nodes:
            node = link // 2
            return f"NIC {way}, node {node} (rack {self.node_rack[node]})"
        return f"uplinks {way}, rack {(link - 2 * self.n_nodes) // 2}"

    def links(self, pattern: str, nodes: Sequence[int]) -> tuple[list[int], int, float, float]:
        """The links one aggregated flow of a job crosses; its hops; bytes per hop over S; its phases.

        A link is listed once per hop that crosses it (a flow crossing it twice uses it twice).
        """
        pairs, factor, phases = hops(pattern, len(nodes))
        rack, base = self.node_rack, 2 * self.n_nodes
        out: list[int] = []
        for a, b in pairs:
            na, nb = nodes[a], nodes[b]
            out += (2 * na, 2 * nb + 1)
            if rack[na] != rack[nb]:
                out += (base + 2 * rack[na], base + 2 * rack[nb] + 1)
        return out, len(pairs), factor, phases

    def nominal_share(self, links: Sequence[int]) -> float:
        """A flow's share per hop alone on the NICs: a NIC's speed over the most hops it carries.

        The uplinks are left out: this is the nominal speed its class's duration is measured at.
        """
        counts: dict[int, int] = {}
        for link in links:
            if link < 2 * self.n_nodes:
                counts[link] = counts.get(link, 0) + 1
        caps = self.capacities
        return min(caps[link] / n for link, n in counts.items())
