"""Link and switch failures (issue 12 point 5): capacity lost and found, hosts cut off, counts against theory.

Leaf-spine numbering (dcsim/infra/fabrics.py): physical links are node n's NIC n, then rack r's
uplink to spine s at N + r x spines + s; switches are leaf r, then spine s at R + s. A ring of 2
nodes carries V = 8e9 bits per hop per step of 1 GB, 1 s compute: t0 = 1 + 8e9 / B0.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dcsim.core.errors import ScenarioError
from dcsim.experiment.run import summary_json

from conftest import build, run_data, tiny_data

H = 3600.0
RING_1GB = {"pattern": "ring_allreduce", "bytes_per_step": "1GB", "compute_per_step": "1s"}


def leaf_spine(racks: int, nodes_per_rack: int, spines: int = 2, **net: Any) -> dict[str, Any]:
    return {"sites": [{"name": "dc1", "racks": racks, "nodes_per_rack": nodes_per_rack, "node": {"gpus": 8},
                       "network": {"nic": "100Gbps", "spines": spines, **net}}]}  # fmt: skip


def ring(count: int = 1, gpus: int = 16, duration: str = "4h") -> dict[str, Any]:
    return {"jobs": [{"name": "train", "arrival": {"process": "batch", "at": 0}, "count": count, "gpus": gpus,
                      "duration": {"dist": "fixed", "value": duration}, "communication": RING_1GB}]}  # fmt: skip


def trace(tmp_path: Path, *rows: str) -> dict[str, Any]:
    path = tmp_path / "failures.csv"
    path.write_text("time,component,duration\n" + "".join(f"{row}\n" for row in rows))
    return {"trace": {"path": str(path)}}


def slowed(work: float, down: float, fast: float, slow: float) -> float:
    """End of a run of ``work`` s at a step of ``fast`` s, of which ``down`` s ran at a step of ``slow`` s."""
    return work + down * (1.0 - fast / slow)


def test_a_spine_down_halves_a_saturated_uplink_bundle_and_the_job_recovers_at_repair(tmp_path: Path) -> None:
    """2 racks of 1 node, 1:1, 2 spines: each rack's uplinks are 100 Gb/s, the ring's NIC speed.

    Spine 1 (switch 3) is down from 0.5 h for 1 h: the bundles carry 50 Gb/s, a step takes
    1 + 8e9/5e10 = 1.16 s against 1.08 s; the 4 h run ends 3600 x (1 - 1.08/1.16) s late.
    """
    r = run_data(
        tiny_data(datacenter=leaf_spine(2, 1), workload=ring(), failures=trace(tmp_path, "1800,switch:3,3600"))
    )
    assert r.jobs["finish_s"].tolist() == pytest.approx([slowed(4 * H, H, 1.08, 1.16)], rel=1e-12)
    faults = r.summary["faults"]
    assert faults["failures"] == 1 and faults["job_interruptions"] == 0  # a slowdown, not an interruption
    assert faults["by_component"]["switch"]["failures"] == 1 and faults["downtime_gpu_hours"] == 0.0


def test_one_uplink_down_takes_one_spines_share_of_one_rack(tmp_path: Path) -> None:
    """4 spines, 1:1: rack 0's uplink to spine 2 (link 2 + 0 x 4 + 2 = 4) down: rack 0's bundle is 75 Gb/s.

    A step then takes 1 + 8e9/7.5e10 s. The other rack keeps 100 Gb/s, but the ring crosses both.
    """
    r = run_data(tiny_data(datacenter=leaf_spine(2, 1, spines=4), workload=ring(),
                           failures=trace(tmp_path, "0,link:4,7200")))  # fmt: skip
    assert r.jobs["finish_s"].tolist() == pytest.approx([slowed(4 * H, 2 * H, 1.08, 1 + 8e9 / 75e9)], rel=1e-12)


def test_a_spine_and_an_uplink_to_it_down_together_count_once(tmp_path: Path) -> None:
    """Spine 1 down 0-2 h and rack 0's uplink to it (link 2 + 1 = 3) 0-1 h: that uplink is out once, 50 Gb/s.

    From 1 h the link is back but its spine is still down: still 50 Gb/s until 2 h.
    """
    r = run_data(tiny_data(datacenter=leaf_spine(2, 1), workload=ring(),
                           failures=trace(tmp_path, "0,switch:3,7200", "0,link:3,3600")))  # fmt: skip
    assert r.jobs["finish_s"].tolist() == pytest.approx([slowed(4 * H, 2 * H, 1.08, 1.16)], rel=1e-12)


def test_all_spines_down_stalls_the_job_and_repair_restarts_it(tmp_path: Path) -> None:
    """Both spines down from 1 h for 1 h: the ring's rate is 0 (no end pending), then back to 1: 4 h + 1 h."""
    r = run_data(tiny_data(datacenter=leaf_spine(2, 1), workload=ring(),
                           failures=trace(tmp_path, "3600,switch:2,3600", "3600,switch:3,3600")))  # fmt: skip
    assert r.jobs["finish_s"].tolist() == pytest.approx([5 * H], rel=1e-12)


def test_a_job_starting_on_a_cut_fabric_waits_at_rate_0(tmp_path: Path) -> None:
    """Both spines down from 0 to 1 h: the job starts at 0 at rate 0 and runs its 4 h from 1 h."""
    r = run_data(tiny_data(datacenter=leaf_spine(2, 1), workload=ring(),
                           failures=trace(tmp_path, "0,switch:2,3600", "0,switch:3,3600")))  # fmt: skip
    assert r.jobs["start_s"].tolist() == [0.0] and r.jobs["finish_s"].tolist() == pytest.approx([5 * H], rel=1e-12)


def test_a_leaf_takes_its_rack_down_and_a_nic_link_its_node(tmp_path: Path) -> None:
    """2 racks of 2 nodes. Leaf 1 (switch 1) down at 1 h: the 16-GPU job on rack 1 is interrupted, its
    16 GPUs down for 2 h; node 0's NIC (link 0) down at 1 h: the 8-GPU job on node 0 is interrupted."""
    workload = {"jobs": [
        {"name": "big", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 16,
         "duration": {"dist": "fixed", "value": "4h"}, "communication": RING_1GB},
        {"name": "one", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 8,
         "duration": {"dist": "fixed", "value": "4h"}},
    ]}  # fmt: skip
    policies = {"scheduler": "fifo",
                "placement": {"name": "plugins.toy_policies:OnNodes", "params": {"nodes": [[2, 3], [0]]}}}  # fmt: skip
    r = run_data(tiny_data(datacenter=leaf_spine(2, 2), workload=workload, policies=policies, horizon="1d",
                           failures=trace(tmp_path, "3600,switch:1,7200", "3600,link:0,1800")))  # fmt: skip
    faults = r.summary["faults"]
    assert faults["failures"] == 2 and faults["job_interruptions"] == 2
    assert faults["by_component"]["switch"]["interruptions"] == 1 == faults["by_component"]["link"]["interruptions"]
    assert faults["downtime_gpu_hours"] == pytest.approx(16 * 2 + 8 * 0.5, rel=1e-12)
    assert faults["lost_gpu_hours"] == pytest.approx(16 * 1 + 8 * 1, rel=1e-12)  # no checkpoints: 1 h of work each


def test_fat_tree_an_aggregation_switch_down_halves_its_pods_edge_and_core_bundles(tmp_path: Path) -> None:
    """k=4, 8 racks of 2 nodes, edges 2:1: rack 0's edge bundle 2 x 100 / 2 = 100 Gb/s; pod core bundles 200.

    Aggregation 0 of pod 0 (switch 8 + 0) down for 1 h: rack 0's edge bundle loses 1 of its 2 uplinks
    (50 Gb/s), pod 0's core bundle 2 of its 4 links (100). The ring 0 <-> 4 (pods 0 and 1) is bound
    by the edge at 50 Gb/s: 1.16 s a step against 1.08.
    """
    net = {"topology": "fat_tree", "k": 4, "nic": "100Gbps", "oversubscription": 2}
    dc = {"sites": [{"name": "dc1", "racks": 8, "nodes_per_rack": 2, "node": {"gpus": 8}, "network": net}]}
    policies = {"scheduler": "fifo",
                "placement": {"name": "plugins.toy_policies:OnNodes", "params": {"nodes": [[0, 4]]}}}  # fmt: skip
    r = run_data(tiny_data(datacenter=dc, workload=ring(), policies=policies,
                           failures=trace(tmp_path, "0,switch:8,3600")))  # fmt: skip
    assert r.jobs["finish_s"].tolist() == pytest.approx([slowed(4 * H, H, 1.08, 1.16)], rel=1e-12)


def test_rail_a_gpus_nic_down_takes_that_gpu_down(tmp_path: Path) -> None:
    """Rail-optimized: GPU 3 of node 0 (link 3) down: the job holding node 0's GPUs is interrupted, 1 GPU down."""
    dc = {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8},
                     "network": {"topology": "rail_optimized", "nic": "100Gbps"}}]}  # fmt: skip
    r = run_data(tiny_data(datacenter=dc, workload=ring(), horizon="1d", failures=trace(tmp_path, "3600,link:3,3600")))
    faults = r.summary["faults"]
    assert faults["job_interruptions"] == 1 and faults["downtime_gpu_hours"] == pytest.approx(1.0, rel=1e-12)


def test_a_spine_in_maintenance_slows_and_a_leaf_in_maintenance_drains_its_rack() -> None:
    """Maintenance of spine 1 (switch 3) from 0 for 1 h: as its failure. Of leaf 0: its rack's job ends first."""
    spine = [{"scope": "switch", "units": [3], "start": 0, "duration": "1h", "drain": "evict"}]
    r = run_data(tiny_data(datacenter=leaf_spine(2, 1), workload=ring(), maintenance=spine))
    assert r.jobs["finish_s"].tolist() == pytest.approx([slowed(4 * H, H, 1.08, 1.16)], rel=1e-12)
    assert r.summary["faults"]["planned_interruptions"] == 0  # no node behind a spine: nothing to drain
    leaf = [{"scope": "switch", "units": [0], "start": 0, "duration": "1h"}]
    r = run_data(tiny_data(datacenter=leaf_spine(2, 1), workload=ring(2, duration="1h"), maintenance=leaf))
    # Job 0 starts at once (the rack drains while it runs); job 1 waits for node 0: 1 h + 1 h window + 1 h.
    assert sorted(r.jobs["finish_s"].tolist()) == pytest.approx([H, 3 * H], rel=1e-12)


@pytest.mark.parametrize(("kind", "units"), [("link", 8 + 2 * 3), ("switch", 2 + 3)])
def test_failure_counts_match_units_x_horizon_over_mtbf_plus_repair(kind: str, units: int) -> None:
    """2 racks of 4 nodes, 3 spines: links 8 NICs + 2 x 3 uplinks = 14; switches 2 leaves + 3 spines = 5.

    Each unit is an alternating renewal process (up for Exp(MTBF), down 30 min with 100 technicians):
    over T its failures number about units x T / (MTBF + 30 min), a Poisson count whose standard
    deviation is about its square root; over 8 seeds the mean is within 4 standard errors.
    """
    mtbf, horizon = 50.0, 100 * 24.0  # hours
    data = tiny_data(datacenter=leaf_spine(2, 4, spines=3), horizon=f"{horizon}h",
                     failures={kind: {"mtbf": f"{mtbf}h"}},
                     repair={"technicians": 100, "time": {"dist": "fixed", "value": "30m"}})  # fmt: skip
    got = np.array([run_data(data, seed).summary["faults"]["failures"] for seed in range(8)], dtype=float)
    expected = units * horizon / (mtbf + 0.5)
    assert abs(got.mean() - expected) < 4 * math.sqrt(expected / len(got))


def test_random_fabric_failures_under_traffic_are_deterministic() -> None:
    """Jobs on a 2:1 fabric under link and switch failures: the same seed gives the same bytes, another seed others."""
    data = tiny_data(datacenter=leaf_spine(4, 2, oversubscription=2), horizon="3d",
                     workload={"jobs": [{"name": "t", "arrival": {"process": "poisson", "rate": "12/d"},
                                         "gpus": {"values": [16, 24, 32]}, "communication": RING_1GB,
                                         "duration": {"dist": "exponential", "mean": "3h"}}]},
                     failures={"link": {"mtbf": "100h"}, "switch": {"mtbf": "200h"}},
                     repair={"technicians": 2, "time": {"dist": "fixed", "value": "2h"}})  # fmt: skip
    runs = [summary_json(run_data(data, seed).summary) for seed in (3, 3, 4)]
    assert runs[0] == runs[1] != runs[2]
    faults = json.loads(runs[0])["faults"]
    assert faults["failures"] > 5 and set(faults["by_component"]) == {"link", "switch"}


def test_fabric_failure_models_take_no_gpu_type_and_trace_ids_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"failures: link.per_type: a fabric's links and switches have no GPU type"):
        build(tiny_data(failures={"link": {"per_type": {"H100": {"mtbf": "1h"}}}}))
    # The tiny data center: 4 nodes, 2 racks, 1 spine: links 0..5, switches 0..2.
    with pytest.raises(ScenarioError, match=r"line 2: no switch 3: switches are 0..2"):
        build(tiny_data(failures=trace(tmp_path, "0,switch:3,60")))


def test_young_daly_counts_the_failures_that_cut_a_job_off() -> None:
    """A node's only NIC link interrupts its jobs as the node's own failure does, and a leaf as its rack's: link
    MTBF M gives a job the Young/Daly interval of node MTBF M, switch MTBF M that of rack MTBF M. A spine or an
    uplink interrupts nothing and adds nothing (the spines' failures change no interval)."""
    workload = {"jobs": [{"name": "t", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 16,
                          "duration": {"dist": "fixed", "value": "2h"},
                          "checkpoint": {"interval": "young_daly", "write": "1m", "restart": "1m"}}]}  # fmt: skip

    def interval(failures: dict[str, Any]) -> float:
        data = tiny_data(datacenter=leaf_spine(2, 2, spines=4), workload=workload, failures=failures, horizon="1d")
        return float(run_data(data).jobs["checkpoint_interval_s"].iloc[0])

    assert interval({"link": {"mtbf": "500h"}}) == interval({"node": {"mtbf": "500h"}})
    assert interval({"switch": {"mtbf": "700h"}}) == interval({"rack": {"mtbf": "700h"}})
    both = interval({"link": {"mtbf": "500h"}, "switch": {"mtbf": "700h"}})
    assert both == interval({"node": {"mtbf": "500h"}, "rack": {"mtbf": "700h"}}) < interval({"link": {"mtbf": "500h"}})
