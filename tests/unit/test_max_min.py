"""Max-min fair sharing of links (dcsim.infra.fabric): hand-computed shares, the max-min
properties on random instances, and the incremental keeper against a full recomputation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.infra import fabric
from dcsim.infra.fabric import RTOL, Sharing
from dcsim.infra.fabric import max_min as _max_min

INF = math.inf


def max_min(flows, capacities, demands=None):
    """``fabric.max_min`` by both of its fillings (plain Python for small problems, numpy for
    large ones), which must agree; the Python one's rates."""
    python = _max_min(flows, capacities, demands)
    small, fabric.SMALL = fabric.SMALL, -1
    try:
        array = _max_min(flows, capacities, demands)
    finally:
        fabric.SMALL = small
    assert array.tolist() == pytest.approx(python.tolist(), rel=1e-9)
    return python


# --- hand-computed cases -------------------------------------------------------------


def test_two_flows_on_one_link_get_half_each():
    """Two jobs share one 400 Gb/s uplink: 200 each."""
    assert max_min([["up"], ["up"]], {"up": 400e9}).tolist() == [400e9 / 2, 400e9 / 2]


def test_three_flows_over_two_links_of_different_capacities():
    """Link A (10) carries f1 and f2, link B (4) carries f2 and f3. B is the tighter: f2 and f3
    get 4 / 2 = 2 each; f1 takes what f2 leaves of A: 10 - 2 = 8."""
    rates = max_min([["A"], ["A", "B"], ["B"]], {"A": 10.0, "B": 4.0})
    assert rates.tolist() == pytest.approx([10 - 4 / 2, 4 / 2, 4 / 2])


def test_demand_below_the_fair_share_leaves_the_rest_to_the_others():
    """Three flows on a link of 12: a fair share is 4, but f1 needs only 1 (compute-bound),
    so f2 and f3 split the other 11."""
    rates = max_min([["L"], ["L"], ["L"]], {"L": 12.0}, demands=[1.0, INF, INF])
    assert rates.tolist() == pytest.approx([1.0, (12 - 1) / 2, (12 - 1) / 2])


def test_demand_above_the_fair_share_does_not_bind():
    """A demand of 7 on a link of 12 shared by two: the fair share 6 is below it."""
    assert max_min([["L"], ["L"]], {"L": 12.0}, demands=[7.0, INF]).tolist() == pytest.approx([6.0, 6.0])


def test_flow_with_no_links_gets_its_demand_and_leaves_the_fabric_alone():
    """An intra-node flow (NVLink) crosses no fabric link: it gets its demand (inf without
    one), and the flow on the link still gets all of it."""
    rates = max_min([[], ["L"], []], {"L": 10.0}, demands=[3.0, INF, INF])
    assert rates.tolist() == [3.0, 10.0, INF]


def test_only_flows_with_no_links():
    assert max_min([[], []], {}).tolist() == [INF, INF]
    assert max_min([], {}).tolist() == []


def test_zero_capacity_link_stops_its_flows_only():
    """Link B failed (capacity 0): f2, which crosses it, gets 0; f1 then has A to itself."""
    rates = max_min([["A"], ["A", "B"]], {"A": 10.0, "B": 0.0})
    assert rates.tolist() == [10.0, 0.0]


def test_flow_over_several_links_is_held_by_the_tightest():
    """A three-hop path (NIC up 400, spine 100 shared with another flow, NIC down 400): the
    spine gives each 100 / 2 = 50; the other flow's own NIC (30) holds it to 30, so the
    path flow gets 100 - 30 = 70."""
    capacities = {"nic_up": 400.0, "spine": 100.0, "nic_down": 400.0, "other_nic": 30.0}
    rates = max_min([["nic_up", "spine", "nic_down"], ["other_nic", "spine"]], capacities)
    assert rates.tolist() == pytest.approx([100 - 30, 30])


def test_ties_saturate_together():
    """Links A and B of 6, each carrying two flows (f2 on both): both reach the level 6 / 2 = 3
    in the same step and every flow gets 3. Levels equal only up to rounding (0.1 + 0.2 and
    0.3) tie too: one step, not a sliver of a second one."""
    rates = max_min([["A"], ["A", "B"], ["B"]], {"A": 6.0, "B": 6.0})
    assert rates.tolist() == [6 / 2, 6 / 2, 6 / 2]
    rates = max_min([["A"], ["A", "B"], ["B"]], {"A": 0.1 + 0.2, "B": 0.3})
    assert rates.tolist() == pytest.approx([0.3 / 2, 0.3 / 2, 0.3 / 2], rel=1e-15)


def test_link_listed_twice_carries_the_flow_twice():
    """A flow that crosses a link of 10 twice (there and back) moves at 10 / 2 = 5."""
    assert max_min([["L", "L"]], {"L": 10.0}).tolist() == [5.0]


def test_link_that_never_limits():
    """A link of infinite capacity adds no constraint: the flow is held by its other link or its demand."""
    assert max_min([["inf", "L"], ["inf"]], {"inf": INF, "L": 5.0}, demands=[INF, 2.0]).tolist() == [5.0, 2.0]
    assert max_min([["inf"]], {"inf": INF}).tolist() == [INF]


def test_a_flow_split_over_two_paths_loads_each_with_half_its_rate():
    """ECMP: f puts half its rate on A and half on B (10 each); g crosses A alone. Filling
    raises both to r with A carrying r/2 + r = 10, so r = 20/3 for both; B keeps room."""
    rates = max_min([{"A": 0.5, "B": 0.5}, ["A"]], {"A": 10.0, "B": 10.0})
    assert rates.tolist() == pytest.approx([20 / 3, 20 / 3], rel=1e-12)


def test_a_weight_of_two_is_a_link_listed_twice():
    flows = [["A", "A", "B"], ["A"]]
    weighted = [{"A": 2.0, "B": 1.0}, {"A": 1.0}]
    caps = {"A": 9.0, "B": 2.0}
    assert max_min(weighted, caps).tolist() == max_min(flows, caps).tolist() == pytest.approx([2.0, 5.0])


def test_a_weight_must_be_positive():
    with pytest.raises(ValueError, match="weight"):
        max_min([{"A": 0.0}], {"A": 1.0})
    with pytest.raises(ValueError, match="weight"):
        Sharing({"A": 1.0}).add_flow("f", {"A": -1.0})


def test_capacities_indexed_by_integer_link_id():
    """An array of capacities works for integer link ids."""
    assert max_min([[0], [0, 1]], np.array([10.0, 4.0])).tolist() == [6.0, 4.0]


def test_bad_inputs_are_refused():
    with pytest.raises(KeyError):
        max_min([["A", "missing"]], {"A": 1.0})
    with pytest.raises(ValueError, match="capacity"):
        max_min([["A"]], {"A": -1.0})
    with pytest.raises(ValueError, match="capacity"):
        max_min([["A"]], {"A": math.nan})
    with pytest.raises(ValueError, match="demand"):
        max_min([["A"]], {"A": 1.0}, demands=[-1.0])
    with pytest.raises(ValueError, match="one demand per flow"):
        max_min([["A"]], {"A": 1.0}, demands=[1.0, 2.0])


# --- properties on random instances ---------------------------------------------------

capacity_values = st.one_of(
    st.just(0.0), st.just(INF), st.integers(1, 20).map(float), st.floats(0.01, 1e12, allow_nan=False)
)
demand_values = st.one_of(st.just(INF), st.just(0.0), st.integers(1, 20).map(float), st.floats(0.01, 1e12))


weight_values = st.sampled_from([0.25, 1 / 3, 0.5, 1.0, 2.0, 3.0])


def routes(links):
    """A flow's route: a list of links (repeats carry it twice), or a mapping of link to weight (ECMP splits)."""
    return st.one_of(
        st.lists(st.sampled_from(links), max_size=4),
        st.dictionaries(st.sampled_from(links), weight_values, max_size=4),
    )


def crossings(route):
    """(link, weight) per crossing of a route."""
    return route.items() if isinstance(route, dict) else ((link, 1.0) for link in route)


@st.composite
def instances(draw, max_links=8, max_flows=14):
    """A fabric of a few links and flows over them (a link may repeat within a flow)."""
    n_links = draw(st.integers(1, max_links))
    capacities = {f"l{i}": draw(capacity_values) for i in range(n_links)}
    flows = draw(st.lists(routes(sorted(capacities)), max_size=max_flows))
    demands = draw(st.lists(demand_values, min_size=len(flows), max_size=len(flows)))
    return flows, capacities, demands


def close_to_or_above(value: float, bound: float) -> bool:
    """Whether ``value`` >= ``bound`` up to rounding (relative and a little absolute)."""
    return value >= bound - 1e-7 * abs(bound) - 1e-9 if math.isfinite(bound) else value == bound


def loads(flows, capacities, rates):
    load = dict.fromkeys(capacities, 0.0)
    for route, rate in zip(flows, rates, strict=True):
        for link, weight in crossings(route):
            load[link] += rate * weight
    return load


@settings(max_examples=300, deadline=None)
@given(instances())
def test_every_share_is_feasible(instance):
    """No link carries more than its capacity, no flow gets more than its demand, no rate is negative."""
    flows, capacities, demands = instance
    rates = max_min(flows, capacities, demands)
    assert (rates >= 0).all()
    assert all(r <= d for r, d in zip(rates, demands, strict=True))
    for link, load in loads(flows, capacities, rates).items():
        assert close_to_or_above(capacities[link], load), (link, load, capacities[link])


@settings(max_examples=300, deadline=None)
@given(instances())
def test_every_flow_is_at_its_demand_or_has_a_saturated_bottleneck_where_it_is_largest(instance):
    """The max-min optimality condition: a flow below its demand crosses a saturated link on
    which no flow gets more than it."""
    flows, capacities, demands = instance
    rates = max_min(flows, capacities, demands)
    load = loads(flows, capacities, rates)
    on_link: dict[str, list[float]] = {link: [] for link in capacities}
    for links, rate in zip(flows, rates, strict=True):
        for link in links:
            on_link[link].append(rate)
    for links, rate, demand in zip(flows, rates, demands, strict=True):
        if close_to_or_above(rate, demand):
            continue
        assert any(
            close_to_or_above(load[link], capacities[link]) and close_to_or_above(rate, max(on_link[link]))
            for link in links
        ), (links, rate, demand)


@settings(max_examples=200, deadline=None)
@given(instances(), st.randoms(use_true_random=False))
def test_flow_order_does_not_change_the_rates(instance, random):
    flows, capacities, demands = instance
    order = list(range(len(flows)))
    random.shuffle(order)
    rates = max_min(flows, capacities, demands)
    shuffled = max_min([flows[i] for i in order], capacities, [demands[i] for i in order])
    assert shuffled.tolist() == pytest.approx(rates[order].tolist(), rel=1e-9)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_incremental_recomputation_equals_the_full_one(data):
    """After every random add, remove, capacity or demand change, the kept rates are those of
    a full recomputation, and the change reports exactly the flows whose kept rate moved."""
    n_links = data.draw(st.integers(1, 8))
    capacities = {i: data.draw(capacity_values) for i in range(n_links)}
    sharing = Sharing(capacities)
    links_of: dict[int, list[int]] = {}
    demand_of: dict[int, float] = {}
    next_id = 0
    for _ in range(data.draw(st.integers(1, 25))):
        before = dict(sharing.rates)
        op = data.draw(st.sampled_from(["add", "add", "remove", "capacity", "demand"] if links_of else ["add"]))
        if op == "add":
            links = data.draw(routes(list(range(n_links))))
            demand = data.draw(demand_values)
            moved = sharing.add_flow(next_id, links, demand)
            links_of[next_id], demand_of[next_id] = links, demand
            assert next_id in moved
            next_id += 1
        elif op == "remove":
            flow = data.draw(st.sampled_from(sorted(links_of)))
            moved = sharing.remove_flow(flow)
            del links_of[flow], demand_of[flow], before[flow]
        elif op == "capacity":
            link = data.draw(st.integers(0, n_links - 1))
            capacities[link] = data.draw(capacity_values)
            moved = sharing.set_capacity(link, capacities[link])
        else:
            flow = data.draw(st.sampled_from(sorted(links_of)))
            demand_of[flow] = data.draw(demand_values)
            moved = sharing.change(demands={flow: demand_of[flow]})
        flows = sorted(links_of)
        full = max_min([links_of[f] for f in flows], capacities, [demand_of[f] for f in flows])
        assert [sharing.rates[f] for f in flows] == pytest.approx(full.tolist(), rel=1e-8)
        assert moved == {f: r for f, r in sharing.rates.items() if f not in before or before[f] != r}


def test_change_recomputes_only_the_touched_component():
    """Two racks whose flows share no link: a flow added in rack A recomputes A's three flows
    (two old, one new), and rack B's rates are neither recomputed nor reported."""
    sharing = Sharing({"a_up": 12.0, "a_nic": 10.0, "b_up": 12.0})
    sharing.change(add={"a1": (["a_up"], INF), "a2": (["a_up", "a_nic"], INF), "b1": (["b_up"], INF)})
    assert sharing.last_solved == 3
    moved = sharing.add_flow("a3", ["a_nic"])
    assert sharing.last_solved == 3
    assert moved == {"a2": 10 / 2, "a3": 10 / 2, "a1": 12 - 10 / 2}
    assert sharing.rates["b1"] == 12.0
    moved = sharing.set_capacity("b_up", 6.0)
    assert sharing.last_solved == 1
    assert moved == {"b1": 6.0}
    assert sharing.affected(links=["a_nic"]) == sharing.affected(flows=["a1"]) == ["a1", "a2", "a3"]
    assert sharing.affected(links=["b_up"]) == ["b1"]


def test_removal_recomputes_the_component_it_leaves():
    """Removing a2 splits rack A's component; both halves are recomputed, nothing else is."""
    sharing = Sharing({"a_up": 12.0, "a_nic": 10.0, "b_up": 12.0})
    paths = {"a1": ["a_up"], "a2": ["a_up", "a_nic"], "a3": ["a_nic"], "b1": ["b_up"]}
    sharing.change(add={flow: (links, INF) for flow, links in paths.items()})
    moved = sharing.remove_flow("a2")
    assert sharing.last_solved == 2
    assert moved == {"a1": 12.0, "a3": 10.0}
    assert "a2" not in sharing and len(sharing) == 3


def test_rounding_moves_are_not_reported():
    """A change that moves a rate by less than RTOL (relative) leaves it as it was."""
    sharing = Sharing({"L": 10.0})
    sharing.add_flow("f", ["L"])
    assert sharing.set_capacity("L", 10.0 * (1 + RTOL / 10)) == {}
    assert sharing.rates["f"] == 10.0
    assert sharing.set_capacity("L", 11.0) == {"f": 11.0}


def test_a_refused_change_leaves_the_state_as_it_was():
    sharing = Sharing({"L": 10.0})
    sharing.add_flow("f", ["L"])
    with pytest.raises(KeyError, match="not on the fabric"):
        sharing.change(remove=["f"], add={"g": (["missing"], INF)})
    with pytest.raises(KeyError, match="already on the fabric"):
        sharing.add_flow("f", ["L"])
    with pytest.raises(ValueError, match="capacity"):
        sharing.change(remove=["f"], capacities={"L": -1.0})
    with pytest.raises(ValueError, match="demand"):
        sharing.add_flow("g", ["L"], demand=-1.0)
    with pytest.raises(KeyError):
        sharing.remove_flow("g")
    assert sharing.rates == {"f": 10.0} and sharing.capacities == {"L": 10.0} and len(sharing) == 1


def test_a_flow_removed_and_added_again_in_one_change_moves_to_its_new_links():
    sharing = Sharing({"A": 10.0, "B": 4.0})
    sharing.add_flow("f", ["A"])
    assert sharing.change(remove=["f"], add={"f": (["B"], INF)}) == {"f": 4.0}


def test_a_start_on_links_with_room_recomputes_only_itself():
    """Jobs on their own NICs under a wide uplink: each flow gets its cap (NIC / hops), and a
    new one recomputes no other flow, because no link is congested."""
    caps = {"nic1": 10.0, "nic2": 10.0, "nic3": 10.0, "up": 100.0}
    sharing = Sharing(caps)
    sharing.add_flow("j1", ["nic1", "up"])
    sharing.add_flow("j2", ["nic2", "nic2", "up"])
    moved = sharing.add_flow("j3", ["nic3", "up"])
    assert moved == {"j3": 10.0} and sharing.last_solved == 1
    assert sharing.rates == {"j1": 10.0, "j2": 5.0, "j3": 10.0}
    assert not any(sharing.congested(link) for link in caps)


def test_a_link_that_fills_up_couples_its_flows_and_frees_them_when_it_empties():
    """An uplink of 25 under three flows capped at 10: congested (30 > 25), the three share it
    (25/3 each). When one ends it is slack again (20 <= 25) and the two left get their caps."""
    sharing = Sharing({"n1": 10.0, "n2": 10.0, "n3": 10.0, "up": 25.0})
    sharing.add_flow("a", ["n1", "up"])
    sharing.add_flow("b", ["n2", "up"])
    moved = sharing.add_flow("c", ["n3", "up"])
    assert sharing.congested("up") and sharing.last_solved == 3
    assert moved == pytest.approx({"a": 25 / 3, "b": 25 / 3, "c": 25 / 3})
    moved = sharing.remove_flow("c")
    assert not sharing.congested("up")
    assert moved == {"a": 10.0, "b": 10.0}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_long_random_history_on_a_congested_fabric_keeps_the_full_recomputation(seed):
    """Four hundred starts and ends on 12 racks whose uplinks are congested (flows cross 1 to 4
    of them, capped by their own NICs): after each, the kept rates are a full recomputation's.
    Exercises the cut (flows below the change's level keep their rates) on components of tens
    of flows, as the engine's are."""
    rng = np.random.default_rng(seed)
    capacities = {f"up{r}": float(rng.choice([6.0, 10.0, 16.0])) for r in range(12)}
    capacities.update({f"nic{n}": 4.0 for n in range(300)})
    sharing = Sharing(capacities)
    routes: dict[int, dict[str, float]] = {}
    for flow in range(400):
        if routes and rng.random() < 0.45:
            gone = int(rng.choice(sorted(routes)))
            sharing.remove_flow(gone)
            del routes[gone]
        else:
            racks = rng.choice(12, size=int(rng.integers(1, 5)), replace=False)
            route = {f"up{r}": float(rng.choice([1.0, 2.0, 0.5])) for r in racks}
            route[f"nic{flow % 300}"] = 1.0
            sharing.add_flow(flow, route)
            routes[flow] = route
        flows = sorted(routes)
        full = max_min([routes[f] for f in flows], capacities)
        assert [sharing.rates[f] for f in flows] == pytest.approx(full.tolist(), rel=1e-8)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_unit_weight_filling_is_the_general_one_to_the_last_bit(data):
    """``_fill_unit`` (every weight 1, the links' flows given) against ``_fill_routes`` on the same
    problem: the same rates, bit for bit, whatever the order of the links and of their flows."""
    n_links = data.draw(st.integers(1, 8))
    caps = st.sampled_from([0.0, 1.0, 3.0, 7.0, 10.0, 1e9 / 3, INF])
    capacity = {f"l{i}": data.draw(caps) for i in range(n_links)}
    n_flows = data.draw(st.integers(1, 25))
    routes = [
        dict.fromkeys(data.draw(st.lists(st.sampled_from(sorted(capacity)), min_size=1, unique=True)), 1.0)
        for _ in range(n_flows)
    ]
    demand = [data.draw(st.sampled_from([0.5, 2.0, 1e9 / 7, INF])) for _ in range(n_flows)]
    general = fabric._fill_routes(routes, capacity, demand)
    links = data.draw(st.permutations(sorted({link for route in routes for link in route})))
    state = {}
    for link in links:
        here = [f for f in data.draw(st.permutations(range(n_flows))) if link in routes[f]]
        state[link] = [capacity[link], len(here), here]
    unit = fabric._fill_unit(state, dict(enumerate(routes)), list(range(n_flows)), dict(enumerate(demand)))
    assert [unit[f].hex() for f in range(n_flows)] == [r.hex() for r in general]


@pytest.mark.parametrize("seed", [1, 2])
def test_sharing_takes_the_unit_weight_filling_without_changing_a_bit(seed):
    """A long history of unit-weight flows on congested uplinks, kept twice: as is (the unit-weight
    filling) and next to a flow of weight 2 on a link of its own (which keeps Sharing on the
    general filling): the same rates, bit for bit, after every change."""
    rng = np.random.default_rng(seed)
    capacities = {f"up{r}": float(rng.choice([6.0, 10.0, 16.0])) / 3 for r in range(10)}
    capacities.update({f"nic{n}": 4.0 / 3 for n in range(200)})
    capacities["alone"] = 1.0
    unit, general = Sharing(capacities), Sharing(capacities)
    general.add_flow("heavy", {"alone": 2.0})
    live: list[int] = []
    for flow in range(500):
        if live and rng.random() < 0.45:
            gone = live.pop(int(rng.integers(len(live))))
            changes = unit.remove_flow(gone), general.remove_flow(gone)
        else:
            racks = rng.choice(10, size=int(rng.integers(1, 4)), replace=False)
            route = [f"up{r}" for r in racks] + [f"nic{flow % 200}"]
            changes = unit.add_flow(flow, route), general.add_flow(flow, route)
            live.append(flow)
        assert list(changes[0].items()) == list(changes[1].items())
        assert {f: r.hex() for f, r in unit.rates.items()} == {
            f: r.hex() for f, r in general.rates.items() if f != "heavy"
        }
