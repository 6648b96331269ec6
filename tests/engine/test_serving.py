"""Inference services (issue 13): hand-computed cases of the serving engine.

Every number below is worked out from the case in its docstring, none is read off a run.
Requests come from a request trace (exact arrival times); the data center is tiny (one site,
nodes of 8 GPUs) and replicas take whole nodes unless a test says otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dcsim.engine import DataCenterModel
from dcsim.experiment.run import simulate, summary_json
from dcsim.metrics.records import REPLICA_CHANGES, REQUEST_STATUS
from dcsim.workload.jobs import REASONS

from conftest import build

H = 3600.0


def trace(tmp_path: Path, rows: list[tuple[float, ...]], header: str = "time") -> str:
    path = tmp_path / f"requests_{len(list(tmp_path.iterdir()))}.csv"
    path.write_text(header + "\n" + "".join(",".join(f"{v:g}" for v in row) + "\n" for row in rows))
    return path.name


def service(requests: dict[str, Any], serves: dict[str, Any], **fields: Any) -> dict[str, Any]:
    out = {"name": "s", "gpus_per_replica": 8, "replicas": {"min": 1, "max": 1}, "requests": requests,
           "service_model": serves}  # fmt: skip
    out.update(fields)
    return out


def scenario(*services: dict[str, Any], nodes: int = 2, horizon: str = "1h", **top: Any) -> dict[str, Any]:
    data = {
        "name": "serving", "seed": 1, "horizon": horizon,
        "datacenter": {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": nodes, "node": {"gpus": 8}}]},
        "services": list(services),
    }  # fmt: skip
    data.update(top)
    return data


def run_model(data: dict[str, Any], base_dir: Path | str = ".") -> DataCenterModel:
    model = DataCenterModel(build(data, str(base_dir)))
    model.run()
    return model


def requests_of(model: DataCenterModel) -> list[tuple[float, float, float, str]]:
    """(arrival, first token, end, status) of every request, by arrival."""
    c = model.collector.columns("request_done")
    rows = zip(c["arrival"].tolist(), c["first_token"].tolist(), c["end"].tolist(), c["status"].tolist(), strict=True)
    return sorted((a, f, e, REQUEST_STATUS[s]) for a, f, e, s in rows)


def fixed(seconds: float) -> dict[str, Any]:
    return {"time": {"dist": "fixed", "value": seconds}}


# ---------------------------------------------------------------------------- a `time` service model
def test_one_server_serves_first_come_first_served(tmp_path: Path) -> None:
    """Fixed 1 s requests at 0, 0 and 0.5 on one replica of concurrency 1: they end at 1, 2 and 3."""
    path = trace(tmp_path, [(0,), (0,), (0.5,)])
    model = run_model(scenario(service({"arrival": {"process": "trace", "path": path}}, fixed(1.0))), tmp_path)
    assert [(a, e, s) for a, _, e, s in requests_of(model)] == [(0, 1, "completed"), (0, 2, "completed"),
                                                              (0.5, 3, "completed")]  # fmt: skip


def test_concurrency_serves_side_by_side(tmp_path: Path) -> None:
    """Concurrency 2: the two at 0 end at 1, the one at 0.5 waits for a slot until 1 and ends at 2."""
    path = trace(tmp_path, [(0,), (0,), (0.5,)])
    model = run_model(
        scenario(service({"arrival": {"process": "trace", "path": path}}, {**fixed(1.0), "concurrency": 2})), tmp_path
    )
    assert [e for _, _, e, _ in requests_of(model)] == [1, 1, 2]


def test_queue_limit_rejects_beyond_it(tmp_path: Path) -> None:
    """queue_limit 1: of three requests at 0, one is served, one waits, the third is rejected at once."""
    path = trace(tmp_path, [(0,), (0,), (0,)])
    model = run_model(
        scenario(service({"arrival": {"process": "trace", "path": path}}, fixed(1.0), queue_limit=1)), tmp_path
    )
    got = requests_of(model)
    assert sorted(s for *_, s in got) == ["completed", "completed", "rejected"]
    assert [e for *_, e, s in got if s == "rejected"] == [0]


def test_a_slower_gpu_serves_slower(tmp_path: Path) -> None:
    """A replica on A100s at speed 0.5 of the service's H100 reference takes 2 s for a 1 s request."""
    path = trace(tmp_path, [(0,)])
    data = scenario(service({"arrival": {"process": "trace", "path": path}}, fixed(1.0),
                            speed={"H100": 1.0, "A100": 0.5}, speed_reference="H100"))  # fmt: skip
    data["datacenter"]["sites"][0]["node"]["gpu_type"] = "A100"
    model = run_model(data, tmp_path)
    assert [e for _, _, e, _ in requests_of(model)] == [2.0]


# ---------------------------------------------------------------------------- a token model
def test_decode_batch_shares_steps(tmp_path: Path) -> None:
    """No prefill, per_token 1 s, batch_penalty 0.5. A (2 tokens) at 0, B (1 token) at 0.5.

    Alone A emits 0.5 token by 0.5; then a step takes 1.5 s. A's first token: 0.5 more, at
    1.25. B's only token: one step from 0.5, at 2.0; A has 1.5 tokens then, and alone again
    (1 s steps) emits its last at 2.5.
    """
    path = trace(tmp_path, [(0, 2), (0.5, 1)], header="time,out")
    req = {"arrival": {"process": "trace", "path": path, "output_tokens": "out"}}
    model_spec = {"decode": {"per_token": "1s", "max_batch": 2, "batch_penalty": 0.5}}
    got = requests_of(run_model(scenario(service(req, model_spec)), tmp_path))
    (a0, af, ae, _), (b0, bf, be, _) = got
    assert (a0, b0) == (0, 0.5)
    assert af == pytest.approx(1.25) and ae == pytest.approx(2.5)
    assert bf == pytest.approx(2.0) and be == pytest.approx(2.0)


def test_prefill_then_decode(tmp_path: Path) -> None:
    """Prefill 100 tokens/s of 50 input tokens: first token at 0.5; 2 more at 0.1 s each: the end at 0.7.

    A second request at 0 waits for the prefill (one at a time): its first token at 1.0, and
    decoding beside the first from 1.0 (the first is done by then) it ends at 1.2.
    """
    path = trace(tmp_path, [(0, 50, 3), (0, 50, 3)], header="time,in,out")
    req = {"arrival": {"process": "trace", "path": path, "input_tokens": "in", "output_tokens": "out"}}
    model_spec = {"prefill": "100/s", "decode": {"per_token": "100ms", "max_batch": 8}}
    got = requests_of(run_model(scenario(service(req, model_spec)), tmp_path))
    assert [f for _, f, _, _ in got] == pytest.approx([0.5, 1.0])
    assert [e for _, _, e, _ in got] == pytest.approx([0.7, 1.2])


def test_max_batch_holds_the_rest_in_the_queue(tmp_path: Path) -> None:
    """max_batch 1, per_token 1 s, no prefill: three 2-token requests at 0 end at 2, 4 and 6."""
    path = trace(tmp_path, [(0, 2)] * 3, header="time,out")
    req = {"arrival": {"process": "trace", "path": path, "output_tokens": "out"}}
    got = requests_of(run_model(scenario(service(req, {"decode": {"per_token": "1s", "max_batch": 1}})), tmp_path))
    assert [e for _, _, e, _ in got] == pytest.approx([2, 4, 6])
    assert [f for _, f, _, _ in got] == pytest.approx([1, 3, 5])


# ---------------------------------------------------------------------------- replicas as holders
def failure_trace(tmp_path: Path, rows: list[tuple[float, str, float]]) -> str:
    path = tmp_path / "failures.csv"
    path.write_text("time,component,duration\n" + "".join(f"{t},{c},{d}\n" for t, c, d in rows))
    return path.name


@pytest.mark.parametrize(("loss", "status"), [("retry", "completed"), ("fail", "failed")])
def test_a_failed_replica_retries_or_fails_its_requests(tmp_path: Path, loss: str, status: str) -> None:
    """Two replicas (one per node), round robin: requests at 0 go to replica 0 (node 0) and 1 (node 1).

    Node 0 fails at 0.5 s: with `retry` its request is sent to replica 1, behind the one there,
    and ends at 2; with `fail` it fails at 0.5. A replacement is asked for, but no node is free.
    """
    path = trace(tmp_path, [(0,), (0,)])
    failures = failure_trace(tmp_path, [(0.5, "node:0", 3600.0)])
    data = scenario(
        service({"arrival": {"process": "trace", "path": path}}, fixed(1.0), replicas={"min": 2, "max": 2},
                on_replica_loss=loss),
        failures={"trace": {"path": failures}},
    )  # fmt: skip
    model = run_model(data, tmp_path)
    got = requests_of(model)
    assert sorted(s for *_, s in got) == sorted(["completed", status])
    lost = [e for *_, e, s in got if s == status and e != 1.0]
    assert lost == ([2.0] if loss == "retry" else [0.5])
    changes = model.collector.columns("replica_change")
    kinds = [REPLICA_CHANGES[c] for c in changes["change"].tolist()]
    assert kinds.count("lost") == 1 and kinds.count("requested") == 3  # two at the start, one replacement


def test_a_replica_preempts_lower_priority_training(tmp_path: Path) -> None:
    """One node; a training job (priority 0) holds it from 0; the service scales from 0 to 1 replica at 1 h.

    With priority 10 the replica preempts the job (reason scale_up, in jobs.preemptions) and
    is ready at 1 h; with priority 0 it waits for the job to end (at 2 h).
    """
    out = {}
    for priority in (10, 0):
        data = scenario(
            service({"arrival": {"process": "poisson", "rate": "1/h"}}, fixed(1.0), replicas={"min": 0, "max": 1,
                    "initial": 0}, priority=priority,
                    autoscaler={"policy": "scheduled", "table": {"00:00": 0, "01:00": 1}, "sync_period": "1m"}),
            nodes=1, horizon="4h",
            workload={"jobs": [{"name": "train", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 8,
                                "duration": "2h", "checkpoint": {"interval": "30m"}}]},
        )  # fmt: skip
        model = run_model(data, tmp_path)
        changes = model.collector.columns("replica_change")
        ready = changes["time"][changes["change"] == REPLICA_CHANGES.index("ready")]
        reasons = model.collector.columns("job_interrupted")["reason"].tolist()
        out[priority] = (ready.tolist(), [REASONS[r] for r in reasons])
    assert out[10] == ([H], ["scale_up"])
    assert out[0] == ([2 * H], [])


def test_maintenance_moves_a_replica_before_its_node_goes(tmp_path: Path) -> None:
    """Node 0 is maintained from 1 h (drain: wait): its replica is replaced on node 1, then drains and stops.

    The requests never see a gap: one replica is ready throughout (the replacement has no cold start).
    """
    data = scenario(
        service({"arrival": {"process": "poisson", "rate": "10/s"}}, {"time": {"dist": "exponential",
                "mean": "10ms"}}),
        maintenance=[{"scope": "node", "units": [0], "start": "1h", "duration": "1h"}],
        horizon="3h",
    )  # fmt: skip
    model = run_model(data, tmp_path)
    c = model.collector.columns("replica_change")
    columns = (c["time"].tolist(), c["replica"].tolist(), c["change"].tolist(), c["node"].tolist())
    rows = [(t, r, REPLICA_CHANGES[k], n) for t, r, k, n in zip(*columns, strict=True)]
    assert (H, 1, "ready", 1) in rows  # the replacement, on node 1
    assert (H, 0, "draining", 0) in rows
    stopped = [t for t, r, k, _ in rows if r == 0 and k == "stopped"]
    assert len(stopped) == 1 and H <= stopped[0] < H + 1.0  # once its last request (10 ms) is done
    statuses = {s for *_, s in requests_of(model)}
    assert statuses <= {"completed", "unfinished"}


# ---------------------------------------------------------------------------- runs and records
def test_same_seed_same_summary(tmp_path: Path) -> None:
    """Two runs of one seed give byte-identical summaries; another seed differs."""
    data = scenario(
        service({"arrival": {"process": "poisson", "rate": "20/s"}}, {"time": {"dist": "exponential", "mean": "80ms"}},
                replicas={"min": 1, "max": 2, "initial": 2}, load_balancer="power_of_two"),
    )  # fmt: skip
    first = summary_json(simulate(build(data)).summary)
    assert summary_json(simulate(build(data)).summary) == first
    assert summary_json(simulate(build(data), seed=2).summary) != first


def test_unfinished_requests_are_counted_not_dropped(tmp_path: Path) -> None:
    """Ten 1 h requests at 0 on one replica, a 1 h horizon: one is served, nine are still in flight."""
    path = trace(tmp_path, [(0,)] * 10)
    data = scenario(service({"arrival": {"process": "trace", "path": path}}, fixed(3600.0)), horizon="3601s")
    summary = simulate(build(data, str(tmp_path))).summary["services"]
    assert (summary["requests"], summary["completed"], summary["unfinished"]) == (10, 1, 9)


def test_replica_gpu_hours_and_cost(tmp_path: Path) -> None:
    """Two replicas of 8 GPUs for 10 h: 160 GPU-hours; at $2/GPU-hour and 700 W at $0.10/kWh with PUE 1.5,
    each GPU-hour costs 2 + 0.7 * 1.5 * 0.1 = $2.105."""
    path = trace(tmp_path, [(1,)] * 1000)
    data = scenario(
        service({"arrival": {"process": "trace", "path": path}}, fixed(0.001), replicas={"min": 2, "max": 2}),
        horizon="10h", costs={"gpu_hour_usd": 2.0, "electricity_usd_per_kwh": 0.1, "pue": 1.5},
    )  # fmt: skip
    data["datacenter"]["sites"][0]["node"]["gpu_power"] = "700W"
    s = simulate(build(data, str(tmp_path))).summary
    svc = s["services"]
    assert svc["replica_gpu_hours"] == pytest.approx(160.0)
    assert svc["mean_replicas"] == pytest.approx(2.0)
    assert svc["usd_per_million_requests"] == pytest.approx(160 * 2.105 / 1000 * 1e6)
    assert s["utilization"]["gpu_allocated"] == pytest.approx(1.0)
    # Round robin gives each replica 500 of the requests at 1 s, served one after another: 1, 2, ... 500 ms.
    assert svc["mean_latency_s"] == pytest.approx(0.001 * (1 + 500) / 2)


# ---------------------------------------------------------------------------- cold starts, scale to zero, arrivals
def test_cold_starts_share_the_sites_storage(tmp_path: Path) -> None:
    """Two replicas asked for at 1 min (scheduled 0 -> 2) load a 100 GB model each from 100 GB/s of storage:
    alone a load takes 1 s, together each gets half: both ready at 60 + 2 s. A request at 30 s waits in the
    buffer (no replica is ready) and is served from 62 s: fixed 1 s, it ends at 63 s."""
    path = trace(tmp_path, [(30,)])
    data = scenario(
        service({"arrival": {"process": "trace", "path": path}}, fixed(1.0), model={"size": "100GB"},
                replicas={"min": 0, "max": 2, "initial": 0},
                autoscaler={"policy": "scheduled", "table": {"00:00": 0, "00:01": 2}, "sync_period": "1m"}),
    )  # fmt: skip
    data["datacenter"]["sites"][0]["storage"] = {"bandwidth": "100GB/s"}
    data["datacenter"]["sites"][0]["network"] = {"nic": "100Tbps"}
    model = run_model(data, tmp_path)
    c = model.collector.columns("replica_change")
    ready = c["time"][c["change"] == REPLICA_CHANGES.index("ready")].tolist()
    assert ready == pytest.approx([62.0, 62.0])
    assert [e for *_, e, _ in requests_of(model)] == pytest.approx([63.0])


def test_a_fixed_cold_start_and_scale_to_zero(tmp_path: Path) -> None:
    """cold_start 30 s: the replica asked for at 1 min is ready at 90 s; back to 0 at 2 min, it drains
    (its last request, at 100 s for 50 s, ends at 150 s) and stops then."""
    path = trace(tmp_path, [(100,)])
    data = scenario(
        service({"arrival": {"process": "trace", "path": path}}, fixed(50.0), cold_start="30s",
                replicas={"min": 0, "max": 1, "initial": 0},
                autoscaler={"policy": "scheduled", "table": {"00:00": 0, "00:01": 1, "00:02": 0},
                            "sync_period": "1m"}),
    )  # fmt: skip
    model = run_model(data, tmp_path)
    c = model.collector.columns("replica_change")
    got = [(t, REPLICA_CHANGES[k]) for t, k in zip(c["time"].tolist(), c["change"].tolist(), strict=True)]
    assert got == [(60.0, "requested"), (60.0, "placed"), (90.0, "ready"), (120.0, "draining"), (150.0, "stopped")]
    assert [e for *_, e, _ in requests_of(model)] == [150.0]


def test_mmpp_arrivals_come_at_the_time_averaged_rate(tmp_path: Path) -> None:
    """An MMPP of 1/s for a mean 10 min and 9/s for a mean 2 min has a long-run rate of
    (1 x 10 + 9 x 2) / 12 = 2.33/s. Over 3 days the count is within 4 standard deviations of that, its
    variance the rate x T times the process's index of dispersion (larger than Poisson's 1)."""
    data = scenario(
        service({"arrival": {"process": "mmpp", "rates": ["1/s", "9/s"], "mean_sojourn": ["10m", "2m"]}},
                fixed(0.01)),
        horizon="3d",
    )  # fmt: skip
    model = run_model(data, tmp_path)
    n = len(model.collector.columns("request_done")["end"])
    rate = (1 * 600 + 9 * 120) / 720
    T = 3 * 86400
    # Index of dispersion of an alternating two-state MMPP (Heffes & Lucantoni): 1 + 2 (r1 - r2)^2 q1 q2 /
    # ((q1 + q2)^2 (r1 q2 + r2 q1)), q_i the rates of leaving each state.
    q1, q2, r1, r2 = 1 / 600, 1 / 120, 1.0, 9.0
    dispersion = 1 + 2 * (r1 - r2) ** 2 * q1 * q2 / ((q1 + q2) ** 2 * (r1 * q2 + r2 * q1))
    assert abs(n - rate * T) < 4 * (dispersion * rate * T) ** 0.5


def test_session_affinity_keeps_a_session_on_one_replica(tmp_path: Path) -> None:
    """Four replicas, 20 sessions, session_affinity: every request of a session ends on one replica;
    under random routing the same sessions spread over several."""
    spread = {}
    for balancer in ("session_affinity", "random"):
        data = scenario(
            service({"arrival": {"process": "poisson", "rate": "5/s"}, "sessions": 20}, fixed(0.01),
                    replicas={"min": 4, "max": 4}, load_balancer=balancer, gpus_per_replica=4),
            horizon="10m",
        )  # fmt: skip
        model = run_model(data, tmp_path)
        # The session of each request is drawn from its own stream: the records keep the replica only, so
        # re-draw the sessions the engine drew (stream requests.s.sessions, one draw per arrival, in order).
        from dcsim.core.rng import stream

        c = model.collector.columns("request_done")
        order = c["arrival"].argsort(kind="stable")
        sessions = stream(1, "requests.s.sessions").integers(0, 20, len(order))
        by_session: dict[int, set[int]] = {}
        for session, replica in zip(sessions.tolist(), c["replica"][order].tolist(), strict=True):
            by_session.setdefault(session, set()).add(replica)
        spread[balancer] = max(len(v) for v in by_session.values())
    assert spread["session_affinity"] == 1
    assert spread["random"] > 1


# ---------------------------------------------------------------------------- plug-ins
def test_a_plugin_balancer_reads_snapshots_and_its_choice_is_applied(tmp_path: Path) -> None:
    """A plug-in that sends everything to the last of 3 replicas: every request ends on replica 2, and its
    attempt to change a replica's count is refused (it reads frozen snapshots), once per request."""
    path = trace(tmp_path, [(t,) for t in range(10)])
    data = scenario(
        service({"arrival": {"process": "trace", "path": path}}, fixed(0.5), replicas={"min": 3, "max": 3},
                gpus_per_replica=2, load_balancer="plugins.toy_policies:LastReplica"),
    )  # fmt: skip
    model = run_model(data, tmp_path)
    assert model.collector.columns("request_done")["replica"].tolist() == [2] * 10
    assert model.services.services[0].balancer.refused == 10


def test_a_plugin_balancer_that_answers_nonsense_is_named(tmp_path: Path) -> None:
    from dcsim.core.errors import PlacementError

    path = trace(tmp_path, [(0,)])
    data = scenario(service({"arrival": {"process": "trace", "path": path}}, fixed(0.5),
                            load_balancer="plugins.toy_policies:NotAReplica"))  # fmt: skip
    with pytest.raises(PlacementError, match=r"NotAReplica.*not one of the ready replicas"):
        run_model(data, tmp_path)


def test_a_cordoned_replica_serves_until_its_replacement_is_ready(tmp_path: Path) -> None:
    """One replica with a 60 s cold start; node 0 is maintained from 1 h. The replacement is asked for at 1 h
    and ready at 1 h + 60 s; the old replica serves on until then, drains, and stops: requests at 1/s of
    10 ms each never wait (every latency 10 ms, up to the rounding of a sum)."""
    path = trace(tmp_path, [(float(t),) for t in range(3000, 4000)])
    data = scenario(
        service({"arrival": {"process": "trace", "path": path}}, fixed(0.01), cold_start="60s"),
        maintenance=[{"scope": "node", "units": [0], "start": "1h", "duration": "1h"}],
        horizon="2h",
    )  # fmt: skip
    model = run_model(data, tmp_path)
    c = model.collector.columns("replica_change")
    rows = [(t, r, REPLICA_CHANGES[k]) for t, r, k in zip(c["time"].tolist(), c["replica"].tolist(),
                                                           c["change"].tolist(), strict=True)]  # fmt: skip
    assert (H + 60, 1, "ready") in rows and (H + 60, 0, "draining") in rows
    latencies = [e - a for a, _, e, _ in requests_of(model)]
    assert len(latencies) == 1000 and max(latencies) == pytest.approx(0.01)


def test_slo_objectives_are_percentiles(tmp_path: Path) -> None:
    """Requests at 0, 10, 20, 30 s of 1, 1, 1 and 5 output tokens at 1 s a token on one replica: latencies
    1, 1, 1, 5 s (time to first token 1 s each).

    With latency_p50 2 s and latency_p99 4 s: the median (1 s) meets its bound, the p99 (5 s) does not, so
    slo_met is 0; attainment holds each request to the tail objective (4 s): 3 of 4. With latency_p99 6 s
    both objectives hold: slo_met 1, attainment 1.
    """
    path = trace(tmp_path, [(0, 1), (10, 1), (20, 1), (30, 5)], header="time,out")
    out = {}
    for p99 in ("4s", "6s"):
        requests = {"arrival": {"process": "trace", "path": path, "output_tokens": "out"}}
        slo = {"latency_p50": "2s", "latency_p99": p99}
        data = scenario(service(requests, {"decode": {"per_token": "1s"}}, slo=slo))
        s = simulate(build(data, str(tmp_path))).summary["services"]["by_service"]["s"]
        out[p99] = (s["slo_met"], s["slo_attainment"])
    assert out == {"4s": (0.0, 0.75), "6s": (1.0, 1.0)}
