"""The fill experiment: hand-computed fills, the stop rule, the authors' sampling, conservation, determinism, checks.

The placement policy here is the first-fit stub of ``tests/plugins/fill_stub.py``, so these
tests do not depend on the FGD study's policies (tests/validation holds those).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dcsim.core.errors import ScenarioError
from dcsim.engine.fill import pod_order, pod_shapes, run_fill
from dcsim.experiment.run import simulate, summary_json
from dcsim.infra.fragmentation import node_fragmentation
from dcsim.infra.shares import WHOLE

from conftest import build
from plugins.fill_stub import FirstFitShare

STUB = "plugins.fill_stub:FirstFitShare"
POD_HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time"
)


def fill_data(groups: list[dict[str, Any]], fill: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A fill scenario's raw data: one site of ``groups`` (rack groups), the first-fit stub placing."""
    data = {"name": "fill", "seed": 5, "datacenter": {"sites": [{"name": "a", "rack_groups": groups}]},
            "workload": {"fill": fill}, "policies": {"placement": STUB}}  # fmt: skip
    data.update(top)
    return data


def node(gpus: int, cpu: float = 64, memory: str = "256GB", gpu_type: str = "T4", count: int = 1) -> dict[str, Any]:
    return {"racks": 1, "nodes_per_rack": count, "node": {"gpus": gpus, "gpu_type": gpu_type, "cpu": cpu,
                                                          "memory": memory}}  # fmt: skip


def write_pods(path: Path, rows: list[tuple[int, int, int, int, str]]) -> Path:
    """A pod list in openb's format: (cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec) per pod."""
    lines = [POD_HEADER] + [
        f"openb-pod-{i:04d},{c},{m},{g},{k},{s},LS,Running,{i},{i + 100},{i}" for i, (c, m, g, k, s) in enumerate(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(data: dict[str, Any], base_dir: str = ".", seed: int | None = None) -> Any:
    return simulate(build(data, base_dir), seed)


# --------------------------------------------------------------------------- hand-computed fills
def test_halves_fill_two_gpus_exactly_and_the_rest_fail() -> None:
    """2 GPUs, pods of half a GPU, until 1.5: 6 pods arrive (3000 milli), 4 fit, 2 fail; allocation 100 %."""
    data = fill_data([node(2)], {"until": 1.5, "pods": [{"share": 1, "gpus": 1, "gpu_fraction": 0.5, "cpu": 1}]})
    s = run(data).summary
    fill = s["fill"]
    assert (fill["pods_arrived"], fill["pods_placed"], fill["pods_failed"]) == (6, 4, 2)
    assert fill["arrived_share"] == 1.5
    assert fill["allocation_rate"] == s["utilization"]["gpu_allocated"] == 1.0
    assert fill["allocation_rate_at_100"] == 1.0  # 4 pods = 100 % arrived, all placed
    assert fill["failed_gpu_share"] == 0.5
    assert fill["unallocated_gpus"] == 0
    assert s["utilization"]["cpu_allocated"] == 4 / 64
    assert fill["allocation_rate_by_arrived"]["50"] == 0.5  # 2 pods at 50 %


def test_cpu_limits_the_fill_though_gpus_are_free() -> None:
    """8 cores, pods of 4 cores and a quarter GPU: 2 fit, then CPU is out; allocation 500 / 2000 milli-GPU."""
    data = fill_data([node(2, cpu=8)], {"until": 1.0, "pods": [{"share": 1, "gpus": 1, "gpu_fraction": 0.25,
                                                                 "cpu": 4}]})  # fmt: skip
    fill = run(data).summary["fill"]
    assert fill["pods_arrived"] == 8 and fill["pods_placed"] == 2
    assert fill["allocation_rate"] == 0.25


def test_memory_limits_the_fill() -> None:
    """16 GB on the node, pods of 10 GB: one fits."""
    data = fill_data([node(2, memory="16GiB")], {"until": 1.0, "pods": [{"share": 1, "gpus": 1, "memory": "10GiB"}]})
    fill = run(data).summary["fill"]
    assert (fill["pods_arrived"], fill["pods_placed"]) == (2, 1)


def test_the_fill_stops_before_the_pod_that_would_pass_until() -> None:
    """Pods of 0.75 GPU on 2 GPUs, until 1.0: a third pod would bring 2250 > 2000 milli, so two arrive."""
    data = fill_data([node(2)], {"until": 1.0, "pods": [{"share": 1, "gpus": 1, "gpu_fraction": 0.75}]})
    fill = run(data).summary["fill"]
    assert fill["pods_arrived"] == 2
    assert fill["arrived_share"] == 0.75


def test_cpu_only_pods_go_to_cpu_only_nodes_and_do_not_count_as_arrived_gpus() -> None:
    """A CPU-only node of 8 cores beside a GPU node of 1 core: CPU-only pods of 2 cores fill the CPU node."""
    data = fill_data([node(1, cpu=1), node(0, cpu=8)],
                     {"until": 1.0, "pods": [{"share": 1, "gpus": 0, "cpu": 2}, {"share": 1, "gpus": 1}]})  # fmt: skip
    result = run(data)
    table = result.frame("fill")
    cpu_only = table[table["gpu_request_milli"] == 0]
    assert (cpu_only["node"][cpu_only["placed"]] == 1).all()  # node 1 is the CPU-only node
    assert int(cpu_only["placed"].sum()) == min(4, len(cpu_only))
    assert result.summary["fill"]["arrived_share"] == 1.0  # one whole-GPU pod: the only GPU request


def test_gpu_types_restrict_the_candidates() -> None:
    """Pods that may use only T4: with the T4 node full, they fail though the V100 node is empty."""
    pods = [{"share": 1, "gpus": 1, "gpu_fraction": 0.5, "gpu_types": ["T4"]}]
    data = fill_data([node(1, gpu_type="V100"), node(1, gpu_type="T4")], {"until": 1.0, "pods": pods})
    result = run(data)
    table = result.frame("fill")
    assert list(table["node"]) == [1, 1, -1, -1]
    assert result.summary["fill"]["allocation_rate"] == 0.5


def test_the_shapes_are_the_shares_times_the_choices() -> None:
    """Shares 3:1, the first of two fractions 1:1 and the second of GPU counts 2:1 -> weights 3/8, 3/8, 1/6, 1/12."""
    data = fill_data([node(8)], {"pods": [
        {"share": 3, "gpus": 1, "gpu_fraction": {"values": [0.25, 0.5]}, "cpu": 1},
        {"share": 1, "gpus": {"values": [2, 4], "weights": [2, 1]}, "cpu": 2},
    ]})  # fmt: skip
    sc = build(data)
    shapes = pod_shapes(sc.workload.fill.pods, {"T4": 0})
    got = {(s.demand.gpus, s.demand.gpu_milli): s.weight for s in shapes}
    assert got == pytest.approx({(1, 250): 3 / 8, (1, 500): 3 / 8, (2, WHOLE): 1 / 6, (4, WHOLE): 1 / 12})


def test_sampled_shapes_arrive_at_their_probabilities() -> None:
    """Draws of pod_order follow the weights: a 0.3 shape's share of 20,000 draws within 4 standard errors."""
    sc = build(fill_data([node(8)], {"pods": [{"share": 1, "gpus": 1}]}))
    order = pod_order(sc.workload.fill, 2, np.array([0.3, 0.7]), np.random.default_rng(1))
    draws = np.array([next(order) for _ in range(20_000)])
    se = (0.3 * 0.7 / draws.size) ** 0.5
    assert abs((draws == 0).mean() - 0.3) < 4 * se


# --------------------------------------------------------------------------- traces
def test_a_trace_in_its_order_is_replayed_and_the_note_says_it_ran_out(tmp_path: Path) -> None:
    rows = [(1000, 1024, 1, 500, ""), (1000, 1024, 0, 0, ""), (1000, 1024, 1, 1000, ""), (1000, 1024, 1, 250, "")]
    write_pods(tmp_path / "pods.csv", rows)
    data = fill_data([node(2)], {"until": 1.3, "trace": {"path": "pods.csv", "order": "trace"}})
    result = run(data, str(tmp_path))
    table = result.frame("fill")
    assert list(table["pod"]) == [0, 1, 2, 3]
    assert list(table["gpu_request_milli"]) == [500, 0, 1000, 250]
    assert result.summary["fill"]["arrived_share"] == 0.875
    assert any("ran out at 87.5 %" in n for n in result.summary["notes"])


def test_sampled_trace_takes_every_pod_once_then_draws_with_replacement(tmp_path: Path) -> None:
    """The authors' runs: the trace shuffled (each pod once), then pods drawn from it until `until`."""
    rows = [(1000, 1024, 1, 100 * (1 + i % 9), "") for i in range(40)]
    write_pods(tmp_path / "pods.csv", rows)
    data = fill_data([node(8, cpu=200, count=4)], {"until": 1.3, "trace": {"path": "pods.csv"}})
    result = run(data, str(tmp_path))
    pods = list(result.frame("fill")["pod"])
    assert sorted(pods[:40]) == list(range(40))  # a permutation first
    assert pods[:40] != list(range(40))  # shuffled
    assert len(pods) > 40 and result.summary["fill"]["arrived_share"] <= 1.3
    assert result.summary["fill"]["arrived_share"] > 1.3 - 0.9 / 32  # stopped within one pod of until


def test_a_pod_typed_to_an_absent_gpu_fails(tmp_path: Path) -> None:
    write_pods(tmp_path / "pods.csv", [(1000, 1024, 1, 500, "A100"), (1000, 1024, 1, 500, "T4|A100")])
    data = fill_data([node(1)], {"until": 2, "trace": {"path": "pods.csv", "order": "trace"}})
    table = run(data, str(tmp_path)).frame("fill")
    assert list(table["placed"]) == [False, True]


# --------------------------------------------------------------------------- invariants
def _fill_run(seed: int) -> Any:
    data = fill_data([node(8, cpu=96, memory="512GB", count=6), node(2, cpu=32, memory="64GB", count=10)],
                     {"until": 1.3, "pods": [
                         {"share": 4, "gpus": 1, "gpu_fraction": {"values": [0.1, 0.3, 0.5, 0.7]}, "cpu": 4,
                          "memory": "8GB"},
                         {"share": 4, "gpus": 1, "cpu": 12, "memory": "48GB"},
                         {"share": 1, "gpus": {"values": [2, 4, 8]}, "cpu": 24, "memory": "96GB"},
                         {"share": 1, "gpus": 0, "cpu": 8, "memory": "16GB"}]})  # fmt: skip
    sc = build(data)
    return sc, run_fill(sc, seed, FirstFitShare(None, None))


def test_conservation_on_the_final_state() -> None:
    """No GPU above its 1000 milli or below 0; used = the placed pods' requests, in every dimension."""
    _, r = _fill_run(3)
    s = r.shares
    free = np.array(s.gpu_free)
    assert ((free >= 0) & (free <= WHOLE)).all()
    assert all(0 <= f <= c for f, c in zip(s.cpu_free, s.cpu, strict=True))
    assert all(0 <= f <= c for f, c in zip(s.memory_free, s.memory, strict=True))
    placed = r.placed
    assert s.gpu_used == int(r.request[placed].sum()) == s.total_gpu - int(free.sum())
    assert (~placed).any()  # the fill went past what fits
    for n in range(len(s)):  # whole-free counts agree with the residuals
        assert s.whole_free[n] == sum(1 for x in s.residuals(n) if x == WHOLE)


def test_the_recorded_fragmentation_is_the_sum_over_nodes() -> None:
    """The tracker's total at the end equals F_n(M) summed over the final nodes, recomputed from scratch."""
    _, r = _fill_run(4)
    total = sum(node_fragmentation(r.shares, n, r.shapes) for n in range(len(r.shares)))
    assert r.fragmentation[-1] * r.capacity == pytest.approx(total)
    assert (np.diff(r.arrived) >= 0).all() and (np.diff(r.allocated) >= 0).all()


def test_same_seed_same_bytes_other_seed_other_pods(tmp_path: Path) -> None:
    data = fill_data([node(8, count=3), node(2, count=4)],
                     {"until": 1.2, "pods": [{"share": 1, "gpus": 1, "gpu_fraction": {"values": [0.2, 0.6]}},
                                             {"share": 1, "gpus": {"values": [1, 2, 4]}}]})  # fmt: skip
    a, b, c = run(data), run(data), run(data, seed=6)
    assert summary_json(a.summary) == summary_json(b.summary)
    assert list(a.frame("fill")["pod"]) != list(c.frame("fill")["pod"])


# --------------------------------------------------------------------------- what a fill cannot honour
@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"horizon": "1h"}, "horizon"),
        ({"failures": {"gpu": {"mtbf": "1000h"}}}, "failures"),
        ({"policies": {"placement": STUB, "scheduler": "sjf"}}, "policies.scheduler"),
        ({"policies": {"placement": "plugins.toy_policies:LastFit"}}, "policies.placement"),
    ],
)
def test_refused_blocks_name_their_field(extra: dict[str, Any], path: str) -> None:
    data = fill_data([node(2)], {"pods": [{"share": 1, "gpus": 1}]}, **extra)
    with pytest.raises(ScenarioError) as err:
        build(data)
    assert path in str(err.value)


def test_job_classes_beside_a_fill_are_refused() -> None:
    data = fill_data([node(2)], {"pods": [{"share": 1, "gpus": 1}]})
    data["workload"]["jobs"] = [{"name": "j", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 1,
                                 "duration": "1h"}]  # fmt: skip
    with pytest.raises(ScenarioError, match=r"workload\.jobs"):
        build(data)


@pytest.mark.parametrize(
    ("pods", "groups", "path"),
    [
        ([{"share": 1, "gpus": 2, "gpu_fraction": 0.5}], [node(2)], "workload.fill.pods.0.gpu_fraction"),
        ([{"share": 1, "gpus": 1, "gpu_types": ["A100"]}], [node(2)], "workload.fill.pods.0.gpu_types"),
        ([{"share": 1, "gpus": 0, "cpu": 1}], [node(2)], "workload.fill.pods"),
        ([{"share": 1, "gpus": 1, "cpu": 1}], [{"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 2}}],
         "datacenter.sites.0.rack_groups.0.node.cpu"),
    ],
)  # fmt: skip
def test_pods_the_cluster_cannot_take_are_refused(pods: list[Any], groups: list[Any], path: str) -> None:
    with pytest.raises(ScenarioError) as err:
        build(fill_data(groups, {"pods": pods}))
    assert path in str(err.value)


def test_a_fill_too_large_to_simulate_is_refused() -> None:
    """100,000 GPUs filled to 10x with pods of 0.01 GPU: 100 million pods, above the 10 million a run takes."""
    big = {"racks": 100, "nodes_per_rack": 125, "node": {"gpus": 8, "gpu_type": "T4", "cpu": 64, "memory": "256GB"}}
    pods = [{"share": 1, "gpus": 1, "gpu_fraction": 0.01}]
    with pytest.raises(ScenarioError, match=r"about 100,000,000 pods"):
        build(fill_data([big], {"until": 10, "pods": pods}))


def test_a_bad_trace_row_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    write_pods(tmp_path / "pods.csv", [(1000, 1024, 1, 500, ""), (1000, 1024, 2, 500, "")])
    with pytest.raises(ScenarioError, match=r"pods.csv line 3: num_gpu 2 with gpu_milli 500"):
        build(fill_data([node(2)], {"trace": {"path": "pods.csv"}}), str(tmp_path))


def test_the_summary_is_json_of_the_fill_metrics() -> None:
    """The names documented in docs/reference/metrics.md, with the curve from 0 to until in 5 % steps."""
    data = fill_data([node(2)], {"until": 0.5, "pods": [{"share": 1, "gpus": 1, "gpu_fraction": 0.5}]})
    s = json.loads(summary_json(run(data).summary))
    assert set(s["fill"]["allocation_rate_by_arrived"]) == {str(p) for p in range(0, 51, 5)}
    assert s["fill"]["allocation_rate_at_100"] == 0.5  # stopped at 50 %: the end's
    assert s["utilization"]["gpu_fragmentation"] >= 0


def test_a_plugin_choosing_a_node_without_room_is_a_placement_error() -> None:
    """Node 0 of 1 GPU is full after the first whole-GPU pod; the plug-in picks it again: one clear error."""
    from dcsim.core.errors import PlacementError

    data = fill_data([node(1), node(1)], {"until": 1.0, "pods": [{"share": 1, "gpus": 1}]},
                     policies={"placement": "plugins.fill_stub:FullNode"})  # fmt: skip
    with pytest.raises(PlacementError, match=r"picked node 0 with GPUs \(0,\).*does not fit there"):
        run(data)
