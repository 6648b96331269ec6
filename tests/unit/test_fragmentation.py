"""FGD's fragmentation F_n(M) (Weng et al., ATC'23) on hand-built nodes, the tracker, and the workload's shapes.

Each category of the authors' ``GetNodePodFrag`` is checked on one node computed by hand;
the authors' own unit tests (``pkg/utils/frag_test.go``) give further values that an
independent implementation of their definition must reproduce.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.infra.fragmentation import FragmentationTracker, Shape, node_fragmentation, typical_shapes
from dcsim.infra.shares import WHOLE, Demand, Shares


def one_node(residuals: list[int], cpu_free: int = 8000, memory_free: int = 32768, gpu_type: int = 0) -> Shares:
    """A node with len(residuals) GPUs, the given milli-GPU free on each and the given CPU and memory free."""
    s = Shares([64000], [262144], [len(residuals)], [gpu_type], ["a", "b"])
    for i, r in enumerate(residuals):
        if r < WHOLE:
            s.allocate(0, Demand(0, 0, 1, WHOLE - r), [i])
    s.allocate(0, Demand(64000 - cpu_free, 262144 - memory_free, 0, 0), [])
    return s


# The node of every hand-computed case: GPUs with 1000, 1000, 500 and 200 milli-GPU free
# (2700 idle), 8 cores and 32 GiB free.
NODE = [1000, 1000, 500, 200]


@pytest.mark.parametrize(
    ("demand", "types", "expected", "why"),
    [
        (Demand(1000, 0, 0, 0), None, 2700, "CPU-only request: it uses no GPU, all idle GPU is a fragment"),
        (Demand(16000, 0, 1, 300), None, 2700, "needs 16 cores, 8 free: can't fit CPU"),
        (Demand(1000, 65536, 1, 300), None, 2700, "needs 64 GiB, 32 free: can't fit memory"),
        (Demand(1000, 0, 1, 300), frozenset({1}), 2700, "may run only on type 1, node is type 0: no access"),
        (Demand(1000, 0, 3, WHOLE), None, 2700, "three whole GPUs, two wholly free: can't fit GPUs"),
        (Demand(1000, 0, 2, WHOLE), None, 500 + 200, "two whole GPUs fit; the partial GPUs (500 + 200) are unusable"),
        (Demand(1000, 0, 1, 300), None, 200, "a 300 share fits; only the 200 residual is below it"),
        (Demand(1000, 0, 1, 600), None, 500 + 200, "a 600 share fits; residuals 500 and 200 are below it"),
        (Demand(1000, 0, 1, 200), None, 0, "a 200 share fits every GPU with anything free"),
    ],
)
def test_node_fragmentation_by_category(demand: Demand, types: frozenset[int] | None, expected: int, why: str) -> None:
    """One shape of weight 1: F_n is the idle milli-GPU that shape cannot use."""
    assert node_fragmentation(one_node(NODE), 0, [Shape(demand, 1.0, types)]) == expected, why


def test_node_fragmentation_weights_shapes_by_popularity() -> None:
    """Half the requests are 300 shares (200 unusable), a quarter whole GPUs (700), a quarter CPU-only (2700)."""
    shapes = [
        Shape(Demand(1000, 0, 1, 300), 0.5),
        Shape(Demand(1000, 0, 1, WHOLE), 0.25),
        Shape(Demand(1000, 0, 0, 0), 0.25),
    ]
    assert node_fragmentation(one_node(NODE), 0, shapes) == pytest.approx(0.5 * 200 + 0.25 * 700 + 0.25 * 2700)


def test_full_and_cpu_only_nodes_have_no_fragmentation() -> None:
    """No idle GPU, nothing to fragment: a node with every GPU taken, and a node without GPUs."""
    shapes = [Shape(Demand(0, 0, 0, 0), 0.5), Shape(Demand(0, 0, 1, 500), 0.5)]
    assert node_fragmentation(one_node([0, 0]), 0, shapes) == 0
    cpu_only = Shares([8000], [1024], [0])
    assert node_fragmentation(cpu_only, 0, shapes) == 0


# The authors' typical pods of frag_test.go (TestingGenerateGetTypicalPods): (milli-CPU,
# milli-GPU, GPUs, GPU type or "" for any, percentage). Their weights sum to 0.9465, not 1;
# F_n is linear in them, so the values below hold as the authors assert them.
AUTHORS_PODS = [
    (6000, 465, 1, "", 9.33), (8000, 440, 1, "2080", 9.15), (8000, 475, 1, "T4", 8.76),
    (8000, 440, 1, "P100", 8.72), (2000, 465, 1, "", 8.68), (12000, 900, 1, "", 8.65),
    (4000, 900, 1, "", 8.43), (16000, 678, 1, "T4", 8.36), (8000, 500, 1, "", 8.29),
    (6000, 511, 1, "", 8.11), (14000, 1000, 2, "2080", 0.54), (4000, 1000, 1, "2080", 0.43),
    (32000, 1000, 2, "T4", 0.43), (16000, 1000, 1, "V100M16", 0.40), (64000, 1000, 2, "", 0.40),
    (10000, 1000, 2, "", 0.40), (11400, 1000, 1, "T4", 0.36), (16000, 1000, 1, "T4", 0.36),
    (4000, 1000, 2, "", 0.36), (14000, 1000, 2, "V100M16", 0.36), (8000, 1000, 4, "", 0.36),
    (16000, 1000, 2, "", 0.32), (2000, 1000, 1, "T4", 0.32), (6000, 1000, 1, "", 0.32),
    (4000, 1000, 1, "", 0.32), (5000, 1000, 1, "", 0.32), (32000, 1000, 4, "V100M16", 0.32),
    (32000, 1000, 2, "", 0.32), (24000, 1000, 8, "2080", 0.32), (40000, 1000, 4, "", 0.29),
    (32000, 1000, 8, "", 0.29), (32000, 1000, 1, "T4", 0.29), (16000, 1000, 1, "", 0.25),
    (7000, 1000, 1, "V100M16", 0.25), (24000, 1000, 1, "T4", 0.25),
]  # fmt: skip
TYPES = ["1080", "2080", "T4", "P100", "V100M16"]


def authors_shapes() -> list[Shape]:
    """The authors' typical pods as shapes; a named GPU type becomes the set of that one type index."""
    return [
        Shape(Demand(cpu, 0, gpus, milli), pct / 100, frozenset({TYPES.index(t)}) if t else None)
        for cpu, milli, gpus, t, pct in AUTHORS_PODS
    ]


@pytest.mark.parametrize(
    ("residuals", "expected"),
    [([200, 1000, 1000, 500], 2566.62), ([1000] * 4, 3802.40), ([1000] * 8, 7604.80)],
)
def test_authors_frag_test_values_on_1080_nodes(residuals: list[int], expected: float) -> None:
    """frag_test.go TestNodeGpuShareFragAmountScore: 1080 nodes with 1 core free against the authors' pods."""
    shares = Shares([64000], [1024], [len(residuals)], [TYPES.index("1080")], TYPES)
    for i, r in enumerate(residuals):
        if r < WHOLE:
            shares.allocate(0, Demand(0, 0, 1, WHOLE - r), [i])
    shares.allocate(0, Demand(63000, 0, 0, 0), [])
    assert node_fragmentation(shares, 0, authors_shapes()) == pytest.approx(expected, abs=0.01)


def test_authors_lack_cpu_value() -> None:
    """frag_test.go: one pod (6 cores, 465 milli, 9.33 %) on 1 core free: lacks CPU, 9.33 % of 2700 idle."""
    shares = one_node([200, 1000, 1000, 500], cpu_free=1000)
    shape = Shape(Demand(6000, 0, 1, 465), 9.33 / 100)
    assert node_fragmentation(shares, 0, [shape]) == pytest.approx(0.0933 * 2700)


# frag_test.go TestingGenerateGetTypicalPodsWithNonGpu: (milli-CPU, milli-GPU, GPUs, percentage).
AUTHORS_PODS_WITH_CPU_ONLY = [
    (15700, 1000, 1, 28.69), (11900, 1000, 1, 18.93), (11400, 1000, 1, 12.27), (1000, 0, 0, 7.36),
    (18710, 1000, 1, 4.85), (8200, 1000, 1, 3.79), (16400, 1000, 1, 3.31), (9810, 1000, 1, 1.97),
    (15200, 1000, 1, 1.87), (11200, 1000, 1, 1.81), (14200, 1000, 1, 1.76), (12000, 0, 0, 1.65),
    (14900, 1000, 1, 1.39), (60200, 1000, 4, 1.23), (64200, 1000, 8, 1.07), (32200, 1000, 4, 1.01),
    (17400, 1000, 2, 0.91), (30200, 1000, 2, 0.69), (16000, 1000, 1, 0.64), (15000, 1000, 1, 0.59),
    (64000, 1000, 8, 0.53), (15000, 0, 0, 0.53), (11910, 1000, 1, 0.53), (120200, 1000, 8, 0.48),
    (11300, 1000, 1, 0.37), (30000, 1000, 2, 0.32), (9800, 1000, 1, 0.32), (8000, 1000, 1, 0.32),
    (2000, 1000, 1, 0.27), (2000, 80, 1, 0.27), (1000, 1000, 1, 0.27),
]  # fmt: skip


@pytest.mark.parametrize(
    ("cpu_free", "free_gpus", "expected"),
    [(64000, 8, 887.20), (32000, 4, 554.4), (0, 4, 4000)],
)
def test_authors_values_with_cpu_only_pods(cpu_free: int, free_gpus: int, expected: float) -> None:
    """frag_test.go TestNodeGpuShareFragAmountWithNonGpu: an 8-GPU P100 node empty, halved, and without CPU."""
    shapes = [Shape(Demand(cpu, 0, gpus, milli), pct / 100) for cpu, milli, gpus, pct in AUTHORS_PODS_WITH_CPU_ONLY]
    shares = one_node([WHOLE] * free_gpus + [0] * (8 - free_gpus), cpu_free=cpu_free)
    assert node_fragmentation(shares, 0, shapes) == pytest.approx(expected, abs=0.01)


def test_delta_is_the_change_of_fragmentation_and_leaves_shares_alone() -> None:
    """A 300 share on the 500 GPU leaves 200 (unusable by 300 shares): F goes from 200 to 400, +200."""
    shares = one_node(NODE)
    shapes = [Shape(Demand(1000, 0, 1, 300), 1.0)]
    tracker = FragmentationTracker(shares, shapes)
    before = shares.state(0)
    assert tracker.delta(0, Demand(1000, 0, 1, 300), [2]) == 400 - 200
    assert tracker.delta(0, Demand(1000, 0, 1, 200), [3]) == 0 - 200  # the 200 GPU filled exactly
    assert shares.state(0) == before


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from([0, 1, 2, 250, 500, 750, WHOLE]), st.booleans())))
def test_tracker_total_is_the_sum_of_nodes_after_any_changes(ops: list[tuple[int, int, bool]]) -> None:
    """Allocate (and sometimes release at once the last) shares and whole GPUs on three nodes: total stays the sum."""
    shares = Shares([16000, 16000, 8000], [4096, 4096, 2048], [4, 2, 0], [0, 1, -1], ["a", "b"])
    shapes = [
        Shape(Demand(2000, 512, 1, 250), 0.4),
        Shape(Demand(4000, 1024, 1, WHOLE), 0.3, frozenset({0})),
        Shape(Demand(1000, 0, 0, 0), 0.1),
        Shape(Demand(8000, 0, 2, WHOLE), 0.2),
    ]
    tracker = FragmentationTracker(shares, shapes)
    held: list[tuple[int, Demand, tuple[int, ...]]] = []
    for node, milli, release in ops:
        gpus = 1 if milli else 0
        if milli == 2:
            gpus, milli = 2, WHOLE
        demand = Demand(1000, 256, gpus, milli if gpus else 0)
        options = shares.gpu_options(node, demand)
        if release and held:
            n, d, g = held.pop()
            shares.release(n, d, g)
            tracker.update(n)
        elif shares.fits(node, demand) and options:
            expected = tracker.delta(node, demand, options[-1])
            before = node_fragmentation(shares, node, shapes)
            shares.allocate(node, demand, options[-1])
            tracker.update(node)
            held.append((node, demand, options[-1]))
            assert node_fragmentation(shares, node, shapes) - before == pytest.approx(expected)
        assert tracker.total == pytest.approx(sum(node_fragmentation(shares, n, shapes) for n in range(3)), abs=1e-6)


def test_typical_shapes_counts_ranks_and_cuts_at_popularity() -> None:
    """Requests 5 x A, 3 x B, 2 x C (A, B, C distinct): at 75 % popularity A and B are kept, weights 5/8 and 3/8."""
    a, b, c = Demand(1000, 100, 1, 500), Demand(2000, 0, 1, WHOLE), Demand(1000, 0, 0, 0)
    shapes = typical_shapes([a] * 5 + [c] * 2 + [b] * 3, popularity=0.75, with_memory=True)
    assert shapes == [Shape(a, 5 / 8), Shape(b, 3 / 8)]
    every = typical_shapes([a] * 5 + [c] * 2 + [b] * 3, with_memory=True)
    assert [s.weight for s in every] == [0.5, 0.3, 0.2]
    assert sum(s.weight for s in every) == pytest.approx(1)


def test_typical_shapes_drops_memory_and_cpu_only_as_the_authors_can() -> None:
    """Without memory two requests differing only in memory are one shape; CPU-only requests can be left out."""
    shapes = typical_shapes([Demand(1000, 100, 1, 500), Demand(1000, 900, 1, 500), Demand(1000, 0, 0, 0)])
    assert shapes == [Shape(Demand(1000, 0, 1, 500), 2 / 3), Shape(Demand(1000, 0, 0, 0), 1 / 3)]
    gpu_only = typical_shapes([Demand(1000, 0, 1, 500), Demand(1000, 0, 0, 0)], include_cpu_only=False)
    assert gpu_only == [Shape(Demand(1000, 0, 1, 500), 1.0)]


def test_typical_shapes_ties_put_the_larger_request_first_and_keep_gpu_types() -> None:
    """Equal counts rank by the authors' reversed order: more CPU first; allowed GPU types make shapes distinct."""
    small, big = Demand(1000, 0, 1, 500), Demand(4000, 0, 1, 500)
    t1 = frozenset({1})
    shapes = typical_shapes([small, big, (small, t1), (small, t1)])
    assert shapes == [Shape(small, 0.5, t1), Shape(big, 0.25), Shape(small, 0.25)]
    with pytest.raises(ValueError, match="popularity"):
        typical_shapes([small], popularity=0)
