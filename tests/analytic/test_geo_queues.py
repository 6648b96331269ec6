"""Geo routing with latency on two M/M/1 sites vs the closed form (issue 14, point 8).

A service runs one replica (concurrency 1, exponential service of mean 1/mu = 1 s) in each
of sites a and b; a third site c has users but no replica. The WAN is a - b (45 ms one way)
and b - c (200 ms), so c's users are 400 ms (round trip) from b and 490 ms from a. Requests
are Poisson at lambda = 1/s, their origins drawn independently: a 0.4, b 0.3, c 0.3.

``geo_latency`` without spill-over sends each request to the nearest site with a ready
replica: a's users to a, b's and c's to b. Poisson splitting makes two independent M/M/1
queues, a at lambda_a = 0.4 and b at lambda_b = 0.6, whose mean sojourn is 1 / (mu - lambda)
(Kleinrock, *Queueing Systems* vol. 1, section 3.2); a request served away from its origin
adds the round trip. So the mean latency by origin is a: 1/0.6 s, b: 1/0.4 s and c: 1/0.4 s
+ 400 ms. Each replication's per-origin mean over the requests arriving after a warm-up is one
sample; the check is ``|mean - theory| <= 4 se`` over the replications.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_serving_queues import assert_matches, se

from dcsim.engine import DataCenterModel
from dcsim.metrics.records import REQUEST_STATUS

from conftest import build

pytestmark = pytest.mark.statistical

MU = 1.0
LAMBDA = 1.0
ORIGIN = {"a": 0.4, "b": 0.3, "c": 0.3}
RTT_C_B = 2 * 0.200
WARMUP_S = 500.0
"""Dropped: about 25 relaxation times 1/(mu (1 - sqrt(rho))^2) of the busier queue (rho 0.6)."""
TAIL_S = 300.0
"""Requests arriving in the last TAIL_S are dropped, so that every one kept has ended."""
HORIZON_S = 40_000.0
REPLICATIONS = 10


def scenario(seed: int) -> dict:
    site = {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}
    return {
        "name": "geo-mm1", "seed": seed, "horizon": f"{HORIZON_S:g}s",
        "datacenter": {
            "sites": [{"name": n, **site} for n in ("a", "b", "c")],
            "wan": [{"between": ["a", "b"], "bandwidth": "100Gbps", "latency": "45ms"},
                    {"between": ["b", "c"], "bandwidth": "100Gbps", "latency": "200ms"}],
        },
        "services": [{
            "name": "s", "gpus_per_replica": 8, "replicas": {"min": 1, "max": 1}, "sites": ["a", "b"],
            "requests": {"arrival": {"process": "poisson", "rate": f"{LAMBDA:g}/s"}, "origin": ORIGIN},
            "service_time": {"dist": "exponential", "mean": f"{1 / MU:g}s"},
            "load_balancer": "geo_latency",
        }],
    }  # fmt: skip


def per_origin_means(seed: int) -> tuple[dict[int, float], dict[int, float]]:
    """Mean latency of each origin's requests after the warm-up, and each origin's share of them."""
    model = DataCenterModel(build(scenario(seed)))
    model.run()
    c = model.collector.columns("request_done")
    keep = (c["arrival"] >= WARMUP_S) & (c["arrival"] < HORIZON_S - TAIL_S)
    assert (c["status"][keep] == REQUEST_STATUS.index("completed")).all()
    latency = (c["end"] - c["arrival"])[keep]
    origin, site = c["origin"][keep], c["site"][keep]
    assert ((origin == 0) == (site == 0)).all()  # a's users at a, b's and c's at b: no spill-over
    means = {o: float(latency[origin == o].mean()) for o in range(3)}
    shares = {o: float((origin == o).mean()) for o in range(3)}
    return means, shares


def test_geo_latency_on_two_mm1_sites_gives_each_origin_its_queue_plus_its_round_trip() -> None:
    runs = [per_origin_means(seed) for seed in range(REPLICATIONS)]
    lam_a, lam_b = LAMBDA * ORIGIN["a"], LAMBDA * (ORIGIN["b"] + ORIGIN["c"])
    theory = {0: 1 / (MU - lam_a), 1: 1 / (MU - lam_b), 2: 1 / (MU - lam_b) + RTT_C_B}
    for o, expected in theory.items():
        assert_matches(np.array([m[o] for m, _ in runs]), expected, 0.05)
    for o, share in enumerate(ORIGIN.values()):
        assert_matches(np.array([s[o] for _, s in runs]), share, 0.02)
    # c's users share b's queue: their mean is b's plus the round trip, to well within a standard error of the gap
    gap = np.array([m[2] - m[1] for m, _ in runs])
    assert abs(gap.mean() - RTT_C_B) <= 4 * se(gap)
