"""Microsoft Philly (msr-fiddle/philly-traces): jobs from ``cluster_job_log``, machines from ``cluster_machine_list``.

The trace (Jeon et al., "Analysis of Large-Scale Multi-Tenant GPU Clusters for DNN Training
Workloads", USENIX ATC'19) logs each job as a JSON object: ``status`` (Pass, Killed,
Failed), ``vc`` (its virtual cluster), ``jobid``, ``user``, ``submitted_time`` and its
``attempts``, each with ``start_time``, ``end_time`` and ``detail`` (the machines, ``ip``,
and GPUs, ``gpus``, it ran on). Times are written ``2017-10-07 01:12:09``.

What a job takes:

- submission: ``submitted_time``;
- run time: the sum of its attempts' run times (the time it held GPUs; a job that was
  retried ran more than once, the gaps between attempts are not counted);
- GPUs: the most GPUs an attempt ran on (summed over its machines);
- tenant: the job's ``vc``, the unit of Philly's quotas (the user is kept in ``user``);
  the status in ``status``, the number of attempts in ``attempts``.

Kept: every job that ran, whatever its status (a killed or failed job held its GPUs for its
attempts). Dropped, by reason: jobs with no attempt, jobs still running when the log was
taken (the last attempt has no end), jobs with an attempt without a start or end (the
trace's README: a logging error), jobs on no GPU, jobs whose attempts end before they start
or take no time, and jobs larger than the data center.

The machine list (``cluster_machine_list``, optional: ``machineId, number of GPUs, single
GPU mem``) sizes the data center; without it, each machine the jobs ran on counts with the
most GPUs any job used on it (a lower bound).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dcsim.core.errors import TraceError
from dcsim.workload.importers import ImportReport, importer
from dcsim.workload.importers.common import (
    Job,
    csv_rows,
    fitting,
    job_scenario,
    largest_pool,
    number,
    open_text,
    same_speed,
    site,
    timestamp,
    write_jobs,
    write_scenario,
)

STATUSES = ("Pass", "Killed", "Failed")
MACHINE_COLUMNS = ("machineId", "number of GPUs", "single GPU mem")
#: Philly's GPUs by memory (the ATC'19 paper: 12 GB P100 and 24 GB P40 servers).
TYPES = {12: "P100", 16: "P100", 24: "P40"}
_SPACE = re.compile(r"\s*")
_GPU = re.compile(r"gpu(\d+)$")


def json_objects(path: Path, what: str) -> Iterator[tuple[int, Any]]:
    """Each value of a JSON array (or of a file of one JSON object after another), with its first line.

    Raises:
        TraceError: text that is not JSON, naming the file and line.
    """
    with open_text(path, what) as fh:
        text = fh.read()
    decoder = json.JSONDecoder()
    i = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    array = text.startswith("[", i)
    if array:
        i = _SPACE.match(text, i + 1).end()  # type: ignore[union-attr]
    line, seen = 1, 0
    while i < len(text):
        if array and text[i] == "]":
            return
        line += text.count("\n", seen, i)
        seen = i
        try:
            value, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path} line {exc.lineno}: not JSON ({exc.msg}); give {what}") from None
        yield line, value
        i = _SPACE.match(text, i).end()  # type: ignore[union-attr]
        if array and i < len(text) and text[i] == ",":
            i = _SPACE.match(text, i + 1).end()  # type: ignore[union-attr]
        elif array and not text.startswith("]", i):
            line += text.count("\n", seen, i)
            raise TraceError(f"{path} line {line}: expected , or ] after a job; give {what}")
    if array:
        raise TraceError(f"{path}: the JSON array is not closed (a cut file?); give {what}")


@importer(
    "philly",
    "CLUSTER_JOB_LOG [MACHINE_LIST]",
    "Microsoft Philly (ATC'19, msr-fiddle/philly-traces): cluster_job_log (JSON) and optionally "
    "cluster_machine_list (CSV) -> jobs.csv and philly.yaml",
)
def import_philly(files: Sequence[Path], out: Path) -> ImportReport:
    """Convert Philly's job log (and machine list) into a job trace and a scenario."""
    report = ImportReport("philly")
    log = files[0]
    jobs: list[Job] = []
    used: dict[str, int] = {}  # machine -> most GPUs a job used on it (+1 of the highest gpuN)
    seen: dict[str, int] = {}
    for line, job in json_objects(log, "Philly's cluster_job_log (a JSON array of jobs)"):
        report.read += 1
        kept = _job(job, log, line, used, report.dropped)
        if kept is None:
            continue
        if kept.id in seen:
            raise TraceError(f"{log} lines {seen[kept.id]} and {line}: job {kept.id!r} twice; a job's id is unique")
        seen[kept.id] = line
        jobs.append(kept)
    if len(files) > 1:
        nodes, memory = _read_machines(files[1])
        where = f"from {files[1].name}"
    else:
        nodes = Counter((gpus, "P100") for gpus in used.values())
        memory = {}
        where = "from the machines the jobs ran on (each with the most GPUs a job used on it: a lower bound)"
        report.notes.append("no machine list: GPU type P100 assumed; give cluster_machine_list for the real sizes")
    if not nodes:
        raise TraceError(f"{log}: no job ran on a GPU; give the cluster_job_log of Philly's trace")
    datacenter = site("philly", nodes, {t: {"gpu_memory": f"{m}GB"} for t, m in memory.items()})
    gpus = sum(kind[0] * n for kind, n in nodes.items())
    report.notes.append(f"data center {where}: {sum(nodes.values()):,} machines, {gpus:,} GPUs")
    if same_speed(datacenter):
        report.notes.append("GPU types mix: every node runs at gpu_speed 1, so each job runs for its recorded time")
    jobs = fitting(jobs, largest_pool(nodes), report.dropped)
    report.kept = len(jobs)
    path, trace, t0 = write_jobs(out, jobs, ("status", "user", "attempts", "wait_s"))
    report.notes.append(f"times are seconds from the first kept submission ({_utc(t0)} UTC in the trace)")
    comment = f"""\
Microsoft Philly (ATC'19), imported by `dcsim import philly`: {report.kept:,} jobs replayed as
recorded (submission, GPUs, the time their attempts held GPUs) until the last one ends; each
job's tenant is its virtual cluster (vc).
Question: how long do Philly's jobs wait, and how busy are the GPUs, under this data center
and these policies? Edit `datacenter` (sized {where.split(" (")[0]}) and `policies`; compare schedulers with
  dcsim compare philly.yaml --policy scheduler=fifo,easy_backfill,tiresias --seeds 1
To hold each virtual cluster to a quota, add a `tenants` block (see docs/howto.md)."""
    scenario = job_scenario("philly", "Microsoft Philly jobs replayed on the trace's machines", datacenter, trace)
    report.written += [write_scenario(out / "philly.yaml", comment, scenario), path]
    return report


def _utc(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _job(job: Any, path: Path, line: int, used: dict[str, int], dropped: Counter[str]) -> Job | None:
    """One job of the log (None: dropped, its reason counted); the machines it used noted in ``used``."""
    if not isinstance(job, dict):
        raise TraceError(f"{path} line {line}: a job is a JSON object ({{...}}), not {type(job).__name__}")
    missing = [k for k in ("status", "jobid", "attempts", "submitted_time") if k not in job]
    if missing:
        raise TraceError(f"{path} line {line}: the job has no {', '.join(missing)}; a Philly job has status, vc, "
                         "jobid, attempts, submitted_time and user")  # fmt: skip
    if job["status"] not in STATUSES:
        raise TraceError(f"{path} line {line}: status is {job['status']!r}; it must be one of {', '.join(STATUSES)}")
    attempts = job["attempts"]
    if not isinstance(attempts, list):
        raise TraceError(f"{path} line {line}: attempts is {attempts!r}; it must be a list of attempts")
    if not attempts:
        dropped["never ran (no scheduling attempt)"] += 1
        return None
    submit = timestamp(job["submitted_time"], path, line, "submitted_time")
    run, gpus, first = 0.0, 0, None
    for k, attempt in enumerate(attempts):
        if not isinstance(attempt, dict) or not isinstance(attempt.get("detail", []), list):
            raise TraceError(f"{path} line {line}: attempt {k + 1} is not an object with start_time, end_time and "
                             "a list `detail`")  # fmt: skip
        start = timestamp(attempt.get("start_time"), path, line, f"attempt {k + 1}'s start_time")
        end = timestamp(attempt.get("end_time"), path, line, f"attempt {k + 1}'s end_time")
        if end is None and start is not None and k == len(attempts) - 1:
            dropped["still running when the log was taken (its last attempt has no end)"] += 1
            return None
        if start is None or end is None:
            dropped["an attempt without a start or end time (a logging error)"] += 1
            return None
        if end < start:
            dropped["ended before it started (an attempt's end_time before its start_time)"] += 1
            return None
        first = start if first is None else min(first, start)
        run += end - start
        held = 0
        for machine in attempt.get("detail", []):
            names = machine.get("gpus", []) if isinstance(machine, dict) else None
            if not isinstance(names, list):
                raise TraceError(f"{path} line {line}: attempt {k + 1}'s detail is {machine!r}; each machine is "
                                 '{"ip": ..., "gpus": [...]}')  # fmt: skip
            held += len(names)
            index = [int(m.group(1)) for g in names if (m := _GPU.match(str(g)))]
            if index:
                ip = str(machine.get("ip"))
                used[ip] = max(used.get(ip, 0), max(index) + 1)
        gpus = max(gpus, held)
    if gpus == 0:
        dropped["no GPU recorded in its attempts"] += 1
        return None
    if run <= 0:
        dropped["ran for no time (its attempts end when they start)"] += 1
        return None
    if submit is None:
        dropped["no submission time"] += 1
        return None
    assert first is not None
    extra = {"status": job["status"], "user": job.get("user", ""), "attempts": len(attempts), "wait_s": first - submit}
    return Job(str(job["jobid"]), submit, gpus, run, str(job.get("vc") or "default"), first, extra)


def _read_machines(path: Path) -> tuple[Counter[tuple[int, str]], dict[str, int]]:
    """Machines by (GPUs, type), and each type's GPU memory (GB)."""
    nodes: Counter[tuple[int, str]] = Counter()
    memory: dict[str, int] = {}
    for line, row in csv_rows(path, MACHINE_COLUMNS, "Philly's cluster_machine_list", header=False):
        gpus = number(row["number of GPUs"], path, line, "number of GPUs", whole=True)
        text = row["single GPU mem"].replace(" ", "")
        size = number(text.upper().removesuffix("GB"), path, line, "single GPU mem", whole=True)
        if gpus is None or gpus < 1 or size is None or size < 1:
            raise TraceError(f"{path} line {line}: {row['number of GPUs']!r} GPUs of {row['single GPU mem']!r}; "
                             "give a whole number of GPUs >= 1 and a memory such as 24GB")  # fmt: skip
        kind = TYPES.get(int(size), f"GPU{int(size)}GB")
        memory[kind] = int(size)
        nodes[(int(gpus), kind)] += 1
    return nodes, memory
