"""Fields that are recorded but not yet modelled say so, in the run's notes and in `dcsim validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dcsim.cli import main

from conftest import run_data, tiny_data

NOT_MODELLED = "recorded but not yet modelled"


def with_network(**network: Any) -> dict[str, Any]:
    """The tiny scenario with a network block on its site."""
    data = tiny_data()
    data["datacenter"]["sites"][0]["network"] = network
    return data


NO_TALK = "no job class has a `communication` profile"
RING = {"pattern": "ring_allreduce", "bytes_per_step": "1GB", "compute_per_step": "1s"}


def test_no_network_block_no_note() -> None:
    """A site without a network block sets nothing that goes unused: no note."""
    notes = run_data(tiny_data()).summary["notes"]
    assert not any(NOT_MODELLED in n or NO_TALK in n for n in notes)


def test_network_fields_without_a_communicating_class_are_named_and_change_no_result() -> None:
    """The note names exactly the network fields set, and what it says holds: the metrics are the same."""
    plain = run_data(tiny_data()).summary
    fabric = run_data(with_network(nic="25Gbps", oversubscription=8)).summary
    notes = [n for n in fabric.pop("notes") if NO_TALK in n]
    assert len(notes) == 1
    assert notes[0].startswith("network.nic, network.oversubscription are set, but no job class has")
    assert "network.topology" not in notes[0] and "network.spines" not in notes[0]
    plain.pop("notes")
    assert fabric == plain


def test_with_a_communicating_class_only_the_spines_go_unused_without_fabric_failures() -> None:
    """A class with a profile makes nic and oversubscription count: no note for them; spines count only when
    links or switches fail (a spine's share of each bundle), and the note says so until they do."""
    data = with_network(nic="25Gbps", oversubscription=8)
    data["workload"]["jobs"][0]["communication"] = RING
    assert not any(NO_TALK in n or NOT_MODELLED in n for n in run_data(data).summary["notes"])
    data["datacenter"]["sites"][0]["network"]["spines"] = 4
    notes = [n for n in run_data(data).summary["notes"] if "network.spines" in n]
    assert len(notes) == 1 and notes[0].startswith("network.spines changes no result without link or switch")
    data["failures"] = {"switch": {"mtbf": "1000h"}}
    assert not any("network.spines" in n for n in run_data(data).summary["notes"])


def test_fabric_failures_without_a_communicating_class_are_noted() -> None:
    """Without traffic a failed spine slows no job: the note says only host-cutting failures count."""
    data = tiny_data(failures={"switch": {"mtbf": "1000h"}})
    assert sum("failures name links or switches" in n for n in run_data(data).summary["notes"]) == 1
    data["workload"]["jobs"][0]["communication"] = RING
    assert not any("failures name links or switches" in n for n in run_data(data).summary["notes"])


def test_mixed_gpu_types_get_no_not_modelled_note_now_that_speed_is_modelled() -> None:
    """Two GPU types run at their own speeds: no note says otherwise, and the A100 job runs longer."""
    mixed = tiny_data()
    site = mixed["datacenter"]["sites"][0]
    del site["racks"], site["nodes_per_rack"], site["node"]
    site["rack_groups"] = [
        {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8, "gpu_type": "H100"}},
        {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8, "gpu_type": "A100"}},
    ]
    mixed["workload"]["jobs"][0].update({"arrival": {"process": "batch", "at": 0}, "count": 2, "gpus": 8})
    result = run_data(mixed)
    assert not any("not yet modelled" in n or "speed" in n for n in result.summary["notes"])
    runs = (result.jobs["finish_s"] - result.jobs["start_s"]).tolist()
    assert runs[1] > runs[0]


@pytest.mark.parametrize(("network", "noted"), [(None, False), ({"nic": "200Gbps"}, True)])
def test_validate_prints_the_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], network: dict[str, Any] | None, noted: bool
) -> None:
    """`dcsim validate` prints the note when the file sets a network field no class uses, and not otherwise."""
    data = tiny_data() if network is None else with_network(**network)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert (f"note: network.nic is set, but {NO_TALK}" in out) is noted


def test_a_price_for_a_gpu_type_no_node_has_is_named_and_changes_no_result() -> None:
    """H200 priced on an all-H100 fleet: one note naming it; the numbers are those without that price."""
    data = tiny_data()
    gpu_type = data["datacenter"]["sites"][0]["node"].get("gpu_type", "H100")
    data["datacenter"]["sites"][0]["node"]["gpu_type"] = gpu_type
    data["costs"] = {"gpu_hour_usd": {gpu_type: 3.0, "*": 2.0}}
    plain = run_data(data).summary
    data["costs"]["gpu_hour_usd"]["H2OO"] = 9.0  # a typo: letter O for zero
    priced = run_data(data).summary
    notes = [n for n in priced.pop("notes") if "H2OO" in n]
    assert notes == [f"costs.gpu_hour_usd prices H2OO, which no node of the fleet has: it changes no result "
                     f"(the fleet has {gpu_type}; check the spelling)"]  # fmt: skip
    plain.pop("notes")
    assert priced == plain
    data["datacenter"]["sites"][0]["costs"] = {"gpu_hour_usd": {"A100": 1.0}}
    site_notes = [n for n in run_data(data).summary["notes"] if n.startswith("datacenter.sites.0.costs")]
    assert len(site_notes) == 1 and "prices A100, which no node of the site has" in site_notes[0]


def test_network_weight_and_network_aware_without_a_fabric_say_what_they_do() -> None:
    """lp's network_weight changes no result with no communicating class; network_aware places as rack_pack."""
    data = tiny_data(policies={"scheduler": {"name": "lp", "params": {"network_weight": 5}}, "placement": "rack_pack"})
    weighted = run_data(data).summary
    data["policies"]["scheduler"]["params"] = {}
    plain = run_data(data).summary
    notes = [n for n in weighted.pop("notes") if "network_weight" in n]
    assert len(notes) == 1 and NO_TALK in notes[0]
    assert not any("network_weight" in n for n in plain.pop("notes"))
    assert weighted == plain  # as the note says: no result changes
    data["policies"]["placement"] = "network_aware"
    aware = run_data(data).summary
    assert [n for n in aware["notes"] if "network_aware" in n] == [
        "placement network_aware has no fabric to read (no job class has a `communication` profile): it places "
        "for locality alone, as rack_pack does"
    ]
    data["workload"]["jobs"][0]["communication"] = RING
    assert not any("network" in n for n in run_data(data).summary["notes"])


def test_spill_queue_without_spill_over_is_noted() -> None:
    from dcsim.scenario.load import scenario_from_data
    from dcsim.scenario.unmodelled import service_notes

    data = {
        "name": "geo", "seed": 1, "horizon": "1h",
        "datacenter": {"sites": [{"name": n, "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}} for n in "ab"]},
        "services": [{"name": "s", "replicas": {"min": 1, "max": 1}, "sites": ["a", "b"], "service_time": "1s",
                      "requests": {"arrival": {"process": "poisson", "rate": "1/s"}},
                      "load_balancer": {"policy": "geo_latency", "spill_queue": 2}}],
    }  # fmt: skip
    assert any("spill_queue is read only with spill_over: true" in n for n in service_notes(scenario_from_data(data)))
    data["services"][0]["load_balancer"]["spill_over"] = True
    assert not service_notes(scenario_from_data(data))


def test_a_wan_nothing_uses_is_noted_and_a_router_makes_it_used() -> None:
    """A WAN between two sites with no router and no service in several sites changes no result: a note says so."""
    data = tiny_data()
    second = {**data["datacenter"]["sites"][0], "name": "dc2"}
    data["datacenter"]["sites"].append(second)
    data["datacenter"]["wan"] = [{"between": ["dc1", "dc2"], "bandwidth": "10Gbps", "latency": "20ms"}]
    unused = "datacenter.wan is set, but no site router"
    assert any(unused in n for n in run_data(data).summary["notes"])
    data["policies"] = {**data.get("policies", {}), "site_router": "least_loaded"}
    assert not any(unused in n for n in run_data(data).summary["notes"])
