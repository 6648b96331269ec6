"""The WAN graph: least-latency paths and round trips, by hand."""

import math
from types import SimpleNamespace as Link

from dcsim.infra.wan import Wan


def _wan() -> Wan:
    links = [
        Link(between=("a", "b"), bandwidth=1e9, latency=0.010),
        Link(between=("b", "c"), bandwidth=1e9, latency=0.020),
        Link(between=("a", "c"), bandwidth=1e9, latency=0.050),
    ]
    return Wan(["a", "b", "c", "d"], links)


def test_the_path_of_least_latency_wins_over_the_direct_link():
    wan = _wan()
    assert wan.path("a", "c") == (0, 1) and wan.latency("a", "c") == 0.030
    assert wan.path("c", "a") == (1, 0) and wan.rtt("a", "c") == 0.060


def test_same_site_and_unconnected_sites():
    wan = _wan()
    assert wan.path("b", "b") == () and wan.rtt("b", "b") == 0.0
    assert wan.path("a", "d") is None and not wan.connected("a", "d") and math.isinf(wan.latency("a", "d"))
