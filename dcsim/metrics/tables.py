"""Tables built from the collector's records: one row per job, and the timeseries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dcsim.infra.topology import LOCALITY_NAMES, Topology
from dcsim.metrics.collector import Collector
from dcsim.workload.jobs import STATE_NAMES


def jobs_table(col: Collector, topology: Topology) -> pd.DataFrame:
    """One row per submitted job: what it asked for, when it waited, ran and finished.

    Columns (times in s from the start of the run; NaN where the event did not happen):
    ``job_id, job_class, tenant, priority, gpus, duration_s, estimate_s, submit_s,
    start_s, finish_s, wait_s, jct_s, slowdown, state, pool, gpu_type, first_node, nodes, racks,
    locality`` and ``trace_id`` for trace jobs.
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
            "job_class": pd.Categorical(classes[sub["job_class"]]) if n else pd.Categorical([]),
            "tenant": pd.Categorical(tenants[sub["tenant"]]) if n else pd.Categorical([]),
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
            "gpu_type": pd.Categorical(pool_types[pool]) if n else pd.Categorical([]),
            "first_node": first_node,
            "nodes": nodes,
            "racks": racks,
            "locality": pd.Categorical.from_codes(locality, categories=list(LOCALITY_NAMES)),
        }
    )
    if col.trace_ids:
        frame["trace_id"] = pd.Series(col.trace_ids, dtype=object).reindex(frame.index)
    return frame


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
    """Every job event in time order: ``time_s, kind, job_id`` plus the job's pool and GPUs where known.

    ``kind`` is ``job_submitted``, ``job_started`` or ``job_finished`` (the record types of
    :mod:`dcsim.metrics.records`), in the order the model emitted them (so at one instant a
    completion comes before the start it made room for).
    """
    sub = Collector.columns(col.submitted)
    st = Collector.columns(col.started)
    fin = Collector.columns(col.finished)
    n_sub, n_st, n_fin = sub["time"].size, st["time"].size, fin["time"].size
    gpus = sub["gpus"].astype(np.int64)
    kinds = ["job_submitted", "job_started", "job_finished"]
    frame = pd.DataFrame(
        {
            "time_s": np.concatenate([sub["time"], st["time"], fin["time"]]).astype(float),
            "kind": pd.Categorical.from_codes(
                np.repeat(np.arange(3, dtype=np.int8), [n_sub, n_st, n_fin]), categories=kinds
            ),
            "job_id": np.concatenate([np.arange(n_sub), st["job_id"], fin["job_id"]]).astype(np.int64),
            "pool": np.concatenate([np.full(n_sub, -1), st["pool"], np.full(n_fin, -1)]).astype(np.int64),
            "seq": np.concatenate([sub["seq"], st["seq"], fin["seq"]]).astype(np.int64),
        }
    )
    frame["gpus"] = gpus[frame["job_id"].to_numpy()] if n_sub else np.array([], dtype=np.int64)
    return frame.sort_values("seq", kind="stable").drop(columns="seq").reset_index(drop=True)
