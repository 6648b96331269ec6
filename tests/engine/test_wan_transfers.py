"""WAN data transfers (issue 14 points 2 and 8): flows on the WAN's links, shared max-min fairly.

The model (dcsim/engine/wan.py): a transfer of S bytes from one site to another is one flow over
the links of its least-latency path, at most its slowest link's bandwidth; transfers crossing a
link share it max-min fairly; the last byte arrives one path latency after it is sent. Every
expected time below is computed by hand from the case, none is read off a run.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import simpy

from dcsim.engine.wan import WanTransfers
from dcsim.infra.wan import Wan
from dcsim.metrics.collector import Collector

TB = 1e12
GBPS = 1e9


def links(*spec: tuple[str, str, float, float]) -> list[SimpleNamespace]:
    """WAN links as ``datacenter.wan`` gives them: (a, b, bandwidth in bit/s, latency in s)."""
    return [SimpleNamespace(between=(a, b), bandwidth=bw, latency=lat) for a, b, bw, lat in spec]


def engine(sites: list[str], wan_links: list[SimpleNamespace]) -> tuple[simpy.Environment, WanTransfers, Collector]:
    env = simpy.Environment()
    col = Collector()
    return env, WanTransfers(Wan(sites, wan_links), col, env), col


def start(env: simpy.Environment, wan: WanTransfers, at: float, key: int, nbytes: float, src: int, dst: int,
          done: dict[int, float]) -> None:  # fmt: skip
    """Start a transfer at time ``at``; note the time its last byte arrives in ``done``."""

    def go(_event: object) -> None:
        wan.transfer(key, nbytes, src, dst, lambda: done.__setitem__(key, env.now), key)

    env.timeout(at).callbacks.append(go)


def test_one_transfer_on_an_idle_link_takes_size_over_bandwidth_plus_latency() -> None:
    env, wan, col = engine(["a", "b"], links(("a", "b", 100 * GBPS, 0.045)))
    done: dict[int, float] = {}
    start(env, wan, 0.0, 1, 2 * TB, 0, 1, done)
    env.run()
    assert done[1] == pytest.approx(8 * 2 * TB / (100 * GBPS) + 0.045, rel=1e-12)  # 160 s + 45 ms
    rec = next(col.records("wan_transfer"))
    assert (rec.src, rec.dst, rec.completed) == (0, 1, True)
    assert rec.end == pytest.approx(done[1], rel=1e-12)
    assert rec.bytes == pytest.approx(2 * TB) and rec.idle_s == pytest.approx(160.045)


def test_two_transfers_started_together_share_the_link_max_min() -> None:
    env, wan, _ = engine(["a", "b"], links(("a", "b", 100 * GBPS, 0.045)))
    done: dict[int, float] = {}
    start(env, wan, 0.0, 1, TB, 0, 1, done)
    start(env, wan, 0.0, 2, TB, 1, 0, done)  # the other way: one capacity shared by both directions' flows
    env.run()
    # Each gets half of 100 Gb/s: 8e12 bits at 5e10 bit/s = 160 s, then the latency.
    assert done[1] == pytest.approx(2 * 8 * TB / (100 * GBPS) + 0.045, rel=1e-12)
    assert done[2] == pytest.approx(done[1], rel=1e-12)


def test_a_later_second_transfer_hand_computed() -> None:
    env, wan, _ = engine(["a", "b"], links(("a", "b", 100 * GBPS, 0.045)))
    done: dict[int, float] = {}
    start(env, wan, 0.0, 1, TB, 0, 1, done)
    start(env, wan, 20.0, 2, TB, 0, 1, done)
    env.run()
    # Alone, the first moves 8e12 bits in 80 s. By 20 s it has moved 2e12 bits; 6e12 are left, at
    # 5e10 bit/s each from then on: its last byte leaves at 20 + 120 = 140 s. The second has moved
    # 6e12 bits by then and moves its last 2e12 alone at 1e11 bit/s: 20 s more, until 160 s.
    assert done[1] == pytest.approx(140.0 + 0.045, rel=1e-12)
    assert done[2] == pytest.approx(160.0 + 0.045, rel=1e-12)


def test_a_multi_hop_path_is_bottlenecked_by_its_slowest_link() -> None:
    env, wan, col = engine(["a", "b", "c"], links(("a", "b", 100 * GBPS, 0.010), ("b", "c", 40 * GBPS, 0.020)))
    done: dict[int, float] = {}
    start(env, wan, 0.0, 1, TB, 0, 2, done)  # a -> b -> c: 40 Gb/s, 30 ms
    start(env, wan, 0.0, 2, TB, 0, 1, done)  # a -> b, beside it on a-b
    env.run()
    # Max-min: a->c is held at 40 Gb/s by b-c, so a->b gets the 60 Gb/s a-b has left.
    assert done[1] == pytest.approx(8 * TB / (40 * GBPS) + 0.030, rel=1e-12)  # 200.03 s
    assert done[2] == pytest.approx(8 * TB / (60 * GBPS) + 0.010, rel=1e-12)  # 133.34 s
    wan.close(env.now)
    usage = {r.link: r for r in col.records("wan_usage")}
    assert usage[0].bits == pytest.approx(16 * TB, rel=1e-9) and usage[1].bits == pytest.approx(8 * TB, rel=1e-9)


def test_a_transfer_cut_by_the_end_records_what_it_moved() -> None:
    env, wan, col = engine(["a", "b"], links(("a", "b", 100 * GBPS, 0.045)))
    start(env, wan, 0.0, 1, TB, 0, 1, {})
    env.run(until=40.0)
    wan.close(40.0)
    rec = next(col.records("wan_transfer"))
    assert not rec.completed and rec.end == 40.0
    assert rec.bytes == pytest.approx(TB / 2, rel=1e-12)  # 40 s of 80


def test_no_path_is_refused() -> None:
    _, wan, _ = engine(["a", "b", "c"], links(("a", "b", 100 * GBPS, 0.01)))
    with pytest.raises(ValueError, match="no WAN path"):
        wan.transfer(1, TB, 0, 2, lambda: None)
