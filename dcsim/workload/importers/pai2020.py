"""Alibaba PAI 2020 (cluster-trace-gpu-v2020): jobs from the job and task tables, the data center from the machines.

The trace (Weng et al., "MLaaS in the Wild: Workload Analysis and Scheduling in Large-Scale
Heterogeneous GPU Clusters", NSDI'22; github.com/alibaba/clusterdata,
``cluster-trace-gpu-v2020``) publishes its tables as CSV files without a header line (the
column names are in separate ``.header`` files); a file with the header line is read too.

What a job takes:

- submission: the job table's ``start_time`` (its submission time, in seconds);
- run time: from its tasks' earliest ``start_time`` to their latest ``end_time``;
- GPUs: the sum over its tasks of ``inst_num x plan_gpu / 100`` (``plan_gpu`` is percent of
  one GPU: 50 is half a GPU, 800 is 8 GPUs), rounded up to whole GPUs; the share itself is
  kept in the column ``gpu_share``, with the CPU cores (``plan_cpu / 100``) and memory
  (``plan_mem``, GB) the tasks asked for, in ``cpu_cores`` and ``memory_gb``;
- tenant: the job's ``user``; status (``Terminated`` or ``Failed``) in ``status``.

Kept: jobs that ran to an end, successful (``Terminated``) or not (``Failed``): each held its
GPUs for its recorded run time. Dropped, by reason: jobs still running or waiting when the
trace was cut, CPU-only jobs (no GPU planned), jobs without tasks or without a recorded
start or end, jobs whose end is not after their start, and jobs larger than the data center.

Where dcsim models GPU sharing (its job traces read ``cpu``, ``memory`` and ``gpu_fraction``
columns), a job asks for its share of one GPU (``gpu_fraction``: 0.5 for 50 %; whole GPUs
above one) and, with the machine table, its CPU cores and memory, and the nodes declare
their ``cap_cpu`` and ``cap_mem``; a job whose CPU or memory no machine holds is dropped.
Otherwise a share holds a whole GPU.

The machine table (``pai_machine_spec``, optional) sizes the data center: one rack group per
(GPU type, GPUs per machine), CPU-only machines left out. Without it the data center is the
most GPUs the kept jobs held at once, in 8-GPU nodes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from dcsim.core.errors import TraceError
from dcsim.workload.importers import ImportReport, importer
from dcsim.workload.importers.common import (
    Job,
    NodeKind,
    csv_rows,
    fitting,
    job_scenario,
    largest_pool,
    number,
    peak_gpus,
    same_speed,
    site,
    site_of_gpus,
    whole_gpus,
    write_jobs,
    write_scenario,
)

JOB_COLUMNS = ("job_name", "inst_id", "user", "status", "start_time", "end_time")
TASK_COLUMNS = ("job_name", "task_name", "inst_num", "status", "start_time", "end_time", "plan_cpu", "plan_mem",
                "plan_gpu", "gpu_type")  # fmt: skip
MACHINE_COLUMNS = ("machine", "gpu_type", "cap_cpu", "cap_mem", "cap_gpu")
GIB = 2.0**30
"""Bytes in one of PAI's GB (its memory figures are binary: plan_mem 29.296875 is 30,000 MiB)."""
STATUSES = {"Terminated": True, "Failed": True, "Running": False, "Waiting": False}
"""A job's status -> whether it ran to an end (kept)."""


class _Tasks:
    """One job's tasks, summed: GPU share, CPU cores, memory, earliest start, latest end."""

    __slots__ = ("cpu", "end", "gpu", "memory", "start", "types", "unrecorded")

    def __init__(self) -> None:
        self.gpu = self.cpu = self.memory = 0.0
        self.start = float("inf")
        self.end = -float("inf")
        self.unrecorded = False
        self.types: set[str] = set()


@importer(
    "pai2020",
    "JOB_TABLE TASK_TABLE [MACHINE_SPEC]",
    "Alibaba PAI 2020 (cluster-trace-gpu-v2020): pai_job_table.csv, pai_task_table.csv and optionally "
    "pai_machine_spec.csv -> jobs.csv and pai2020.yaml",
)
def import_pai2020(files: Sequence[Path], out: Path) -> ImportReport:
    """Convert PAI 2020's job and task tables (and machine table) into a job trace and a scenario."""
    report = ImportReport("pai2020")
    job_file, task_file = files[0], files[1]
    tasks = _read_tasks(task_file)
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    for line, row in csv_rows(job_file, JOB_COLUMNS, "a PAI job table (pai_job_table)", header=False):
        report.read += 1
        name = row["job_name"]
        if name in seen:
            raise TraceError(f"{job_file} lines {seen[name]} and {line}: job {name!r} twice; a job's name is unique")
        seen[name] = line
        status = row["status"]
        if status not in STATUSES:
            raise TraceError(f"{job_file} line {line}: column 'status' is {status!r}; it must be one of "
                             f"{', '.join(STATUSES)} (is this the job table?)")  # fmt: skip
        submit = number(row["start_time"], job_file, line, "start_time")
        job = tasks.pop(name, None)
        reason = _dropped(status, submit, job)
        if reason:
            report.dropped[reason] += 1
            continue
        assert job is not None and submit is not None
        extra = {"status": status, "gpu_share": round(job.gpu, 6), "cpu_cores": round(job.cpu, 6),
                 "memory_gb": round(job.memory, 6), "gpu_type": "|".join(sorted(job.types)),
                 "wait_s": job.start - submit}  # fmt: skip
        jobs.append(Job(name, submit, whole_gpus(job.gpu), job.end - job.start, row["user"], job.start, extra))
    if tasks:
        report.notes.append(f"{len(tasks):,} job(s) of the task table are not in the job table: left out")
    shared = sharing_modelled()
    if len(files) > 2:
        nodes, cpu_only = _read_machines(files[2], shared)
        datacenter = site("pai", nodes)
        gpus = sum(kind[0] * n for kind, n in nodes.items())
        pool = largest_pool(nodes)
        report.notes.append(f"data center from {files[2].name}: {sum(nodes.values()):,} GPU machines, {gpus:,} GPUs"
                            + (f" ({cpu_only:,} CPU-only machines left out)" if cpu_only else ""))  # fmt: skip
    else:
        gpus = max(peak_gpus(jobs), max((j.gpus for j in jobs), default=1))
        datacenter = site_of_gpus("pai", gpus, "V100")
        gpus = pool = -(-gpus // 8) * 8
        report.notes.append(f"no machine table: the data center is the most GPUs the jobs held at once, {gpus:,} "
                            "GPUs in 8-GPU V100 nodes (edit it in the scenario)")  # fmt: skip
    if same_speed(datacenter):
        report.notes.append("GPU types mix: every node runs at gpu_speed 1, so each job runs for its recorded time")
    jobs = fitting(jobs, pool, report.dropped)
    columns = ["status", "gpu_share", "cpu_cores", "memory_gb", "gpu_type", "wait_s"]
    fractional = sum(1 for j in jobs if j.extra["gpu_share"] < 1)
    if shared:
        machines = len(files) > 2
        jobs = _sharing_columns(jobs, nodes if machines else None, report)
        columns += ["gpu_fraction", "cpu", "memory"] if machines else ["gpu_fraction"]
    elif fractional:
        report.notes.append(f"{fractional:,} job(s) asked for a share of one GPU: each holds a whole "
                            "GPU (jobs.csv keeps the share in gpu_share, and the CPU, memory asked for)")  # fmt: skip
    report.kept = len(jobs)
    path, trace, t0 = write_jobs(out, jobs, columns)
    if shared:
        trace["columns"].update({c: c for c in columns[6:]})
    report.notes.append(f"times are seconds from the first kept submission (trace time {t0:,.0f} s)")
    sized = "the machine table" if len(files) > 2 else "the jobs (no machine table)"
    comment = f"""\
Alibaba PAI 2020 (cluster-trace-gpu-v2020, NSDI'22), imported by `dcsim import pai2020`:
{report.kept:,} jobs replayed as recorded (submission, run time, GPUs) until the last one ends.
Question: how long do PAI's jobs wait, and how busy are the GPUs, under this data center and
these policies? Edit `datacenter` (sized from {sized})
and `policies` to ask what-ifs; compare schedulers with
  dcsim compare pai2020.yaml --policy scheduler=fifo,easy_backfill,srtf --seeds 1
jobs.csv also keeps each job's status, GPU share, CPU cores, memory (GB), GPU type and recorded wait."""
    scenario = job_scenario("pai2020", "Alibaba PAI 2020 jobs replayed on the trace's machines", datacenter, trace)
    report.written += [write_scenario(out / "pai2020.yaml", comment, scenario), path]
    return report


def _dropped(status: str, submit: float | None, job: _Tasks | None) -> str | None:
    """Why a job is dropped (None: it is kept)."""
    if not STATUSES[status]:
        return "not finished (status Running or Waiting when the trace was cut)"
    if job is None:
        return "no task in the task table"
    if job.gpu <= 0:
        return "no GPU requested (a CPU-only job)"
    if submit is None or job.unrecorded:
        return "no submission, start or end time recorded"
    if job.end < job.start:
        return "ended before it started"
    if job.end == job.start:
        return "ran for no time (end = start)"
    return None


def _read_tasks(path: Path) -> dict[str, _Tasks]:
    """Every job's tasks, summed (see :class:`_Tasks`)."""
    jobs: dict[str, _Tasks] = {}
    for line, row in csv_rows(path, TASK_COLUMNS, "a PAI task table (pai_task_table)", header=False):
        job = jobs.get(row["job_name"])
        if job is None:
            job = jobs[row["job_name"]] = _Tasks()
        values = {c: number(row[c], path, line, c) for c in ("inst_num", "start_time", "end_time", "plan_cpu",
                                                              "plan_mem", "plan_gpu")}  # fmt: skip
        for c in ("inst_num", "plan_cpu", "plan_mem", "plan_gpu"):
            if (values[c] or 0) < 0:
                raise TraceError(f"{path} line {line}: column {c!r} is {row[c]!r}; it must be >= 0")
        n = values["inst_num"] if values["inst_num"] is not None else 1.0
        job.gpu += n * (values["plan_gpu"] or 0) / 100
        job.cpu += n * (values["plan_cpu"] or 0) / 100
        job.memory += n * (values["plan_mem"] or 0)
        start, end = values["start_time"], values["end_time"]
        if start is None or end is None:
            job.unrecorded = True
        else:
            job.start, job.end = min(job.start, start), max(job.end, end)
        if row["gpu_type"]:
            job.types.add(row["gpu_type"])
    return jobs


def sharing_modelled() -> bool:
    """Whether dcsim's job traces read ``cpu``, ``memory`` and ``gpu_fraction`` columns (GPU sharing is modelled)."""
    from dcsim.workload.spec import TraceColumns

    return {"cpu", "memory", "gpu_fraction"} <= set(TraceColumns.model_fields)


def _sharing_columns(jobs: list[Job], nodes: Counter[NodeKind] | None, report: ImportReport) -> list[Job]:
    """Give each job its share of a GPU (and, with the machines, its CPU cores and memory in bytes).

    With the machines, a job whose CPU or memory no machine holds (a job over several machines
    takes them in proportion to its GPUs on each) is dropped.
    """
    kinds = [(k[0], dict(k[2])) for k in nodes] if nodes is not None else []  # (GPUs, {cpu, memory})
    kept = []
    for j in jobs:
        share = j.extra["gpu_share"]
        j.extra["gpu_fraction"] = share if share < 1 else 1
        if nodes is not None:
            cores, memory = j.extra["cpu_cores"], j.extra["memory_gb"] * GIB
            if not any(_on_one(j.gpus, g) * cores <= n["cpu"] and _on_one(j.gpus, g) * memory <= _gib(n["memory"])
                       for g, n in kinds):  # fmt: skip
                report.dropped["asks for more CPU or memory than any machine has"] += 1
                continue
            j.extra["cpu"], j.extra["memory"] = cores, memory
        kept.append(j)
    shares = sum(1 for j in kept if j.extra["gpu_fraction"] < 1)
    what = "shares of a GPU (gpu_fraction)" + (", CPU cores and memory" if nodes is not None else "")
    report.notes.append(f"GPUs are shared: jobs ask for {what}; {shares:,} job(s) ask for part of one GPU")
    return kept


def _gib(text: str) -> float:
    """Bytes of a memory written ``512GiB``."""
    return float(text.removesuffix("GiB")) * GIB


def _on_one(gpus: int, per_node: int) -> float:
    """The part of a job's CPU and memory on one full node of ``per_node`` GPUs (all of it if the job fits one)."""
    return 1.0 if gpus <= per_node else per_node / gpus


def _read_machines(path: Path, shared: bool = False) -> tuple[Counter[NodeKind], int]:
    """GPU machines by (GPUs, GPU type[, their CPU cores and memory]), and how many machines have no GPU."""
    nodes: Counter[NodeKind] = Counter()
    cpu_only = 0
    for line, row in csv_rows(path, MACHINE_COLUMNS, "a PAI machine table (pai_machine_spec)", header=False):
        gpus = number(row["cap_gpu"], path, line, "cap_gpu", whole=True)
        if gpus is None or gpus < 0:
            raise TraceError(f"{path} line {line}: column 'cap_gpu' is {row['cap_gpu']!r}; it must be a whole "
                             "number >= 0")  # fmt: skip
        if gpus == 0:
            cpu_only += 1
            continue
        kind: NodeKind = (int(gpus), row["gpu_type"] or "MISC")
        if shared:
            cpu = number(row["cap_cpu"], path, line, "cap_cpu")
            memory = number(row["cap_mem"], path, line, "cap_mem")
            if cpu is None or memory is None or cpu <= 0 or memory <= 0:
                raise TraceError(f"{path} line {line}: cap_cpu {row['cap_cpu']!r}, cap_mem {row['cap_mem']!r}; "
                                 "give a machine's CPU cores and memory (GB), each > 0")  # fmt: skip
            kind = (*kind, (("cpu", cpu), ("memory", f"{memory:g}GiB")))
        nodes[kind] += 1
    if not nodes:
        raise TraceError(f"{path}: no machine with GPUs; give the machine table (pai_machine_spec.csv)")
    return nodes, cpu_only
