"""Alibaba openb: the node and pod list readers and the importer, on fixtures written here in the trace's format.

An optional test reads the real trace from ``../shared/traces/alibaba-gpu-v2023`` when it is
there (CI has it) and checks the facts its README states.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dcsim.core.errors import TraceError
from dcsim.engine.fill import build_shares
from dcsim.infra.shares import Demand
from dcsim.scenario.load import load_scenario
from dcsim.workload.importers.openb import import_openb
from dcsim.workload.openb import read_nodes, read_pods

from conftest import SHARED

NODES = """sn,cpu_milli,memory_mib,gpu,model
openb-node-0000,64000,262144,2,P100
openb-node-0001,96000,393216,8,G2
openb-node-0002,64000,262144,2,P100
openb-node-0003,32000,65536,0,
openb-node-0004,32000,65536,0,
"""
PODS = """name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0
openb-pod-0001,6000,12288,1,460,,LS,Running,427061,12902960,427061
openb-pod-0002,88000,327680,8,1000,,Burstable,Succeeded,9437497,10769854,9437497
openb-pod-0003,4000,8192,0,0,,BE,Running,9437500,9437600,9437500
openb-pod-0004,16000,32768,1,1000,V100M16|V100M32,LS,Running,9967058,9968575,9967063
"""
MULTI = """name,cpu_milli,memory_mib,num_gpu,gpu_milli
openb-pod-0000,12000,16384,2,1000
openb-pod-0001,6000,12288,1,300
"""
OPENB = SHARED / "traces" / "alibaba-gpu-v2023"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_pods_become_demands_with_their_gpu_types(tmp_path: Path) -> None:
    pods = read_pods(str(write(tmp_path, "pods.csv", PODS)))
    assert pods.demands() == [
        Demand(12000, 16384, 1, 1000), Demand(6000, 12288, 1, 460), Demand(88000, 327680, 8, 1000),
        Demand(4000, 8192, 0, 0), Demand(16000, 32768, 1, 1000),
    ]  # fmt: skip
    assert pods.gpu_spec == [None, None, None, None, ("V100M16", "V100M32")]
    assert pods.gpu_total == 1000 + 460 + 8000 + 1000


def test_the_multigpu_lists_have_five_columns(tmp_path: Path) -> None:
    pods = read_pods(str(write(tmp_path, "multi.csv", MULTI)))
    assert pods.demands() == [Demand(12000, 16384, 2, 1000), Demand(6000, 12288, 1, 300)]
    assert pods.gpu_spec == [None, None]


def test_nodes_keep_their_cpu_memory_gpus_and_model(tmp_path: Path) -> None:
    nodes = read_nodes(str(write(tmp_path, "nodes.csv", NODES)))
    assert [(n.cpu, n.memory, n.gpus, n.model) for n in nodes] == [
        (64000, 262144, 2, "P100"), (96000, 393216, 8, "G2"), (64000, 262144, 2, "P100"), (32000, 65536, 0, ""),
        (32000, 65536, 0, ""),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("p,-4000,16384,1,1000,,LS,Running,0,1,0", r"line 3: column 'cpu_milli' is '-4000'"),
        ("p,4000,16384.5,1,1000,,LS,Running,0,1,0", r"line 3: column 'memory_mib' is '16384.5'"),
        ("p,4000,16384,2,500,,LS,Running,0,1,0", r"line 3: num_gpu 2 with gpu_milli 500"),
        ("p,4000,16384,0,300,,LS,Running,0,1,0", r"line 3: num_gpu 0 with gpu_milli 300"),
        ("p,4000,16384,1,1200,,LS,Running,0,1,0", r"line 3: column 'gpu_milli' is '1200'; give a whole number up to"),
        ("p,4000,16384,one,1000,,LS,Running,0,1,0", r"line 3: column 'num_gpu' is 'one'"),
    ],
)
def test_a_bad_pod_row_names_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    head, first = PODS.splitlines()[:2]
    path = write(tmp_path, "bad.csv", f"{head}\n{first}\n{row}\n")
    with pytest.raises(TraceError, match=rf"bad\.csv {message}"):
        read_pods(str(path))


def test_a_pod_list_without_a_column_says_which(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "name,cpu_milli,memory_mib,gpu_milli\np,1,1,0\n")
    with pytest.raises(TraceError, match="no column 'num_gpu'"):
        read_pods(str(path))


def test_a_gpu_node_without_a_model_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,1000,1024,2,\n")
    with pytest.raises(TraceError, match="line 2: node 'n0' has 2 GPUs but no model"):
        read_nodes(str(path))


def test_the_importer_writes_a_scenario_of_the_cluster_and_the_pods(tmp_path: Path) -> None:
    """Nodes in the list's order with their CPU and memory, the pod list beside, the report counted."""
    nodes, pods = write(tmp_path, "nodes.csv", NODES), write(tmp_path, "pods.csv", PODS)
    out = tmp_path / "study"
    report = import_openb([pods, nodes], out)  # either order: told apart by the headers
    assert (report.read, report.kept, sum(report.dropped.values())) == (10, 10, 0)
    assert [p.name for p in report.written] == ["openb.yaml", "pods.csv"]
    assert (out / "pods.csv").read_bytes() == pods.read_bytes()
    text = (out / "openb.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Which placement policy allocates the most GPUs")
    assert any("V100M16" in n for n in report.notes)  # pod 4 names types the nodes lack
    sc = load_scenario(str(out / "openb.yaml"), ["policies.placement=plugins.fill_stub:FirstFitShare"])
    shares = build_shares(sc).shares  # node ids in the list's order: runs of identical nodes, one group each
    assert list(zip(shares.cpu, shares.memory, shares.gpus, strict=True)) == [
        (64000, 262144, 2), (96000, 393216, 8), (64000, 262144, 2), (32000, 65536, 0), (32000, 65536, 0),
    ]  # fmt: skip
    assert len(sc.datacenter.sites[0].rack_groups) == 4  # the two CPU-only nodes, one after the other: one group
    assert sc.workload.fill.until == 1.3 and sc.workload.fill.trace.path == "pods.csv"
    assert sc.sweep.policies["placement"] == ["random", "dot_product", "gpu_clustering", "gpu_packing", "best_fit",
                                              "fgd"]  # fmt: skip


def test_the_importer_refuses_two_pod_lists(tmp_path: Path) -> None:
    pods = write(tmp_path, "pods.csv", PODS)
    with pytest.raises(TraceError, match="one node list and one pod list"):
        import_openb([pods, pods], tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not OPENB.is_dir(), reason="the openb trace is not beside the repo (CI has it)")
def test_the_real_openb_default_lists() -> None:
    """The README's facts: 1,213 GPU nodes with 6,212 GPUs; 8,152 pods, 3,078 sharing, 98 % of GPU capacity."""
    nodes = read_nodes(str(OPENB / "openb_node_list_gpu_node.csv"))
    pods = read_pods(str(OPENB / "openb_pod_list_default.csv"))
    assert (len(nodes), sum(n.gpus for n in nodes)) == (1213, 6212)
    assert len(pods) == 8152
    assert int(((pods.gpus == 1) & (pods.gpu_milli < 1000)).sum()) == 3078
    assert int((pods.gpus == 0).sum()) == 1088
    assert np.isclose(pods.gpu_total / 6_212_000, 0.98, atol=0.005)


def test_dcsim_import_openb_then_run_the_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The two commands of docs/howto.md on the fixture: the study imports, and runs with each pod counted."""
    from dcsim.cli import main

    nodes, pods = write(tmp_path, "nodes.csv", NODES), write(tmp_path, "pods.csv", PODS)
    assert main(["import", "openb", str(nodes), str(pods), "--out", str(tmp_path / "study")]) == 0
    assert "openb: read 10, kept 10, dropped 0" in capsys.readouterr().out
    out = tmp_path / "run"
    study = str(tmp_path / "study" / "openb.yaml")
    assert main(["run", study, "--set", "policies.placement=best_fit", "--out", str(out), "--quiet"]) == 0
    fill = json.loads((out / "summary.json").read_text(encoding="utf-8"))["fill"]
    assert fill["pods_arrived"] == fill["pods_placed"] + fill["pods_failed"]
    assert 1.3 - 8 / 12 < fill["arrived_share"] <= 1.3  # 12 GPUs: stopped within one pod (at most 8 GPUs) of 130 %


def test_import_of_a_bad_row_is_exit_2_naming_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dcsim.cli import main

    nodes = write(tmp_path, "nodes.csv", NODES)
    pods = write(tmp_path, "pods.csv", PODS.replace("openb-pod-0003,4000,8192,0,0", "openb-pod-0003,4000,8192,0,50"))
    assert main(["import", "openb", str(nodes), str(pods), "--out", str(tmp_path / "study")]) == 2
    assert "pods.csv line 5: num_gpu 0 with gpu_milli 50" in capsys.readouterr().err
    assert not (tmp_path / "study").exists()
