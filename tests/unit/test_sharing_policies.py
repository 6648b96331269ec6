"""The FGD study's six placement rules (random, dot_product, gpu_clustering, gpu_packing, best_fit, fgd), by hand.

Each hand-built case says why the rule must pick that node; properties check that no rule
returns a node that does not fit, that none changes the state, and that FGD's choice has
the least fragmentation change among all choices.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.infra.cluster import Cluster
from dcsim.infra.fragmentation import FragmentationTracker, Shape
from dcsim.infra.shares import WHOLE, Demand, Shares
from dcsim.infra.topology import build_topology
from dcsim.policies import PLACEMENT
from dcsim.policies.sharing import BestFitChoice
from dcsim.scenario.schema import Datacenter

RULES = ["random", "dot_product", "gpu_clustering", "gpu_packing", "best_fit", "fgd"]
SHAPES = [
    Shape(Demand(4000, 0, 1, 500), 0.4),
    Shape(Demand(8000, 0, 1, WHOLE), 0.3),
    Shape(Demand(16000, 0, 2, WHOLE), 0.2),
    Shape(Demand(2000, 0, 0, 0), 0.1),
]


def rule(name: str, seed: int = 0, **params):
    """A rule from the registry, its shapes bound."""
    policy = PLACEMENT.create(name, params, np.random.default_rng(seed))
    policy.bind_shapes(SHAPES)
    return policy


def build(nodes: list[tuple[int, list[int]]], cpu: int = 64000, memory: int = 262144) -> Shares:
    """Nodes of (milli-CPU free, milli-GPU free per GPU), each of ``cpu`` milli-CPU and ``memory`` MiB."""
    s = Shares([cpu] * len(nodes), [memory] * len(nodes), [len(r) for _, r in nodes])
    for n, (cpu_free, residuals) in enumerate(nodes):
        for i, r in enumerate(residuals):
            if r < WHOLE:
                s.allocate(n, Demand(0, 0, 1, WHOLE - r), [i])
        if cpu_free < cpu:
            s.allocate(n, Demand(cpu - cpu_free, 0, 0, 0), [])
    return s


def test_all_six_are_registered_with_choose_and_documented() -> None:
    """Every rule is in PLACEMENT, has choose and bind_shapes, and a docstring naming the study and its cost."""
    for name in RULES:
        cls = PLACEMENT.lookup(name)
        assert callable(cls.choose) and callable(cls.bind_shapes), name
        doc = (BestFitChoice if name == "best_fit" else cls).__doc__
        assert issubclass(cls, BestFitChoice) or name != "best_fit"
        assert ("FGD" in doc or "Weng" in doc) and "Cost O(" in doc, name


def test_dot_product_takes_the_least_dot_product_of_free_and_request() -> None:
    """Request 4 cores, 1 GPU. Free (cores, GPUs): (32, 4), (8, 4), (32, 1), over the study's 128 cores and 8 GPUs.

    dot = free_cpu/128 x 4/128 + free_gpu/8 x 1/8: 0.0703, 0.0645, 0.0234: node 2 (least room).
    """
    shares = build([(32000, [WHOLE] * 4), (8000, [WHOLE] * 4), (32000, [WHOLE, 0, 0, 0])])
    dots = [32 / 128 * 4 / 128 + 4 / 8 / 8, 8 / 128 * 4 / 128 + 4 / 8 / 8, 32 / 128 * 4 / 128 + 1 / 8 / 8]
    assert min(range(3), key=dots.__getitem__) == 2
    assert rule("dot_product").choose(Demand(4000, 0, 1, WHOLE), shares, [0, 1, 2]) == (2, (0,))


def test_dot_product_puts_a_share_on_the_fullest_gpu_that_holds_it() -> None:
    """A 300 share on a node with residuals 1000, 400, 350, 200: the fullest that holds it is 350 (GPU 2)."""
    shares = build([(64000, [WHOLE, 400, 350, 200])])
    assert rule("dot_product").choose(Demand(1000, 0, 1, 300), shares, [0]) == (0, (2,))


def test_gpu_clustering_packs_requests_of_one_kind_together() -> None:
    """Node 0 holds a whole GPU only, node 1 a share and a whole GPU, node 2 shares only, node 3 nothing.

    A share goes to node 2 (only its kind), a whole GPU to node 0 (only its kind); a 2-GPU
    request, a kind no node holds, to the idle node 3 before nodes of other kinds.
    """
    shares = Shares([64000] * 4, [1024] * 4, [4] * 4)
    shares.allocate(0, Demand(0, 0, 1, WHOLE), [0])
    shares.allocate(1, Demand(0, 0, 1, 500), [0])
    shares.allocate(1, Demand(0, 0, 1, WHOLE), [1])
    shares.allocate(2, Demand(0, 0, 1, 500), [0])
    policy = rule("gpu_clustering")
    assert policy.choose(Demand(0, 0, 1, 250), shares, range(4)) == (2, (0,))
    assert policy.choose(Demand(0, 0, 1, WHOLE), shares, range(4)) == (0, (1,))
    assert policy.choose(Demand(0, 0, 2, WHOLE), shares, range(4)) == (3, (0, 1))
    # Among nodes of one rank the one with least idle GPU: give node 3 a share too; both
    # node 2 (3500 idle) and node 3 (3750 idle) hold shares only: node 2.
    shares.allocate(3, Demand(0, 0, 1, 250), [0])
    assert policy.choose(Demand(0, 0, 1, 250), shares, range(4)) == (2, (0,))
    shares.release(2, Demand(0, 0, 1, 500), [0])  # node 2 now holds nothing: node 3 is the only share node
    assert policy.choose(Demand(0, 0, 1, 250), shares, range(4)) == (3, (0,))


def test_gpu_packing_prefers_partial_gpus_then_used_nodes_then_small_empty_nodes() -> None:
    """Node 0 empty (8 GPUs), node 1 empty (2 GPUs), node 2 GPUs 1000/1000/400/1000, node 3 1000/700/1000/1000.

    A 300 share fits the partial GPUs of nodes 2 (400 left) and 3 (700): node 2, least left.
    A 500 share fits only node 3's partial GPU: node 3. A whole GPU takes one free GPU on a
    used node (2 or 3): node 2, lowest id. Once no node is in use, the smaller empty node.
    """
    shares = build([(64000, [WHOLE] * 8), (64000, [WHOLE] * 2), (64000, [WHOLE, WHOLE, 400, WHOLE]),
                    (64000, [WHOLE, 700, WHOLE, WHOLE])])  # fmt: skip
    policy = rule("gpu_packing")
    assert policy.choose(Demand(0, 0, 1, 300), shares, range(4)) == (2, (2,))
    assert policy.choose(Demand(0, 0, 1, 500), shares, range(4)) == (3, (1,))
    assert policy.choose(Demand(0, 0, 1, WHOLE), shares, range(4)) == (2, (0,))
    assert policy.choose(Demand(0, 0, 1, WHOLE), shares, [0, 1]) == (1, (0,))


def test_best_fit_weighs_cpu_and_gpu_left_half_each() -> None:
    """Request 8 cores, 1 GPU. Node 0: 16 cores, 2 GPUs free; node 1: 64 cores, 1 GPU free.

    Left: 0.5 x 8/128 + 0.5 x 1000/8000 = 0.094 on node 0, 0.5 x 56/128 + 0 = 0.219 on node 1:
    node 0, although node 1 is left with no GPU.
    """
    shares = build([(16000, [WHOLE, WHOLE, 0, 0]), (64000, [WHOLE, 0, 0, 0])])
    assert 0.5 * 8 / 128 + 0.5 * 1000 / 8000 < 0.5 * 56 / 128
    assert rule("best_fit").choose(Demand(8000, 0, 1, WHOLE), shares, [0, 1]) == (0, (0,))


@dataclass
class JobStub:
    """The fields best_fit's place reads."""

    gpus: int
    pools: tuple[int, ...] = (0,)
    id: int = 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 8), min_size=4, max_size=4), st.integers(1, 8))
def test_best_fit_choose_agrees_with_place_when_only_whole_gpus(free: list[int], gpus: int) -> None:
    """GPUs only (no CPU asked, CPU alike): the study's BestFit is today's best_fit, node for node."""
    site = {"name": "dc1", "racks": 1, "nodes_per_rack": 4, "node": {"gpus": 8}}
    cluster = Cluster(build_topology(Datacenter.model_validate({"sites": [site]})))
    shares = Shares([0] * 4, [0] * 4, [8] * 4)
    for node, f in enumerate(free):
        if f < 8:
            cluster.allocate([(node, 8 - f)])
            shares.allocate(node, Demand(0, 0, 8 - f, WHOLE), list(range(8 - f)))
    policy = rule("best_fit")
    placed = policy.place(JobStub(gpus), cluster)
    chosen = policy.choose(Demand(0, 0, gpus, WHOLE), shares, range(4))
    assert (placed[0][0] if placed else None) == (chosen[0] if chosen else None)


def test_fgd_takes_the_gpu_that_lowers_fragmentation() -> None:
    """Workload: 600 shares only. Node 0 has GPUs 1000/1000 (F = 0), node 1 500/1000 (F = 500: the 500 is useless).

    A 500 share on node 0 leaves a useless 500 (delta +500); on node 1's 1000 GPU too (500 +
    500 useless: F 500 -> 1000, +500); on node 1's 500 GPU it fills it (F 500 -> 0, -500):
    FGD takes node 1, GPU 0.
    """
    shares = build([(64000, [WHOLE, WHOLE]), (64000, [500, WHOLE])])
    shapes = [Shape(Demand(0, 0, 1, 600), 1.0)]
    policy = rule("fgd")
    policy.bind_shapes(shapes)
    demand = Demand(0, 0, 1, 500)
    tracker = FragmentationTracker(shares, shapes)
    assert tracker.delta(0, demand, [0]) == 500 - 0
    assert tracker.delta(1, demand, [1]) == 1000 - 500
    assert tracker.delta(1, demand, [0]) == 0 - 500
    assert policy.choose(demand, shares, [0, 1]) == (1, (0,))


def test_fgd_fills_a_fragment_rather_than_keep_it() -> None:
    """Workload: 500 shares. A 300 share: node 0 has GPUs 1000, 1000, 400, 1000 (F = 400), node 1 two free GPUs.

    On node 0's 400 GPU it leaves 100 (F 400 -> 100, delta -300); on any free GPU it leaves
    700, still usable by a 500 share (delta 0): FGD takes node 0, GPU 2, where DotProd
    (exact) takes node 1, whose free GPU x request is smaller (2000 vs 3400 milli-GPU free).
    """
    shares = build([(64000, [WHOLE, WHOLE, 400, WHOLE]), (64000, [WHOLE, WHOLE])])
    policy = rule("fgd")
    policy.bind_shapes([Shape(Demand(0, 0, 1, 500), 1.0)])
    assert policy.choose(Demand(0, 0, 1, 300), shares, [0, 1]) == (0, (2,))
    assert rule("dot_product", scores="exact").choose(Demand(0, 0, 1, 300), shares, [0, 1])[0] == 1


def test_fgd_ties_go_to_the_lowest_node() -> None:
    """Two identical empty nodes: equal deltas, the lower id wins whichever order they are given in."""
    shares = build([(64000, [WHOLE] * 4), (64000, [WHOLE] * 4)])
    assert rule("fgd").choose(Demand(4000, 0, 1, 500), shares, [1, 0]) == (0, (0,))


def test_fgd_without_shapes_is_a_clear_error() -> None:
    """FGD cannot score without the workload: the caller must bind its shapes first."""
    policy = PLACEMENT.create("fgd", {}, np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="bind_shapes"):
        policy.choose(Demand(0, 0, 1, 500), build([(64000, [WHOLE])]), [0])


def test_authors_scores_tie_where_exact_scores_do_not() -> None:
    """BestFit, request 1 GPU: node 0 leaves 2 cores (0.5 x 2/128 = 0.0078), node 1 leaves 1 core (0.0039).

    Exact: node 1. The authors' integer score int((1 - left) x 100) is 99 for both: a tie, node 0.
    """
    shares = build([(2000, [WHOLE]), (1000, [WHOLE])])
    assert int((1 - 0.5 * 2 / 128) * 100) == int((1 - 0.5 * 1 / 128) * 100) == 99
    assert rule("best_fit", scores="exact").choose(Demand(0, 0, 1, WHOLE), shares, [0, 1]) == (1, (0,))
    assert rule("best_fit").choose(Demand(0, 0, 1, WHOLE), shares, [0, 1]) == (0, (0,))  # authors' scores: default


def test_fgd_authors_scores_tie_small_deltas_to_the_lowest_node() -> None:
    """Workload: 600 and 300 shares, half each. A 250 share: node 0 has GPUs 1000/1000, node 1 1000/450.

    Node 0: 1000 -> 750 is still usable by both: F 0 -> 0, delta 0. Node 1: F = 0.5 x 450
    (useless to 600 shares) = 225; the share on the 450 GPU leaves 200, useless to both:
    F = 200, delta -25. Exact: node 1. The authors' score int(100 sigmoid(-delta/1000)) is
    50 for both: a tie, node 0.
    """
    shares = build([(64000, [WHOLE, WHOLE]), (64000, [WHOLE, 450])])
    shapes = [Shape(Demand(0, 0, 1, 600), 0.5), Shape(Demand(0, 0, 1, 300), 0.5)]
    demand = Demand(0, 0, 1, 250)
    tracker = FragmentationTracker(shares, shapes)
    assert tracker.delta(0, demand, [0]) == 0
    assert tracker.delta(1, demand, [1]) == pytest.approx(200 - 0.5 * 450)
    assert int(100 / (1 + math.exp(0 / 1000))) == int(100 / (1 + math.exp(-25 / 1000))) == 50
    exact, authors = rule("fgd", scores="exact"), rule("fgd")
    exact.bind_shapes(shapes)
    authors.bind_shapes(shapes)
    assert exact.choose(demand, shares, [0, 1]) == (1, (1,))
    assert authors.choose(demand, shares, [0, 1]) == (0, (0,))


def test_random_is_uniform_over_fitting_nodes_and_repeats_under_a_seed() -> None:
    """Nodes 0, 2, 3 fit a 2-GPU request (node 1 has 1 GPU free; 0 and 3 alike): 900 draws give each about 300.

    A count's SE is sqrt(900 x 1/3 x 2/3) = 14.1; each within 4 SE. The same seed gives the
    same draws; node 1 is never drawn.
    """
    shares = build([(64000, [WHOLE] * 4), (64000, [WHOLE, 0, 0, 0]), (64000, [WHOLE] * 2), (64000, [WHOLE] * 4)])
    demand = Demand(0, 0, 2, WHOLE)
    policy = rule("random", seed=7)
    picks = [policy.choose(demand, shares, range(4)) for _ in range(900)]
    counts = Counter(node for node, _ in picks)
    assert set(counts) == {0, 2, 3}
    se = (900 * (1 / 3) * (2 / 3)) ** 0.5
    assert all(abs(counts[n] - 300) <= 4 * se for n in (0, 2, 3)), counts
    again = rule("random", seed=7)
    assert [again.choose(demand, shares, range(4)) for _ in range(900)] == picks


def test_random_puts_a_share_on_any_gpu_that_holds_it() -> None:
    """GPUs 1000, 100, 600, 400 and a 300 share: GPUs 0, 2 and 3 hold it, each drawn; GPU 1 never."""
    shares = build([(64000, [WHOLE, 100, 600, 400])])
    policy = rule("random", seed=1)
    gpus = Counter(policy.choose(Demand(0, 0, 1, 300), shares, [0])[1] for _ in range(300))
    assert set(gpus) == {(0,), (2,), (3,)}


demands = st.builds(
    Demand,
    st.sampled_from([0, 2000, 16000, 40000]),
    st.sampled_from([0, 1024, 8192]),
    st.sampled_from([0, 1, 2, 4]),
    st.sampled_from([100, 250, 500, 750, WHOLE]),
).map(lambda d: d._replace(gpu_milli=0) if d.gpus == 0 else d._replace(gpu_milli=WHOLE) if d.gpus > 1 else d)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), demands, st.booleans()), max_size=25),
    demands,
    st.sampled_from(RULES),
    st.sampled_from(["exact", "authors"]),
)
def test_no_rule_returns_a_node_that_does_not_fit_or_changes_the_state(
    ops: list[tuple[int, Demand, bool]], demand: Demand, name: str, scores: str
) -> None:
    """Fill six nodes (8, 4, 4, 2, 8 and 0 GPUs) by random requests and releases, asking the rule between them.

    Its answer is None exactly when no candidate fits; otherwise the node is a candidate,
    the GPUs are distinct, as many as asked, each holding the request; Shares is unchanged.
    The rule sees the state change between calls (its grouping of nodes must follow).
    """
    shares = Shares([64000, 32000, 32000, 16000, 64000, 8000], [16384] * 6, [8, 4, 4, 2, 8, 0])
    policy = rule(name) if name == "random" else rule(name, scores=scores)
    candidates = [0, 1, 2, 3, 5]
    held: list[tuple[int, Demand, tuple[int, ...]]] = []
    for node, d, release in ops:
        options = shares.gpu_options(node, d)
        if release and held:
            shares.release(*held.pop(0))
        elif shares.fits(node, d) and options:
            shares.allocate(node, d, options[0])
            held.append((node, d, options[0]))
        policy.choose(demand, shares, candidates)
    before = [shares.state(n) for n in range(6)], list(shares.version)
    found = policy.choose(demand, shares, candidates)
    assert ([shares.state(n) for n in range(6)], list(shares.version)) == before
    if found is None:
        assert not any(shares.fits(n, demand) for n in candidates)
        return
    node, gpus = found
    assert node in candidates and shares.fits(node, demand)
    assert len(gpus) == demand.gpus == len(set(gpus))
    assert all(shares.residuals(node)[i] >= demand.gpu_milli for i in gpus)
    if name != "random":  # the same answer as a fresh rule that never saw the earlier states
        fresh = rule(name, scores=scores)
        assert fresh.choose(demand, shares, candidates) == found


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), demands), max_size=20), demands, st.sampled_from(["exact", "authors"]))
def test_fgd_choice_has_the_least_fragmentation_change(
    fill: list[tuple[int, Demand]], demand: Demand, scores: str
) -> None:
    """Over every candidate node and GPU choice, FGD's has the least delta (exact) or the highest
    integer score int(100 sigmoid(-delta / 1000)) (authors); ties: the lowest node."""
    shares = Shares([64000, 32000, 32000, 16000], [16384] * 4, [8, 4, 4, 2])
    for node, d in fill:
        options = shares.gpu_options(node, d)
        if shares.fits(node, d) and options:
            shares.allocate(node, d, options[0])
    tracker = FragmentationTracker(shares, SHAPES)
    every = [
        (tracker.delta(n, demand, g), n)
        for n in range(4)
        if shares.fits(n, demand)
        for g in shares.gpu_options(n, demand)
    ]
    found = rule("fgd", scores=scores).choose(demand, shares, range(4))
    if not every:
        assert found is None
        return
    assert found is not None

    def cost(delta: float) -> float:
        return delta if scores == "exact" else -int(100 / (1 + math.exp(delta / 1000)))

    node, gpus = found
    least = min(cost(d) for d, _ in every)
    assert cost(tracker.delta(node, demand, gpus)) == pytest.approx(least)
    assert node == min(n for d, n in every if cost(d) == pytest.approx(least))


def test_event_runs_place_by_a_sharing_rule() -> None:
    """`placement: fgd` in an event-driven scenario is accepted and makes the run share GPUs (the engine
    calls ``choose``; tests/engine/test_sharing.py runs every rule)."""
    from dcsim.scenario.checks import sharing_unbuilt
    from dcsim.scenario.schema import Scenario
    from dcsim.workload.sharing import uses_sharing

    job = {"name": "a", "arrival": {"process": "poisson", "rate": "1/h"}, "gpus": 1,
           "duration": {"dist": "exponential", "mean": "1h"}}  # fmt: skip

    def scenario(placement: str) -> Scenario:
        return Scenario.model_validate({
            "name": "t", "horizon": "1h", "policies": {"placement": placement}, "workload": {"jobs": [job]},
            "datacenter": {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        })  # fmt: skip

    assert sharing_unbuilt(scenario("fgd")) == [] and uses_sharing(scenario("fgd"))
    assert sharing_unbuilt(scenario("best_fit")) == [] and not uses_sharing(scenario("best_fit"))
