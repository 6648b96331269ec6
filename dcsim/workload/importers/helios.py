"""SenseTime Helios (HeliosData): jobs from a cluster's ``cluster_log.csv``, GPUs from ``cluster_gpu_number.csv``.

The trace (Hu et al., "Characterization and Prediction of Deep Learning Workloads in
Large-Scale GPU Datacenters", SC'21; github.com/S-Lab-System-Group/HeliosData) has one
Slurm job per row: ``job_id, user, vc, gpu_num, cpu_num, node_num, state, submit_time,
start_time, end_time, duration, queue`` (times written ``2020-06-09 18:41:01``, ``duration``
and ``queue`` in seconds).

What a job takes: submission ``submit_time``; run time ``duration`` (where it is empty,
``end_time - start_time``); GPUs ``gpu_num``; tenant its ``vc`` (the unit of Helios's
quotas; the user is kept in ``user``), the state in ``state``.

Kept: jobs that ran and ended, whatever the state (COMPLETED, CANCELLED, FAILED, TIMEOUT,
NODE_FAIL: each held its GPUs for its run time). Dropped, by reason: CPU jobs (``gpu_num``
0, about half the trace), jobs not ended (RUNNING, PENDING, SUSPENDED), jobs that ran for no
time or end before they start, jobs without a submission time, and jobs larger than the
data center.

``cluster_gpu_number.csv`` (optional: the GPUs of each VC per day and the ``total``) sizes
the data center: the largest daily total, in 8-GPU nodes. Without it, the data center is
the most GPUs the kept jobs held at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dcsim.core.errors import TraceError
from dcsim.workload.importers import ImportReport, importer
from dcsim.workload.importers.common import (
    Job,
    csv_rows,
    fitting,
    job_scenario,
    number,
    peak_gpus,
    site_of_gpus,
    timestamp,
    write_jobs,
    write_scenario,
)

COLUMNS = ("job_id", "user", "vc", "gpu_num", "state", "submit_time", "start_time", "end_time", "duration")
ENDED = ("COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL",
         "DEADLINE")  # fmt: skip
"""Slurm's states of a job that has ended."""
RUNNING = ("RUNNING", "PENDING", "SUSPENDED", "REQUEUED", "RESIZING", "CONFIGURING", "COMPLETING")
"""Slurm's states of a job that has not ended."""
GPU_TYPE = "V100"
PER_NODE = 8


@importer(
    "helios",
    "CLUSTER_LOG [GPU_NUMBER]",
    "SenseTime Helios (SC'21, HeliosData): a cluster's cluster_log.csv and optionally its "
    "cluster_gpu_number.csv -> jobs.csv and helios.yaml",
)
def import_helios(files: Sequence[Path], out: Path) -> ImportReport:
    """Convert a Helios cluster's job log (and its GPU count) into a job trace and a scenario."""
    report = ImportReport("helios")
    log = files[0]
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    for line, row in csv_rows(log, COLUMNS, "a Helios cluster_log.csv"):
        report.read += 1
        name = row["job_id"]
        if name in seen:
            raise TraceError(f"{log} lines {seen[name]} and {line}: job_id {name!r} twice; job ids are unique")
        seen[name] = line
        state = row["state"].upper()
        if state not in ENDED and state not in RUNNING:
            raise TraceError(f"{log} line {line}: column 'state' is {row['state']!r}; it must be a Slurm job state "
                             f"such as {', '.join(ENDED[:5])} (or RUNNING, PENDING)")  # fmt: skip
        gpus = number(row["gpu_num"], log, line, "gpu_num", whole=True)
        if gpus is not None and gpus < 0:
            raise TraceError(f"{log} line {line}: column 'gpu_num' is {row['gpu_num']!r}; it must be >= 0")
        submit = timestamp(row["submit_time"], log, line, "column 'submit_time'")
        start = timestamp(row["start_time"], log, line, "column 'start_time'")
        end = timestamp(row["end_time"], log, line, "column 'end_time'")
        run = number(row["duration"], log, line, "duration")
        if run is None and start is not None and end is not None:
            run = end - start
        reason = None
        if not gpus:
            reason = "no GPU (a CPU job: gpu_num 0)"
        elif state in RUNNING:
            reason = "not ended (state RUNNING, PENDING or SUSPENDED)"
        elif run is None:
            reason = "no run time (no duration, start or end)"
        elif run < 0:
            reason = "ended before it started (negative duration)"
        elif run == 0:
            reason = "ran for no time (duration 0)"
        elif submit is None:
            reason = "no submission time"
        if reason:
            report.dropped[reason] += 1
            continue
        assert gpus is not None and run is not None and submit is not None
        wait = start - submit if start is not None else ""
        extra = {"state": state, "user": row["user"], "wait_s": wait}
        jobs.append(Job(name, submit, int(gpus), run, row["vc"] or "default", start, extra))
    if len(files) > 1:
        gpus = _cluster_gpus(files[1])
        report.notes.append(f"data center from {files[1].name}: its largest daily total, {gpus:,} GPUs, in "
                            f"{PER_NODE}-GPU nodes")  # fmt: skip
    else:
        gpus = max(peak_gpus(jobs), max((j.gpus for j in jobs), default=1))
        report.notes.append(f"no cluster_gpu_number.csv: the data center is the most GPUs the jobs held at once, "
                            f"{gpus:,}, in {PER_NODE}-GPU nodes (edit it in the scenario)")  # fmt: skip
    datacenter = site_of_gpus("helios", gpus, GPU_TYPE, PER_NODE)
    report.notes.append(f"GPU type {GPU_TYPE} assumed (the log does not say): edit node.gpu_type if it matters")
    jobs = fitting(jobs, datacenter["racks"] * datacenter["nodes_per_rack"] * PER_NODE, report.dropped)
    report.kept = len(jobs)
    path, trace, t0 = write_jobs(out, jobs, ("state", "user", "wait_s"))
    report.notes.append(f"times are seconds from the first kept submission (trace time {t0:,.0f} s, UTC)")
    comment = f"""\
SenseTime Helios (SC'21), imported by `dcsim import helios`: {report.kept:,} GPU jobs replayed as
recorded (submission, GPUs, run time) until the last one ends; each job's tenant is its
virtual cluster (vc).
Question: how long do the cluster's jobs wait, and how busy are its GPUs, under these
policies? Edit `datacenter` (GPU type {GPU_TYPE} is assumed) and `policies`; compare with
  dcsim compare helios.yaml --policy scheduler=fifo,easy_backfill,srtf --seeds 1"""
    scenario = job_scenario("helios", "SenseTime Helios GPU jobs replayed", datacenter, trace)
    report.written += [write_scenario(out / "helios.yaml", comment, scenario), path]
    return report


def _cluster_gpus(path: Path) -> int:
    """The largest daily ``total`` of a ``cluster_gpu_number.csv``."""
    most = 0
    for line, row in csv_rows(path, ("date", "total"), "a Helios cluster_gpu_number.csv"):
        total = number(row["total"], path, line, "total", whole=True)
        if total is None or total < 0:
            raise TraceError(f"{path} line {line}: column 'total' is {row['total']!r}; it must be a whole number >= 0")
        most = max(most, int(total))
    if most == 0:
        raise TraceError(f"{path}: no day with GPUs (column total); give the cluster's cluster_gpu_number.csv")
    return most
