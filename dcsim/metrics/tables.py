"""Tables built from the collector's records: one row per job, and the timeseries.

Tables are :class:`dcsim.core.table.Table` (numpy columns, no pandas): scoring and
writing them costs no pandas import; ``Table.to_pandas`` gives a DataFrame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dcsim.core.series import Steps
from dcsim.core.table import Coded, Table
from dcsim.faults.spec import COMPONENTS
from dcsim.infra.topology import LOCALITY_NAMES, Topology
from dcsim.metrics.collector import Collector
from dcsim.metrics.elastic_scores import ends
from dcsim.metrics.records import RECORDS, REPAIRED_BY, REQUEST_STATUS
from dcsim.metrics.window import sums_up_to
from dcsim.workload.jobs import DECOMMISSIONED, FAILURE, MAINTENANCE, REASONS, STATE_NAMES

if TYPE_CHECKING:
    import pyarrow as pa


def jobs_table(col: Collector, topology: Topology, end: float = math.nan) -> Table:
    """One row per submitted job: what it asked for, when it waited, ran and finished.

    Columns (times in s from the start of the run; NaN where the event did not happen):
    ``job_id, job_class, tenant, priority, gpus, duration_s, estimate_s, submit_s,
    start_s, finish_s, wait_s, jct_s, slowdown, state, pool, site, gpu_type, first_node, nodes, racks,
    locality, interruptions, evictions, preemptions``, ``checkpoint_interval_s`` when jobs checkpoint (the
    interval at the first start: Young/Daly's for ``young_daly``) and ``trace_id`` for trace jobs; where GPUs
    are shared, ``cpu`` (cores), ``memory`` (bytes) and ``gpu_fraction`` (the share of each of its GPUs, 1:
    whole). ``start_s``, the placement columns and ``wait_s`` are of the first start; ``interruptions`` counts
    failures that cut the job short, ``evictions`` planned maintenance, ``preemptions`` a policy's preemptions.
    With elastic classes, ``mean_gpus`` (GPUs held, time-weighted over its runs; runs still going count
    until ``end``, the end of the simulation) and ``resizes`` (changes of its count while running).
    """
    sub = col.columns("job_submitted")
    n = sub["time"].size
    start = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    pool = np.full(n, -1, dtype=np.int64)
    first_node = np.full(n, -1, dtype=np.int64)
    nodes = np.zeros(n, dtype=np.int64)
    racks = np.zeros(n, dtype=np.int64)
    locality = np.full(n, -1, dtype=np.int64)
    st = col.columns("job_started")
    if st["job_id"].size:
        # Reversed assignment keeps each job's first start (restarts come later).
        ids = st["job_id"][::-1]
        start[ids] = st["time"][::-1]
        pool[ids] = st["pool"][::-1]
        first_node[ids] = st["first_node"][::-1]
        nodes[ids] = st["nodes"][::-1]
        racks[ids] = st["racks"][::-1]
        locality[ids] = st["locality"][::-1]
    fin = col.columns("job_finished")
    if fin["job_id"].size:
        finish[fin["job_id"]] = fin["time"]
    state = np.where(~np.isnan(finish), 2, np.where(~np.isnan(start), 1, 0))
    interruptions = np.zeros(n, dtype=np.int64)
    evictions = np.zeros(n, dtype=np.int64)
    preemptions = np.zeros(n, dtype=np.int64)
    it = col.columns("job_interrupted")
    if it["job_id"].size:
        reason = it["reason"]
        interruptions = np.bincount(it["job_id"][reason == FAILURE], minlength=n).astype(np.int64)
        planned = (reason == MAINTENANCE) | (reason == DECOMMISSIONED)  # evicted: drained, or its rack removed
        evictions = np.bincount(it["job_id"][planned], minlength=n).astype(np.int64)
        preempted = (reason > MAINTENANCE) & (reason < DECOMMISSIONED)
        preemptions = np.bincount(it["job_id"][preempted], minlength=n).astype(np.int64)
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
    columns = {
        "job_id": np.arange(n, dtype=np.int64),
        "job_class": Coded.sorted_from(sub["job_class"], classes),
        "tenant": Coded.sorted_from(sub["tenant"], tenants),
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
        "state": Coded(state.astype(np.int32), STATE_NAMES),
        "pool": pool,
        "site": Coded.sorted_from(pool, np.array([p.site for p in topology.pools] + [""], dtype=object)),
        "gpu_type": Coded.sorted_from(pool, pool_types),
        "first_node": first_node,
        "nodes": nodes,
        "racks": racks,
        "locality": Coded(locality.astype(np.int32), LOCALITY_NAMES),
        "interruptions": interruptions,
        "evictions": evictions,
        "preemptions": preemptions,
        "network_slowdown": network_slowdown(col, n),
    }
    columns.update(routing_columns(col, n, topology.site_names))
    if len(col.elastic_spans["time"]):
        spans = elastic_spans_table(col)
        assert spans is not None
        columns.update(elastic_columns(spans, n, end))
    if col.demands:
        columns.update(demand_columns(col.demands, sub["gpus"]))
    if col.checkpoint_intervals:
        interval = np.full(n, np.nan)
        interval[list(col.checkpoint_intervals)] = list(col.checkpoint_intervals.values())
        columns["checkpoint_interval_s"] = interval
    if len(col.trace_jobs):
        assert col.trace_rows is not None
        ids = np.frombuffer(col.trace_jobs, dtype=np.int64)
        on_trace = np.full(n, -1, dtype=np.int64)  # each job's row in the trace file; -1: not a trace job (null)
        on_trace[ids] = col.trace_rows[: ids.size]
        columns["trace_id"] = trace_id_column(col.trace_ids, on_trace)
    return Table(columns)


def demand_columns(demands: dict[int, tuple[int, int, int, int]], gpus: np.ndarray) -> dict[str, np.ndarray]:
    """Where GPUs are shared: each job's ``cpu`` (cores), ``memory`` (bytes) and ``gpu_fraction`` (of each GPU).

    Jobs without a demand (a trace's) ask for no CPU or memory and whole GPUs.
    """
    n = gpus.size
    cpu, memory, fraction = np.zeros(n), np.zeros(n), np.ones(n)
    if demands:
        ids = np.fromiter(demands.keys(), dtype=np.int64, count=len(demands))
        rows = np.array(list(demands.values()), dtype=np.int64).reshape(-1, 4)
        cpu[ids] = rows[:, 0] / 1000.0
        memory[ids] = rows[:, 1] * float(2**20)
        fraction[ids] = np.where(rows[:, 2] > 0, rows[:, 3] / 1000.0, 1.0)
    return {"cpu": cpu, "memory": memory, "gpu_fraction": fraction}


def elastic_spans_table(col: Collector) -> Table | None:
    """Every span of an elastic run at one GPU count: ``start_s, job_id, pool, gpus, end_s, first`` (None: none)."""
    if not len(col.elastic_spans["time"]):
        return None
    return record_table(col, "elastic_span", time="start_s", until="end_s")


def elastic_columns(spans: Table, n: int, end: float) -> dict[str, np.ndarray]:
    """The jobs table's elastic columns, for ``n`` jobs; runs still going end at ``end``.

    ``mean_gpus``: GPUs held, time-weighted over all its runs (NaN: it never ran elastic);
    ``resizes``: changes of its GPU count while running.
    """
    length = ends(spans, end) - spans["start_s"]
    ids = spans["job_id"]
    seconds = np.bincount(ids, weights=length, minlength=n)
    gpu_seconds = np.bincount(ids, weights=length * spans["gpus"], minlength=n)
    counts = np.bincount(ids, minlength=n)
    last = np.zeros(n, dtype=np.int64)
    last[ids] = spans["gpus"]  # a run of no length (resized at once): its count
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(seconds > 0, gpu_seconds / seconds, np.where(counts > 0, last, np.nan))
    resizes = np.bincount(ids[~spans["first"]], minlength=n).astype(np.int64)
    return {"mean_gpus": mean, "resizes": resizes}


def routing_columns(col: Collector, n: int, sites: Sequence[str]) -> dict[str, Any]:
    """The jobs' routing columns, when a site router ran (else none).

    ``routed_site``: where its first routing sent it; ``deferred_s``: how long it was held back before
    that; ``stage_in_s``: the time its data took to reach its sites over the WAN, summed over
    its completed transfers (0: it ran where its data was).
    """
    routes = col.columns("job_routed")
    if not routes["time"].size:
        return {}
    first = routes["attempt"] == 0
    site = np.full(n, len(sites), dtype=np.int32)
    site[routes["job_id"][first]] = routes["site"][first]
    deferred = np.full(n, np.nan)
    deferred[routes["job_id"][first]] = routes["deferred_s"][first]
    stage_in = np.zeros(n)
    wan = col.columns("wan_transfer")
    if wan["job_id"].size:
        done = wan["completed"].astype(bool)
        np.add.at(stage_in, wan["job_id"][done], (wan["end"] - wan["start"])[done])
    return {"routed_site": Coded(site, (*sites, "")), "deferred_s": deferred, "stage_in_s": stage_in}


def trace_id_column(ids: pa.Array | None, rows: np.ndarray) -> pa.Array:
    """The ``trace_id`` column: the text id of each job's trace row (row -1, a job of a class: null)."""
    from dcsim.core.table import numbers_array
    from dcsim.workload.trace import trace_id_texts

    on = rows >= 0
    if on.all():
        return trace_id_texts(ids, rows)
    import pyarrow as pa

    positions = np.cumsum(on) - 1  # each trace job's place among the trace jobs
    where = numbers_array(np.where(on, positions, 0), pa.int64(), on)
    return trace_id_texts(ids, rows[on]).take(where)  # imports pyarrow.compute: a trace mixed with classes


def timeseries_table(col: Collector, installed_gpus: int | np.ndarray) -> Table:
    """The sampled timeseries: ``time_s, busy_gpus, gpu_utilization, queued_jobs, running_jobs, power_kw``.

    ``installed_gpus`` is the GPUs installed, or, when timed events add or remove racks, those
    installed at each sample (the utilization's denominator).

    With jobs on the fabric also ``nic_utilization`` and ``uplink_utilization`` (every
    switch-to-switch link): each tier's traffic over its capacity at the sample, and
    ``core_utilization`` (a fat-tree's pod-to-core links) where a site has them; with
    checkpoints of a size ``storage_utilization``: the sites' storage traffic over their bandwidth. Where GPUs
    are shared, ``gpu_allocated`` (milli-GPU allocated over installed: shares count as their share),
    ``cpu_allocated`` and ``memory_allocated`` (over installed; NaN where a node does not declare it).
    """
    s = col.columns("sample")
    columns = {
        "time_s": s["time"].astype(float),
        "busy_gpus": s["busy_gpus"].astype(np.int64),
        "gpu_utilization": s["busy_gpus"] / np.maximum(installed_gpus, 1),
        "queued_jobs": s["queued_jobs"].astype(np.int64),
        "running_jobs": s["running_jobs"].astype(np.int64),
        "power_kw": s["power_w"] / 1000.0,
    }
    net = col.columns("network_sample")
    if net["time"].size == s["time"].size and net["time"].size:
        columns["nic_utilization"] = net["nic_utilization"].astype(float)
        columns["uplink_utilization"] = net["uplink_utilization"].astype(float)
        core = net["core_utilization"].astype(float)
        if not np.isnan(core).all():
            columns["core_utilization"] = core
    if len(col.share_samples) == s["time"].size and col.share_samples:
        shared = np.array(col.share_samples, dtype=float)
        columns["gpu_allocated"], columns["cpu_allocated"], columns["memory_allocated"] = shared.T
    storage = col.columns("storage_sample")
    if storage["time"].size == s["time"].size and storage["time"].size:
        columns["storage_utilization"] = storage["storage_utilization"].astype(float)
    return Table(columns)


def events_table(col: Collector) -> Table:
    """Every event record in the order the model emitted it.

    Columns: ``time_s, kind, job_id, pool, gpus, failure_id``. ``kind`` is ``job_submitted``,
    ``job_started``, ``job_finished``, ``job_interrupted`` (a failure or, with ``failure_id``
    -1, maintenance cut a run short), ``component_failed`` or ``component_repaired`` (the
    failed unit's slot back in service); ``job_id`` is -1 on component records and
    ``failure_id`` -1 where it does not apply. At one instant records keep their causal
    order (a completion comes before the start it made room for).
    """
    kinds = [k for k in RECORDS.values() if k.ordered]  # in the order of their codes in ``kind``
    parts = [(k, col.columns(k.kind)) for k in kinds]
    n = [c["seq"].size for _, c in parts]

    def field(name: str) -> np.ndarray:
        """Each kind's field ``name`` (its row for a :data:`Row` field), -1 on kinds without it."""
        out = []
        for (k, c), size in zip(parts, n, strict=True):
            storage = dict(k.fields).get(name)
            if storage is None:
                out.append(np.full(size, -1, dtype=np.int64))
            else:
                out.append(c[name] if storage.stored else np.arange(size))
        return np.concatenate(out).astype(np.int64)

    job_id = field("job_id")
    # GPUs: the job's on job records, the blast radius on failures, 0 on repairs.
    gpus_of_job = col.columns("job_submitted")["gpus"].astype(np.int64)  # a submission's row is its job id
    job_gpus = gpus_of_job[np.clip(job_id, 0, None)] if gpus_of_job.size else np.zeros(job_id.size, np.int64)
    gpus = np.where(job_id >= 0, job_gpus, 0)
    at = np.cumsum([0, *n])
    for i, (_, c) in enumerate(parts):
        if "gpus_down" in c:
            gpus[at[i] : at[i + 1]] = c["gpus_down"]
    seq = np.concatenate([c["seq"] for _, c in parts]).astype(np.int64)
    order = np.argsort(seq, kind="stable")
    columns = {
        "time_s": np.concatenate([c["time"] for _, c in parts]).astype(float),
        "kind": Coded(np.repeat(np.arange(len(kinds), dtype=np.int32), n), tuple(k.kind for k in kinds)),
        "job_id": job_id,
        "pool": field("pool"),
        "gpus": gpus,
        "failure_id": field("failure"),
    }
    return Table(columns).rows(order)


def runs_table(col: Collector) -> Table:
    """One row per run of a job on its GPUs: ``job_id, pool, start_s, end_s`` (NaN: running at the end).

    A job without interruptions has one run; each interruption ends one and the next
    start begins another, so the k-th end record of a job closes its k-th start.
    Rows are in the order the runs started.
    """
    st = col.columns("job_started")
    fin = col.columns("job_finished")
    it = col.columns("job_interrupted")
    job = st["job_id"].astype(np.int64)
    end = np.full(job.size, np.nan)
    if not it["job_id"].size:  # one run per job: match by job id
        if fin["job_id"].size and job.size:
            last = np.full(int(max(job.max(), fin["job_id"].max())) + 1, np.nan)
            last[fin["job_id"]] = fin["time"]
            end = last[job]
    else:
        ends_job = np.concatenate([fin["job_id"], it["job_id"]]).astype(np.int64)
        ends_time = np.concatenate([fin["time"], it["time"]]).astype(float)
        by_seq = np.argsort(np.concatenate([fin["seq"], it["seq"]]), kind="stable")
        ends_job, ends_time = ends_job[by_seq], ends_time[by_seq]
        span = max(job.size, ends_job.size) + 1
        start_key = _nth_key(job, span)  # (job, k): the k-th start of the job ...
        end_key = _nth_key(ends_job, span)  # ... and the k-th end
        order = np.argsort(end_key, kind="stable")
        at = np.searchsorted(end_key[order], start_key)
        found = at < end_key.size
        found[found] = end_key[order[at[found]]] == start_key[found]
        end[found] = ends_time[order[at[found]]]
    return Table({"job_id": job, "pool": st["pool"].astype(np.int64), "start_s": st["time"].astype(float),
                  "end_s": end})  # fmt: skip


def _nth_key(job: np.ndarray, span: int) -> np.ndarray:
    """(job, how many earlier rows had that job) as one integer, ``job * span + k`` (``span``: above any k)."""
    order = np.argsort(job, kind="stable")
    sorted_job = job[order]
    first = np.searchsorted(sorted_job, sorted_job, side="left")
    nth = np.empty(job.size, dtype=np.int64)
    nth[order] = np.arange(job.size) - first
    return job * span + nth


def record_table(col: Collector, kind: str, **names: str) -> Table:
    """The fields of a record kind as a table, in declaration order, columns renamed by ``names``.

    Floats are float64, integers int64, flags bool, coded text :class:`Coded`, a :data:`Row`
    field its rows; ``seq`` is left out.
    """
    c = col.columns(kind)
    size = len(next(iter(c.values())))
    out: dict[str, Any] = {}
    for name, storage in RECORDS[kind].fields:
        if not storage.stored:
            values: Any = np.arange(size, dtype=np.int64)
        elif storage.names:
            values = Coded(c[name].astype(np.int32), tuple(col.names[storage.names]))
        else:
            values = c[name].astype(storage.dtype)
        out[names.get(name, name)] = values
    return Table(out)


def overhead_table(col: Collector) -> Table:
    """Non-productive time of runs: ``job_id, start_s, end_s, restart_s, checkpoint_s, lost_s``."""
    return record_table(col, "run_overhead", start="start_s", end="end_s")


def network_slowdown(col: Collector, n: int) -> np.ndarray:
    """Each job's time in its steps over the same work's time on an idle fabric (NaN: no fabric traffic)."""
    runs = col.columns("network_run")
    out = np.full(n, np.nan)
    if runs["job_id"].size:
        ids = runs["job_id"]
        compute = np.bincount(ids, weights=runs["compute_s"], minlength=n)[:n]
        idle = np.bincount(ids, weights=runs["idle_s"], minlength=n)[:n]
        seen = np.bincount(ids, minlength=n)[:n] > 0
        out[seen] = np.divide(compute[seen], idle[seen], out=np.ones(int(seen.sum())), where=idle[seen] > 0)
    return out


def link_usage_table(col: Collector) -> Table:
    """One row per fabric link: ``link, tier`` (0 NIC, 1 uplink, 2 core), ``capacity`` bits/s, ``bits`` in window."""
    return record_table(col, "link_usage")


def links_table(usage: Table, tiers: Sequence[str], labels: Sequence[str], window_s: float) -> Table:
    """The fabric's links as a run's ``links`` table: each link's traffic over the measured window.

    Columns: ``link`` (id), ``tier`` (``nic``, ``uplink``), ``label`` (the link in words, e.g.
    ``uplinks up, rack 2``), ``capacity_bps``, ``bits`` (carried inside the window) and
    ``utilization`` (bits over capacity x the window's length; 0 for an empty window).

    Args:
        usage: :func:`link_usage_table`.
        tiers: tier names by code.
        labels: each link's label, by link id.
        window_s: length of the measured window, s.
    """
    capacity = usage["capacity"]
    room = capacity * window_s
    return Table({
        "link": usage["link"],
        "tier": Coded(usage["tier"].astype(np.int32), tuple(tiers)),
        "label": np.array([labels[int(x)] for x in usage["link"]], dtype=object),
        "capacity_bps": capacity,
        "bits": usage["bits"],
        "utilization": np.divide(usage["bits"], room, out=np.zeros_like(room), where=room > 0),
    })  # fmt: skip


def storage_tables(col: Collector) -> tuple[Table, Table]:
    """The transfers through storage, and the storage links' use in the window.

    Transfers: ``job_id, read, site, start_s, end_s, bytes, idle_s, completed``; links: ``link,
    site, rack`` (-1: the site's link), ``capacity`` (bits/s), ``bits, busy_s``.
    """
    return record_table(col, "storage_transfer", start="start_s", end="end_s"), record_table(col, "storage_usage")


def network_runs_table(col: Collector) -> Table:
    """One row per run whose traffic crossed the fabric: ``job_id, start_s, end_s, compute_s, idle_s, bytes``."""
    return record_table(col, "network_run", start="start_s", end="end_s")


def interruptions_table(col: Collector) -> Table:
    """One row per interrupted run: ``time_s, job_id, failure_id, lost_s, restart_s, requeued, reason``.

    ``reason``: failure, maintenance, or a policy's preemption (priority, quota, scale_up);
    ``failure_id`` is -1 unless a failure.
    """
    table = record_table(col, "job_interrupted", time="time_s", failure="failure_id").columns
    return Table({**table, "reason": Coded(table["reason"].astype(np.int32), REASONS)})


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


def failures_table(col: Collector, topology: Topology, jobs: Table | None = None) -> Table:
    """One row per component failure.

    Columns: ``failure_id, time_s, component`` (gpu, node, rack, site), ``cause, domain``
    (the unit, as failure traces name it), ``gpus_down, traced, repaired_by`` (reboot,
    technician, trace; empty if not repaired by the end), ``spare`` (a spare node stood
    in), ``in_service_s`` (the slot back in service), ``repaired_s`` (the hardware fixed),
    ``time_to_repair_s`` (failure to back in service),
    ``wait_technician_s, wait_part_s, jobs_hit, lost_gpu_hours`` (work lost plus restart
    time of the jobs it interrupted).
    """
    f = col.columns("component_failed")
    n = f["time"].size
    r = col.columns("hardware_repaired")
    repaired = r["failure"].astype(np.int64)

    def by_repair(values: np.ndarray) -> np.ndarray:
        out = np.full(n, np.nan)
        out[repaired] = values
        return out

    how = np.full(n, -1, dtype=np.int32)
    how[repaired] = r["how"]
    back = col.columns("component_repaired")
    spare = np.zeros(n, dtype=bool)
    spare[back["failure"]] = back["spare"].astype(bool)
    in_service = np.full(n, np.nan)
    in_service[back["failure"]] = back["time"]
    time_s = f["time"].astype(float)
    it = interruptions_table(col)
    it = it.rows(it.number("failure_id") >= 0)
    gpus = jobs.number("gpus") if jobs is not None else col.columns("job_submitted")["gpus"]
    hit = it.number("failure_id")
    lost = (it.number("lost_s") + it.number("restart_s")) * gpus[it.number("job_id")] / 3600.0
    return Table({
        "failure_id": np.arange(n, dtype=np.int64),
        "time_s": time_s,
        "component": Coded(f["component"].astype(np.int32), tuple(COMPONENTS)),
        "cause": Coded(f["cause"].astype(np.int32), tuple(col.cause_names)),
        "domain": np.array(component_names(f["component"], f["unit"], topology), dtype=object),
        "gpus_down": f["gpus_down"].astype(np.int64),
        "traced": f["traced"].astype(bool),
        "repaired_by": Coded(how, REPAIRED_BY).strings(),
        "spare": spare,
        "in_service_s": in_service,
        "repaired_s": by_repair(r["repaired"]),
        "time_to_repair_s": in_service - time_s,
        "wait_technician_s": by_repair(r["wait_technician_s"]),
        "wait_part_s": by_repair(r["wait_part_s"]),
        "jobs_hit": np.bincount(hit, minlength=n)[:n].astype(np.int64),
        "lost_gpu_hours": np.bincount(hit, weights=lost, minlength=n)[:n],
    })  # fmt: skip


def down_table(col: Collector) -> Table:
    """GPUs out of service as a step function: ``time_s, gpus`` from that time on."""
    times, gpus = col.down.series().columns()
    return Table({"time_s": times.astype(float), "gpus": gpus.astype(np.int64)})


def epochs_table(log: list) -> Table:
    """One row per epoch of a batch scheduler (``lp``): what it solved, how, and what it started.

    Columns: ``time_s``, ``level`` (bins per node, rack or pool), ``jobs`` (in the
    window), ``bins``, ``candidates`` (job-bin pairs: the binary variables), ``status``
    (``optimal``, ``time_limit``, ...), ``solve_time_s`` (wall time: it varies from run
    to run), ``started``, ``unplaced`` (chosen but not placeable on nodes), ``fallback``
    (the placement policy decided instead), and the objective terms in USD
    (``cost_usd``, ``fault_usd``, ``fragmentation_usd``, ``network_usd``, ``wait_usd``).
    """

    def column(values: list, dtype: type) -> np.ndarray:
        return np.array(values, dtype=dtype) if values else np.zeros(0, dtype=dtype)

    columns = {
        "time_s": column([e.time for e in log], float),
        "level": column([e.level for e in log], object),
        "jobs": column([e.jobs for e in log], np.int64),
        "bins": column([e.bins for e in log], np.int64),
        "candidates": column([e.candidates for e in log], np.int64),
        "status": column([e.status for e in log], object),
        "solve_time_s": column([e.solve_time_s for e in log], float),
        "started": column([e.started for e in log], np.int64),
        "unplaced": column([e.unplaced for e in log], np.int64),
        "fallback": column([e.fallback for e in log], bool),
    }
    for term in ("cost", "fault", "fragmentation", "network", "wait"):
        columns[f"{term}_usd"] = column([e.terms.get(term, 0.0) for e in log], float)
    return Table(columns)


def requests_table(col: Collector) -> Table:
    """Every request that arrived, in the order they ended.

    Columns: ``service``, ``arrival_s``, ``first_token_s``, ``end_s``, ``latency_s``, ``replica``,
    ``status`` (:data:`dcsim.metrics.records.REQUEST_STATUS`), ``retried``, ``site`` (where it was
    served, an index in ``datacenter.sites``; -1: nowhere) and ``origin`` (where its user is; -1:
    not modelled). Latency and time to first token include the round trip from origin to site.
    """
    t = record_table(col, "request_done", arrival="arrival_s", first_token="first_token_s", end="end_s")
    cols = dict(t.columns)
    cols["status"] = Coded(np.asarray(cols["status"], dtype=np.int32), REQUEST_STATUS)
    cols["latency_s"] = cols["end_s"] - cols["arrival_s"]
    order = ["service", "arrival_s", "first_token_s", "end_s", "latency_s", "replica", "status", "retried", "site",
             "origin"]  # fmt: skip
    return Table({k: cols[k] for k in order})


def site_failures(col: Collector) -> list[tuple[float, int]]:
    """(time, site index) of every failure of a whole site, in time order."""
    from dcsim.infra.components import SITE

    f = col.columns("component_failed")
    hit = f["component"] == SITE
    return list(zip(f["time"][hit].tolist(), f["unit"][hit].tolist(), strict=True))


def sample_rows(table: Table, most: int) -> Table:
    """The table, or a uniform random sample of about ``most`` of its rows (the same for the same table size)."""
    n = len(table)
    if n <= most:
        return table
    keep = np.random.default_rng(n).random(n) < most / n
    return table.rows(keep)


def binned_percentiles(bins: np.ndarray, values: np.ndarray, n: int, qs: Sequence[float]) -> list[np.ndarray]:
    """Percentiles ``qs`` of ``values`` within each of ``n`` bins (``bins[i]`` is value i's bin; NaN: empty)."""
    out = [np.full(n, np.nan) for _ in qs]
    ok = (bins >= 0) & (bins < n) & ~np.isnan(values)
    bins, values = bins[ok], values[ok]
    if not bins.size:
        return out
    order = np.lexsort((values, bins))
    bins, values = bins[order], values[order]
    starts = np.searchsorted(bins, np.arange(n), side="left")
    ends = np.searchsorted(bins, np.arange(n), side="right")
    for j, q in enumerate(qs):
        has = ends > starts
        pos = starts[has] + (ends[has] - starts[has] - 1) * q / 100.0
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, ends[has] - 1)
        frac = pos - lo
        out[j][has] = values[lo] * (1 - frac) + values[hi] * frac
    return out


def services_timeline(col: Collector, requests: Table) -> Table:
    """The services over time, one row per service and timeseries sample.

    Replicas by state, requests in flight, arrivals since the previous sample, and the latency
    percentiles of the requests that arrived since then and were served (``p50_latency_s``,
    ``p95_latency_s``, ``p99_latency_s``).
    """
    t = record_table(col, "service_sample")
    svc = t.coded("service")
    parts: dict[str, list[np.ndarray]] = {}
    req_svc = requests.coded("service")
    served = requests.coded("status").is_("completed")
    for code in range(len(svc.names)):
        rows = np.flatnonzero(svc.codes == code)
        times = t["time"][rows]
        mine = served & (req_svc.codes == code)
        arrival = requests["arrival_s"][mine]
        bins = np.searchsorted(times, arrival, side="left")  # (previous sample, this one]
        p50, p95, p99 = binned_percentiles(bins, requests["latency_s"][mine], times.size, (50, 95, 99))
        arrived = t["arrived"][rows]
        step = np.diff(arrived, prepend=0)
        cols = {
            "time": times, "service": svc.codes[rows], "replicas": t["replicas"][rows], "ready": t["ready"][rows],
            "starting": t["starting"][rows], "pending": t["pending"][rows], "outstanding": t["outstanding"][rows],
            "arrivals": step, "p50_latency_s": p50, "p95_latency_s": p95, "p99_latency_s": p99,
        }  # fmt: skip
        for k, v in cols.items():
            parts.setdefault(k, []).append(np.asarray(v))
    out: dict[str, Any] = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    if not out:
        return Table({"time": np.zeros(0)})
    out["service"] = Coded(out["service"].astype(np.int32), svc.names)
    return Table(out)


def scaling_table(col: Collector) -> Table:
    """Every autoscaler decision: ``time``, ``service``, ``current``, ``ready``, ``desired``, ``applied``, ``site``."""
    return record_table(col, "scale_decision")


def scenario_events_table(col: Collector) -> Table:
    """Every timed event's start and end: ``time``, ``event`` (its index), ``phase``, ``action`` and ``what``."""
    table = record_table(col, "scenario_event")
    phase = table["phase"].astype(np.int32)
    return Table({**table.columns, "phase": Coded(phase, ("start", "end"))})


def site_timeseries_table(
    sample_s: np.ndarray,
    spans: Sequence[tuple[np.ndarray, ...]],
    topology: Topology,
    price: Callable[[int], Steps],
    carbon: Callable[[int], Steps | None],
    levels: Sequence[Steps] | None = None,
) -> Table:
    """Each site at each sample: ``time_s, site, busy_gpus, installed_gpus, electricity_usd_per_kwh, carbon_g_per_kwh``.

    Busy GPUs are those held at the sample's instant by job runs and service replicas (``spans``:
    ``(start, end, gpus, pool)`` each, end NaN: still held), so the sites' sum is the timeseries'
    ``busy_gpus``; the price and intensity are those in force then (carbon NaN where it is not counted).

    Args:
        sample_s: the sample times, s.
        spans: stretches of held GPUs.
        topology: the data center's layout (its pools' sites).
        price: each site's electricity price over time, by site index.
        carbon: each site's carbon intensity over time, by site index (None: not counted).
        levels: GPUs installed in each pool over time, when timed events add or remove racks
            (None: every GPU of the pools throughout).
    """
    names = topology.site_names
    index = {name: i for i, name in enumerate(names)}
    site_of_pool = np.array([index[p.site] for p in topology.pools], dtype=np.int64)
    n, k = sample_s.size, len(names)
    times, sites, weights = [], [], []
    for start, end, gpus, pool in spans:  # +g when a stretch begins, -g when it ends
        ended = ~np.isnan(end)
        g = np.asarray(gpus, dtype=float)
        times += [start, end[ended]]
        sites += [site_of_pool[pool], site_of_pool[pool][ended]]
        weights += [g, -g[ended]]
    busy = sums_up_to(np.concatenate(times), np.concatenate(sites), np.concatenate(weights), k, sample_s)
    gpus_of_pool = np.array([p.gpus for p in topology.pools], dtype=float)
    if levels is None:
        installed = np.repeat(np.bincount(site_of_pool, weights=gpus_of_pool, minlength=k), n)
    else:
        at = np.append(sample_s, np.inf)
        installed = np.zeros((k, n))
        for pool, level in enumerate(levels):
            installed[site_of_pool[pool]] += level.bin_values(at)
        installed = installed.reshape(-1)
    rows = np.arange(n * k)
    site_code = rows // n
    when = sample_s[rows % n]
    usd = np.concatenate([price(i).bin_values(np.append(sample_s, np.inf)) for i in range(k)])
    intensity = [carbon(i) for i in range(k)]
    grams = np.concatenate(
        [c.bin_values(np.append(sample_s, np.inf)) if c is not None else np.full(n, np.nan) for c in intensity]
    )
    return Table({
        "time_s": when,
        "site": Coded.sorted_from(site_code, list(names)),
        "busy_gpus": np.rint(busy.reshape(-1)).astype(np.int64),
        "installed_gpus": np.rint(installed).astype(np.int64),
        "electricity_usd_per_kwh": usd,
        "carbon_g_per_kwh": grams,
    })  # fmt: skip
