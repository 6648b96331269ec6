"""A Standard Workload Format log (the Parallel Workloads Archive's SWF) -> a scenario that replays it.

dcsim reads SWF itself (``workload.trace: {format: swf}``, :mod:`dcsim.workload.swf`), so
the file is copied beside the scenario unchanged and read as it is at every run; this
importer checks every line (a bad one is exit 2 with its line and field), counts what the
reader keeps and drops, and sizes the data center from the header: ``MaxProcs``
processors (else ``MaxNodes``), one processor per GPU, with ``MaxProcs / MaxNodes``
GPUs per node where the header gives both and they divide (else 8). A log without either is
sized to its largest job. Jobs name their tenant by their user (field 12) when the log
records users.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from dcsim.workload.importers import ImportReport, importer
from dcsim.workload.importers.common import site_of_gpus, too_large, write_scenario

#: GPUs per node when the header does not say.
PER_NODE = 8


@importer(
    "swf",
    "SWF_FILE",
    "a Standard Workload Format log (Parallel Workloads Archive; one processor = one GPU) -> the log and swf.yaml",
)
def import_swf(files: Sequence[Path], out: Path) -> ImportReport:
    """Check an SWF log, copy it beside a scenario that replays it, sized from its header."""
    import numpy as np

    from dcsim.infra.spec import MAX_GPUS
    from dcsim.workload.swf import _counted, header, kept_jobs, load_swf

    report = ImportReport("swf")
    path = files[0]
    data, lines, f = load_swf(str(path), "user")
    keep, dropped = kept_jobs(f)
    report.read = int(lines.size)
    for k, what in dropped:
        if k:
            report.dropped[what] += k
    processors = np.where(f[4] > 0, f[4], f[7])[keep]
    head = header(data)
    procs, nodes = _whole(head.get("MaxProcs")), _whole(head.get("MaxNodes"))
    per_node = PER_NODE
    if procs and nodes and procs % nodes == 0 and procs // nodes <= 64:
        per_node = procs // nodes
    largest = int(processors.max()) if processors.size else 1
    gpus = procs or nodes
    if gpus:
        which = "MaxProcs" if procs else "MaxNodes"
        report.notes.append(f"data center from the header's {which}: {gpus:,} GPUs (one per processor), "
                            f"{per_node} per node")  # fmt: skip
    else:
        gpus = largest
        report.notes.append(f"the header has no MaxProcs or MaxNodes: the data center is the largest job's "
                            f"{gpus:,} GPUs, {per_node} per node (edit it in the scenario)")  # fmt: skip
    datacenter = site_of_gpus("swf", min(gpus, MAX_GPUS), "H100", per_node)
    installed = datacenter["racks"] * datacenter["nodes_per_rack"] * per_node
    large = processors > installed
    report.kept = int(keep.sum()) - int(large.sum())
    copy = out / path.name
    if large.any():
        report.dropped[too_large(installed)] += int(large.sum())
        cut = set(lines[keep][large].tolist())
        text = data.split(b"\n")
        copy.write_bytes(b"\n".join(t for i, t in enumerate(text, start=1) if i not in cut))
        report.notes.append(f"{path.name} is copied without the lines of the jobs larger than the data center")
    else:
        shutil.copyfile(path, copy)
    trace: dict[str, object] = {"path": path.name, "format": "swf"}
    if (f[11][keep] != -1).any():
        trace["tenant_from"] = "user"
        report.notes.append("each job's tenant is its user (user<id>; -1: default)")
    statuses = {s: int((f[10][keep][~large] == s).sum()) for s in (1, 0, 5, -1)}
    kept = ", ".join(_counted(k, w) for w, k in zip(("completed", "failed", "cancelled", "unknown"),
                                                     statuses.values(), strict=True) if k)  # fmt: skip
    report.notes.append(f"kept by status: {kept}; a failed or cancelled job holds its GPUs for its run time")
    comment = f"""\
{path.name} (Standard Workload Format), imported by `dcsim import swf`: {report.kept:,} jobs
replayed as logged (submission, run time, processors as GPUs; requested time as the
estimate backfilling plans with) until the last one ends.
Question: how do schedulers compare on this log? Edit `datacenter` and `policies`, e.g.
  dcsim compare swf.yaml --policy scheduler=fifo,easy_backfill --seeds 1
A processor is one GPU; for a log whose processors are nodes, set the trace's
gpus_per_processor (e.g. 8), or processors_per_gpu for CPU cores."""
    scenario = {
        "name": "swf",
        "description": f"{path.name} replayed",
        "seed": 1,
        "datacenter": {"sites": [datacenter]},
        "workload": {"trace": trace},
        "policies": {"scheduler": "easy_backfill", "placement": "best_fit"},
    }
    report.written += [write_scenario(out / "swf.yaml", comment, scenario), copy]
    return report


def _whole(text: str | None) -> int | None:
    """A header value as a whole number > 0 (None: absent or not one)."""
    if text is None or not text.strip().isdigit() or int(text) == 0:
        return None
    return int(text)
