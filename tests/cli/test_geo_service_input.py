"""A service's `sites`, `requests.origin`, geo load balancer and `service_time`: bad input is one message, exit 2."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcsim.cli import main
from dcsim.scenario.load import scenario_from_data

GOOD: dict[str, Any] = {
    "name": "geo", "seed": 1, "horizon": "1h",
    "datacenter": {
        "sites": [{"name": n, "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}} for n in ("a", "b", "c")],
        "wan": [{"between": ["a", "b"], "bandwidth": "100Gbps", "latency": "45ms"}],
    },
    "services": [{
        "name": "s", "replicas": {"min": 1, "max": 2}, "sites": ["a", "b"],
        "requests": {"arrival": {"process": "poisson", "rate": "5/s"}, "origin": {"a": 0.7, "b": 0.3}},
        "service_time": {"dist": "lognormal", "median": "120ms", "sigma": 0.5},
        "load_balancer": {"policy": "geo_latency", "spill_over": True},
    }],
}  # fmt: skip


def service(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value is None:
            del data["services"][0][key]
        else:
            data["services"][0][key] = value
    return data


def test_service_time_is_the_time_service_model() -> None:
    """`service_time: D` and `service_model: {time: D}` are the same scenario."""
    short = scenario_from_data(service())
    long = scenario_from_data(service(service_time=None, service_model={"time": GOOD["services"][0]["service_time"]}))
    assert short.services[0].service_model == long.services[0].service_model
    assert short.model_dump() == long.model_dump()  # the resolved scenario writes service_model only


@pytest.mark.parametrize(
    ("data", "where", "words"),
    [
        (service(service_model={"time": "1s"}), "services.0", "give `service_time` (a run time per request) or "
         "`service_model`, not both"),
        (service(service_time=None), "services.0", "give `service_model`"),
        (service(sites=["a", "x"]), "services.0.sites", "no site named 'x'; the sites are a, b, c"),
        (service(sites=["a", "a"]), "services.0", "`sites` names a twice"),
        (service(requests={"arrival": {"process": "poisson", "rate": "5/s"}, "origin": {"a": 0.5, "b": 0.3}}),
         "services.0.requests.origin", "add up to 0.8; make them add up to 1"),
        (service(requests={"arrival": {"process": "poisson", "rate": "5/s"}, "origin": {"a": 0.5, "y": 0.5}}),
         "services.0.requests.origin", "no site named 'y'"),
        (service(requests={"arrival": {"process": "poisson", "rate": "5/s"}, "origin": {"c": 1.0}}),
         "services.0.requests.origin", "site 'c' reaches none of the service's sites over the WAN"),
        (service(sites=None), "services.0", "`requests.origin` needs `sites`"),
        (service(sites=None, requests={"arrival": {"process": "poisson", "rate": "5/s"}}),
         "services.0.load_balancer", "geo_latency chooses among a service's sites, but 's' has no `sites`"),
        (service(load_balancer={"policy": "geo_latency", "local": "nearest"}), "services.0.load_balancer",
         "local: no load balancer 'nearest'"),
        (service(load_balancer={"policy": "cheapest_within_slo", "spill_over": True}), "services.0.load_balancer",
         "spill_over: unknown parameter"),
        (service(replicas={"min": 1, "max": 2, "per_site": {"c": {"min": 2}}}), "services.0",
         "replicas.per_site names 'c', which is not among `sites` (a, b)"),
        (service(replicas={"min": 1, "max": 2, "per_site": {"b": {"min": 3}}}), "services.0.replicas",
         "per_site.b: `min` (3) is above `max` (2)"),
        (service(sites=None, requests={"arrival": {"process": "poisson", "rate": "5/s"}}, load_balancer="random",
                 replicas={"min": 1, "max": 2, "per_site": {"a": {"min": 2}}}), "services.0",
         "replicas.per_site needs `sites`"),
    ],
)  # fmt: skip
def test_bad_geo_input_is_one_message_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: dict[str, Any], where: str, words: str
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    text = out + err
    assert code == 2, text
    assert "1 problem" in text and f"{where}: " in text and words in text, text
    assert "Traceback" not in text and "pydantic" not in text.lower()


def test_a_site_without_gpus_a_replica_can_use_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = service(gpus_per_replica=16)
    data["datacenter"]["sites"][0]["nodes_per_rack"] = 2
    data["datacenter"]["sites"][0]["node"] = {"gpus": 16}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert "services.0.sites: site 'b' has no GPUs a replica of 's' can use" in capsys.readouterr().err


def test_a_sites_own_counts_fill_in_from_the_services() -> None:
    """min 2, max 16, initial 4; eu: {min: 6}: eu starts with 6 (its minimum lifts the start), max 16; us as given."""
    sc = scenario_from_data(service(replicas={"min": 2, "max": 16, "initial": 4, "per_site": {"b": {"min": 6}}}))
    svc = sc.services[0]
    assert (svc.replicas_at("b").min, svc.replicas_at("b").max, svc.replicas_at("b").start) == (6, 16, 6)
    assert (svc.replicas_at("a").min, svc.replicas_at("a").max, svc.replicas_at("a").start) == (2, 16, 4)
