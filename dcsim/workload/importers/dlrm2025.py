"""Alibaba's GPU-disaggregated DLRM serving trace (cluster-trace-gpu-v2025) -> a job trace of GPU instances.

The trace (Yang et al., "GPU-Disaggregated Serving for Deep Learning Recommendation Models
at Scale", NSDI'25; github.com/alibaba/clusterdata, ``cluster-trace-gpu-v2025``) lists
inference instances, one a row: ``instance_sn, role`` (CN: a CPU node instance, HN: a GPU
node instance), ``app_name``, CPU, GPU, RDMA, memory and disk requests and limits,
``max_instance_per_node``, and ``creation_time``, ``scheduled_time`` and ``deletion_time``
in seconds from the trace's start (NaN: before the trace began, or after it ended).

It has no requests to replay, so each GPU instance becomes a job that holds its GPUs from
its scheduling to its deletion: submitted at ``creation_time``, running for ``deletion_time
- scheduled_time``, on ``gpu_request`` GPUs, its tenant its ``app_name``. The question it
answers is the fleet's: how many GPUs do these services hold over time, and does a given
cluster fit them. Instances cut by the trace's window are kept, clipped to it (an instance
that existed before the trace began starts at 0; one that outlived it ends at the trace's
last recorded time), and counted in the notes. Dropped, by reason: CPU instances (no GPU),
instances created in the trace but never scheduled, and instances that end before (or as)
they are scheduled. The data center is a stated default: the most GPUs the instances held at
once, in 8-GPU nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dcsim.core.errors import TraceError
from dcsim.workload.importers import ImportReport, importer
from dcsim.workload.importers.common import (
    Job,
    csv_rows,
    job_scenario,
    number,
    peak_gpus,
    site_of_gpus,
    write_jobs,
    write_scenario,
)

COLUMNS = ("instance_sn", "role", "app_name", "cpu_request", "gpu_request", "memory_request", "max_instance_per_node",
           "creation_time", "scheduled_time", "deletion_time")  # fmt: skip


@importer(
    "dlrm2025",
    "INSTANCE_TRACE",
    "Alibaba GPU-disaggregated DLRM serving (NSDI'25, cluster-trace-gpu-v2025): disaggregated_DLRM_trace.csv -> "
    "jobs.csv (each GPU instance's lifetime) and dlrm2025.yaml",
)
def import_dlrm2025(files: Sequence[Path], out: Path) -> ImportReport:
    """Convert the DLRM instance trace into a job trace of GPU instance lifetimes and a scenario."""
    report = ImportReport("dlrm2025")
    path = files[0]
    parsed = []
    end_of_trace = 0.0
    for line, row in csv_rows(path, COLUMNS, "the DLRM instance trace (disaggregated_DLRM_trace.csv)"):
        report.read += 1
        values = {c: number(row[c], path, line, c) for c in COLUMNS[3:]}
        for c in ("cpu_request", "gpu_request", "memory_request", "creation_time", "scheduled_time", "deletion_time"):
            if (values[c] or 0) < 0:
                raise TraceError(f"{path} line {line}: column {c!r} is {row[c]!r}; it must be >= 0 (or empty)")
        if row["role"] not in ("CN", "HN"):
            raise TraceError(f"{path} line {line}: column 'role' is {row['role']!r}; it must be CN or HN")
        end_of_trace = max([end_of_trace] + [values[c] or 0 for c in COLUMNS[-3:]])
        parsed.append((line, row, values))
    jobs: list[Job] = []
    before = after = 0
    for _, row, v in parsed:
        gpus = v["gpu_request"] or 0
        created, scheduled, deleted = v["creation_time"], v["scheduled_time"], v["deletion_time"]
        if gpus <= 0:
            report.dropped["no GPU (a CPU-node instance)"] += 1
            continue
        if created is not None and scheduled is None:
            report.dropped["created in the trace but never scheduled"] += 1
            continue
        if scheduled is None:
            before += 1
            created = scheduled = 0.0
        if deleted is None:
            after += 1
            deleted = end_of_trace
        assert created is not None
        if deleted <= scheduled:
            report.dropped["ended before (or as) it was scheduled"] += 1
            continue
        extra = {"cpu_cores": v["cpu_request"], "memory_gb": v["memory_request"],
                 "max_instance_per_node": v["max_instance_per_node"], "wait_s": scheduled - created}  # fmt: skip
        jobs.append(Job(row["instance_sn"], created, int(-(-gpus // 1)), deleted - scheduled, row["app_name"],
                        scheduled, extra))  # fmt: skip
    if not jobs:
        raise TraceError(f"{path}: no GPU instance to replay; give the DLRM trace (disaggregated_DLRM_trace.csv)")
    report.kept = len(jobs)
    if before:
        report.notes.append(f"{before:,} GPU instance(s) existed before the trace began: each starts at 0")
    if after:
        report.notes.append(f"{after:,} GPU instance(s) outlived the trace: each ends at its last recorded time "
                            f"({end_of_trace:,.0f} s)")  # fmt: skip
    gpus = max(peak_gpus(jobs), max(j.gpus for j in jobs))
    datacenter = site_of_gpus("dlrm", gpus, "H100")
    report.notes.append(f"the data center is the most GPUs the instances held at once, {gpus:,}, in 8-GPU H100 "
                        "nodes (the trace does not list its machines; edit it)")  # fmt: skip
    report.notes.append("max_instance_per_node (anti-affinity), RDMA and disk requests are not modelled; CPU and "
                        "memory requests are kept in jobs.csv")  # fmt: skip
    written, trace, _ = write_jobs(out, jobs, ("cpu_cores", "memory_gb", "max_instance_per_node", "wait_s"))
    comment = f"""\
Alibaba GPU-disaggregated DLRM serving (NSDI'25), imported by `dcsim import dlrm2025`: each of
{report.kept:,} GPU inference instances holds its GPUs from its scheduling to its deletion
(instances cut by the trace's window clipped to it); its tenant is its app.
Question: does this cluster hold the services' instances, and how long would they wait for
GPUs on a smaller one? The data center (the peak the instances held, {gpus:,} GPUs) is a
default: shrink `datacenter` to see instances queue, e.g.
  dcsim run dlrm2025.yaml --set datacenter.sites.0.racks=1"""
    scenario = job_scenario("dlrm2025", "DLRM inference instances' GPU lifetimes replayed", datacenter, trace)
    report.written += [write_scenario(out / "dlrm2025.yaml", comment, scenario), written]
    return report
