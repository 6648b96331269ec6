"""Service replicas where GPUs are shared (issue 16 point 1): CPU, memory and shares of a GPU per replica.

Every time, placement and figure below is worked out by hand from the case in its docstring; none
is read off a run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dcsim.engine import DataCenterModel
from dcsim.engine.serving import REPLICA_ID_BASE
from dcsim.infra.components import GPU
from dcsim.infra.shares import WHOLE, Demand
from dcsim.metrics.records import REPLICA_CHANGES
from dcsim.workload.jobs import REASONS

from conftest import build, run_data

H = 3600.0


def service(**fields: Any) -> dict[str, Any]:
    """A service of rare 100 ms requests (1 an hour) and a fixed fleet of ``replicas`` (default 2)."""
    count = fields.pop("replicas", 2)
    return {"name": "s", "gpus_per_replica": 1, "replicas": {"min": count, "max": count},
            "requests": {"arrival": {"process": "poisson", "rate": "1/h"}}, "service_time": "100ms",
            **fields}  # fmt: skip


def job(name: str, at: float, duration: str = "1h", **fields: Any) -> dict[str, Any]:
    """One job of its own class arriving at ``at`` s."""
    return {"name": name, "arrival": {"process": "periodic", "interval": "1h", "start": at}, "count": 1,
            "duration": duration, "gpus": 1, **fields}  # fmt: skip


def scenario(
    services: list[dict[str, Any]], node: dict[str, Any], jobs: list[dict[str, Any]] | None = None, **top: Any
) -> dict[str, Any]:
    """One node (of ``node``) in one rack, FIFO with backfill, first fit, 2 h."""
    data: dict[str, Any] = {
        "name": "replicas", "seed": 1, "horizon": "2h",
        "datacenter": {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": node.pop("nodes", 1), "node": node}]},
        "services": services,
        "policies": {"scheduler": {"name": "fifo", "params": {"backfill": True}}, "placement": "first_fit"},
    }  # fmt: skip
    if jobs:
        data["workload"] = {"jobs": jobs}
    data.update(top)
    return data


def run_model(data: dict[str, Any]) -> DataCenterModel:
    model = DataCenterModel(build(data))
    model.run()
    return model


def placed(model: DataCenterModel) -> list[tuple[float, str]]:
    """(time, change) of every replica's placement, stop and loss, in order."""
    c = model.collector.columns("replica_change")
    keep = {"placed", "stopped", "lost"}
    return [(t, REPLICA_CHANGES[k]) for t, k in zip(c["time"].tolist(), c["change"].tolist(), strict=True)
            if REPLICA_CHANGES[k] in keep]  # fmt: skip


def gpu_free(model: DataCenterModel, node: int = 0) -> list[int]:
    s = model.cluster.shares  # type: ignore[attr-defined]
    b = s.base[node]
    return s.gpu_free[b : b + s.gpus[node]]


# ------------------------------------------------------------------ hand-built placements
def test_two_half_gpu_replicas_share_one_gpu_and_leave_the_other_to_a_job() -> None:
    """2 GPUs; two 0.5 replicas both go on GPU 0 (first fit packs): a whole-GPU job at 60 s takes GPU 1 at once.
    Whole-GPU replicas would hold both GPUs and the job would wait to the end."""
    model = run_model(scenario([service(gpu_fraction=0.5)], {"gpus": 2}, [job("j", 60)]))
    assert placed(model) == [(0.0, "placed"), (0.0, "placed")]
    started = model.collector.columns("job_started")
    assert started["time"].tolist() == [60.0]
    assert gpu_free(model) == [0, WHOLE]  # at the end: the replicas' GPU full, the job gone from GPU 1
    assert model.cluster.shares.gpu_used == WHOLE  # type: ignore[attr-defined]


def test_a_075_and_a_05_replica_do_not_share_a_gpu() -> None:
    """One GPU: a 0.75 replica leaves 0.25, so the second (0.5) is never placed; 0.75 + 0.25 fit exactly."""
    model = run_model(scenario([service(gpu_fraction=0.75, name="a", replicas=1), service(gpu_fraction=0.5)],
                               {"gpus": 1}))  # fmt: skip
    assert len(placed(model)) == 1 and len(model.services.fleets[1].pending) == 2  # type: ignore[union-attr]
    model = run_model(scenario([service(gpu_fraction=0.75, name="a", replicas=1),
                                service(gpu_fraction=0.25, replicas=1)], {"gpus": 1}))  # fmt: skip
    assert len(placed(model)) == 2 and gpu_free(model) == [0]


def test_a_replica_that_fits_the_gpus_but_not_the_memory_does_not_start() -> None:
    """8 GPUs, 64 GiB: replicas of 1 GPU and 48 GiB: one starts, the second waits (7 GPUs free, 16 GiB)."""
    model = run_model(scenario([service(memory="48GiB")], {"gpus": 8, "memory": "64GiB"}))
    assert len(placed(model)) == 1 and len(model.services.fleets[0].pending) == 1  # type: ignore[union-attr]
    assert model.cluster.free[0] == 7
    # 32 GiB each: both fit (64 GiB)
    assert len(placed(run_model(scenario([service(memory="32GiB")], {"gpus": 8, "memory": "64GiB"})))) == 2


def test_scale_down_gives_the_share_back() -> None:
    """One GPU; two 0.25 replicas (0.5 used) under an HPA on utilization (target 0.5, sync 60 s, no window,
    min 1). A 0.75 job at 30 s waits (0.5 free). At the first sync (60 s) the idle fleet is scaled to 1 and
    one replica stops: 0.75 is free and the job starts at 60 s."""
    svc = service(gpu_fraction=0.25)
    svc["replicas"] = {"min": 1, "max": 2, "initial": 2}
    svc["autoscaler"] = {"policy": "hpa", "target": 0.5, "sync_period": "60s", "scale_down_window": 0}
    model = run_model(scenario([svc], {"gpus": 1}, [job("j", 30, gpu_fraction=0.75)]))
    assert placed(model) == [(0.0, "placed"), (0.0, "placed"), (60.0, "stopped")]
    assert model.collector.columns("job_started")["time"].tolist() == [60.0]
    # With whole-GPU replicas scaled down the same way the job could not start at all before the end.
    assert gpu_free(model) == [WHOLE - 250]  # the job ended at 1 h + 60 s; one replica left


# ------------------------------------------------------------------ failures and conservation
def run_failing_gpu0(data: dict[str, Any]) -> DataCenterModel:
    """Run ``data`` with GPU 0 failing at 30 min (and never repaired within the horizon); return the model."""
    model = DataCenterModel(build(data))

    def fail() -> Any:
        yield model.env.timeout(0.5 * H)
        model.rel.block(GPU, 0, None, "failure")  # type: ignore[union-attr]
        model.capacity_changed()

    model.env.process(fail())
    model.run()
    return model


def test_a_failing_gpu_loses_the_replicas_on_it_and_their_replacements_take_what_is_left() -> None:
    """2 GPUs; two 0.5 replicas on GPU 0, a 0.5 job (1 h) on GPU 1. GPU 0 fails at 30 min: both replicas are
    lost, one replacement takes GPU 1's free half at once, the other waits for the job's end (1 h)."""
    data = scenario([service(gpu_fraction=0.5)], {"gpus": 2}, [job("j", 0, gpu_fraction=0.5)],
                    failures={"gpu": {"mtbf": "1000000h"}}, horizon="90m")  # fmt: skip
    model = run_failing_gpu0(data)
    assert placed(model) == [(0.0, "placed"), (0.0, "placed"), (0.5 * H, "lost"), (0.5 * H, "lost"),
                             (0.5 * H, "placed"), (H, "placed")]  # fmt: skip
    s = model.cluster.shares  # type: ignore[attr-defined]
    assert s.blocked[0] == [0] and gpu_free(model) == [0, 0]
    assert s.gpu_used == WHOLE  # the two replacements' halves on GPU 1; the failed GPU counts as neither
    assert model.collector.columns("job_interrupted")["job_id"].tolist() == []


def test_a_lost_replicas_replacement_preempts_a_lower_priority_whole_gpu_job() -> None:
    """2 GPUs; a 0.5 replica (priority 1) and a 0.5 job H on GPU 0, a whole-GPU job W on GPU 1 (priority 0).
    GPU 0 fails at 30 min: the replica and H are lost; no GPU has half free, so the replacement preempts W
    (scale_up) and takes half of GPU 1; H, queued again, takes the other half; W waits."""
    data = scenario([service(gpu_fraction=0.5, replicas=1, priority=1)], {"gpus": 2},
                    [job("h", 0, gpu_fraction=0.5, duration="2h"), job("w", 10, duration="2h")],
                    failures={"gpu": {"mtbf": "1000000h"}}, horizon="90m")  # fmt: skip
    model = run_failing_gpu0(data)
    assert placed(model) == [(0.0, "placed"), (0.5 * H, "lost"), (0.5 * H, "placed")]
    it = model.collector.columns("job_interrupted")
    assert it["job_id"].tolist() == [0, 1] and REASONS[it["reason"].tolist()[1]] == "scale_up"
    assert gpu_free(model) == [0, 0] and model.cluster.shares.gpu_used == WHOLE  # type: ignore[attr-defined]
    assert sorted(model.running_jobs) == [0]


def test_a_node_failure_loses_replicas_and_gives_back_every_core_and_byte() -> None:
    """One node (1 GPU, 8 cores, 32 GB) fails at 30 min for good: two 0.5 replicas of 2 cores and 8 GB are
    lost with it, their replacements wait, and nothing is held: CPU, memory and milli-GPU used are 0.
    Replica GPU-hours: 2 x 0.5 x 0.5 h = 0.5."""
    data = scenario([service(gpu_fraction=0.5, cpu=2, memory="8GB")], {"gpus": 1, "cpu": 8, "memory": "32GB"},
                    events=[{"at": "30m", "fail": {"site": "dc1", "rack": 0, "node": 0}}])  # fmt: skip
    model = run_model(data)
    s = model.cluster.shares  # type: ignore[attr-defined]
    assert (s.gpu_used, s.cpu_used, s.memory_used) == (0, 0, 0)
    assert [c for _, c in placed(model)] == ["placed", "placed", "lost", "lost"]
    r = run_data(data)
    assert r.summary["services"]["replica_gpu_hours"] == pytest.approx(0.5)
    # CPU: 2 replicas x 2 cores x 0.5 h over 8 cores x 2 h
    assert r.summary["utilization"]["cpu_allocated"] == pytest.approx(2 * 2 * 0.5 / (8 * 2))


def test_maintenance_moves_both_half_replicas_to_the_other_node() -> None:
    """Two nodes of 1 GPU; two 0.5 replicas on node 0 (first fit). Node 0 is drained at 30 min: each replica is
    replaced on node 1 (both halves fit its GPU, ready at once) and then stops; node 0 holds nothing after."""
    data = scenario([service(gpu_fraction=0.5)], {"gpus": 1, "nodes": 2},
                    maintenance=[{"start": "30m", "duration": "1h", "scope": "node", "units": [0]}])  # fmt: skip
    model = run_model(data)
    c = model.collector.columns("replica_change")
    moves = [(t, n) for t, k, n in zip(c["time"].tolist(), c["change"].tolist(), c["node"].tolist(), strict=True)
             if k == REPLICA_CHANGES.index("placed")]  # fmt: skip
    assert moves == [(0.0, 0), (0.0, 0), (0.5 * H, 1), (0.5 * H, 1)]
    assert [t for t, what in placed(model) if what == "stopped"] == [0.5 * H, 0.5 * H]
    assert gpu_free(model, 0) == [WHOLE] and gpu_free(model, 1) == [0]


# ------------------------------------------------------------------ metrics
def test_replicas_count_in_cpu_memory_and_gpu_allocated_and_in_replica_gpu_hours() -> None:
    """One node (1 GPU, 16 cores, 64 GB), 2 h: two 0.5 replicas of 4 cores and 8 GB, and a CPU-only job of
    4 cores for 1 h. GPU allocated: 1 GPU x 2 h / (1 x 2 h) = 1; CPU (2 x 4 x 2 + 4 x 1) / (16 x 2) = 0.625;
    memory 2 x 8 x 2 / (64 x 2) = 0.25; replica GPU-hours 2 x 0.5 x 2 h = 2 (whole GPUs: 4)."""
    data = scenario([service(gpu_fraction=0.5, cpu=4, memory="8GB")], {"gpus": 1, "cpu": 16, "memory": "64GB"},
                    [job("c", 0, gpus=0, cpu=4)])  # fmt: skip
    r = run_data(data)
    u = r.summary["utilization"]
    assert u["gpu_allocated"] == pytest.approx(1.0)
    assert u["cpu_allocated"] == pytest.approx(0.625)
    assert u["memory_allocated"] == pytest.approx(0.25)
    assert r.summary["services"]["replica_gpu_hours"] == pytest.approx(2.0)
    ts = r.timeseries
    assert set(ts["gpu_allocated"]) == {1.0} and set(ts[ts["time_s"] > H]["cpu_allocated"]) == {0.5}


def test_a_replicas_shape_is_part_of_the_workloads_for_fragmentation() -> None:
    """The FGD shapes: a class of 0.25 shares (8 jobs: rate 4/h x 2 h) and a service of 2 replicas of 0.5:
    weights 8/10 and 2/10; the replicas' shape keeps its CPU and drops its memory."""
    from dcsim.engine.sharing import class_shapes

    cls = {"name": "q", "arrival": {"process": "poisson", "rate": "4/h"}, "gpus": 1, "gpu_fraction": 0.25,
           "duration": "1h"}  # fmt: skip
    sc = build(scenario([service(gpu_fraction=0.5, cpu=2, memory="8GB")], {"gpus": 1, "cpu": 8, "memory": "32GB"},
                        [cls]))  # fmt: skip
    model = DataCenterModel(sc)
    shapes = class_shapes(sc, model.topology, model.cluster.shares.type_names)  # type: ignore[attr-defined]
    got = {(s.demand, round(s.weight, 12)) for s in shapes}
    assert got == {(Demand(0, 0, 1, 250), 0.8), (Demand(2000, 0, 1, 500), 0.2)}


def test_jobs_and_replicas_under_fgd_are_deterministic_and_hold_only_what_runs() -> None:
    """Shares of jobs and replicas under FGD on 2 nodes of 2 GPUs: the same summary byte for byte twice; at
    the end the shares hold exactly the running jobs' and the replicas' demands; fragmentation is measured."""
    jobs = [{"name": "q", "arrival": {"process": "poisson", "rate": "6/h"}, "gpus": 1, "cpu": 1, "memory": "4GB",
             "gpu_fraction": {"values": [0.25, 0.5]}, "duration": {"dist": "exponential", "mean": "1h"}}]  # fmt: skip
    data = scenario([service(gpu_fraction=0.5, cpu=2, memory="8GB", replicas=3)],
                    {"gpus": 2, "cpu": 16, "memory": "64GB", "nodes": 2}, jobs, horizon="10h")  # fmt: skip
    data["policies"]["placement"] = "fgd"
    first, second = run_data(data).summary, run_data(data).summary
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["jobs"]["completed"] > 30 and first["utilization"]["gpu_fragmentation"] is not None
    model = run_model(data)
    holders = {h.id: h for on_node in model.runs.node_jobs for h in on_node}  # running jobs and placed replicas
    assert {h.id >= REPLICA_ID_BASE for h in holders.values()} == {True, False}
    held = [d for h in holders.values() for _, d, _ in h.slots]
    s = model.cluster.shares  # type: ignore[attr-defined]
    assert s.gpu_used == sum(d.gpus * d.gpu_milli for d in held)
    assert (s.cpu_used, s.memory_used) == (sum(d.cpu for d in held), sum(d.memory for d in held))


# ------------------------------------------------------------------ bad requests
@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        ({"memory": "1TB"}, "services.0", "a replica of 1 GPU asks for 1000GB of memory, more than any node"),
        ({"cpu": 64}, "services.0", "more than any node of its pools holds"),
        ({"gpus_per_replica": 2, "gpu_fraction": 0.5}, "services.0", "`gpu_fraction` is a share of one GPU"),
    ],
)
def test_a_replica_no_node_can_hold_is_refused_naming_the_field(change: dict, where: str, words: str) -> None:
    """Node: 2 GPUs, 16 cores, 64 GB; the service's change makes its replicas impossible (one problem)."""
    from dcsim.core.errors import ScenarioError

    with pytest.raises(ScenarioError) as err:
        build(scenario([service(**change)], {"gpus": 2, "cpu": 16, "memory": "64GB"}))
    assert [p[0] for p in err.value.problems] == [where] and words in err.value.problems[0][1]


def test_replica_cpu_on_nodes_that_declare_none_exits_2_with_one_message(tmp_path: Any) -> None:
    """Through the CLI: exit 2, one problem naming the field and the fix, no traceback."""
    import subprocess
    import sys

    import yaml

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario([service(cpu=4)], {"gpus": 2})))
    out = subprocess.run([sys.executable, "-m", "dcsim", "validate", str(path)], capture_output=True, text=True)
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.startswith("  ")]
    assert lines == ["  services.0.cpu: the service asks for cpu but no node of its pools declares `cpu` (cores); "
                     "give those nodes one (e.g. cpu: 96) or drop it"]  # fmt: skip
    assert "Traceback" not in out.stderr and "pydantic" not in out.stderr
