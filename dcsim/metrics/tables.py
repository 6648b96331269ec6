"""Tables built from the collector's records: one row per job, and the timeseries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dcsim.infra.topology import LOCALITY_NAMES, Topology
from dcsim.metrics.collector import Collector
from dcsim.metrics.records import REPAIRED_BY
from dcsim.scenario.schema import COMPONENTS
from dcsim.workload.jobs import STATE_NAMES


def jobs_table(col: Collector, topology: Topology) -> pd.DataFrame:
    """One row per submitted job: what it asked for, when it waited, ran and finished.

    Columns (times in s from the start of the run; NaN where the event did not happen):
    ``job_id, job_class, tenant, priority, gpus, duration_s, estimate_s, submit_s,
    start_s, finish_s, wait_s, jct_s, slowdown, state, pool, gpu_type, first_node, nodes, racks,
    locality, interruptions, evictions``, ``checkpoint_interval_s`` when jobs checkpoint (the
    interval at the first start: Young/Daly's for ``young_daly``) and ``trace_id`` for trace jobs. ``start_s``, the
    placement columns and ``wait_s`` are of the first start; ``interruptions`` counts
    failures that cut the job short, ``evictions`` planned maintenance.
    """
    sub = Collector.columns(col.submitted)
    n = sub["time"].size
    start = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    pool = np.full(n, -1, dtype=np.int64)
    first_node = np.full(n, -1, dtype=np.int64)
    nodes = np.zeros(n, dtype=np.int64)
    racks = np.zeros(n, dtype=np.int64)
    locality = np.full(n, -1, dtype=np.int64)
    st = Collector.columns(col.started)
    if st["job_id"].size:
        # Reversed assignment keeps each job's first start (restarts come later).
        ids = st["job_id"][::-1]
        start[ids] = st["time"][::-1]
        pool[ids] = st["pool"][::-1]
        first_node[ids] = st["first_node"][::-1]
        nodes[ids] = st["nodes"][::-1]
        racks[ids] = st["racks"][::-1]
        locality[ids] = st["locality"][::-1]
    fin = Collector.columns(col.finished)
    if fin["job_id"].size:
        finish[fin["job_id"]] = fin["time"]
    state = np.where(~np.isnan(finish), 2, np.where(~np.isnan(start), 1, 0))
    interruptions = np.zeros(n, dtype=np.int64)
    evictions = np.zeros(n, dtype=np.int64)
    it = Collector.columns(col.interrupted)
    if it["job_id"].size:
        by_failure = it["failure"] >= 0
        interruptions = np.bincount(it["job_id"][by_failure], minlength=n).astype(np.int64)
        evictions = np.bincount(it["job_id"][~by_failure], minlength=n).astype(np.int64)
        # A job's state follows its last record: interrupted and requeued -> queued;
        # interrupted for good -> failed; started after that -> running.
        last_stop = np.full(n, -1, dtype=np.int64)
        last_stop[it["job_id"]] = it["seq"]
        last_start = np.full(n, -1, dtype=np.int64)
        last_start[st["job_id"]] = st["seq"]
        queued_again = (last_stop > last_start) & np.isnan(finish)
        state = np.where(queued_again, 0, state)
        gave_up = it["job_id"][it["requeued"] == 0]
        state[gave_up] = 3
    classes = np.array(col.class_names or [""], dtype=object)
    tenants = np.array(col.tenant_names or [""], dtype=object)
    pool_types = np.array([p.gpu_type for p in topology.pools] + [""], dtype=object)
    duration = sub["duration_s"].astype(float)
    # finish = start + duration in float arithmetic; snap that back so a job that never
    # waited has a slowdown of exactly 1, not 0.9999999999999.
    span = finish - start
    span = np.where(np.isclose(span, duration, rtol=1e-12, atol=0.0), duration, span)
    jct = (start - sub["time"]) + span
    frame = pd.DataFrame(
        {
            "job_id": np.arange(n, dtype=np.int64),
            "job_class": _categorical(sub["job_class"], classes),
            "tenant": _categorical(sub["tenant"], tenants),
            "priority": sub["priority"].astype(np.int64),
            "gpus": sub["gpus"].astype(np.int64),
            "duration_s": duration,
            "estimate_s": sub["estimate_s"].astype(float),
            "submit_s": sub["time"].astype(float),
            "start_s": start,
            "finish_s": finish,
            "wait_s": start - sub["time"],
            "jct_s": jct,
            "slowdown": jct / duration,
            "state": pd.Categorical.from_codes(state, categories=list(STATE_NAMES)),
            "pool": pool,
            "gpu_type": _categorical(pool, pool_types),
            "first_node": first_node,
            "nodes": nodes,
            "racks": racks,
            "locality": pd.Categorical.from_codes(locality, categories=list(LOCALITY_NAMES)),
            "interruptions": interruptions,
            "evictions": evictions,
        },
        copy=False,  # the columns are new arrays: no second copy of a million-row table
    )
    if col.checkpoint_intervals:
        frame["checkpoint_interval_s"] = pd.Series(col.checkpoint_intervals, dtype=float).reindex(frame.index)
    if len(col.trace_jobs):
        assert col.trace_id_column is not None
        ids = np.frombuffer(col.trace_jobs, dtype=np.int64)
        row = np.full(n, -1, dtype=np.int64)  # each job's row in the trace; -1: not a trace job (NaN)
        row[ids] = np.arange(ids.size)
        trace_ids = col.trace_id_column.iloc[: ids.size].reset_index(drop=True)
        frame["trace_id"] = trace_ids.reindex(row).set_axis(frame.index)
    return frame


def _categorical(codes: np.ndarray, names: np.ndarray) -> pd.Categorical:
    """``pd.Categorical(names[codes])`` (categories: the names present, sorted), without a string per row.

    Negative codes count from the end of ``names``, as in numpy indexing.
    """
    if not codes.size:
        return pd.Categorical([])
    codes = np.where(codes < 0, codes + len(names), codes)
    present = np.unique(codes)
    order = sorted(range(present.size), key=lambda i: names[present[i]])
    recode = np.zeros(len(names), dtype=np.int64)
    recode[present[order]] = np.arange(present.size)
    return pd.Categorical.from_codes(recode[codes], categories=[names[present[i]] for i in order])


def timeseries_table(col: Collector, installed_gpus: int) -> pd.DataFrame:
    """The sampled timeseries: ``time_s, busy_gpus, gpu_utilization, queued_jobs, running_jobs, power_kw``."""
    s = Collector.columns(col.samples)
    return pd.DataFrame(
        {
            "time_s": s["time"].astype(float),
            "busy_gpus": s["busy_gpus"].astype(np.int64),
            "gpu_utilization": s["busy_gpus"] / max(installed_gpus, 1),
            "queued_jobs": s["queued_jobs"].astype(np.int64),
            "running_jobs": s["running_jobs"].astype(np.int64),
            "power_kw": s["power_w"] / 1000.0,
        }
    )


def events_table(col: Collector) -> pd.DataFrame:
    """Every event record in the order the model emitted it.

    Columns: ``time_s, kind, job_id, pool, gpus, failure_id``. ``kind`` is ``job_submitted``,
    ``job_started``, ``job_finished``, ``job_interrupted`` (a failure or, with ``failure_id``
    -1, maintenance cut a run short), ``component_failed`` or ``component_repaired`` (the
    failed unit's slot back in service); ``job_id`` is -1 on component records and
    ``failure_id`` -1 where it does not apply. At one instant records keep their causal
    order (a completion comes before the start it made room for).
    """
    sub = Collector.columns(col.submitted)
    st = Collector.columns(col.started)
    fin = Collector.columns(col.finished)
    it = Collector.columns(col.interrupted)
    fa = Collector.columns(col.failures)
    back = Collector.columns(col.in_service)
    n = [sub["time"].size, st["time"].size, fin["time"].size, it["time"].size, fa["time"].size, back["time"].size]
    kinds = ["job_submitted", "job_started", "job_finished", "job_interrupted", "component_failed",
             "component_repaired"]  # fmt: skip

    def none(k: int) -> np.ndarray:
        return np.full(k, -1, dtype=np.int64)

    frame = pd.DataFrame(
        {
            "time_s": np.concatenate(
                [sub["time"], st["time"], fin["time"], it["time"], fa["time"], back["time"]]
            ).astype(float),
            "kind": pd.Categorical.from_codes(np.repeat(np.arange(6, dtype=np.int8), n), categories=kinds),
            "job_id": np.concatenate(
                [np.arange(n[0]), st["job_id"], fin["job_id"], it["job_id"], none(n[4]), none(n[5])]
            ).astype(np.int64),
            "pool": np.concatenate([none(n[0]), st["pool"], none(n[2]), none(n[3]), none(n[4]), none(n[5])]).astype(
                np.int64
            ),
            "failure_id": np.concatenate([none(sum(n[:3])), it["failure"], np.arange(n[4]), back["failure"]]).astype(
                np.int64
            ),
            "seq": np.concatenate([sub["seq"], st["seq"], fin["seq"], it["seq"], fa["seq"], back["seq"]]).astype(
                np.int64
            ),
        }
    )
    # GPUs: the job's on job records, the blast radius on failures, 0 on repairs.
    ids = frame["job_id"].to_numpy()
    job_gpus = sub["gpus"].astype(np.int64)[np.clip(ids, 0, None)] if n[0] else np.zeros(len(ids), dtype=np.int64)
    gpus = np.where(ids >= 0, job_gpus, 0)
    gpus[sum(n[:4]) : sum(n[:5])] = fa["gpus_down"]
    frame["gpus"] = gpus
    frame = frame.sort_values("seq", kind="stable").drop(columns="seq").reset_index(drop=True)
    return frame[["time_s", "kind", "job_id", "pool", "gpus", "failure_id"]]


def runs_table(col: Collector) -> pd.DataFrame:
    """One row per run of a job on its GPUs: ``job_id, pool, start_s, end_s`` (NaN: running at the end).

    A job without interruptions has one run; each interruption ends one and the next
    start begins another, so the k-th end record of a job closes its k-th start.
    """
    st = Collector.columns(col.started)
    runs = pd.DataFrame({"job_id": st["job_id"].astype(np.int64), "pool": st["pool"].astype(np.int64),
                         "start_s": st["time"].astype(float), "seq": st["seq"]})  # fmt: skip
    fin = Collector.columns(col.finished)
    it = Collector.columns(col.interrupted)
    if not it["job_id"].size:  # one run per job: match by job id
        end = pd.Series(fin["time"], index=fin["job_id"]) if fin["job_id"].size else pd.Series(dtype=float)
        runs["end_s"] = runs["job_id"].map(end).astype(float)
        return runs.drop(columns="seq")
    ends = pd.DataFrame({
        "job_id": np.concatenate([fin["job_id"], it["job_id"]]).astype(np.int64),
        "end_s": np.concatenate([fin["time"], it["time"]]).astype(float),
        "seq": np.concatenate([fin["seq"], it["seq"]]),
    }).sort_values("seq", kind="stable")  # fmt: skip
    runs = runs.sort_values("seq", kind="stable")
    runs["k"] = runs.groupby("job_id").cumcount()
    ends["k"] = ends.groupby("job_id").cumcount()
    out = runs.merge(ends.drop(columns="seq"), on=["job_id", "k"], how="left")
    return out.drop(columns=["seq", "k"]).reset_index(drop=True)


def overhead_table(col: Collector) -> pd.DataFrame:
    """Non-productive time of runs: ``job_id, start_s, end_s, restart_s, checkpoint_s, lost_s``."""
    o = Collector.columns(col.overhead)
    return pd.DataFrame({
        "job_id": o["job_id"].astype(np.int64), "start_s": o["start"].astype(float), "end_s": o["end"].astype(float),
        "restart_s": o["restart_s"].astype(float), "checkpoint_s": o["checkpoint_s"].astype(float),
        "lost_s": o["lost_s"].astype(float),
    })  # fmt: skip


def interruptions_table(col: Collector) -> pd.DataFrame:
    """One row per interrupted run: ``time_s, job_id, failure_id, lost_s, restart_s, requeued``.

    ``failure_id`` is -1 for a maintenance eviction.
    """
    it = Collector.columns(col.interrupted)
    return pd.DataFrame({
        "time_s": it["time"].astype(float), "job_id": it["job_id"].astype(np.int64),
        "failure_id": it["failure"].astype(np.int64), "lost_s": it["lost_s"].astype(float),
        "restart_s": it["restart_s"].astype(float), "requeued": it["requeued"].astype(bool),
    })  # fmt: skip


def component_names(components: np.ndarray, units: np.ndarray, topology: Topology) -> list[str]:
    """Names of units as failure traces write them: ``gpu:3.5``, ``node:3``, ``rack:1``, ``site:dc1``."""
    offsets = np.asarray(topology.gpu_offsets())
    node = np.searchsorted(offsets, units, side="right") - 1
    out = []
    for c, u, n in zip(components.tolist(), units.tolist(), node.tolist(), strict=True):
        if c == 0:
            out.append(f"gpu:{n}.{u - offsets[n]}")
        elif c == 3:
            out.append(f"site:{topology.site_names[u]}")
        else:
            out.append(f"{COMPONENTS[c]}:{u}")
    return out


def failures_table(col: Collector, topology: Topology, jobs: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per component failure.

    Columns: ``failure_id, time_s, component`` (gpu, node, rack, site), ``cause, domain``
    (the unit, as failure traces name it), ``gpus_down, traced, repaired_by`` (reboot,
    technician, trace; empty if not repaired by the end), ``spare`` (a spare node stood
    in), ``in_service_s`` (the slot back in service), ``repaired_s`` (the hardware fixed),
    ``time_to_repair_s`` (failure to back in service),
    ``wait_technician_s, wait_part_s, jobs_hit, lost_gpu_hours`` (work lost plus restart
    time of the jobs it interrupted).
    """
    f = Collector.columns(col.failures)
    n = f["time"].size
    components = COMPONENTS
    frame = pd.DataFrame({
        "failure_id": np.arange(n, dtype=np.int64),
        "time_s": f["time"].astype(float),
        "component": pd.Categorical.from_codes(f["component"].astype(np.int64), categories=list(components)),
        "cause": pd.Categorical.from_codes(f["cause"].astype(np.int64), categories=list(col.cause_names)),
        "domain": component_names(f["component"], f["unit"], topology),
        "gpus_down": f["gpus_down"].astype(np.int64),
        "traced": f["traced"].astype(bool),
    })  # fmt: skip
    r = Collector.columns(col.repairs)
    how_names = np.array(REPAIRED_BY, dtype=object)
    rep = pd.DataFrame({
        "repaired_by": how_names[r["how"].astype(np.int64)] if r["how"].size else np.array([], dtype=object),
        "repaired_s": r["repaired"].astype(float),
        "wait_technician_s": r["wait_technician_s"].astype(float),
        "wait_part_s": r["wait_part_s"].astype(float),
    }, index=r["failure"].astype(np.int64))  # fmt: skip
    back = Collector.columns(col.in_service)
    service = pd.DataFrame(
        {"spare": back["spare"].astype(bool), "in_service_s": back["time"].astype(float)},
        index=back["failure"].astype(np.int64),
    )
    frame = frame.join(service, on="failure_id").join(rep, on="failure_id")
    frame["spare"] = frame["spare"].astype("boolean").fillna(False).astype(bool)
    frame["time_to_repair_s"] = frame["in_service_s"] - frame["time_s"]
    it = interruptions_table(col)
    it = it[it["failure_id"] >= 0]
    gpus = jobs["gpus"].to_numpy() if jobs is not None else Collector.columns(col.submitted)["gpus"]
    lost = (it["lost_s"] + it["restart_s"]) * gpus[it["job_id"].to_numpy()] / 3600.0
    frame["jobs_hit"] = np.bincount(it["failure_id"], minlength=n)[:n].astype(np.int64)
    frame["lost_gpu_hours"] = np.bincount(it["failure_id"], weights=lost, minlength=n)[:n]
    order = ["failure_id", "time_s", "component", "cause", "domain", "gpus_down", "traced", "repaired_by", "spare",
             "in_service_s", "repaired_s", "time_to_repair_s", "wait_technician_s", "wait_part_s", "jobs_hit",
             "lost_gpu_hours"]  # fmt: skip
    return frame[order]


def down_table(col: Collector) -> pd.DataFrame:
    """GPUs out of service as a step function: ``time_s, gpus`` from that time on."""
    d = Collector.columns(col.down)
    return pd.DataFrame({"time_s": d["time"].astype(float), "gpus": d["gpus"].astype(np.int64)})


def epochs_table(log: list) -> pd.DataFrame:
    """One row per epoch of a batch scheduler (``lp``): what it solved, how, and what it started.

    Columns: ``time_s``, ``level`` (bins per node, rack or pool), ``jobs`` (in the
    window), ``bins``, ``candidates`` (job-bin pairs: the binary variables), ``status``
    (``optimal``, ``time_limit``, ...), ``solve_time_s`` (wall time: it varies from run
    to run), ``started``, ``unplaced`` (chosen but not placeable on nodes), ``fallback``
    (the placement policy decided instead), and the objective terms in USD
    (``cost_usd``, ``fault_usd``, ``fragmentation_usd``, ``wait_usd``).
    """
    columns = ["time_s", "level", "jobs", "bins", "candidates", "status", "solve_time_s", "started", "unplaced"]
    rows = [
        (e.time, e.level, e.jobs, e.bins, e.candidates, e.status, e.solve_time_s, e.started, e.unplaced,
         e.fallback, *(e.terms.get(t, 0.0) for t in ("cost", "fault", "fragmentation", "wait")))
        for e in log
    ]  # fmt: skip
    columns += ["fallback", "cost_usd", "fault_usd", "fragmentation_usd", "wait_usd"]
    table = pd.DataFrame(rows, columns=columns)
    return table.astype({"jobs": "int64", "bins": "int64", "candidates": "int64", "started": "int64",
                         "unplaced": "int64", "fallback": "bool"})  # fmt: skip
