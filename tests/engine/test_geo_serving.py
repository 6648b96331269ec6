"""Services in several sites (issue 14): hand-computed routing, round trips and failover.

Every number is worked out from the case in its docstring. Sites ``a`` and ``b`` (and ``c``
where a test says so) have nodes of 8 GPUs and a replica takes a whole node; the WAN link
a-b has a one-way latency of 45 ms, so a round trip between them is 90 ms. Requests come from
a request trace (exact times); an origin share of 1 makes every request's origin certain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dcsim.engine import DataCenterModel
from dcsim.experiment.run import simulate
from dcsim.metrics.records import REPLICA_CHANGES, REQUEST_STATUS

from conftest import build

RTT = 0.09


def trace(tmp_path: Path, times: list[float]) -> str:
    path = tmp_path / f"requests_{len(list(tmp_path.iterdir()))}.csv"
    path.write_text("time\n" + "".join(f"{t:g}\n" for t in times))
    return path.name


def scenario(
    tmp_path: Path, times: list[float], sites: list[str], origin: dict[str, float], nodes: dict[str, int] | None = None,
    horizon: str = "1h", **fields: Any,
) -> dict[str, Any]:  # fmt: skip
    nodes = nodes or {"a": 1, "b": 1}
    svc = {
        "name": "s", "gpus_per_replica": 8, "replicas": {"min": 1, "max": 1}, "sites": sites,
        "requests": {"arrival": {"process": "trace", "path": trace(tmp_path, times)}, "origin": origin},
        "service_time": 1.0,
    }  # fmt: skip
    svc.update(fields)
    return {
        "name": "geo", "seed": 1, "horizon": horizon,
        "datacenter": {
            "sites": [{"name": n, "racks": 1, "nodes_per_rack": k, "node": {"gpus": 8}} for n, k in nodes.items()],
            "wan": [{"between": ["a", "b"], "bandwidth": "100Gbps", "latency": "45ms"}],
        },
        "services": [svc],
    }  # fmt: skip


def run(data: dict[str, Any], tmp_path: Path) -> DataCenterModel:
    model = DataCenterModel(build(data, str(tmp_path)))
    model.run()
    return model


def requests(model: DataCenterModel) -> list[tuple[float, float, str, int, int]]:
    """(arrival, latency, status, site, origin) of every request, by arrival."""
    c = model.collector.columns("request_done")
    rows = zip(c["arrival"].tolist(), (c["end"] - c["arrival"]).tolist(), c["status"].tolist(), c["site"].tolist(),
               c["origin"].tolist(), strict=True)  # fmt: skip
    return sorted((a, lat, REQUEST_STATUS[s], site, o) for a, lat, s, site, o in rows)


def test_a_request_served_away_from_its_users_adds_the_round_trip(tmp_path: Path) -> None:
    """The service runs in a only; its users are in b: each 1 s request takes 1 s + 90 ms, served at a (0)."""
    model = run(scenario(tmp_path, [0.0, 5.0], ["a"], {"b": 1.0}), tmp_path)
    assert [(a, pytest.approx(lat), site, o) for a, lat, _, site, o in requests(model)] == [
        (0.0, 1.0 + RTT, 0, 1), (5.0, 1.0 + RTT, 0, 1),
    ]  # fmt: skip


def test_geo_latency_serves_users_at_their_own_site(tmp_path: Path) -> None:
    """Users in a and b (one request each, origin drawn); each is served at its own site in 1 s, no round trip."""
    model = run(scenario(tmp_path, [float(t) for t in range(20)], ["a", "b"], {"a": 0.5, "b": 0.5}), tmp_path)
    got = requests(model)
    assert {o for *_, o in got} == {0, 1}  # both origins were drawn
    assert all(site == o and lat == pytest.approx(1.0) for _, lat, _, site, o in got)


@pytest.mark.parametrize(("spill", "expected"), [(False, [(1.0, 0), (1.75, 0)]), (True, [(1.0, 0), (1.0 + RTT, 1)])])
def test_spill_over_sends_the_overflow_to_the_next_site(tmp_path: Path, spill: bool, expected: list) -> None:
    """Users in a; requests at 0 and 0.25 of 1 s each. Without spill-over the second waits at a for the first
    (ends at 2: latency 1.75); with it, a is saturated (its one slot busy), so it goes to b: 1 s + 90 ms."""
    data = scenario(tmp_path, [0.0, 0.25], ["a", "b"], {"a": 1.0},
                    load_balancer={"policy": "geo_latency", "spill_over": spill})  # fmt: skip
    got = requests(run(data, tmp_path))
    assert [(pytest.approx(lat), site) for _, lat, _, site, _ in got] == expected


@pytest.mark.parametrize(("slo", "sites"), [("2s", [1, 1]), ("1050ms", [1, 0]), ("50ms", [0, 1])])
def test_cheapest_within_slo_goes_to_the_cheap_site_while_rtt_and_wait_keep_the_slo(
    tmp_path: Path, slo: str, sites: list[int]
) -> None:
    """Users in a; electricity at a 0.30 $/kWh, at b 0.05 (same PUE); requests at 0 and 0.25 of 1 s (the mean).

    A site's reach is its RTT plus its expected wait (0 while its replica is free, else one
    completion: 1 s). SLO 2 s: the first goes to b (0.09 s), the second too (b busy: 1.09 s).
    SLO 1.05 s: the first to b; the second finds b at 1.09 s and a at 0: to a. SLO 50 ms: the
    first to a (b's RTT alone breaks it); for the second none qualifies (a busy: 1 s; b 0.09 s),
    so the quickest to reach serves it: b.
    """
    data = scenario(tmp_path, [0.0, 0.25], ["a", "b"], {"a": 1.0}, load_balancer="cheapest_within_slo",
                    slo={"latency_p95": slo})  # fmt: skip
    data["datacenter"]["sites"][0]["costs"] = {"electricity_usd_per_kwh": 0.30}
    data["datacenter"]["sites"][1]["costs"] = {"electricity_usd_per_kwh": 0.05}
    assert [site for *_, site, _ in requests(run(data, tmp_path))] == sites


def test_a_service_with_sites_and_no_origin_has_its_users_at_its_first_site(tmp_path: Path) -> None:
    """sites [b, a], no origin: every request comes from b and is served there (geo_latency by default)."""
    data = scenario(tmp_path, [0.0, 5.0], ["b", "a"], {"b": 1.0})
    del data["services"][0]["requests"]["origin"]
    assert [(site, o) for *_, site, o in requests(run(data, tmp_path))] == [(1, 1), (1, 1)]


def failure_trace(tmp_path: Path, rows: list[tuple[float, str, float]]) -> str:
    path = tmp_path / "failures.csv"
    path.write_text("time,component,duration\n" + "".join(f"{t},{c},{d}\n" for t, c, d in rows))
    return path.name


@pytest.mark.parametrize("loss", ["fail", "retry"])
def test_a_site_failure_fails_over_to_the_other_site(tmp_path: Path, loss: str) -> None:
    """Users in a; site a fails at 10 s for 100 s. Requests at 9.5, 20, 80 and 150 s of 1 s each.

    The one at 9.5 is in service at a when it fails: with `fail` it fails at 10 (lost); with
    `retry` it goes to b and ends at 11 + 90 ms (latency 1.59 s). The ones at 20 and 80 go to b
    (1.09 s); a's replica is lost, and its replacement waits for a's GPUs: placed at 110 s, on a's
    node; the one at 150 is served at a again (1 s). SLO p95 1.05 s: from the failure on, the
    1-minute windows [10, 70) and [70, 130) break it (1.09 s), [130, 190) keeps it: 120 s to recover.
    """
    data = scenario(tmp_path, [9.5, 20.0, 80.0, 150.0], ["a", "b"], {"a": 1.0}, on_replica_loss=loss,
                    slo={"latency_p95": "1050ms"})  # fmt: skip
    data["failures"] = {"trace": {"path": failure_trace(tmp_path, [(10.0, "site:a", 100.0)])}}
    model = run(data, tmp_path)
    first = ("failed", 0.5, 0) if loss == "fail" else ("completed", 1.5 + RTT, 1)
    assert [(s, pytest.approx(lat), site) for _, lat, s, site, _ in requests(model)] == [
        first, ("completed", pytest.approx(1.0 + RTT), 1), ("completed", pytest.approx(1.0 + RTT), 1),
        ("completed", pytest.approx(1.0), 0),
    ]  # fmt: skip
    c = model.collector.columns("replica_change")
    a_node = 0  # site a's one node (site b's is node 1)
    changes = [(t, REPLICA_CHANGES[k], n) for t, k, n in zip(c["time"].tolist(), c["change"].tolist(),
                                                             c["node"].tolist(), strict=True)]  # fmt: skip
    assert [(t, n) for t, k, n in changes if k == "lost"] == [(10.0, a_node)]
    assert [(t, n) for t, k, n in changes if k == "placed" and t > 0] == [(110.0, a_node)]
    summary = simulate(build(data, str(tmp_path))).summary["services"]
    one = summary["by_service"]["s"]
    assert one["requests_lost"] == (1 if loss == "fail" else 0) == summary["requests_lost"]
    assert one["time_to_recover_slo_s"] == 120.0
    assert one["by_site"]["b"]["requests"] == (3 if loss == "retry" else 2)
    assert one["by_origin"]["a"]["requests"] == 4


def test_after_a_site_failure_the_other_sites_autoscaler_scales_up_with_cold_starts(tmp_path: Path) -> None:
    """Site a (2 nodes) serves all users (Poisson 1.8/s, 1 s exponential); b (4 nodes) idles at its minimum of 2.

    At 1805 s (between two syncs) a fails for good: its replicas are lost and never placed again (no GPUs up at
    a); b takes every request, and its HPA (concurrency, target 1 per replica) asks for more:
    each new replica of b is placed on b's nodes and serves 30 s (its cold start) later.
    """
    data = scenario(tmp_path, [], ["a", "b"], {"a": 1.0}, nodes={"a": 2, "b": 4}, horizon="1h",
                    replicas={"min": 2, "max": 4}, cold_start="30s",
                    autoscaler={"policy": "hpa", "metric": "concurrency", "target": 1.0},
                    service_time={"dist": "exponential", "mean": "1s"})  # fmt: skip
    data["services"][0]["requests"]["arrival"] = {"process": "poisson", "rate": "1.8/s"}
    data["failures"] = {"trace": {"path": failure_trace(tmp_path, [(1805.0, "site:a", 1e9)])}}
    model = run(data, tmp_path)
    c = model.collector.columns("replica_change")
    rows = list(zip(c["time"].tolist(), [REPLICA_CHANGES[k] for k in c["change"].tolist()], c["replica"].tolist(),
                    c["node"].tolist(), strict=True))  # fmt: skip
    b_nodes = {2, 3, 4, 5}
    assert sorted((t, n) for t, k, _, n in rows if k == "lost") == [(1805.0, 0), (1805.0, 1)]
    placed = {r: (t, n) for t, k, r, n in rows if k == "placed"}
    ready = {r: t for t, k, r, _ in rows if k == "ready"}
    late = [r for r, (t, _) in placed.items() if t > 1805.0]
    assert late, "b's autoscaler asked for no replica after the failure"
    assert all(placed[r][1] in b_nodes for r in late)
    assert all(ready[r] == pytest.approx(placed[r][0] + 30.0) for r in late if r in ready)
    assert not [r for r, (t, _) in placed.items() if 0 < t <= 1805.0]  # b idled at its minimum before


USERS_SERVICE = """
name: search-assist
gpus_per_replica: 1
replicas: {min: 2, max: 16, initial: 4}
sites: [us-east, eu-north]
requests:
  arrival: {process: diurnal, rate: 20/s, amplitude: 0.5, peak: 15h}
  origin: {us-east: 0.7, eu-north: 0.3}        # where the users are
service_time: {dist: lognormal, median: 120ms, sigma: 0.5}
load_balancer: {policy: geo_latency, spill_over: true}
autoscaler: {policy: hpa, metric: utilization, target: 0.6}
slo: {latency_p95: 400ms}
"""
"""The service of the users' two-region scenario (spec/geo.yaml), as they wrote it."""


def test_the_users_two_region_service_runs_as_written() -> None:
    """Its replicas start 4 per site; users in both regions; each site serves mostly its own (spill-over aside)."""
    import yaml

    data = {
        "name": "two-regions", "seed": 9, "horizon": "2h",
        "datacenter": {
            "sites": [{"name": "us-east", "racks": 2, "nodes_per_rack": 4, "node": {"gpus": 8, "gpu_type": "H100"}},
                      {"name": "eu-north", "racks": 2, "nodes_per_rack": 4, "node": {"gpus": 8, "gpu_type": "H100"}}],
            "wan": [{"between": ["us-east", "eu-north"], "bandwidth": "100Gbps", "latency": "45ms"}],
        },
        "services": [yaml.safe_load(USERS_SERVICE)],
    }  # fmt: skip
    result = simulate(build(data))
    svc = result.summary["services"]["by_service"]["search-assist"]
    assert set(svc["by_site"]) == {"us-east", "eu-north"} == set(svc["by_origin"])
    assert svc["by_site"]["us-east"]["requests"] + svc["by_site"]["eu-north"]["requests"] == svc["requests"]
    assert svc["by_origin"]["us-east"]["requests"] > 2 * svc["by_origin"]["eu-north"]["requests"]  # 0.7 vs 0.3
    assert svc["requests_lost"] == svc["rejected"] + svc["failed"]
    assert svc["time_to_recover_slo_s"] is None  # no site failed


def test_a_geo_balancer_plug_in_chooses_the_site_and_a_wrong_answer_is_named(tmp_path: Path) -> None:
    """A plug-in sends a's users to b (listed last): 1 s + 90 ms each; one naming a site out of range is refused."""
    data = scenario(tmp_path, [0.0, 5.0], ["a", "b"], {"a": 1.0}, load_balancer="plugins.toy_policies:FarthestSite")
    assert [(pytest.approx(lat), site) for _, lat, _, site, _ in requests(run(data, tmp_path))] == [
        (1.0 + RTT, 1), (1.0 + RTT, 1),
    ]  # fmt: skip
    from dcsim.core.errors import PlacementError

    data["services"][0]["load_balancer"] = "plugins.toy_policies:SiteOutOfRange"
    with pytest.raises(PlacementError, match="returned 2: give the position of a site with a ready replica"):
        run(data, tmp_path)


def test_a_site_may_have_replica_counts_of_its_own(tmp_path: Path) -> None:
    """replicas {min 1, max 1} with per_site b: {min 3, max 3}: a starts with 1 replica, b with 3 (its min)."""
    data = scenario(tmp_path, [0.0], ["a", "b"], {"a": 1.0}, nodes={"a": 2, "b": 4},
                    replicas={"min": 1, "max": 1, "per_site": {"b": {"min": 3, "max": 3}}})  # fmt: skip
    model = run(data, tmp_path)
    c = model.collector.columns("replica_change")
    placed = c["node"][c["change"] == REPLICA_CHANGES.index("placed")].tolist()
    a_nodes = {0, 1}
    assert sum(n in a_nodes for n in placed) == 1 and sum(n not in a_nodes for n in placed) == 3


def test_timed_events_reach_a_service_with_sites(tmp_path: Path) -> None:
    """Requests at 0 and 0.25 from a. An event turns spill-over on at 0.1 s, so the second goes to b (as in the
    spill-over case); an event failing site a from 0.1 s sends it to b too, and the first (in service) fails."""
    base = scenario(tmp_path, [0.0, 0.25], ["a", "b"], {"a": 1.0}, on_replica_loss="fail", load_balancer="geo_latency",
                    autoscaler={"policy": "hpa", "metric": "concurrency", "target": 1.0})  # fmt: skip
    spill = {**base, "events": [{"at": "100ms", "set": {"services.0.load_balancer.spill_over": True}},
                                {"at": "100ms", "set": {"services.0.autoscaler.target": 2.0}}]}  # fmt: skip
    assert [(s, site) for _, _, s, site, _ in requests(run(spill, tmp_path))] == [("completed", 0), ("completed", 1)]
    fail = {**base, "events": [{"at": "100ms", "fail": {"site": "a"}, "for": "1h"}]}
    assert [(s, site) for _, _, s, site, _ in requests(run(fail, tmp_path))] == [("failed", 0), ("completed", 1)]


def test_time_to_first_token_includes_the_round_trip(tmp_path: Path) -> None:
    """A token model served at a for users in b: 3 tokens at 100 ms a step (no prefill): the first token at
    0.1 s + 90 ms, the last at 0.3 s + 90 ms."""
    data = scenario(
        tmp_path, [0.0], ["a"], {"b": 1.0}, service_model={"decode": {"per_token": "100ms", "max_batch": 4}}
    )
    data["services"][0]["requests"]["output_tokens"] = 3
    del data["services"][0]["service_time"]
    model = run(data, tmp_path)
    c = model.collector.columns("request_done")
    assert c["first_token"].tolist() == pytest.approx([0.1 + RTT])
    assert c["end"].tolist() == pytest.approx([0.3 + RTT])
