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
added or removed, a demand or a link's capacity changed) recomputes only the flows whose
rates it can move: those joined to it through congested links, above the level at which it
first matters (see :class:`Sharing`), and returns the flows whose rates moved.

How the engine uses it (dcsim/engine/network.py): each running multi-node job that
communicates is one flow, added when it starts and removed when it stops; its demand drops
to 0 while it is quiet (restarting or writing a sized checkpoint); a failed or repaired
link or switch changes capacities. For every flow whose rate moved, the job's rate follows
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
    flows: Sequence[Route],
    capacities: Mapping[Hashable, float] | np.ndarray,
    demands: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Return the max-min fair rate of every flow over shared links (progressive filling).

    Each step raises every unfrozen flow to the lowest level at which a link saturates
    (its capacity left over divided by the weight of the unfrozen flows on it) or a flow
    reaches its demand, and freezes the flows of the saturated links at that level and
    those flows at their demand; links whose level ties with the lowest (within
    :data:`RTOL`) saturate in the same step. The vectors over links are numpy arrays and
    the flow-link incidence is held both ways as CSR arrays, so a step costs O(links still
    shared + flows it freezes x their links), in numpy.

    A flow's route is the links it crosses: a sequence of link ids (a link listed twice
    carries the flow twice), or a mapping of link id to weight, the multiple of the flow's
    rate that the link carries (ECMP splitting a hop's traffic over p paths puts weight
    1/p on each). A flow with no links gets its demand (infinity by default); a flow
    crossing a link of capacity 0 (a failed link) gets 0. Only the links that some flow
    crosses are looked up in ``capacities``.

    Args:
        flows: per flow, its route (see above; link ids are any hashables, weights > 0).
        capacities: capacity of each link, bits/s (>= 0; ``math.inf`` for a link that never
            limits). Anything indexable by link id works (a dict, or an array for integer ids).
        demands: per flow, the most it can use, bits/s (>= 0; ``math.inf`` for no limit);
            ``None`` for no limit on any flow.

    Returns:
        The rate of each flow, bits/s, in the order of ``flows`` (float64 array).

    Raises:
        KeyError: a flow crosses a link that ``capacities`` does not hold.
        ValueError: a negative or NaN capacity or demand, a weight that is not > 0, or
            ``demands`` of the wrong length.

    Complexity:
        O(nnz) to build the incidence (nnz: the links of all flows), then
        O(steps x (links + flows)) at most, with one bottleneck level frozen per step;
        steps <= the number of distinct rates in the result.
    """
    n_flows = len(flows)
    demand = _demands(demands, n_flows)
    lengths = np.fromiter(map(len, flows), dtype=np.int64, count=n_flows)
    if int(lengths.sum()) <= SMALL:
        routes = [_route(links) for links in flows]
        for route in routes:
            _check_weights(route)
        capacity = dict(zip(*_distinct_capacities(routes, capacities), strict=True))
        return np.array(_fill_routes(routes, capacity, demand.tolist()), dtype=float)
    rate = np.zeros(n_flows)
    links, columns, weights = _link_index(flows)
    capacity = _capacities(capacities, links)
    unlinked = lengths == 0
    rate[unlinked] = demand[unlinked]
    if unlinked.all():
        return rate
    # The incidence both ways as CSR arrays (one entry per crossing): flow f's links are
    # columns[flow_start[f]:flow_start[f + 1]], and link l's flows
    # link_flows[link_start[l]:link_start[l + 1]].
    flow_start = np.zeros(n_flows + 1, dtype=np.int64)
    np.cumsum(lengths, out=flow_start[1:])
    by_link = np.argsort(columns, kind="stable")
    link_flows = np.repeat(np.arange(n_flows), lengths)[by_link]
    link_start = np.zeros(len(links) + 1, dtype=np.int64)
    np.cumsum(np.bincount(columns, minlength=len(links)), out=link_start[1:])
    _fill(flow_start, columns, weights, link_start, link_flows, capacity, demand, rate, ~unlinked)
    return rate


#: A flow's route: the links it crosses (repeats count), or a mapping of link to weight.
Route = Sequence[Hashable] | Mapping[Hashable, float]

#: Problems with at most this many crossings (flow-link pairs) are filled in plain Python,
#: which beats numpy's per-call overhead there; larger ones in numpy.
SMALL = 2000


def _distinct_capacities(
    routes: Sequence[Mapping[Hashable, float]], capacities: Mapping[Hashable, float] | np.ndarray
) -> tuple[list[Hashable], np.ndarray]:
    """The distinct links of ``routes`` and their capacities, checked."""
    links = list(dict.fromkeys(chain.from_iterable(routes)))
    return links, _capacities(capacities, links).tolist()


def _check_weights(route: Mapping[Hashable, float]) -> None:
    """Refuse a weight that is not > 0."""
    for w in route.values():
        if not w > 0:
            raise ValueError(f"a route has weight {w!r}; a link's weight is > 0")


def _fill_routes(
    routes: Sequence[Mapping[Hashable, float]], capacity: Mapping[Hashable, float], demand: Sequence[float]
) -> list[float]:
    """Progressive filling in plain Python (as :func:`_fill` does in numpy); return every flow's rate.

    Args:
        routes: per flow, its links and their weights (> 0).
        capacity: capacity of every link the routes cross, bits/s.
        demand: per flow, the most it can use, bits/s.
    """
    n = len(routes)
    rate = [0.0] * n
    open_ = [True] * n
    # Per link: [capacity left, weight of its open flows, their number, its flows].
    state: dict[Hashable, list] = {}
    for f, route in enumerate(routes):
        if not route:
            rate[f], open_[f] = demand[f], False
            continue
        for link, w in route.items():
            st = state.get(link)
            if st is None:
                state[link] = [capacity[link], w, 1, [f]]
            else:
                st[1] += w
                st[2] += 1
                st[3].append(f)
    capped = sorted((demand[f], f) for f in range(n) if open_[f] and demand[f] < math.inf)
    next_capped = 0
    active = list(state.values())
    while active:
        levels = [st[0] / st[1] for st in active]
        while next_capped < len(capped) and not open_[capped[next_capped][1]]:
            next_capped += 1
        lowest = min(levels)
        if next_capped < len(capped) and capped[next_capped][0] < lowest:
            lowest = capped[next_capped][0]
        if lowest == math.inf:
            for f in range(n):
                if open_[f]:
                    rate[f], open_[f] = math.inf, False
            return rate
        tie = lowest * (1 + RTOL)
        frozen: list[int] = []
        for st, level in zip(active, levels, strict=True):
            if level <= tie:
                for f in st[3]:
                    if open_[f]:
                        open_[f] = False
                        frozen.append(f)
        while next_capped < len(capped) and capped[next_capped][0] <= tie:
            f = capped[next_capped][1]
            if open_[f]:
                open_[f] = False
                frozen.append(f)
            next_capped += 1
        for f in frozen:
            rate[f] = lowest
            for link, w in routes[f].items():
                st = state[link]
                rest = st[0] - lowest * w
                st[0] = rest if rest > 0.0 else 0.0  # rounding must not make a leftover negative
                st[1] -= w
                st[2] -= 1
        active = [st for st in active if st[2]]
    return rate


def _fill_unit(
    state: dict[LinkId, list],
    routes: Mapping[FlowId, Iterable[LinkId]],
    flows: list[FlowId],
    demand: Mapping[FlowId, float],
) -> dict[FlowId, float]:
    """Progressive filling as :func:`_fill_routes` does it, when every flow crosses each of its links once (weight 1).

    With every weight 1, every flow frozen at a level takes the same amount off each of
    its links, so the order in which a step's flows are taken off does not change a
    single bit, nor does the order of the links: the filling is :func:`_fill_routes`'s to
    the last bit, from the links' flows as the caller holds them. A link that saturates
    is done with (all its flows freeze): it is not updated further.

    Args:
        state: per link, ``[capacity left, number of flows, its flows]``; changed in place.
        routes: per flow, its links (all in ``state``).
        flows: the flows to fill (each on some link of ``state``), in order of arrival.
        demand: per flow, the most it can use, bits/s.

    Returns:
        Every flow's rate.
    """
    rate: dict[FlowId, float] = {}
    open_ = set(flows)
    capped = sorted(flows, key=demand.__getitem__)  # an infinite demand never stops a flow: it never comes first
    n_capped, next_capped = len(capped), 0
    active = list(state.values())
    while active:
        levels = [st[0] / st[1] for st in active]
        while next_capped < n_capped and capped[next_capped] not in open_:
            next_capped += 1
        lowest = min(levels)
        if next_capped < n_capped and demand[capped[next_capped]] < lowest:
            lowest = demand[capped[next_capped]]
        if lowest == math.inf:
            for f in open_:
                rate[f] = math.inf
            return rate
        tie = lowest * (1 + RTOL)
        frozen: list[FlowId] = []
        for st, level in zip(active, levels, strict=True):
            if level <= tie:
                st[1] = 0  # saturated: all its open flows freeze now, and it is not read again
                for f in st[2]:
                    if f in open_:
                        open_.discard(f)
                        frozen.append(f)
        while next_capped < n_capped and demand[capped[next_capped]] <= tie:
            f = capped[next_capped]
            if f in open_:
                open_.discard(f)
                frozen.append(f)
            next_capped += 1
        for f in frozen:
            rate[f] = lowest
            for link in routes[f]:
                st = state[link]
                if st[1]:
                    rest = st[0] - lowest
                    st[0] = rest if rest > 0.0 else 0.0  # rounding must not make a leftover negative
                    st[1] -= 1
        active = [st for st in active if st[1]]
    return rate


def _link_index(flows: Sequence[Route]) -> tuple[list[Hashable], np.ndarray, np.ndarray | None]:
    """Return the distinct links the flows cross, and per crossing (flow by flow) its link's index and weight.

    The weights are None when every route is a sequence (every crossing weighs 1).
    """
    weighted = any(not isinstance(route, (list, tuple)) and isinstance(route, Mapping) for route in flows)
    flat = list(chain.from_iterable(flows))  # a mapping iterates over its links
    if weighted:
        weights = np.fromiter(
            chain.from_iterable(r.values() if isinstance(r, Mapping) else (1.0,) * len(r) for r in flows),
            dtype=float,
            count=len(flat),
        )
        if not (weights > 0).all():
            raise ValueError(f"a route has weight {weights[~(weights > 0)][0]!r}; a link's weight is > 0")
    else:
        weights = None
    ids = np.asarray(flat) if flat and type(flat[0]) is int else None
    if ids is not None and ids.ndim == 1 and ids.dtype.kind in "iu":
        # Integer ids (the engine's): numpy finds the distinct ones without a dict.
        distinct, columns = np.unique(ids, return_inverse=True)
        return distinct.tolist(), columns.astype(np.int64, copy=False), weights
    index: dict[Hashable, int] = {}
    columns = np.fromiter((index.setdefault(link, len(index)) for link in flat), dtype=np.int64, count=len(flat))
    return list(index), columns, weights


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
    return values[_row_entries(start, rows)]


def _row_entries(start: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Return the positions of the entries of ``rows`` of a CSR structure with row starts ``start``."""
    first = start[rows]
    counts = start[rows + 1] - first
    ends = np.cumsum(counts)
    # Entry k of the result is first[r] + (k - start of r in the result).
    return np.arange(ends[-1] if len(ends) else 0) + np.repeat(first - ends + counts, counts)


def _fill(
    flow_start: np.ndarray,
    flow_links: np.ndarray,
    flow_weights: np.ndarray | None,
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
        flow_weights: the weight of each crossing (the multiple of the flow's rate the link carries);
            None: all 1.
        link_start: CSR row starts of the link x flow incidence.
        link_flows: its entries, a flow index per crossing.
        capacity: capacity per link, bits/s.
        demand: demand per flow, bits/s.
        rate: rate per flow, bits/s; written for the open flows.
        open_: flows still to fill (boolean mask); changed in place.
    """
    # Invariant: left[l] is l's capacity minus the load of the frozen flows on it, sharing[l]
    # the number of open flows' crossings of it, and weight[l] their weight.
    counts = np.diff(flow_start)
    crossing_open = np.repeat(open_, counts)
    sharing = np.bincount(flow_links[crossing_open], minlength=len(capacity))
    weight = (
        sharing  # every crossing weighs 1: the weight is the count (kept by the same updates)
        if flow_weights is None
        else np.bincount(flow_links[crossing_open], weights=flow_weights[crossing_open], minlength=len(capacity))
    )
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
            level = left[active] / weight[active]
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
        # Take the frozen flows' loads and counts off their links.
        entries = _row_entries(flow_start, frozen)
        links = flow_links[entries]
        load = np.repeat(rate[frozen], counts[frozen])
        if flow_weights is None:
            np.subtract.at(left, links, load)
            np.subtract.at(sharing, links, 1)
        else:
            w = flow_weights[entries]
            np.subtract.at(left, links, load * w)
            np.subtract.at(sharing, links, 1)
            np.subtract.at(weight, links, w)
        left[links] = np.maximum(left[links], 0.0)  # rounding must not make a link's leftover negative
        active = active[sharing[active] > 0]
    # No open flow is left here: an open flow keeps its links active.


class Sharing:
    """The flows on the fabric and their max-min fair rates, kept between changes.

    Two facts keep a change cheap. First, a flow never gets more than it would alone, its
    *cap*: the least of its demand and, over its links, capacity / weight. A link whose
    flows' caps (times their weights) add up to no more than its capacity is *slack*: it
    can never saturate, so it constrains nobody and the max-min rates are those of the
    problem without it (exactly; a link whose caps add up to its capacity exactly is
    slack too). Second, flows interact only through the links that do constrain them, the
    *congested* ones. So a change recomputes the connected components, over congested
    links, of what it touches (its flows, and the links whose load or capacity it changes
    that are congested before or after it), solving :func:`max_min` only over congested
    links; a flow on slack links alone gets its cap without a solve. On a fabric where
    most links have room (a NIC held by one job, uplinks not oversubscribed by the jobs
    running), a job's start or end touches its own flow and nobody else's.

    It returns the flows whose rates moved by more than :data:`RTOL` (relative); smaller
    moves are not applied, so the engine never reschedules a run for rounding.

    Args:
        capacities: capacity of each link, bits/s (copied; links not in it cannot be used).

    Attributes:
        rates: the current rate of each flow, bits/s (read it, do not change it).
        last_solved: how many flows the last change recomputed (with or without a solve).
    """

    def __init__(self, capacities: Mapping[LinkId, float]) -> None:
        self.capacities: dict[LinkId, float] = dict(capacities)
        self.rates: dict[FlowId, float] = {}
        self.last_solved = 0
        self._route: dict[FlowId, dict[LinkId, float]] = {}  # link -> weight
        self._demand: dict[FlowId, float] = {}
        self._cap: dict[FlowId, float] = {}  # min(demand, capacity / weight over its links)
        # Dicts, not sets: their order (insertion) is the same in every process, so is every walk.
        self._flows_on: dict[LinkId, dict[FlowId, float]] = {}  # link -> its flows and their weights on it
        self._terms: dict[LinkId, dict[FlowId, float]] = {}  # link -> its flows' caps times their weights
        self._congested: set[LinkId] = set()
        self._bound: dict[FlowId, dict[LinkId, float]] = {}  # each flow's congested links and their weights
        self._seq: dict[FlowId, int] = {}  # order of arrival: the solver sees flows in this order
        self._heavy: set[FlowId] = set()  # flows with a link of weight other than 1 (see _solve)
        self._next_seq = 0

    def __len__(self) -> int:
        return len(self._route)

    def __contains__(self, flow: object) -> bool:
        return flow in self._route

    def load(self, link: LinkId) -> float:
        """A link's load now: the rates of the flows crossing it times their weights, bits/s."""
        rates = self.rates
        return math.fsum(rates[f] * w for f, w in self._flows_on.get(link, {}).items())

    def congested(self, link: LinkId) -> bool:
        """Whether the caps of the flows on ``link`` exceed its capacity (only such a link limits anyone)."""
        return link in self._congested

    def add_flow(self, flow: FlowId, links: Route, demand: float = math.inf) -> dict[FlowId, float]:
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
        add: Mapping[FlowId, tuple[Route, float]] | None = None,
        remove: Iterable[FlowId] = (),
        capacities: Mapping[LinkId, float] | None = None,
        demands: Mapping[FlowId, float] | None = None,
    ) -> dict[FlowId, float]:
        """Apply several changes at once (a job's flows together) and recompute once.

        Removals go first, so a flow may be removed and added again with other links.

        Args:
            add: new flows, each ``(route, demand)``: the route as for :func:`max_min`,
                the demand in bits/s (``math.inf`` for none).
            remove: flows that end.
            capacities: new link capacities, bits/s.
            demands: new demands of existing flows, bits/s.

        Returns:
            The new rate (bits/s) of every remaining flow whose rate moved, and of every added flow.

        Raises:
            KeyError: an unknown flow to remove or re-demand, a known flow to add, or an unknown link.
            ValueError: a negative or NaN capacity or demand, or a weight that is not > 0.
        """
        add, capacities, demands = dict(add or {}), dict(capacities or {}), dict(demands or {})
        remove = list(remove)
        routes = {flow: _route(links) for flow, (links, _) in add.items()}
        self._check(add, routes, remove, capacities, demands)  # all or nothing: the state changes only if all is well
        flows_on, terms, route_of, rates = self._flows_on, self._terms, self._route, self.rates
        touched_links: dict[LinkId, None] = dict.fromkeys(capacities)
        recap: dict[FlowId, None] = dict.fromkeys(demands)  # flows whose cap may move
        # The lowest level at which the change can matter (see _level): progressive filling
        # below it runs as it ran before, so the flows with lower rates keep them.
        level = rates[remove[0]] if len(remove) == 1 else min((rates[flow] for flow in remove), default=math.inf)
        for link in capacities:  # a link whose capacity grows held its flows at most at their highest rate
            level = min(level, max((rates[f] for f in flows_on.get(link, ())), default=math.inf))
        for flow in remove:
            route = route_of.pop(flow)
            del self._demand[flow], self._cap[flow], self.rates[flow], self._seq[flow], self._bound[flow]
            self._heavy.discard(flow)
            for link in route:
                flows_on[link].pop(flow, None)
                terms[link].pop(flow, None)
            touched_links.update(dict.fromkeys(route))
        self.capacities.update(capacities)
        for link in capacities:
            recap.update(dict.fromkeys(flows_on.get(link, ())))
        for flow, demand in demands.items():
            self._demand[flow] = float(demand)
        for flow, (_, demand) in add.items():
            route = route_of[flow] = routes[flow]
            self._demand[flow] = float(demand)
            self.rates[flow] = math.nan  # not solved yet: always reported
            self._seq[flow] = self._next_seq
            self._next_seq += 1
            for link, w in route.items():
                flows_on.setdefault(link, {})[flow] = w
                terms.setdefault(link, {})
                if w != 1.0:
                    self._heavy.add(flow)
            self._bound[flow] = {}
            recap[flow] = None
        caps = self.capacities
        for flow in recap:
            route = route_of[flow]
            alone = min([caps[link] / w for link, w in route.items()], default=math.inf)
            cap = self._cap[flow] = min(self._demand[flow], alone)
            level = min(level, cap, rates[flow])  # a new flow's rate is NaN: min skips it (NaN compares false)
            for link, w in route.items():
                terms[link][flow] = w * cap
            touched_links.update(dict.fromkeys(route))
        # A touched link that was congested before the change, or is after it, may pass
        # the change on; one slack both before and after constrains nobody either way.
        congested, bound, fsum = self._congested, self._bound, math.fsum
        seeds = [link for link in touched_links if link in congested]
        for link in touched_links:
            on = terms.get(link)  # _load_exceeds(link), inline
            now = on is not None and len(on) > 1 and fsum(on.values()) > caps[link]
            if now:
                seeds.append(link)
            if now != (link in congested):
                if now:
                    congested.add(link)
                    for flow, w in flows_on[link].items():
                        bound[flow][link] = w
                else:
                    congested.discard(link)
                    for flow in flows_on.get(link, ()):
                        del bound[flow][link]
        for flow in add:  # a new flow on links already congested
            bound[flow] = {link: w for link, w in route_of[flow].items() if link in congested}
        if add or capacities:
            # Where the new flows and capacities first make a link saturate differently: only
            # on links congested now (a slack link never saturates; one that was congested and
            # is slack now held its flows at most at their highest rate, counted above).
            added: dict[LinkId, float] = {}
            for flow in add:
                for link, w in bound[flow].items():
                    added[link] = added.get(link, 0.0) + w
            for link in chain(added, capacities):
                if link in congested:
                    level = min(level, self._level(link, added.get(link, 0.0)))
        cut = level * (1 - _CUT) if level < math.inf else math.inf
        return self._solve(*self._walk(seeds, recap, cut), cut)

    def _level(self, link: LinkId, added: float) -> float:
        """The level at which ``link`` would saturate, new flows of total weight ``added`` rising on it (inf: never).

        Below the lowest level at which a change makes any link saturate differently, the
        filling is the one that gave the current rates: a flow with a rate ``r`` below it
        was frozen at ``r`` (it counts as ``r`` x weight), the others are still rising (as
        the level x weight). The level solves ``frozen(l) + open weight(l) x l = capacity``.
        """
        capacity = self.capacities[link]
        if capacity == math.inf:
            return math.inf
        rates = self.rates
        old = sorted((rates[f], w) for f, w in self._flows_on.get(link, {}).items() if rates[f] == rates[f])
        frozen = 0.0
        rising = added + math.fsum(w for _, w in old)
        below = 0.0  # the level so far: the rate of the last flow frozen
        for rate, w in old:
            if rising > 0 and frozen + rising * rate >= capacity:
                break
            frozen += rate * w
            rising -= w
            below = rate
        else:
            rate = math.inf
        if rising <= 0:
            return math.inf
        return max(below, min((capacity - frozen) / rising, rate))

    def _load_exceeds(self, link: LinkId) -> bool:
        """Whether the caps of the flows on ``link`` (times their weights) add up to more than its capacity."""
        terms = self._terms.get(link)
        if not terms or len(terms) == 1:
            # One flow alone never exceeds a link: its cap is at most capacity / weight.
            return False
        return math.fsum(terms.values()) > self.capacities[link]

    def _check(
        self,
        add: dict[FlowId, tuple[Route, float]],
        routes: dict[FlowId, dict[LinkId, float]],
        remove: list[FlowId],
        capacities: dict[LinkId, float],
        demands: dict[FlowId, float],
    ) -> None:
        """Raise on the first change that :meth:`change` cannot apply (see there)."""
        removed = set(remove)
        for flow in remove:
            if flow not in self._route:
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
            if flow not in self._route or flow in removed:
                raise KeyError(f"flow {flow!r} is not on the fabric")
        for flow, route in routes.items():
            if flow in self._route and flow not in removed:
                raise KeyError(f"flow {flow!r} is already on the fabric; remove it first")
            known = route.keys() <= self.capacities.keys()
            unknown = () if known else [link for link in route if link not in self.capacities]
            if unknown:
                raise KeyError(f"flow {flow!r} crosses link {unknown[0]!r}, which is not on the fabric")
            bad = [w for w in route.values() if not w > 0]
            if bad:
                raise ValueError(f"flow {flow!r}: weight {bad[0]!r} on a link; a link's weight is > 0")

    def affected(
        self, links: Iterable[LinkId] = (), flows: Iterable[FlowId] = (), cut: float = -math.inf
    ) -> list[FlowId]:
        """Return the flows whose rates a change at these links and flows can move, in order of arrival.

        They are ``flows``, the flows on ``links``, and the flows joined to those through
        congested links (a flow is joined to the links it crosses), leaving out the flows
        with a rate below ``cut`` (which keep it, and join nothing): a graph walk,
        O(flows x links per flow in those components), and a sort. The order of arrival
        makes the solver's input, hence its rounding, the same whatever order the walk took.
        """
        return self._walk(links, flows, cut)[0]

    def _walk(
        self, links: Iterable[LinkId], flows: Iterable[FlowId], cut: float
    ) -> tuple[list[FlowId], dict[LinkId, float], dict[LinkId, list[FlowId]]]:
        """:meth:`affected`; on each link walked, the load of the flows left out; on each congested one, the others.

        The load left out is what those flows, which keep their rates, hold of the link
        (their rates times weights, ``math.fsum``: exact); the others are the affected
        flows on the link, in order of arrival. The walk meets both anyway.
        """
        rates = self.rates
        seen_links: set[LinkId] = set()
        seen: dict[FlowId, None] = {}  # the affected flows, as met
        pending = set(links)
        held: dict[LinkId, float] = {}
        on: dict[LinkId, list[FlowId]] = {}
        flows_on, bound, congested = self._flows_on, self._bound, self._congested
        fsum, empty = math.fsum, {}
        for flow in flows:
            if flow not in seen:
                seen[flow] = None
                pending.update(bound[flow])
        while pending:
            link = pending.pop()
            if link in seen_links:
                continue
            seen_links.add(link)
            below = []
            here = []  # flows_on keeps flows in order of arrival on the link
            for flow, w in flows_on.get(link, empty).items():
                if flow not in seen:
                    rate = rates[flow]
                    if rate < cut:  # a new flow's NaN rate is not below
                        below.append(rate * w)
                        continue
                    seen[flow] = None
                    pending.update(bound[flow])
                here.append(flow)
            held[link] = fsum(below)
            if here and link in congested:
                on[link] = here
        order = sorted(seen, key=self._seq.__getitem__)
        return order, held, on

    def _solve(
        self,
        flows: list[FlowId],
        held: dict[LinkId, float],
        on: dict[LinkId, list[FlowId]],
        cut: float = -math.inf,
    ) -> dict[FlowId, float]:
        """Recompute the rates of ``flows`` (whole components above ``cut``); apply and return those that moved.

        A flow on slack links only gets its cap; the others are solved together over their
        congested links, with their caps as demands, on what the flows left out (those
        below ``cut``, which keep their rates) leave of those links (``held``: their load
        on each link, and ``on``: the affected flows on each congested link, from :meth:`_walk`).
        When every flow solved crosses each of its links once, :func:`_fill_unit` solves
        from ``on``, without building the routes again.
        """
        self.last_solved = len(flows)
        moved: dict[FlowId, float] = {}
        bound_of, cap, rates = self._bound, self._cap, self.rates
        bound: list[FlowId] = []
        routes: list[dict[LinkId, float]] = []
        for flow in flows:
            route = bound_of[flow]
            if route:
                bound.append(flow)
                routes.append(route)
            else:
                new = cap[flow]
                if _moved(rates[flow], new):
                    rates[flow] = moved[flow] = new
        if not bound:
            return moved
        if (not self._heavy or self._heavy.isdisjoint(bound)) and sum(map(len, on.values())) <= SMALL:
            caps = self.capacities
            state = {link: [max(caps[link] - held[link], 0.0), len(here), here] for link, here in on.items()}
            solved_of = _fill_unit(state, bound_of, bound, cap)
            solved = [solved_of[flow] for flow in bound]
        else:
            demand = [cap[f] for f in bound]
            capacity: Mapping[LinkId, float] = self.capacities
            if cut > -math.inf:  # take the flows that keep their rates off the links
                caps = self.capacities
                capacity = {}
                for link in chain.from_iterable(routes):
                    if link not in capacity:
                        capacity[link] = max(caps[link] - held[link], 0.0)
            if sum(map(len, routes)) <= SMALL:
                solved = _fill_routes(routes, capacity, demand)
            else:
                solved = max_min(routes, capacity, demand).tolist()
        isfinite = math.isfinite
        for flow, new in zip(bound, solved, strict=True):
            old = rates[flow]  # _moved(old, new), inline: this runs once per flow solved
            if old != new and (
                not (isfinite(old) and isfinite(new)) or abs(new - old) > RTOL * max(abs(old), abs(new))
            ):
                rates[flow] = moved[flow] = new
        return moved


#: Relative margin below the change's level under which a flow keeps its rate (a flow just
#: below it is recomputed too, which is always safe: the cut only saves work).
_CUT = 1e-6


def _route(links: Route) -> dict[LinkId, float]:
    """A route as a mapping of link to weight (a link listed k times has weight k)."""
    if isinstance(links, Mapping):
        return {link: float(w) for link, w in links.items()}
    route: dict[LinkId, float] = dict.fromkeys(links, 0.0)
    if len(route) == len(links):
        return dict.fromkeys(links, 1.0)  # each link once (the common case)
    for link in links:
        route[link] += 1.0
    return route


def _moved(old: float, new: float) -> bool:
    """Return whether a rate moved by more than :data:`RTOL` (relative); a move to or from inf or NaN counts."""
    if old == new:
        return False
    if not (math.isfinite(old) and math.isfinite(new)):
        return True
    return abs(new - old) > RTOL * max(abs(old), abs(new))


# ---------------------------------------------------------------- the patterns (the fabrics: dcsim.infra.fabrics)
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
