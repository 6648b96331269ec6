"""A custom fabric from a file (issue 12 point 1): shortest paths, ECMP over equal-cost ones, rerouting.

Hosts are the vertices ``node:<id>``; a hop's traffic is split evenly over all shortest paths,
so a link on one of p paths carries 1/p of it. A ring of 2 nodes carries V = 8e9 bits per hop
per step of 1 GB (1 s compute); the duration is measured at the NIC's speed alone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import yaml

from dcsim.core.errors import ScenarioError
from dcsim.scenario.load import scenario_from_data

from conftest import run_data, tiny_data

H = 3600.0
RING_1GB = {"pattern": "ring_allreduce", "bytes_per_step": "1GB", "compute_per_step": "1s"}
#: node:0 - s0 = a = s1 - node:1 and s0 = b = s1: two equal-cost paths of 100 Gb/s links; 200 Gb/s NICs.
TWO_PATHS = """# a b capacity
node:0 s0 200Gbps
node:1 s1 200Gbps
s0 a 100Gbps
s0 b 100Gbps
a s1 100Gbps
b s1 100Gbps
"""


def scenario(tmp_path: Path, graph: str, name: str = "fabric.txt", **top: Any) -> dict[str, Any]:
    """One rack of 2 nodes on the custom fabric in ``graph``; one 16-GPU ring of 1 h on both nodes."""
    (tmp_path / name).write_text(graph)
    site = {"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8},
            "network": {"topology": "custom", "path": name}}  # fmt: skip
    workload = {"jobs": [{"name": "ring", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 16,
                          "duration": {"dist": "fixed", "value": "1h"}, "communication": RING_1GB}]}  # fmt: skip
    return tiny_data(datacenter={"sites": [site]}, workload=workload, **top)


def test_one_job_over_two_equal_cost_paths_loses_nothing(tmp_path: Path) -> None:
    """Each path carries half of each hop: r/2 <= 100 Gb/s, so the NIC's 200 Gb/s binds, as alone: 1 h."""
    r = run_data(scenario(tmp_path, TWO_PATHS), base_dir=str(tmp_path))
    assert r.jobs["finish_s"].tolist() == [H]
    net = r.summary["network"]
    # Shares: 4 NIC links at 200 of 200, the 8 path links (each way) at 100 of 100. Traffic: a
    # step of t0 = 1 + 8e9/2e11 = 1.04 s moves 8e9 bits per hop, 8e9/1.04 b/s on each NIC link
    # (0.04/1.04 of 200 Gb/s) and half of it on each path link (0.04/1.04 of 100 Gb/s).
    assert net["mean_nic_utilization"] == pytest.approx(0.04 / 1.04, rel=1e-12)
    assert net["mean_uplink_utilization"] == pytest.approx(0.04 / 1.04, rel=1e-12)


def test_with_one_path_the_job_gets_its_capacity(tmp_path: Path) -> None:
    """Without b: 100 Gb/s per hop; t0 = 1 + 8e9/2e11 = 1.04 s, a step 1 + 8e9/1e11 = 1.08 s."""
    one = "\n".join(line for line in TWO_PATHS.splitlines() if " b " not in line and not line.startswith("b "))
    r = run_data(scenario(tmp_path, one), base_dir=str(tmp_path))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H * 1.08 / 1.04], rel=1e-12)


def test_only_the_shortest_paths_carry_traffic(tmp_path: Path) -> None:
    """A longer detour s0 - c - d - s1 (3 switch hops) is not a shortest path: as with one path of 100 Gb/s."""
    detour = TWO_PATHS.replace("s0 b 100Gbps\n", "").replace("b s1 100Gbps\n", "")
    detour += "s0 c 100Gbps\nc d 100Gbps\nd s1 100Gbps\n"
    r = run_data(scenario(tmp_path, detour), base_dir=str(tmp_path))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H * 1.08 / 1.04], rel=1e-12)


def test_graphml_gives_the_same_fabric(tmp_path: Path) -> None:
    """The same graph in GraphML (capacities as numbers of bits/s) runs as the edge list does."""
    graph = nx.Graph()
    for line in TWO_PATHS.splitlines()[1:]:
        a, b, cap = line.split()
        graph.add_edge(a, b, capacity=float(cap.removesuffix("Gbps")) * 1e9)
    nx.write_graphml(graph, tmp_path / "fabric.graphml")
    data = scenario(tmp_path, TWO_PATHS)
    data["datacenter"]["sites"][0]["network"]["path"] = "fabric.graphml"
    assert run_data(data, base_dir=str(tmp_path)).jobs["finish_s"].tolist() == [H]


def test_a_failed_path_link_reroutes_and_its_repair_restores(tmp_path: Path) -> None:
    """Edge s0-a (physical link 2, in file order) down from 0 to 1 h: all traffic on b, 100 Gb/s per hop.

    For 1 h a step takes 1.08 s against 1.04: the 1 h job ends 3600 x (1 - 1.04/1.08) s late.
    """
    (tmp_path / "f.csv").write_text("time,component,duration\n0,link:2,3600\n")
    data = scenario(tmp_path, TWO_PATHS, failures={"trace": {"path": "f.csv"}})
    r = run_data(data, base_dir=str(tmp_path))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H + H * (1 - 1.04 / 1.08)], rel=1e-12)
    assert r.summary["faults"]["job_interruptions"] == 0


def test_a_switch_that_cuts_every_path_stalls_the_job_and_its_host_link_takes_the_node_down(tmp_path: Path) -> None:
    """Switches are numbered in the file's order: s0, s1, a, b. a and b down (0 to 1 h): no path, rate 0,
    then the whole hour: 2 h. The failure of node:0's only link (edge 0) interrupts the job."""
    (tmp_path / "f.csv").write_text("time,component,duration\n0,switch:2,3600\n0,switch:3,3600\n")
    data = scenario(tmp_path, TWO_PATHS, failures={"trace": {"path": "f.csv"}})
    assert run_data(data, base_dir=str(tmp_path)).jobs["finish_s"].tolist() == pytest.approx([2 * H], rel=1e-12)
    (tmp_path / "f.csv").write_text("time,component,duration\n600,link:0,600\n")
    r = run_data(data, base_dir=str(tmp_path))
    assert r.summary["faults"]["job_interruptions"] == 1
    assert r.summary["faults"]["downtime_gpu_hours"] == pytest.approx(8 * 600 / H, rel=1e-12)


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        (TWO_PATHS.replace("node:1 s1 200Gbps\n", ""), r"fabric.txt: no vertex for node:1: the site has 2 nodes, "
         r"node:0 .. node:1"),
        (TWO_PATHS + "node:7 s1 1Gbps\n", r"node:7 is not a node of the site"),
        (TWO_PATHS + "s0 s1 fast\n", r"fabric.txt line 8: capacity 'fast' is not a bandwidth such as 400Gbps"),
        (TWO_PATHS + "a s0 1Gbps\n", r"fabric.txt line 8: a-s0 is given twice"),
        (TWO_PATHS + "s0 s1\n", r"fabric.txt line 8: expected `a b capacity`"),
        (TWO_PATHS + "x y 1Gbps\n", r"the switches form 2 separate parts"),
    ],
)  # fmt: skip
def test_a_bad_fabric_file_is_one_clear_message(tmp_path: Path, graph: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=r"datacenter.sites.0.network.path: .*" + message):
        scenario_from_data(scenario(tmp_path, graph), str(tmp_path))


def test_a_missing_fabric_file_is_reported_with_the_other_errors(tmp_path: Path) -> None:
    data = scenario(tmp_path, TWO_PATHS)
    data["datacenter"]["sites"][0]["network"]["path"] = "nowhere.txt"
    data["horizon"] = "-1h"
    with pytest.raises(ScenarioError) as caught:
        scenario_from_data(data, str(tmp_path))
    text = str(caught.value)
    assert "nowhere.txt: file not found" in text and "datacenter.sites.0.network.path" in text and "horizon" in text


def test_the_command_line_exits_2_on_a_fabric_file_that_misses_a_node(tmp_path: Path) -> None:
    """`dcsim run` names the file and what is wrong, with no traceback, and writes nothing."""
    data = scenario(tmp_path, TWO_PATHS.replace("node:1 s1 200Gbps\n", ""))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    out = subprocess.run([sys.executable, "-m", "dcsim", "run", "s.yaml", "--out", "res"], cwd=tmp_path,
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{tmp_path / 'fabric.txt'}: no vertex for node:1" in out.stderr and not (tmp_path / "res").exists()


def test_a_job_writing_a_checkpoint_stays_quiet_when_a_failure_reroutes_the_site(tmp_path: Path) -> None:
    """The ring alone (rate 1: a step of 1.04 s moves 8e9 bits per hop) checkpoints 600 GB after
    30 min of work to a 1 GB/s storage: it writes from 1800 s to 2400 s, then computes its last
    1800 s: it ends at 4200 s. Path a fails at 1900 s and is repaired at 2000 s, during the write:
    the site's flows are routed again, and the writing job's must stay quiet, so each NIC link
    carries the job's traffic only while it computes: 8e9/1.04 b/s x 3600 s."""
    (tmp_path / "f.csv").write_text("time,component,duration\n1900,link:2,100\n")
    data = scenario(tmp_path, TWO_PATHS, failures={"trace": {"path": "f.csv"}})
    data["datacenter"]["sites"][0]["storage"] = {"bandwidth": "1GB/s"}
    data["workload"]["jobs"][0]["checkpoint"] = {"interval": "30m", "size": "600GB"}
    r = run_data(data, base_dir=str(tmp_path))
    assert r.jobs["finish_s"].tolist() == pytest.approx([4200.0], rel=1e-12)
    nic = r.links[r.links["tier"] == "nic"]
    assert nic["bits"].tolist() == pytest.approx([8e9 / 1.04 * 3600] * 4, rel=1e-9)
